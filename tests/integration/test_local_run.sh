#!/usr/bin/env bash
# test_local_run.sh - the README's first command, on a private data folder:
# `deploy/local/chuang up` brings up PostgreSQL, Redis and two CURVE brokers,
# a second `up` is harmless, chuangctl reaches both brokers with the keys it
# wrote, `stop` stops everything and keeps the data.
#
#   test_local_run.sh SOURCE_DIR BUILD_DIR
set -euo pipefail
src=$1
build=$2
data=$(mktemp -d /tmp/chuang-local-test.XXXXXX)
export CHUANG_DATA=$data CHUANG_BUILD=$build CHUANG_SKIP_BUILD=1
local_run() { "$src/deploy/local/chuang" "$@"; }
trap 'local_run stop >/dev/null 2>&1 || true; rm -rf "$data"' EXIT

# shellcheck source=check.sh
. "$src/tests/integration/check.sh"

local_run up >"$data/up.out" 2>&1 || { cat "$data/up.out"; exit 1; }
check "up: says it is up" grep -q "chuang is up" "$data/up.out"
status=$(local_run status)
check "status: both brokers running" [ "$(grep -c 'broker-[12] *running' <<<"$status")" = 2 ]
check "status: the feed running" grep -qE '^ *feed *running' <<<"$status"
check "status: postgresql and redis running" \
    [ "$(grep -cE '^ *(postgresql|redis) *running' <<<"$status")" = 2 ]

pids_before=$(cat "$data"/run/*.pid | sort)
local_run up >/dev/null 2>&1
check "second up: the same processes still serve" [ "$(cat "$data"/run/*.pid | sort)" = "$pids_before" ]

# chuangctl with the agency's keys reaches each broker (mmi answers 404: no worker).
. "$data/ports"
for port in "$broker_1" "$broker_2"; do
    out=$(CHUANG_BROKERS=tcp://127.0.0.1:$port local_run ctl services nosuch || true)
    check "ctl reaches the broker on $port over CURVE" [ "$out" = "nosuch 404" ]
done
# Every service is up and registered with both brokers, and serves a call
# made over CURVE with the agency's keys.
for port in "$broker_1" "$broker_2"; do
    out=$(CHUANG_BROKERS=tcp://127.0.0.1:$port local_run ctl services registry || true)
    check "the registry is registered with the broker on $port" [ "$out" = "registry 200" ]
done
out=$(local_run ctl call registry ReserveName --agency 330106 --roles officer \
    '{"region": "杭州", "tradeName": "本地", "industry": "网络科技",
      "organisationalForm": "有限公司", "applicantName": "张三",
      "applicantIdNumber": "11010519491231002X"}' || true)
check "a name can be reserved through the local run" grep -q '"name": "杭州本地网络科技有限公司"' <<<"$out"
# Finance keeps the agency's books: the operator's key is a finance officer.
out=$(local_run ctl services finance || true)
check "finance is registered with the brokers" [ "$out" = "finance 200" ]
out=$(local_run ctl call finance CreateFund --agency 330106 --roles finance-officer \
    '{"code": "local-2026", "name": "本地双创专项资金", "department": "finance"}' || true)
check "a fund can be created through the local run" grep -q '"code": "local-2026"' <<<"$out"
out=$(local_run ctl call finance Appropriate --agency 330106 --roles finance-officer \
    '{"fund": "local-2026", "amountFen": "300000000", "document": "本地〔2026〕1号"}' || true)
check "money can be appropriated to it" grep -q '"kind": "appropriation"' <<<"$out"
# The first "up" made sample programmes from the policy texts.
out=$(local_run ctl call finance GetProgramme '{"code": "yuetang-guarantee-loan"}' || true)
check "the sample guarantee loan programme is there" grep -q '"kind": "guarantee_loan"' <<<"$out"
out=$(local_run ctl call finance GetProgramme '{"code": "dalang-carrier-top-up"}' || true)
check "the sample top-up is there with its rule" grep -q '"ratioBp": "5000"' <<<"$out"
out=$(local_run ctl call finance GetProgramme '{"code": "dalang-innovation-voucher"}' || true)
check "the sample voucher is there with its scope" grep -q '"cloud"' <<<"$out"
out=$(local_run ctl call finance GetProgramme '{"code": "yuetang-listing-stages"}' || true)
check "the sample listing rewards are there" grep -q '"kind": "listing_reward"' <<<"$out"
out=$(local_run ctl call finance GetProgramme '{"code": "zhongshan-incubation-subsidy"}' || true)
check "the sample incubation subsidy is there" grep -q '"kind": "incubation_subsidy"' <<<"$out"
# The incubator runs beside them, and its directory is public.
out=$(local_run ctl services incubator || true)
check "the incubator is registered with the brokers" [ "$out" = "incubator 200" ]
out=$(local_run ctl call incubator ListCarriers '{}' || true)
check "the carrier directory answers" grep -q '"status": "OK"' <<<"$out"
# The HTTP gateway answers the public lookups, and nothing else without sign-in.
gateway_port=$(sed -n 's/^gateway=//p' "$data/ports")
out=$(curl -s "http://127.0.0.1:$gateway_port/v1/names?query=%E6%9C%AC%E5%9C%B0" || true)
check "the gateway finds the reserved name over HTTP" grep -q '杭州本地网络科技有限公司' <<<"$out"
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
    -d '{}' "http://127.0.0.1:$gateway_port/v1/name-reservations" || true)
check "the gateway asks for sign-in to reserve a name" [ "$code" = 401 ]
# The reservation is in the registry's audit log, sealed and signed.
registry_url=$(sed -n 's/^db.url = //p' "$data/etc/registry.conf")
for _ in $(seq 1 50); do
    out=$("$build/services/ctl/chuangctl" audit verify "$registry_url" registry \
        "$data/keys/licence" || true)
    grep -qE ': [1-9][0-9]* rows sealed, 0 not yet, [1-9][0-9]* checkpoints.*: intact' \
        <<<"$out" && break
    sleep 0.2
done
check "the registry's audit log holds and is signed with the agency key" \
    grep -qE 'rows sealed, 0 not yet, [1-9][0-9]* checkpoints checked .*: intact' <<<"$out"
out=$(local_run ctl call registry AddToList --roles clerk '{}' || true)
check "a role the operator's key does not hold is refused" \
    grep -q 'operator does not hold the role clerk' <<<"$out"

# The operator follows the registry's events through the feed.
out=$(timeout 20 "$src/deploy/local/chuang" ctl feed tail registry --count 1 || true)
check "the feed serves the reservation to the operator" grep -q '"type":"registry.NameReserved"' <<<"$out"

# A key the brokers do not know gets nothing.
"$build/services/ctl/chuangctl" keygen "$data/stranger" >/dev/null
out=$(CHUANG_SECURITY_CERT=$data/stranger_secret CHUANG_CLIENT_ATTEMPT_MS=500 \
    local_run ctl services nosuch || true)
check "a key not in keys/allow is refused" [ "$out" = "nosuch unreachable" ]

local_run stop >/dev/null
status=$(local_run status)
check "stop: nothing runs" [ "$(grep -c running <<<"$status")" = 0 ]
check "stop: data kept" [ -f "$data/pg/PG_VERSION" ]

check_summary
