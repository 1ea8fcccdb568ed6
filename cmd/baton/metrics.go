package main

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/batonchat/baton/gateway/prom"
)

// serveMetrics serves Prometheus metrics at /metrics on their own listener
// (BATON_METRICS_ADDR), apart from the public routes: what is queued and
// for which merchant is the operator's business. It returns when ctx ends.
func serveMetrics(ctx context.Context, ln net.Listener, m *prom.Metrics, log *slog.Logger) {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	log.Info("serving metrics", "addr", ln.Addr().String())
	if err := srv.Serve(ln); err != nil && err != http.ErrServerClosed {
		log.Error("metrics listener", "err", err)
	}
}
