#!/bin/bash
# SPDX-License-Identifier: MIT
#
# make-app-image.sh: turns Debian packages into a rocker app image.
#
#   make-app-image.sh -o OUT.squashfs [options] PACKAGE|FILE.deb...
#
# For each PACKAGE (a name apt knows, fetched with `apt-get download` into a
# temporary directory) or FILE.deb (a package file already at hand), the
# package's data is unpacked with `dpkg-deb -x` into one tree, which
# `mksquashfs` turns into OUT. The image's root is the packages' `/`: a file
# the package installs as /usr/bin/hello is /usr/bin/hello in the image, i.e.
# EXEC_DIR/usr/bin/hello once rocker mounts the image at EXEC_DIR.
#
# What it does NOT do (docs/packaging.md says what follows from each):
# - no maintainer script runs (preinst, postinst, triggers): no alternatives,
#   no diversions, no caches (ldconfig, gdk-pixbuf, glib schemas, fontconfig,
#   icon and desktop databases), no users or groups are created;
# - no dependency is put in the image: the app is expected to find its
#   libraries and data in the host's /usr (read-only in the rocker, or
#   through an overlay). The script checks each Depends: line against the
#   packages installed on this host and in the image, and names what is
#   missing; with --allow-missing-deps that is a warning, otherwise an error.
#   To bundle a library, name its package too: it lands in the image, but
#   the app only finds it if it is told where (LD_LIBRARY_PATH, a wrapper);
# - no file outside the packages is added except /.rocker-image, a manifest
#   (package, version, architecture per line);
# - owners become root (-all-root); modes are kept, but rocker mounts every
#   image nosuid and its apps run with no_new_privs: setuid bits do nothing.
#
# Options:
#   -o, --output PATH        the image to write (required); replaced if it exists
#   -c, --comp ALGO          mksquashfs compressor (default zstd: fast to build,
#                            read by the kernel's squashfs since 4.14 and by
#                            squashfuse); gzip for the oldest readers
#   -l, --comp-level N       its -Xcompression-level (default 3 for zstd: a
#                            browser's 350 MB in 1.4 s instead of 45 s at
#                            mksquashfs's own 15; gzip: 21 s, 2% smaller)
#       --allow-missing-deps missing dependencies are a warning, not an error
#   -k, --keep-tree DIR      also leave the unpacked tree in DIR (must not exist)
#   -q, --quiet              print only warnings and errors
#   -h, --help               this text
#
# Needs: dpkg-deb, apt-get (for names), mksquashfs (squashfs-tools). Runs as
# any user; as root, apt-get download is handed a directory its _apt user
# may write. Nothing is written outside the temporary directory and OUT.
set -euo pipefail

prog=make-app-image.sh
out="" comp=zstd level="" allow_missing=no keep_tree="" quiet=no
items=()

usage() { sed -n '/^# make-app-image.sh:/,/^# Needs:/p' "$0" | sed 's/^# \{0,1\}//'; }
die() { echo "$prog: $*" >&2; exit 1; }
say() { [ "$quiet" = yes ] || echo "$prog: $*"; }
warn() { echo "$prog: warning: $*" >&2; }

while [ $# -gt 0 ]; do
        case $1 in
        -o|--output) [ $# -ge 2 ] || die "$1 needs a path"; out=$2; shift 2 ;;
        --output=*) out=${1#*=}; shift ;;
        -c|--comp) [ $# -ge 2 ] || die "$1 needs a compressor"; comp=$2; shift 2 ;;
        --comp=*) comp=${1#*=}; shift ;;
        -l|--comp-level) [ $# -ge 2 ] || die "$1 needs a number"; level=$2; shift 2 ;;
        --comp-level=*) level=${1#*=}; shift ;;
        --allow-missing-deps) allow_missing=yes; shift ;;
        -k|--keep-tree) [ $# -ge 2 ] || die "$1 needs a directory"; keep_tree=$2; shift 2 ;;
        --keep-tree=*) keep_tree=${1#*=}; shift ;;
        -q|--quiet) quiet=yes; shift ;;
        -h|--help) usage; exit 0 ;;
        --) shift; items+=("$@"); break ;;
        -*) die "unknown option $1 (see --help)" ;;
        *) items+=("$1"); shift ;;
        esac
done
[ -n "$out" ] || die "no --output given (see --help)"
[ ${#items[@]} -gt 0 ] || die "no package given (see --help)"
[ -z "$keep_tree" ] || [ ! -e "$keep_tree" ] || die "--keep-tree $keep_tree exists already"
for tool in dpkg-deb mksquashfs; do
        command -v "$tool" >/dev/null || die "$tool not found (apt-get install dpkg squashfs-tools)"
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/make-app-image.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
mkdir "$tmp/debs" "$tmp/root"

# --- 1. the .deb files ------------------------------------------------------
names=()
for item in "${items[@]}"; do
        case $item in
        *.deb)
                [ -f "$item" ] || die "$item: no such file"
                cp "$item" "$tmp/debs/" ;;
        *)
                names+=("$item") ;;
        esac
done
if [ ${#names[@]} -gt 0 ]; then
        command -v apt-get >/dev/null || die "apt-get not found: give .deb files instead of names"
        # apt drops to its _apt user for downloads: let it write there.
        if [ "$(id -u)" -eq 0 ] && id _apt >/dev/null 2>&1; then
                chown _apt "$tmp/debs"
        fi
        say "apt-get download ${names[*]}"
        (cd "$tmp/debs" && apt-get download -q "${names[@]}") >"$tmp/apt.log" 2>&1 ||
                { cat "$tmp/apt.log" >&2; die "apt-get download failed (apt-get update first?)"; }
fi

# --- 2. unpack, without maintainer scripts --------------------------------
declare -A in_image=()
: >"$tmp/manifest"
with_scripts=()
for deb in "$tmp"/debs/*.deb; do
        read -r pkg ver arch < <(dpkg-deb -W --showformat='${Package} ${Version} ${Architecture}\n' "$deb")
        in_image[$pkg]=$ver
        # Virtual packages the image provides satisfy dependencies too.
        for p in $(dpkg-deb -f "$deb" Provides | tr ',' '\n' | sed 's/(.*//'); do
                in_image[$p]=${in_image[$p]:-provided}
        done
        printf '%s %s %s\n' "$pkg" "$ver" "$arch" >>"$tmp/manifest"
        dpkg-deb -x "$deb" "$tmp/root"
        if dpkg-deb --ctrl-tarfile "$deb" | tar -t 2>/dev/null | grep -Eq '^(\./)?(preinst|postinst|triggers)$'; then
                with_scripts+=("$pkg")
        fi
        say "unpacked $pkg $ver"
done
if [ ${#with_scripts[@]} -gt 0 ]; then
        warn "maintainer scripts not run for: ${with_scripts[*]} (see docs/packaging.md)"
fi

# --- 3. dependencies: in the image, or on this host ------------------------
# A Depends: entry is "alt | alt | ...", each alt "name[:arch] [(op version)]".
host_version() { dpkg-query -W -f='${Status} ${Version}\n' "$1" 2>/dev/null | sed -n 's/^install ok installed //p'; }
host_provides() { dpkg-query -W -f='${Provides}\n' 2>/dev/null | tr ',' '\n' | sed 's/(.*//; s/ //g' | grep -qx "$1"; }
alt_satisfied() {
        local alt=$1 name op want have
        name=$(sed -E 's/^ *([^ (:]+).*/\1/' <<<"$alt")
        op=$(sed -nE 's/.*\( *([<>=]+) *([^ )]+) *\).*/\1/p' <<<"$alt")
        want=$(sed -nE 's/.*\( *([<>=]+) *([^ )]+) *\).*/\2/p' <<<"$alt")
        if [ -n "${in_image[$name]:-}" ]; then have=${in_image[$name]}; else have=$(host_version "$name"); fi
        if [ -z "$have" ]; then
                [ -z "$op" ] && host_provides "$name" && return 0
                return 1
        fi
        [ -z "$op" ] || [ "$have" = provided ] && return 0
        case $op in
        '>=') op=ge ;; '<=') op=le ;; '>>') op=gt ;; '<<') op=lt ;; '=') op=eq ;;
        *) return 1 ;;
        esac
        dpkg --compare-versions "$have" "$op" "$want"
}
missing=()
for deb in "$tmp"/debs/*.deb; do
        pkg=$(dpkg-deb -f "$deb" Package)
        deps=$(dpkg-deb -f "$deb" Pre-Depends Depends | sed -E 's/^[A-Za-z-]+: //' | tr '\n' ',')
        while IFS= read -r entry; do
                entry=$(sed -E 's/^ +| +$//g' <<<"$entry")
                [ -n "$entry" ] || continue
                ok=no
                IFS='|' read -ra alts <<<"$entry"
                for alt in "${alts[@]}"; do
                        if alt_satisfied "$alt"; then ok=yes; break; fi
                done
                [ "$ok" = yes ] || missing+=("$pkg needs $entry")
        done < <(tr ',' '\n' <<<"$deps")
done
if [ ${#missing[@]} -gt 0 ]; then
        for m in "${missing[@]}"; do echo "$prog: not on this host nor in the image: $m" >&2; done
        if [ "$allow_missing" = yes ]; then
                warn "the app may not start in a rocker on this host (apt-get install the missing packages)"
        else
                die "${#missing[@]} dependencies missing (install them on the host, name them too, or --allow-missing-deps)"
        fi
fi

# --- 4. the image -------------------------------------------------------------
cp "$tmp/manifest" "$tmp/root/.rocker-image"
chmod 0644 "$tmp/root/.rocker-image"
mkdir -p "$(dirname "$out")"
[ -n "$level" ] || [ "$comp" != zstd ] || level=3
comp_args=(-comp "$comp")
[ -z "$level" ] || comp_args+=(-Xcompression-level "$level")
mksquashfs "$tmp/root" "$tmp/image.squashfs" -noappend -quiet -all-root "${comp_args[@]}" >"$tmp/mksquashfs.log" 2>&1 ||
        { cat "$tmp/mksquashfs.log" >&2; die "mksquashfs failed"; }
mv -f "$tmp/image.squashfs" "$out"
say "wrote $out ($(du -h "$out" | cut -f1)): $(awk '{print $1}' "$tmp/manifest" | tr '\n' ' ')"
bins=$(cd "$tmp/root" && { find usr/bin usr/games bin -maxdepth 1 \( -type f -o -type l \) 2>/dev/null || true; } | sort | head -n 5 | tr '\n' ' ') 
[ -z "$bins" ] || say "programs in it (under the exec dir): $bins"
if [ -n "$keep_tree" ]; then
        mv "$tmp/root" "$keep_tree"
fi
