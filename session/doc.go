// Package session is Baton's core: conversations, their transcripts and
// statuses, the handoff from the assistant to a person, office hours, the
// per-merchant queue, agents and merchants. It is the only package that speaks
// to Redis.
//
// Concurrency contract: a *Service is safe for concurrent use. Every state
// change of a conversation is one atomic Lua script on that conversation's
// keys (hash-tagged so Redis Cluster keeps them in one slot); merchant-wide
// indexes (queue, active conversations, an agent's assignments) live in the
// merchant's slot and are kept as supersets that readers verify against the
// conversation itself, so a node dying between two round trips never hides a
// conversation.
//
// Events reach sockets through a Hub: one Redis subscription per process,
// fanned out locally. The transcript list in Redis is the source of truth;
// pub/sub only wakes nodes up, and a Feed fills any gap from the list, so a
// watcher sees every entry once, in seq order.
//
// Helpdesk handoffs (Zendesk, Gorgias) go through an outbox whose truth is a
// record in the conversation's own keys, written by the same step that marks
// it ticketed (handoff.go). Every node given a TicketSender runs workers that
// share the outbox through a Redis stream's consumer group, hold a lease on a
// record while they work on it, retry with backoff, keep dead letters for
// admins, and take over what a dead node left (outbox.go).
package session
