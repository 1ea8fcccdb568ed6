package helpdesk

import (
	"bytes"
	"fmt"
	"html/template"
	"strconv"
	"strings"
	"time"

	"github.com/batonchat/baton/session"
)

// content is a ticket's subject and its transcript, as HTML and as text.
type content struct {
	Subject string
	HTML    string
	Text    string
}

// maxHTML keeps a ticket's body under what helpdesks take in one comment
// (Zendesk's limit is 64 KB); the earliest lines give way first.
const maxHTML = 60_000

// line is one transcript entry as the ticket shows it.
type line struct {
	UTCISO string   // for <time datetime>
	Local  string   // in the merchant's zone
	UTC    string   // in UTC
	Who    string   // Visitor, Assistant, Person (Anna), System
	Text   []string // the text's lines
}

type page struct {
	Words        session.TicketWords
	Email        string
	Profile      string
	Page         string
	Reason       string
	Summary      string
	Conversation string
	Times        string
	Omitted      string
	Lines        []line
}

// The template escapes every value for HTML: transcript text is the
// visitor's, and must not become markup in the team's helpdesk.
var htmlTicket = template.Must(template.New("ticket").Parse(`<p>{{.Words.Intro}}</p>
<ul>
<li><strong>{{.Words.Email}}:</strong> {{.Email}}</li>
<li><strong>{{.Words.Profile}}:</strong> {{.Profile}}</li>
<li><strong>{{.Words.Page}}:</strong> {{.Page}}</li>
<li><strong>{{.Words.Reason}}:</strong> {{.Reason}}</li>
<li><strong>{{.Words.Conversation}}:</strong> {{.Conversation}}</li>
</ul>
{{if .Summary}}<p><strong>{{.Words.Summary}}:</strong> {{.Summary}}</p>
{{end}}
<p><em>{{.Times}}</em></p>
{{if .Omitted}}<p><em>{{.Omitted}}</em></p>
{{end}}{{range .Lines}}<p><time datetime="{{.UTCISO}}">{{.Local}} · {{.UTC}}</time> <strong>{{.Who}}</strong>:<br>
{{range $i, $t := .Text}}{{if $i}}<br>
{{end}}{{$t}}{{end}}</p>
{{end}}`))

// render writes the ticket from the request: a header with who the visitor
// is and why they were handed off, then every line with its time in the
// merchant's zone and in UTC, who said it, and what they said.
func render(r session.TicketRequest) content {
	w := r.Words
	loc := r.Location
	if loc == nil {
		loc = time.UTC
	}
	p := page{
		Words: w, Email: r.Visitor.Email, Profile: orNone(r.Visitor.ProfileID, w), Page: orNone(r.Visitor.Page, w),
		Reason: reasonText(r, w), Summary: r.Summary, Conversation: r.ConversationID,
		Times: strings.Replace(w.Times, "%s", loc.String(), 1),
	}
	if loc.String() == "UTC" {
		p.Times = w.TimesUTC
	}
	all := make([]line, 0, len(r.Transcript))
	for _, m := range r.Transcript {
		all = append(all, toLine(m, loc, w))
	}
	c := content{Subject: strings.Replace(w.Subject, "%s", r.Visitor.Email, 1)}
	skip := 0
	for {
		p.Lines = all[skip:]
		p.Omitted = ""
		if skip > 0 {
			p.Omitted = strings.Replace(w.Omitted, "%s", strconv.Itoa(skip), 1)
		}
		var b bytes.Buffer
		if err := htmlTicket.Execute(&b, p); err != nil {
			// Only strings: the template cannot fail on them.
			panic(fmt.Sprintf("helpdesk: rendering a ticket: %v", err))
		}
		if b.Len() <= maxHTML || len(p.Lines) <= 1 {
			c.HTML = b.String()
			break
		}
		skip += max(1, len(p.Lines)/10)
	}
	c.Text = renderText(p)
	return c
}

func renderText(p page) string {
	var b strings.Builder
	w := p.Words
	fmt.Fprintf(&b, "%s\n\n", w.Intro)
	fmt.Fprintf(&b, "%s: %s\n%s: %s\n%s: %s\n%s: %s\n%s: %s\n\n", w.Email, p.Email, w.Profile, p.Profile,
		w.Page, p.Page, w.Reason, p.Reason, w.Conversation, p.Conversation)
	if p.Summary != "" {
		fmt.Fprintf(&b, "%s: %s\n\n", w.Summary, p.Summary)
	}
	fmt.Fprintf(&b, "%s\n\n", p.Times)
	if p.Omitted != "" {
		fmt.Fprintf(&b, "%s\n\n", p.Omitted)
	}
	for _, l := range p.Lines {
		fmt.Fprintf(&b, "[%s | %s] %s: %s\n", l.Local, l.UTC, l.Who, strings.Join(l.Text, "\n    "))
	}
	return b.String()
}

func toLine(m session.Message, loc *time.Location, w session.TicketWords) line {
	ts := m.TS.Time
	who := w.RoleName(m.Role)
	if m.Role == session.RoleAgent && m.Author != "" {
		who += " (" + m.Author + ")"
	}
	text := strings.Split(strings.ReplaceAll(m.Text, "\r\n", "\n"), "\n")
	return line{
		UTCISO: session.FormatTime(ts),
		Local:  ts.In(loc).Format("2006-01-02 15:04:05 MST"),
		UTC:    ts.UTC().Format("2006-01-02 15:04:05 UTC"),
		Who:    who, Text: text,
	}
}

// reasonText is why the visitor was handed off, in words and as the
// contract's code (which a helpdesk rule or search can match on), with the
// model's own words when it chose to.
func reasonText(r session.TicketRequest, w session.TicketWords) string {
	t := w.ReasonText(r.Reason)
	if r.Reason != "" && t != r.Reason {
		t += " [" + r.Reason + "]"
	}
	if d := strings.TrimSpace(r.ReasonDetail); d != "" {
		t += " (" + d + ")"
	}
	return t
}

func orNone(s string, w session.TicketWords) string {
	if strings.TrimSpace(s) == "" {
		return w.None
	}
	return s
}

// requesterName is what the helpdesk calls a visitor it has not met: the
// part of the address before the @.
func requesterName(email string) string {
	if at := strings.LastIndexByte(email, '@'); at > 0 {
		return email[:at]
	}
	return email
}
