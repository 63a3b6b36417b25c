#!/usr/bin/env python3
"""Activate COW images with the real kernel, many in ONE boot, and report
what it says about each (crash states, conformance cases, your own images).

  python3 kernel/activate.py INPUT.json [-o OUT.json] [--kernel ID] [--keep DIR] [--save-cow-after DIR]

INPUT.json is a list (or {"items": [...]}) of
  {"id": "x", "cow": "path/cow.img[.gz]", "origin": "path/origin.img[.gz]" (optional),
   "originSectors": 64 (optional, when no origin; default = COW size),
   "chunkSize": 8, "mode": "P" | "PO",
   "steps": [...] (optional; default activate/record/deactivate; kernel/README.md, "Jobs")}
Relative paths are relative to the INPUT file. The output (stdout or -o) is a
JSON list, one object per item: id, kernel (uname -r), kernelIdentity (the
matrix id, `dmsetup targets`, the dm-snapshot module's origin and sha256),
activation (accepted|refused|invalid), status, statusLine, statusAfterRead,
kernelTable, snapshotSha256, readError, dmesg, readDmesg, cowSha256,
cowAfterSha256, cowChanged, originChanged, complete, log.
--kernel ID boots that kernel of the matrix (kernel/kernels.sh; default: the
DMSNAP_* variables, else the installed 6.1); an unknown id exits 2 with
UNKNOWN_KERNEL.
Progress goes to stderr. The kernel may write to a COW (a blank one gets its
header); the input files are never modified (the images are copied).
"""
import sys as _sys
_sys.dont_write_bytecode = True
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import activation  # noqa: E402
import harness  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("input")
    ap.add_argument("-o", "--output")
    ap.add_argument("--keep")
    ap.add_argument("--kernel", help="a kernel id of the matrix (6.1, 6.12, 6.1+fix, 6.12+fix) or a folder with vmlinuz* and lib/modules/<release>/")
    ap.add_argument("--save-cow-after", help="write <id>.cow-after.img here for COWs the kernel changed")
    a = ap.parse_args()
    if harness.use_kernel_option(a.kernel, "activate") is not None:
        return 2
    data = json.load(open(a.input))
    items = data["items"] if isinstance(data, dict) else data
    base = os.path.dirname(os.path.abspath(a.input))
    for it in items:
        for k in ("cow", "origin"):
            if it.get(k) and not os.path.isabs(it[k]):
                it[k] = os.path.join(base, it[k])
    res = activation.activate_images(items, keep_dir=a.keep)
    for r in res:
        cow_after = r.pop("_cowAfter")
        if a.save_cow_after and r["cowChanged"]:
            os.makedirs(a.save_cow_after, exist_ok=True)
            with open(os.path.join(a.save_cow_after, r["id"] + ".cow-after.img"), "wb") as f:
                f.write(cow_after)
    txt = json.dumps(res, indent=2) + "\n"
    if a.output:
        open(a.output, "w").write(txt)
    else:
        sys.stdout.write(txt)
    print("activate: %d image(s), %d boot(s), %.1fs in QEMU" % (len(res), harness.STATS["boots"],
          harness.STATS["bootSeconds"]), file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
