#!/usr/bin/env bash
# Run kernel jobs (conformance/kernel/jobs/*.json) in ONE QEMU boot and write
# their cases to conformance/cases/kernel-*/.
#   bash conformance/kernel/run.sh                  # every job
#   bash conformance/kernel/run.sh origin-writes-1s kernel-chunk-8s jobs/x.json
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
KERNEL="$(cd "$HERE/../../kernel" && pwd)"   # the oracle: recipe, initramfs, harness
bash "$KERNEL/setup.sh" >&2
bash "$KERNEL/build-initramfs.sh" >&2
if [ $# -eq 0 ]; then
  exec python3 "$HERE/golden.py"
fi
args=()
for a in "$@"; do args+=("$(basename "$a")"); done
exec python3 "$HERE/golden.py" --only "${args[@]}"
