#!/usr/bin/env bash
# Regenerate every kernel-made case: conformance/cases/kernel-*/ (golden
# images, one boot) and conformance/cases/damaged-*/ (mutations of them shown
# to the kernel, one more boot). Two QEMU boots in total.
#   bash conformance/kernel/make-golden.sh
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
KERNEL="$(cd "$HERE/../../kernel" && pwd)"   # the oracle: recipe, initramfs, harness
start=$(date +%s)
bash "$KERNEL/setup.sh"
bash "$KERNEL/build-initramfs.sh"
python3 "$HERE/golden.py"
python3 "$HERE/damaged.py"
end=$(date +%s)
python3 - "$HERE/.cache" "$((end - start))" <<'PY'
import json, sys, os
g = json.load(open(os.path.join(sys.argv[1], "golden-stats.json")))
d = json.load(open(os.path.join(sys.argv[1], "damaged-stats.json")))
print("make-golden: %d boots, %d guest jobs, %.1fs in QEMU, %ss wall clock" % (
    g["boots"] + d["boots"], g["jobs"] + d["jobs"], g["bootSeconds"] + d["bootSeconds"], sys.argv[2]))
PY
du -sh "$HERE/../cases" | sed 's/^/make-golden: cases size /'
