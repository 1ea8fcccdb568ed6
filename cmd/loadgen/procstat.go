package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// proc is a process whose CPU time a run charges to the messages it carried.
type proc struct {
	Name string
	PID  int
}

// cpuTime reads utime+stime of a process (all its threads) from
// /proc/PID/stat. The resolution is a clock tick (10 ms), so steps should
// last seconds.
func cpuTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	s := string(b)
	// The command name may contain spaces; fields are counted after it.
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state); utime is field 14, stime 15.
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: too few fields", pid)
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: bad times", pid)
	}
	const userHZ = 100 // fixed for Linux user space
	return time.Duration(ut+st) * time.Second / userHZ, nil
}

// procRSS reads a process's resident set from /proc/PID/status, for nodes
// without a debug endpoint (the peer's).
func procRSS(pid int) (int64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(rest)
			if len(f) < 1 {
				break
			}
			kb, err := strconv.ParseInt(f[0], 10, 64)
			return kb * 1024, err
		}
	}
	return 0, fmt.Errorf("/proc/%d/status: no VmRSS", pid)
}

// cpuSample is every process's CPU time at one moment, and under
// machineKey the whole machine's busy time.
type cpuSample map[string]time.Duration

const machineKey = "(machine)"

func sampleCPU(ps []proc) cpuSample {
	s := cpuSample{}
	for _, p := range ps {
		if t, err := cpuTime(p.PID); err == nil {
			s[p.Name] = t
		}
	}
	if t, err := machineBusy(); err == nil {
		s[machineKey] = t
	}
	return s
}

// othersPercent is the CPU that processes other than ps used between two
// samples, in percent of one core: anything else running on the machine
// disturbs a measurement, and this says how much.
func othersPercent(ps []proc, a, b cpuSample, wall time.Duration) float64 {
	m0, ok0 := a[machineKey]
	m1, ok1 := b[machineKey]
	if !ok0 || !ok1 || wall <= 0 {
		return 0
	}
	other := m1 - m0
	for _, p := range ps {
		other -= b[p.Name] - a[p.Name]
	}
	return max(0, 100*other.Seconds()/wall.Seconds())
}

// machineBusy is the time all CPUs spent not idle, from /proc/stat.
func machineBusy() (time.Duration, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0, fmt.Errorf("/proc/stat: unexpected format")
	}
	var busy int64
	for i, v := range f[1:9] {
		if i == 3 || i == 4 { // idle, iowait
			continue
		}
		n, _ := strconv.ParseInt(v, 10, 64)
		busy += n
	}
	return time.Duration(busy) * time.Second / 100, nil
}

// debugFigures is what /debug/baton answers (BATON_DEBUG_ADDR), and what
// the baseline node answers too.
type debugFigures struct {
	PID        int     `json:"pid"`
	Sockets    int     `json:"sockets"`
	Goroutines int     `json:"goroutines"`
	RSS        int64   `json:"rss_bytes"`
	HeapInuse  int64   `json:"heap_inuse"`
	StackInuse int64   `json:"stack_inuse"`
	CPUUser    float64 `json:"cpu_user_sec"`
	CPUSys     float64 `json:"cpu_sys_sec"`
}

// readDebug fetches base + /debug/baton; gc asks the process to collect and
// return freed memory to the OS first, so RSS means memory in use.
func readDebug(ctx context.Context, base string, gc bool) (*debugFigures, error) {
	u := strings.TrimSuffix(base, "/") + "/debug/baton"
	if gc {
		u += "?gc=1"
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", u, nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	if res.StatusCode != 200 {
		return nil, fmt.Errorf("GET %s: HTTP %d", u, res.StatusCode)
	}
	var f debugFigures
	if err := json.NewDecoder(res.Body).Decode(&f); err != nil {
		return nil, fmt.Errorf("GET %s: %w", u, err)
	}
	return &f, nil
}

// redisPID asks Redis for its process id (INFO server), so its CPU can be
// charged too. It fails for a Redis in another PID namespace or machine.
func redisPID(ctx context.Context, rdb *redis.Client) (int, error) {
	info, err := rdb.Info(ctx, "server").Result()
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "process_id:"); ok {
			pid, err := strconv.Atoi(v)
			if err != nil {
				return 0, err
			}
			if _, err := os.Stat("/proc/" + v); err != nil {
				return 0, fmt.Errorf("redis pid %d is not visible here (another machine or namespace?)", pid)
			}
			return pid, nil
		}
	}
	return 0, fmt.Errorf("INFO server has no process_id")
}

// newRedisClient connects to --redis. For a cluster (redis+cluster://h1:p1,…)
// it is a plain client of the first address: loadgen only asks it for PIDs
// and the cluster's nodes; the nodes under test get the cluster URL.
func newRedisClient(url string) (*redis.Client, error) {
	if isClusterURL(url) {
		rest := url[strings.Index(url, "://")+3:]
		first, _, _ := strings.Cut(rest, ",")
		scheme := "redis://"
		if strings.HasPrefix(url, "rediss") {
			scheme = "rediss://"
		}
		url = scheme + first
	}
	o, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("--redis: %w", err)
	}
	return redis.NewClient(o), nil
}

func isClusterURL(url string) bool {
	return strings.HasPrefix(url, "redis+cluster://") || strings.HasPrefix(url, "rediss+cluster://")
}

// clusterPIDs finds every node of the cluster rdb belongs to (CLUSTER
// NODES) and its PID, named redis-PORT, masters first, so that each
// shard's CPU is reported on its own.
func clusterPIDs(ctx context.Context, rdb *redis.Client) ([]proc, error) {
	raw, err := rdb.ClusterNodes(ctx).Result()
	if err != nil {
		return nil, err
	}
	var masters, replicas []proc
	for _, line := range strings.Split(strings.TrimSpace(raw), "\n") {
		f := strings.Fields(line)
		if len(f) < 3 || strings.Contains(f[2], "fail") {
			continue
		}
		addr, _, _ := strings.Cut(f[1], "@") // host:port@busport
		_, port, _ := strings.Cut(addr, ":")
		c := redis.NewClient(&redis.Options{Addr: addr})
		pid, err := redisPID(ctx, c)
		_ = c.Close()
		if err != nil {
			return append(masters, replicas...), fmt.Errorf("%s: %w", addr, err)
		}
		p := proc{Name: "redis-" + port, PID: pid}
		if strings.Contains(f[2], "master") {
			masters = append(masters, p)
		} else {
			replicas = append(replicas, p)
		}
	}
	return append(masters, replicas...), nil
}

// machine describes where a run happened, for the report.
type machine struct {
	CPUs     int    `json:"cpus"`
	Model    string `json:"cpu_model"`
	MemoryMB int64  `json:"memory_mb"`
	Kernel   string `json:"kernel"`
	Go       string `json:"go"`
	Load1    string `json:"load_at_start"`
}

func describeMachine() machine {
	m := machine{CPUs: runtime.NumCPU(), Go: runtime.Version()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.Model = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		f := strings.Fields(string(b))
		if len(f) > 1 {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			m.MemoryMB = kb / 1024
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		m.Load1 = strings.Join(strings.Fields(string(b))[:3], " ")
	}
	return m
}
