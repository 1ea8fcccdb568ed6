package session

import (
	"context"
	"encoding/json"
	"errors"
	"sort"
	"strings"

	"github.com/redis/go-redis/v9"
	"golang.org/x/crypto/bcrypt"
)

// Agent roles.
const (
	RoleNameAgent = "agent"
	RoleNameAdmin = "admin"
)

// Agent is a person on a merchant's team.
type Agent struct {
	ID           string `json:"id"`
	MerchantID   string `json:"merchant_id"`
	Email        string `json:"email"`
	Name         string `json:"name"`
	Role         string `json:"role"`
	PasswordHash string `json:"password_hash,omitempty"`
	// Capacity is how many conversations auto-assignment gives the agent
	// at once; 0 means the merchant's default.
	Capacity  int  `json:"capacity"`
	Disabled  bool `json:"disabled"`
	CreatedAt Time `json:"created_at"`
	UpdatedAt Time `json:"updated_at"`
}

// Public returns the agent without the password hash.
func (a Agent) Public() Agent {
	a.PasswordHash = ""
	return a
}

// Actor returns who this agent acts as.
func (a Agent) Actor() Actor {
	return Actor{ID: a.ID, MerchantID: a.MerchantID, Name: a.Name, Admin: a.Role == RoleNameAdmin}
}

// Presence values.
const (
	PresenceAvailable = "available"
	PresenceAway      = "away"
)

// CreateAgent adds a person to a merchant's team. Emails are unique across
// Baton: they are how people sign in.
func (s *Service) CreateAgent(ctx context.Context, merchantID, email, name, password string, admin bool) (*Agent, error) {
	role := RoleNameAgent
	if admin {
		role = RoleNameAdmin
	}
	return s.AddAgent(ctx, merchantID, NewAgent{Email: email, Name: name, Password: password, Role: role})
}

// AddAgent adds a person to a merchant's team.
func (s *Service) AddAgent(ctx context.Context, merchantID string, n NewAgent) (*Agent, error) {
	email := strings.ToLower(strings.TrimSpace(n.Email))
	name := strings.TrimSpace(n.Name)
	if n.Role == "" {
		n.Role = RoleNameAgent
	}
	if _, ok := ParseEmail(email); !ok {
		return nil, newErr(KindInvalid, "invalid_email", "%q is not an email address", email)
	}
	if err := validName(name); err != nil {
		return nil, err
	}
	if err := validPassword(n.Password); err != nil {
		return nil, err
	}
	if err := validRole(n.Role); err != nil {
		return nil, err
	}
	if err := validCapacity(n.Capacity); err != nil {
		return nil, err
	}
	if _, err := s.Merchant(ctx, merchantID); err != nil {
		return nil, err
	}
	cost := s.bcryptCost
	if cost == 0 {
		cost = bcrypt.DefaultCost
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(n.Password), cost)
	if err != nil {
		return nil, err
	}
	now := Time{s.now()}
	a := &Agent{ID: newID("a", 10), MerchantID: merchantID, Email: email, Name: name, Role: n.Role,
		PasswordHash: string(hash), Capacity: n.Capacity, CreatedAt: now, UpdatedAt: now}
	ok, err := s.rdb.HSetNX(ctx, s.keys.agentEmails(), email, merchantID+" "+a.ID).Result()
	if err != nil {
		return nil, err
	}
	if !ok {
		// An address whose account was removed may still point at it.
		ref, err := s.rdb.HGet(ctx, s.keys.agentEmails(), email).Result()
		if err != nil {
			return nil, err
		}
		if mid, aid, _ := strings.Cut(ref, " "); s.agentExists(ctx, mid, aid) {
			return nil, newErr(KindConflict, "email_taken", "an agent with this email already exists")
		}
		if err := s.rdb.HSet(ctx, s.keys.agentEmails(), email, merchantID+" "+a.ID).Err(); err != nil {
			return nil, err
		}
	}
	b, _ := json.Marshal(a)
	if err := s.rdb.HSet(ctx, s.keys.merchantAgents(merchantID), a.ID, b).Err(); err != nil {
		return nil, err
	}
	pub := a.Public()
	return &pub, nil
}

func (s *Service) agentExists(ctx context.Context, merchantID, agentID string) bool {
	n, err := s.rdb.HExists(ctx, s.keys.merchantAgents(merchantID), agentID).Result()
	return err != nil || n // when in doubt, the address stays taken
}

// Agent returns one agent of a merchant.
func (s *Service) Agent(ctx context.Context, merchantID, agentID string) (*Agent, error) {
	b, err := s.rdb.HGet(ctx, s.keys.merchantAgents(merchantID), agentID).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, &Error{Kind: KindNotFound, Code: "not_found", Message: "no such agent"}
	}
	if err != nil {
		return nil, err
	}
	var a Agent
	if err := json.Unmarshal(b, &a); err != nil {
		return nil, err
	}
	return &a, nil
}

// Agents lists a merchant's team with their presence, for admins.
func (s *Service) Agents(ctx context.Context, merchantID string) ([]AgentStatus, error) {
	pipe := s.rdb.Pipeline()
	all := pipe.HGetAll(ctx, s.keys.merchantAgents(merchantID))
	pres := pipe.HGetAll(ctx, s.keys.presence(merchantID))
	online := s.openConsoles(ctx, pipe, merchantID, s.now())
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, err
	}
	on := onlineAgents(online.Val())
	out := make([]AgentStatus, 0, len(all.Val()))
	for _, v := range all.Val() {
		var a Agent
		if json.Unmarshal([]byte(v), &a) != nil {
			continue
		}
		p := pres.Val()[a.ID]
		if p == "" {
			p = PresenceAvailable
		}
		out = append(out, AgentStatus{Agent: a.Public(), Presence: p, Online: on[a.ID]})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// AgentStatus is an agent with whether they can take conversations now.
type AgentStatus struct {
	Agent
	Presence string `json:"presence"`
	Online   bool   `json:"online"`
}

// SetPresence sets whether the agent takes conversations.
func (s *Service) SetPresence(ctx context.Context, a Actor, status string) error {
	if status != PresenceAvailable && status != PresenceAway {
		return newErr(KindInvalid, "invalid_presence", "status must be available or away")
	}
	pipe := s.rdb.Pipeline()
	pipe.HSet(ctx, s.keys.presence(a.MerchantID), a.ID, status)
	pipe.Publish(ctx, s.keys.merchantChannel(a.MerchantID), "q")
	if _, err := pipe.Exec(ctx); err != nil {
		return err
	}
	if status == PresenceAvailable {
		s.assignSoon(a.MerchantID)
	}
	return nil
}

// Presence returns the agent's presence; available until they say otherwise.
func (s *Service) Presence(ctx context.Context, a Actor) (string, error) {
	p, err := s.rdb.HGet(ctx, s.keys.presence(a.MerchantID), a.ID).Result()
	if errors.Is(err, redis.Nil) || p == "" {
		return PresenceAvailable, nil
	}
	return p, err
}

func onlineAgents(members []string) map[string]bool {
	out := make(map[string]bool, len(members))
	for _, m := range members {
		aid, _, _ := strings.Cut(m, "|")
		out[aid] = true
	}
	return out
}

// countAvailable counts agents whose presence is available (the default)
// and who have a console open.
func countAvailable(presence map[string]string, online []string) int {
	n := 0
	for aid := range onlineAgents(online) {
		if p := presence[aid]; p == "" || p == PresenceAvailable {
			n++
		}
	}
	return n
}

// ConsoleOpened records an open console socket, as a lease in the
// merchant's consoles set; call the returned function when it closes.
func (s *Service) ConsoleOpened(ctx context.Context, a Actor) (closed func(), err error) {
	member := a.ID + "|" + s.nodeID + "|" + newID("k", 6)
	closed, err = s.consoles.take(ctx, a.MerchantID, member)
	if err != nil {
		return nil, err
	}
	s.assignSoon(a.MerchantID) // an agent who may take conversations now
	return closed, nil
}

// dummyHash is a bcrypt hash of nothing in particular, made once.
func (s *Service) dummyHash() []byte {
	s.dummyOnce.Do(func() {
		cost := s.bcryptCost
		if cost == 0 {
			cost = bcrypt.DefaultCost
		}
		s.dummy, _ = bcrypt.GenerateFromPassword([]byte(newID("d", 12)), cost)
	})
	return s.dummy
}
