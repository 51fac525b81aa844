#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Builds the protocol fuzzers with clang and libFuzzer, without CMake, and
# runs each for a bounded time on a copy of the seed corpus (docs/fuzzing.md).
# Nothing is written into the source tree.
#
# Environment:
#   FUZZ_SECONDS    seconds of fuzzing per fuzzer (default 20)
#   FUZZ_TARGETS    which fuzzers, by name (default "request reply")
#   FUZZ_ARGS       more libFuzzer flags, e.g. "-jobs=8 -workers=2"; the
#                   outer time-out is then off, libFuzzer's flags rule
#   FUZZ_ARTIFACTS  where crashing, leaking or slow inputs are saved
#                   (default: artifacts/ in the work dir, kept on a finding)
#   FUZZ_KEEP=1     keep the work dir (fuzzers, grown corpora, logs) anyway
#
# Exit status: 0 when no fuzzer reported anything, 1 on any crash, leak,
# undefined behaviour, time-out or build failure, 77 when clang with
# libFuzzer cannot be had (not root, and not installed).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
FUZZ_SECONDS=${FUZZ_SECONDS:-20}
FUZZ_TARGETS=${FUZZ_TARGETS:-request reply}
FUZZ_ARGS=${FUZZ_ARGS:-}

if ! [[ $FUZZ_SECONDS =~ ^[0-9]+$ ]] || ((FUZZ_SECONDS == 0)); then
        # libFuzzer reads -max_total_time=0 as "forever".
        echo "run.sh: FUZZ_SECONDS must be a positive number of seconds, not '$FUZZ_SECONDS'" >&2
        exit 1
fi

# --- tools -----------------------------------------------------------------
installed() {
        [[ $(dpkg-query -W -f='${Status}' "$1" 2>/dev/null) == "install ok installed" ]]
}

apt_install() {
        if (($(id -u) != 0)); then
                echo "run.sh: missing Debian packages: $*; not root, so not installing them (skipped)" >&2
                exit 77
        fi
        echo "run.sh: installing $*" >&2
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq >&2
        apt-get install -y -qq "$@" >&2
}

if command -v dpkg-query >/dev/null; then
        missing=()
        for p in clang pkg-config libjansson-dev; do
                installed "$p" || missing+=("$p")
        done
        ((${#missing[@]} == 0)) || apt_install "${missing[@]}"
        # libFuzzer and the sanitizers' runtimes come apart from clang, one
        # package per clang version (libclang-rt-14-dev on Debian 12).
        major=$(clang -dumpversion | cut -d. -f1)
        installed "libclang-rt-$major-dev" || apt_install "libclang-rt-$major-dev"
fi
if ! command -v clang >/dev/null || ! pkg-config --exists jansson; then
        echo "run.sh: clang and jansson's pkg-config file are needed (skipped)" >&2
        exit 77
fi

# --- work dir ----------------------------------------------------------------
WORK=$(mktemp -d "${TMPDIR:-/tmp}/rocker-fuzz.XXXXXX")
ARTIFACTS=${FUZZ_ARTIFACTS:-$WORK/artifacts}
mkdir -p "$ARTIFACTS"
ARTIFACTS=$(cd "$ARTIFACTS" && pwd)
status=0
# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() {
        if ((status == 0)) && [[ -z ${FUZZ_KEEP:-} ]]; then
                rm -rf "$WORK"
        else
                echo "run.sh: work dir kept: $WORK"
        fi
}
trap cleanup EXIT

# --- build -----------------------------------------------------------------
# -fno-sanitize-recover=all: UBSan's reports abort, so libFuzzer saves the
# input like any crash instead of printing a line and going on.
read -r -a jansson_flags <<<"$(pkg-config --cflags --libs jansson)"
for t in $FUZZ_TARGETS; do
        if [[ ! -f $ROOT/tests/fuzz/fuzz_$t.c || ! -d $ROOT/tests/fuzz/corpus/$t ]]; then
                echo "run.sh: no fuzzer '$t' (tests/fuzz/fuzz_$t.c and corpus/$t/)" >&2
                status=1
                exit 1
        fi
        echo "run.sh: building fuzz_$t"
        if ! clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
                -Wall -Wextra -D_GNU_SOURCE -I "$ROOT/src/common" -I "$ROOT/include" \
                "$ROOT/src/common/proto.c" "$ROOT/src/common/util.c" "$ROOT/src/common/procfs.c" "$ROOT/src/common/error.c" "$ROOT/tests/fuzz/fuzz_$t.c" \
                "${jansson_flags[@]}" -o "$WORK/fuzz_$t"; then
                echo "run.sh: building fuzz_$t failed" >&2
                status=1
                exit 1
        fi
done

# --- run ---------------------------------------------------------------------
export ASAN_OPTIONS="detect_leaks=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
read -r -a extra <<<"$FUZZ_ARGS"
outer=()
[[ -n $FUZZ_ARGS ]] || outer=(timeout -k 10 $((FUZZ_SECONDS + 300)))

summary=()
passed=0
failed=0
for t in $FUZZ_TARGETS; do
        corpus=$WORK/corpus-$t
        rundir=$WORK/run-$t
        log=$WORK/fuzz_$t.log
        cp -r "$ROOT/tests/fuzz/corpus/$t" "$corpus"
        mkdir -p "$rundir"
        echo "run.sh: fuzz_$t for ${FUZZ_SECONDS} s on $(find "$corpus" -type f | wc -l) seed inputs"
        rc=0
        # Run inside rundir: with -jobs, libFuzzer writes fuzz-N.log there.
        (cd "$rundir" && "${outer[@]}" "$WORK/fuzz_$t" \
                -max_len=70000 -max_total_time="$FUZZ_SECONDS" -timeout=10 -rss_limit_mb=2048 \
                -print_final_stats=1 -dict="$ROOT/tests/fuzz/proto.dict" \
                -artifact_prefix="$ARTIFACTS/$t-" "${extra[@]}" "$corpus") >"$log" 2>&1 || rc=$?

        logs=("$log")
        for f in "$rundir"/fuzz-*.log; do
                [[ -e $f ]] && logs+=("$f")
        done
        finding=$(grep -h -E 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:|SUMMARY: |check failed:' \
                "${logs[@]}" | head -n 5 || true)
        # With -jobs, the main log repeats each job's log: count the jobs'.
        stats=("${logs[@]}")
        ((${#logs[@]} == 1)) || stats=("${logs[@]:1}")
        runs=$( (grep -h -E '^Done [0-9]+ runs' "${stats[@]}" || true) | awk '{ n += $2 } END { print n + 0 }')
        done_lines=$(grep -h -E '^Done [0-9]+ runs' "${stats[@]}" || true)
        cov=$(grep -h -E '^#[0-9]+[[:space:]]+DONE ' "${stats[@]}" | tail -n 1 | sed -E 's/^#[0-9]+[[:space:]]+DONE +//' || true)

        if ((rc != 0)) || [[ -n $finding ]]; then
                failed=$((failed + 1))
                status=1
                echo "run.sh: fuzz_$t FAILED (exit $rc); last lines of $log:" >&2
                tail -n 60 "$log" >&2
                for f in "${logs[@]:1}"; do
                        echo "--- $f" >&2
                        tail -n 40 "$f" >&2
                done
                summary+=("fuzz_$t: FAILED after ${runs} runs (exit $rc)")
        else
                passed=$((passed + 1))
                summary+=("fuzz_$t: ${done_lines//$'\n'/; } (${cov:-no coverage line})")
        fi
done

shopt -s nullglob
found=("$ARTIFACTS"/*)
if ((${#found[@]} > 0)); then
        status=1
        echo "run.sh: inputs saved in $ARTIFACTS:" >&2
        for f in "${found[@]}"; do
                size=$(stat -c %s "$f")
                echo "  $f ($size bytes)" >&2
                if ((size <= 4096)); then
                        echo "    hex: $(od -An -v -tx1 "$f" | tr -d ' \n')" >&2
                fi
        done
        echo "run.sh: replay one with: <fuzzer> <file> (the fuzzers are in $WORK)" >&2
fi

echo
echo "=== fuzz summary (${FUZZ_SECONDS} s per fuzzer) ==="
for line in "${summary[@]}"; do
        echo "$line"
done
echo "fuzz: $passed passed, $failed failed"
exit "$status"
