# The seed example (built against the -dev package, running against the
# installed library) through the default socket, /run/rocker/rockerd.sock.
unset ROCKER_SOCKET
out=$("$MATRIX_SEED" "$MATRIX_IMAGE" /var/your_APP/execdir "$MATRIX_WORK/seed-data")
echo "$out"
echo "$out" | grep -q 'PID 1 is: 1 (rk-'
echo "$out" | grep -q 'image mounted at /var/your_APP/execdir: .*README'
test -f "$MATRIX_WORK/seed-data/overlay/var/upper/tmp/your_APP-was-here"
test ! -e /var/tmp/your_APP-was-here
# The seed kills its guard with ROCKER_kill_rocker() (a signal: it does not
# wait), then exits: the rocker is gone once rockerd has reaped the guard,
# which tears down a PID namespace first. Wait for that, bounded (10 s).
left=
for _ in $(seq 100); do
        left=$(rocker ps --json)
        [ "$left" = "[]" ] && break
        sleep 0.1
done
[ "$left" = "[]" ] || { echo "still listed 10 s after the kill: $left"; false; }
