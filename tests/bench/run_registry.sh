#!/usr/bin/env bash
# run_registry.sh [BUILD_DIR [bench_registry options...]] - the registry
# benchmark: RegisterEntity through chuang-broker and chuang-registry against
# pgbench running the same SQL (registry_tx.sql, registry_tx_full.sql) at the
# same concurrency (see bench_registry.c for what is measured and how).
#
# Builds bench_registry, the broker and the registry if needed in BUILD_DIR
# (default: build-bench-registry at the top of the source tree, configured
# RelWithDebInfo without sanitizers when it does not exist yet), starts a
# private PostgreSQL and Redis (tests/harness/start.sh) in a temporary
# folder, makes the registry's database there with stack_pg_service, runs
# bench_registry and stops the harness, also on failure or interruption.
# All traffic stays on 127.0.0.1; the whole run takes about two minutes on a
# 2-core machine and is cut off after BENCH_TIMEOUT seconds (default 240).
# The table goes to stdout; the logs of the children (broker, registry,
# pgbench, psql) are kept only when the run fails.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source_dir=$(cd "$here/../.." && pwd)
build_dir=$(realpath -m -- "${1:-$source_dir/build-bench-registry}")
[ $# -gt 0 ] && shift

# shellcheck source-path=SCRIPTDIR source=build.sh
. "$here/build.sh"
bench_build "$build_dir" bench_registry chuang-broker chuang-registry

# pgbench and psql of the newest installed PostgreSQL, unless PGBENCH says.
pgbench=${PGBENCH:-}
if [ -z "$pgbench" ]; then
    for bin in /usr/lib/postgresql/*/bin; do
        [ -x "$bin/pgbench" ] && pgbench=$bin/pgbench
    done
fi
if [ -z "$pgbench" ] || [ ! -x "$pgbench" ]; then
    echo "run_registry.sh: pgbench not found (set PGBENCH)" >&2
    exit 1
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/chuang-bench-registry.XXXXXX")
harness=$work/harness
mkdir -p "$work/logs"
ok=0
cleanup() {
    "$here/../harness/stop.sh" "$harness" || true
    if [ "$ok" = 1 ]; then
        rm -rf -- "$work"
    else
        echo "run_registry.sh: logs kept in $work/logs" >&2
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
db_url=$(stack_pg_service "$admin_url" bench registry registry-bench-pw)

# The URL holds a password: it goes in the environment, not on the command line.
CHUANG_BENCH_DB_URL=$db_url CHUANG_BENCH_REDIS_URL=$redis_url \
    timeout --foreground -k 10 "${BENCH_TIMEOUT:-240}" \
    "$build_dir/tests/bench/bench_registry" -l "$work/logs" -P "$pgbench" -s "$here" \
    -b "$build_dir/services/broker/chuang-broker" \
    -R "$build_dir/services/registry/chuang-registry" "$@"
ok=1
