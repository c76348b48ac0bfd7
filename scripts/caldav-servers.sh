#!/usr/bin/env bash
# Starts (or stops) the two CalDAV servers the CalDAV adapter is tested against:
# Radicale (HTTP Basic auth from an htpasswd file) and Xandikos (no auth: its
# Basic auth only works over its own self-signed HTTPS, so the wrong-password
# test runs against Radicale only). Both listen on free loopback ports and keep
# their data in a temporary folder.
#
#   eval "$(scripts/caldav-servers.sh start)"   # prints the export line
#   scripts/caldav-servers.sh stop
#
# Venvs live in ${CALSYNC_VENV_DIR:-$HOME/.cache/calsync-venvs}; the running
# servers' state (PIDs, data, logs) in ${CALSYNC_CALDAV_STATE:-/tmp/calsync-caldav}.
set -euo pipefail

RADICALE_VERSION=3.9.0
XANDIKOS_VERSION=0.4.10
VENVS=${CALSYNC_VENV_DIR:-$HOME/.cache/calsync-venvs}
STATE=${CALSYNC_CALDAV_STATE:-/tmp/calsync-caldav}
USER_NAME=calsync
PASSWORD=calsync-test-password

log() { echo "caldav-servers: $*" >&2; }

ensure_venv() { # name package version
    local dir="$VENVS/$1"
    local have
    have=$("$dir/bin/pip" show "$2" 2>/dev/null | sed -n "s/^Version: //p" || true)
    if [ "$have" != "$3" ]; then
        log "installing $2==$3 into $dir"
        python3 -m venv "$dir"
        "$dir/bin/pip" install --quiet --disable-pip-version-check "$2==$3" >&2
    fi
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

wait_ready() { # name url
    for _ in $(seq 1 100); do
        if curl -s -o /dev/null "$2"; then return 0; fi
        sleep 0.2
    done
    log "$1 did not answer at $2; its log:"
    cat "$STATE/$1.log" >&2
    return 1
}

start() {
    if [ -f "$STATE/radicale.pid" ] || [ -f "$STATE/xandikos.pid" ]; then
        log "already started (state in $STATE); run '$0 stop' first"
        exit 1
    fi
    ensure_venv radicale radicale "$RADICALE_VERSION"
    ensure_venv xandikos xandikos "$XANDIKOS_VERSION"
    mkdir -p "$STATE/radicale-data" "$STATE/xandikos-data"
    # A second login with an empty home, for the discovery test.
    printf '%s:%s\n%s-fresh:%s\n' "$USER_NAME" "$PASSWORD" "$USER_NAME" "$PASSWORD" >"$STATE/htpasswd"
    local radicale_port xandikos_port
    radicale_port=$(free_port)
    xandikos_port=$(free_port)
    cat >"$STATE/radicale.conf" <<EOF
[server]
hosts = 127.0.0.1:$radicale_port
[auth]
type = htpasswd
htpasswd_filename = $STATE/htpasswd
htpasswd_encryption = plain
delay = 0
[storage]
filesystem_folder = $STATE/radicale-data
[logging]
level = warning
EOF
    "$VENVS/radicale/bin/radicale" --config "$STATE/radicale.conf" >"$STATE/radicale.log" 2>&1 &
    echo $! >"$STATE/radicale.pid"
    "$VENVS/xandikos/bin/xandikos" serve --defaults -d "$STATE/xandikos-data" \
        -l 127.0.0.1 -p "$xandikos_port" --current-user-principal "/$USER_NAME/" \
        --state-dir "$STATE/xandikos-state" >"$STATE/xandikos.log" 2>&1 &
    echo $! >"$STATE/xandikos.pid"
    wait_ready radicale "http://127.0.0.1:$radicale_port/"
    wait_ready xandikos "http://127.0.0.1:$xandikos_port/"
    local exports="export CALSYNC_TEST_RADICALE_URL=http://127.0.0.1:$radicale_port CALSYNC_TEST_XANDIKOS_URL=http://127.0.0.1:$xandikos_port CALSYNC_TEST_CALDAV_USER=$USER_NAME CALSYNC_TEST_CALDAV_PASSWORD=$PASSWORD"
    echo "$exports" >"$STATE/env"
    echo "$exports"
}

stop() {
    for name in radicale xandikos; do
        if [ -f "$STATE/$name.pid" ]; then
            kill "$(cat "$STATE/$name.pid")" 2>/dev/null || true
            rm -f "$STATE/$name.pid"
            log "stopped $name"
        fi
    done
    rm -rf "$STATE"
}

case "${1:-}" in
start) start ;;
stop) stop ;;
*)
    echo "usage: $0 start|stop" >&2
    exit 2
    ;;
esac
