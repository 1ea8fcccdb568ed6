package session

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/redis/go-redis/v9"
	"golang.org/x/crypto/bcrypt"
)

// Team management: admins add, change, disable and remove agents; agents
// change their own password and sign out. Every change that should end an
// agent's sessions bumps the agent's token version; tokens carry the
// version they were issued at, and every request and console socket checks
// it (Authorize), so a disabled, removed or signed-out agent's tokens stop
// working on every node within a second or two.

//go:embed scripts/agent.lua
var agentSource string

//go:embed scripts/login.lua
var loginSource string

// agentArgs and agentReply are agent.lua's layout.
type agentArgs struct {
	Agents    string `lua:"agents,key"`
	TV        string `lua:"tv,key"`
	Agent     string `lua:"agent"`
	Op        string `lua:"op"`     // put | del
	Value     string `lua:"value"`  // the account's new JSON (put)
	Expect    string `lua:"expect"` // the JSON the change builds on ("" any)
	Bump      bool   `lua:"bump"`
	KeepAdmin bool   `lua:"keep_admin"`
	Control   string `lua:"control"`
	Merchant  string `lua:"merchant"`
}

type agentReply struct {
	Code    string `lua:"code"` // ok, nf, conflict, last_admin
	Version int64  `lua:"version"`
}

// NewAgent is an account to add.
type NewAgent struct {
	Email    string
	Name     string
	Password string
	Role     string // agent (default) or admin
	Capacity int    // conversations at once under auto-assignment; 0: the merchant's default
}

// AgentPatch changes an account; nil fields stay.
type AgentPatch struct {
	Name     *string
	Role     *string
	Capacity *int
	Disabled *bool
}

// maxCapacity bounds an agent's capacity.
const maxCapacity = 100

func validName(name string) error {
	if n := utf8.RuneCountInString(name); n < 1 || n > 100 {
		return newErr(KindInvalid, "invalid_name", "name must be 1 to 100 characters")
	}
	return nil
}

func validPassword(p string) error {
	if n := utf8.RuneCountInString(p); n < 8 || len(p) > 72 {
		return newErr(KindInvalid, "invalid_password", "password must be 8 to 72 bytes, at least 8 characters")
	}
	return nil
}

func validRole(r string) error {
	if r != RoleNameAgent && r != RoleNameAdmin {
		return newErr(KindInvalid, "invalid_role", "role must be agent or admin")
	}
	return nil
}

func validCapacity(c int) error {
	if c < 0 || c > maxCapacity {
		return newErr(KindInvalid, "invalid_capacity", "capacity must be 0 (the merchant's default) to %d", maxCapacity)
	}
	return nil
}

// changeAgent reads an account, applies edit, and stores it by
// compare-and-set; bump ends the account's sessions.
func (s *Service) changeAgent(ctx context.Context, merchantID, agentID string, bump bool, edit func(*Agent) error) (*Agent, error) {
	if !validID(agentID) {
		return nil, errNoAgent
	}
	for range 10 {
		raw, err := s.rdb.HGet(ctx, s.keys.merchantAgents(merchantID), agentID).Result()
		if errors.Is(err, redis.Nil) {
			return nil, errNoAgent
		}
		if err != nil {
			return nil, err
		}
		var a Agent
		if err := json.Unmarshal([]byte(raw), &a); err != nil {
			return nil, err
		}
		if err := edit(&a); err != nil {
			return nil, err
		}
		a.UpdatedAt = Time{s.now()}
		b, _ := json.Marshal(a)
		r, err := s.agentScript.run(ctx, s.rdb, &agentArgs{Agents: s.keys.merchantAgents(merchantID),
			TV: s.keys.tokenVersions(merchantID), Agent: agentID, Op: "put", Value: string(b), Expect: raw,
			Bump: bump, KeepAdmin: true, Control: s.keys.control(), Merchant: merchantID})
		if err != nil {
			return nil, err
		}
		s.accounts.invalidate(merchantID, agentID)
		switch r.Code {
		case "conflict":
			continue
		case "nf":
			return nil, errNoAgent
		case "last_admin":
			return nil, errLastAdmin
		}
		pub := a.Public()
		return &pub, nil
	}
	return nil, newErr(KindConflict, "busy", "the account is changing; try again")
}

var (
	errNoAgent   = &Error{Kind: KindNotFound, Code: "not_found", Message: "no such agent"}
	errLastAdmin = &Error{Kind: KindConflict, Code: "last_admin", Message: "the merchant must keep at least one enabled admin"}
)

// UpdateAgent changes an account as an admin asks. Disabling ends the
// agent's sessions; a role change takes effect at their next request.
func (s *Service) UpdateAgent(ctx context.Context, merchantID, agentID string, p AgentPatch) (*Agent, error) {
	bump := p.Disabled != nil && *p.Disabled
	a, err := s.changeAgent(ctx, merchantID, agentID, bump, func(a *Agent) error {
		if p.Name != nil {
			name := strings.TrimSpace(*p.Name)
			if err := validName(name); err != nil {
				return err
			}
			a.Name = name
		}
		if p.Role != nil {
			if err := validRole(*p.Role); err != nil {
				return err
			}
			a.Role = *p.Role
		}
		if p.Capacity != nil {
			if err := validCapacity(*p.Capacity); err != nil {
				return err
			}
			a.Capacity = *p.Capacity
		}
		if p.Disabled != nil {
			a.Disabled = *p.Disabled
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if a.Disabled {
		s.releaseAll(ctx, merchantID, agentID)
	}
	if p.Capacity != nil || p.Disabled != nil {
		s.assignSoon(merchantID)
	}
	return a, nil
}

// DeleteAgent removes an account; its conversations go back to the queue.
func (s *Service) DeleteAgent(ctx context.Context, merchantID, agentID string) error {
	if !validID(agentID) {
		return errNoAgent
	}
	a, err := s.Agent(ctx, merchantID, agentID)
	if err != nil {
		return err
	}
	r, err := s.agentScript.run(ctx, s.rdb, &agentArgs{Agents: s.keys.merchantAgents(merchantID),
		TV: s.keys.tokenVersions(merchantID), Agent: agentID, Op: "del", KeepAdmin: true,
		Control: s.keys.control(), Merchant: merchantID})
	if err != nil {
		return err
	}
	s.accounts.invalidate(merchantID, agentID)
	switch r.Code {
	case "nf":
		return errNoAgent
	case "last_admin":
		return errLastAdmin
	}
	// The address is free again; a sign-in that finds it pointing at no
	// account treats it as unknown meanwhile.
	if err := s.rdb.HDel(ctx, s.keys.agentEmails(), a.Email).Err(); err != nil {
		s.log.WarnContext(ctx, "freeing a removed agent's address", "agent", agentID, "err", err)
	}
	s.releaseAll(ctx, merchantID, agentID)
	return nil
}

// releaseAll puts the conversations assigned to an agent who can no
// longer take them back in the queue.
func (s *Service) releaseAll(ctx context.Context, merchantID, agentID string) {
	convs, err := s.AssignedTo(ctx, Actor{ID: agentID, MerchantID: merchantID})
	if err != nil {
		s.log.WarnContext(ctx, "releasing a departed agent's conversations", "agent", agentID, "err", err)
		return
	}
	for _, c := range convs {
		if _, err := s.Release(ctx, Actor{ID: agentID, MerchantID: merchantID, Admin: true}, c.ID); err != nil {
			s.log.WarnContext(ctx, "releasing a departed agent's conversation", "agent", agentID, "conversation", c.ID, "err", err)
		}
	}
}

// ChangePassword sets a new password for the actor, given the current one,
// and ends their other sessions. It returns the account with its new token
// version, for a fresh token.
func (s *Service) ChangePassword(ctx context.Context, a Actor, current, next string) (*Agent, int64, error) {
	if err := validPassword(next); err != nil {
		return nil, 0, err
	}
	cost := s.bcryptCost
	if cost == 0 {
		cost = bcrypt.DefaultCost
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(next), cost)
	if err != nil {
		return nil, 0, err
	}
	ag, err := s.changeAgent(ctx, a.MerchantID, a.ID, true, func(ag *Agent) error {
		if bcrypt.CompareHashAndPassword([]byte(ag.PasswordHash), []byte(current)) != nil {
			return &Error{Kind: KindUnauthorized, Code: "invalid_credentials", Message: "the current password is wrong"}
		}
		ag.PasswordHash = string(hash)
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	st, err := s.accountState(ctx, a.MerchantID, a.ID)
	return ag, st.TokenVersion, err
}

// Logout ends every session of the actor: their tokens stop working.
func (s *Service) Logout(ctx context.Context, a Actor) error {
	_, err := s.changeAgent(ctx, a.MerchantID, a.ID, true, func(*Agent) error { return nil })
	return err
}

// AccountState is what a token is checked against on every use.
type AccountState struct {
	Exists       bool
	Disabled     bool
	Role         string
	Name         string
	TokenVersion int64
}

// ErrRevoked: the token is for an account that no longer exists, is
// disabled, or has ended the sessions the token belongs to.
var ErrRevoked = &Error{Kind: KindUnauthorized, Code: "token_revoked", Message: "this sign-in has ended; sign in again"}

// Authorize checks a verified token's actor against the account as it is
// now: it must exist, be enabled and be at the token's version. The actor
// returned has the account's current role and name.
func (s *Service) Authorize(ctx context.Context, a Actor, tokenVersion int64) (Actor, error) {
	st, err := s.accountState(ctx, a.MerchantID, a.ID)
	if err != nil {
		return Actor{}, err
	}
	if !st.Exists || st.Disabled || st.TokenVersion != tokenVersion {
		return Actor{}, ErrRevoked
	}
	a.Admin = st.Role == RoleNameAdmin
	a.Name = st.Name
	return a, nil
}

// TokenVersion is the version a new token for the agent carries.
func (s *Service) TokenVersion(ctx context.Context, merchantID, agentID string) (int64, error) {
	st, err := s.accountState(ctx, merchantID, agentID)
	return st.TokenVersion, err
}

// accountTTL bounds how long a node trusts what it read of an account: an
// invalidation missed (a lost subscription) is noticed within it.
const accountTTL = time.Second

func (s *Service) accountState(ctx context.Context, merchantID, agentID string) (AccountState, error) {
	key := merchantID + "|" + agentID
	st, ok, stamp := s.accounts.lookup(key, time.Now())
	if ok {
		return st, nil
	}
	pipe := s.rdb.Pipeline()
	raw := pipe.HGet(ctx, s.keys.merchantAgents(merchantID), agentID)
	tv := pipe.HGet(ctx, s.keys.tokenVersions(merchantID), agentID)
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return AccountState{}, err
	}
	st = AccountState{}
	if v, err := raw.Result(); err == nil {
		var a Agent
		if json.Unmarshal([]byte(v), &a) == nil {
			st = AccountState{Exists: true, Disabled: a.Disabled, Role: a.Role, Name: a.Name}
		}
	}
	st.TokenVersion, _ = tv.Int64()
	s.accounts.keep(key, st, stamp, time.Now())
	return st, nil
}

// accountCache holds accounts' states per node, like configCache does
// merchants: a read overtaken by an invalidation is not kept.
type accountCache struct {
	mu        sync.Mutex
	byKey     map[string]cachedAccount
	gen       map[string]uint64
	epoch     uint64
	listeners map[int]func(merchantID, agentID string)
	next      int
}

type cachedAccount struct {
	st AccountState
	at time.Time
}

func newAccountCache() *accountCache {
	return &accountCache{byKey: map[string]cachedAccount{}, gen: map[string]uint64{}, listeners: map[int]func(string, string){}}
}

func (c *accountCache) lookup(key string, now time.Time) (AccountState, bool, stamp) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.byKey[key]; ok && now.Sub(e.at) < accountTTL {
		return e.st, true, stamp{}
	}
	return AccountState{}, false, stamp{gen: c.gen[key], epoch: c.epoch}
}

func (c *accountCache) keep(key string, st AccountState, s stamp, at time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen[key] != s.gen || c.epoch != s.epoch {
		return
	}
	if len(c.byKey) > 100_000 {
		c.byKey = map[string]cachedAccount{} // short-lived entries: start over
	}
	c.byKey[key] = cachedAccount{st: st, at: at}
}

// invalidate drops what this node knows of an account ("" agent: of all)
// and tells the listeners.
func (c *accountCache) invalidate(merchantID, agentID string) {
	c.mu.Lock()
	if agentID == "" {
		c.byKey = map[string]cachedAccount{}
		c.gen = map[string]uint64{}
		c.epoch++
	} else {
		key := merchantID + "|" + agentID
		delete(c.byKey, key)
		c.gen[key]++
	}
	ls := make([]func(string, string), 0, len(c.listeners))
	for _, l := range c.listeners {
		ls = append(ls, l)
	}
	c.mu.Unlock()
	for _, l := range ls {
		l(merchantID, agentID)
	}
}

// OnAccountChange calls f (merchant, agent) whenever an account may have
// changed, on any node ("" agent: any account may have); the console uses
// it to end the sockets of agents whose sessions ended. f must not block.
func (s *Service) OnAccountChange(f func(merchantID, agentID string)) (stop func()) {
	c := s.accounts
	c.mu.Lock()
	id := c.next
	c.next++
	c.listeners[id] = f
	c.mu.Unlock()
	return func() {
		c.mu.Lock()
		delete(c.listeners, id)
		c.mu.Unlock()
	}
}
