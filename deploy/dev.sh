#!/usr/bin/env bash
# The development stack on one machine (`make run`): the ingress with an
# embedded NATS server, a dispatcher and a runner-sim connected to it, and
# Postgres from DATABASE_URL. Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."

export DATABASE_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/triggerd?sslmode=disable}"
export INGRESS_ADDR="${INGRESS_ADDR:-127.0.0.1:8080}"
export EXTERNAL_URL="${EXTERNAL_URL:-http://$INGRESS_ADDR}"
export TRIGGERS_ADMIN_TOKEN="${TRIGGERS_ADMIN_TOKEN:-glpat-dev-admin-token}"
export TRIGGERS_SECRET_KEY="${TRIGGERS_SECRET_KEY:-dev-secret-key-change-me}"
export NATS_EMBEDDED_ADDR="${NATS_EMBEDDED_ADDR:-127.0.0.1:4223}"
export NATS_STORE_DIR="${NATS_STORE_DIR:-$PWD/tmp/nats}"
export LOG_LEVEL="${LOG_LEVEL:-info}"
# Each binary's operations listener: /metrics, /-/health, /-/readiness and
# pprof. Empty turns one off.
INGRESS_METRICS_ADDR="${INGRESS_METRICS_ADDR-127.0.0.1:9180}"
DISPATCHER_METRICS_ADDR="${DISPATCHER_METRICS_ADDR-127.0.0.1:9181}"
RUNNER_METRICS_ADDR="${RUNNER_METRICS_ADDR-127.0.0.1:9182}"
mkdir -p tmp

pids=()
cleanup() {
  trap - INT TERM EXIT
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup INT TERM EXIT

if [ -z "${NATS_URL:-}" ]; then
  # The ingress embeds NATS; the others connect to it.
  env -u NATS_URL TRIGGERS_SEED_DEMO=true METRICS_ADDR="$INGRESS_METRICS_ADDR" bin/ingress >tmp/demo.txt 2>tmp/ingress.log &
  pids+=($!)
  nats_url="nats://$NATS_EMBEDDED_ADDR"
else
  TRIGGERS_SEED_DEMO=true METRICS_ADDR="$INGRESS_METRICS_ADDR" bin/ingress >tmp/demo.txt 2>tmp/ingress.log &
  pids+=($!)
  nats_url="$NATS_URL"
fi

for i in $(seq 1 100); do
  if curl -fsS "http://$INGRESS_ADDR/-/readiness" >/dev/null 2>&1; then break; fi
  if ! kill -0 "${pids[0]}" 2>/dev/null; then
    echo "ingress exited; its log:" >&2; cat tmp/ingress.log >&2; exit 1
  fi
  sleep 0.2
done

NATS_URL="$nats_url" METRICS_ADDR="$DISPATCHER_METRICS_ADDR" bin/dispatcher 2>tmp/dispatcher.log &
pids+=($!)
NATS_URL="$nats_url" METRICS_ADDR="$RUNNER_METRICS_ADDR" bin/runner-sim 2>tmp/runner-sim.log &
pids+=($!)

echo "triggerd is running at $EXTERNAL_URL (logs in tmp/*.log; Ctrl-C stops it)"
echo "admin token: $TRIGGERS_ADMIN_TOKEN"
echo "metrics: ingress ${INGRESS_METRICS_ADDR:-off}, dispatcher ${DISPATCHER_METRICS_ADDR:-off}, runner-sim ${RUNNER_METRICS_ADDR:-off} (GET /metrics)"
cat tmp/demo.txt 2>/dev/null || true
wait -n "${pids[@]}"
echo "a process exited; stopping the stack" >&2
