#!/usr/bin/env bash
# Envelope beside pypiserver, devpi and static nginx, in one run of the shared
# harness (../shared/bench): Envelope as `make serve` runs it, and the same
# data behind deploy/nginx (a second web process, `envelope process web`, with X-Accel-Redirect + nginx).
#
#   bash bench/index_vs_peers.sh [run_peers.py options, e.g. --reps 5]
#
# Writes bench/results/peers-*.md|json (the harness's tables, token masked).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
HARNESS=${BENCH_HARNESS:-$ROOT/../shared/bench}
BENCHENV=${BENCHENV:-/tmp/benchenv}
WORK=${BENCH_WORK:-/tmp/envelope-bench}
CORPUS=/tmp/bench-data/corpus
PORT=${BENCH_PORT:-8090}          # envelope serve
NGINX_WEB_PORT=$((PORT + 1))      # the web process behind nginx
NGINX_PORT=$((PORT + 2))          # nginx
[ -f "$HARNESS/run_peers.py" ] || { echo "No benchmark harness at $HARNESS: set BENCH_HARNESS to the shared/bench folder." >&2; exit 2; }
cd "$ROOT"
make -s install

# The harness's environment. Its requirements pin watchdog<2.3 (see its README)
# while pypiserver 2.4.2 declares watchdog==6: install around the conflict.
if ! "$BENCHENV/bin/python" -c "import pypiserver, devpi_server" 2>/dev/null; then
  command -v wrk >/dev/null && command -v nginx >/dev/null || {
    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk nginx-light; }
  [ -x "$BENCHENV/bin/python" ] || python3 -m venv "$BENCHENV"
  PIP="env -u PIP_FIND_LINKS PIP_CONFIG_FILE=/dev/null $BENCHENV/bin/pip"
  grep -v '^watchdog' "$HARNESS/requirements.txt" > "$WORK.requirements.txt"
  $PIP install -q -r "$WORK.requirements.txt"
  $PIP install -q --no-deps 'watchdog<2.3'
fi
[ -d "$CORPUS/files" ] || "$BENCHENV/bin/python" "$HARNESS/make_corpus.py"

cleanup() {
  for f in nginx/nginx.pid web.pid serve.pid; do
    [ -f "$WORK/$f" ] && kill "$(cat "$WORK/$f")" 2>/dev/null || true
  done
  wait 2>/dev/null || true
}
trap cleanup EXIT
mkdir -p "$WORK/data"
export ENVELOPE_DATA_DIR=$WORK/data

# 1. Envelope exactly as `make serve` runs it.
setsid .venv/bin/envelope serve --port "$PORT" > "$WORK/serve.log" 2>&1 &
echo $! > "$WORK/serve.pid"
until curl -fs "http://127.0.0.1:$PORT/healthz" >/dev/null; do sleep 0.5; done
.venv/bin/envelope org create bench 2>/dev/null || true
.venv/bin/envelope import --org bench "$CORPUS/files"
TOKEN=$(.venv/bin/envelope token create --org bench --scope read --name bench --expires 1d | tail -n 1)

# 2. The nginx-fronted deployment over the same data: the Procfile's web
#    command with X-Accel-Redirect, and deploy/nginx in front of it.
ENVELOPE_ACCEL_REDIRECT_PREFIX=/_envelope_files ENVELOPE_TRUSTED_PROXIES=1 \
  setsid .venv/bin/envelope process web --host 127.0.0.1 --port "$NGINX_WEB_PORT" --workers 2 > "$WORK/web.log" 2>&1 &
echo $! > "$WORK/web.pid"
ENVELOPE_WEB=127.0.0.1:$NGINX_WEB_PORT NGINX_LISTEN=127.0.0.1:$NGINX_PORT NGINX_PREFIX=$WORK/nginx \
  NGINX_FILES_DIR=$ENVELOPE_DATA_DIR/files NGINX_WORKERS=2 NGINX_USER=$(id -un) \
  setsid sh deploy/nginx/run.sh > "$WORK/nginx.log" 2>&1 &
until curl -fs "http://127.0.0.1:$NGINX_PORT/healthz" >/dev/null; do sleep 0.5; done

mkdir -p bench/results
"$BENCHENV/bin/python" "$HARNESS/run_peers.py" --peers pypiserver,devpi,nginx --out-dir "$ROOT/bench/results" \
  --extra "envelope=http://127.0.0.1:$PORT/bench/simple/" \
  --extra-auth "envelope=__token__:$TOKEN" --extra-pid "envelope=$(cat "$WORK/serve.pid")" \
  --extra "envelope-nginx=http://127.0.0.1:$NGINX_PORT/bench/simple/" \
  --extra-auth "envelope-nginx=__token__:$TOKEN" --extra-pid "envelope-nginx=$(cat "$WORK/nginx/nginx.pid")" \
  "$@"
