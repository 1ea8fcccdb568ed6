// Package assistant is Baton's built-in assistant: it answers a visitor from
// the merchant's knowledge entries by lexical retrieval (tf-idf over words,
// word pairs and character n-grams, English and Dutch), scoring answers
// rather than entries (entries sharing an answer text, and an entry's
// phrasings, are one answer), blended with a linear model learnt from the
// merchant's phrasings when answers have several. It declines to answer unless the best answer
// scores high enough and leads the second clearly, and it recognises a
// visitor asking for a person. docs/assistant.md has the method and the
// figures.
//
// It implements session.Assistant; a model-backed assistant can replace it
// without touching the rest of Baton. An *Assistant is safe for concurrent
// use.
package assistant
