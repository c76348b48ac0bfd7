#!/usr/bin/env bash
# Starts or stops a MongoDB-wire server for the MongoDB store's tests:
# SecantusDB (GPL-2.0, run as its own process, never linked) on loopback,
# keeping its data in memory.
#
#   eval "$(scripts/mongo-server.sh start)"   # prints: export CALSYNC_TEST_MONGODB_URI=...
#   scripts/mongo-server.sh stop
#
# The server is installed in a virtual environment under
# ${CALSYNC_VENV_DIR:-$HOME/.cache/calsync-venvs}/secantus. Its PID and log are
# kept in ${CALSYNC_MONGO_STATE_DIR:-${TMPDIR:-/tmp}/calsync-mongo}.
set -euo pipefail

VERSION="${CALSYNC_SECANTUS_VERSION:-0.7.0b3}"
VENV="${CALSYNC_VENV_DIR:-$HOME/.cache/calsync-venvs}/secantus"
STATE="${CALSYNC_MONGO_STATE_DIR:-${TMPDIR:-/tmp}/calsync-mongo}"
PID_FILE="$STATE/server.pid"
LOG_FILE="$STATE/server.log"

say() { echo "mongo-server: $*" >&2; }

install() {
    local installed=""
    if [ -x "$VENV/bin/secantusd-py" ]; then
        installed="$("$VENV/bin/pip" show SecantusDB 2>/dev/null | sed -n 's/^Version: //p')"
    fi
    if [ "$installed" = "$VERSION" ]; then
        return
    fi
    say "installing SecantusDB $VERSION in $VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "SecantusDB==$VERSION" >&2
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

accepts() {
    python3 -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1).close()' "$1" 2>/dev/null
}

start() {
    if [ -f "$PID_FILE" ] && kill -0 "$(cat "$PID_FILE")" 2>/dev/null; then
        say "already running (PID $(cat "$PID_FILE")); stop it first"
        exit 1
    fi
    install
    mkdir -p "$STATE"
    local port
    port="$(free_port)"
    "$VENV/bin/secantusd-py" --host 127.0.0.1 --port "$port" --storage-path :memory: \
        >"$LOG_FILE" 2>&1 &
    local pid=$!
    echo "$pid" >"$PID_FILE"
    for _ in $(seq 1 100); do
        if ! kill -0 "$pid" 2>/dev/null; then
            say "the server stopped at start; its log ($LOG_FILE):"
            cat "$LOG_FILE" >&2
            rm -f "$PID_FILE"
            exit 1
        fi
        if accepts "$port"; then
            say "SecantusDB $VERSION listening on 127.0.0.1:$port (PID $pid)"
            echo "export CALSYNC_TEST_MONGODB_URI=mongodb://127.0.0.1:$port/?directConnection=true"
            return
        fi
        sleep 0.2
    done
    say "the server did not accept connections within 20 s; its log ($LOG_FILE):"
    cat "$LOG_FILE" >&2
    kill "$pid" 2>/dev/null || true
    rm -f "$PID_FILE"
    exit 1
}

stop() {
    if [ ! -f "$PID_FILE" ]; then
        say "not running (no $PID_FILE)"
        return
    fi
    local pid
    pid="$(cat "$PID_FILE")"
    if kill "$pid" 2>/dev/null; then
        for _ in $(seq 1 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        say "stopped (PID $pid)"
    else
        say "PID $pid was not running"
    fi
    rm -f "$PID_FILE"
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    *)
        echo "usage: $0 start|stop" >&2
        exit 2
        ;;
esac
