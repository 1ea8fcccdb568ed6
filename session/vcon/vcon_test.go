package vcon

import (
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/batonchat/baton/session"
)

var t0 = time.Date(2026, 11, 30, 14, 5, 12, 345e6, time.UTC)

func msg(id string, role session.Role, author, authorID, text string, at time.Duration) session.Message {
	return session.Message{ID: id, Role: role, Author: author, AuthorID: authorID, Text: text, TS: session.Time{Time: t0.Add(at)}}
}

func conv(id string) *session.Conversation {
	return &session.Conversation{ID: id, MerchantID: "m_1", Status: session.StatusClosed,
		CreatedAt: session.Time{Time: t0}, UpdatedAt: session.Time{Time: t0.Add(time.Minute)}}
}

func TestBuildFollowsTheDraft(t *testing.T) {
	handedOff := conv("c_handoff")
	handedOff.Visitor.Email = "ann@example.com"
	handedOff.Handoff = &session.HandoffInfo{Reason: session.ReasonVisitorAsked, Summary: "Wants a refund.", At: session.Time{Time: t0.Add(20 * time.Second)}}
	handedOff.Rating = &session.Rating{Score: 4, Comment: "quick", At: session.Time{Time: t0.Add(2 * time.Minute)}}
	twoAgents := conv("c_two")
	twoAgents.Visitor.ProfileID = "shopper-42"

	for _, tc := range []struct {
		name        string
		conv        *session.Conversation
		msgs        []session.Message
		parties     []string // type:name of each party
		senders     []int    // each dialog's first party
		attachments []string // purposes
		analyses    int
	}{
		{name: "assistant only", conv: conv("c_bot"),
			msgs: []session.Message{
				msg("e1", session.RoleVisitor, "", "", "When do you ship?", 0),
				msg("e2", session.RoleAssistant, "Assistant", "", "Within two days.", time.Second),
			},
			parties: []string{"person:", "bot:Assistant"}, senders: []int{0, 1}},
		{name: "handed to an agent, rated", conv: handedOff,
			msgs: []session.Message{
				msg("e1", session.RoleVisitor, "", "", "I want my money back", 0),
				msg("e2", session.RoleAssistant, "Ava", "", "I'll ask the team.", 10*time.Second),
				msg("e3", session.RoleSystem, "", "", "Dana joined", 30*time.Second),
				msg("e4", session.RoleAgent, "Dana", "a_1", "Hi, Dana here.", 40*time.Second),
				msg("e5", session.RoleVisitor, "", "", "Thanks <b>Dana</b>", 50*time.Second),
			},
			parties: []string{"person:", "bot:Ava", "organization:Shop One", "person:Dana"},
			senders: []int{0, 1, 2, 3, 0}, attachments: []string{"handoff", "csat"}, analyses: 1},
		{name: "two agents in turn", conv: twoAgents,
			msgs: []session.Message{
				msg("e1", session.RoleVisitor, "", "", "hello", 0),
				msg("e2", session.RoleAgent, "Dana", "a_1", "Dana here", time.Second),
				msg("e3", session.RoleAgent, "Eli", "a_2", "Eli takes over", 2*time.Second),
				msg("e4", session.RoleAgent, "Dana", "a_1", "back again", 3*time.Second),
			},
			parties: []string{"person:", "bot:Assistant", "person:Dana", "person:Eli"}, senders: []int{0, 2, 3, 2}},
		{name: "nothing said yet", conv: conv("c_empty"), parties: []string{"person:", "bot:Assistant"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc := Build(Source{Conversation: tc.conv, Messages: tc.msgs, Shop: "Shop One", Domain: "chat.example.com"})
			raw, err := json.Marshal(doc)
			require.NoError(t, err)
			require.NoError(t, Check(raw), "%s", raw)

			var parties []string
			for _, p := range doc.Parties {
				parties = append(parties, p.Type+":"+p.Name)
			}
			require.Equal(t, tc.parties, parties)
			require.Len(t, doc.Dialog, len(tc.msgs))
			for i, d := range doc.Dialog {
				m := tc.msgs[i]
				require.Equal(t, m.Text, d.Body, "dialog %d keeps the text as written", i)
				require.Equal(t, m.ID, d.MessageID)
				at, err := time.Parse(time.RFC3339Nano, d.Start)
				require.NoError(t, err)
				require.True(t, at.Equal(m.TS.Time), "dialog %d start %s, message at %s", i, d.Start, m.TS)
				require.Equal(t, tc.senders[i], d.Parties[0], "dialog %d sender", i)
				require.NotEqual(t, d.Parties[0], d.Parties[1], "dialog %d goes to someone else", i)
			}
			var purposes []string
			for _, a := range doc.Attachments {
				purposes = append(purposes, a.Purpose)
			}
			require.Equal(t, tc.attachments, purposes)
			require.Len(t, doc.Analysis, tc.analyses)

			again, _ := json.Marshal(Build(Source{Conversation: tc.conv, Messages: tc.msgs, Shop: "Shop One", Domain: "chat.example.com"}))
			require.JSONEq(t, string(raw), string(again), "the same conversation gives the same document")
		})
	}
}

func TestHandoffAttachmentPointsAtTheMessageBeforeIt(t *testing.T) {
	c := conv("c_h")
	c.Handoff = &session.HandoffInfo{Reason: session.ReasonUnsure, Summary: "Asks about sizes.", At: session.Time{Time: t0.Add(15 * time.Second)}}
	c.Visitor.Email = "bo@example.com"
	doc := Build(Source{Conversation: c, Messages: []session.Message{
		msg("e1", session.RoleVisitor, "", "", "sizes?", 0),
		msg("e2", session.RoleAssistant, "Assistant", "", "Not sure.", 10*time.Second),
		msg("e3", session.RoleAgent, "Dana", "a_1", "Medium runs small.", 30*time.Second),
	}, Domain: "x"})
	require.Equal(t, "bo@example.com", doc.Parties[0].Mailto)
	require.Len(t, doc.Attachments, 1)
	h := doc.Attachments[0]
	require.Equal(t, 1, h.Dialog, "the last message at or before the handoff")
	require.Equal(t, assistantParty, h.Party)
	require.Equal(t, "json", h.Encoding)
	require.Equal(t, map[string]any{"reason": "unsure", "summary": "Asks about sizes."}, h.Body)
	require.Equal(t, []int{0, 1}, doc.Analysis[0].Dialog, "the summary is of the dialog up to the handoff")
}

func TestUUIDIsVersion8FromTimeAndDomain(t *testing.T) {
	a := UUID(t0, "chat.example.com", "c_1")
	b := UUID(t0, "chat.example.com", "c_2")
	other := UUID(t0, "shop.example.org", "c_1")
	require.Regexp(t, uuidPattern, a)
	require.NotEqual(t, a, b, "two conversations of the same millisecond")
	require.Equal(t, a, UUID(t0, "chat.example.com", "c_1"), "stable")

	raw := func(u string) []byte {
		b, err := hex.DecodeString(strings.ReplaceAll(u, "-", ""))
		require.NoError(t, err)
		return b
	}
	ua, ub, uo := raw(a), raw(b), raw(other)
	ms := binary.BigEndian.Uint64(append([]byte{0, 0}, ua[0:6]...))
	require.Equal(t, uint64(t0.UnixMilli()), ms, "the first 48 bits are the creation time")
	require.Equal(t, byte(0x80), ua[6]&0xf0, "version 8")
	require.Equal(t, byte(0x80), ua[8]&0xc0, "variant 10")
	require.Equal(t, ua[8:], ub[8:], "the last 62 bits depend on the domain only")
	require.NotEqual(t, ua[8:], uo[8:])
}

// TestAttachmentsAlwaysListed: the contract names parties, dialog and
// attachments; a conversation with neither a handoff nor a rating still has
// the key, as an empty list.
func TestAttachmentsAlwaysListed(t *testing.T) {
	doc := Build(Source{Conversation: conv("c_plain"), Messages: []session.Message{
		msg("e1", session.RoleVisitor, "", "", "hi", 0),
	}, Domain: "x"})
	raw, err := json.Marshal(doc)
	require.NoError(t, err)
	require.NoError(t, Check(raw))
	var m map[string]any
	require.NoError(t, json.Unmarshal(raw, &m))
	require.Equal(t, []any{}, m["attachments"], "%s", raw)
}

// The check must fail on what the draft forbids, or it proves nothing.
func TestCheckCatchesBrokenDocuments(t *testing.T) {
	good := Build(Source{Conversation: conv("c_x"), Messages: []session.Message{
		msg("e1", session.RoleVisitor, "", "", "hi", 0),
		msg("e2", session.RoleAssistant, "Assistant", "", "hello", time.Second),
	}, Domain: "x"})
	good.Attachments = []Attachment{{Purpose: "note", Start: date(t0), Party: 0, Dialog: 1, Mediatype: "application/json", Encoding: "json", Body: map[string]any{}}}
	raw, _ := json.Marshal(good)
	require.NoError(t, Check(raw))

	for _, tc := range []struct {
		name, section string
		edit          func(map[string]any)
	}{
		{"wrong version", "4.1.1", func(d map[string]any) { d["vcon"] = "0.3.0" }},
		{"no uuid", "4.1.2", func(d map[string]any) { delete(d, "uuid") }},
		{"a version 4 uuid", "4.1.2", func(d map[string]any) { d["uuid"] = "0b7f1a2e-5c1d-4e0a-9f3b-6a1c2d3e4f50" }},
		{"no created_at", "4.1.5", func(d map[string]any) { delete(d, "created_at") }},
		{"group", "7.1", func(d map[string]any) { d["group"] = []any{} }},
		{"party role", "4.2", func(d map[string]any) { party(d, 0)["role"] = "customer" }},
		{"name without validation", "4.2.7", func(d map[string]any) { delete(party(d, 1), "validation") }},
		{"dialog party out of range", "4.3.4", func(d map[string]any) { dialog(d, 0)["parties"] = []any{0, 7} }},
		{"no mediatype", "4.3.8", func(d map[string]any) { delete(dialog(d, 0), "mediatype") }},
		{"no encoding", "2.3.2", func(d map[string]any) { delete(dialog(d, 1), "encoding") }},
		{"unknown dialog type", "4.3.1", func(d map[string]any) { dialog(d, 0)["type"] = "chat" }},
		{"attachment type", "4.4.1", func(d map[string]any) { attachment(d)["type"] = "tags" }},
		{"attachment without dialog", "4.4.4", func(d map[string]any) { delete(attachment(d), "dialog") }},
		{"attachment party out of range", "4.4.3", func(d map[string]any) { attachment(d)["party"] = 9 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var d map[string]any
			require.NoError(t, json.Unmarshal(raw, &d))
			tc.edit(d)
			broken, _ := json.Marshal(d)
			err := Check(broken)
			require.Error(t, err)
			require.Contains(t, err.Error(), "§"+tc.section)
		})
	}
}

func party(d map[string]any, i int) map[string]any  { return d["parties"].([]any)[i].(map[string]any) }
func dialog(d map[string]any, i int) map[string]any { return d["dialog"].([]any)[i].(map[string]any) }
func attachment(d map[string]any) map[string]any    { return d["attachments"].([]any)[0].(map[string]any) }
