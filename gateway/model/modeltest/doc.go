// Package modeltest runs a fake OpenAI-compatible model server (httptest)
// for tests. It checks requests the way the real API documents them (POST,
// the path, the bearer key, the model name, stream:true with
// stream_options.include_usage, the messages, the handoff tool's schema)
// and records them; it answers chat requests with scripted replies in the
// documented SSE shape (chat.completion.chunk lines: a role chunk, content
// pieces split wherever the test says, tool-call argument fragments, a
// finish_reason, a usage chunk with empty choices, data: [DONE]); and it
// fails on command: an error status with OpenAI's error body and
// Retry-After, a hang before the first byte or mid-stream, a stream cut
// without [DONE], a dropped connection, an error inside the stream. Every
// wait ends when the client leaves, and the fake records that it did.
//
// Replies come from a queue (Enqueue) and then from a function (Script);
// embeddings requests get deterministic vectors (Vector), in reverse
// order, each with its index.
//
// Concurrency contract: a *Server is safe for concurrent use; a Script
// function may be called from several requests at once.
package modeltest
