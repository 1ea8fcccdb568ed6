package session

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Interval is one opening on a day, in the office's local wall-clock time.
// Close is exclusive; "24:00" means the end of the day.
type Interval struct {
	Open  string `json:"open"`
	Close string `json:"close"`
}

// Exception overrides the weekly hours on one local date: closed, or other
// hours.
type Exception struct {
	Date   string     `json:"date"`
	Closed bool       `json:"closed,omitempty"`
	Hours  []Interval `json:"hours,omitempty"`
}

// OfficeHours is a merchant's opening schedule as merchants write it.
type OfficeHours struct {
	Timezone   string                `json:"timezone"`
	Weekly     map[string][]Interval `json:"weekly"`
	Exceptions []Exception           `json:"exceptions"`
}

// Weekdays are the keys of OfficeHours.Weekly, Monday first.
func Weekdays() []string { return []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"} }

// AlwaysOpen is the schedule of a merchant who never set one: open all week
// in UTC, so a GET followed by a PUT of the same body changes nothing.
func AlwaysOpen() OfficeHours {
	w := make(map[string][]Interval, 7)
	for _, d := range Weekdays() {
		w[d] = []Interval{{Open: "00:00", Close: "24:00"}}
	}
	return OfficeHours{Timezone: "UTC", Weekly: w, Exceptions: []Exception{}}
}

// span is an interval in seconds since local midnight.
type span struct{ open, close int }

// Schedule is OfficeHours compiled for fast queries.
type Schedule struct {
	loc        *time.Location
	weekly     [7][]span // indexed by time.Weekday
	exceptions map[string][]span
}

// Location is the office's time zone.
func (s *Schedule) Location() *time.Location { return s.loc }

// Compile validates h and prepares it for queries. Errors are KindInvalid
// with a message that names the offending field.
func (h OfficeHours) Compile() (*Schedule, error) {
	if h.Timezone == "" {
		return nil, newErr(KindInvalid, "invalid_office_hours", "timezone is required")
	}
	loc, err := time.LoadLocation(h.Timezone)
	if err != nil || strings.EqualFold(h.Timezone, "local") {
		return nil, newErr(KindInvalid, "invalid_office_hours", "unknown time zone %q", h.Timezone)
	}
	s := &Schedule{loc: loc, exceptions: make(map[string][]span, len(h.Exceptions))}
	for day, ivs := range h.Weekly {
		wd, ok := weekdayIndex(day)
		if !ok {
			return nil, newErr(KindInvalid, "invalid_office_hours", "unknown weekday %q (use mon, tue, wed, thu, fri, sat, sun)", day)
		}
		spans, err := compileIntervals(ivs, "weekly."+day)
		if err != nil {
			return nil, err
		}
		s.weekly[wd] = spans
	}
	for i, ex := range h.Exceptions {
		where := fmt.Sprintf("exceptions[%d]", i)
		if _, err := time.Parse(time.DateOnly, ex.Date); err != nil {
			return nil, newErr(KindInvalid, "invalid_office_hours", "%s.date %q is not a YYYY-MM-DD date", where, ex.Date)
		}
		if _, dup := s.exceptions[ex.Date]; dup {
			return nil, newErr(KindInvalid, "invalid_office_hours", "%s.date %s appears twice", where, ex.Date)
		}
		switch {
		case ex.Closed && len(ex.Hours) > 0:
			return nil, newErr(KindInvalid, "invalid_office_hours", "%s is both closed and has hours", where)
		case !ex.Closed && len(ex.Hours) == 0:
			return nil, newErr(KindInvalid, "invalid_office_hours", "%s needs \"closed\": true or some hours", where)
		}
		spans, err := compileIntervals(ex.Hours, where+".hours")
		if err != nil {
			return nil, err
		}
		s.exceptions[ex.Date] = spans
	}
	return s, nil
}

// Normalize returns h with empty collections instead of nil and exceptions
// sorted by date, the form in which it is stored and shown.
func (h OfficeHours) Normalize() OfficeHours {
	out := OfficeHours{Timezone: h.Timezone, Weekly: map[string][]Interval{}, Exceptions: []Exception{}}
	for d, ivs := range h.Weekly {
		if len(ivs) == 0 {
			continue
		}
		out.Weekly[d] = sortedIntervals(ivs)
	}
	for _, ex := range h.Exceptions {
		ex.Hours = sortedIntervals(ex.Hours)
		out.Exceptions = append(out.Exceptions, ex)
	}
	sort.Slice(out.Exceptions, func(i, j int) bool { return out.Exceptions[i].Date < out.Exceptions[j].Date })
	return out
}

func sortedIntervals(ivs []Interval) []Interval {
	if len(ivs) == 0 {
		return nil
	}
	c := append([]Interval(nil), ivs...)
	sort.Slice(c, func(i, j int) bool { return c[i].Open < c[j].Open })
	return c
}

func weekdayIndex(day string) (time.Weekday, bool) {
	for i, d := range Weekdays() {
		if d == day {
			return time.Weekday((i + 1) % 7), true
		}
	}
	return 0, false
}

func compileIntervals(ivs []Interval, where string) ([]span, error) {
	spans := make([]span, 0, len(ivs))
	for i, iv := range ivs {
		o, okO := parseClock(iv.Open, false)
		c, okC := parseClock(iv.Close, true)
		if !okO {
			return nil, newErr(KindInvalid, "invalid_office_hours", "%s[%d].open %q is not a HH:MM time", where, i, iv.Open)
		}
		if !okC {
			return nil, newErr(KindInvalid, "invalid_office_hours", "%s[%d].close %q is not a HH:MM time (or 24:00)", where, i, iv.Close)
		}
		if c <= o {
			return nil, newErr(KindInvalid, "invalid_office_hours", "%s[%d] closes at %s, not after it opens at %s", where, i, iv.Close, iv.Open)
		}
		spans = append(spans, span{o, c})
	}
	sort.Slice(spans, func(i, j int) bool { return spans[i].open < spans[j].open })
	for i := 1; i < len(spans); i++ {
		if spans[i].open < spans[i-1].close {
			return nil, newErr(KindInvalid, "invalid_office_hours", "%s has overlapping intervals", where)
		}
	}
	return spans, nil
}

// parseClock reads "HH:MM" as seconds since midnight; "24:00" only as a close.
func parseClock(s string, isClose bool) (int, bool) {
	if len(s) != 5 || s[2] != ':' {
		return 0, false
	}
	for _, c := range s[:2] + s[3:] {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	h, _ := strconv.Atoi(s[:2])
	m, _ := strconv.Atoi(s[3:])
	if m > 59 {
		return 0, false
	}
	if h == 24 && m == 0 && isClose {
		return 24 * 3600, true
	}
	if h > 23 {
		return 0, false
	}
	return h*3600 + m*60, true
}

func (s *Schedule) spansOn(y int, m time.Month, d int) []span {
	key := fmt.Sprintf("%04d-%02d-%02d", y, m, d)
	if ex, ok := s.exceptions[key]; ok {
		return ex
	}
	return s.weekly[time.Date(y, m, d, 12, 0, 0, 0, time.UTC).Weekday()]
}

// OfficeState answers "are we open now, and if not, when next".
type OfficeState struct {
	Open     bool
	NextOpen time.Time // zero when open, or when no opening lies within 400 days
}

// horizon bounds the search for the next opening.
const horizon = 400

// At reports the office's state at instant now. Intervals are wall-clock
// times in the office's zone: a 09:00 opening stays at 09:00 local across DST
// changes. The office is open while the local clock reads inside an
// interval, and NextOpen is the first instant after now at which that
// becomes true: an opening skipped by a spring-forward gap happens when the
// clock jumps past it, and one in a repeated hour at its first occurrence
// still ahead.
func (s *Schedule) At(now time.Time) OfficeState {
	local := now.In(s.loc)
	y, m, d := local.Date()
	sec := local.Hour()*3600 + local.Minute()*60 + local.Second()
	for _, sp := range s.spansOn(y, m, d) {
		if sp.open <= sec && sec < sp.close {
			return OfficeState{Open: true}
		}
	}
	for i := 0; i < horizon; i++ {
		day := time.Date(y, m, d+i, 12, 0, 0, 0, s.loc)
		dy, dm, dd := day.Date()
		for _, sp := range s.spansOn(dy, dm, dd) {
			if at, ok := s.opening(dy, dm, dd, sp, now); ok {
				return OfficeState{NextOpen: at}
			}
		}
	}
	return OfficeState{}
}

// opening returns the first instant after now at which the local clock on
// the given date enters span, if there is one.
func (s *Schedule) opening(y int, m time.Month, d int, sp span, now time.Time) (time.Time, bool) {
	wall := time.Date(y, m, d, 0, 0, sp.open, 0, time.UTC) // the wall clock, read as if UTC
	// The offsets in force around that wall-clock time: DST changes are
	// never closer together than a day.
	_, before := wall.Add(-26 * time.Hour).In(s.loc).Zone()
	_, after := wall.Add(26 * time.Hour).In(s.loc).Zone()
	var best time.Time
	consider := func(t time.Time) {
		if t.After(now) && (best.IsZero() || t.Before(best)) {
			best = t
		}
	}
	found := false
	for _, off := range []int{before, after} {
		t := wall.Add(-time.Duration(off) * time.Second)
		if sameWall(t.In(s.loc), y, m, d, sp.open) {
			found = true
			consider(t)
		}
	}
	if !found && before != after {
		// The clock skips the opening: the office opens at the jump, the
		// first instant whose local reading is past it, if still in span.
		lo := wall.Add(-time.Duration(max(before, after)) * time.Second)
		hi := wall.Add(-time.Duration(min(before, after)) * time.Second)
		for hi.Sub(lo) > time.Second {
			mid := lo.Add(hi.Sub(lo) / 2)
			if _, off := mid.In(s.loc).Zone(); off == before {
				lo = mid
			} else {
				hi = mid
			}
		}
		l := hi.In(s.loc)
		if ly, lm, ld := l.Date(); ly == y && lm == m && ld == d {
			if c := l.Hour()*3600 + l.Minute()*60 + l.Second(); c >= sp.open && c < sp.close {
				consider(hi)
			}
		}
	}
	return best, !best.IsZero()
}

func sameWall(l time.Time, y int, m time.Month, d, sec int) bool {
	ly, lm, ld := l.Date()
	return ly == y && lm == m && ld == d && l.Hour()*3600+l.Minute()*60+l.Second() == sec
}
