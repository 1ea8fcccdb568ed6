package session

import (
	"context"
	"errors"
	"fmt"
	"net"

	"github.com/redis/go-redis/v9"
)

// Kind classifies an Error so adapters can map it to a status code or a
// socket error frame in one place. The order is part of no contract.
type Kind int

const (
	KindInternal Kind = iota
	KindInvalid
	KindUnauthorized
	KindForbidden
	KindNotFound
	KindConflict
	KindTooLarge
	KindRefused
	KindRateLimited
	KindUnavailable
)

// Error is a refusal with a stable snake_case code that clients may switch on
// and a message for people.
type Error struct {
	Kind    Kind
	Code    string
	Message string
	Err     error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Code + ": " + e.Message + ": " + e.Err.Error()
	}
	return e.Code + ": " + e.Message
}

func (e *Error) Unwrap() error { return e.Err }

func newErr(kind Kind, code, format string, args ...any) *Error {
	return &Error{Kind: kind, Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorOf returns the *Error in err's chain, turning anything else into an
// unavailable (Redis unreachable) or internal error.
func ErrorOf(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	if isUnavailable(err) {
		return &Error{Kind: KindUnavailable, Code: "unavailable", Message: "storage is unavailable, try again shortly", Err: err}
	}
	return &Error{Kind: KindInternal, Code: "internal", Message: "internal error", Err: err}
}

// isUnavailable reports whether err means Redis could not be reached in time,
// as opposed to Redis refusing a command.
func isUnavailable(err error) bool {
	if err == nil {
		return false
	}
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, redis.ErrClosed),
		errors.As(err, &ne):
		return true
	}
	var re redis.Error
	if errors.As(err, &re) {
		// LOADING, MASTERDOWN, CLUSTERDOWN, TRYAGAIN: the server is there but not serving.
		msg := re.Error()
		for _, p := range []string{"LOADING", "MASTERDOWN", "CLUSTERDOWN", "TRYAGAIN", "READONLY"} {
			if len(msg) >= len(p) && msg[:len(p)] == p {
				return true
			}
		}
		return false
	}
	// Dial failures and resets are net.Errors (above); a closed connection
	// may surface bare.
	return errors.Is(err, net.ErrClosed)
}

// Errors shared by several operations.
var (
	ErrNotFound           = &Error{Kind: KindNotFound, Code: "not_found", Message: "no such conversation"}
	ErrConversationClosed = &Error{Kind: KindConflict, Code: "conversation_closed", Message: "the conversation has ended"}
)
