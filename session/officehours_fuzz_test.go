package session_test

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/batonchat/baton/session"
)

// FuzzOfficeHours: a schedule as an admin PUTs it either fails to compile
// with invalid_office_hours (a 400 naming the field), or compiles, and then
// its stored form (Normalize, as JSON) compiles again to the same answers
// and normalizes to itself; and the answer at any instant is consistent:
// when closed, the next opening lies after now, the office is open then,
// and closed the second before it.
func FuzzOfficeHours(f *testing.F) {
	f.Fuzz(func(t *testing.T, body []byte, instant int64) {
		var h session.OfficeHours
		if json.Unmarshal(body, &h) != nil {
			return
		}
		s, err := h.Compile()
		if err != nil {
			if e := session.ErrorOf(err); e.Kind != session.KindInvalid || e.Code != "invalid_office_hours" {
				t.Fatalf("refused as %v %q: %v", e.Kind, e.Code, err)
			}
			return
		}
		n := h.Normalize()
		stored, err := json.Marshal(n)
		if err != nil {
			t.Fatal(err)
		}
		var back session.OfficeHours
		if err := json.Unmarshal(stored, &back); err != nil {
			t.Fatalf("stored form %s does not decode: %v", stored, err)
		}
		s2, err := back.Compile()
		if err != nil {
			t.Fatalf("stored form %s does not compile: %v", stored, err)
		}
		if again := back.Normalize(); !reflect.DeepEqual(again, n) {
			t.Fatalf("normalizing is not stable:\n%#v\n%#v", n, again)
		}

		// Instants from 1970 to 2096, where time zones are known.
		now := time.Unix(instant%(4<<30), 0)
		if now.Unix() < 0 {
			now = now.Add(4 << 30 * time.Second)
		}
		st := s.At(now)
		if st2 := s2.At(now); st2 != st {
			t.Fatalf("at %v: %+v, but stored form says %+v", now, st, st2)
		}
		if st.Open {
			if !st.NextOpen.IsZero() {
				t.Fatalf("open at %v with a next opening %v", now, st.NextOpen)
			}
			return
		}
		if st.NextOpen.IsZero() {
			return // nothing within 400 days
		}
		if !st.NextOpen.After(now) {
			t.Fatalf("closed at %v, next opening %v is not after it", now, st.NextOpen)
		}
		if !s.At(st.NextOpen).Open {
			t.Fatalf("closed at %v, next opening %v, but closed then too (%s)", now, st.NextOpen, st.NextOpen.In(s.Location()))
		}
		if before := st.NextOpen.Add(-time.Second); before.After(now) && s.At(before).Open {
			t.Fatalf("closed at %v, next opening %v, but open already at %v", now, st.NextOpen, before.In(s.Location()))
		}
	})
}
