package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/batonchat/baton/gateway/socket"
)

// serveDebug runs the opt-in debug listener (BATON_DEBUG_ADDR): pprof, and
// /debug/baton with the process's figures for load tests. It must never be
// reachable from outside: it has no authentication.
func serveDebug(ctx context.Context, addr string, sockets *socket.Registry, log *slog.Logger) {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.HandleFunc("/debug/baton", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("gc") == "1" {
			// Return freed memory to the OS so RSS means what is in use.
			debug.FreeOSMemory()
		}
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"pid":          os.Getpid(),
			"sockets":      sockets.Len(),
			"goroutines":   runtime.NumGoroutine(),
			"rss_bytes":    rssBytes(),
			"heap_inuse":   ms.HeapInuse,
			"heap_alloc":   ms.HeapAlloc,
			"stack_inuse":  ms.StackInuse,
			"sys_bytes":    ms.Sys,
			"num_gc":       ms.NumGC,
			"cpu_user_sec": cpuSeconds(13),
			"cpu_sys_sec":  cpuSeconds(14),
		})
	})
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		log.Error("debug listener", "err", err)
		return
	}
	log.Warn("debug endpoints are open (pprof, /debug/baton): keep BATON_DEBUG_ADDR private", "addr", ln.Addr().String())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	_ = srv.Serve(ln)
}

// rssBytes reads the resident set from /proc (Linux); 0 elsewhere.
func rssBytes() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, _ := strconv.ParseInt(f[1], 10, 64)
	return pages * int64(os.Getpagesize())
}

// cpuSeconds reads utime (field 14) or stime (15) of /proc/self/stat,
// numbered here from 0 after the command name.
func cpuSeconds(field int) float64 {
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return 0
	}
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 {
		s = s[i+2:]
	}
	f := strings.Fields(s)
	if field-2 >= len(f) {
		return 0
	}
	ticks, _ := strconv.ParseFloat(f[field-2], 64)
	return ticks / 100 // USER_HZ is 100 on Linux
}
