package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/batonchat/baton/session"
	"github.com/batonchat/baton/session/sessiontest"
)

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// batonBinary builds `baton` once per test run.
func batonBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "baton-bin-")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "baton")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// proc is a `baton serve` process.
type proc struct {
	cmd  *exec.Cmd
	url  string
	done chan struct{}
	logs *strings.Builder
	mu   sync.Mutex
}

func startBaton(t *testing.T, env ...string) *proc {
	t.Helper()
	cmd := exec.Command(batonBinary(t), "serve")
	cmd.Env = append(os.Environ(), "BATON_ADDR=127.0.0.1:0", "BATON_LOG_FORMAT=json", "BATON_VISITOR_RATE_LIMIT=0")
	cmd.Env = append(cmd.Env, env...)
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	p := &proc{cmd: cmd, done: make(chan struct{}), logs: &strings.Builder{}}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			p.mu.Lock()
			p.logs.WriteString(line + "\n")
			p.mu.Unlock()
			var rec map[string]any
			if json.Unmarshal([]byte(line), &rec) == nil && rec["msg"] == "baton is listening" {
				addr <- rec["addr"].(string)
			}
		}
	}()
	go func() { _ = cmd.Wait(); close(p.done) }()
	select {
	case a := <-addr:
		p.url = "http://" + a
	case <-p.done:
		t.Fatalf("baton exited at start:\n%s", p.log())
	case <-time.After(15 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("baton did not start:\n%s", p.log())
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-p.done
		if t.Failed() {
			t.Logf("baton %s logs:\n%s", p.url, p.log())
		}
	})
	return p
}

func (p *proc) log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.logs.String()
}

// processFixture is a merchant and an agent on the test's Redis prefix,
// made through the core (setup, not under test).
type processFixture struct {
	rdb    redis.UniversalClient
	prefix string
	svc    *session.Service
	m      *session.Merchant
	env    []string
}

func newProcessFixture(t *testing.T) *processFixture {
	t.Helper()
	b := sessiontest.Shared(t)
	if b.Embedded {
		t.Skip("baton processes need a Redis they can reach")
	}
	rdb, prefix := sessiontest.Redis(t)
	svc := session.New(session.Options{Redis: rdb, Prefix: prefix, BcryptCost: bcrypt.MinCost})
	m, err := svc.CreateMerchant(context.Background(), "Process Shop", nil, "")
	require.NoError(t, err)
	return &processFixture{rdb: rdb, prefix: prefix, svc: svc, m: m,
		env: []string{"REDIS_URL=" + b.URL, "BATON_SECRET=process-test-secret-0123", "BATON_KEY_PREFIX=" + prefix}}
}

func (f *processFixture) agentToken(t *testing.T, url, email string) string {
	t.Helper()
	_, err := f.svc.CreateAgent(context.Background(), f.m.ID, email, "Proc Agent", "agent-password", false)
	require.NoError(t, err)
	res, err := http.Post(url+"/v1/auth/login", "application/json",
		strings.NewReader(fmt.Sprintf(`{"email":%q,"password":"agent-password"}`, email)))
	require.NoError(t, err)
	defer res.Body.Close()
	require.Equal(t, 200, res.StatusCode)
	var body struct{ Token string }
	require.NoError(t, json.NewDecoder(res.Body).Decode(&body))
	return body.Token
}

// handOff queues the peer's conversation (setup through the core) and has
// the agent claim it over REST at url.
func (f *processFixture) handOff(t *testing.T, convID, url, token string) {
	t.Helper()
	ctx := context.Background()
	turn := session.Turn{ConversationID: convID, MerchantID: f.m.ID, Locale: "en", Status: session.StatusHandoffOffered}
	require.NoError(t, f.svc.ReplyToOffer(ctx, turn, true))
	turn.Status = session.StatusAwaitingEmail
	require.NoError(t, f.svc.SubmitEmail(ctx, turn, "killed@example.com"))
	req, _ := http.NewRequest("POST", url+"/v1/agent/conversations/"+convID+"/claim", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, 200, res.StatusCode)
}

// TestNodeKilledMidConversation runs two real `baton serve` processes on one
// Redis, kills one with SIGKILL while a visitor on it and an agent on the
// other are talking, and checks that both resume through the survivor and
// that every acknowledged message is there once.
func TestNodeKilledMidConversation(t *testing.T) {
	if testing.Short() {
		t.Skip("process tests skipped in -short")
	}
	f := newProcessFixture(t)
	const pairs, perClient = 5, 40
	a, b := startBaton(t, f.env...), startBaton(t, f.env...)
	var peers []*peer
	for i := 0; i < pairs; i++ {
		v := newPeer(t, fmt.Sprintf("v%d", i), []string{a.url}) // visitors on the node that dies
		v.key = f.m.WidgetKey
		require.NoError(t, v.connect())
		tok := f.agentToken(t, b.url, fmt.Sprintf("kill%d@example.com", i))
		v.askForPerson(t, f.svc, f.m.ID)
		f.handOff(t, v.conv, b.url, tok)
		ag := newPeer(t, fmt.Sprintf("a%d", i), []string{a.url, b.url})
		ag.agent, ag.token, ag.conv = true, tok, v.conv
		require.NoError(t, ag.connect())
		peers = append(peers, v, ag)
	}

	var killedAt time.Time
	var once sync.Once
	var wg sync.WaitGroup
	for _, p := range peers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < perClient; i++ {
				if i == perClient/2 {
					once.Do(func() {
						// The load balancer notices and sends everyone to
						// the survivor from now on.
						for _, q := range peers {
							q.mu.Lock()
							q.nodes = []string{b.url}
							q.mu.Unlock()
						}
						killedAt = time.Now()
						require.NoError(t, a.cmd.Process.Signal(syscall.SIGKILL))
						<-a.done
					})
				}
				p.say(fmt.Sprintf("%s-%d", p.name, i), fmt.Sprintf("%s says %d", p.name, i))
			}
		}()
	}
	wg.Wait()
	ctx := context.Background()
	lost, dup := 0, 0
	var resumes []time.Duration
	for i := 0; i < pairs; i++ {
		v := peers[2*i]
		_, entries, err := f.svc.Conversation(ctx, f.m.ID, v.conv)
		require.NoError(t, err)
		count := map[string]int{}
		for _, e := range entries {
			m, err := e.Decode()
			require.NoError(t, err)
			count[m.ClientID]++
		}
		for _, p := range peers[2*i : 2*i+2] {
			p.mu.Lock()
			for id := range p.acked {
				switch count[id] {
				case 0:
					lost++
				case 1:
				default:
					dup += count[id] - 1
				}
			}
			require.Len(t, p.acked, perClient, "%s: every message acknowledged", p.name)
			require.Zero(t, p.dups, p.name)
			require.Empty(t, p.gaps, p.name)
			require.Empty(t, p.errs, p.name)
			resumes = append(resumes, p.resumes...)
			p.mu.Unlock()
		}
	}
	for _, p := range peers {
		p.close()
	}
	require.Zero(t, lost, "acknowledged messages lost")
	require.Zero(t, dup, "messages stored twice")
	require.NotEmpty(t, resumes)
	sort.Slice(resumes, func(i, j int) bool { return resumes[i] < resumes[j] })
	t.Logf("node kill at %s: %d messages, lost %d, duplicated %d; %d resumes after the kill, p50 %v, p99 %v",
		killedAt.Format("15:04:05.000"), 2*pairs*perClient, lost, dup, len(resumes),
		resumes[len(resumes)/2], resumes[(len(resumes)-1)*99/100])
}

// TestSigtermDrains: SIGTERM closes every socket with 1012 (service
// restart) so clients reconnect elsewhere, and the process exits in time.
func TestSigtermDrains(t *testing.T) {
	if testing.Short() {
		t.Skip("process tests skipped in -short")
	}
	f := newProcessFixture(t)
	p := startBaton(t, append(f.env, "BATON_DRAIN_TIMEOUT=3s")...)
	tok := f.agentToken(t, p.url, "drain@example.com")
	var conns []*websocket.Conn
	for i := 0; i < 3; i++ {
		c, _, err := websocket.DefaultDialer.Dial(wsBase(p.url)+"/v1/widget/ws?key="+f.m.WidgetKey, nil)
		require.NoError(t, err)
		require.NoError(t, c.WriteJSON(map[string]any{"type": "hello"}))
		conns = append(conns, c)
	}
	c, _, err := websocket.DefaultDialer.Dial(wsBase(p.url)+"/v1/agent/ws", nil)
	require.NoError(t, err)
	require.NoError(t, c.WriteJSON(map[string]any{"type": "auth", "token": tok}))
	conns = append(conns, c)
	// Each socket is live before the signal.
	for _, c := range conns {
		_, _, err := c.ReadMessage()
		require.NoError(t, err)
	}
	start := time.Now()
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	for _, c := range conns {
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		var err error
		for err == nil {
			_, _, err = c.ReadMessage()
		}
		require.True(t, websocket.IsCloseError(err, websocket.CloseServiceRestart), "want 1012, got %v", err)
	}
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		t.Fatal("baton did not exit within the drain timeout")
	}
	require.Equal(t, 0, p.cmd.ProcessState.ExitCode())
	took := time.Since(start)
	t.Logf("drained %d sockets and exited in %v", len(conns), took)
	// Clients answered at once, so nothing should have waited for the
	// deadline.
	require.Less(t, took, 2500*time.Millisecond)
	// New sockets are refused while draining: the process is gone.
	_, _, err = websocket.DefaultDialer.Dial(wsBase(p.url)+"/v1/widget/ws?key="+f.m.WidgetKey, nil)
	require.Error(t, err)
}
