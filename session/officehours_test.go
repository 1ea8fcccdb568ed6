package session_test

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/batonchat/baton/session"
)

// utc builds a fixed instant; tests never look at the real clock.
func utc(y int, mo time.Month, d, h, mi, s int) time.Time {
	return time.Date(y, mo, d, h, mi, s, 0, time.UTC)
}

func iv(open, close string) session.Interval { return session.Interval{Open: open, Close: close} }

func ivs(pairs ...string) []session.Interval {
	out := make([]session.Interval, 0, len(pairs)/2)
	for i := 0; i+1 < len(pairs); i += 2 {
		out = append(out, iv(pairs[i], pairs[i+1]))
	}
	return out
}

func compile(t *testing.T, h session.OfficeHours) *session.Schedule {
	t.Helper()
	s, err := h.Compile()
	require.NoError(t, err)
	require.NotNil(t, s)
	return s
}

func mustLoc(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	require.NoError(t, err)
	return loc
}

// amsterdamShop is a typical Dutch webshop: weekdays 09:00–17:30, Saturday
// 10:00–16:00, closed on Sunday.
func amsterdamShop() session.OfficeHours {
	return session.OfficeHours{
		Timezone: "Europe/Amsterdam",
		Weekly: map[string][]session.Interval{
			"mon": ivs("09:00", "17:30"),
			"tue": ivs("09:00", "17:30"),
			"wed": ivs("09:00", "17:30"),
			"thu": ivs("09:00", "17:30"),
			"fri": ivs("09:00", "17:30"),
			"sat": ivs("10:00", "16:00"),
		},
	}
}

// probe is one instant and the state expected there. A zero next means
// "NextOpen must be zero".
type probe struct {
	name string
	now  time.Time
	open bool
	next time.Time
}

func checkProbes(t *testing.T, s *session.Schedule, probes []probe) {
	t.Helper()
	for _, p := range probes {
		t.Run(p.name, func(t *testing.T) {
			got := s.At(p.now)
			require.Equal(t, p.open, got.Open, "open at %s (%s local)", p.now, p.now.In(s.Location()))
			if p.next.IsZero() {
				require.True(t, got.NextOpen.IsZero(), "NextOpen should be zero, got %s", got.NextOpen)
				return
			}
			require.True(t, p.next.Equal(got.NextOpen), "NextOpen: want %s (%s local), got %s (%s local)",
				p.next, p.next.In(s.Location()), got.NextOpen.UTC(), got.NextOpen.In(s.Location()))
		})
	}
}

// --- Compile: validation ---------------------------------------------------

func TestOfficeHoursCompileValidation(t *testing.T) {
	week := func(day string, list ...session.Interval) session.OfficeHours {
		return session.OfficeHours{Timezone: "Europe/Amsterdam", Weekly: map[string][]session.Interval{day: list}}
	}
	exc := func(list ...session.Exception) session.OfficeHours {
		return session.OfficeHours{Timezone: "Europe/Amsterdam", Exceptions: list}
	}
	cases := []struct {
		name    string
		h       session.OfficeHours
		wantErr string // substring of the message; "" means valid
	}{
		// Time zones.
		{"amsterdam", amsterdamShop(), ""},
		{"utc", session.OfficeHours{Timezone: "UTC"}, ""},
		{"kolkata", session.OfficeHours{Timezone: "Asia/Kolkata"}, ""},
		{"empty zone", session.OfficeHours{Timezone: ""}, "timezone is required"},
		{"unknown zone", session.OfficeHours{Timezone: "Mars/Olympus_Mons"}, `unknown time zone "Mars/Olympus_Mons"`},
		{"zone with wrong case", session.OfficeHours{Timezone: "europe/amsterdam"}, "unknown time zone"},
		{"Local is the server's zone, not a zone", session.OfficeHours{Timezone: "Local"}, "unknown time zone"},
		{"local", session.OfficeHours{Timezone: "local"}, "unknown time zone"},
		{"path escape", session.OfficeHours{Timezone: "../../etc/passwd"}, "unknown time zone"},

		// Clock syntax.
		{"ordinary interval", week("mon", iv("09:00", "17:30")), ""},
		{"whole day", week("mon", iv("00:00", "24:00")), ""},
		{"last minute", week("mon", iv("23:59", "24:00")), ""},
		{"24:00 as close", week("mon", iv("18:00", "24:00")), ""},
		{"24:00 as open", week("mon", iv("24:00", "24:00")), `weekly.mon[0].open "24:00"`},
		{"24:01 as close", week("mon", iv("18:00", "24:01")), `weekly.mon[0].close "24:01"`},
		{"25:00 as open", week("mon", iv("25:00", "26:00")), `weekly.mon[0].open "25:00"`},
		{"25:00 as close", week("mon", iv("09:00", "25:00")), `weekly.mon[0].close "25:00"`},
		{"single-digit hour", week("mon", iv("9:00", "17:00")), `weekly.mon[0].open "9:00"`},
		{"minute 60", week("mon", iv("09:60", "17:00")), `weekly.mon[0].open "09:60"`},
		{"seconds", week("mon", iv("09:00:00", "17:00")), `weekly.mon[0].open "09:00:00"`},
		{"dot separator", week("mon", iv("09.00", "17:00")), `weekly.mon[0].open "09.00"`},
		{"empty open", week("mon", iv("", "17:00")), `weekly.mon[0].open ""`},
		{"empty close", week("mon", iv("09:00", "")), `weekly.mon[0].close ""`},
		{"am/pm", week("mon", iv("09:00", "5pm")), `weekly.mon[0].close "5pm"`},
		{"negative", week("mon", iv("-1:00", "17:00")), `weekly.mon[0].open "-1:00"`},

		// Order and overlap.
		{"close before open", week("tue", iv("17:00", "09:00")), "weekly.tue[0] closes at 09:00, not after it opens at 17:00"},
		{"close equals open", week("tue", iv("09:00", "09:00")), "weekly.tue[0] closes at 09:00"},
		{"midnight to midnight", week("tue", iv("00:00", "00:00")), "weekly.tue[0] closes at 00:00"},
		{"second interval backwards", week("wed", iv("09:00", "12:00"), iv("14:00", "13:00")), "weekly.wed[1] closes at 13:00"},
		{"lunch break", week("wed", iv("09:00", "12:00"), iv("13:00", "17:00")), ""},
		{"back to back", week("wed", iv("09:00", "12:00"), iv("12:00", "17:00")), ""},
		{"listed out of order", week("wed", iv("13:00", "17:00"), iv("09:00", "12:00")), ""},
		{"overlapping", week("wed", iv("09:00", "12:00"), iv("11:59", "17:00")), "weekly.wed has overlapping intervals"},
		{"overlapping out of order", week("wed", iv("11:00", "17:00"), iv("09:00", "12:00")), "weekly.wed has overlapping intervals"},
		{"contained", week("wed", iv("09:00", "17:00"), iv("10:00", "11:00")), "overlapping"},
		{"duplicate interval", week("wed", iv("09:00", "17:00"), iv("09:00", "17:00")), "overlapping"},

		// Weekday keys.
		{"every weekday key", session.AlwaysOpen(), ""},
		{"empty day list", week("sun"), ""},
		{"unknown weekday", week("monday", iv("09:00", "17:00")), `unknown weekday "monday"`},
		{"capitalised weekday", week("Mon", iv("09:00", "17:00")), `unknown weekday "Mon"`},
		{"dutch weekday", week("ma", iv("09:00", "17:00")), `unknown weekday "ma"`},

		// Exceptions.
		{"closed holiday", exc(session.Exception{Date: "2026-12-25", Closed: true}), ""},
		{"short day", exc(session.Exception{Date: "2026-12-24", Hours: ivs("09:00", "13:00")}), ""},
		{"duplicate dates", exc(
			session.Exception{Date: "2026-12-25", Closed: true},
			session.Exception{Date: "2026-12-24", Hours: ivs("09:00", "13:00")},
			session.Exception{Date: "2026-12-25", Hours: ivs("10:00", "12:00")},
		), "exceptions[2].date 2026-12-25 appears twice"},
		{"closed and hours", exc(session.Exception{Date: "2026-12-25", Closed: true, Hours: ivs("09:00", "13:00")}), "exceptions[0] is both closed and has hours"},
		{"neither closed nor hours", exc(session.Exception{Date: "2026-12-25"}), `exceptions[0] needs "closed": true or some hours`},
		{"empty hours list", exc(session.Exception{Date: "2026-12-25", Hours: []session.Interval{}}), `exceptions[0] needs "closed": true`},
		{"bad exception hours", exc(session.Exception{Date: "2026-12-24", Hours: ivs("13:00", "09:00")}), "exceptions[0].hours[0] closes at 09:00"},
		{"overlapping exception hours", exc(session.Exception{Date: "2026-12-24", Hours: ivs("09:00", "13:00", "12:00", "14:00")}), "exceptions[0].hours has overlapping intervals"},
		{"24:00 open in exception", exc(session.Exception{Date: "2026-12-24", Hours: ivs("24:00", "24:00")}), `exceptions[0].hours[0].open "24:00"`},
		{"date not a date", exc(session.Exception{Date: "Christmas", Closed: true}), `exceptions[0].date "Christmas" is not a YYYY-MM-DD date`},
		{"date without padding", exc(session.Exception{Date: "2026-1-05", Closed: true}), "is not a YYYY-MM-DD date"},
		{"day out of range", exc(session.Exception{Date: "2026-02-30", Closed: true}), "is not a YYYY-MM-DD date"},
		{"european order", exc(session.Exception{Date: "25-12-2026", Closed: true}), "is not a YYYY-MM-DD date"},
		{"timestamp", exc(session.Exception{Date: "2026-12-25T00:00:00Z", Closed: true}), "is not a YYYY-MM-DD date"},
		{"leap day", exc(session.Exception{Date: "2028-02-29", Closed: true}), ""},
		{"not a leap day", exc(session.Exception{Date: "2027-02-29", Closed: true}), "is not a YYYY-MM-DD date"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, err := c.h.Compile()
			if c.wantErr == "" {
				require.NoError(t, err)
				require.NotNil(t, s)
				return
			}
			require.Error(t, err)
			require.Nil(t, s)
			var se *session.Error
			require.True(t, errors.As(err, &se), "error should be a *session.Error, got %T", err)
			require.Equal(t, session.KindInvalid, se.Kind)
			require.Equal(t, "invalid_office_hours", se.Code)
			require.Contains(t, se.Message, c.wantErr)
			require.Equal(t, session.KindInvalid, session.ErrorOf(err).Kind)
		})
	}
}

func TestOfficeHoursCompileRejectsSignedClock(t *testing.T) {
	for _, bad := range []string{"+9:00", "09:+5", "+0:30"} {
		_, err := session.OfficeHours{Timezone: "UTC", Weekly: map[string][]session.Interval{
			"mon": {iv(bad, "23:00")},
		}}.Compile()
		require.Error(t, err, "open %q", bad)
	}
}

func TestOfficeHoursLocation(t *testing.T) {
	s := compile(t, amsterdamShop())
	require.Equal(t, "Europe/Amsterdam", s.Location().String())
}

// --- At: ordinary weeks -----------------------------------------------------

func TestOfficeHoursAtAmsterdamWeekdays(t *testing.T) {
	s := compile(t, amsterdamShop())
	// January: CET, UTC+1. Wednesday 2026-01-14.
	checkProbes(t, s, []probe{
		{"wed just before opening", utc(2026, 1, 14, 7, 59, 59), false, utc(2026, 1, 14, 8, 0, 0)},
		{"wed at opening", utc(2026, 1, 14, 8, 0, 0), true, time.Time{}},
		{"wed midday", utc(2026, 1, 14, 11, 0, 0), true, time.Time{}},
		{"wed last second", utc(2026, 1, 14, 16, 29, 59), true, time.Time{}},
		{"wed at closing (exclusive)", utc(2026, 1, 14, 16, 30, 0), false, utc(2026, 1, 15, 8, 0, 0)},
		{"tue night in UTC is wed in Amsterdam", utc(2026, 1, 13, 23, 30, 0), false, utc(2026, 1, 14, 8, 0, 0)},
		{"fri after closing opens saturday 10:00", utc(2026, 1, 16, 16, 30, 0), false, utc(2026, 1, 17, 9, 0, 0)},
		{"sat open", utc(2026, 1, 17, 9, 0, 0), true, time.Time{}},
		{"sat after closing skips sunday", utc(2026, 1, 17, 15, 0, 0), false, utc(2026, 1, 19, 8, 0, 0)},
		{"sunday", utc(2026, 1, 18, 12, 0, 0), false, utc(2026, 1, 19, 8, 0, 0)},
		{"sunday night in UTC is monday in Amsterdam", utc(2026, 1, 18, 23, 30, 0), false, utc(2026, 1, 19, 8, 0, 0)},
		// June: CEST, UTC+2. The same 09:00 is an hour earlier in UTC.
		{"june wed before opening", utc(2026, 6, 10, 6, 59, 59), false, utc(2026, 6, 10, 7, 0, 0)},
		{"june wed at opening", utc(2026, 6, 10, 7, 0, 0), true, time.Time{}},
		{"june wed at closing", utc(2026, 6, 10, 15, 30, 0), false, utc(2026, 6, 11, 7, 0, 0)},
	})
}

func TestOfficeHoursAtLunchBreak(t *testing.T) {
	s := compile(t, session.OfficeHours{Timezone: "Europe/Amsterdam", Weekly: map[string][]session.Interval{
		// Listed out of order on purpose: Compile sorts.
		"thu": ivs("13:00", "17:00", "09:00", "12:00"),
	}})
	// Thursday 2026-01-15, CET.
	checkProbes(t, s, []probe{
		{"morning", utc(2026, 1, 15, 10, 0, 0), true, time.Time{}},
		{"lunch", utc(2026, 1, 15, 11, 30, 0), false, utc(2026, 1, 15, 12, 0, 0)},
		{"afternoon", utc(2026, 1, 15, 12, 0, 0), true, time.Time{}},
		{"evening: a week later", utc(2026, 1, 15, 16, 0, 0), false, utc(2026, 1, 22, 8, 0, 0)},
	})
}

// --- At: Europe/Amsterdam DST ----------------------------------------------

func TestOfficeHoursAtAmsterdamSpringForward(t *testing.T) {
	// Sunday 2026-03-29: at 01:00 UTC, 02:00 CET becomes 03:00 CEST.
	s := compile(t, amsterdamShop())
	checkProbes(t, s, []probe{
		{"monday before: 09:00 CET is 08:00 UTC", utc(2026, 3, 22, 12, 0, 0), false, utc(2026, 3, 23, 8, 0, 0)},
		{"monday before at 08:00 UTC", utc(2026, 3, 23, 8, 0, 0), true, time.Time{}},
		{"friday before: 17:29:59 CET", utc(2026, 3, 27, 16, 29, 59), true, time.Time{}},
		{"saturday after closing: monday 09:00 CEST is 07:00 UTC", utc(2026, 3, 28, 15, 0, 0), false, utc(2026, 3, 30, 7, 0, 0)},
		{"sunday across the jump", utc(2026, 3, 29, 1, 0, 0), false, utc(2026, 3, 30, 7, 0, 0)},
		{"monday after at 06:59:59 UTC", utc(2026, 3, 30, 6, 59, 59), false, utc(2026, 3, 30, 7, 0, 0)},
		{"monday after at 07:00 UTC", utc(2026, 3, 30, 7, 0, 0), true, time.Time{}},
		{"monday after: 17:30 CEST is 15:30 UTC", utc(2026, 3, 30, 15, 30, 0), false, utc(2026, 3, 31, 7, 0, 0)},
	})
}

// An interval opening at 02:30 on the spring-forward day: 02:30 never shows
// on an Amsterdam clock that night. The office opens at the first instant
// after the gap, 03:00 CEST = 01:00:00 UTC (verified by running), and closes
// at 05:00 CEST = 03:00 UTC.
func TestOfficeHoursAtAmsterdamOpeningInsideSpringGap(t *testing.T) {
	s := compile(t, session.OfficeHours{Timezone: "Europe/Amsterdam", Weekly: map[string][]session.Interval{
		"sun": ivs("02:30", "05:00"),
	}})
	for _, p := range []struct {
		now  time.Time
		open bool
	}{
		{utc(2026, 3, 29, 0, 30, 0), false},  // 01:30 CET
		{utc(2026, 3, 29, 0, 59, 59), false}, // 01:59:59 CET, the last second before the jump
		{utc(2026, 3, 29, 1, 0, 0), true},    // 03:00 CEST: opens here
		{utc(2026, 3, 29, 1, 29, 59), true},  // 03:29:59 CEST
		{utc(2026, 3, 29, 2, 59, 59), true},  // 04:59:59 CEST
		{utc(2026, 3, 29, 3, 0, 0), false},   // 05:00 CEST
	} {
		require.Equal(t, p.open, s.At(p.now).Open, "open at %s", p.now)
	}
	// After closing, the next Sunday's 02:30 is an ordinary CEST time.
	require.True(t, utc(2026, 4, 5, 0, 30, 0).Equal(s.At(utc(2026, 3, 29, 3, 0, 0)).NextOpen))
	// The week before, it is an ordinary CET time.
	require.True(t, utc(2026, 3, 22, 1, 30, 0).Equal(s.At(utc(2026, 3, 21, 12, 0, 0)).NextOpen))
}

func TestOfficeHoursNextOpenInsideSpringGap(t *testing.T) {
	s := compile(t, session.OfficeHours{Timezone: "Europe/Amsterdam", Weekly: map[string][]session.Interval{
		"sun": ivs("02:30", "05:00"),
	}})
	got := s.At(utc(2026, 3, 29, 0, 45, 0))
	require.False(t, got.Open)
	require.Equal(t, utc(2026, 3, 29, 1, 0, 0), got.NextOpen.UTC())
}

func TestOfficeHoursAtAmsterdamFallBack(t *testing.T) {
	// Sunday 2026-10-25: at 01:00 UTC, 03:00 CEST becomes 02:00 CET.
	s := compile(t, amsterdamShop())
	checkProbes(t, s, []probe{
		{"monday before: 09:00 CEST is 07:00 UTC", utc(2026, 10, 18, 12, 0, 0), false, utc(2026, 10, 19, 7, 0, 0)},
		{"friday after closing: saturday 10:00 CEST", utc(2026, 10, 23, 15, 30, 0), false, utc(2026, 10, 24, 8, 0, 0)},
		{"saturday after closing: monday 09:00 CET is 08:00 UTC", utc(2026, 10, 24, 14, 0, 0), false, utc(2026, 10, 26, 8, 0, 0)},
		{"during the repeated hour", utc(2026, 10, 25, 1, 30, 0), false, utc(2026, 10, 26, 8, 0, 0)},
		{"monday after at 07:59:59 UTC", utc(2026, 10, 26, 7, 59, 59), false, utc(2026, 10, 26, 8, 0, 0)},
		{"monday after at 08:00 UTC", utc(2026, 10, 26, 8, 0, 0), true, time.Time{}},
		{"monday after: 17:30 CET is 16:30 UTC", utc(2026, 10, 26, 16, 29, 59), true, time.Time{}},
	})

	// A whole-day Sunday lasts 25 hours that day.
	allSunday := compile(t, session.OfficeHours{Timezone: "Europe/Amsterdam", Weekly: map[string][]session.Interval{
		"sun": ivs("00:00", "24:00"),
	}})
	checkProbes(t, allSunday, []probe{
		{"saturday 23:59:59 CEST", utc(2026, 10, 24, 21, 59, 59), false, utc(2026, 10, 24, 22, 0, 0)},
		{"sunday 00:00 CEST", utc(2026, 10, 24, 22, 0, 0), true, time.Time{}},
		{"first 02:30 (CEST)", utc(2026, 10, 25, 0, 30, 0), true, time.Time{}},
		{"second 02:30 (CET)", utc(2026, 10, 25, 1, 30, 0), true, time.Time{}},
		{"sunday 23:59:59 CET", utc(2026, 10, 25, 22, 59, 59), true, time.Time{}},
		{"monday 00:00 CET", utc(2026, 10, 25, 23, 0, 0), false, utc(2026, 10, 31, 23, 0, 0)},
	})
}

// Wall-clock semantics on the repeated hour: an interval 02:30–03:00 is open
// during both 02:30s of the night, 00:30–01:00 UTC (CEST) and 01:30–02:00 UTC
// (CET), and closed in between, when the clock reads 02:00–02:30 CET again.
func TestOfficeHoursAtAmsterdamRepeatedHour(t *testing.T) {
	s := compile(t, session.OfficeHours{Timezone: "Europe/Amsterdam", Weekly: map[string][]session.Interval{
		"sun": ivs("02:30", "03:00"),
	}})
	for _, p := range []struct {
		now  time.Time
		open bool
	}{
		{utc(2026, 10, 25, 0, 29, 59), false}, // 02:29:59 CEST
		{utc(2026, 10, 25, 0, 30, 0), true},   // 02:30 CEST
		{utc(2026, 10, 25, 0, 59, 59), true},  // 02:59:59 CEST
		{utc(2026, 10, 25, 1, 0, 0), false},   // 02:00 CET
		{utc(2026, 10, 25, 1, 30, 0), true},   // 02:30 CET
		{utc(2026, 10, 25, 2, 0, 0), false},   // 03:00 CET
	} {
		require.Equal(t, p.open, s.At(p.now).Open, "open at %s", p.now)
	}
	// Between the two, the second 02:30 is next.
	require.True(t, utc(2026, 10, 25, 1, 30, 0).Equal(s.At(utc(2026, 10, 25, 1, 0, 0)).NextOpen))
	// After the second, next Sunday (CET, UTC+1).
	require.True(t, utc(2026, 11, 1, 1, 30, 0).Equal(s.At(utc(2026, 10, 25, 2, 0, 0)).NextOpen))
}

func TestOfficeHoursNextOpenInsideRepeatedHour(t *testing.T) {
	s := compile(t, session.OfficeHours{Timezone: "Europe/Amsterdam", Weekly: map[string][]session.Interval{
		"sun": ivs("02:30", "03:00"),
	}})
	got := s.At(utc(2026, 10, 25, 0, 0, 0))
	require.False(t, got.Open)
	require.Equal(t, utc(2026, 10, 25, 0, 30, 0), got.NextOpen.UTC())
}

// --- At: America/New_York DST ------------------------------------------------

func TestOfficeHoursAtNewYork(t *testing.T) {
	h := session.OfficeHours{Timezone: "America/New_York", Weekly: map[string][]session.Interval{
		"mon": ivs("09:00", "17:00"), "tue": ivs("09:00", "17:00"), "wed": ivs("09:00", "17:00"),
		"thu": ivs("09:00", "17:00"), "fri": ivs("09:00", "17:00"),
	}}
	s := compile(t, h)
	checkProbes(t, s, []probe{
		// EST, UTC-5.
		{"monday 2026-03-02 09:00 EST", utc(2026, 3, 2, 14, 0, 0), true, time.Time{}},
		{"monday 2026-03-02 08:59:59 EST", utc(2026, 3, 2, 13, 59, 59), false, utc(2026, 3, 2, 14, 0, 0)},
		{"friday 17:00 EST: monday 09:00 EDT after the jump", utc(2026, 3, 6, 22, 0, 0), false, utc(2026, 3, 9, 13, 0, 0)},
		{"friday evening in NY is saturday in UTC", utc(2026, 3, 7, 3, 0, 0), false, utc(2026, 3, 9, 13, 0, 0)},
		// EDT, UTC-4.
		{"monday 2026-03-09 09:00 EDT", utc(2026, 3, 9, 13, 0, 0), true, time.Time{}},
		{"monday 2026-03-09 16:59:59 EDT", utc(2026, 3, 9, 20, 59, 59), true, time.Time{}},
		{"monday 2026-03-09 17:00 EDT", utc(2026, 3, 9, 21, 0, 0), false, utc(2026, 3, 10, 13, 0, 0)},
		{"monday 2026-10-26 09:00 EDT", utc(2026, 10, 26, 13, 0, 0), true, time.Time{}},
		{"friday 2026-10-30 17:00 EDT: monday 09:00 EST after fall back", utc(2026, 10, 30, 21, 0, 0), false, utc(2026, 11, 2, 14, 0, 0)},
		{"monday 2026-11-02 08:59:59 EST", utc(2026, 11, 2, 13, 59, 59), false, utc(2026, 11, 2, 14, 0, 0)},
		{"monday 2026-11-02 09:00 EST", utc(2026, 11, 2, 14, 0, 0), true, time.Time{}},
	})

	// Early-Sunday hours on both change days. 2026-03-08: 02:00 EST → 03:00
	// EDT at 07:00 UTC, so 01:00–04:00 lasts two hours. 2026-11-01: 02:00
	// EDT → 01:00 EST at 06:00 UTC, so it lasts four.
	night := compile(t, session.OfficeHours{Timezone: "America/New_York", Weekly: map[string][]session.Interval{
		"sun": ivs("01:00", "04:00"),
	}})
	checkProbes(t, night, []probe{
		{"spring: 00:59:59 EST", utc(2026, 3, 8, 5, 59, 59), false, utc(2026, 3, 8, 6, 0, 0)},
		{"spring: 01:00 EST", utc(2026, 3, 8, 6, 0, 0), true, time.Time{}},
		{"spring: 01:59:59 EST", utc(2026, 3, 8, 6, 59, 59), true, time.Time{}},
		{"spring: 03:00 EDT", utc(2026, 3, 8, 7, 0, 0), true, time.Time{}},
		{"spring: 04:00 EDT", utc(2026, 3, 8, 8, 0, 0), false, utc(2026, 3, 15, 5, 0, 0)},
		{"fall: 00:59:59 EDT", utc(2026, 11, 1, 4, 59, 59), false, utc(2026, 11, 1, 5, 0, 0)},
		{"fall: 01:00 EDT", utc(2026, 11, 1, 5, 0, 0), true, time.Time{}},
		{"fall: 01:00 EST", utc(2026, 11, 1, 6, 0, 0), true, time.Time{}},
		{"fall: 03:59:59 EST", utc(2026, 11, 1, 8, 59, 59), true, time.Time{}},
		{"fall: 04:00 EST", utc(2026, 11, 1, 9, 0, 0), false, utc(2026, 11, 8, 6, 0, 0)},
	})
}

func TestOfficeHoursNextOpenInsideSpringGapWestOfUTC(t *testing.T) {
	ny := compile(t, session.OfficeHours{Timezone: "America/New_York", Weekly: map[string][]session.Interval{
		"sun": ivs("02:30", "05:00"),
	}})
	require.True(t, ny.At(utc(2026, 3, 8, 7, 0, 0)).Open)
	for _, now := range []time.Time{utc(2026, 3, 8, 6, 0, 0), utc(2026, 3, 8, 6, 30, 0), utc(2026, 3, 8, 6, 59, 59)} {
		got := ny.At(now)
		require.False(t, got.Open)
		require.Equal(t, utc(2026, 3, 8, 7, 0, 0), got.NextOpen.UTC(), "at %s", now)
	}

	// Santiago: Saturday 2026-09-05 24:00 -04 becomes Sunday 01:00 -03 (04:00 UTC).
	scl := compile(t, session.OfficeHours{Timezone: "America/Santiago", Weekly: map[string][]session.Interval{
		"sun": ivs("00:00", "12:00"),
	}})
	require.True(t, scl.At(utc(2026, 9, 6, 4, 0, 0)).Open)
	for _, now := range []time.Time{utc(2026, 9, 6, 2, 0, 0), utc(2026, 9, 6, 3, 30, 0)} {
		got := scl.At(now)
		require.False(t, got.Open)
		require.Equal(t, utc(2026, 9, 6, 4, 0, 0), got.NextOpen.UTC(), "at %s", now)
	}
}

// --- At: Asia/Kolkata, no DST, +05:30 ---------------------------------------

func TestOfficeHoursAtKolkata(t *testing.T) {
	s := compile(t, session.OfficeHours{Timezone: "Asia/Kolkata", Weekly: map[string][]session.Interval{
		"mon": ivs("09:00", "18:00"), "tue": ivs("09:00", "18:00"), "wed": ivs("09:00", "18:00"),
		"thu": ivs("09:00", "18:00"), "fri": ivs("09:00", "18:00"),
	}})
	checkProbes(t, s, []probe{
		{"wed 08:59:59 IST", utc(2026, 1, 14, 3, 29, 59), false, utc(2026, 1, 14, 3, 30, 0)},
		{"wed 09:00 IST is 03:30 UTC", utc(2026, 1, 14, 3, 30, 0), true, time.Time{}},
		{"wed 17:59:59 IST", utc(2026, 1, 14, 12, 29, 59), true, time.Time{}},
		{"wed 18:00 IST", utc(2026, 1, 14, 12, 30, 0), false, utc(2026, 1, 15, 3, 30, 0)},
		{"tue 20:00 UTC is wed 01:30 IST", utc(2026, 1, 13, 20, 0, 0), false, utc(2026, 1, 14, 3, 30, 0)},
		{"fri 18:00 IST to monday", utc(2026, 1, 16, 12, 30, 0), false, utc(2026, 1, 19, 3, 30, 0)},
		// The European and American change days change nothing here.
		{"during amsterdam's spring forward", utc(2026, 3, 30, 3, 30, 0), true, time.Time{}},
		{"june: still 03:30 UTC", utc(2026, 6, 10, 3, 29, 59), false, utc(2026, 6, 10, 3, 30, 0)},
		{"november: still 03:30 UTC", utc(2026, 11, 2, 3, 30, 0), true, time.Time{}},
	})
}

// --- At: exceptions -----------------------------------------------------------

func TestOfficeHoursAtExceptions(t *testing.T) {
	h := amsterdamShop()
	h.Exceptions = []session.Exception{
		{Date: "2026-12-25", Closed: true},                                   // Friday, Christmas
		{Date: "2026-12-26", Closed: true},                                   // Saturday, Boxing Day
		{Date: "2026-12-24", Hours: ivs("09:00", "13:00")},                   // Thursday, short day
		{Date: "2026-12-20", Hours: ivs("12:00", "17:00")},                   // a Sunday shopping day
		{Date: "2026-12-31", Hours: ivs("09:00", "12:00", "13:00", "15:00")}, // Thursday, two short intervals
	}
	s := compile(t, h)
	checkProbes(t, s, []probe{
		// December is CET, UTC+1.
		{"normal thursday before", utc(2026, 12, 17, 16, 0, 0), true, time.Time{}},
		{"saturday before the sunday opening", utc(2026, 12, 19, 15, 0, 0), false, utc(2026, 12, 20, 11, 0, 0)},
		{"special sunday just before", utc(2026, 12, 20, 10, 59, 59), false, utc(2026, 12, 20, 11, 0, 0)},
		{"special sunday open", utc(2026, 12, 20, 11, 0, 0), true, time.Time{}},
		{"special sunday closing", utc(2026, 12, 20, 16, 0, 0), false, utc(2026, 12, 21, 8, 0, 0)},
		{"short day open", utc(2026, 12, 24, 8, 0, 0), true, time.Time{}},
		{"short day last second", utc(2026, 12, 24, 11, 59, 59), true, time.Time{}},
		{"short day closes at 13:00, not 17:30", utc(2026, 12, 24, 12, 0, 0), false, utc(2026, 12, 28, 8, 0, 0)},
		{"christmas: normally open friday", utc(2026, 12, 25, 10, 0, 0), false, utc(2026, 12, 28, 8, 0, 0)},
		{"boxing day: normally open saturday", utc(2026, 12, 26, 10, 0, 0), false, utc(2026, 12, 28, 8, 0, 0)},
		{"monday after", utc(2026, 12, 28, 8, 0, 0), true, time.Time{}},
		{"new year's eve lunch", utc(2026, 12, 31, 11, 30, 0), false, utc(2026, 12, 31, 12, 0, 0)},
		{"new year's eve afternoon", utc(2026, 12, 31, 13, 59, 59), true, time.Time{}},
		{"new year's eve closing goes to friday 2027-01-01", utc(2026, 12, 31, 14, 0, 0), false, utc(2027, 1, 1, 8, 0, 0)},
		{"the same weekday a year later is ordinary", utc(2027, 12, 24, 15, 0, 0), true, time.Time{}},
	})
}

func TestOfficeHoursExceptionUsesLocalDate(t *testing.T) {
	all := map[string][]session.Interval{}
	for _, d := range session.Weekdays() {
		all[d] = ivs("00:00", "24:00")
	}
	s := compile(t, session.OfficeHours{Timezone: "Europe/Amsterdam", Weekly: all,
		Exceptions: []session.Exception{{Date: "2026-12-25", Closed: true}}})
	checkProbes(t, s, []probe{
		{"24 Dec 23:59:59 CET", utc(2026, 12, 24, 22, 59, 59), true, time.Time{}},
		{"25 Dec 00:00 CET is still 24 Dec in UTC", utc(2026, 12, 24, 23, 0, 0), false, utc(2026, 12, 25, 23, 0, 0)},
		{"25 Dec 23:59 CET", utc(2026, 12, 25, 22, 59, 0), false, utc(2026, 12, 25, 23, 0, 0)},
		{"26 Dec 00:00 CET", utc(2026, 12, 25, 23, 0, 0), true, time.Time{}},
	})
}

// --- At: empty, always open, midnight ----------------------------------------

func TestOfficeHoursAtNoIntervals(t *testing.T) {
	for name, h := range map[string]session.OfficeHours{
		"nil weekly":   {Timezone: "Europe/Amsterdam"},
		"empty days":   {Timezone: "Europe/Amsterdam", Weekly: map[string][]session.Interval{"mon": {}, "sun": nil}},
		"only closed":  {Timezone: "Europe/Amsterdam", Exceptions: []session.Exception{{Date: "2026-12-25", Closed: true}}},
		"closed today": {Timezone: "UTC", Weekly: map[string][]session.Interval{"fri": {}}, Exceptions: []session.Exception{{Date: "2026-12-25", Closed: true}}},
	} {
		t.Run(name, func(t *testing.T) {
			s := compile(t, h)
			for _, now := range []time.Time{utc(2026, 1, 14, 10, 0, 0), utc(2026, 12, 25, 10, 0, 0), utc(2026, 3, 29, 1, 0, 0)} {
				got := s.At(now)
				require.False(t, got.Open)
				require.True(t, got.NextOpen.IsZero(), "NextOpen at %s: %s", now, got.NextOpen)
			}
		})
	}
}

func TestOfficeHoursNextOpenFarAhead(t *testing.T) {
	// Only one opening, 300 days ahead: still found.
	s := compile(t, session.OfficeHours{Timezone: "Europe/Amsterdam",
		Exceptions: []session.Exception{{Date: "2026-11-10", Hours: ivs("10:00", "11:00")}}})
	checkProbes(t, s, []probe{
		{"300 days before", utc(2026, 1, 14, 10, 0, 0), false, utc(2026, 11, 10, 9, 0, 0)},
		{"during", utc(2026, 11, 10, 9, 30, 0), true, time.Time{}},
		{"after: nothing left", utc(2026, 11, 10, 10, 0, 0), false, time.Time{}},
	})
}

func TestOfficeHoursAlwaysOpen(t *testing.T) {
	h := session.AlwaysOpen()
	require.Equal(t, "UTC", h.Timezone)
	require.Len(t, h.Weekly, 7)
	for _, d := range session.Weekdays() {
		require.Equal(t, []session.Interval{{Open: "00:00", Close: "24:00"}}, h.Weekly[d], d)
	}
	require.NotNil(t, h.Exceptions)
	require.Empty(t, h.Exceptions)
	// A GET followed by a PUT of the same body changes nothing.
	require.Equal(t, h, h.Normalize())
	body, err := json.Marshal(h)
	require.NoError(t, err)
	var back session.OfficeHours
	require.NoError(t, json.Unmarshal(body, &back))
	require.Equal(t, h, back.Normalize())

	s := compile(t, h)
	for _, now := range []time.Time{
		utc(2026, 1, 1, 0, 0, 0), utc(2026, 1, 4, 23, 59, 59), utc(2026, 1, 5, 0, 0, 0),
		utc(2026, 3, 29, 1, 0, 0), utc(2026, 10, 25, 1, 30, 0), utc(2028, 2, 29, 12, 0, 0),
		time.Date(2026, 6, 10, 2, 0, 0, 0, mustLoc(t, "Asia/Kolkata")),
	} {
		got := s.At(now)
		require.True(t, got.Open, "open at %s", now)
		require.True(t, got.NextOpen.IsZero())
	}
}

func TestOfficeHoursMidnightContinuation(t *testing.T) {
	// Monday evening through the night into Tuesday.
	s := compile(t, session.OfficeHours{Timezone: "Europe/Amsterdam", Weekly: map[string][]session.Interval{
		"mon": ivs("18:00", "24:00"),
		"tue": ivs("00:00", "02:00"),
	}})
	// Monday 2026-01-12, CET.
	checkProbes(t, s, []probe{
		{"monday 17:59:59", utc(2026, 1, 12, 16, 59, 59), false, utc(2026, 1, 12, 17, 0, 0)},
		{"monday 18:00", utc(2026, 1, 12, 17, 0, 0), true, time.Time{}},
		{"monday 23:59:59", utc(2026, 1, 12, 22, 59, 59), true, time.Time{}},
		{"tuesday 00:00:00", utc(2026, 1, 12, 23, 0, 0), true, time.Time{}},
		{"tuesday 01:59:59", utc(2026, 1, 13, 0, 59, 59), true, time.Time{}},
		{"tuesday 02:00", utc(2026, 1, 13, 1, 0, 0), false, utc(2026, 1, 19, 17, 0, 0)},
		{"sunday 23:59:59 before", utc(2026, 1, 11, 22, 59, 59), false, utc(2026, 1, 12, 17, 0, 0)},
	})
	// Sub-second instants count by the second they fall in.
	require.True(t, s.At(time.Date(2026, 1, 12, 22, 59, 59, 999_999_999, time.UTC)).Open)
}

// --- NextOpen is consistent with Open ------------------------------------------

// TestOfficeHoursNextOpenConsistency sweeps weeks around DST changes minute by
// minute and checks that whatever NextOpen promises holds: the office stays
// closed until then, and is open at that instant but not the second before.
func TestOfficeHoursNextOpenConsistency(t *testing.T) {
	withHolidays := amsterdamShop()
	withHolidays.Exceptions = []session.Exception{
		{Date: "2026-12-24", Hours: ivs("09:00", "13:00")},
		{Date: "2026-12-25", Closed: true},
		{Date: "2026-12-27", Hours: ivs("12:00", "17:00")},
	}
	nyc := session.OfficeHours{Timezone: "America/New_York", Weekly: map[string][]session.Interval{
		"mon": ivs("09:00", "17:00"), "fri": ivs("09:00", "12:00", "13:00", "17:00"), "sun": ivs("03:00", "04:00"),
	}}
	night := session.OfficeHours{Timezone: "Europe/Amsterdam", Weekly: map[string][]session.Interval{
		"sat": ivs("20:00", "24:00"), "sun": ivs("00:00", "01:30", "04:00", "06:00"),
	}}
	kol := session.OfficeHours{Timezone: "Asia/Kolkata", Weekly: map[string][]session.Interval{"wed": ivs("09:00", "18:00")}}
	for _, c := range []struct {
		name  string
		h     session.OfficeHours
		start time.Time
	}{
		{"amsterdam spring", amsterdamShop(), utc(2026, 3, 25, 0, 0, 0)},
		{"amsterdam fall", amsterdamShop(), utc(2026, 10, 21, 0, 0, 0)},
		{"amsterdam christmas", withHolidays, utc(2026, 12, 21, 0, 0, 0)},
		{"amsterdam nights spring", night, utc(2026, 3, 25, 0, 0, 0)},
		{"amsterdam nights fall", night, utc(2026, 10, 21, 0, 0, 0)},
		{"new york spring", nyc, utc(2026, 3, 4, 0, 0, 0)},
		{"new york fall", nyc, utc(2026, 10, 28, 0, 0, 0)},
		{"kolkata", kol, utc(2026, 3, 25, 0, 0, 0)},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := compile(t, c.h)
			var promised time.Time
			checked := map[time.Time]bool{}
			end := c.start.Add(10 * 24 * time.Hour)
			opens := 0
			for now := c.start; now.Before(end); now = now.Add(time.Minute) {
				got := s.At(now)
				if !promised.IsZero() && now.Before(promised) {
					require.False(t, got.Open, "open at %s before the promised %s", now, promised)
					require.True(t, promised.Equal(got.NextOpen), "promise changed at %s: %s then %s", now, promised, got.NextOpen)
					continue
				}
				promised = time.Time{}
				if got.Open {
					opens++
					require.True(t, got.NextOpen.IsZero())
					continue
				}
				require.False(t, got.NextOpen.IsZero(), "closed at %s with no next opening", now)
				require.True(t, got.NextOpen.After(now))
				promised = got.NextOpen
				if !checked[promised] {
					checked[promised] = true
					require.True(t, s.At(promised).Open, "not open at the promised %s", promised)
					require.False(t, s.At(promised.Add(-time.Second)).Open, "already open before the promised %s", promised)
				}
			}
			require.Positive(t, opens, "the sweep should see the office open")
			require.NotEmpty(t, checked, "the sweep should see the office closed")
		})
	}
}

// --- Normalize --------------------------------------------------------------------

func TestOfficeHoursNormalize(t *testing.T) {
	in := session.OfficeHours{
		Timezone: "Europe/Amsterdam",
		Weekly: map[string][]session.Interval{
			"mon": ivs("13:00", "17:00", "09:00", "12:00"),
			"tue": ivs("09:00", "17:00"),
			"wed": {},
			"sun": nil,
		},
		Exceptions: []session.Exception{
			{Date: "2026-12-31", Hours: ivs("09:00", "12:00")},
			{Date: "2026-12-24", Hours: ivs("09:00", "13:00")},
			{Date: "2026-12-25", Closed: true},
		},
	}
	got := in.Normalize()
	require.Equal(t, session.OfficeHours{
		Timezone: "Europe/Amsterdam",
		Weekly: map[string][]session.Interval{
			"mon": ivs("09:00", "12:00", "13:00", "17:00"),
			"tue": ivs("09:00", "17:00"),
		},
		Exceptions: []session.Exception{
			{Date: "2026-12-24", Hours: ivs("09:00", "13:00")},
			{Date: "2026-12-25", Closed: true},
			{Date: "2026-12-31", Hours: ivs("09:00", "12:00")},
		},
	}, got)
	// The input is left alone.
	require.Equal(t, ivs("13:00", "17:00", "09:00", "12:00"), in.Weekly["mon"])
	require.Equal(t, "2026-12-31", in.Exceptions[0].Date)
	// Idempotent.
	require.Equal(t, got, got.Normalize())

	// Nil collections become empty ones (JSON {} and [], not null).
	empty := session.OfficeHours{Timezone: "UTC"}.Normalize()
	require.NotNil(t, empty.Weekly)
	require.NotNil(t, empty.Exceptions)
	body, err := json.Marshal(empty)
	require.NoError(t, err)
	require.JSONEq(t, `{"timezone": "UTC", "weekly": {}, "exceptions": []}`, string(body))
}

// --- FormatOpening -------------------------------------------------------------------

func TestFormatOpening(t *testing.T) {
	ams := mustLoc(t, "Europe/Amsterdam")
	// Monday 30 November 2026, 09:00 CET = 08:00 UTC.
	at := utc(2026, 11, 30, 8, 0, 0)
	require.Equal(t, "Monday 30 November at 09:00 (Europe/Amsterdam)", session.FormatOpening("en", at, ams))
	require.Equal(t, "maandag 30 november om 09:00 (Europe/Amsterdam)", session.FormatOpening("nl", at, ams))
	// An unknown locale falls back to English.
	require.Equal(t, "Monday 30 November at 09:00 (Europe/Amsterdam)", session.FormatOpening("fr", at, ams))
	// The office's zone decides the date too: 23:30 UTC on Saturday is Sunday in Kolkata.
	kol := mustLoc(t, "Asia/Kolkata")
	require.Equal(t, "Sunday 2 August at 05:00 (Asia/Kolkata)", session.FormatOpening("en", utc(2026, 8, 1, 23, 30, 0), kol))
	require.Equal(t, "zondag 2 augustus om 05:00 (Asia/Kolkata)", session.FormatOpening("nl", utc(2026, 8, 1, 23, 30, 0), kol))
}
