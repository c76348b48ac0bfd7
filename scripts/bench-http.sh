#!/usr/bin/env bash
# Load on `calsync serve`, run by hand (not in CI): builds the release binary,
# starts the server on loopback over a fresh SQLite file on disk and the
# sandbox providers (zero latency), connects two accounts, commits one event,
# then drives getSyncedEvent and commit with wrk (a separate process) and
# prints requests per second with p50/p99 latency for each.
#
#   scripts/bench-http.sh
#   CONNECTIONS=64 SECONDS_PER_ACTION=10 scripts/bench-http.sh
#
# Settings (environment):
#   CONNECTIONS         keep-alive connections (default 32)
#   SECONDS_PER_ACTION  load time per action (default 10)
#   WRK_THREADS         wrk threads (default 1; the machine's cores are shared)
#   STORE_DIR           where the store file lives (default: a fresh directory
#                       under ./target, i.e. on disk, not tmpfs)
#   PORT                the server's port (default 18080)
#   ACTIONS             which actions to load (default "getSyncedEvent commit")
#   RUST_LOG            the server's log filter (default info; logs go to a file)
#   CALSYNC_BIN         a calsync binary to run instead of building one
#   VERBOSE             set to print wrk's whole report
# Needs: wrk (apt-get install wrk), curl.
set -euo pipefail

cd "$(dirname "$0")/.."
CONNECTIONS="${CONNECTIONS:-32}"
SECONDS_PER_ACTION="${SECONDS_PER_ACTION:-10}"
WRK_THREADS="${WRK_THREADS:-1}"
PORT="${PORT:-18080}"
ACTIONS="${ACTIONS:-getSyncedEvent commit}"
TARGET="${CARGO_TARGET_DIR:-target}"
BASE="http://127.0.0.1:$PORT"
LUA="$PWD/scripts/bench/request.lua"

for tool in wrk curl; do
    command -v "$tool" >/dev/null || { echo "bench-http: needs $tool" >&2; exit 1; }
done

if [ -z "${CALSYNC_BIN:-}" ]; then
    cargo build --release --quiet --bin calsync
    CALSYNC_BIN="$TARGET/release/calsync"
fi
mkdir -p "${STORE_DIR:-target}"
DIR="$(mktemp -d "${STORE_DIR:-$PWD/target}/bench-http.XXXXXX")"
SERVER_PID=""
stop() {
    if [ -n "$SERVER_PID" ]; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    rm -rf "$DIR"
}
trap stop EXIT

RUST_LOG="${RUST_LOG:-info}" "$CALSYNC_BIN" serve \
    --bind "127.0.0.1:$PORT" --store "$DIR/calsync.db" --data-dir "$DIR" \
    --insecure-no-auth 2>"$DIR/server.log" &
SERVER_PID=$!
for _ in $(seq 1 100); do
    curl -fsS "$BASE/healthz" >/dev/null 2>&1 && break
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$DIR/server.log" >&2; exit 1; }
    sleep 0.1
done

call() {
    curl -fsS -X POST "$BASE/api/CalendarSync/$1" -H 'Content-Type: application/json' -d "$2"
}
json_field() { sed -n "s/.*\"$1\":\"\\([^\"]*\\)\".*/\\1/p"; }

USER_ID="bench"
ACCOUNT_IDS=()
for provider in google outlook; do
    answer="$(call connectAccount "{\"user\":\"$USER_ID\",\"provider\":\"$provider\",\"credentials\":{\"access_token\":\"bench-$provider\"}}")"
    ACCOUNT_IDS+=("$(printf '%s' "$answer" | grep -o '"id":"[^"]*"' | head -1 | cut -d'"' -f4)")
done
ACCOUNTS="[\"${ACCOUNT_IDS[0]}\",\"${ACCOUNT_IDS[1]}\"]"
START="$(date -u -d '+7 days' +%Y-%m-%dT10:00:00Z)"
END="$(date -u -d '+7 days' +%Y-%m-%dT10:30:00Z)"
answer="$(call commit "{\"user\":\"$USER_ID\",\"event\":{\"title\":\"Seed\",\"start\":\"$START\",\"end\":\"$END\"},\"accounts\":$ACCOUNTS}")"
EVENT_ID="$(printf '%s' "$answer" | json_field internalId)"
[ -n "$EVENT_ID" ] || { echo "bench-http: no event id in $answer" >&2; exit 1; }

echo "calsync http load: $CONNECTIONS connections, ${SECONDS_PER_ACTION}s per action," \
     "wrk -t$WRK_THREADS, store $DIR/calsync.db, $(nproc) cores"
for action in $ACTIONS; do
    out="$(ACTION="$action" USER_ID="$USER_ID" ACCOUNTS="$ACCOUNTS" \
        BODY="{\"user\":\"$USER_ID\",\"eventId\":\"$EVENT_ID\"}" \
        wrk -t"$WRK_THREADS" -c"$CONNECTIONS" -d"${SECONDS_PER_ACTION}s" --latency \
            -s "$LUA" "$BASE" 2>&1)"
    rate="$(printf '%s\n' "$out" | awk '/Requests\/sec/ {print $2}')"
    p50="$(printf '%s\n' "$out" | awk '$1 == "50%" {print $2}')"
    p99="$(printf '%s\n' "$out" | awk '$1 == "99%" {print $2}')"
    errors="$(printf '%s\n' "$out" | awk '/Non-2xx|Socket errors/ {print}' | tr '\n' ' ')"
    printf '%15s: %10s req/s  p50 %8s  p99 %8s  %s\n' "$action" "$rate" "$p50" "$p99" "$errors"
    if [ -n "${VERBOSE:-}" ]; then printf '%s\n' "$out"; fi
done
