#!/usr/bin/env bash
# start.sh DIR - starts the test harness's private PostgreSQL and Redis (the
# ctest fixture "harness", test harness.start) and describes them in DIR/env.
#
# Anything an earlier run left in DIR is stale: stop.sh DIR stops the
# servers recorded there and removes the harness's entries (DIR may also be
# CMake's binary directory of tests/harness; those files stay). Then
# PostgreSQL gets a fresh cluster in DIR/pg and Redis runs in
# DIR/redis, each on a free port of 127.0.0.1, both via deploy/lib/stack.sh.
# DIR/env (mode 600; it holds the superuser password) has plain KEY=VALUE
# lines: CHUANG_TEST_DIR, CHUANG_TEST_PG_PORT, CHUANG_TEST_PG_ADMIN_URL,
# CHUANG_TEST_REDIS_PORT, CHUANG_TEST_REDIS_URL. Every wait is bounded
# (see STACK_TIMEOUT in stack.sh); stop.sh DIR undoes all of this.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=../../deploy/lib/stack.sh
. "$here/../../deploy/lib/stack.sh"

if [ $# -ne 1 ] || [ -z "$1" ]; then
    echo "usage: $0 DIR" >&2
    exit 2
fi
dir=$(realpath -m -- "$1")
marker=.chuang-harness # stop.sh removes only what a marked DIR holds

# Stale state from an earlier run: stop.sh stops its servers and removes
# the harness's entries (it refuses a DIR that is not the harness's).
if [ -e "$dir" ]; then
    "$here/stop.sh" "$dir"
fi

mkdir -p -- "$dir"
: >"$dir/$marker"

# A port can be taken between picking and binding; retry with new ones.
pg_port=""
for _ in 1 2 3; do
    port=$(stack_free_port)
    if stack_pg_start "$dir/pg" "$port"; then
        pg_port=$port
        break
    fi
done
if [ -z "$pg_port" ]; then
    echo "start.sh: could not start PostgreSQL in $dir/pg" >&2
    exit 1
fi

redis_port=""
for _ in 1 2 3; do
    port=$(stack_free_port)
    if stack_redis_start "$dir/redis" "$port"; then
        redis_port=$port
        break
    fi
done
if [ -z "$redis_port" ]; then
    echo "start.sh: could not start Redis in $dir/redis" >&2
    exit 1
fi

admin_url=$(stack_pg_admin_url "$dir/pg" "$pg_port")

(
    umask 077
    cat >"$dir/env.tmp" <<EOF
CHUANG_TEST_DIR=$dir
CHUANG_TEST_PG_PORT=$pg_port
CHUANG_TEST_PG_ADMIN_URL=$admin_url
CHUANG_TEST_REDIS_PORT=$redis_port
CHUANG_TEST_REDIS_URL=redis://127.0.0.1:$redis_port/0
EOF
)
mv -f -- "$dir/env.tmp" "$dir/env"
echo "start.sh: PostgreSQL on 127.0.0.1:$pg_port, Redis on 127.0.0.1:$redis_port; see $dir/env"
