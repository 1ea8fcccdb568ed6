package helpdesk

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/batonchat/baton/session"
)

// escapeHTML is how html/template escapes text between tags, written out
// again here so the property does not lean on the code under test.
var escapeHTML = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&#34;", "'", "&#39;",
	"+", "&#43;", "\x00", "\uFFFD").Replace

// ticketTags is every tag the ticket template writes; nothing else may be
// markup in a rendered ticket. (A scan, not a regexp: tickets of 60 KB are
// checked a million times.)
var ticketTags = []string{"<p>", "</p>", "<ul>", "</ul>", "<li>", "</li>", "<strong>", "</strong>",
	"<em>", "</em>", "<br>", "</time>"}

// foreignMarkup returns where html has a '<' or '>' that is not part of
// one of ticketTags or a <time datetime="..."> with a timestamp, or -1.
func foreignMarkup(html string) int {
	for i := 0; i < len(html); {
		switch html[i] {
		case '>':
			return i
		case '<':
			n := 0
			for _, tag := range ticketTags {
				if strings.HasPrefix(html[i:], tag) {
					n = len(tag)
					break
				}
			}
			if n == 0 && strings.HasPrefix(html[i:], `<time datetime="`) {
				j := i + len(`<time datetime="`)
				for j < len(html) && strings.IndexByte("0123456789T:.Z-", html[j]) >= 0 {
					j++
				}
				if strings.HasPrefix(html[j:], `">`) {
					n = j + 2 - i
				}
			}
			if n == 0 {
				return i
			}
			i += n
		default:
			i++
		}
	}
	return -1
}

var fuzzZones = []string{"UTC", "Europe/Amsterdam", "America/St_Johns", "Pacific/Kiritimati", "Australia/Lord_Howe"}

// FuzzRenderTicket: a ticket shows every line of the transcript, and every
// value from the visitor, the agent or the model, escaped for HTML so none
// of it becomes markup; the text body carries them as they are; and the
// HTML stays under the helpdesk's limit.
func FuzzRenderTicket(f *testing.F) {
	zones := make([]*time.Location, len(fuzzZones))
	for i, z := range fuzzZones {
		loc, err := time.LoadLocation(z)
		if err != nil {
			f.Fatal(err)
		}
		zones[i] = loc
	}
	f.Fuzz(func(t *testing.T, visitorText, agentText, author, email, summary, detail string, nl, long bool, zone uint8, ts int64) {
		if long && zone&0x80 != 0 && visitorText != "" {
			// Past maxHTML, so earlier lines must give way, without huge
			// corpus entries that make the fuzzer crawl; for one input in
			// four, as these cost a hundred times the others.
			visitorText = strings.Repeat(visitorText, 70_000/len(visitorText)+1)
		}
		loc := zones[int(zone)%len(zones)]
		words := session.TicketWordsFor("en")
		if nl {
			words = session.TicketWordsFor("nl")
		}
		at := time.Unix(ts%(1<<35), 0).UTC() // up to the year 3058
		r := session.TicketRequest{
			ConversationID: "c_fuzz", Reason: "model_handoff", ReasonDetail: detail, Summary: summary,
			Location: loc, Words: words,
			Visitor: session.TicketVisitor{Email: email, ProfileID: author, Page: "https://shop.example/?q=" + visitorText},
			Transcript: []session.Message{
				{Seq: 1, Role: session.RoleVisitor, Text: visitorText, TS: session.Time{Time: at}},
				{Seq: 2, Role: session.RoleAssistant, Text: "Let me find someone.", TS: session.Time{Time: at.Add(time.Second)}},
				{Seq: 3, Role: session.RoleAgent, Author: author, Text: agentText, TS: session.Time{Time: at.Add(2 * time.Second)}},
			},
		}
		c := render(r)

		shown := strings.Count(c.HTML, "<time ") // text is escaped: only the template writes this
		if shown < 1 || shown > 3 || len(c.HTML) > maxHTML && shown != 1 {
			t.Fatalf("%d lines shown in %d bytes of HTML", shown, len(c.HTML))
		}
		if shown < 3 {
			omitted := strings.Replace(words.Omitted, "%s", strconv.Itoa(3-shown), 1)
			if !strings.Contains(c.HTML, escapeHTML(omitted)) || !strings.Contains(c.Text, omitted) {
				t.Fatalf("%d lines left out without saying so", 3-shown)
			}
		}
		if i := foreignMarkup(c.HTML); i >= 0 {
			t.Fatalf("markup that is not the template's: %q", c.HTML[max(0, i-40):min(len(c.HTML), i+40)])
		}
		if !strings.Contains(c.Subject, email) {
			t.Fatalf("subject %q does not name %q", c.Subject, email)
		}
		// The latest lines are the ones kept.
		for _, m := range r.Transcript[3-shown:] {
			for _, l := range strings.Split(strings.ReplaceAll(m.Text, "\r\n", "\n"), "\n") {
				if !strings.Contains(c.HTML, escapeHTML(l)) {
					t.Fatalf("HTML lacks line %q of message %d, escaped", l, m.Seq)
				}
				if !strings.Contains(c.Text, l) {
					t.Fatalf("text lacks line %q of message %d", l, m.Seq)
				}
			}
		}
		for _, v := range []string{email, summary, strings.TrimSpace(detail), author} {
			if !strings.Contains(c.HTML, escapeHTML(v)) || !strings.Contains(c.Text, v) {
				t.Fatalf("ticket lacks %q", v)
			}
		}
	})
}
