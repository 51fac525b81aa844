# The seed example (built against the -dev package, running against the
# installed library) through the default socket, /run/rocker/rockerd.sock.
unset ROCKER_SOCKET
out=$("$MATRIX_SEED" "$MATRIX_IMAGE" /var/your_APP/execdir "$MATRIX_WORK/seed-data")
echo "$out"
echo "$out" | grep -q 'PID 1 is: 1 (rk-'
echo "$out" | grep -q 'image mounted at /var/your_APP/execdir: .*README'
test -f "$MATRIX_WORK/seed-data/overlay/var/upper/tmp/your_APP-was-here"
test ! -e /var/tmp/your_APP-was-here
[ "$(rocker ps --json)" = "[]" ]
