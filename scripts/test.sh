#!/bin/sh
# The whole test suite, as CI runs it: dependencies, a warnings-as-errors
# build and every test (unit + integration against a real rockerd); then the
# same suite built with ASan+UBSan; then the unit tests under valgrind; then
# the compatibility suite (real Debian programs in rockers, tests/compat/,
# screenshots kept in build-test/compat-artifacts); the Debian packages,
# built, installed, used and purged again; then the kernel matrix: the
# plain build's suite on Debian's 5.10, 6.1, 6.12 and a >= 6.15 kernel
# under QEMU, and the .debs in a guest running systemd (docs/testing.md).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/install-deps.sh" --compat
jobs=$(nproc)

echo "== build and test"
cmake -S "$top" -B "$top/build-test" -DBUILD_TESTING=ON >/dev/null
cmake --build "$top/build-test" -j"$jobs"
(cd "$top/build-test" && ctest --output-on-failure)

echo "== ASan + UBSan"
cmake -S "$top" -B "$top/build-asan" -DBUILD_TESTING=ON -DROCKER_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build "$top/build-asan" -j"$jobs"
(cd "$top/build-asan" && ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
        ctest --output-on-failure)

echo "== valgrind (unit tests)"
for t in "$top"/build-test/tests/unit/test_*; do
        [ -x "$t" ] || continue
        # valgrind 3.19 does not know pidfd_open(2): ASan covers this one
        [ "$(basename "$t")" = test_registry ] && continue
        valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect,possible --error-exitcode=1 "$t" >/dev/null
        echo "valgrind clean: $(basename "$t")"
done
echo "== compatibility suite: Debian's programs in rockers (about 30 s)"
rc=0
bash "$top/tests/compat/run.sh" "$top/build-test/src/cli/rocker" "$top/build-test/rockerd" \
        "$top/build-test/tests/compat/compat_launcher" "$top/build-test/compat-artifacts" || rc=$?
[ "$rc" -eq 0 ] || [ "$rc" -eq 77 ] || exit "$rc"

echo "== Debian packages: build, install, use, purge"
rm -rf "$top/build-debs"
ROCKER_DEBS_OUT="$top/build-debs" bash "$top/tests/package/test_debs.sh"

echo "== kernel matrix"
# Every row must pass; ROCKER_MATRIX_EXPECT_FAIL lists rows to report
# without failing (docs/testing.md) and is empty here.
ROCKER_MATRIX_EXPECT_FAIL=${ROCKER_MATRIX_EXPECT_FAIL-} \
ROCKER_MATRIX_BUILD="$top/build-test" ROCKER_MATRIX_DEBS="$top/build-debs" \
        bash "$top/scripts/kernel-matrix.sh"

echo "all test stages passed"
