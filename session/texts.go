package session

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// texts are the words Baton itself puts into a conversation, in one language.
// Adding a language is adding one function like textsEN and a line in catalog.
type texts struct {
	OfferUnsure    string
	OfferRequested string
	EmailRequest   string
	Declined       string
	QueuedOpen     string // a person is available and will join
	AutoResponse   string // default when the merchant wrote none
	AwayMessage    string // default when the merchant wrote none
	NextOpen       string // %s: the local opening time
	Ticketed       string // %s: the email address
	Joined         string // %s: the agent's name
	Left           string // %s: the agent's name
	CustomDefault  string
	CSATRequest    string // asking the visitor to rate the conversation
	// An email to a visitor who left: %s the shop's name (intro, subject)
	// or the link (reopen).
	MailSubject   string
	MailIntro     string
	MailYou       string
	MailAssistant string
	MailReopen    string
	// The extractive summary of a handoff, for the team: %s is a quote.
	SummaryAsked   string
	SummarySaid    string
	SummaryNothing string
	Weekdays       [7]string // Sunday first, as time.Weekday
	Months         [12]string
	At             string // between date and clock time
	Ticket         TicketWords
}

// TicketWords are the words of a helpdesk ticket, in the merchant's
// language: the team reads them, not the visitor.
type TicketWords struct {
	Subject      string // %s: the visitor's email address
	Intro        string
	Email        string
	Profile      string
	Page         string
	Reason       string
	Conversation string
	Times        string // %s: the merchant's zone
	TimesUTC     string // when the merchant's zone is UTC
	Omitted      string // %s: how many earlier lines were left out
	None         string // an unknown profile id or page
	Visitor      string
	Assistant    string
	Person       string
	System       string
	Summary      string
	Reasons      map[string]string // handoff reason -> words
}

// RoleName is how the ticket names who wrote a line.
func (w TicketWords) RoleName(r Role) string {
	switch r {
	case RoleVisitor:
		return w.Visitor
	case RoleAssistant:
		return w.Assistant
	case RoleAgent:
		return w.Person
	}
	return w.System
}

// ReasonText describes a handoff reason, or returns it as it is.
func (w TicketWords) ReasonText(reason string) string {
	if t, ok := w.Reasons[reason]; ok {
		return t
	}
	return reason
}

func textsEN() texts {
	return texts{
		OfferUnsure:    "I'm not sure I can answer that. Would you like me to connect you with someone from our team?",
		OfferRequested: "Of course. Shall I connect you with someone from our team?",
		EmailRequest:   "What email address can our team reach you at?",
		Declined:       "No problem. What else can I help you with?",
		QueuedOpen:     "Thanks! Your question has gone to our team. Someone will join this chat shortly.",
		AutoResponse:   "Thanks! Your question has gone to our team. Everyone is busy right now; someone will get back to you as soon as possible.",
		AwayMessage:    "Thanks! Your question has gone to our team, but we're away right now.",
		NextOpen:       "We're back on %s.",
		Ticketed:       "Thanks! Someone from our team will reply by email to %s.",
		Joined:         "%s joined the conversation.",
		Left:           "%s left the conversation.",
		CustomDefault:  "I can't help with that here, sorry.",
		CSATRequest:    "How did we do? Rate this conversation from 1 to 5.",
		MailSubject:    "%s replied to your chat",
		MailIntro:      "%s replied to you in the chat you started on our site:",
		MailYou:        "You",
		MailAssistant:  "Assistant",
		MailReopen:     "Continue the conversation here: %s",
		SummaryAsked:   "The visitor asked: %s.",
		SummarySaid:    "The assistant said: %s.",
		SummaryNothing: "The visitor asked for a person before asking anything.",
		Weekdays:       [7]string{"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"},
		Months: [12]string{"January", "February", "March", "April", "May", "June", "July",
			"August", "September", "October", "November", "December"},
		At: "at",
		Ticket: TicketWords{
			Subject:      "Web chat from %s",
			Intro:        "A visitor asked for a person in the web chat. Reply to this ticket to answer them by email.",
			Email:        "Email",
			Profile:      "Profile ID",
			Page:         "Page",
			Reason:       "Reason for the handoff",
			Conversation: "Conversation",
			Times:        "Times are in %s and UTC.",
			TimesUTC:     "Times are in UTC.",
			Omitted:      "%s earlier lines are not shown here; Baton keeps the whole conversation.",
			None:         "none",
			Visitor:      "Visitor",
			Assistant:    "Assistant",
			Person:       "Person",
			System:       "System",
			Summary:      "Summary",
			Reasons: map[string]string{
				ReasonUnsure:       "the assistant could not answer",
				ReasonVisitorAsked: "the visitor asked for a person",
				ReasonModelHandoff: "the assistant handed over",
				ReasonModelError:   "the assistant's model failed",
			},
		},
	}
}

func textsNL() texts {
	return texts{
		OfferUnsure:    "Ik weet niet zeker of ik dat kan beantwoorden. Wil je dat ik je doorverbind met iemand van ons team?",
		OfferRequested: "Natuurlijk. Zal ik je doorverbinden met iemand van ons team?",
		EmailRequest:   "Op welk e-mailadres kan ons team je bereiken?",
		Declined:       "Geen probleem. Waarmee kan ik je nog meer helpen?",
		QueuedOpen:     "Bedankt! Je vraag is doorgestuurd naar ons team. Er komt zo iemand in deze chat.",
		AutoResponse:   "Bedankt! Je vraag is doorgestuurd naar ons team. Iedereen is nu bezet; we nemen zo snel mogelijk contact met je op.",
		AwayMessage:    "Bedankt! Je vraag is doorgestuurd naar ons team, maar we zijn nu niet bereikbaar.",
		NextOpen:       "We zijn er weer op %s.",
		Ticketed:       "Bedankt! Iemand van ons team antwoordt per e-mail aan %s.",
		Joined:         "%s neemt deel aan het gesprek.",
		Left:           "%s heeft het gesprek verlaten.",
		CustomDefault:  "Daar kan ik je hier helaas niet mee helpen.",
		CSATRequest:    "Hoe hebben we het gedaan? Geef dit gesprek een cijfer van 1 tot 5.",
		MailSubject:    "%s heeft op je chat gereageerd",
		MailIntro:      "%s heeft gereageerd in de chat die je op onze site begon:",
		MailYou:        "Jij",
		MailAssistant:  "Assistent",
		MailReopen:     "Ga hier verder met het gesprek: %s",
		SummaryAsked:   "De bezoeker vroeg: %s.",
		SummarySaid:    "De assistent zei: %s.",
		SummaryNothing: "De bezoeker vroeg om een medewerker voordat hij iets vroeg.",
		Weekdays:       [7]string{"zondag", "maandag", "dinsdag", "woensdag", "donderdag", "vrijdag", "zaterdag"},
		Months: [12]string{"januari", "februari", "maart", "april", "mei", "juni", "juli",
			"augustus", "september", "oktober", "november", "december"},
		At: "om",
		Ticket: TicketWords{
			Subject:      "Webchat van %s",
			Intro:        "Een bezoeker vroeg in de webchat naar een medewerker. Beantwoord dit ticket om per e-mail te antwoorden.",
			Email:        "E-mail",
			Profile:      "Profiel-ID",
			Page:         "Pagina",
			Reason:       "Reden van de overdracht",
			Conversation: "Gesprek",
			Times:        "Tijden in %s en UTC.",
			TimesUTC:     "Tijden in UTC.",
			Omitted:      "%s eerdere regels staan hier niet; Baton bewaart het hele gesprek.",
			None:         "geen",
			Visitor:      "Bezoeker",
			Assistant:    "Assistent",
			Person:       "Medewerker",
			System:       "Systeem",
			Summary:      "Samenvatting",
			Reasons: map[string]string{
				ReasonUnsure:       "de assistent wist het antwoord niet",
				ReasonVisitorAsked: "de bezoeker vroeg om een medewerker",
				ReasonModelHandoff: "de assistent droeg het gesprek over",
				ReasonModelError:   "het taalmodel van de assistent faalde",
			},
		},
	}
}

func catalog() map[string]func() texts {
	return map[string]func() texts{"en": textsEN, "nl": textsNL}
}

// Locales lists the languages Baton speaks, sorted.
func Locales() []string {
	var out []string
	for k := range catalog() {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// SupportedLocale reports whether Baton speaks locale.
func SupportedLocale(locale string) bool {
	_, ok := catalog()[locale]
	return ok
}

// MatchLocale picks a supported locale for a browser's "nl-BE" or "en_GB",
// or returns "".
func MatchLocale(tag string) string {
	tag = strings.ToLower(strings.TrimSpace(tag))
	if i := strings.IndexAny(tag, "-_"); i > 0 {
		tag = tag[:i]
	}
	if SupportedLocale(tag) {
		return tag
	}
	return ""
}

func textsFor(locale string) texts {
	if f, ok := catalog()[locale]; ok {
		return f()
	}
	return textsEN()
}

// formatOpening renders t in loc as "Monday 30 November at 09:00 (Europe/Amsterdam)".
func (tx texts) formatOpening(t time.Time, loc *time.Location) string {
	l := t.In(loc)
	return fmt.Sprintf("%s %d %s %s %02d:%02d (%s)", tx.Weekdays[l.Weekday()], l.Day(),
		tx.Months[l.Month()-1], tx.At, l.Hour(), l.Minute(), loc.String())
}

// TicketWordsFor returns the ticket's words in locale (English when Baton
// does not speak it).
func TicketWordsFor(locale string) TicketWords { return textsFor(locale).Ticket }

// FormatOpening renders an opening time for people in the given locale.
func FormatOpening(locale string, t time.Time, loc *time.Location) string {
	return textsFor(locale).formatOpening(t, loc)
}

// CSATRequest is the question that asks a visitor to rate a conversation.
func CSATRequest(locale string) string { return textsFor(locale).CSATRequest }
