#!/usr/bin/env bash
# Measures `calsync import` against the floor (a keep-alive PUT loop) on the
# two CalDAV test servers; see benches/caldav_import.rs for the settings
# (CALSYNC_BENCH_SIZES, CALSYNC_BENCH_JOBS, CALSYNC_BENCH_ROUNDS).
#
# Both servers run one Python thread each, which is what every import waits
# on. A real CalDAV server runs on a machine of its own; here it would share
# two cores with the client, so whatever the client computes would be taken
# from the server and counted as the client's cost. When the machine has two
# cores or more, the servers get core 0 and the benchmark the others.
#
#   scripts/bench-caldav-import.sh            # starts the servers if needed
set -euo pipefail
cd "$(dirname "$0")/.."
STATE=${CALSYNC_CALDAV_STATE:-/tmp/calsync-caldav}

started=""
if [ ! -f "$STATE/env" ]; then
    scripts/caldav-servers.sh start >/dev/null
    started=yes
fi
trap '[ -z "$started" ] || scripts/caldav-servers.sh stop' EXIT
# shellcheck disable=SC1091
. "$STATE/env"

pin=()
cores=$(nproc)
if [ "$cores" -ge 2 ] && command -v taskset >/dev/null; then
    for name in radicale xandikos; do
        taskset -a -p -c 0 "$(cat "$STATE/$name.pid")" >/dev/null
    done
    pin=(taskset -c "1-$((cores - 1))")
    echo "bench-caldav-import: servers on core 0, benchmark on cores 1-$((cores - 1))" >&2
fi
cargo bench --features caldav --bench caldav_import --no-run
"${pin[@]}" cargo bench --features caldav --bench caldav_import
