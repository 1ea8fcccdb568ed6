package session

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/crypto/bcrypt"
)

// Sign-in is limited per client address and per (address, account), never
// per account alone: a stranger guessing an agent's password slows down
// their own address, and the agent signs in from theirs as usual. Past a
// few free failures each further one doubles the wait (429 with
// Retry-After), up to a cap.

// loginArgs and loginReply are login.lua's layout.
type loginArgs struct {
	Pair     string `lua:"pair,key"`
	Addr     string `lua:"addr,key"`
	Now      int64  `lua:"now"`
	TTL      int64  `lua:"ttl"` // ms the counts are kept after the last failure
	PairFree int64  `lua:"pair_free"`
	PairCap  int64  `lua:"pair_cap"` // ms
	AddrFree int64  `lua:"addr_free"`
	AddrCap  int64  `lua:"addr_cap"`
}

type loginReply struct {
	Wait int64 `lua:"wait"` // ms until the next try may be made
}

// Sign-in limits.
const (
	pairFreeFailures = 5                // per address and account
	pairMaxWait      = 15 * time.Minute // after which each further failure waits this long
	addrFreeFailures = 30               // per address, over all accounts
	addrMaxWait      = time.Hour
	loginMemory      = 24 * time.Hour // failures are forgotten this long after the last
)

// RetryAfterError is a refusal that says when to try again.
type RetryAfterError struct {
	Refusal *Error
	After   time.Duration
}

func (e *RetryAfterError) Error() string { return e.Refusal.Error() }
func (e *RetryAfterError) Unwrap() error { return e.Refusal }

// RetryAfter returns how long err says to wait, if it does.
func RetryAfter(err error) (time.Duration, bool) {
	var ra *RetryAfterError
	if errors.As(err, &ra) {
		return ra.After, true
	}
	return 0, false
}

func tooManyAttempts(wait time.Duration) error {
	return &RetryAfterError{Refusal: &Error{Kind: KindRateLimited, Code: "too_many_attempts",
		Message: "too many failed sign-ins from here; try again in " + roundUp(wait)}, After: wait}
}

func roundUp(d time.Duration) string {
	if d <= time.Minute {
		return strconv.Itoa(int((d+time.Second-1)/time.Second)) + " seconds"
	}
	return strconv.Itoa(int((d+time.Minute-1)/time.Minute)) + " minutes"
}

// Login checks an agent's email and password from no known address.
func (s *Service) Login(ctx context.Context, email, password string) (*Agent, error) {
	return s.LoginFrom(ctx, email, password, "unknown")
}

// LoginFrom checks an agent's email and password, tried from addr. An
// unknown email and a wrong password get the same answer, after the same
// work.
func (s *Service) LoginFrom(ctx context.Context, email, password, addr string) (*Agent, error) {
	email = strings.ToLower(strings.TrimSpace(email))
	bad := &Error{Kind: KindUnauthorized, Code: "invalid_credentials", Message: "wrong email or password"}
	if email == "" || len(email) > 254 || len(password) > 72 {
		return nil, bad
	}
	if addr == "" {
		addr = "unknown"
	}
	h := sha256.Sum256([]byte(email))
	pairKey, addrKey := s.keys.loginFailsPair(addr, hex.EncodeToString(h[:12])), s.keys.loginFailsAddr(addr)
	now := s.now()
	pipe := s.rdb.Pipeline()
	pair := pipe.HGet(ctx, pairKey, "until")
	byAddr := pipe.HGet(ctx, addrKey, "until")
	ref := pipe.HGet(ctx, s.keys.agentEmails(), email)
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, err
	}
	for _, until := range []*redis.StringCmd{pair, byAddr} {
		if ms, err := until.Int64(); err == nil && ms > now.UnixMilli() {
			return nil, tooManyAttempts(time.Duration(ms-now.UnixMilli()) * time.Millisecond)
		}
	}
	var a *Agent
	if mid, aid, ok := strings.Cut(ref.Val(), " "); ok {
		got, err := s.Agent(ctx, mid, aid)
		if err != nil && ErrorOf(err).Kind != KindNotFound {
			return nil, err
		}
		a = got
	}
	hash := s.dummyHash() // an unknown email costs the same time as a known one
	if a != nil {
		hash = []byte(a.PasswordHash)
	}
	if bcrypt.CompareHashAndPassword(hash, []byte(password)) != nil || a == nil {
		r, err := s.loginScript.run(ctx, s.rdb, &loginArgs{Pair: pairKey, Addr: addrKey, Now: now.UnixMilli(),
			TTL: loginMemory.Milliseconds(), PairFree: pairFreeFailures, PairCap: pairMaxWait.Milliseconds(),
			AddrFree: addrFreeFailures, AddrCap: addrMaxWait.Milliseconds()})
		if err != nil {
			s.log.WarnContext(ctx, "counting a failed sign-in", "err", err)
		} else if r.Wait > 0 {
			return nil, tooManyAttempts(time.Duration(r.Wait) * time.Millisecond)
		}
		return nil, bad
	}
	if a.Disabled {
		return nil, &Error{Kind: KindUnauthorized, Code: "account_disabled", Message: "this account is disabled; ask an admin of your team"}
	}
	// The right password from here: this address's guesses at this account
	// are forgiven (its count against other accounts stays).
	if err := s.rdb.Del(ctx, pairKey).Err(); err != nil {
		s.log.DebugContext(ctx, "clearing failed sign-ins", "err", err)
	}
	pub := a.Public()
	return &pub, nil
}
