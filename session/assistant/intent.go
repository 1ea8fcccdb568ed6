package assistant

import "strings"

// wantsPersonPhrases: a visitor asking for a human, in English and Dutch.
// Matched against folded text padded with spaces, so " mens " does not fire
// on "mensen" unless listed.
func wantsPersonPhrases() []string {
	return []string{
		// English. Bare "human" or "a real" would fire on "human hair" and
		// "a real leather bag": each phrase names a person to talk to.
		" a human", " to human", " human please", " human being", " human agent", " human support",
		" real human", " a person", " real person", " actual person", " live person",
		" real agent", " live agent", " an agent", " support agent", " real people",
		" someone real", " somebody real", " speak to someone", " talk to someone",
		" speak with someone", " talk with someone", " speak to somebody", " talk to somebody",
		" speak to a person", " talk to a person", " speak to your manager", " talk to your manager",
		" representative", " operator", " customer service", " customer support", " live chat",
		" not a bot", " not a robot", " connect me to support", " connect me with support",
		// Dutch.
		" medewerker", " een mens", " met een mens", " echte mensen", " een persoon", " echt persoon",
		" echte persoon", " echt iemand", " iemand spreken", " iemand te spreken", " met iemand",
		" klantenservice", " klantendienst", " geen bot", " geen robot", " verbind me door",
		" doorverbinden", " doorverbonden",
	}
}

// wantsPerson reports whether text asks for a human.
func wantsPerson(text string) bool {
	ws := words(text)
	if len(ws) <= 2 {
		// "HUMAN!", "agent please", "medewerker aub"
		if len(ws) > 0 && personWord(ws[0]) && (len(ws) == 1 || politeWord(ws[1])) ||
			len(ws) == 2 && politeWord(ws[0]) && personWord(ws[1]) {
			return true
		}
	}
	t := " " + strings.Join(ws, " ") + " "
	for _, p := range wantsPersonPhrases() {
		if strings.Contains(t, p) {
			return true
		}
	}
	return false
}

func personWord(w string) bool {
	switch w {
	case "human", "person", "agent", "operator", "someone", "somebody", "representative",
		"mens", "medewerker", "persoon", "iemand":
		return true
	}
	return false
}

func politeWord(w string) bool {
	switch w {
	case "please", "pls", "plz", "now", "aub", "alstublieft", "alsjeblieft", "graag", "nu":
		return true
	}
	return false
}

type smallTalkKind int

const (
	noSmallTalk smallTalkKind = iota
	greeting
	thanks
)

// Small talk is a message made only of these words (and fillers): a
// greeting, or thanks and goodbyes.
func greetingWords() map[string]bool {
	return set(`hi hello hey hiya howdy good morning afternoon evening there hallo hoi goedemorgen
goedemiddag goedenavond dag goeiedag daar`)
}

func thanksWords() map[string]bool {
	return set(`thanks thank you thx ty cheers bye goodbye great perfect ok okay alright cool so much very
a lot many bedankt dank je u jij wel dankjewel dankuwel top super prima doei tot ziens fijn oke mooi heel hartelijk`)
}

func fillers() map[string]bool { return set(`and en oh ah well nou again weer`) }

func set(words string) map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(words) {
		m[w] = true
	}
	return m
}

// smallTalk recognises a message that is only a greeting or only thanks or
// goodbye.
func smallTalk(text string) smallTalkKind {
	ws := words(text)
	if len(ws) == 0 || len(ws) > 8 {
		return noSmallTalk
	}
	g, th, f := greetingWords(), thanksWords(), fillers()
	allIn := func(vocab map[string]bool) bool {
		for _, w := range ws {
			if !vocab[w] && !f[w] {
				return false
			}
		}
		return true
	}
	switch {
	case allIn(g):
		return greeting
	case allIn(th):
		return thanks
	}
	return noSmallTalk
}

func smallTalkReply(kind smallTalkKind, locale string) string {
	nl := locale == "nl"
	switch {
	case kind == greeting && nl:
		return "Hallo! Waarmee kan ik je helpen?"
	case kind == greeting:
		return "Hello! How can I help you today?"
	case nl:
		return "Graag gedaan! Kan ik je nog ergens anders mee helpen?"
	default:
		return "You're welcome! Is there anything else I can help with?"
	}
}
