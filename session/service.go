package session

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Assistant answers visitors. The built-in one (package assistant) retrieves
// from the merchant's knowledge; a model-backed one can take its place.
type Assistant interface {
	Answer(ctx context.Context, q Question) (Answer, error)
}

// Question is what the visitor asked, with what the assistant may draw on.
type Question struct {
	MerchantID string
	Locale     string
	Text       string
	Knowledge  *KnowledgeSet
}

// AnswerKind says what the assistant made of a question.
type AnswerKind int

const (
	// Unsure: no confident answer; the merchant's handoff method decides.
	Unsure AnswerKind = iota
	// Answered: Text answers the question (from EntryID when it came from
	// the knowledge).
	Answered
	// SmallTalk: a greeting or thanks, answered without knowledge.
	SmallTalk
	// WantsPerson: the visitor asked for a human.
	WantsPerson
)

// Answer is the assistant's reply.
type Answer struct {
	Kind    AnswerKind
	Text    string
	EntryID string
	Score   float64
}

// Options configure a Service.
type Options struct {
	Redis     redis.UniversalClient
	Prefix    string // key prefix; "baton:" when empty
	Assistant Assistant
	Logger    *slog.Logger
	Now       func() time.Time
	// BcryptCost for agent passwords; bcrypt.DefaultCost when zero.
	BcryptCost int
	// ConfigTTL bounds how long a node trusts its cached merchant settings
	// when an invalidation was missed; 10s when zero.
	ConfigTTL time.Duration
	// InactiveAfter closes conversations the assistant was handling once the
	// visitor has been silent this long; 30 minutes when zero.
	InactiveAfter time.Duration
	// Unbatched sends every message's script on its own round trip instead
	// of sharing round trips among concurrent messages.
	Unbatched bool
	// Linger bounds how long, under load, a shared round trip waits for
	// more messages to join it: DefaultLinger when zero, none when less.
	Linger time.Duration
	// ClassicPubSub keeps conversations on classic pub/sub on a Redis
	// Cluster (for servers before 7.0, which have no SPUBLISH); by default a
	// cluster's conversation channels are sharded.
	ClassicPubSub bool
	// Tickets makes helpdesk tickets. A node without one still hands
	// conversations off (the outbox is in Redis); nodes with one make the
	// tickets.
	Tickets TicketSender
	// Outbox tunes the helpdesk outbox's workers, retries and timeouts.
	Outbox OutboxOptions
	// NewConversations limits how many conversations may be stored.
	NewConversations NewConversationLimits
	// Mail, when it has a Sender, emails visitors what a person wrote after
	// they left.
	Mail MailOptions
	// Model, when set, lets merchants have a language model write the
	// assistant's answers (their setting decides); the built-in Assistant
	// stays its fallback.
	Model *ModelOptions
	// Webhooks, when it has a Sender, lets merchants have events posted to
	// their endpoints (nodes without one still record the deliveries).
	Webhooks WebhookOptions
	// Secret and SecretPrevious (BATON_SECRET, BATON_SECRET_PREVIOUS) are
	// what helpdesk credentials are sealed with at rest (seal.go).
	Secret, SecretPrevious []byte
	// Renewer renews helpdesk OAuth tokens (helpdesk_auth.go).
	Renewer TokenRenewer
	// Observer hears messages, handoffs, script calls and the outboxes'
	// attempts, for metrics; NoObserver when nil.
	Observer Observer
}

// Service is Baton's core. Create it with New, start it with Run.
type Service struct {
	rdb        redis.UniversalClient
	keys       keyspace
	log        *slog.Logger
	obs        Observer
	now        func() time.Time
	assistant  Assistant
	bcryptCost int
	inactive   time.Duration
	nodeID     string
	newLimits  NewConversationLimits

	// hot runs the per-message script: batched, so that messages of many
	// sockets share round trips (and Redis's system calls) under load.
	hot           *batcher
	applyScript   *script[applyArgs, applyReply]
	appendScript  *script[appendArgs, appendReply]
	pub           pubsubMode
	outboxScript  *script[casArgs, casReply]
	promoteScript *script[promoteArgs, promoteReply]
	configScript  *script[configArgs, configReply]
	agentScript   *script[agentArgs, agentReply]
	loginScript   *script[loginArgs, loginReply]
	assignScript  *script[assignArgs, assignReply]
	rateScript    *script[rateArgs, rateReply]
	mailScript    *script[mailArgs, mailReply]
	whcasScript   *script[whcasArgs, whcasReply]
	unawaitScript *script[unawaitArgs, unawaitReply]
	mailOpts      MailOptions
	visitors      *leases // a visitor's open sockets, per conversation
	assign        assigner
	accounts      *accountCache
	outbox        *outbox    // nil without a TicketSender
	hooks         *hooks     // nil without a WebhookSender
	gen           *generator // nil without a model
	outboxOpts    OutboxOptions
	hdauth        *helpdeskAuth
	cfg           *configCache
	hub           *Hub
	consoles      *leases // an agent's open consoles, per merchant

	dummyOnce sync.Once
	dummy     []byte

	runOnce sync.Once
	ctx     context.Context // Run's, for work that outlives a request
	cancel  context.CancelFunc
	done    chan struct{}
}

// New returns a Service over the given Redis.
func New(opts Options) *Service {
	s := &Service{
		rdb:           opts.Redis,
		keys:          keyspace{prefix: opts.Prefix},
		pub:           newPubsubMode(opts.Redis, opts.ClassicPubSub),
		log:           opts.Logger,
		now:           opts.Now,
		assistant:     opts.Assistant,
		bcryptCost:    opts.BcryptCost,
		inactive:      opts.InactiveAfter,
		newLimits:     opts.NewConversations,
		nodeID:        newID("n", 8),
		applyScript:   newScript[applyArgs, applyReply]("apply.lua", applySource),
		appendScript:  newScript[appendArgs, appendReply]("append.lua", appendSource),
		outboxScript:  newScript[casArgs, casReply]("outbox.lua", outboxSource),
		promoteScript: newScript[promoteArgs, promoteReply]("promote.lua", promoteSource),
		configScript:  newScript[configArgs, configReply]("config.lua", configSource),
		agentScript:   newScript[agentArgs, agentReply]("agent.lua", agentSource),
		loginScript:   newScript[loginArgs, loginReply]("login.lua", loginSource),
		assignScript:  newScript[assignArgs, assignReply]("assign.lua", assignSource),
		rateScript:    newScript[rateArgs, rateReply]("rate.lua", rateSource),
		mailScript:    newScript[mailArgs, mailReply]("mail.lua", mailSource),
		whcasScript:   newScript[whcasArgs, whcasReply]("whcas.lua", whcasSource),
		unawaitScript: newScript[unawaitArgs, unawaitReply]("unawait.lua", unawaitSource),
		mailOpts:      opts.Mail.withDefaults(),
		accounts:      newAccountCache(),
		done:          make(chan struct{}),
	}
	if s.keys.prefix == "" {
		s.keys.prefix = "baton:"
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.obs = opts.Observer
	if s.obs == nil {
		s.obs = NoObserver{}
	}
	linger := opts.Linger
	if linger == 0 {
		linger = DefaultLinger
	}
	s.hot = newBatcher(s.rdb, !opts.Unbatched, linger, s.obs)
	if s.inactive == 0 {
		s.inactive = 30 * time.Minute
	}
	ttl := opts.ConfigTTL
	if ttl == 0 {
		ttl = 10 * time.Second
	}
	s.cfg = newConfigCache(ttl)
	s.hub = newHub(s)
	s.consoles = newLeases(s, "console", s.keys.consoles, false)
	s.visitors = newLeases(s, "visitor", s.keys.visitorSockets, true)
	s.outboxOpts = opts.Outbox.withDefaults()
	s.hdauth = newHelpdeskAuth(opts)
	for _, sc := range []interface{ observe(Observer) }{s.applyScript, s.appendScript, s.outboxScript, s.promoteScript,
		s.configScript, s.agentScript, s.loginScript, s.assignScript, s.rateScript, s.mailScript, s.whcasScript,
		s.hdauth.script} {
		sc.observe(s.obs)
	}
	if opts.Tickets != nil {
		s.outbox = &outbox{svc: s, send: opts.Tickets, opts: s.outboxOpts}
	}
	if opts.Webhooks.Sender != nil {
		s.hooks = newHooks(s, opts.Webhooks)
	}
	if opts.Model != nil && opts.Model.Model != nil {
		s.gen = newGenerator(s, *opts.Model)
	}
	return s
}

// clusterRefresh is how often a node reads a cluster's slot owners again.
const clusterRefresh = time.Second

// Run starts the subscription and background work; it returns at once.
// Close stops them.
func (s *Service) Run(ctx context.Context) {
	s.runOnce.Do(func() {
		ctx, s.cancel = context.WithCancel(ctx)
		s.ctx = ctx
		s.hub.run(ctx)
		go func() {
			defer close(s.done)
			var wg sync.WaitGroup
			wg.Add(4)
			go func() { defer wg.Done(); s.visitors.run(ctx) }()
			go func() { defer wg.Done(); s.consoles.run(ctx) }()
			go func() { defer wg.Done(); s.sweep(ctx) }()
			go func() { defer wg.Done(); s.routingLoop(ctx) }()
			if s.outbox != nil {
				wg.Add(1)
				go func() { defer wg.Done(); s.outbox.run(ctx) }()
			}
			if s.hooks != nil {
				wg.Add(1)
				go func() { defer wg.Done(); s.hooks.run(ctx) }()
			}
			if s.mailOpts.Sender != nil {
				wg.Add(1)
				go func() { defer wg.Done(); s.mailLoop(ctx) }()
			}
			if cc, ok := s.rdb.(*redis.ClusterClient); ok {
				// go-redis reads the slots' owners again only on a MOVED
				// reply or once a minute; a master that dies sends no MOVED,
				// so after a failover every step on its slots would fail
				// for up to a minute. Once a second costs one CLUSTER SLOTS.
				wg.Add(1)
				go func() { defer wg.Done(); every(ctx, clusterRefresh, cc.ReloadState) }()
			}
			wg.Wait()
		}()
	})
}

// Close stops background work and waits for it.
func (s *Service) Close() {
	if s.cancel == nil {
		return
	}
	s.cancel()
	<-s.done
	if s.gen != nil {
		s.gen.close()
	}
	s.assign.wg.Wait()
	s.hub.close()
}

// runCtx is the context background work runs under: Run's, or a fresh one
// before Run (in tests that do not run the service).
func (s *Service) runCtx() context.Context {
	if s.ctx != nil {
		return s.ctx
	}
	return context.Background()
}

// Hub is where sockets watch conversations and merchants.
func (s *Service) Hub() *Hub { return s.hub }

// NodeID identifies this process among the gateways sharing a Redis.
func (s *Service) NodeID() string { return s.nodeID }

// Ping reports whether Redis answers.
func (s *Service) Ping(ctx context.Context) error { return s.rdb.Ping(ctx).Err() }

var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// newID returns prefix_ followed by n random bytes in lowercase base32.
func newID(prefix string, n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return prefix + "_" + idEncoding.EncodeToString(b)
}

// validID reports whether id could be one of ours: it is used in key names,
// so anything with hash-tag braces or separators is refused before Redis.
func validID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	return !strings.ContainsAny(id, "{}| :\n\r")
}
