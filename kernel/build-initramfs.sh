#!/usr/bin/env bash
# Build the guest initramfs for the dmsnap kernel recipe.
# Output: .cache/kernel/initramfs/default/initramfs.cpio.gz (+ kernel-version, vmlinuz).
# Rebuilt only when an input changed (guest files, this script, kernel version).
# Another kernel (kernel/kernels.sh env ID prints these): DMSNAP_KVER,
# DMSNAP_VMLINUZ, DMSNAP_MODDIR (its modules tree), DMSNAP_EXTRA_KO (a
# dm-snapshot.ko loaded in place of the tree's) and DMSNAP_INITRAMFS_TAG
# (the output goes to .cache/kernel/initramfs/<tag>/; lib/harness.py reads it there).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE="$(dirname "$HERE")/.cache/kernel/initramfs/${DMSNAP_INITRAMFS_TAG:-default}"
mkdir -p "$CACHE"

KVER="${DMSNAP_KVER:-$(ls /lib/modules | grep -E 'amd64$' | sort -V | tail -1)}"
[ -n "$KVER" ] || { echo "build-initramfs: no amd64 kernel in /lib/modules (run setup.sh)" >&2; exit 1; }
VMLINUZ="${DMSNAP_VMLINUZ:-/boot/vmlinuz-$KVER}"
[ -f "$VMLINUZ" ] || { echo "build-initramfs: $VMLINUZ missing" >&2; exit 1; }
EXTRA_KO="${DMSNAP_EXTRA_KO:-}"
OUT="$CACHE/initramfs.cpio.gz"

# Fingerprint of every input; skip the build when unchanged.
STAMP="$( (echo "$KVER $VMLINUZ ${DMSNAP_MODDIR:-}"; [ -z "$EXTRA_KO" ] || sha256sum "$EXTRA_KO"; cat "$0" "$HERE"/guest/*; ls -l --time-style=+%s /sbin/dmsetup /bin/busybox) | sha256sum | cut -d' ' -f1)"
if [ -f "$OUT" ] && [ "$(cat "$CACHE/initramfs.stamp" 2>/dev/null)" = "$STAMP" ]; then
  echo "build-initramfs: up to date ($OUT)"
  exit 0
fi

ROOT="$CACHE/initramfs-root"
rm -rf "$ROOT"
mkdir -p "$ROOT"/{bin,sbin,dev,proc,sys,tmp,run,job,out,lib/modules,lib64,etc}

# busybox (static) provides the shell and every small tool.
cp /bin/busybox "$ROOT/bin/busybox"

# dmsetup (dynamic) with the libraries ldd names and the loader.
cp /sbin/dmsetup "$ROOT/sbin/dmsetup"
ldd /sbin/dmsetup | awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^\//) print $i }' | sort -u | while read -r lib; do
  mkdir -p "$ROOT$(dirname "$lib")"
  cp -L "$lib" "$ROOT$lib"
done

# The O_DIRECT writer, compiled statically with the host gcc.
gcc -O2 -Wall -static -o "$ROOT/bin/pwrite-direct" "$HERE/guest/pwrite-direct.c"

# Kernel modules: the wanted ones plus their dependencies, in modules.dep order.
MODDIR="${DMSNAP_MODDIR:-/lib/modules/$KVER}"
WANT="virtio_pci virtio_blk dm-mod dm-bufio dm-snapshot dm-log-writes"
: > "$ROOT/modules.order"
declare -A seen=()
add_mod() {   # $1 = path relative to $MODDIR
  local rel="$1" dep
  [ -n "${seen[$rel]:-}" ] && return 0
  seen[$rel]=1
  for dep in $(grep -E "^$rel:" "$MODDIR/modules.dep" | cut -d: -f2-); do
    add_mod "$dep"
  done
  local base; base="$(basename "$rel")"
  if [ -n "$EXTRA_KO" ] && [ "${base%%.ko*}" = dm-snapshot ]; then
    cp "$EXTRA_KO" "$ROOT/lib/modules/dm-snapshot.ko"
    echo dm-snapshot.ko >> "$ROOT/modules.order"
    return 0
  fi
  case "$rel" in
    *.ko) cp "$MODDIR/$rel" "$ROOT/lib/modules/$base" ;;
    *.ko.xz) xz -dc "$MODDIR/$rel" > "$ROOT/lib/modules/${base%.xz}"; base="${base%.xz}" ;;
    *.ko.zst) zstd -qdc "$MODDIR/$rel" > "$ROOT/lib/modules/${base%.zst}"; base="${base%.zst}" ;;
    *) echo "build-initramfs: unknown module format $rel" >&2; exit 1 ;;
  esac
  echo "$base" >> "$ROOT/modules.order"
}
for m in $WANT; do
  rel="$(grep -E "/${m}\.ko(\.xz|\.zst)?:" "$MODDIR/modules.dep" | cut -d: -f1 | head -1 || true)"
  if [ -z "$rel" ]; then
    # built into the kernel: nothing to load
    grep -qE "/${m}\.ko" "$MODDIR/modules.builtin" 2>/dev/null && continue
    echo "build-initramfs: module $m not found for $KVER" >&2; exit 1
  fi
  add_mod "$rel"
done

cp "$HERE/guest/init" "$ROOT/init"
cp "$HERE/guest/dmsnap-lib.sh" "$ROOT/lib/dmsnap-lib.sh"
chmod 755 "$ROOT/init"

( cd "$ROOT" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc --quiet --reproducible ) | gzip -n -9 > "$OUT.tmp"
mv "$OUT.tmp" "$OUT"
echo "$STAMP" > "$CACHE/initramfs.stamp"
echo "$KVER" > "$CACHE/kernel-version"
echo "$VMLINUZ" > "$CACHE/vmlinuz"
echo "build-initramfs: wrote $OUT ($(stat -c %s "$OUT") bytes; kernel $KVER; modules: $(tr '\n' ' ' < "$ROOT/modules.order"))"
