// Package assistant is Baton's built-in assistant: it answers a visitor from
// the merchant's knowledge entries by lexical retrieval (BM25 over question
// and answer, English and Dutch), declines to answer below a confidence
// threshold, and recognises a visitor asking for a person.
//
// It implements session.Assistant; a model-backed assistant can replace it
// without touching the rest of Baton. An *Assistant is safe for concurrent
// use.
package assistant
