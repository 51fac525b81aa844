# systemctl restart rockerd keeps a rocker's scope and its limits; the new
# rockerd adopts the rocker with its cgroup, and the scope goes with it.
mkdir -p /etc/rocker/apps.d
printf '[Resources]\nMemoryMax=96M\nTasksMax=50\n' >/etc/rocker/apps.d/84.conf
read -r name gpid < <(rocker run --keep --app-id 84 --image "$MATRIX_IMAGE" --exec-dir /opt/app \
        --data-dir "$MATRIX_WORK/cg84-data" -- /opt/app/bin/cat /dev/null)
unit=rocker-84-$name.scope
cg=/sys/fs/cgroup/rocker.slice/$unit
systemctl restart rockerd.service
systemctl is-active "$unit"
[ "$(cat "$cg/memory.max")" = 100663296 ]
[ "$(cat "$cg/pids.max")" = 50 ]
[ "$(sed -n 's/^0:://p' "/proc/$gpid/cgroup")" = "/rocker.slice/$unit" ]
rocker ps --json | python3 -c '
import json, sys
r = [r for r in json.load(sys.stdin) if r["guard"] == sys.argv[1]][0]
assert r["cgroup"] == "/rocker.slice/" + sys.argv[2] and r["memory_bytes"] > 0, r' "$name" "$unit"
rocker kill "$name"
for _ in $(seq 100); do systemctl is-active -q "$unit" || break; sleep 0.1; done
not systemctl is-active -q "$unit"
rm /etc/rocker/apps.d/84.conf
