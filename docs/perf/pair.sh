#!/usr/bin/env bash
# One relay run against two fresh `baton serve` nodes (A visitors, B agents)
# on a fresh redis-server: docs/performance.md's standard shape, as a script.
# Usage: docs/perf/pair.sh BATON_BINARY OUT.json [STEPS] [extra loadgen flags...]
# LOADGEN (default /tmp/lg/loadgen) is the generator binary.
set -euo pipefail
bin=${1:?usage: pair.sh BATON_BINARY OUT.json [STEPS] [flags...]}
out=${2:?usage: pair.sh BATON_BINARY OUT.json [STEPS] [flags...]}
steps=${3:-5000,10000}
shift $(( $# >= 3 ? 3 : $# ))
loadgen=${LOADGEN:-/tmp/lg/loadgen}

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
redis-server --port 6390 --bind 127.0.0.1 --save "" --appendonly no >/dev/null &
pids+=($!)
until redis-cli -p 6390 ping >/dev/null 2>&1; do sleep 0.1; done
prefix="pr$RANDOM:"
export REDIS_URL=redis://127.0.0.1:6390/0 BATON_SECRET=loadgen-secret-0123456789 BATON_KEY_PREFIX=$prefix \
  BATON_VISITOR_RATE_LIMIT=0 BATON_VISITOR_FRAME_LIMIT=0 BATON_SOCKETS_PER_ADDRESS=0 \
  BATON_NEW_CONVERSATIONS_PER_ADDRESS=0 BATON_NEW_CONVERSATIONS_PER_MERCHANT=0
BATON_ADDR=127.0.0.1:18181 BATON_DEBUG_ADDR=127.0.0.1:16161 BATON_METRICS_ADDR=127.0.0.1:16171 "$bin" serve >/tmp/pair-a.log 2>&1 &
pids+=($!)
BATON_ADDR=127.0.0.1:18182 BATON_DEBUG_ADDR=127.0.0.1:16162 BATON_METRICS_ADDR=127.0.0.1:16172 "$bin" serve >/tmp/pair-b.log 2>&1 &
pids+=($!)
for p in 18181 18182; do until curl -sf "http://127.0.0.1:$p/healthz" >/dev/null; do sleep 0.2; done; done
# A quiet machine first: under 15 % of one core busy over 5 s.
until a=$(awk '/^cpu /{print $2+$3+$4+$7+$8+$9}' /proc/stat); sleep 5; \
      b=$(awk '/^cpu /{print $2+$3+$4+$7+$8+$9}' /proc/stat); [ $(( (b-a)/5 )) -lt 15 ]; do :; done
"$loadgen" relay --a http://127.0.0.1:18181 --b http://127.0.0.1:18182 \
  --debug-a http://127.0.0.1:16161 --debug-b http://127.0.0.1:16162 \
  --metrics-a http://127.0.0.1:16171 --metrics-b http://127.0.0.1:16172 \
  --baton-bin "$bin" --redis redis://127.0.0.1:6390/0 --prefix "$prefix" \
  --conversations 200 --agents 20 --steps "$steps" --step-duration 15s --json "$out" "$@"
