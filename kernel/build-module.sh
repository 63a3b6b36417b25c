#!/usr/bin/env bash
# Build dm-snapshot.ko out of tree from Debian's linux-source-* with
# kernel/patches/ applied, against Debian's linux-headers-* of KREL.
# Prints the path of the module; cached under .cache/kernel/modules/<sha256
# of the patched sources, the patches and the kernel release>/.
#
#   bash kernel/build-module.sh BASE KREL SRC_PKG HDR_PKG...
#   e.g. 6.1 6.1.0-57-amd64 linux-source-6.1 linux-headers-6.1.0-57-amd64 linux-headers-6.1.0-57-common linux-kbuild-6.1
#
# DMSNAP_PATCHES=DIR takes the patches from DIR instead (an empty folder
# builds the unchanged module: it must match Debian's). DMSNAP_SOURCES_ONLY=1
# stops after extracting the sources (KREL and the headers are not used).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$HERE")"
CACHE="${DMSNAP_KERNEL_CACHE:-$ROOT/.cache/kernel}"
BASE="$1"; KREL="$2"; SRC_PKG="$3"; shift 3
PATCHES="${DMSNAP_PATCHES:-$HERE/patches}"
DEBS="$CACHE/debs"
mkdir -p "$DEBS"
die() { echo "build-module: $*" >&2; exit 2; }

# upstream 8581b19eb2c5 gave each exception hash slot its own spinlock
# (struct dm_hlist_head); a tree without that struct predates the commit
has_8581b19eb2c5() { grep -q "struct dm_hlist_head" "$1/drivers/md/dm-snap.c"; }

deb_of() {
  local f
  f="$(ls "$DEBS/${1}_"*.deb 2>/dev/null | head -1 || true)"
  if [ -z "$f" ]; then
    (cd "$DEBS" && apt-get download "$1" >&2) || { apt-get update -q >&2 && (cd "$DEBS" && apt-get download "$1" >&2); } || die "apt-get download $1 failed"
    f="$(ls "$DEBS/${1}_"*.deb | head -1)"
  fi
  echo "$f"
}

# 1. the sources Kbuild needs, from the linux-source tarball (extracted once)
SRC="$CACHE/src/$BASE"
FILES="dm-snap.c dm-exception-store.c dm-snap-transient.c dm-snap-persistent.c dm-exception-store.h dm.h dm-stats.h"
if [ ! -f "$SRC/.done" ]; then
  deb="$(deb_of "$SRC_PKG")"
  tmp="$CACHE/tmp-src-$BASE"; rm -rf "$tmp"; mkdir -p "$tmp" "$SRC"
  dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$tmp" --wildcards './usr/src/linux-source-*.tar.xz'
  tarball="$(ls "$tmp"/usr/src/linux-source-*.tar.xz)"
  top="$(basename "$tarball" .tar.xz)"
  members=""; for f in $FILES; do members="$members $top/drivers/md/$f"; done
  # shellcheck disable=SC2086
  tar -xJf "$tarball" -C "$tmp" $members
  mkdir -p "$SRC/drivers/md"
  for f in $FILES; do cp "$tmp/$top/drivers/md/$f" "$SRC/drivers/md/"; done
  dpkg-deb -f "$deb" Version > "$SRC/version"
  rm -rf "$tmp"
  : > "$SRC/.done"
fi

# check-apply.sh needs only the sources
if [ -n "${DMSNAP_SOURCES_ONLY:-}" ]; then echo "$SRC"; exit 0; fi

# 2. the headers, one root per release; the top Makefile includes the common one by absolute path
HDR="$CACHE/hdr/$KREL"
if [ ! -f "$HDR/.done" ]; then
  mkdir -p "$HDR"
  for p in "$@"; do dpkg -x "$(deb_of "$p")" "$HDR"; done
  sed -i "s#^include /usr/src/#include $HDR/usr/src/#" "$HDR/usr/src/linux-headers-$KREL/Makefile"
  : > "$HDR/.done"
fi

# 3. patched copy, keyed by its content
# one fixed build folder per release: the module embeds its build path, so a
# random one would give a different sha256 for the same sources
WORK="$CACHE/build/$KREL"
rm -rf "$WORK"; mkdir -p "$WORK"
cp -r "$SRC/drivers" "$WORK/"
# patches/after-8581b19eb2c5/ fixes a regression of that upstream commit
# (hlist_bl -> hlist in dm-snap.c): only trees that carry it (6.12.y) get it
APPLIED=""
for p in "$PATCHES"/*.patch $(has_8581b19eb2c5 "$WORK" && ls "$PATCHES"/after-8581b19eb2c5/*.patch 2>/dev/null); do
  [ -e "$p" ] || continue
  (cd "$WORK" && GIT_CEILING_DIRECTORIES="$WORK/.." git apply "$p") || die "$(basename "$p") does not apply to $SRC_PKG $(cat "$SRC/version")"
  APPLIED="$APPLIED ${p#"$PATCHES"/}"
done
KEY="$( (echo "$KREL"; cat "$SRC/version"; for f in $FILES; do cat "$WORK/drivers/md/$f"; done; cat "$0") | sha256sum | cut -c1-16)"
OUT="$CACHE/modules/$KEY"
if [ -f "$OUT/dm-snapshot.ko" ]; then echo "$OUT/dm-snapshot.ko"; exit 0; fi

# no BTF for an out-of-tree module (no vmlinux, no pahole needed)
cd "$WORK/drivers/md"
cat > Kbuild <<'EOF'
obj-m := dm-snapshot.o
dm-snapshot-y := dm-snap.o dm-exception-store.o dm-snap-transient.o dm-snap-persistent.o
EOF
t0=$(date +%s)
make -s -C "$HDR/usr/src/linux-headers-$KREL" M="$PWD" CONFIG_DEBUG_INFO_BTF_MODULES= modules >&2 || die "build failed for $KREL"
mkdir -p "$OUT"
cp dm-snapshot.ko "$OUT/dm-snapshot.ko.tmp" && mv "$OUT/dm-snapshot.ko.tmp" "$OUT/dm-snapshot.ko"
{ echo "release $KREL"; echo "source $SRC_PKG $(cat "$SRC/version")"; echo "patches$APPLIED"; echo "sha256 $(sha256sum "$OUT/dm-snapshot.ko" | cut -d' ' -f1)"; } > "$OUT/origin.txt"
echo "build-module: built $OUT/dm-snapshot.ko for $KREL in $(( $(date +%s) - t0 ))s" >&2
echo "$OUT/dm-snapshot.ko"
