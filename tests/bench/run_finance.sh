#!/usr/bin/env bash
# run_finance.sh [BUILD_DIR [bench_finance options...]] - the finance
# benchmark: award payments (PayAward) through chuang-broker and
# chuang-finance against pgbench running the same statements
# (finance_pay_tx.sql) at the same concurrency (see bench_finance.c).
#
# Builds bench_finance, the broker and finance if needed in BUILD_DIR
# (default: build-bench-finance at the top of the source tree, configured
# RelWithDebInfo without sanitizers when it does not exist yet), starts a
# private PostgreSQL and Redis (tests/harness/start.sh) in a temporary
# folder, makes finance's database there with stack_pg_service, runs
# bench_finance and stops the harness, also on failure or interruption.
# All traffic stays on 127.0.0.1; the run takes about a minute on a 2-core
# machine and is cut off after BENCH_TIMEOUT seconds (default 240). The
# table goes to stdout; the children's logs are kept only when it fails.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source_dir=$(cd "$here/../.." && pwd)
build_dir=$(realpath -m -- "${1:-$source_dir/build-bench-finance}")
[ $# -gt 0 ] && shift

# shellcheck source-path=SCRIPTDIR source=build.sh
. "$here/build.sh"
bench_build "$build_dir" bench_finance chuang-broker chuang-finance

pgbench=${PGBENCH:-}
if [ -z "$pgbench" ]; then
    for bin in /usr/lib/postgresql/*/bin; do
        [ -x "$bin/pgbench" ] && pgbench=$bin/pgbench
    done
fi
if [ -z "$pgbench" ] || [ ! -x "$pgbench" ]; then
    echo "run_finance.sh: pgbench not found (set PGBENCH)" >&2
    exit 1
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/chuang-bench-finance.XXXXXX")
harness=$work/harness
mkdir -p "$work/logs"
ok=0
cleanup() {
    "$here/../harness/stop.sh" "$harness" || true
    if [ "$ok" = 1 ] && [ -z "${BENCH_KEEP:-}" ]; then
        rm -rf -- "$work"
    else
        echo "run_finance.sh: logs kept in $work/logs" >&2
    fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

"$here/../harness/start.sh" "$harness" >&2
admin_url=$(sed -n 's/^CHUANG_TEST_PG_ADMIN_URL=//p' "$harness/env")
redis_url=$(sed -n 's/^CHUANG_TEST_REDIS_URL=//p' "$harness/env")
# shellcheck source-path=SCRIPTDIR source=../../deploy/lib/stack.sh
. "$source_dir/deploy/lib/stack.sh"
db_url=$(stack_pg_service "$admin_url" bench finance finance-bench-pw)

# The URL holds a password: it goes in the environment, not on the command line.
CHUANG_BENCH_DB_URL=$db_url CHUANG_BENCH_REDIS_URL=$redis_url \
    timeout --foreground -k 10 "${BENCH_TIMEOUT:-240}" \
    "$build_dir/tests/bench/bench_finance" -l "$work/logs" -P "$pgbench" -s "$here" \
    -b "$build_dir/services/broker/chuang-broker" \
    -F "$build_dir/services/finance/chuang-finance" "$@"
ok=1
