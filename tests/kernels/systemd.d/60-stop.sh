# "systemctl stop rockerd" as rockerd(8) and docs/data-dir.md describe it:
# the daemon stops, live rockers keep running, the socket stays and the next
# client starts a rockerd that adopts them.
read -r name gpid < <(rocker run --keep --image "$MATRIX_IMAGE" --exec-dir /opt/app \
        --data-dir "$MATRIX_WORK/stop-data" --overlay /opt -- true)
[[ $name == rk-* ]]
systemctl stop rockerd.service
not systemctl is-active rockerd.service
[ "$(systemctl show -P Result rockerd.service)" = success ]
grep -qx "$name" "/proc/$gpid/comm"
systemctl is-active rockerd.socket
rocker ps | grep -Eq "^$name +$gpid "
systemctl is-active rockerd.service
rocker kill "$name"
for _ in $(seq 100); do [ -e "/proc/$gpid" ] || break; sleep 0.1; done
test ! -e "/proc/$gpid"
# Stopping the socket too leaves nothing running.
systemctl stop rockerd.socket rockerd.service
not systemctl is-active rockerd.service
not systemctl is-active rockerd.socket
