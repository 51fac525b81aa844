# CPUQuota=20%: a spinner gets about 0.2 s of CPU per second (measured on
# the scope's cpu.stat over 4 s; 35% allowed for TCG's coarse timing).
mkdir -p /etc/rocker/apps.d
printf '[Resources]\nCPUQuota=20%%\n' >/etc/rocker/apps.d/83.conf
read -r name gpid < <(rocker run --keep --app-id 83 --image "$MATRIX_IMAGE" --exec-dir /opt/app \
        --data-dir "$MATRIX_WORK/cg83-data" -- /bin/sh -c '/bin/sh -c "while :; do :; done" & exit 0')
cg=/sys/fs/cgroup/rocker.slice/rocker-83-$name.scope
cat "$cg/cpu.max"
[ "$(cat "$cg/cpu.max")" = "20000 100000" ]
usage() { sed -n 's/^usage_usec //p' "$cg/cpu.stat"; }
sleep 1
u0=$(usage); t0=$(date +%s%N)
sleep 4
u1=$(usage); t1=$(date +%s%N)
share=$(( (u1 - u0) * 1000 / ((t1 - t0) / 1000) ))   # per mille of one CPU
echo "spinner share: ${share}/1000 of a CPU (quota 200)"
echo "figure: CPUQuota=20%: a spinner got ${share}/1000 of a CPU over 4 s"
[ "$share" -ge 50 ]
[ "$share" -le 350 ]
rocker kill "$name"
rm /etc/rocker/apps.d/83.conf
