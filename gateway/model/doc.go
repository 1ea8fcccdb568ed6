// Package model speaks to an OpenAI-compatible model server (OpenAI, Azure
// OpenAI, vLLM, llama.cpp's server, Ollama): it implements session.Model
// (Answer, Summarize) over POST {base}/chat/completions and
// session.Embedder over POST {base}/embeddings.
//
// The package owns the prompt and the wire format; the session core
// decides what the model sees (the entries, the history) and what becomes
// of what it says. An answer is written from numbered entries and cites
// them as [1], [2]; the markers are taken out of the text as it streams
// (docs/model.md) and come back as the answer's Sources. The model may
// instead call the one tool it is offered, handoff, with a reason.
//
// Every call is bounded: Options.Timeout from the request to the last
// byte, Options.IdleTimeout of silence within a stream, a byte cap on
// every body. Failures come back as *session.ModelError of a kind the
// core can act on (timeout, rate_limited with Retry-After, unavailable,
// rejected); a caller's cancel comes back as ctx.Err(). Error messages and
// log lines never carry the API key (a server's echo of it, even masked,
// is redacted) nor the visitor's words (a server message that quotes them
// is withheld). Redirects are not followed.
//
// Concurrency contract: a *Client is safe for concurrent use; Answer calls
// delta from its own goroutine, in order.
package model
