package helpdesk

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// FuzzRetryAfter: whatever a helpdesk sends as Retry-After, the wait is
// never negative and never beyond maxRetryAfter; a plain positive number
// of seconds under the cap is taken as it is, and an HTTP-date is measured
// from when the answer came.
func FuzzRetryAfter(f *testing.F) {
	// The seeds are in testdata/fuzz/FuzzRetryAfter; overflow-* are the
	// values that once came out negative.
	f.Fuzz(func(t *testing.T, v string, atUnix int64) {
		// Answers come at instants a clock can show (years 1 to 9999).
		at := time.Unix(atUnix%253402300799, 0).UTC()
		d := retryAfter(v, at)
		if d < 0 || d > maxRetryAfter {
			t.Fatalf("retryAfter(%q, %v) = %v, outside [0, %v]", v, at, d, maxRetryAfter)
		}
		tv := strings.TrimSpace(v)
		if n, err := strconv.ParseInt(tv, 10, 64); err == nil {
			want := time.Duration(0)
			switch {
			case n <= 0:
			case n >= int64(maxRetryAfter/time.Second):
				want = maxRetryAfter
			default:
				want = time.Duration(n) * time.Second
			}
			if d != want {
				t.Fatalf("retryAfter(%q) = %v, want %v", v, d, want)
			}
			return
		}
		if when, err := http.ParseTime(tv); err == nil {
			want := min(max(when.Sub(at), 0), maxRetryAfter)
			if d != want {
				t.Fatalf("retryAfter(%q, %v) = %v, want %v", v, at, d, want)
			}
			return
		}
		if d != 0 {
			t.Fatalf("retryAfter(%q) = %v for something neither seconds nor a date", v, d)
		}
	})
}
