#!/usr/bin/env bash
# run.sh [SECONDS [BUILD_DIR]] - builds the libFuzzer harnesses with clang
# (CHUANG_FUZZ=ON: everything instrumented, with AddressSanitizer and
# UndefinedBehaviorSanitizer) in BUILD_DIR (default build-fuzz) and runs each
# for SECONDS (default 30), starting from its seeds in corpus/<name> (copied:
# what a run finds is not written back into the tree; the JSON harnesses also
# get json.dict). Prints one line per harness with the executions, their rate
# and the coverage reached (libFuzzer's cov: edges, ft: features). Exits 1
# when any harness crashed, leaked or hit undefined behaviour; its log and
# reproducer are kept in fuzz-failures/.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source_dir=$(cd "$here/../.." && pwd)
seconds=${1:-30}
build_dir=$(realpath -m -- "${2:-$source_dir/build-fuzz}")
fuzzers=(envelope broker_envelope pbjson feed config identifiers enterprise_name licence gateway)

"$source_dir/deploy/install-deps.sh"
CC=clang cmake -S "$source_dir" -B "$build_dir" -DCMAKE_BUILD_TYPE=Debug -DCHUANG_FUZZ=ON \
    >/dev/null
cmake --build "$build_dir" -j"$(nproc)" --target "${fuzzers[@]/#/fuzz_}" >/dev/null

work=$(mktemp -d "${TMPDIR:-/tmp}/chuang-fuzz.XXXXXX")
trap 'rm -rf -- "$work"' EXIT
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
failed=0
printf '%-16s %10s %10s %8s %8s  %s\n' harness executions exec/s cov ft result
for name in "${fuzzers[@]}"; do
    corpus=$work/$name
    mkdir -p "$corpus" "$work/crashes"
    seeds=$name
    [ "$name" = broker_envelope ] && seeds=envelope # the same request bodies
    cp -r "$here/corpus/$seeds/." "$corpus/" 2>/dev/null || true
    log=$work/$name.log
    dict=()
    case $name in pbjson | licence) dict=(-dict="$here/json.dict") ;; esac
    rc=0
    "$build_dir/tests/fuzz/fuzz_$name" -max_total_time="$seconds" -print_final_stats=1 \
        "${dict[@]}" -artifact_prefix="$work/crashes/$name-" "$corpus" >"$log" 2>&1 || rc=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
    ft=$(grep -o 'ft: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
    result=ok
    if [ "$rc" -ne 0 ]; then
        failed=1
        result="FAILED (exit $rc)"
        keep=$source_dir/fuzz-failures
        mkdir -p "$keep"
        cp "$log" "$keep/$name.log"
        cp "$work"/crashes/"$name"-* "$keep/" 2>/dev/null || true
    fi
    printf '%-16s %10s %10s %8s %8s  %s\n' "$name" "${runs:-?}" "${rate:-?}" "${cov:-?}" \
        "${ft:-?}" "$result"
done
if [ "$failed" -ne 0 ]; then
    echo "run.sh: a harness failed; its log and reproducer are in $source_dir/fuzz-failures" >&2
    sed -n '/ERROR\|SUMMARY/,+20p' "$source_dir"/fuzz-failures/*.log | head -60 >&2
fi
exit "$failed"
