package main

import (
	"context"
	"fmt"
	"io"

	"github.com/batonchat/baton/session"
)

const demoWidgetKey = "demo"

// demoKnowledge is what the demo shop's assistant knows.
func demoKnowledge() []session.KnowledgeEntry {
	return []session.KnowledgeEntry{
		{Question: "How long does shipping take? When will my order arrive?", Answer: "Orders placed before 17:00 ship the same day. Delivery in the Netherlands and Belgium takes 1–2 working days; elsewhere in the EU 3–5."},
		{Question: "How much does shipping cost? Delivery costs", Answer: "Shipping is free from €50. Below that it costs €4.95 in the Netherlands and Belgium, €9.95 elsewhere in the EU."},
		{Question: "How do I return an item? Returns policy, refund", Answer: "You can return anything within 30 days. Start a return at https://demo.example/returns and you will get a free return label by email."},
		{Question: "Which payment methods do you accept? Can I pay with iDEAL or credit card?", Answer: "We accept iDEAL, Bancontact, credit cards (Visa, Mastercard, Amex), PayPal and Klarna."},
		{Question: "Hoe lang duurt de verzending? Wanneer wordt mijn bestelling geleverd? Levertijd", Answer: "Bestellingen die voor 17:00 binnen zijn, versturen we dezelfde dag. Levering in Nederland en België duurt 1–2 werkdagen."},
		{Question: "Wat zijn de verzendkosten?", Answer: "Verzending is gratis vanaf €50. Daaronder kost het €4,95 in Nederland en België."},
		{Question: "Hoe kan ik iets retourneren? Retour, terugsturen, geld terug", Answer: "Je kunt alles binnen 30 dagen retourneren. Start je retour op https://demo.example/retour; je krijgt een gratis retourlabel per e-mail."},
		{Question: "What are your store opening hours? Where is the shop?", Answer: "Our Amsterdam store (Prinsengracht 100) is open Tuesday to Saturday, 10:00–18:00."},
	}
}

// seedDemo creates the demo shop with a team and prints how to use it.
func seedDemo(ctx context.Context, svc *session.Service, base string, out io.Writer) error {
	m, err := svc.CreateMerchant(ctx, "Demo Shop", nil, demoWidgetKey)
	if err != nil {
		return err
	}
	if _, err := svc.SetKnowledge(ctx, m.ID, demoKnowledge()); err != nil {
		return err
	}
	adminPass, agentPass := randomPassword(), randomPassword()
	if _, err := svc.CreateAgent(ctx, m.ID, "admin@demo.example", "Ada Admin", adminPass, true); err != nil {
		return err
	}
	if _, err := svc.CreateAgent(ctx, m.ID, "agent@demo.example", "Sam Agent", agentPass, false); err != nil {
		return err
	}
	_, err = fmt.Fprintf(out, `
Baton demo (nothing is kept when it stops)
  shop with the chat widget:  %[1]s/
  agent console:              %[1]s/console/
  admin:  admin@demo.example  password %[2]s
  agent:  agent@demo.example  password %[3]s
  widget key: %[4]s   merchant id: %[5]s

`, base, adminPass, agentPass, demoWidgetKey, m.ID)
	return err
}
