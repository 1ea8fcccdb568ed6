package assistant

import "strings"

// wantsPersonPhrases: a visitor asking for a human, in English and Dutch.
// Matched against folded text padded with spaces, so " mens " does not fire
// on "mensen" unless listed.
func wantsPersonPhrases() []string {
	return []string{
		" human ", " humans ", " a person", " real person", " actual person", " live person",
		" real agent", " live agent", " human agent", " an agent", " to an agent", " support agent",
		" someone real", " somebody real", " real human", " speak to someone", " talk to someone",
		" speak with someone", " talk with someone", " speak to somebody", " talk to somebody",
		" representative", " operator", " customer service", " customer support", " live chat",
		" real people", " a real ", " not a bot", " not a robot", " talk to a ", " speak to a ",
		" medewerker", " mens ", " een mens", " mensen ", " een persoon", " echt persoon",
		" echte persoon", " echt iemand", " iemand spreken", " iemand te spreken", " met iemand",
		" klantenservice", " klantendienst", " echte mensen", " geen bot", " geen robot",
	}
}

// wantsPerson reports whether text asks for a human.
func wantsPerson(text string) bool {
	t := " " + strings.Join(words(text), " ") + " "
	for _, p := range wantsPersonPhrases() {
		if strings.Contains(t, p) {
			return true
		}
	}
	return false
}

type smallTalkKind int

const (
	noSmallTalk smallTalkKind = iota
	greeting
	thanks
)

// smallTalk recognises a message that is only a greeting or only thanks.
func smallTalk(text string) smallTalkKind {
	t := strings.Join(words(text), " ")
	switch t {
	case "hi", "hello", "hey", "hiya", "good morning", "good afternoon", "good evening", "hi there", "hello there",
		"hallo", "hoi", "hey daar", "goedemorgen", "goedemiddag", "goedenavond", "dag", "hallo daar", "goeiedag":
		return greeting
	case "thanks", "thank you", "thx", "cheers", "thanks a lot", "thank you very much", "great thanks", "ok thanks",
		"bedankt", "dank je", "dank u", "dankjewel", "dankuwel", "dank je wel", "dank u wel", "top bedankt", "super bedankt", "ok bedankt":
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
