#!/bin/bash
# SPDX-License-Identifier: MIT
#
# The kernel matrix: boots Debian's own kernel packages (5.10, 6.1, 6.12 and
# a >= 6.15 control, tests/kernels/kernels.conf) under qemu-system-x86_64 on a
# Debian 12 rootfs made with debootstrap, runs the plain build's whole ctest
# suite (unit + integration, as root: real loop devices, squashfs, overlayfs,
# FUSE) in each guest, then boots one guest with systemd as PID 1 that
# installs the project's .debs and runs tests/kernels/systemd.d/*.
#
#   bash scripts/kernel-matrix.sh                 (as root)
#
# Environment (all optional):
#   ROCKER_MATRIX_SRC=DIR        source tree to test (default: this checkout)
#   ROCKER_MATRIX_BUILD=DIR      its plain build dir, configured with
#                                -DBUILD_TESTING=ON (default: SRC/build-test;
#                                configured and built when it has no CTestTestfile)
#   ROCKER_MATRIX_DEBS=DIR       the .debs for the systemd guest (default:
#                                built from SRC with dpkg-buildpackage)
#   ROCKER_MATRIX_KERNELS="..."  labels to boot (default: every kernels.conf line)
#   ROCKER_MATRIX_SYSTEMD=LABEL  kernel of the systemd guest (default 6.1:
#                                Debian 12 as shipped); "no" skips that guest
#   ROCKER_MATRIX_EXPECT_FAIL="..." rows (kernel labels, or "systemd") whose
#                                failure is reported but not fatal. A stop-gap
#                                for known-broken kernels only; see docs/testing.md
#   ROCKER_MATRIX_CACHE=DIR      cache (default /var/cache/rocker-kernel-matrix)
#   ROCKER_MATRIX_TIMEOUT=SEC    bound of one guest's boot + run (default 3600)
#   ROCKER_MATRIX_ACCEL=tcg|kvm  default: tcg unless /dev/kvm runs stock kernels
#   ROCKER_MATRIX_MEM=MIB        guest memory (default 2560)
#   ROCKER_MATRIX_BENCH=1        the systemd guest also runs rocker_bench with
#                                a cgroup per rocker and without (docs/cgroups.md)
#   ROCKER_MATRIX_CTEST_ARGS=... what ctest runs in the guests (default:
#                                "-R ^(unit|integration)/": every unit and integration
#                                suite; install/ needs a compiler, not a kernel)
#
# Exit status: 0 when every row passed (or failed and was expected to), 1 otherwise.
set -euo pipefail
# The whole script is one compound command, read before it runs: editing the
# file during a (long) run does not change what that run does.
{
top=$(cd "$(dirname "$0")/.." && pwd)
kdir=$top/tests/kernels
SRC=$(cd "${ROCKER_MATRIX_SRC:-$top}" && pwd)
BUILD=${ROCKER_MATRIX_BUILD:-$SRC/build-test}
CACHE=${ROCKER_MATRIX_CACHE:-/var/cache/rocker-kernel-matrix}
TIMEOUT=${ROCKER_MATRIX_TIMEOUT:-3600}
MEM=${ROCKER_MATRIX_MEM:-2560}
SYSTEMD_KERNEL=${ROCKER_MATRIX_SYSTEMD:-6.1}
EXPECT_FAIL=${ROCKER_MATRIX_EXPECT_FAIL:-}
CTEST_ARGS=${ROCKER_MATRIX_CTEST_ARGS:--R ^(unit|integration)/}
# Bump when the way the rootfs or the kernels are prepared changes in this
# script (the files under tests/kernels/rootfs/ are hashed anyway).
RECIPE=1

if [ "$(id -u)" -ne 0 ]; then
        echo "kernel-matrix.sh: must run as root" >&2
        exit 1
fi
export LC_ALL=C.UTF-8 DEBIAN_FRONTEND=noninteractive

start=$(date +%s)
# The host's tools for the matrix (the build's own come from install-deps.sh).
TOOLS="qemu-system-x86 qemu-utils debootstrap e2fsprogs"
missing=""
for p in $TOOLS; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
        echo "== installing:$missing"
        apt-get update -qq
        # shellcheck disable=SC2086
        apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
mkdir -p "$CACHE"
T=$(mktemp -d "$CACHE/run.XXXXXX")
qemu_pid=""

say() { printf '== [%4ss] %s\n' "$(( $(date +%s) - start ))" "$*"; }
die() { printf 'kernel-matrix.sh: %s\n' "$*" >&2; exit 1; }

# shellcheck disable=SC2317  # called through the trap
cleanup() {
        local rc=$?
        set +e
        trap - EXIT INT TERM
        if [ -n "$qemu_pid" ]; then
                # timeout(1) passes the TERM on to qemu; then qemu itself, by
                # the pid it wrote, if it is still there.
                kill -TERM "$qemu_pid" 2>/dev/null
                for _ in $(seq 50); do kill -0 "$qemu_pid" 2>/dev/null || break; sleep 0.1; done
                local q
                q=$(cat "$T/qemu.pid" 2>/dev/null)
                if [ -n "$q" ] && [ "$(cat "/proc/$q/comm" 2>/dev/null)" = qemu-system-x86 ]; then
                        kill -KILL "$q" 2>/dev/null
                fi
                kill -KILL "$qemu_pid" 2>/dev/null
                wait "$qemu_pid" 2>/dev/null
        fi
        rm -rf "$T" "${IMG:-$T}.part"
        exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# One matrix run at a time on a machine: the cache is shared.
exec 9>"$CACHE/.lock"
flock 9

# ---- the Debian archive, through a private APT configuration ---------------
# The machine's /etc/apt is never touched: indices and downloaded packages
# live under $CACHE/apt, sources in $CACHE/apt/sources.list.
sources_uri() {  # the URI the machine's apt uses for the debian (or debian-security) archive
        local want=$1 f u
        for f in /etc/apt/sources.list.d/*.sources; do
                [ -r "$f" ] || continue
                for u in $(awk '/^URIs:/ { for (i = 2; i <= NF; i++) print $i }' "$f"); do
                        case $u in
                        */debian-security|*/debian-security/) [ "$want" = security ] && { echo "${u%/}"; return; } ;;
                        */debian|*/debian/) [ "$want" = main ] && { echo "${u%/}"; return; } ;;
                        esac
                done
        done
        for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
                [ -r "$f" ] || continue
                for u in $(awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; break } }' "$f"); do
                        case $u in
                        */debian-security|*/debian-security/) [ "$want" = security ] && { echo "${u%/}"; return; } ;;
                        */debian|*/debian/) [ "$want" = main ] && { echo "${u%/}"; return; } ;;
                        esac
                done
        done
        if [ "$want" = security ]; then echo http://deb.debian.org/debian-security; else echo http://deb.debian.org/debian; fi
}
MIRROR=${ROCKER_MATRIX_MIRROR:-$(sources_uri main)}
SECURITY_MIRROR=${ROCKER_MATRIX_SECURITY_MIRROR:-$(sources_uri security)}
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
A=$CACHE/apt
mkdir -p "$A/lists/partial" "$A/archives/partial" "$A/prefs.d" "$CACHE/debs"
{
        for s in bullseye bookworm bookworm-backports trixie trixie-backports; do
                echo "deb [signed-by=$KEYRING] $MIRROR $s main"
        done
        for s in bullseye-security bookworm-security trixie-security; do
                echo "deb [signed-by=$KEYRING] $SECURITY_MIRROR $s main"
        done
} >"$A/sources.list"
APT_OPTS=(-o "Dir::Etc::SourceList=$A/sources.list" -o Dir::Etc::SourceParts=/nonexistent
          -o Dir::Etc::Preferences=/dev/null -o "Dir::Etc::PreferencesParts=$A/prefs.d"
          -o "Dir::State=$A" -o "Dir::State::Lists=$A/lists" -o Dir::State::status=/dev/null
          -o "Dir::Cache=$A" -o "Dir::Cache::Archives=$A/archives"
          -o APT::Architecture=amd64 -o APT::Architectures::=amd64 -o Acquire::Languages=none
          -o Debug::NoLocking=1 -o APT::Sandbox::User=root)

say "Debian archive indices ($MIRROR, $SECURITY_MIRROR)"
if ! apt-get "${APT_OPTS[@]}" -qq update >"$T/apt-update.log" 2>&1; then
        cat "$T/apt-update.log" >&2
        [ -s "$CACHE/kernels.resolved" ] || die "apt-get update failed and nothing is cached"
        echo "apt-get update failed: using the kernels resolved last time" >&2
        cp "$CACHE/kernels.resolved" "$T/kernels.resolved"
fi

# ---- which kernels -----------------------------------------------------------
# kernels.resolved: LABEL PACKAGE VERSION, the newest version of any package
# matching the line's regex in the line's suites.
newest() {  # LABEL SUITES REGEX [MIN]
        local label=$1 suites=$2 regex=$3 min=${4:-} names pkg ver
        names=$(apt-cache "${APT_OPTS[@]}" pkgnames linux-image- | grep -E "$regex" || true)
        [ -n "$names" ] || die "no package matches $regex ($label)"
        # madison: "pkg | version | uri suite/main amd64 Packages"; keep the
        # line's suites, newest first (sort -V orders these kernel versions
        # as dpkg does; dpkg checks the minimum).
        # shellcheck disable=SC2086
        while read -r pkg ver; do
                if [ -n "$min" ] && dpkg --compare-versions "$ver" lt "$min"; then break; fi
                echo "$label $pkg $ver"
                return 0
        done < <(apt-cache "${APT_OPTS[@]}" madison $names |
                 awk -F'|' -v suites=",$suites," '{ gsub(/ /, "", $1); gsub(/ /, "", $2); split($3, u, " "); split(u[2], s, "/")
                                                    if (index(suites, "," s[1] ",")) print $1, $2 }' |
                 sort -k2,2Vr)
        die "no $regex in $suites${min:+ at or above $min} ($label)"
}
if [ ! -s "$T/kernels.resolved" ]; then
        while read -r label suites regex min; do
                case $label in ''|'#'*) continue ;; esac
                newest "$label" "$suites" "$regex" "$min"
        done <"$kdir/kernels.conf" >"$T/kernels.resolved"
        cp "$T/kernels.resolved" "$CACHE/kernels.resolved"
fi
all_labels=$(awk '{ print $1 }' "$T/kernels.resolved" | xargs)
LABELS=${ROCKER_MATRIX_KERNELS:-$all_labels}
for l in $LABELS; do
        grep -q "^$l " "$T/kernels.resolved" || die "unknown kernel label $l (kernels.conf has: $all_labels)"
done
if [ "$SYSTEMD_KERNEL" != no ]; then
        grep -q "^$SYSTEMD_KERNEL " "$T/kernels.resolved" || die "ROCKER_MATRIX_SYSTEMD=$SYSTEMD_KERNEL is no kernels.conf label"
fi
sed 's/^/   /' "$T/kernels.resolved"

# ---- the rootfs (cached by the package list and the rootfs files) -----------
pkgs=$(sed -e 's/#.*//' "$kdir/rootfs.packages" | xargs)
rootfs_key=$( { echo "recipe $RECIPE mirror $MIRROR bookworm"; echo "$pkgs";
                (cd "$kdir/rootfs" && find . -type f -print0 | sort -z | xargs -0 sha256sum); } |
              sha256sum | cut -c1-16)
rootfs_tar=$CACHE/rootfs-$rootfs_key.tar

build_rootfs() {
        local r=$T/rootfs
        say "debootstrap bookworm (minbase + $(echo "$pkgs" | wc -w) packages): the rootfs is not cached"
        mkdir -p "$r" "$CACHE/debootstrap"
        local t0; t0=$(date +%s)
        # First stage: downloads and unpacks, mounts nothing.
        debootstrap --variant=minbase --foreign --merged-usr --cache-dir="$CACHE/debootstrap" \
                --keyring="$KEYRING" --include="$(echo "$pkgs" | tr ' ' ,)" \
                bookworm "$r" "$MIRROR" >"$T/debootstrap.log" 2>&1 ||
                { tail -n 30 "$T/debootstrap.log" >&2; die "debootstrap (first stage) failed"; }
        # Second stage: runs the packages' maintainer scripts in a chroot and
        # mounts /proc and /sys there. It runs in a private mount namespace:
        # those mounts vanish with it whatever happens, and the host's mount
        # table, which the integration tests' leak checks count, never sees
        # them. So it does not take /tmp/rocker-itest.lock (a cold run would wait behind
        # every integration run on the machine for nothing).
        unshare --mount --propagation private \
                chroot "$r" /debootstrap/debootstrap --second-stage >>"$T/debootstrap.log" 2>&1 ||
                { tail -n 30 "$T/debootstrap.log" >&2; die "debootstrap (second stage) failed"; }
        cp -a "$kdir/rootfs/." "$r/"
        chmod 0755 "$r/usr/local/sbin/rocker-matrix-stage"
        ln -sf /etc/systemd/system/rocker-matrix.service "$r/etc/systemd/system/multi-user.target.wants/rocker-matrix.service"
        # Nothing in the guests needs these, and they take TCG time at boot.
        for u in apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer e2scrub_reap.service fstrim.timer \
                 systemd-timesyncd.service getty@tty1.service; do
                ln -sf /dev/null "$r/etc/systemd/system/$u"
        done
        rm -rf "$r/var/cache/apt/archives/"*.deb "$r/var/lib/apt/lists/"* "$r/debootstrap"
        tar -C "$r" -cf "$rootfs_tar.part" .
        mv "$rootfs_tar.part" "$rootfs_tar"
        rm -rf "$r"
        echo "   rootfs built in $(( $(date +%s) - t0 ))s"
}
[ -s "$rootfs_tar" ] || build_rootfs

# ---- the disk image: rootfs + every kernel's modules, and the boot files ----
image_key=$( { echo "$rootfs_key"; awk '{ print $2, $3 }' "$T/kernels.resolved"; } | sha256sum | cut -c1-16)
IMG=$CACHE/image-$image_key

# Modules no guest needs (graphics, sound, wireless, media, ...): pruned to
# keep the image small; depmod runs after.
PRUNE="drivers/gpu drivers/media drivers/net/wireless drivers/net/ethernet drivers/infiniband
       drivers/staging drivers/iio drivers/hid drivers/bluetooth drivers/usb drivers/input
       drivers/scsi/qla2xxx drivers/scsi/lpfc drivers/scsi/mpt3sas drivers/net/can sound net/wireless
       net/mac80211 net/bluetooth"

build_image() {
        local r=$T/image-root k=$T/kpkg label pkg ver deb kver t0
        t0=$(date +%s)
        say "disk image: rootfs + kernels (not cached)"
        rm -rf "$IMG.part"
        mkdir -p "$r" "$IMG.part"
        tar -C "$r" -xf "$rootfs_tar"
        while read -r label pkg ver; do
                # Newer kernels split linux-image-X into linux-binary-X,
                # linux-modules-X...: take the package and every linux-*
                # package it depends on at exactly its version.
                rm -rf "$k"
                for p in $pkg $(apt-cache "${APT_OPTS[@]}" show "$pkg=$ver" | sed -n 's/^Depends: //p' | head -n1 | tr ',' '\n' |
                                sed -n "s/^ *\(linux-[^ ]*\) (= ${ver//./\\.}).*/\1/p"); do
                        deb=$CACHE/debs/${p}_${ver/:/%3a}_amd64.deb
                        if [ ! -f "$deb" ]; then
                                echo "   downloading $p $ver"
                                (cd "$CACHE/debs" && apt-get "${APT_OPTS[@]}" -qq download "$p=$ver") >"$T/download.log" 2>&1 ||
                                        { cat "$T/download.log" >&2; die "cannot download $p $ver"; }
                                [ -f "$deb" ] || die "apt-get download gave no $deb"
                        fi
                        dpkg-deb -x "$deb" "$k"
                        echo "$deb" >>"$T/debs.used"
                done
                local m=""
                for m in "$k"/lib/modules/* "$k"/usr/lib/modules/*; do [ -d "$m" ] && break; done
                [ -d "$m" ] || die "$pkg $ver has no modules directory"
                kver=$(basename "$m")
                # Up to 6.x: /boot/vmlinuz-V, /boot/config-V; later: in the modules dir.
                if [ -f "$k/boot/vmlinuz-$kver" ]; then
                        cp "$k/boot/vmlinuz-$kver" "$IMG.part/vmlinuz-$label"
                        cp "$k/boot/config-$kver" "$r/boot/"  # mkinitramfs reads it
                else
                        mv "$m/vmlinuz" "$IMG.part/vmlinuz-$label"
                        cp "$m/config" "$r/boot/config-$kver"
                fi
                for p in $PRUNE; do rm -rf "${m:?}/kernel/$p"; done
                mkdir -p "$r/usr/lib/modules"
                cp -a "$m" "$r/usr/lib/modules/"
                # depmod and mkinitramfs (initramfs-tools, MODULES=list:
                # virtio + ext4) from the guest's own userland; neither mounts.
                chroot "$r" depmod "$kver"
                chroot "$r" mkinitramfs -o "/boot/initrd.img-$kver" "$kver" >"$T/mkinitramfs.log" 2>&1 ||
                        { cat "$T/mkinitramfs.log" >&2; die "mkinitramfs $kver failed"; }
                mv "$r/boot/initrd.img-$kver" "$IMG.part/initrd-$label"
                rm -f "$r/boot/config-$kver"
                echo "$label $pkg $ver $kver" >>"$IMG.part/kernels"
                echo "   $label: $kver"
        done <"$T/kernels.resolved"
        rm -rf "$k"
        local mb
        mb=$(du -sm "$r" | cut -f1)
        # Room for what the suites write (data dirs, images) in the overlay.
        mkfs.ext4 -q -F -L rocker-root -d "$r" "$IMG.part/rootfs.raw" "$((mb + mb / 4 + 1024))M" >/dev/null
        rm -rf "$r"
        rm -rf "$IMG"
        mv "$IMG.part" "$IMG"
        # Older images and rootfs tarballs are not used any more.
        find "$CACHE" -maxdepth 1 \( -name 'image-*' ! -name "image-$image_key" -o -name 'rootfs-*.tar' ! -name "rootfs-$rootfs_key.tar" \) \
                -exec rm -rf {} +
        # Kernel packages no longer resolved.
        for deb in "$CACHE"/debs/*.deb; do
                grep -qxF "$deb" "$T/debs.used" || rm -f "$deb"
        done
        echo "   image built in $(( $(date +%s) - t0 ))s ($(du -sm "$IMG" | cut -f1) MiB)"
}
if [ ! -s "$IMG/rootfs.raw" ] || [ ! -s "$IMG/kernels" ]; then build_image; fi

# ---- the project: built on the host, copied into the guest ------------------
# The guests run the same Debian 12 userland as this machine, so the host's
# build runs there unchanged; ctest files hold absolute paths, so the source
# and build trees keep theirs in the guest (bind mounts from the project disk).
if [ ! -f "$BUILD/CTestTestfile.cmake" ]; then
        say "building $SRC in $BUILD"
        cmake -S "$SRC" -B "$BUILD" -DBUILD_TESTING=ON >/dev/null
fi
cmake --build "$BUILD" -j"$(nproc)" >"$T/build.log" 2>&1 || { tail -n 40 "$T/build.log" >&2; die "build failed"; }
BUILD=$(cd "$BUILD" && pwd)

P=$T/project
mkdir -p "$P/tree$SRC" "$P/tree$BUILD"
say "project disk: $SRC, $BUILD"
if [ "$(git -C "$SRC" rev-parse --show-toplevel 2>/dev/null)" = "$SRC" ]; then
        (cd "$SRC" && git ls-files -z --cached --others --exclude-standard) |
                grep -zvE '^(build[^/]*|obj-[^/]*)/' |
                (cd "$SRC" && tar --null --ignore-failed-read -T - -cf -) | tar -xf - -C "$P/tree$SRC"
else
        (cd "$SRC" && tar --exclude='./build*' --exclude='./.git' -cf - .) | tar -xf - -C "$P/tree$SRC"
fi
(cd "$BUILD" && tar --exclude=./Testing -cf - .) | tar -xf - -C "$P/tree$BUILD"
cp "$kdir/guest-run.sh" "$P/"
[ ! -d "$kdir/systemd.d" ] || cp -a "$kdir/systemd.d" "$P/"
{
        printf 'SRC=%q\nBUILD=%q\nCTEST_ARGS=%q\nBENCH=%q\n' "$SRC" "$BUILD" "$CTEST_ARGS" "${ROCKER_MATRIX_BENCH:-}"
} >"$P/env"

if [ "$SYSTEMD_KERNEL" != no ]; then
        mkdir -p "$P/debs"
        if [ -n "${ROCKER_MATRIX_DEBS:-}" ]; then
                cp "$ROCKER_MATRIX_DEBS"/*.deb "$P/debs/"
        else
                say "building the .debs (dpkg-buildpackage -b -us -uc)"
                mkdir "$T/debsrc"
                cp -a "$P/tree$SRC" "$T/debsrc/src"
                rm -rf "$T/debsrc/src/${BUILD#"$SRC"/}" 2>/dev/null || true
                (cd "$T/debsrc/src" && dpkg-buildpackage -b -us -uc) >"$T/debs.log" 2>&1 ||
                        { tail -n 40 "$T/debs.log" >&2; die "dpkg-buildpackage failed (apt-get build-dep, or scripts/install-deps.sh)"; }
                cp "$T"/debsrc/*.deb "$P/debs/"
                rm -rf "$T/debsrc"
        fi
        for p in librocker-client0 librocker-client-dev rockerd; do
                ls "$P/debs/${p}_"*.deb >/dev/null 2>&1 || die "no $p .deb in ${ROCKER_MATRIX_DEBS:-the build}"
        done
        # The seed example, built against the -dev package's headers and
        # library as an outside project would; in the guest it runs against
        # the installed librocker-client0.
        mkdir "$T/dev"
        for d in "$P"/debs/librocker-client0_*.deb "$P"/debs/librocker-client-dev_*.deb; do dpkg-deb -x "$d" "$T/dev"; done
        cc -Wall -Wextra -Werror -o "$P/seed_example" "$SRC/examples/seed_example.c" \
                -I"$T/dev/usr/include" -L"$(dirname "$(find "$T/dev" -name librocker_client.so | head -n1)")" -lrocker_client
        rm -rf "${T:?}/dev"
fi
mb=$(du -sm "$P" | cut -f1)
mkfs.ext4 -q -F -L rocker-project -d "$P" "$T/project.raw" "$((mb * 2 + 256))M" >/dev/null
rm -rf "$P"

# ---- boot ------------------------------------------------------------------
# /dev/kvm on these machines is kvm_pvm, on which stock Debian kernels hang
# at boot: KVM only when it is a real KVM (kvm_intel/kvm_amd) or forced.
accel=${ROCKER_MATRIX_ACCEL:-}
if [ -z "$accel" ]; then
        accel=tcg
        if [ -w /dev/kvm ] && [ ! -d /sys/module/kvm_pvm ] && { [ -d /sys/module/kvm_intel ] || [ -d /sys/module/kvm_amd ]; }; then
                accel=kvm
        fi
fi
case $accel in
tcg) ACCEL_OPTS=(-accel "tcg,thread=multi" -cpu max) ;;
kvm) ACCEL_OPTS=(-accel kvm -cpu host) ;;
*) die "ROCKER_MATRIX_ACCEL=$accel: tcg or kvm" ;;
esac
LOGS=$CACHE/logs
rm -rf "$LOGS"
mkdir -p "$LOGS"

# boot LABEL MODE: one guest, bounded by $TIMEOUT; its console goes to
# $LOGS/LABEL-MODE.console, its results channel (ttyS1) to $LOGS/LABEL-MODE.out
boot() {
        local label=$1 mode=$2 name=$1-$2 append rc
        append="root=/dev/vda rw console=ttyS0 panic=-1 loglevel=4 net.ifnames=0"
        if [ "$mode" = plain ]; then
                append="$append init=/usr/local/sbin/rocker-matrix-stage"
        else
                append="$append rocker.matrix=systemd systemd.show_status=0"
        fi
        qemu-img create -q -f qcow2 -b "$IMG/rootfs.raw" -F raw "$T/$name.qcow2"
        cp --sparse=always "$T/project.raw" "$T/$name-project.raw"
        timeout --kill-after=10 "$TIMEOUT" qemu-system-x86_64 "${ACCEL_OPTS[@]}" -smp 2 -m "$MEM" \
                -nographic -no-reboot -nodefaults -nic none \
                -kernel "$IMG/vmlinuz-$label" -initrd "$IMG/initrd-$label" -append "$append" \
                -drive "file=$T/$name.qcow2,format=qcow2,if=virtio" \
                -drive "file=$T/$name-project.raw,format=raw,if=virtio" \
                -serial "file:$LOGS/$name.console" -serial "file:$LOGS/$name.out" \
                -monitor none -pidfile "$T/qemu.pid" </dev/null >"$LOGS/$name.qemu" 2>&1 &
        qemu_pid=$!
        rc=0
        wait "$qemu_pid" || rc=$?
        qemu_pid=""
        rm -f "$T/$name.qcow2" "$T/$name-project.raw" "$T/qemu.pid"
        return "$rc"
}

expected_fail() { case " $EXPECT_FAIL " in *" $1 "*) return 0 ;; esac; return 1; }

ROWS=$T/rows
: >"$ROWS"
fatal=0 bad=0 excused=0
run_row() {  # LABEL MODE
        local label=$1 mode=$2 name=$1-$2 t0 rc secs summary kver suites passed failed status row=$1 rebooted=""
        [ "$mode" = systemd ] && row=systemd
        kver=$(awk -v l="$label" '$1 == l { print $4 }' "$IMG/kernels")
        say "$row: booting $kver ($accel, $mode)"
        t0=$(date +%s)
        rc=0
        boot "$label" "$mode" || rc=$?
        # A guest whose kernel panicked before it wrote a line to the results
        # channel never ran any of the project's code: under TCG, Debian's
        # kernels have died while booting (once in about a hundred boots: "Oops:
        # int3" in an initcall, a static key patched across vCPUs). Such a boot
        # says nothing about rocker; boot that kernel once more, and say so.
        # A second such panic, or anything after the suite started, is a result.
        if [ ! -s "$LOGS/$name.out" ] && grep -aq 'Kernel panic' "$LOGS/$name.console" 2>/dev/null; then
                mv "$LOGS/$name.console" "$LOGS/$name.console.boot1"
                echo "   $row: the guest's kernel panicked while booting, before the suite started;" \
                        "booting it once more (first console: $LOGS/$name.console.boot1):"
                grep -aE 'Oops|BUG|RIP:|Kernel panic' "$LOGS/$name.console.boot1" | head -n 6 | tr -d '\r' | sed 's/^/   | /'
                rebooted="; booted twice: the first boot's kernel panicked before the suite"
                rc=0
                boot "$label" "$mode" || rc=$?
        fi
        secs=$(( $(date +%s) - t0 ))
        summary=$(grep -a '^ROCKER-MATRIX-RESULT ' "$LOGS/$name.out" 2>/dev/null | tail -n1 | tr -d '\r' || true)
        suites=- passed=- failed=-
        if [ -n "$summary" ]; then
                suites=$(sed -n 's/.* total=\([0-9]*\).*/\1/p' <<<"$summary")
                passed=$(sed -n 's/.* passed=\([0-9]*\).*/\1/p' <<<"$summary")
                failed=$(sed -n 's/.* failed=\([0-9]*\).*/\1/p' <<<"$summary")
                grep -q " kernel=$kver " <<<"$summary" || { summary=""; echo "   the guest ran another kernel than $kver"; }
        fi
        if [ -z "$summary" ]; then
                if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then status="TIMEOUT(${TIMEOUT}s)"; else status="NO RESULT(qemu $rc)"; fi
        elif [ "$failed" = 0 ] && [ "$passed" = "$suites" ] && [ "$suites" != 0 ]; then
                status=ok
        else
                status=FAIL
        fi
        if [ "$status" != ok ]; then
                echo "---- $row: last lines of the guest's output ($LOGS/$name.out; console: $LOGS/$name.console)"
                if [ -s "$LOGS/$name.out" ]; then tail -n 60 "$LOGS/$name.out" | tr -d '\r'; else tail -n 40 "$LOGS/$name.console" | tr -d '\r'; fi
                echo "----"
                bad=$((bad + 1))
                if expected_fail "$row"; then
                        status="$status (expected: ROCKER_MATRIX_EXPECT_FAIL)"
                        excused=$((excused + 1))
                else
                        fatal=1
                fi
        fi
        # What the checks measured (lines "figure: ...") and skipped, shown on success too.
        { grep -aE '^ *(figure: |skip )' "$LOGS/$name.out" 2>/dev/null || true; } | tr -d '\r' | sed "s/^ */   $row /"
        if [ "$status" = ok ] && expected_fail "$row"; then
                status="ok (passes: take $row out of ROCKER_MATRIX_EXPECT_FAIL)"
        fi
        status="$status$rebooted"
        printf '%-8s %-28s %6s %6s %6s %6ss  %s\n' "$row" "$kver" "$suites" "$passed" "$failed" "$secs" "$status" >>"$ROWS"
        printf '   %s: %s\n' "$row" "$status"
}

for l in $LABELS; do run_row "$l" plain; done
[ "$SYSTEMD_KERNEL" != no ] && run_row "$SYSTEMD_KERNEL" systemd

echo
echo "kernel matrix ($accel, $(nproc) cores; logs in $LOGS)"
printf '%-8s %-28s %6s %6s %6s %7s  %s\n' row kernel suites passed failed time result
cat "$ROWS"
total=$(wc -l <"$ROWS")
echo "kernel matrix time: $(( $(date +%s) - start ))s"
if [ "$excused" -gt 0 ]; then
        echo "$excused rows failed and are excused by ROCKER_MATRIX_EXPECT_FAIL=\"$EXPECT_FAIL\" (counted as skipped below)"
        echo "matrix: $((total - bad)) passed, $((bad - excused)) failed, $excused skipped"
else
        echo "matrix: $((total - bad)) passed, $bad failed"
fi
exit "$fatal"
}
