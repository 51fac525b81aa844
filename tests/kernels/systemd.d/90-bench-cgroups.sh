# The cost of a cgroup per rocker on the warm enter, under systemd: the
# project's benchmark (quick, one run each) with no cgroup, a cgroupfs
# subtree, a transient scope, and a scope with limits. Only when the matrix
# runs with ROCKER_MATRIX_BENCH=1 (it takes minutes under TCG); each
# configuration prints its warm-enter row as a figure.
if [ -z "${MATRIX_BENCH:-}" ]; then
        echo "a benchmark, run with ROCKER_MATRIX_BENCH=1"
        exit 77
fi
for mode in no cgroupfs systemd "systemd --limits"; do
        # shellcheck disable=SC2086 # mode carries the option's own word
        out=$("$MATRIX_BUILD/bench/rocker_bench" --quick --runs 30 --cgroups $mode 2>&1) ||
                { echo "$out" | tail -n 20; exit 1; }
        row=$(grep -m1 'warm enter -> callback  \[1 data dir' <<<"$out" | awk '{ print "median " $(NF-7) " ms, p99 " $(NF-5) " ms, x unshare " $(NF-1) }')
        echo "figure: warm enter, Cgroups=$mode: $row"
done
