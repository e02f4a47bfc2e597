#!/usr/bin/env bash
# run_notify.sh [BUILD_DIR [bench_notify options...]] - the notify delivery
# benchmark: webhook deliveries per second through 1, 2 and 4 chuang-notify
# processes (each with up to notify.in_flight sends in flight over
# connections kept open; concurrency = processes) to a local keep-alive
# receiver, against channel_webhook_send() called in a loop by 1, 2 and 4
# threads (a new connection per send), a channel_pool with 32 sends in
# flight per thread (the sending of one process, without the database),
# the sender's batch SQL without the HTTP, and raw POST clients (the
# receiver's ceiling, with and without keep-alive), measured in the same
# run; then one process with default settings against the pool baseline
# (see bench_notify.c for what is measured and how).
#
# Builds chuang-broker, chuang-notify and bench_notify in BUILD_DIR (default:
# build-bench-notify at the top of the source tree, configured RelWithDebInfo
# without sanitizers when it does not exist yet), starts a private
# PostgreSQL and Redis (tests/harness/start.sh) in a temporary folder, makes
# the database "bench" there with the service role and schema "notify"
# (stack_pg_service), runs bench_notify and stops the harness, also on
# failure or interruption; bench_notify starts and stops the broker and the
# notify processes itself. All traffic stays on 127.0.0.1; the benchmark
# takes about a minute and a half on a 2-core machine (plus the build) and is
# cut off after BENCH_TIMEOUT seconds (default 300). The tables go to stdout, progress to
# stderr; on failure the end of each child's log goes to stderr too.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source_dir=$(cd "$here/../.." && pwd)
build_dir=$(realpath -m -- "${1:-$source_dir/build-bench-notify}")
[ $# -gt 0 ] && shift

# shellcheck source-path=SCRIPTDIR source=build.sh
. "$here/build.sh"
bench_build "$build_dir" chuang-broker chuang-notify bench_notify

work=$(mktemp -d "${TMPDIR:-/tmp}/chuang-bench-notify.XXXXXX")
harness=$work/harness
logs=$work/logs
mkdir -p -- "$logs"
status=1
# shellcheck disable=SC2317 # run by the EXIT trap
cleanup() {
    if [ "$status" -ne 0 ]; then
        for log in "$logs"/*.log; do
            [ -f "$log" ] || continue
            echo "run_notify.sh: the end of $(basename "$log"):" >&2
            tail -n 5 -- "$log" >&2
        done
    fi
    "$here/../harness/stop.sh" "$harness" || true
    rm -rf -- "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

"$here/../harness/start.sh" "$harness" >&2
admin_url=$(sed -n 's/^CHUANG_TEST_PG_ADMIN_URL=//p' "$harness/env")
redis_url=$(sed -n 's/^CHUANG_TEST_REDIS_URL=//p' "$harness/env")
# shellcheck source-path=SCRIPTDIR source=../../deploy/lib/stack.sh
. "$source_dir/deploy/lib/stack.sh"
notify_url=$(stack_pg_service "$admin_url" bench notify notify-bench-pw)
# The servers' processes, for the CPU columns.
pg_pid=$(head -n 1 "$harness/pg/postmaster.pid")
redis_pid=$(cat "$harness/redis/redis.pid")

# The URLs hold passwords: they go in the environment, not on the command line.
set +e
CHUANG_BENCH_DB_URL=$notify_url CHUANG_BENCH_REDIS_URL=$redis_url \
    timeout --foreground -k 10 "${BENCH_TIMEOUT:-300}" \
    "$build_dir/tests/bench/bench_notify" -b "$build_dir/services/broker/chuang-broker" \
    -N "$build_dir/services/notify/chuang-notify" -l "$logs" -P "$pg_pid" -S "$redis_pid" "$@"
status=$?
set -e
exit "$status"
