# SPDX-License-Identifier: MIT
# shellcheck shell=bash
# What the shell suites share (test_cli.sh, test_cli_user.sh, test_stop.sh,
# test_cgroup.sh), sourced at their start; they set ROCKER (the rocker
# tool) and T (their temp dir) before calling what uses them.
#
#   EVWAIT                    evwait.py, beside this file
#   skip_unless_root WHY TOOL...  exits 77 (skipped) unless run as root with
#                             every TOOL on PATH
#   fail WHAT / pass WHAT     one line each; fail counts in FAILED
#   check WHAT CMD...         runs CMD, passes or fails WHAT; counts in CHECKS
#   rk ARGS...                rocker as root: stdout in $T/out, stderr in
#                             $T/err, status in $RC
#   show                      $RC and the last command's stdout and stderr
#   expect_rc N WHAT          checks $RC, shows the output when it is wrong
#   wait_until CMD...         polls CMD every 50 ms for at most WAIT_SECS
#                             seconds (default 30: a bound of time, not of
#                             tries, so a slow machine gets as long as a fast
#                             one). Only for what the kernel gives no event
#                             for; processes are waited for on pidfds
#                             (evwait.py).

# shellcheck disable=SC2034  # the suites use it
EVWAIT=$(dirname "${BASH_SOURCE[0]}")/evwait.py
FAILED=0
CHECKS=0
WAIT_SECS=${WAIT_SECS:-30}

skip_unless_root() {
        local c
        if [ "$(id -u)" -ne 0 ]; then
                echo "SKIP: needs root ($1)"
                exit 77
        fi
        shift
        for c in "$@"; do
                command -v "$c" >/dev/null || { echo "SKIP: $c not found"; exit 77; }
        done
}

fail() { echo "FAIL: $*"; FAILED=$((FAILED + 1)); }
pass() { echo "ok: $*"; }

check() {
        local what=$1
        shift
        CHECKS=$((CHECKS + 1))
        if "$@"; then pass "$what"; else fail "$what"; fi
}

rk() {
        "$ROCKER" "$@" >"$T/out" 2>"$T/err"
        RC=$?
}

show() {
        echo "  status $RC; stdout:"
        sed 's/^/    | /' "$T/out"
        echo "  stderr:"
        sed 's/^/    | /' "$T/err"
}

expect_rc() {
        CHECKS=$((CHECKS + 1))
        if [ "$RC" -eq "$1" ]; then
                pass "$2 (exit $RC)"
        else
                fail "$2: exit $RC, expected $1"
                show
        fi
}

wait_until() {
        local end=$((SECONDS + WAIT_SECS))
        until "$@"; do
                [ "$SECONDS" -lt "$end" ] || return 1
                sleep 0.05
        done
}
