# A rocker gets its transient scope rocker-<app_id>-<guard>.scope in
# rocker.slice while it lives; its app (run and enter) is in it; rocker ps
# shows the scope's memory and CPU time; the scope is gone after the kill.
read -r name gpid < <(rocker run --keep --app-id 80 --image "$MATRIX_IMAGE" --exec-dir /opt/app \
        --data-dir "$MATRIX_WORK/cg80-data" -- /opt/app/bin/cat /dev/null)
echo "kept: $name $gpid"
unit=rocker-80-$name.scope
systemctl is-active "$unit"
[ "$(systemctl show -P Slice "$unit")" = rocker.slice ]
cg=$(sed -n 's/^0:://p' "/proc/$gpid/cgroup")
echo "guard's cgroup: $cg"
[ "$cg" = "/rocker.slice/$unit" ]
# the app of an enter lands in it, at the root of the rocker's cgroup namespace
[ "$(rocker enter "$name" -- /opt/app/bin/cat /proc/self/cgroup)" = "0::/" ]
rocker ps | tee /dev/stderr | grep -E "^$name +$gpid +80 " | grep -Eq ' [0-9.]+[BKMG] +[0-9.]+s '
rocker ps --json | python3 -c '
import json, sys
r = [r for r in json.load(sys.stdin) if r["guard"] == sys.argv[1]][0]
print(r)
assert r["cgroup"] == sys.argv[2], r
assert r["memory_bytes"] > 0 and r["cpu_usec"] >= 0 and r["cgroup_note"] is None, r' "$name" "$cg"
rocker kill "$name"
for _ in $(seq 100); do systemctl is-active -q "$unit" || break; sleep 0.1; done
not systemctl is-active -q "$unit"
test ! -d "/sys/fs/cgroup$cg"
