#!/usr/bin/env bash
# stop.sh DIR - stops the test harness's private PostgreSQL and Redis that
# start.sh DIR started (the ctest fixture cleanup, test harness.stop) and
# removes what start.sh put into DIR.
#
# Idempotent: a missing DIR or servers that are not running are fine. Stops
# go through deploy/lib/stack.sh and are bounded in time. Only the entries the
# harness owns are removed (env, pg*, redis, the marker file); DIR itself goes
# too once it is empty. Under ctest DIR is also CMake's binary directory of
# tests/harness, whose generated files must stay. A DIR holding harness-like
# entries but no marker file is refused, so a wrong argument wipes nothing.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=../../deploy/lib/stack.sh
. "$here/../../deploy/lib/stack.sh"

if [ $# -ne 1 ] || [ -z "$1" ]; then
    echo "usage: $0 DIR" >&2
    exit 2
fi
dir=$(realpath -m -- "$1")
marker=.chuang-harness
owned=(env env.tmp pg pg.password pg.log pg.initdb.log pg-socket redis "$marker")

[ -d "$dir" ] || exit 0
if [ ! -e "$dir/$marker" ]; then
    for name in env pg redis; do
        if [ -e "$dir/$name" ]; then
            echo "stop.sh: $dir has $name but no $marker; not touching it" >&2
            exit 1
        fi
    done
fi

rc=0
if [ -d "$dir/pg" ]; then
    stack_pg_stop "$dir/pg" || rc=1
fi
if [ -d "$dir/redis" ]; then
    stack_redis_stop "$dir/redis" || rc=1
fi
if [ "$rc" -ne 0 ]; then
    echo "stop.sh: a server in $dir did not stop; leaving its files in place" >&2
    exit 1
fi
for name in "${owned[@]}"; do
    rm -rf -- "${dir:?}/$name"
done
rmdir -- "$dir" 2>/dev/null || true
