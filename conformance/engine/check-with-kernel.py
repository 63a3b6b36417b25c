#!/usr/bin/env python3
"""The kernel reads what we write: show every image made by OUR store engine
(make-images.mjs) to the real Linux dm-snapshot, all in ONE QEMU boot, and
compare its answer with ours.

  python3 conformance/engine/check-with-kernel.py [--save] [--keep DIR] [--only NAME ...]

Per image: table `P <chunkSize>`, activate, record, deactivate (no writes).
An image passes when
  * the kernel's activation is what we expect (accepted; invalid for the
    invalidated ones),
  * its status (after `start length snapshot`) equals `dmsnap dump --json`'s
    .status ("Invalid" for the invalidated ones), and
  * the sha256 of /dev/mapper/snap equals the sha256 of `dmsnap export`
    (both null for an invalid snapshot: export refuses, the kernel's read fails).
Prints a table, the timings and `engine-images: N passed, N failed`; exits 1
on any mismatch.

--save also writes the committed evidence: conformance/engine/results.json and
one case folder per image, conformance/cases/engine-<name>/ (cow.img.gz and
origin.img.gz exactly as shown to the kernel, gzip -n -9; kernel.json in the
kernel recipe's contract, with the kernel's answer as the expectation).
Needs `pnpm -r build` (packages/*/dist) and the kernel recipe (kernel/setup.sh).
"""
import sys as _sys
_sys.dont_write_bytecode = True
import argparse
import json
import os
import shutil
import subprocess
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
_sys.path.insert(0, os.path.join(REPO, "conformance", "kernel", "lib"))
_sys.path.insert(0, os.path.join(REPO, "kernel", "lib"))  # the oracle
import harness  # noqa: E402
import activation  # noqa: E402
from cases import gz, kernel_answer  # noqa: E402

CASES = os.path.join(REPO, "conformance", "cases")


def short(x):
    return x[:12] if x else "-"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--save", action="store_true", help="write results.json and conformance/cases/engine-*/")
    ap.add_argument("--keep", help="keep the images and the QEMU work dir here")
    ap.add_argument("--only", action="append", default=[], help="only this image (repeatable)")
    a = ap.parse_args()
    if a.save and a.only:
        ap.error("--save writes the whole set; do not combine it with --only")

    t_start = time.time()
    work = a.keep or tempfile.mkdtemp(prefix="dmsnap-engine-")
    img_dir = os.path.join(work, "images")
    try:
        # 1. our images and our expectations
        t0 = time.time()
        cmd = ["node", os.path.join(HERE, "make-images.mjs"), "--out", img_dir]
        for o in a.only:
            cmd += ["--only", o]
        subprocess.run(cmd, check=True)
        t_make = time.time() - t0
        manifest = json.load(open(os.path.join(img_dir, "manifest.json")))

        # 2. the kernel, one boot for everything
        items = [{"id": m["id"], "cow": os.path.join(img_dir, m["cow"]), "origin": os.path.join(img_dir, m["origin"]),
                  "chunkSize": m["chunkSize"], "mode": "P"} for m in manifest]
        control = make_control(manifest, img_dir)
        if control:
            items.append(control["item"])
        t0 = time.time()
        res = activation.activate_images(items, keep_dir=os.path.join(work, "qemu") if a.keep else None)
        t_kernel = time.time() - t0
        boot_s = harness.STATS["bootSeconds"]

        control_ok = True
        if control:
            cr = res.pop()
            control_ok = cr["activation"] == "accepted" and cr["snapshotSha256"] not in (None, control["expectedSha256"])
            print("control %s: %s (kernel sha %s, the untouched image's %s)" % (
                control["item"]["id"], "the comparison catches it, as it must" if control_ok else "NOT CAUGHT: the check is blind",
                short(cr["snapshotSha256"]), short(control["expectedSha256"])))

        # 3. compare
        rows = []
        for m, r in zip(manifest, res):
            problems = []
            if r["activation"] != m["expectedActivation"]:
                problems.append("activation: kernel %s, ours %s" % (r["activation"], m["expectedActivation"]))
            if r["status"] != m["expectedStatus"]:
                problems.append("status: kernel %r, ours %r" % (r["status"], m["expectedStatus"]))
            if r["snapshotSha256"] != m["expectedSha256"]:
                problems.append("sha256: kernel %s, ours %s" % (r["snapshotSha256"], m["expectedSha256"]))
            if not r["complete"]:
                problems.append("the guest did not finish this job")
            rows.append((m, r, problems))

        # 4. report
        hdr = ("image", "cs", "exc", "our status", "kernel status", "our sha", "kernel sha", "verdict")
        table = [hdr]
        for m, r, p in rows:
            table.append((m["id"], str(m["chunkSize"]), str(m["exceptions"]), m["expectedStatus"], str(r["status"]),
                          short(m["expectedSha256"]), short(r["snapshotSha256"]), "ok" if not p else "MISMATCH"))
        w = [max(len(row[i]) for row in table) for i in range(len(hdr))]
        for i, row in enumerate(table):
            print("  ".join(c.ljust(w[j]) for j, c in enumerate(row)).rstrip())
            if i == 0:
                print("  ".join("-" * x for x in w))
        for m, r, p in rows:
            if p:
                print("\n%s MISMATCH:" % m["id"])
                for x in p:
                    print("  " + x)
                print("  kernel statusLine: %s" % r["statusLine"])
                print("  kernel table: %s" % r["kernelTable"])
                print("  dmesg: %s" % json.dumps(r["dmesg"]))
                if r["readError"]:
                    print("  readError: %s" % r["readError"])
            if r["cowChanged"]:
                print("note: %s: the kernel changed the COW during activation (cowSha256 %s -> %s)"
                      % (m["id"], short(r["cowSha256"]), short(r["cowAfterSha256"])))
        passed = sum(1 for _, _, p in rows if not p)
        failed = len(rows) - passed
        t_total = time.time() - t_start
        kver = res[0]["kernel"] if res else None
        print("\nkernel %s; make-images %.1fs; kernel run %.1fs (one boot, QEMU %.1fs); total %.1fs"
              % (kver, t_make, t_kernel, boot_s, t_total))

        # 5. evidence
        if a.save:
            save(manifest, rows, img_dir, kver, {"makeImagesSeconds": round(t_make, 1), "kernelRunSeconds": round(t_kernel, 1),
                                                  "qemuSeconds": round(boot_s, 1), "totalSeconds": round(t_total, 1),
                                                  "boots": harness.STATS["boots"]})
        print("engine-images: %d passed, %d failed" % (passed, failed))
        return 0 if failed == 0 and control_ok else 1
    finally:
        if not a.keep:
            shutil.rmtree(work, ignore_errors=True)


def make_control(manifest, img_dir):
    """A negative control in the same boot: a copy of a multi-area image with
    the new_chunk of the first two entries of area 1 swapped. The kernel must
    accept it and show a view that differs from our expectation for the
    untouched image, or the comparison is not looking at the exceptions."""
    m = next((x for x in manifest if x["name"] == "multi-area-1s"), None)
    if m is None:
        return None
    cow = bytearray(open(os.path.join(img_dir, m["cow"]), "rb").read())
    cs = m["chunkSize"] * 512
    e = cs // 16
    area1 = (1 + (e + 1)) * cs
    a, b = area1 + 8, area1 + 16 + 8
    cow[a:a + 8], cow[b:b + 8] = cow[b:b + 8], cow[a:a + 8]
    path = os.path.join(img_dir, "control-swapped-entries.cow.img")
    open(path, "wb").write(cow)
    item = {"id": "control-swapped-entries", "cow": path, "origin": os.path.join(img_dir, m["origin"]),
            "chunkSize": m["chunkSize"], "mode": "P"}
    return {"item": item, "expectedSha256": m["expectedSha256"]}


def save(manifest, rows, img_dir, kver, timing):
    results = {
        "what": "Images written by the dmsnap store engine (conformance/engine/make-images.mjs), activated by the real "
                "kernel with table P <chunkSize> in one QEMU boot (conformance/engine/check-with-kernel.py --save).",
        "kernel": kver,
        "timing": timing,
        "passed": sum(1 for _, _, p in rows if not p),
        "failed": sum(1 for _, _, p in rows if p),
        "images": [],
    }
    for m, r, p in rows:
        results["images"].append({
            "id": m["id"], "chunkSize": m["chunkSize"], "exceptions": m["exceptions"],
            "ourStatus": m["expectedStatus"], "kernelStatus": r["status"], "kernelActivation": r["activation"],
            "ourSha256": m["expectedSha256"], "kernelSha256": r["snapshotSha256"],
            "match": not p, **({"problems": p} if p else {}),
        })
        write_case(m, r, p, img_dir)
    with open(os.path.join(HERE, "results.json"), "w") as f:
        f.write(json.dumps(results, indent=2) + "\n")


def write_case(m, r, problems, img_dir):
    d = os.path.join(CASES, m["id"])
    os.makedirs(d, exist_ok=True)
    cow = open(os.path.join(img_dir, m["cow"]), "rb").read()
    origin = open(os.path.join(img_dir, m["origin"]), "rb").read()
    with open(os.path.join(d, "cow.img.gz"), "wb") as f:
        f.write(gz(cow))
    with open(os.path.join(d, "origin.img.gz"), "wb") as f:
        f.write(gz(origin))
    tags = ["engine-written", "chunk-%d" % m["chunkSize"]] + [t for t in m["tags"] if t != "engine-written"]
    meta = {
        "id": m["id"],
        "description": m["description"] + " Written by the dmsnap store engine, then activated by the kernel (table P %d, no writes)." % m["chunkSize"],
        "kernel": r["kernel"],
        "job": "conformance/engine/make-images.mjs#%s" % m["name"],
        "table": {"mode": "P", "chunkSize": m["chunkSize"]},
        "cowBytes": m["cowBytes"],
        "originBytes": m["originBytes"],
        "cowImage": "cow.img.gz",
        "originImage": "origin.img.gz",
        **kernel_answer(r),
        "tags": tags,
        "cowSha256": r["cowSha256"],
        "cowChangedByKernel": r["cowChanged"],
        "engine": {
            "writtenWith": m["writtenWith"],
            "writes": m["writes"],
            "exceptions": m["exceptions"],
            "status": m["expectedStatus"],
            "snapshotSha256": m["expectedSha256"],
            "agreesWithKernel": not problems,
            **({"disagreements": problems} if problems else {}),
        },
    }
    with open(os.path.join(d, "kernel.json"), "w") as f:
        f.write(json.dumps(meta, indent=2) + "\n")


if __name__ == "__main__":
    _sys.exit(main())
