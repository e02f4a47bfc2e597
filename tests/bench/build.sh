# shellcheck shell=bash
# build.sh - what every tests/bench/run*.sh does first: source it, then
#
#   bench_build BUILD_DIR [TARGET...]
#
# configures BUILD_DIR (RelWithDebInfo, no sanitizers) when it has no
# CMakeCache.txt yet, warns when an existing one is another build type or
# sanitized (its figures are not release figures), and builds the targets
# (everything when none is named), quietly. Returns non-zero when the build
# fails.
bench_build() (
    set -euo pipefail
    local dir=$1 top name
    shift
    top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
    name=$(basename "$0")
    if [ ! -f "$dir/CMakeCache.txt" ]; then
        cmake -S "$top" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
            -DCHUANG_SANITIZE=OFF >/dev/null
    fi
    local build_type sanitize
    build_type=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$dir/CMakeCache.txt")
    sanitize=$(sed -n 's/^CHUANG_SANITIZE:[A-Z]*=//p' "$dir/CMakeCache.txt")
    if [ "$build_type" != RelWithDebInfo ] || [ "${sanitize:-OFF}" != OFF ]; then
        echo "$name: note: $dir is $build_type with CHUANG_SANITIZE=${sanitize:-OFF};" \
            "figures from it are not release figures" >&2
    fi
    local targets=()
    for target in "$@"; do
        targets+=(--target "$target")
    done
    cmake --build "$dir" -j"$(nproc)" "${targets[@]}" >/dev/null
)
