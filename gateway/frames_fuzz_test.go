package gateway

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzVisitorFrame: whatever a widget sends, decoding it as a frame either
// fails (the socket answers bad_frame) or gives a frame that encodes and
// decodes back to itself; a stored entry turned into a message frame is
// still the same JSON object with "type":"message" added; and the name of
// an unknown type is quoted into an error as one short JSON string.
func FuzzVisitorFrame(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		var in inFrame
		if json.Unmarshal(data, &in) == nil {
			out, err := json.Marshal(in)
			if err != nil {
				t.Fatalf("a decoded frame does not encode: %v", err)
			}
			var again inFrame
			if err := json.Unmarshal(out, &again); err != nil {
				t.Fatalf("an encoded frame does not decode: %v\n%s", err, out)
			}
			// Invalid UTF-8 becomes U+FFFD on the way in, so one round
			// trip reaches the fixed point.
			if !reflect.DeepEqual(in, again) {
				t.Fatalf("frame changed in a round trip:\n%#v\n%#v", in, again)
			}
			q := quote(in.Type)
			var s string
			if err := json.Unmarshal([]byte(q), &s); err != nil {
				t.Fatalf("quote(%q) = %s, not a JSON string: %v", in.Type, q, err)
			}
			want := in.Type // valid UTF-8: it was decoded from JSON
			if len(want) > 40 {
				want = perByteValid(want[:40]) + "…"
			}
			if s != want {
				t.Fatalf("quote(%q) = %q, want %q", in.Type, s, want)
			}
			// The error frame that carries it is one JSON object.
			var e errorFrame
			if err := json.Unmarshal(encode(errorFrame{Type: "error", Code: "unknown_type", Message: "unknown frame type " + q, ClientID: in.ClientID}), &e); err != nil || e.Code != "unknown_type" {
				t.Fatalf("error frame for %q does not decode: %v", in.Type, err)
			}
		}

		// A stored entry is a JSON object; messageFrame prepends the type.
		var entry map[string]any
		trimmed := bytes.TrimSpace(data)
		if !bytes.Equal(trimmed, data) || json.Unmarshal(data, &entry) != nil || entry == nil {
			return
		}
		if _, has := entry["type"]; has || len(entry) == 0 {
			return // stored entries have a seq and never a type
		}
		var got map[string]any
		if err := json.Unmarshal(messageFrame(data), &got); err != nil {
			t.Fatalf("messageFrame(%s) is not JSON: %v", data, err)
		}
		if got["type"] != "message" {
			t.Fatalf("messageFrame(%s) has type %v", data, got["type"])
		}
		delete(got, "type")
		if !reflect.DeepEqual(entry, got) {
			t.Fatalf("messageFrame changed the entry:\n%v\n%v", entry, got)
		}
	})
}

// perByteValid is how encoding/json writes invalid UTF-8: each bad byte
// becomes U+FFFD.
func perByteValid(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		b.WriteRune(r)
		i += n
	}
	return b.String()
}
