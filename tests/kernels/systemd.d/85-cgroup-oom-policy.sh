# OOMPolicy=kill: with systemd >= 253 an OOM kill ends the whole rocker
# (memory.oom.group); with an older systemd (Debian 12's 252 has no
# OOMPolicy= for scopes) the app is refused, saying so.
mkdir -p /etc/rocker/apps.d
printf '[Resources]\nMemoryMax=64M\nMemorySwapMax=0\nOOMPolicy=kill\n' >/etc/rocker/apps.d/85.conf
version=$(systemctl --version | sed -n '1s/^systemd \([0-9]*\).*/\1/p')
echo "systemd $version"
if [ "$version" -lt 253 ]; then
        not rocker run --app-id 85 --image "$MATRIX_IMAGE" --exec-dir /opt/app \
                --data-dir "$MATRIX_WORK/cg85-data" -- /opt/app/bin/cat /opt/app/README 2>"$MATRIX_WORK/cg85.err"
        cat "$MATRIX_WORK/cg85.err"
        grep -q 'OOMPolicy=kill.*needs systemd 253' "$MATRIX_WORK/cg85.err"
else
        read -r name gpid < <(rocker run --keep --app-id 85 --image "$MATRIX_IMAGE" --exec-dir /opt/app \
                --data-dir "$MATRIX_WORK/cg85-data" -- /opt/app/bin/cat /dev/null)
        [ "$(cat "/sys/fs/cgroup/rocker.slice/rocker-85-$name.scope/memory.oom.group")" = 1 ]
        rocker enter "$name" -- /usr/bin/tail /dev/zero || true
        for _ in $(seq 100); do [ -e "/proc/$gpid" ] || break; sleep 0.1; done
        test ! -e "/proc/$gpid"   # the guard went with the hog
fi
rm /etc/rocker/apps.d/85.conf
