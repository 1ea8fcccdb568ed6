package model

import "strings"

// citations takes the citation markers out of an answer as it streams and
// remembers which entries they named. A marker is [n], and liberally [n, m],
// [#n] or [^n], with n counted from 1; a marker can arrive split over any
// number of chunks, so an opening "[" and what follows are held until they
// turn out to be a marker (dropped) or text (passed on). Horizontal space
// before a marker is held too, so "3 days [1]." reads "3 days.".
type citations struct {
	n       int // entries in the prompt: markers above n name nothing
	ids     []string
	seen    map[int]bool
	cited   []int  // entry numbers in order of first citation
	space   string // horizontal space not yet passed on
	mark    string // a marker candidate, from its "["
	started bool   // something was passed on
	lastNL  bool   // the last byte passed on was a newline
	dropped bool   // a marker was just dropped: space between it and punctuation goes too
}

// maxMarker bounds a marker candidate: past it, "[" was text.
const maxMarker = 24

func newCitations(ids []string) *citations {
	return &citations{n: len(ids), ids: ids, seen: map[int]bool{}}
}

// feed takes the next piece of the answer and returns what can be passed
// on now.
func (c *citations) feed(s string) string {
	var out strings.Builder
	for i := 0; i < len(s); i++ {
		c.byte(&out, s[i])
	}
	return out.String()
}

// flush ends the answer: a marker candidate that never closed was text;
// trailing space is dropped.
func (c *citations) flush() string {
	m := c.mark
	c.mark = ""
	if m == "" {
		c.space = ""
		return ""
	}
	var out strings.Builder
	c.emit(&out, m[0])
	for i := 1; i < len(m); i++ {
		c.byte(&out, m[i])
	}
	// What was re-read may have opened another candidate.
	return out.String() + c.flush()
}

func (c *citations) byte(out *strings.Builder, b byte) {
	if c.mark != "" {
		c.mark += string(b)
		switch markerState(c.mark) {
		case markDone:
			c.cite(c.mark)
			c.mark, c.space = "", ""
			c.dropped = true
		case markBad:
			// The "[" was text; what followed it is read again, since
			// it may hold the start of a real marker ("[[1]").
			rest := c.mark[1:]
			c.mark = ""
			c.emit(out, '[')
			for i := 0; i < len(rest); i++ {
				c.byte(out, rest[i])
			}
		}
		return
	}
	switch {
	case b == '[':
		c.mark = "["
	case b == ' ' || b == '\t':
		if !c.started || c.lastNL {
			return // no space at the start of the answer or of a line
		}
		c.space += string(b)
	default:
		c.emit(out, b)
	}
}

func (c *citations) emit(out *strings.Builder, b byte) {
	if b == '\n' {
		c.space = "" // no space at a line's end
		if !c.started {
			return // nor blank lines at the start
		}
	}
	if c.dropped && (b == '.' || b == ',' || b == '!' || b == '?' || b == ';' || b == ':') {
		c.space = "" // "days [1] ." reads "days."
	}
	c.dropped = false
	out.WriteString(c.space)
	c.space = ""
	out.WriteByte(b)
	c.started = true
	c.lastNL = b == '\n'
}

type markState int

const (
	markOpen markState = iota
	markDone
	markBad
)

// markerState reads a candidate that starts with "[": still open, a
// complete marker, or not a marker.
func markerState(m string) markState {
	if len(m) > maxMarker {
		return markBad
	}
	digits := 0     // digits in the current number
	needNum := true // a number must come next
	for i := 1; i < len(m); i++ {
		b := m[i]
		switch {
		case b >= '0' && b <= '9':
			if !needNum && digits == 0 {
				return markBad // "[1 2]"
			}
			digits++
			needNum = false
			if digits > 3 {
				return markBad
			}
		case b == '#' || b == '^':
			if !needNum || digits > 0 {
				return markBad
			}
		case b == ' ':
			if digits > 0 {
				digits = 0 // the number ended; a separator or "]" follows
			}
		case b == ',' || b == ';':
			if needNum {
				return markBad
			}
			digits, needNum = 0, true
		case b == ']':
			if needNum {
				return markBad
			}
			return markDone
		default:
			return markBad
		}
	}
	return markOpen
}

// cite records the entries a complete marker names.
func (c *citations) cite(m string) {
	n := 0
	inNum := false
	end := func() {
		if inNum && n >= 1 && n <= c.n && !c.seen[n] {
			c.seen[n] = true
			c.cited = append(c.cited, n)
		}
		n, inNum = 0, false
	}
	for i := 1; i < len(m); i++ {
		if b := m[i]; b >= '0' && b <= '9' {
			n = n*10 + int(b-'0')
			inNum = true
		} else {
			end()
		}
	}
}

// sources are the cited entries' ids, in order of first citation.
func (c *citations) sources() []string {
	if len(c.cited) == 0 {
		return nil
	}
	out := make([]string, len(c.cited))
	for i, n := range c.cited {
		out[i] = c.ids[n-1]
	}
	return out
}
