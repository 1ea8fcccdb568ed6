package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"time"
)

// batonFlags say where the Baton under test is and how to get a widget key
// and agents: either made fresh with the `baton` CLI (--baton-bin, --redis,
// --prefix, the same values the nodes run with), or given (--key, --agent).
type batonFlags struct {
	bin     string
	redis   string
	prefix  string
	key     string
	agents  stringList // email:password
	origin  string
	src     string
	setupCC int
}

func (b *batonFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&b.bin, "baton-bin", "", "a `baton` binary to create the merchant and agents with (REDIS_URL=--redis, BATON_KEY_PREFIX=--prefix)")
	fs.StringVar(&b.redis, "redis", "redis://127.0.0.1:6379/0", "the Redis the nodes use: for setup, and for its PID (CPU per message); redis+cluster://h1:p1,… for a cluster: every node's CPU is charged, each under its port")
	fs.StringVar(&b.prefix, "prefix", "baton:", "the nodes' BATON_KEY_PREFIX, for setup through --baton-bin")
	fs.StringVar(&b.key, "key", "", "an existing widget key (instead of --baton-bin)")
	fs.Var(&b.agents, "agent", "an existing agent as email:password (repeatable; instead of --baton-bin)")
	fs.StringVar(&b.origin, "origin", "", "Origin header for visitor sockets (only if the merchant lists allowed origins)")
	fs.StringVar(&b.src, "src", "127.0.0.2-127.0.0.9", `client source addresses, round-robin ("none": the kernel's choice)`)
	fs.IntVar(&b.setupCC, "setup-concurrency", 16, "conversations set up at once")
}

type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

// credentials are what setup produced or was given.
type credentials struct {
	WidgetKey string
	Agents    []agentLogin
}

type agentLogin struct{ Email, Password string }

// prepare returns a widget key and at least nAgents agents, creating them
// with the CLI when --baton-bin is set.
func (b *batonFlags) prepare(ctx context.Context, nAgents int) (*credentials, error) {
	if b.key != "" {
		c := &credentials{WidgetKey: b.key}
		for _, a := range b.agents {
			email, pw, ok := strings.Cut(a, ":")
			if !ok {
				return nil, fmt.Errorf("--agent %q: want email:password", a)
			}
			c.Agents = append(c.Agents, agentLogin{email, pw})
		}
		if len(c.Agents) < nAgents {
			return nil, fmt.Errorf("%d agents needed, %d given with --agent", nAgents, len(c.Agents))
		}
		return c, nil
	}
	if b.bin == "" {
		return nil, fmt.Errorf("give --baton-bin (to create a merchant and agents) or --key and --agent")
	}
	env := append(os.Environ(), "REDIS_URL="+b.redis, "BATON_KEY_PREFIX="+b.prefix)
	run := func(stdin string, args ...string) (map[string]string, error) {
		cmd := exec.CommandContext(ctx, b.bin, args...)
		cmd.Env = env
		cmd.Stdin = strings.NewReader(stdin)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Run(); err != nil {
			return nil, fmt.Errorf("baton %s: %v: %s", strings.Join(args[:2], " "), err, strings.TrimSpace(errb.String()))
		}
		m := map[string]string{}
		if err := json.Unmarshal(out.Bytes(), &m); err != nil {
			return nil, fmt.Errorf("baton %s printed %q", strings.Join(args[:2], " "), out.String())
		}
		return m, nil
	}
	tag := randHex(4)
	m, err := run("", "merchant", "create", "--name", "loadgen "+tag)
	if err != nil {
		return nil, err
	}
	c := &credentials{WidgetKey: m["widget_key"]}
	for i := 0; i < nAgents; i++ {
		a := agentLogin{Email: fmt.Sprintf("lg-%s-%d@loadgen.example", tag, i), Password: "lg-" + randHex(12)}
		if _, err := run(a.Password+"\n", "agent", "create", "--merchant", m["merchant_id"],
			"--email", a.Email, "--name", fmt.Sprintf("Agent %d", i)); err != nil {
			return nil, err
		}
		c.Agents = append(c.Agents, a)
	}
	return c, nil
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// api is the agent REST surface of one node.
type api struct {
	base string
	hc   *http.Client
}

func newAPI(base string) *api {
	return &api{base: strings.TrimSuffix(base, "/"), hc: &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: 256, MaxConnsPerHost: 256},
	}}
}

// do sends a JSON request and decodes the answer into out (when not nil).
func (a *api) do(ctx context.Context, method, path, token string, body, out any) (int, error) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, rd)
	if err != nil {
		return 0, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := a.hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	if out != nil && res.StatusCode < 300 {
		if err := json.Unmarshal(raw, out); err != nil {
			return res.StatusCode, fmt.Errorf("%s %s: %w", method, path, err)
		}
	}
	if res.StatusCode >= 300 && out != nil {
		return res.StatusCode, fmt.Errorf("%s %s: HTTP %d %s", method, path, res.StatusCode, bytes.TrimSpace(raw))
	}
	return res.StatusCode, nil
}

// agentSession is a signed-in agent.
type agentSession struct {
	ID    string
	Email string
	Token string
}

func (a *api) login(ctx context.Context, l agentLogin) (*agentSession, error) {
	var out struct {
		Token string `json:"token"`
		Agent struct {
			ID string `json:"id"`
		} `json:"agent"`
	}
	if _, err := a.do(ctx, "POST", "/v1/auth/login", "", map[string]string{"email": l.Email, "password": l.Password}, &out); err != nil {
		return nil, fmt.Errorf("signing in %s: %w", l.Email, err)
	}
	return &agentSession{ID: out.Agent.ID, Email: l.Email, Token: out.Token}, nil
}

func (a *api) setAvailable(ctx context.Context, s *agentSession) error {
	var out map[string]any
	_, err := a.do(ctx, "PUT", "/v1/agent/presence", s.Token, map[string]string{"status": "available"}, &out)
	return err
}

// claim returns the status code of POST …/claim: 200 won, 409 lost.
func (a *api) claim(ctx context.Context, s *agentSession, convID string) (int, error) {
	return a.do(ctx, "POST", "/v1/agent/conversations/"+convID+"/claim", s.Token, nil, nil)
}

// greet is the agent's first words in a conversation: without them a
// merchant's routing (reassign_after_s, 120 s by default) takes the
// conversation from its silent agent, and a run longer than that loses
// its messages to the queue.
func (a *api) greet(ctx context.Context, s *agentSession, convID string) (int, error) {
	return a.do(ctx, "POST", "/v1/agent/conversations/"+convID+"/messages", s.Token,
		map[string]string{"client_id": "greet", "text": "Hello, I am here."}, nil)
}

func (a *api) closeConversation(ctx context.Context, s *agentSession, convID string) (int, error) {
	return a.do(ctx, "POST", "/v1/agent/conversations/"+convID+"/close", s.Token, nil, nil)
}

// loginAll signs every agent in, in parallel (bcrypt makes each take a
// while).
func loginAll(ctx context.Context, a *api, logins []agentLogin) ([]*agentSession, error) {
	out := make([]*agentSession, len(logins))
	errs := make(chan error, len(logins))
	for i, l := range logins {
		go func() {
			s, err := a.login(ctx, l)
			out[i] = s
			errs <- err
		}()
	}
	var first error
	for range logins {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return out, first
}
