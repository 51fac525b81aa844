# TasksMax=32: a fork bomb stops at 32 tasks in its rocker.
mkdir -p /etc/rocker/apps.d
printf '[Resources]\nTasksMax=32\n' >/etc/rocker/apps.d/82.conf
read -r name gpid < <(rocker run --keep --app-id 82 --image "$MATRIX_IMAGE" --exec-dir /opt/app \
        --data-dir "$MATRIX_WORK/cg82-data" -- /opt/app/bin/cat /dev/null)
cg=/sys/fs/cgroup/rocker.slice/rocker-82-$name.scope
[ "$(cat "$cg/pids.max")" = 32 ]
# 100 sleepers, each fork checked; the ones past the limit fail
rocker enter "$name" -- /bin/sh -c 'i=0; while [ $i -lt 100 ]; do /bin/sleep 60 & i=$((i+1)); done 2>/dev/null; exit 0' || true
echo "pids.current $(cat "$cg/pids.current"); pids.events: $(cat "$cg/pids.events")"
echo "figure: TasksMax=32: 100 forks tried, $(cat "$cg/pids.current") tasks in the scope, $(sed -n 's/^max //p' "$cg/pids.events") forks refused"
[ "$(cat "$cg/pids.current")" -le 32 ]
[ "$(sed -n 's/^max //p' "$cg/pids.events")" -ge 1 ]
grep -qx "$name" "/proc/$gpid/comm"
rocker kill "$name"
rm /etc/rocker/apps.d/82.conf
