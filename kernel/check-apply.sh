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
    # the sources, extracted from Debian's linux-source-$b as build-module.sh does for a build
    DMSNAP_SOURCES_ONLY=1 bash "$HERE/build-module.sh" "$b" - "linux-source-$b" > /dev/null
    work="$(mktemp -d)"
    cp -r "$CACHE/src/$b/drivers" "$work/"
    # the regression fix for upstream 8581b19eb2c5 goes only on trees with that commit
    extra=""
    if grep -q "struct dm_hlist_head" "$work/drivers/md/dm-snap.c"; then
      extra="$(ls "$HERE"/patches/after-8581b19eb2c5/*.patch)"
    else
      echo "check-apply: linux-source-$b $(cat "$CACHE/src/$b/version"): predates upstream 8581b19eb2c5, patches/after-8581b19eb2c5/ not needed"
    fi
    for p in "$HERE"/patches/*.patch $extra; do
      if (cd "$work" && GIT_CEILING_DIRECTORIES="$work/.." git apply --check "$p" && GIT_CEILING_DIRECTORIES="$work/.." git apply "$p"); then
        echo "check-apply: linux-source-$b $(cat "$CACHE/src/$b/version"): ${p#"$HERE"/patches/} applies"
      else
        echo "check-apply: linux-source-$b $(cat "$CACHE/src/$b/version"): ${p#"$HERE"/patches/} DOES NOT APPLY"
        status=1
      fi
    done
    rm -rf "$work"
  done
done
exit $status
