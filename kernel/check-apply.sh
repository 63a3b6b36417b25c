#!/usr/bin/env bash
# `git apply --check` of kernel/patches/, one patch after the other, on the
# drivers/md files of Debian's linux-source-6.1 and linux-source-6.12 (fetched
# with apt-get download into .cache/kernel/, the same copy build-module.sh uses).
#   bash kernel/check-apply.sh [6.1 6.12]
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$HERE")"
CACHE="${DMSNAP_KERNEL_CACHE:-$ROOT/.cache/kernel}"
status=0
for base in "${@:-6.1 6.12}"; do
  for b in $base; do
    # build-module.sh extracts the sources; an empty patch folder builds nothing new when cached
    if [ ! -f "$CACHE/src/$b/.done" ]; then
      eval "$(bash "$HERE/kernels.sh" env "$b")"
      (DMSNAP_PATCHES=/nonexistent bash "$HERE/build-module.sh" "$b" "$DMSNAP_KVER" "linux-source-$b" \
        $( [ "$b" = 6.1 ] && echo "linux-headers-$DMSNAP_KVER linux-headers-${DMSNAP_KVER%-amd64}-common linux-kbuild-6.1" \
           || { v="${DMSNAP_KVER%+deb12-amd64}"; echo "linux-headers-$DMSNAP_KVER linux-headers-$v+deb12-common linux-kbuild-$v+deb12"; } ) > /dev/null)
    fi
    work="$(mktemp -d)"
    cp -r "$CACHE/src/$b/drivers" "$work/"
    for p in "$HERE"/patches/*.patch; do
      if (cd "$work" && GIT_CEILING_DIRECTORIES="$work/.." git apply --check "$p" && GIT_CEILING_DIRECTORIES="$work/.." git apply "$p"); then
        echo "check-apply: linux-source-$b $(cat "$CACHE/src/$b/version"): $(basename "$p") applies"
      else
        echo "check-apply: linux-source-$b $(cat "$CACHE/src/$b/version"): $(basename "$p") DOES NOT APPLY"
        status=1
      fi
    done
    rm -rf "$work"
  done
done
exit $status
