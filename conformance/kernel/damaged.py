#!/usr/bin/env python3
"""Ask the real kernel about damaged COW images: apply every mutation in
mutate.py to its kernel-made source case, activate all of them in ONE boot
(through the kernel reader) and write conformance/cases/damaged-*/.

  python3 conformance/kernel/damaged.py [--only NAME ...] [--keep DIR]

Needs the kernel-* source cases (golden.py) in conformance/cases/.
"""
import sys as _sys
_sys.dont_write_bytecode = True
import argparse
import hashlib
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "lib"))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "kernel", "lib"))  # the oracle
import harness  # noqa: E402
import activation  # noqa: E402
import view  # noqa: E402
from cases import CASES, write_case, gunzip, kernel_answer  # noqa: E402
from mutate import MUTATIONS, apply  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", nargs="*")
    ap.add_argument("--keep")
    a = ap.parse_args()
    t0 = time.monotonic()
    muts = [mu for mu in MUTATIONS if not a.only or mu["name"] in a.only]
    items = []
    for mu in muts:
        src = json.load(open(os.path.join(CASES, mu["source"], "kernel.json")))
        cow = apply(mu)
        origin = gunzip(os.path.join(CASES, mu["source"], "origin.img.gz"))
        table = mu.get("table") or src["table"]  # a mutation may change the table too
        items.append({"id": "damaged-" + mu["name"], "cow": cow, "origin": origin,
                      "chunkSize": table["chunkSize"], "mode": table["mode"],
                      "_mut": mu, "_src": src})
    res = activation.activate_images(items, keep_dir=a.keep)
    rows = []
    for it, r in zip(items, res):
        mu, src = it["_mut"], it["_src"]
        meta = {
            "id": it["id"],
            "description": mu["description"],
            "kernel": r["kernel"],
            "job": "conformance/kernel/mutate.py#" + mu["name"],
            "mutation": mu["name"],
            "sourceCase": mu["source"],
            "table": {"mode": it["mode"], "chunkSize": it["chunkSize"]},
            "cowBytes": len(it["cow"]),
            "originBytes": len(it["origin"]),
            "cowImage": "cow.img.gz",
            "originImage": "../%s/origin.img.gz" % mu["source"],
            **kernel_answer(r),
            "cowSha256": r["cowSha256"],
            "cowChangedByKernel": r["cowChanged"],
            "cowAfterSha256": r["cowAfterSha256"],
            "tags": ["damaged"] + mu["tags"],
        }
        extra = {}
        if r["cowChanged"]:
            meta["cowAfterImage"] = "cow-after.img.gz"
            extra["cow-after.img.gz"] = r["_cowAfter"]
        # Which documented reading does the kernel's view match?
        if r["snapshotSha256"]:
            hdr = view.header(it["cow"])
            cs = hdr["chunkSize"] if hdr and hdr["magic"] == view.MAGIC and hdr["chunkSize"] else None
            notes = []
            if cs:
                for pol in ("last", "first"):
                    if view.view_sha(it["cow"], it["origin"], cs, pol) == r["snapshotSha256"]:
                        notes.append("matches model (%s duplicate wins)" % pol)
            if hashlib.sha256(it["origin"]).hexdigest() == r["snapshotSha256"]:
                notes.append("equals the current origin")
            srcsha = src.get("snapshotSha256")
            if srcsha == r["snapshotSha256"]:
                notes.append("equals the source case's snapshot")
            meta["shaNotes"] = notes
        if os.path.isdir(os.path.join(CASES, it["id"])):
            for fn in ("cow-after.img.gz",):
                p = os.path.join(CASES, it["id"], fn)
                if os.path.exists(p) and fn not in extra:
                    os.unlink(p)
        write_case(it["id"], meta, it["cow"], None, extra)
        rows.append((it["id"], meta["activation"], meta["status"], "; ".join(meta.get("shaNotes", [])),
                     "COW-CHANGED" if r["cowChanged"] else ""))
    for row in rows:
        print("%-42s %-9s %-14s %s %s" % row)
    stats = dict(harness.STATS, totalSeconds=round(time.monotonic() - t0, 1), jobs=len(items))
    print("damaged: %d cases, %d boot(s), %.1fs in QEMU, %.1fs total" % (
        len(rows), stats["boots"], stats["bootSeconds"], stats["totalSeconds"]), file=sys.stderr)
    json.dump(stats, open(os.path.join(HERE, ".cache", "damaged-stats.json"), "w"))


if __name__ == "__main__":
    main()
