package agentconsole_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/batonchat/baton/session"
	"github.com/batonchat/baton/session/vcon"
)

// clock is a settable time for the core, so conversations can begin on
// days of a test's choosing.
type clock struct{ ms atomic.Int64 }

func (c *clock) now() time.Time      { return time.UnixMilli(c.ms.Load()).UTC() }
func (c *clock) set(t time.Time)     { c.ms.Store(t.UnixMilli()) }
func (c *clock) add(d time.Duration) { c.ms.Add(d.Milliseconds()) }
func withClock(c *clock) func(*session.Options) {
	return func(o *session.Options) { o.Now = c.now }
}

// TestExportOneConversation: json is exactly the conversation and its
// transcript as the console reads them; vcon is a document the draft
// accepts, with a party for the visitor, the assistant and the agent, a
// dialog per message, and the handoff and rating attached.
func TestExportOneConversation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.shop("Export Shop")
	agent := e.addAgent(s, "dana@export.example", "Dana")
	v := e.visitor(s)
	v.say("v1", "Where is my parcel?")
	v.handoff("ann@example.com")
	code, body := e.do("POST", "/v1/agent/conversations/"+v.id+"/claim", agent, nil)
	require.Equal(t, 200, code, "%v", body)
	code, body = e.do("POST", "/v1/agent/conversations/"+v.id+"/messages", agent,
		map[string]any{"client_id": "a1", "text": "Hi, it is on its way <script>x</script>"})
	require.Equal(t, 201, code, "%v", body)
	v.say("v2", "Thanks!")
	code, body = e.do("POST", "/v1/agent/conversations/"+v.id+"/close", agent, nil)
	require.Equal(t, 200, code, "%v", body)
	require.NoError(t, v.step(func(tn session.Turn) error { return e.svc.Rate(e.ctx, tn, 5, "great") }))

	t.Run("json is the transcript", func(t *testing.T) {
		code, want := e.doRaw("GET", "/v1/agent/conversations/"+v.id, s.adminToken, nil, nil)
		require.Equal(t, 200, code)
		code, got := e.doRaw("GET", "/v1/admin/conversations/"+v.id+"/export?format=json", s.adminToken, nil, nil)
		require.Equal(t, 200, code, "%s", got)
		require.JSONEq(t, string(want), string(got))
	})

	t.Run("vcon", func(t *testing.T) {
		msgs := e.transcript(s.adminToken, v.id)
		code, raw := e.doRaw("GET", "/v1/admin/conversations/"+v.id+"/export?format=vcon", s.adminToken, nil, nil)
		require.Equal(t, 200, code, "%s", raw)
		require.NoError(t, vcon.Check(raw), "%s", raw)
		var doc vcon.VCon
		require.NoError(t, json.Unmarshal(raw, &doc))
		require.Equal(t, vcon.Version, doc.Vcon)
		require.Equal(t, "Web chat with Export Shop", doc.Subject)

		require.GreaterOrEqual(t, len(doc.Parties), 3)
		require.Equal(t, vcon.Party{Type: "person", Mailto: "ann@example.com", UUID: "visitor:" + v.id}, doc.Parties[0])
		require.Equal(t, "bot", doc.Parties[1].Type)
		var dana = -1
		for i, p := range doc.Parties {
			if p.Type == "person" && p.Name == "Dana" {
				dana = i
			}
		}
		require.NotEqual(t, -1, dana, "the agent is a party: %+v", doc.Parties)

		require.Len(t, doc.Dialog, len(msgs), "one dialog per message")
		roleParty := map[string]func(int) bool{
			"visitor":   func(i int) bool { return i == 0 },
			"assistant": func(i int) bool { return i == 1 },
			"agent":     func(i int) bool { return i == dana },
			"system":    func(i int) bool { return doc.Parties[i].Type == "organization" },
		}
		for i, d := range doc.Dialog {
			m := msgs[i]
			require.Equal(t, m["text"], d.Body, "dialog %d", i)
			require.Equal(t, m["id"], d.MessageID)
			require.True(t, roleParty[m["role"].(string)](d.Parties[0]), "dialog %d (%s) sent by party %d", i, m["role"], d.Parties[0])
			ts, _ := time.Parse(time.RFC3339Nano, m["ts"].(string))
			start, err := time.Parse(time.RFC3339Nano, d.Start)
			require.NoError(t, err)
			require.True(t, ts.Equal(start), "dialog %d start %s, message ts %s", i, d.Start, m["ts"])
		}
		var purposes []string
		for _, a := range doc.Attachments {
			purposes = append(purposes, a.Purpose)
		}
		require.Equal(t, []string{"handoff", "csat"}, purposes)
		_, conv := e.do("GET", "/v1/agent/conversations/"+v.id, s.adminToken, nil)
		handoff := conv["conversation"].(map[string]any)["handoff"].(map[string]any)
		require.Equal(t, handoff["reason"], doc.Attachments[0].Body.(map[string]any)["reason"])
		require.Equal(t, handoff["summary"], doc.Attachments[0].Body.(map[string]any)["summary"])
		require.Equal(t, handoff["summary"], doc.Analysis[0].Body)
		require.EqualValues(t, 5, doc.Attachments[1].Body.(map[string]any)["score"])

		_, again := e.doRaw("GET", "/v1/admin/conversations/"+v.id+"/export?format=vcon", s.adminToken, nil, nil)
		require.JSONEq(t, string(raw), string(again), "a second export is the same document, uuid included")
	})

	t.Run("refusals", func(t *testing.T) {
		other := e.shop("Other Export Shop")
		for _, tc := range []struct {
			name, path, token string
			status            int
			code              string
		}{
			{"another merchant's id", "/v1/admin/conversations/" + v.id + "/export?format=vcon", other.adminToken, 404, "not_found"},
			{"another merchant's id as json", "/v1/admin/conversations/" + v.id + "/export", other.adminToken, 404, "not_found"},
			{"no such id", "/v1/admin/conversations/c_nope/export", s.adminToken, 404, "not_found"},
			{"unknown format", "/v1/admin/conversations/" + v.id + "/export?format=csv", s.adminToken, 400, "invalid_format"},
			{"not an admin", "/v1/admin/conversations/" + v.id + "/export", agent, 403, "forbidden"},
			{"no token", "/v1/admin/conversations/" + v.id + "/export", "", 401, "unauthorized"},
		} {
			code, raw := e.doRaw("GET", tc.path, tc.token, nil, nil)
			require.Equal(t, tc.status, code, "%s: %s", tc.name, raw)
			require.Equal(t, tc.code, requireAPIError(t, raw), tc.name)
		}
	})
}

// exportLines reads a bulk export and returns its lines, each decoded.
func (e *env) exportLines(token, query string) (int, http.Header, []map[string]any) {
	e.t.Helper()
	req, err := http.NewRequest("GET", e.srv.URL+"/v1/admin/conversations/export?"+query, nil)
	require.NoError(e.t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	require.NoError(e.t, err)
	defer res.Body.Close()
	var out []map[string]any
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(nil, 64<<20)
	for sc.Scan() {
		var line map[string]any
		require.NoError(e.t, json.Unmarshal(sc.Bytes(), &line), "line %q", sc.Bytes())
		if res.StatusCode == 200 {
			require.Nil(e.t, line["error"], "an error line: the export was cut: %v", line)
		}
		out = append(out, line)
	}
	require.NoError(e.t, sc.Err())
	return res.StatusCode, res.Header, out
}

// TestBulkExportOfADateRange: conversations begun in the range, the
// merchant's only, oldest first, one per line, in either format.
func TestBulkExportOfADateRange(t *testing.T) {
	t.Parallel()
	clk := &clock{}
	day := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	clk.set(day.Add(9 * time.Hour))
	e := newEnvWith(t, withClock(clk))
	s := e.shop("Bulk Export Shop")
	other := e.shop("Bulk Export Neighbour")

	// Three on the 20th (9:00, 9:01, 23:59), two on the 21st, one on the
	// 22nd; the neighbour has one on the 21st. A visitor who never said
	// anything stored nothing, and is not exported.
	var ids []string
	start := func(s shop, at time.Time, text string) string {
		clk.set(at)
		v := e.visitor(s)
		v.say("c1", text)
		return v.id
	}
	ids = append(ids, start(s, day.Add(9*time.Hour), "first"))
	ids = append(ids, start(s, day.Add(9*time.Hour+time.Minute), "second"))
	ids = append(ids, start(s, day.Add(24*time.Hour-time.Minute), "third"))
	ids = append(ids, start(s, day.Add(33*time.Hour), "fourth"))
	neighbour := start(other, day.Add(34*time.Hour), "not yours")
	ids = append(ids, start(s, day.Add(35*time.Hour), "fifth"))
	ids = append(ids, start(s, day.Add(58*time.Hour), "sixth"))
	clk.set(day.Add(60 * time.Hour))
	_ = e.visitor(s)

	idsOf := func(lines []map[string]any, vconFormat bool) []string {
		var out []string
		for _, l := range lines {
			if vconFormat {
				out = append(out, l["dialog"].([]any)[0].(map[string]any)["body"].(string))
				continue
			}
			out = append(out, l["conversation"].(map[string]any)["id"].(string))
		}
		return out
	}
	for _, tc := range []struct {
		name, query string
		want        []string
	}{
		{"whole days, the end included", "from=2026-11-20&to=2026-11-21", ids[:5]},
		{"one day", "from=2026-11-21&to=2026-11-21", ids[3:5]},
		{"times, the end excluded", "from=2026-11-20T09:01:00Z&to=2026-11-21T09:00:00Z", ids[1:3]},
		{"a zone other than UTC", "from=2026-11-21T10:00:00.001%2B01:00&to=2026-11-23", ids[4:]},
		{"nothing in range", "from=2026-10-01&to=2026-10-31", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, hdr, lines := e.withT(t).exportLines(s.adminToken, tc.query)
			require.Equal(t, 200, code)
			require.Equal(t, "application/x-ndjson", hdr.Get("Content-Type"))
			require.Equal(t, tc.want, idsOf(lines, false))
			require.NotContains(t, idsOf(lines, false), neighbour)
			for _, l := range lines {
				msgs := l["messages"].([]any)
				require.NotEmpty(t, msgs, "each line has the transcript")
				require.Equal(t, "visitor", msgs[0].(map[string]any)["role"])
			}
		})
	}

	t.Run("vcon lines", func(t *testing.T) {
		code, _, lines := e.withT(t).exportLines(s.adminToken, "from=2026-11-20&to=2026-11-22&format=vcon")
		require.Equal(t, 200, code)
		require.Equal(t, []string{"first", "second", "third", "fourth", "fifth", "sixth"}, idsOf(lines, true))
		for _, l := range lines {
			raw, _ := json.Marshal(l)
			require.NoError(t, vcon.Check(raw), "%s", raw)
		}
	})

	t.Run("refusals", func(t *testing.T) {
		for _, q := range []string{"", "from=2026-11-20", "from=yesterday&to=today", "from=2026-11-22&to=2026-11-20",
			"from=2025-01-01&to=2026-11-20", "from=2026-11-20&to=2026-11-21&format=xml"} {
			code, raw := e.doRaw("GET", "/v1/admin/conversations/export?"+q, s.adminToken, nil, nil)
			require.Equal(t, 400, code, "%q: %s", q, raw)
			require.Contains(t, []string{"invalid_range", "invalid_format"}, requireAPIError(t, raw), q)
		}
		agent := e.addAgent(s, "bulk@export.example", "Bulk")
		code, raw := e.doRaw("GET", "/v1/admin/conversations/export?from=2026-11-20&to=2026-11-21", agent, nil, nil)
		require.Equal(t, 403, code, "%s", raw)
	})
}

// TestBulkExportMemory measures what a bulk export holds while it streams
// BATON_EXPORT_N conversations (skipped unless set: it is a measurement,
// not a check). It prints the live heap's peak during the export beside
// the size of what was streamed.
//
//	BATON_EXPORT_N=10000 go test -run TestBulkExportMemory -v ./agentconsole/
func TestBulkExportMemory(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("BATON_EXPORT_N"))
	if n <= 0 {
		t.Skip("set BATON_EXPORT_N to measure")
	}
	e := newEnv(t)
	s := e.shop("Export Memory Shop")
	from := time.Now().UTC().Add(-time.Minute)
	var wg sync.WaitGroup
	work := make(chan int)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				v := e.visitor(s)
				v.say("c1", fmt.Sprintf("Question %d: where is my parcel, and when will it arrive at my door?", i))
				v.say("c2", "And can I change the address?")
			}
		}()
	}
	for i := 0; i < n; i++ {
		work <- i
	}
	close(work)
	wg.Wait()
	to := time.Now().UTC().Add(time.Minute)

	for _, format := range []string{"json", "vcon"} {
		runtime.GC()
		var base runtime.MemStats
		runtime.ReadMemStats(&base)
		var peak atomic.Uint64
		stop := make(chan struct{})
		done := make(chan struct{})
		go func() {
			defer close(done)
			var ms runtime.MemStats
			for {
				select {
				case <-stop:
					return
				case <-time.After(5 * time.Millisecond):
				}
				runtime.ReadMemStats(&ms)
				if ms.HeapInuse > peak.Load() {
					peak.Store(ms.HeapInuse)
				}
			}
		}()
		began := time.Now()
		req, _ := http.NewRequest("GET", e.srv.URL+"/v1/admin/conversations/export?format="+format+
			"&from="+from.Format(time.RFC3339)+"&to="+to.Format(time.RFC3339), nil)
		req.Header.Set("Authorization", "Bearer "+s.adminToken)
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		lines, size := 0, 0
		sc := bufio.NewScanner(res.Body)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			require.False(t, bytes.HasPrefix(sc.Bytes(), []byte(`{"error"`)), "%s", sc.Bytes())
			lines++
			size += len(sc.Bytes()) + 1
		}
		res.Body.Close()
		took := time.Since(began)
		close(stop)
		<-done
		require.Equal(t, n, lines)
		t.Logf("%s: %d conversations, %.1f MB streamed in %s; heap in use before %.1f MB, peak during %.1f MB (+%.1f MB)",
			format, lines, float64(size)/1e6, took.Round(time.Millisecond), float64(base.HeapInuse)/1e6,
			float64(peak.Load())/1e6, (float64(peak.Load())-float64(base.HeapInuse))/1e6)
	}
}
