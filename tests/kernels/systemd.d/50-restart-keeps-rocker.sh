# "systemctl restart rockerd" with a live rocker: the rocker survives
# (KillMode=process), the new rockerd adopts it, lists it and kills it.
read -r name gpid < <(rocker run --keep --image "$MATRIX_IMAGE" --exec-dir /opt/app \
        --data-dir "$MATRIX_WORK/keep-data" --overlay /opt -- true)
echo "kept: $name $gpid"
[[ $name == rk-* ]]
grep -qx "$name" "/proc/$gpid/comm"
old=$(systemctl show -P MainPID rockerd.service)
systemctl restart rockerd.service
new=$(systemctl show -P MainPID rockerd.service)
echo "rockerd: $old -> $new"
[ "$new" -gt 0 ]
[ "$new" != "$old" ]
grep -qx "$name" "/proc/$gpid/comm"
rocker ps | tee /dev/stderr | grep -Eq "^$name +$gpid "
rocker kill "$name"
for _ in $(seq 100); do [ -e "/proc/$gpid" ] || break; sleep 0.1; done
test ! -e "/proc/$gpid"
[ "$(rocker ps --json)" = "[]" ]
