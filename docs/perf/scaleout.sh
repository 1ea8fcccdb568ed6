#!/usr/bin/env bash
# Scale-out runs (docs/performance.md, "Scale-out on a Redis Cluster"):
# 1, 2 and 4 `baton serve` nodes on a three-master Redis Cluster (real
# redis-server processes on this machine), classic and sharded pub/sub,
# one loadgen relay run each. Every node holds visitors and agents; a
# conversation's visitor and agent are on different nodes where there are
# several. Usage: docs/perf/scaleout.sh OUTDIR [STEPS] [NODES...]
set -euo pipefail
out=${1:?usage: scaleout.sh OUTDIR [STEPS] [NODES...]}
steps=${2:-2000,4000}
shift $(( $# >= 2 ? 2 : $# ))
counts=("$@")
[ ${#counts[@]} -gt 0 ] || counts=(1 2 4)
cd "$(dirname "$0")/../.."
mkdir -p "$out" /tmp/scaleout
go build -o /tmp/scaleout/baton ./cmd/baton
go build -o /tmp/scaleout/loadgen ./cmd/loadgen

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

# The cluster: three masters, no replicas, nothing on disk.
ports=(7301 7302 7303)
for p in "${ports[@]}"; do
  rm -rf "/tmp/scaleout/r$p" && mkdir -p "/tmp/scaleout/r$p"
  (cd "/tmp/scaleout/r$p" && exec redis-server --port "$p" --bind 127.0.0.1 --cluster-enabled yes \
    --cluster-config-file nodes.conf --save "" --appendonly no) >/dev/null &
  pids+=($!)
done
sleep 0.5
redis-cli --cluster create "${ports[@]/#/127.0.0.1:}" --cluster-replicas 0 --cluster-yes >/dev/null
until redis-cli -p 7301 cluster info | grep -q cluster_state:ok; do sleep 0.2; done
cluster="redis+cluster://127.0.0.1:7301,127.0.0.1:7302,127.0.0.1:7303"

quiet() { # until under 15 % of one core busy over 5 s
  local t0 t1
  until t0=$(awk '/^cpu /{print $2+$3+$4+$7+$8+$9}' /proc/stat); sleep 5; \
        t1=$(awk '/^cpu /{print $2+$3+$4+$7+$8+$9}' /proc/stat); [ $(( (t1-t0)/5 )) -lt 15 ]; do :; done
}

for mode in classic sharded; do
  sharded=$([ "$mode" = sharded ] && echo 1 || echo 0)
  for n in "${counts[@]}"; do
    prefix="so$RANDOM:"
    node_pids=()
    a=() b=() da=() db=()
    for i in $(seq 1 "$n"); do
      REDIS_URL=$cluster BATON_SECRET=loadgen-secret-0123456789 BATON_KEY_PREFIX=$prefix \
        BATON_REDIS_SHARDED_PUBSUB=$sharded BATON_VISITOR_RATE_LIMIT=0 BATON_VISITOR_FRAME_LIMIT=0 \
        BATON_SOCKETS_PER_ADDRESS=0 BATON_NEW_CONVERSATIONS_PER_ADDRESS=0 BATON_NEW_CONVERSATIONS_PER_MERCHANT=0 \
        BATON_ADDR=127.0.0.1:$((18280 + i)) BATON_DEBUG_ADDR=127.0.0.1:$((16280 + i)) \
        /tmp/scaleout/baton serve >"/tmp/scaleout/node$i-$mode-$n.log" 2>&1 &
      node_pids+=($!)
      pids+=($!)
      a+=("http://127.0.0.1:$((18280 + i))")
      da+=("http://127.0.0.1:$((16280 + i))")
    done
    # The B list is the A list rotated by one: agent j's console on the node
    # after the one holding its conversations' visitors.
    for i in $(seq 1 "$n"); do
      j=$(( i % n + 1 ))
      b+=("http://127.0.0.1:$((18280 + j))")
      db+=("http://127.0.0.1:$((16280 + j))")
    done
    for u in "${a[@]}"; do until curl -sf "$u/healthz" >/dev/null; do sleep 0.2; done; done
    join() { local IFS=,; echo "$*"; }
    quiet
    /tmp/scaleout/loadgen relay --a "$(join "${a[@]}")" --b "$(join "${b[@]}")" \
      --debug-a "$(join "${da[@]}")" --debug-b "$(join "${db[@]}")" \
      --baton-bin /tmp/scaleout/baton --redis "$cluster" --prefix "$prefix" \
      --conversations 200 --agents 20 --steps "$steps" --step-duration 15s \
      --json "$out/scaleout-$mode-$n.json" 2>&1 | tee "$out/scaleout-$mode-$n.txt"
    for p in "${node_pids[@]}"; do kill "$p"; done
    wait "${node_pids[@]}" 2>/dev/null || true
  done
done
