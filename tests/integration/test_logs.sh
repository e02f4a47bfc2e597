#!/usr/bin/env bash
# test_logs.sh - no log line of the whole run holds a resident ID number or a
# mobile phone number. Runs after every integration test that starts
# services, over the logs they left in the harness's folder and in the other
# folders named (those of tests with servers of their own).
#
#   test_logs.sh <harness env file> [folder...]
set -euo pipefail
env_file=$1
shift
src=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=check.sh
. "$src/tests/integration/check.sh"

dir=$(sed -n 's/^CHUANG_TEST_DIR=//p' "$env_file")
folders=("$dir")
for folder in "$@"; do
    [ -d "$folder" ] && folders+=("$folder")
done
mapfile -t logs < <(find "${folders[@]}" -name '*.log' -type f)
check "the run left service logs to read" [ "${#logs[@]}" -gt 5 ]
# GB 11643: six-digit division, birth date, sequence, check character; and
# mainland mobile numbers, each standing alone (not inside a hex request id).
# Neither may appear outside masking (a run of '*').
id='(^|[^0-9A-Za-z])[1-9][0-9]{5}(19|20)[0-9]{2}(0[1-9]|1[0-2])(0[1-9]|[12][0-9]|3[01])[0-9]{3}[0-9Xx]([^0-9A-Za-z]|$)'
phone='(^|[^0-9A-Za-z])1[3-9][0-9]{9}([^0-9A-Za-z]|$)'
found=$(grep -EHn -e "$id" -e "$phone" "${logs[@]}" | head -5 || true)
if [ -n "$found" ]; then
    echo "personal data in logs:"
    echo "$found"
fi
check "no log line holds an ID number or a phone number" [ -z "$found" ]
check_summary
