#!/usr/bin/env bash
# check.sh DIR - self-test of the harness that start.sh DIR started (ctest
# test harness.check): the service isolation that stack_pg_service promises,
# and that Redis answers.
#
# It reads DIR/env, sets up two services with stack_pg_service in database
# harness_check (checksvc and othersvc), then, connected as checksvc, checks
# that it can create and use a table in its own schema but cannot create a
# table in schema public nor in othersvc's schema, nor read othersvc's tables;
# that a wrong or superseded password is refused; and that Redis answers
# PING and SET/GET. The database and roles are dropped again at the end.
# Exits non-zero at the first failure.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=../../deploy/lib/stack.sh
. "$here/../../deploy/lib/stack.sh"

if [ $# -ne 1 ] || [ -z "$1" ]; then
    echo "usage: $0 DIR" >&2
    exit 2
fi
dir=$(realpath -m -- "$1")
if [ ! -r "$dir/env" ]; then
    echo "check.sh: $dir/env missing; did harness.start run?" >&2
    exit 1
fi
# shellcheck source=/dev/null
. "$dir/env"
: "${CHUANG_TEST_PG_ADMIN_URL:?} ${CHUANG_TEST_REDIS_PORT:?} ${CHUANG_TEST_REDIS_URL:?}"

export PGCONNECT_TIMEOUT=10
admin=$CHUANG_TEST_PG_ADMIN_URL
fail() {
    echo "check.sh: FAIL: $*" >&2
    exit 1
}
ok() {
    echo "check.sh: ok: $*"
}
# sql URL SQL: run SQL, print its rows; stderr is kept in $errfile.
errfile=$(mktemp "${TMPDIR:-/tmp}/harness-check.XXXXXX")
cleanup() {
    psql -X -q -d "$admin" -c 'DROP DATABASE IF EXISTS harness_check WITH (FORCE)' \
        -c 'DROP ROLE IF EXISTS checksvc' -c 'DROP ROLE IF EXISTS othersvc' \
        >/dev/null 2>&1 || true
    rm -f -- "$errfile"
}
trap cleanup EXIT
sql() {
    timeout 60 psql -X -q -A -t -v ON_ERROR_STOP=1 -d "$1" -c "$2" 2>"$errfile"
}

pw_check=$(od -An -v -tx1 -N12 /dev/urandom | tr -d ' \n')
pw_other=$(od -An -v -tx1 -N12 /dev/urandom | tr -d ' \n')

# Set up twice: stack_pg_service must be idempotent; the second password wins.
stack_pg_service "$admin" harness_check checksvc "first-$pw_check" >/dev/null ||
    fail "stack_pg_service checksvc (first time)"
check_url=$(stack_pg_service "$admin" harness_check checksvc "$pw_check") ||
    fail "stack_pg_service checksvc (again)"
other_url=$(stack_pg_service "$admin" harness_check othersvc "$pw_other") ||
    fail "stack_pg_service othersvc"
ok "stack_pg_service set up checksvc and othersvc"

[ "$(sql "$check_url" 'SELECT current_user || $$/$$ || current_schema()')" = checksvc/checksvc ] ||
    fail "checksvc: wrong user or schema: $(cat "$errfile")"

sql "$check_url" 'DROP TABLE IF EXISTS t; CREATE TABLE t (x int); INSERT INTO checksvc.t VALUES (42)' >/dev/null ||
    fail "checksvc cannot create a table in its own schema: $(cat "$errfile")"
[ "$(sql "$check_url" 'SELECT x FROM t')" = 42 ] || fail "checksvc cannot read its own table"
ok "checksvc creates and uses tables in schema checksvc"

sql "$other_url" 'DROP TABLE IF EXISTS secret; CREATE TABLE secret (x int); INSERT INTO secret VALUES (7)' >/dev/null ||
    fail "othersvc cannot create a table in its own schema: $(cat "$errfile")"

# expect_denied WHAT SQL: SQL as checksvc must fail with "permission denied".
expect_denied() {
    if sql "$check_url" "$2" >/dev/null; then
        fail "checksvc could $1"
    fi
    grep -q 'permission denied' "$errfile" || fail "checksvc $1: unexpected error: $(cat "$errfile")"
    ok "checksvc cannot $1"
}
expect_denied "create a table in schema public" 'CREATE TABLE public.intruder (x int)'
expect_denied "create a table in schema othersvc" 'CREATE TABLE othersvc.intruder (x int)'
expect_denied "read othersvc's table" 'SELECT x FROM othersvc.secret'
expect_denied "create a schema" 'CREATE SCHEMA intruder'

bad_url=${check_url/:$pw_check@/:first-$pw_check@}
[ "$bad_url" != "$check_url" ] || fail "could not build the old-password URL"
if sql "$bad_url" 'SELECT 1' >/dev/null; then
    fail "checksvc's superseded password is still accepted"
fi
grep -q 'password authentication failed' "$errfile" ||
    fail "old password: unexpected error: $(cat "$errfile")"
ok "checksvc's superseded password is refused"

[ "$(timeout 10 redis-cli -h 127.0.0.1 -p "$CHUANG_TEST_REDIS_PORT" ping)" = PONG ] ||
    fail "Redis on port $CHUANG_TEST_REDIS_PORT does not answer PING"
[ "$(timeout 10 redis-cli -u "$CHUANG_TEST_REDIS_URL" set harness.check ok)" = OK ] ||
    fail "Redis at $CHUANG_TEST_REDIS_URL: SET failed"
[ "$(timeout 10 redis-cli -u "$CHUANG_TEST_REDIS_URL" getdel harness.check)" = ok ] ||
    fail "Redis at $CHUANG_TEST_REDIS_URL: GET failed"
ok "Redis answers PING and SET/GET"
