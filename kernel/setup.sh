#!/usr/bin/env bash
# Install what the kernel recipe needs from Debian. Idempotent: does nothing
# when every package is already installed.
set -euo pipefail
PKGS=(linux-image-amd64 qemu-system-x86 busybox-static dmsetup cpio gzip gcc libc6-dev python3)
missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all packages present (${PKGS[*]})"
  exit 0
fi
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
$SUDO apt-get update
$SUDO apt-get install -y --no-install-recommends "${missing[@]}"
