#!/usr/bin/env bash
# test_ctl.sh - chuangctl as an operator uses it: JSON in, JSON out, exit
# status, refusal of bad input before anything is sent, idempotent retries
# by --key, and `services` through a real broker and tally service.
#
#   test_ctl.sh SOURCE_DIR BUILD_DIR      (run by ctest with the harness up)
set -euo pipefail
src=$1
build=$2
# shellcheck disable=SC1091
. "$build/tests/harness/env"
# shellcheck source=../../deploy/lib/stack.sh
. "$src/deploy/lib/stack.sh"

dir=$CHUANG_TEST_DIR/ctl
rm -rf "$dir" && mkdir -p "$dir"
pids=()
cleanup() {
    local pid
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT

# shellcheck source=check.sh
. "$src/tests/integration/check.sh"
# json_get JSON EXPR: evaluates a Python expression over the parsed JSON as j.
json_get() {
    python3 -c 'import json,sys; j=json.loads(sys.argv[1]); print(eval(sys.argv[2]))' "$1" "$2"
}

port=$(stack_free_port)
export CHUANG_SECURITY_PLAIN=yes CHUANG_BROKERS=tcp://127.0.0.1:$port
CHUANG_BROKER_ENDPOINT=tcp://127.0.0.1:$port "$build/services/broker/chuang-broker" \
    2>"$dir/broker.log" &
pids+=($!)
# Roles are the cluster's, shared by every test running beside this one: the
# password must be the one the harness gives every service (harness.c).
CHUANG_DB_URL=$(stack_pg_service "$CHUANG_TEST_PG_ADMIN_URL" ctl tally tally-test-pw) \
    "$build/tests/fixtures/tally/chuang-tally" 2>"$dir/tally.log" &
pids+=($!)

ctl() { "$build/tests/fixtures/tally/chuangctl-fixtures" --plain "$@"; }
for _ in $(seq 1 100); do
    ctl services tally >/dev/null 2>&1 && break
    sleep 0.2
done

out=$(ctl services tally absent 2>/dev/null || true)
check "services: tally 200, absent 404" [ "$out" = "$(printf 'tally 200\nabsent 404')" ]

out=$(ctl call tally Add '{"counter": "ctl", "amount": "40"}' --key ctl-1)
check "call: status OK" [ "$(json_get "$out" 'j["status"]')" = OK ]
check "call: reply total as a decimal string" [ "$(json_get "$out" 'j["reply"]["total"]')" = 40 ]

out=$(echo '{"counter": "ctl", "amount": 40}' | ctl call tally Add --key ctl-1)
check "same --key from stdin: the first reply again" [ "$(json_get "$out" 'j["reply"]["total"]')" = 40 ]
out=$(ctl call tally Get '{"counter": "ctl"}')
check "same --key applied once" [ "$(json_get "$out" 'j["reply"]["adds"]')" = 1 ]

rc=0
out=$(ctl call tally Add '{"counter": "ctl", "amount": 0}') || rc=$?
check "invalid amount: exit 1" [ "$rc" = 1 ]
check "invalid amount: INVALID_ARGUMENT naming the field" \
    [ "$(json_get "$out" 'j["status"] + " " + j["violations"][0]["field"]')" = "INVALID_ARGUMENT amount" ]

rc=0
err=$(ctl call tally Add '{"counter": "ctl", "amout": 1}' 2>&1 >/dev/null) || rc=$?
check "unknown field: exit 2 before sending" [ "$rc" = 2 ]
check "unknown field: the message names it" grep -q '"amout"' <<<"$err"

rc=0
err=$(ctl call tally Add '{"counter": "ctl", "amount": "ten"}' 2>&1 >/dev/null) || rc=$?
check "wrong type: exit 2" [ "$rc" = 2 ]
check "wrong type: the message names the field" grep -q '"amount"' <<<"$err"

rc=0
ctl call tally Add '{not json' >/dev/null 2>&1 || rc=$?
check "not JSON: exit 2" [ "$rc" = 2 ]

rc=0
ctl call tally Multiply '{}' >/dev/null 2>&1 || rc=$?
check "unknown method: exit 2" [ "$rc" = 2 ]

out=$(ctl call tally Get '{"counter": "ctl"}')
check "bad inputs changed nothing" [ "$(json_get "$out" 'j["reply"]["total"] + "/" + j["reply"]["adds"]')" = 40/1 ]

ctl keygen "$dir/operator" >/dev/null
check "keygen writes a secret certificate" grep -q secret-key "$dir/operator_secret"
check "keygen's public certificate holds no secret" [ "$(grep -c secret-key "$dir/operator")" = 0 ]

check_summary
