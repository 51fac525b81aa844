# MemoryMax=64M: a memory hog is OOM-killed inside its rocker, while the
# launcher and another rocker live on.
mkdir -p /etc/rocker/apps.d
printf '[Resources]\nMemoryMax=64M\nMemorySwapMax=0\n' >/etc/rocker/apps.d/81.conf
read -r other ogpid < <(rocker run --keep --image "$MATRIX_IMAGE" --exec-dir /opt/app \
        --data-dir "$MATRIX_WORK/cg81-other" -- /opt/app/bin/cat /dev/null)
read -r name gpid < <(rocker run --keep --app-id 81 --image "$MATRIX_IMAGE" --exec-dir /opt/app \
        --data-dir "$MATRIX_WORK/cg81-data" -- /opt/app/bin/cat /dev/null)
cg=/sys/fs/cgroup/rocker.slice/rocker-81-$name.scope
[ "$(cat "$cg/memory.max")" = 67108864 ]
# tail keeps the current "line" of /dev/zero, which never ends, in memory
rc=0
rocker enter "$name" -- /usr/bin/tail /dev/zero || rc=$?
echo "hog: exit $rc; memory.events:"
cat "$cg/memory.events"
[ "$rc" -eq 137 ]
[ "$(sed -n 's/^oom_kill //p' "$cg/memory.events")" -ge 1 ]
grep -qx "$name" "/proc/$gpid/comm"      # its guard lives (OOMPolicy=continue)
grep -qx "$other" "/proc/$ogpid/comm"    # so does the other rocker
rocker kill "$name"
rocker kill "$other"
rm /etc/rocker/apps.d/81.conf
