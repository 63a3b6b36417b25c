#!/usr/bin/env bash
# The kernel matrix: resolve a kernel id to a vmlinuz, a modules tree and
# (for the "+fix" ids) a dm-snapshot.ko built here with kernel/patches/.
#
#   bash kernel/kernels.sh env ID      # print the DMSNAP_* variables the recipe reads
#   bash kernel/kernels.sh info ID     # the same as JSON (origin and sha256 of the module)
#   bash kernel/kernels.sh newest-6.12 # the newest 6.12 image bookworm serves
#
# Ids: 6.1 (Debian's linux-image-amd64, installed by kernel/setup.sh),
# 6.12 (the newest linux-image-6.12.*+deb12-amd64-unsigned, fetched with
# apt-get download and dpkg -x into .cache/kernel/, never into /boot),
# 6.1+fix and 6.12+fix (the same kernels with the patched module), or a
# path DIR holding vmlinuz and lib/modules/<release>/ (a user's own kernel).
# Everything fetched or built lives under .cache/kernel/ (gitignored).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$HERE")"
CACHE="${DMSNAP_KERNEL_CACHE:-$ROOT/.cache/kernel}"
DEBS="$CACHE/debs"
mkdir -p "$DEBS"

die() { echo "kernels: $*" >&2; exit 2; }

# apt-get download PKG into the cache once; prints the .deb path
fetch_deb() {
  local pkg="$1" f
  f="$(ls "$DEBS/${pkg}_"*.deb 2>/dev/null | head -1 || true)"
  if [ -z "$f" ]; then
    # apt's lists may be missing or stale on a fresh machine: update once and retry
    (cd "$DEBS" && apt-get download "$pkg" >&2) || { apt-get update -q >&2 && (cd "$DEBS" && apt-get download "$pkg" >&2); } || die "apt-get download $pkg failed"
    f="$(ls "$DEBS/${pkg}_"*.deb | head -1)"
  fi
  echo "$f"
}

# dpkg -x a .deb into DIR once
extract() {
  local deb="$1" dir="$2"
  if [ ! -f "$dir/.extracted-$(basename "$deb")" ]; then
    mkdir -p "$dir"
    dpkg -x "$deb" "$dir"
    : > "$dir/.extracted-$(basename "$deb")"
  fi
}

newest_612() {
  local v
  apt-cache show linux-source-6.12 > /dev/null 2>&1 || apt-get update -q >&2 || true
  v="$(apt-cache search --names-only '^linux-image-6\.12\.[0-9]+\+deb12-amd64-unsigned$' | cut -d' ' -f1 | sed -E 's/^linux-image-(6\.12\.[0-9]+)\+deb12-amd64-unsigned$/\1/' | sort -V | tail -1)"
  [ -n "$v" ] || die "no linux-image-6.12.*+deb12-amd64-unsigned in apt's lists (run apt-get update)"
  echo "$v"
}

# sets VMLINUZ MODDIR KREL SRC_PKG HDR_PKGS for a stock id
stock() {
  case "$1" in
    6.1)
      KREL="${DMSNAP_KVER_61:-$(ls /lib/modules 2>/dev/null | grep -E '^6\.1\.0-[0-9]+-amd64$' | sort -V | tail -1)}"
      [ -n "$KREL" ] || die "no 6.1 kernel in /lib/modules (run kernel/setup.sh)"
      VMLINUZ="/boot/vmlinuz-$KREL"
      MODDIR="/lib/modules/$KREL"
      SRC_PKG=linux-source-6.1
      HDR_PKGS="linux-headers-$KREL linux-headers-${KREL%-amd64}-common linux-kbuild-6.1"
      ;;
    6.12)
      local v root
      v="${DMSNAP_612:-$(newest_612)}"
      KREL="$v+deb12-amd64"
      root="$CACHE/root/$KREL"
      extract "$(fetch_deb "linux-image-$KREL-unsigned")" "$root"
      VMLINUZ="$root/boot/vmlinuz-$KREL"
      MODDIR="$root/lib/modules/$KREL"
      [ -f "$MODDIR/modules.dep" ] || depmod -b "$root" "$KREL"
      SRC_PKG=linux-source-6.12
      HDR_PKGS="linux-headers-$KREL linux-headers-$v+deb12-common linux-kbuild-$v+deb12"
      ;;
    *) die "UNKNOWN_KERNEL: no kernel '$1'; give 6.1, 6.12, 6.1+fix, 6.12+fix or a folder holding vmlinuz* and lib/modules/<release>/ (kernel/README.md)" ;;
  esac
}

resolve() {
  local id="$1"
  EXTRA_KO=""; MODULE_ORIGIN="debian"
  if [ -d "$id" ]; then
    VMLINUZ="$(ls "$id"/vmlinuz* 2>/dev/null | head -1 || true)"
    KREL="$(ls "$id/lib/modules" 2>/dev/null | head -1 || true)"
    [ -n "$VMLINUZ" ] && [ -n "$KREL" ] || die "UNKNOWN_KERNEL: the folder $id holds no vmlinuz* beside lib/modules/<release>/ (kernel/README.md)"
    MODDIR="$id/lib/modules/$KREL"
    MODULE_ORIGIN="user"
    TAG="path-$(echo "$id" | sha256sum | cut -c1-12)"
    return
  fi
  local base="${id%+fix}"
  stock "$base"
  TAG="$id"
  if [ "$base" != "$id" ]; then
    EXTRA_KO="$(bash "$HERE/build-module.sh" "$base" "$KREL" "$SRC_PKG" $HDR_PKGS)"
    MODULE_ORIGIN="built here from $SRC_PKG with kernel/patches"
  fi
  [ -f "$VMLINUZ" ] || die "$VMLINUZ missing"
}

module_sha() {
  if [ -n "$EXTRA_KO" ]; then sha256sum "$EXTRA_KO" | cut -d' ' -f1; return; fi
  local rel
  rel="$(grep -E '/dm-snapshot\.ko(\.xz|\.zst)?:' "$MODDIR/modules.dep" | cut -d: -f1 | head -1)"
  case "$rel" in
    *.xz) xz -dc "$MODDIR/$rel" | sha256sum | cut -d' ' -f1 ;;
    *.zst) zstd -qdc "$MODDIR/$rel" | sha256sum | cut -d' ' -f1 ;;
    *) sha256sum "$MODDIR/$rel" | cut -d' ' -f1 ;;
  esac
}

cmd="${1:-}"; id="${2:-}"
case "$cmd" in
  newest-6.12) newest_612 ;;
  env)
    [ -n "$id" ] || die "usage: kernels.sh env ID"
    resolve "$id"
    echo "DMSNAP_KERNEL_ID=$id"
    echo "DMSNAP_KVER=$KREL"
    echo "DMSNAP_VMLINUZ=$VMLINUZ"
    echo "DMSNAP_MODDIR=$MODDIR"
    echo "DMSNAP_EXTRA_KO=$EXTRA_KO"
    echo "DMSNAP_INITRAMFS_TAG=$TAG"
    echo "DMSNAP_MODULE_ORIGIN=$MODULE_ORIGIN"
    ;;
  info)
    [ -n "$id" ] || die "usage: kernels.sh info ID"
    resolve "$id"
    printf '{"id": "%s", "release": "%s", "vmlinuz": "%s", "module": {"origin": "%s", "path": "%s", "sha256": "%s"}}\n' \
      "$id" "$KREL" "$VMLINUZ" "$MODULE_ORIGIN" "${EXTRA_KO:-$MODDIR}" "$(module_sha)"
    ;;
  *) die "usage: kernels.sh env|info ID | newest-6.12" ;;
esac
