#!/usr/bin/env bash
# run_feed.sh [BUILD_DIR [bench_feed options...]] - the feed benchmark:
# latency from append to a department following chuang-feed, against plain
# XREAD, unloaded and while a subscriber that never reads floods the feed
# (see bench_feed.c for what is measured and how).
#
# Builds bench_feed and the feed if needed in BUILD_DIR (default: build-bench
# at the top of the source tree, configured RelWithDebInfo without
# sanitizers when it does not exist yet), starts a private harness
# (tests/harness/start.sh) in a temporary folder, runs bench_feed against its
# Redis and stops the harness, also on failure or interruption. The run
# takes about half a minute and is cut off after BENCH_TIMEOUT seconds
# (default 180). The table goes to stdout; the feed's log is kept only when
# the run fails.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source_dir=$(cd "$here/../.." && pwd)
build_dir=$(realpath -m -- "${1:-$source_dir/build-bench}")
[ $# -gt 0 ] && shift

# shellcheck source-path=SCRIPTDIR source=build.sh
. "$here/build.sh"
bench_build "$build_dir" bench_feed chuang-feed

work=$(mktemp -d "${TMPDIR:-/tmp}/chuang-bench-feed.XXXXXX")
harness=$work/harness
mkdir -p "$work/logs"
ok=0
cleanup() {
    "$here/../harness/stop.sh" "$harness" || true
    if [ "$ok" = 1 ]; then
        rm -rf -- "$work"
    else
        echo "run_feed.sh: logs kept in $work/logs" >&2
    fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

"$here/../harness/start.sh" "$harness" >&2
redis_url=$(sed -n 's/^CHUANG_TEST_REDIS_URL=//p' "$harness/env")
timeout --foreground -k 10 "${BENCH_TIMEOUT:-180}" \
    "$build_dir/tests/bench/bench_feed" -s "$redis_url" -l "$work/logs" \
    -f "$build_dir/services/feed/chuang-feed" "$@"
ok=1
