#!/bin/sh
# The 30-second tour: build rocker, start rockerd on a private socket, build
# a small app image, and run the seed's example in a rocker.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/install-deps.sh"
build="$top/build"
cmake -S "$top" -B "$build" -DBUILD_TESTING=OFF >/dev/null
cmake --build "$build" -j"$(nproc)" >/dev/null

T=$(mktemp -d /tmp/rocker-demo.XXXXXX)
daemon=""
cleanup() {
        [ -n "$daemon" ] && kill "$daemon" 2>/dev/null && wait "$daemon" 2>/dev/null
        rm -rf "$T"
}
trap cleanup EXIT INT TERM

# The app image: a README and a binary.
mkdir -p "$T/image/bin"
echo "hello from inside your_APP's image" > "$T/image/README"
cp /bin/true "$T/image/bin/"
mksquashfs "$T/image" "$T/your_APP.squashfs" -noappend -quiet -all-root >/dev/null

"$build/rockerd" --socket "$T/rockerd.sock" 2>"$T/rockerd.log" &
daemon=$!
for _ in $(seq 100); do [ -S "$T/rockerd.sock" ] && break; sleep 0.05; done

echo "== the seed's example, in a rocker (exec dir under the overlaid /var, data dir $T/datadir)"
ROCKER_SOCKET="$T/rockerd.sock" "$build/seed_example" "$T/your_APP.squashfs" /var/your_APP/execdir "$T/datadir"
echo
echo "== where the app's writes landed (the data dir's upper layers):"
find "$T/datadir/overlay" -path '*/upper/*' | sed "s|$T/||"
echo "== on the host, /var/tmp/your_APP-was-here: $( [ -e /var/tmp/your_APP-was-here ] && echo exists || echo 'does not exist')"
echo
echo "== rockerd's log:"
sleep 0.2
cat "$T/rockerd.log"
