#!/usr/bin/env bash
# run.sh [BUILD_DIR [bench_broker options...]] - the broker benchmark: raw
# ZeroMQ request/reply against the same traffic through chuang-broker and
# chuang-tally workers (see bench_broker.c for what is measured and how).
#
# Builds bench_broker, the broker and the tally fixture if needed in
# BUILD_DIR (default: build-bench at the top of the source tree, configured
# RelWithDebInfo without sanitizers when it does not exist yet), starts a
# private PostgreSQL and Redis (tests/harness/start.sh) in a temporary
# folder, makes the tally service's database there with stack_pg_service,
# runs bench_broker and stops the harness, also on failure or interruption.
# All traffic stays on 127.0.0.1; the whole run takes about a minute and a
# half and is cut off after BENCH_TIMEOUT seconds (default 240). The table
# goes to stdout; logs of the children are kept only when the run fails.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source_dir=$(cd "$here/../.." && pwd)
build_dir=$(realpath -m -- "${1:-$source_dir/build-bench}")
[ $# -gt 0 ] && shift

# shellcheck source-path=SCRIPTDIR source=build.sh
. "$here/build.sh"
bench_build "$build_dir" bench_broker chuang-broker chuang-tally

work=$(mktemp -d "${TMPDIR:-/tmp}/chuang-bench.XXXXXX")
harness=$work/harness
mkdir -p "$work/logs"
ok=0
cleanup() {
    "$here/../harness/stop.sh" "$harness" || true
    if [ "$ok" = 1 ]; then
        rm -rf -- "$work"
    else
        echo "run.sh: logs kept in $work/logs" >&2
    fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

"$here/../harness/start.sh" "$harness" >&2
admin_url=$(sed -n 's/^CHUANG_TEST_PG_ADMIN_URL=//p' "$harness/env")
# shellcheck source-path=SCRIPTDIR source=../../deploy/lib/stack.sh
. "$source_dir/deploy/lib/stack.sh"
db_url=$(stack_pg_service "$admin_url" bench tally tally-bench-pw)

# The URL holds a password: it goes in the environment, not on the command line.
CHUANG_BENCH_DB_URL=$db_url timeout --foreground -k 10 "${BENCH_TIMEOUT:-240}" \
    "$build_dir/tests/bench/bench_broker" -l "$work/logs" \
    -b "$build_dir/services/broker/chuang-broker" \
    -t "$build_dir/tests/fixtures/tally/chuang-tally" "$@"
ok=1
