package session

// keyspace names every Redis key and channel. Keys of one conversation share
// the hash tag {c:ID}, keys of one merchant {m:ID}, so each Lua script and
// each multi-key command stays in one Redis Cluster slot. The prefix keeps
// deployments (and tests) that share a Redis apart.
type keyspace struct{ prefix string }

func (k keyspace) conv(id string) string       { return k.prefix + "{c:" + id + "}" }
func (k keyspace) convMeta(id string) string   { return k.conv(id) + ":m" }
func (k keyspace) convLog(id string) string    { return k.conv(id) + ":l" }
func (k keyspace) convClient(id string) string { return k.conv(id) + ":k" }

// visitorSockets holds a lease per open visitor socket of the conversation
// (member node|lease, scored by expiry): none means the visitor is away.
func (k keyspace) visitorSockets(id string) string { return k.conv(id) + ":v" }

// convChannel carries a conversation's entries, states and typing.
func (k keyspace) convChannel(id string) string { return k.conv(id) }

func (k keyspace) merchant(id string) string           { return k.prefix + "{m:" + id + "}" }
func (k keyspace) merchantConfig(id string) string     { return k.merchant(id) + ":cfg" }
func (k keyspace) merchantAgents(id string) string     { return k.merchant(id) + ":agents" }
func (k keyspace) queue(id string) string              { return k.merchant(id) + ":q" }
func (k keyspace) active(id string) string             { return k.merchant(id) + ":a" }
func (k keyspace) recent(id string) string             { return k.merchant(id) + ":r" }
func (k keyspace) presence(id string) string           { return k.merchant(id) + ":p" }
func (k keyspace) consoles(id string) string           { return k.merchant(id) + ":o" }
func (k keyspace) assigned(mid, aid string) string     { return k.merchant(mid) + ":s:" + aid }
func (k keyspace) metrics(id string) string            { return k.merchant(id) + ":x" }
func (k keyspace) merchantLock(id, what string) string { return k.merchant(id) + ":lock:" + what }

// newConversations counts the conversations stored in one window, for one
// visitor address or (addr "") for the whole merchant.
func (k keyspace) newConversations(mid, addr string, window int64) string {
	if addr == "" {
		return k.merchant(mid) + ":new:" + itoa(window)
	}
	return k.merchant(mid) + ":new:" + itoa(window) + ":" + addr
}

// vectors holds the embeddings of a merchant's entries at one knowledge
// version.
func (k keyspace) vectors(mid string, version int64) string {
	return k.merchant(mid) + ":emb:" + itoa(version)
}

// Auto-assignment: queue entries being handed out (scored by when the
// reservation ends), when each agent last got a conversation, agents
// cooling down after leaving one unanswered (until when), since when an
// agent with conversations has had no console, and the conversations
// waiting for their agent's first reply (scored by when they were given).
func (k keyspace) reserved(mid string) string      { return k.merchant(mid) + ":qr" }
func (k keyspace) idle(mid string) string          { return k.merchant(mid) + ":idle" }
func (k keyspace) cooldown(mid string) string      { return k.merchant(mid) + ":cool" }
func (k keyspace) goneSince(mid string) string     { return k.merchant(mid) + ":gone" }
func (k keyspace) awaitingReply(mid string) string { return k.merchant(mid) + ":await" }

// waits keeps the merchant's recent waits for a first reply (ms), newest
// first, for the wait estimates.
func (k keyspace) waits(mid string) string { return k.merchant(mid) + ":waits" }

// Email continuity: conversations whose visitor is owed an email, scored
// by when it may go (shared by every node, like the helpdesk outbox), and a
// merchant's emails that failed.
func (k keyspace) mailDue() string               { return k.prefix + "{mail}:due" }
func (k keyspace) failedMails(mid string) string { return k.merchant(mid) + ":mailf" }

// gaps lists one day's unanswered questions of a merchant, newest first.
func (k keyspace) gaps(mid, day string) string { return k.merchant(mid) + ":gaps:" + day }

// handoffs indexes the merchant's helpdesk handoffs by time; failed holds
// its dead letters until they are retried. Both are supersets that readers
// check against the conversation.
func (k keyspace) handoffs(id string) string       { return k.merchant(id) + ":hd" }
func (k keyspace) failedHandoffs(id string) string { return k.merchant(id) + ":hdf" }

// The helpdesk outbox: a stream (consumed by a group shared by every node)
// that says "look at this conversation's handoff", and the retries waiting
// for their time. They share the hash tag {hd} so one script moves due
// retries into the stream atomically on a Redis Cluster too.
func (k keyspace) outbox() string    { return k.prefix + "{hd}:s" }
func (k keyspace) outboxDue() string { return k.prefix + "{hd}:due" }

// startedOn indexes the merchant's conversations created on one UTC day
// (YYYYMMDD), scored by when: what a bulk export of a date range reads.
// Each day's key lives as long as a conversation of that day can.
func (k keyspace) startedOn(mid, day string) string { return k.merchant(mid) + ":d:" + day }

// Webhook deliveries: the stream and schedule every node's workers share
// (one hash tag, so promote.lua moves due retries atomically), and per
// merchant each delivery's record, its recent deliveries and its dead
// letters.
func (k keyspace) webhookStream() string                 { return k.prefix + "{wh}:s" }
func (k keyspace) webhookDue() string                    { return k.prefix + "{wh}:due" }
func (k keyspace) webhookDelivery(mid, id string) string { return k.merchant(mid) + ":wd:" + id }
func (k keyspace) webhookRecent(mid string) string       { return k.merchant(mid) + ":whr" }
func (k keyspace) webhookFailed(mid string) string       { return k.merchant(mid) + ":whf" }

// merchantChannel carries conversation changes and queue changes for agents.
func (k keyspace) merchantChannel(id string) string { return k.merchant(id) }

func (k keyspace) widgetKey(key string) string { return k.prefix + "wk:" + key }
func (k keyspace) agentEmails() string         { return k.prefix + "agent-emails" }
func (k keyspace) merchants() string           { return k.prefix + "merchants" }

// passLock is held by the node running a background pass over every
// merchant (what: routing, sweep) this period.
func (k keyspace) passLock(what string) string { return k.prefix + "{pass}:lock:" + what }

// tokenVersions holds each agent's token version: tokens issued at an
// older one no longer work.
func (k keyspace) tokenVersions(mid string) string { return k.merchant(mid) + ":tv" }

// Failed sign-ins from one address, and from one address for one account
// (by a hash of the email, so addresses do not sit in key names in clear).
func (k keyspace) loginFailsAddr(addr string) string { return k.prefix + "{login}:a:" + addr }
func (k keyspace) loginFailsPair(addr, emailHash string) string {
	return k.prefix + "{login}:p:" + addr + ":" + emailHash
}

// control carries process-wide signals such as "merchant settings changed".
func (k keyspace) control() string { return k.prefix + "control" }
