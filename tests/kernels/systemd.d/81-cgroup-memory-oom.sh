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
echo "hog: exit $rc"
[ "$rc" -eq 137 ]                        # SIGKILL: the kernel's OOM killer
grep -qx "$other" "/proc/$ogpid/comm"    # the other rocker lives on
echo "figure: MemoryMax=64M: the hog exited $rc (SIGKILL), oom_kill $(sed -n 's/^oom_kill //p' "$cg/memory.events" 2>/dev/null || echo -) in the scope, the other rocker and the launcher live on"
sysv=$(systemctl --version | sed -n '1s/^systemd \([0-9]*\).*/\1/p')
if [ "$sysv" -ge 253 ]; then
        # OOMPolicy=continue (rocker's default) is honoured for scopes
        grep -qx "$name" "/proc/$gpid/comm"
        grep -q '^oom_kill [1-9]' "$cg/memory.events"
        rocker kill "$name"
else
        # systemd < 253 applies its DefaultOOMPolicy=stop to scopes: the
        # OOM kill ends the whole rocker (docs/cgroups.md)
        echo "systemd $sysv: the rocker ended with its OOM kill"
fi
rocker kill "$other"
rm /etc/rocker/apps.d/81.conf
