package agentconsole

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/batonchat/baton/session"
)

// FuzzConsoleFrame: whatever a console sends, decoding it as a frame either
// fails (bad_frame, or auth_required as the first frame) or gives a frame
// that encodes and decodes back to itself; the error frame naming its ids
// is one JSON object carrying them; the token of an auth frame verifies
// only if it is the HS256 HMAC of a key in force; and a token issued for
// the names in the frame verifies as exactly that agent, under the current
// and the previous BATON_SECRET and under no other.
func FuzzConsoleFrame(f *testing.F) {
	now := time.Date(2026, 3, 5, 13, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	current, previous := []byte("console-secret-current"), []byte("console-secret-previous")
	tokens := NewTokens(current, clock, previous)
	oldTokens := NewTokens(previous, clock)
	stranger := NewTokens([]byte("another-deployment"), clock)
	f.Fuzz(func(t *testing.T, data []byte) {
		var in consoleIn
		if json.Unmarshal(data, &in) != nil {
			return
		}
		out, err := json.Marshal(in)
		if err != nil {
			t.Fatalf("a decoded frame does not encode: %v", err)
		}
		var again consoleIn
		if err := json.Unmarshal(out, &again); err != nil {
			t.Fatalf("an encoded frame does not decode: %v\n%s", err, out)
		}
		if !reflect.DeepEqual(in, again) {
			t.Fatalf("frame changed in a round trip:\n%#v\n%#v", in, again)
		}
		var e consoleError
		if err := json.Unmarshal(frame(consoleError{Type: "error", Code: "not_assigned", Message: "m",
			ConversationID: in.ConversationID, ClientID: in.ClientID}), &e); err != nil ||
			e.ConversationID != in.ConversationID || e.ClientID != in.ClientID {
			t.Fatalf("error frame for %q/%q came back as %+v (%v)", in.ConversationID, in.ClientID, e, err)
		}

		if v, err := tokens.Verify(in.Token); err == nil {
			parts := strings.Split(in.Token, ".")
			sig, _ := base64.RawURLEncoding.DecodeString(parts[len(parts)-1])
			signing := strings.Join(parts[:len(parts)-1], ".")
			if len(parts) != 3 || !bytes.Equal(sig, hmac256(current, signing)) && !bytes.Equal(sig, hmac256(previous, signing)) {
				t.Fatalf("%q verified as %+v without the HMAC of a key in force", in.Token, v)
			}
		}

		a := &session.Agent{ID: in.ClientID, MerchantID: in.ConversationID, Name: in.Text, Role: in.Status}
		for _, issuer := range []*Tokens{tokens, oldTokens} {
			tok, _, err := issuer.Issue(a, 7)
			if err != nil {
				t.Fatal(err)
			}
			v, err := tokens.Verify(tok)
			if a.ID == "" || a.MerchantID == "" {
				if err == nil {
					t.Fatalf("a token naming no agent verified: %+v", v)
				}
				continue
			}
			if err != nil {
				t.Fatalf("a token issued for %+v does not verify: %v", a, err)
			}
			want := session.Actor{ID: a.ID, MerchantID: a.MerchantID, Name: a.Name, Admin: a.Role == session.RoleNameAdmin}
			if v.Actor != want || v.Version != 7 {
				t.Fatalf("verified as %+v v%d, want %+v v7", v.Actor, v.Version, want)
			}
			if _, err := stranger.Verify(tok); err == nil {
				t.Fatal("a token verified under another deployment's secret")
			}
		}
	})
}

func hmac256(key []byte, s string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(s))
	return h.Sum(nil)
}
