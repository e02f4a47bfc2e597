#!/usr/bin/env bash
# run_agency.sh [BUILD_DIR [bench_agency options...]] - a whole agency on
# this machine under a mixed open-loop load (see bench_agency.c for what is
# measured and how).
#
# Builds everything in BUILD_DIR (default: build-bench at the top of the
# source tree, configured RelWithDebInfo without sanitizers when it does not
# exist yet), starts one agency with deploy/local/chuang in a temporary data
# folder (its own PostgreSQL and Redis, two brokers with CURVE, every
# service, the feed) and a second registry replica beside the first, lets
# the operator's key call without a rate limit (its principal table line
# gets rate=0: the benchmark is the operator's load, not a flood), runs
# bench_agency against it (with the registry's database and the superuser's
# URL in its environment, for -E) and stops everything, also on failure or
# interruption. The run takes two to three minutes and is cut off after
# BENCH_TIMEOUT seconds (default 600). The table goes to stdout; the data
# folder with every process's log is kept only when the run fails.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source_dir=$(cd "$here/../.." && pwd)
build_dir=$(realpath -m -- "${1:-$source_dir/build-bench}")
[ $# -gt 0 ] && shift

# shellcheck source-path=SCRIPTDIR source=build.sh
. "$here/build.sh"
bench_build "$build_dir"

work=$(mktemp -d "${TMPDIR:-/tmp}/chuang-bench-agency.XXXXXX")
data=$work/data
export CHUANG_DATA=$data CHUANG_BUILD=$build_dir CHUANG_SKIP_BUILD=1
second=""
ok=0
cleanup() {
    [ -n "$second" ] && kill -TERM "$second" 2>/dev/null && wait "$second" 2>/dev/null
    "$source_dir/deploy/local/chuang" stop >/dev/null 2>&1 || true
    if [ "$ok" = 1 ]; then
        rm -rf -- "$work"
    else
        echo "run_agency.sh: data and logs kept in $data" >&2
    fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

"$source_dir/deploy/local/chuang" up >"$work/up.log" 2>&1 || {
    cat "$work/up.log" >&2
    exit 1
}
sed -i 's/^\([^#].* operator operator .*\)$/\1 rate=0/' "$data/etc/principals"
"$build_dir/services/registry/chuang-registry" -c "$data/etc/registry.conf" \
    >>"$data/log/registry-2.log" 2>&1 &
second=$!
# The brokers read the principal table again within a heartbeat (2.5 s);
# the second replica registers with both brokers meanwhile.
sleep 4
kill -0 "$second" || { echo "run_agency.sh: the second registry did not start" >&2; exit 1; }

procs=""
for pidfile in "$data"/run/*.pid; do
    procs+="$(basename "$pidfile" .pid)=$(cat "$pidfile"),"
done
procs+="registry-2=$second,postgres=$(head -1 "$data/pg/postmaster.pid"),redis=$(cat "$data/redis/redis.pid")"
redis_port=$(sed -n 's/^redis=//p' "$data/ports")
# The registry's database, for the preload (-E); a URL with a password goes
# in the environment, not on a command line.
CHUANG_BENCH_DB_URL=$(sed -n 's/^db.url = //p' "$data/etc/registry.conf")
export CHUANG_BENCH_DB_URL
. "$source_dir/deploy/lib/stack.sh"
CHUANG_BENCH_ADMIN_URL=$(stack_pg_admin_url "$data/pg" "$(sed -n 's/^pg=//p' "$data/ports")")
CHUANG_BENCH_ADMIN_URL=${CHUANG_BENCH_ADMIN_URL%/*}/chuang
export CHUANG_BENCH_ADMIN_URL

timeout --foreground -k 10 "${BENCH_TIMEOUT:-600}" \
    "$build_dir/tests/bench/bench_agency" -C "$data/etc/ctl.conf" \
    -r "redis://127.0.0.1:$redis_port/0" -p "$procs" "$@"
ok=1
