#!/usr/bin/env bash
# run_events.sh [BUILD_DIR [bench_events options...]] - the event pipeline
# benchmark: commit-to-consumer latency through the outbox, the relay and a
# consumer group at steady rates; replay of a backlog by a fresh consumer
# group and the relay's rebuild of a deleted stream, against raw XRANGE and
# redis-benchmark XADD measured in the same run (see bench_events.c for what
# is measured and how).
#
# Builds bench_events if needed in BUILD_DIR (default: build-bench-events at
# the top of the source tree, configured RelWithDebInfo without sanitizers
# when it does not exist yet), starts a private PostgreSQL and Redis
# (tests/harness/start.sh) in a temporary folder, makes the database "bench"
# there with two service roles and schemas (tally, the producer, and
# watcher, the consumer) with stack_pg_service, runs bench_events and stops
# the harness, also on failure or interruption. All traffic stays on
# 127.0.0.1; the whole run takes about two minutes on a 2-core machine and
# is cut off after BENCH_TIMEOUT seconds (default 300). The tables go to
# stdout, progress to stderr.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source_dir=$(cd "$here/../.." && pwd)
build_dir=$(realpath -m -- "${1:-$source_dir/build-bench-events}")
[ $# -gt 0 ] && shift

# shellcheck source-path=SCRIPTDIR source=build.sh
. "$here/build.sh"
bench_build "$build_dir" bench_events

redis_benchmark=${REDIS_BENCHMARK:-$(command -v redis-benchmark || true)}
if [ -z "$redis_benchmark" ] || [ ! -x "$redis_benchmark" ]; then
    echo "run_events.sh: redis-benchmark not found (set REDIS_BENCHMARK)" >&2
    exit 1
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/chuang-bench-events.XXXXXX")
harness=$work/harness
cleanup() {
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
tally_url=$(stack_pg_service "$admin_url" bench tally tally-bench-pw)
watcher_url=$(stack_pg_service "$admin_url" bench watcher watcher-bench-pw)
# The servers' processes, for the CPU columns.
pg_pid=$(head -n 1 "$harness/pg/postmaster.pid")
redis_pid=$(cat "$harness/redis/redis.pid")

# The URLs hold passwords: they go in the environment, not on the command line.
CHUANG_BENCH_DB_URL=$tally_url CHUANG_BENCH_CONSUMER_DB_URL=$watcher_url \
    CHUANG_BENCH_REDIS_URL=$redis_url \
    timeout --foreground -k 10 "${BENCH_TIMEOUT:-300}" \
    "$build_dir/tests/bench/bench_events" -B "$redis_benchmark" -P "$pg_pid" -S "$redis_pid" "$@"
