# shellcheck shell=bash
# check.sh - the pass/fail bookkeeping of the shell tests, sourced by them.
#
#   check "what is checked" COMMAND...   runs COMMAND; prints PASS or FAIL
#   check_summary                        prints "N passed, M failed" and
#                                        returns non-zero when any failed
check_passed=0
check_failed=0

check() {
    local what=$1
    shift
    if "$@"; then
        check_passed=$((check_passed + 1))
        echo "PASS  $what"
    else
        check_failed=$((check_failed + 1))
        echo "FAIL  $what"
    fi
}

check_summary() {
    echo "$check_passed passed, $check_failed failed"
    [ "$check_failed" -eq 0 ]
}
