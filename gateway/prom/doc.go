// Package prom exposes Baton's operational metrics to Prometheus.
//
// Metrics is the session.Observer the core calls where things conclude
// (messages, handoffs, assignments, script calls, outbox and webhook
// attempts, model calls); its counters and histograms are bound to their
// label values once, so the per-message path neither locks nor allocates
// for them. What is state (open sockets, queues, outbox depth, dead
// letters) is not counted as it changes but read when Prometheus scrapes:
// socket tallies from the registry's atomics, the rest from Redis through
// session.OpsSnapshot, cached for a few seconds so that scrapes from
// several Prometheus servers cost Redis little.
//
// Merchants are a label of the queue gauges only up to a configured count
// (the longest queues); the others are summed under merchant="other", so a
// platform with thousands of shops does not make thousands of series.
//
// All methods are safe for concurrent use.
package prom
