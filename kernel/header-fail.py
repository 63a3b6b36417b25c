#!/usr/bin/env python3
"""A failed invalidation-header write, on the real kernel (one QEMU boot).

  python3 kernel/header-fail.py [--json OUT] [--kernel ID]   # default: the DMSNAP_* variables, else the installed 6.1

The COW (8 sectors, 1-sector chunks, P) is activated over dm-linear; then its
table is reloaded so that sector 0 (the header) is a dm-error target and the
rest stays linear: area commits still work, only a header write fails. Ten
origin writes, one sector each, overflow the store: the one that finds it full
makes the kernel invalidate the snapshot, and that header write fails. Then
the table goes back to linear and one more origin write (to a chunk never
copied) is made.

Printed and returned: each write's outcome, the status, the COW's header on
disk after teardown (valid field) and the origin sectors that hold new data
without a copy in the COW. Stock kernels: every write succeeds, the header on
disk still says valid=1 over origin chunks the COW never copied (the snapshot
would activate valid with a wrong view). With kernel/patches/0003: the
triggering write and the later ones to uncopied chunks fail with EIO while
the header cannot be written, the write after the table is restored succeeds,
and the header on disk says valid=0.
"""
import argparse
import json
import os
import struct
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "lib"))
import harness  # noqa: E402
from pattern import origin_image, SECTOR  # noqa: E402

OSECT, CSECT, OSTART, CSTART = 64, 8, 128, 256
WRITES = 10

GUEST = r"""
J=hf; OUT=/out/hf; mkdir -p $OUT; : > $OUT/log; : > $OUT/steps
echo "[dmsnap] job hf" > /dev/console
logc $DMS create cow-disk --table "0 %(c)d linear $DATA %(cs)d"
logc $DMS create base-real --table "0 %(o)d linear $DATA %(os)d"
logc $DMS create snap --table "0 %(o)d snapshot /dev/mapper/base-real /dev/mapper/cow-disk P 1"
logc $DMS create base --table "0 %(o)d snapshot-origin /dev/mapper/base-real"
echo "activated $($DMS status snap | cut -d' ' -f4-)" >> $OUT/steps
# the header sector fails from now on; the areas and data chunks do not
logc $DMS suspend cow-disk
printf '0 1 error\n1 %(c1)d linear %%s %(cs1)d\n' $DATA > /tmp/t
logc $DMS load cow-disk /tmp/t
logc $DMS resume cow-disk
i=0
while [ $i -lt %(n)d ]; do
  if DMSNAP_NOSYNC=1 /bin/pwrite-direct /dev/mapper/base $i 1 WR1 >> $OUT/log 2>&1; then r=ok; else r=EIO; fi
  echo "w $i $r $($DMS status snap | cut -d' ' -f4-)" >> $OUT/steps
  i=$((i + 1))
done
logc $DMS suspend cow-disk
logc $DMS load cow-disk --table "0 %(c)d linear $DATA %(cs)d"
logc $DMS resume cow-disk
echo "restored" >> $OUT/steps
if DMSNAP_NOSYNC=1 /bin/pwrite-direct /dev/mapper/base %(n)d 1 WR2 >> $OUT/log 2>&1; then r=ok; else r=EIO; fi
echo "w %(n)d $r $($DMS status snap | cut -d' ' -f4-)" >> $OUT/steps
for d in base snap base-real cow-disk; do logc $DMS remove $d; done
dmesg > $OUT/dmesg
echo done > $OUT/done
""" % {"c": CSECT, "cs": CSTART, "o": OSECT, "os": OSTART, "c1": CSECT - 1, "cs1": CSTART + 1, "n": WRITES}


def run(keep=None):
    work = keep or tempfile.mkdtemp(prefix="dmsnap-hf-")
    os.makedirs(work, exist_ok=True)
    data_path, io_path = os.path.join(work, "data.img"), os.path.join(work, "io.img")
    with open(data_path, "wb") as f:
        f.truncate((CSTART + CSECT + 128) * SECTOR)
        f.seek(OSTART * SECTOR)
        f.write(origin_image(OSECT))
    harness.write_job_disk(io_path, GUEST.encode())
    secs = harness.boot([(io_path, "io"), (data_path, "data")], work, 1)
    res = os.path.join(work, "out")
    harness.read_job_disk(io_path, res, work)
    with open(data_path, "rb") as f:
        f.seek(OSTART * SECTOR)
        origin = f.read(OSECT * SECTOR)
        f.seek(CSTART * SECTOR)
        cow = f.read(CSECT * SECTOR)
    magic, valid, version, chunk = struct.unpack_from("<IIII", cow, 0)
    # exceptions of area 0 (chunk 1): old chunks copied into the COW
    copied = []
    for k in range(SECTOR // 16):
        old, new = struct.unpack_from("<QQ", cow, SECTOR + 16 * k)
        if new == 0:
            break
        copied.append(old)
    changed = [s for s in range(OSECT) if origin[s * SECTOR:(s + 1) * SECTOR] != origin_image(OSECT)[s * SECTOR:(s + 1) * SECTOR]]
    uncopied = [s for s in changed if s not in copied]
    steps = open(os.path.join(res, "hf", "steps")).read().splitlines()
    out = {
        "kernel": open(os.path.join(res, "kernel-version")).read().strip(),
        "dmSnapshotSha256": (open(os.path.join(res, "dm-snapshot.sha256")).read().strip() if os.path.exists(os.path.join(res, "dm-snapshot.sha256")) else None),
        "kernelIdentity": harness.kernel_identity(res),
        "bootSeconds": round(secs, 1),
        "steps": steps,
        "header": {"magic": hex(magic), "valid": valid},
        "copied": copied,
        "originChangedWithoutCopy": uncopied,
        "dmesg": [l for l in open(os.path.join(res, "hf", "dmesg")).read().splitlines() if "device-mapper" in l or "I/O error" in l][:20],
        # the hole: a header that still says valid over origin chunks the COW never copied
        "validOverLostChunks": magic == 0x70416E53 and valid == 1 and len(uncopied) > 0,
    }
    if keep is None:
        for p in (data_path, io_path):
            os.unlink(p)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--json")
    ap.add_argument("--keep")
    ap.add_argument("--kernel", help="a kernel id of the matrix (kernel/kernels.sh)")
    a = ap.parse_args()
    if harness.use_kernel_option(a.kernel, "header-fail") is not None:
        return 2
    r = run(a.keep)
    for s in r["steps"]:
        print("header-fail: " + s, file=sys.stderr)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(r, f, indent=2)
    fails = sum(1 for s in r["steps"] if " EIO" in s)
    print("header-fail: %s: %d of %d origin writes failed; header on disk valid=%d; origin chunks changed without a copy: %s; %s"
          % (r["kernel"], fails, WRITES + 1, r["header"]["valid"], r["originChangedWithoutCopy"] or "none",
             "HOLE: valid header over lost chunks" if r["validOverLostChunks"] else "no valid header over lost chunks"))


if __name__ == "__main__":
    sys.exit(main())
