#!/usr/bin/env python3
"""Make the kernel-made golden cases: run every job in jobs/*.json in ONE QEMU
boot and write conformance/cases/kernel-*/.

  python3 conformance/kernel/golden.py [--only ID ...] [--keep DIR]

Some jobs are also run a second time in the same boot (ids ending in
"--repeat") to check that the kernel's images are byte-identical.
"""
import sys as _sys
_sys.dont_write_bytecode = True
import argparse
import glob
import hashlib
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "kernel", "lib"))  # the oracle
import harness  # noqa: E402
import view  # noqa: E402
from cases import write_case, split_status, activation_of  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
REPEAT = ["kernel-origin-writes-1s", "kernel-multi-area-1s", "kernel-snap-writes-8s",
          "kernel-origin-batch-1s", "kernel-batch-crosses-area-1s"]


def load_jobs(only=None):
    jobs = []
    for p in sorted(glob.glob(os.path.join(HERE, "jobs", "*.json"))):
        j = json.load(open(p))
        j["_file"] = os.path.relpath(p, os.path.dirname(os.path.dirname(HERE)))
        if only and j["id"] not in only and os.path.basename(p) not in only \
                and os.path.basename(p)[:-5] not in only:
            continue
        jobs.append(j)
    return jobs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", nargs="*", help="job ids or job file names (default: all)")
    ap.add_argument("--keep", help="keep the work dir (data disk, console log) here")
    a = ap.parse_args()
    t0 = time.monotonic()
    jobs = load_jobs(a.only)
    if not jobs:
        sys.exit("golden: no job matches %r" % (a.only,))
    run = list(jobs)
    for j in jobs:
        if j["id"] in REPEAT:
            r = dict(j)
            r["id"] = j["id"] + "--repeat"
            run.append(r)
    results = harness.run_jobs(run, keep_dir=a.keep)
    problems = []
    summary = []
    for j in jobs:
        r = results[j["id"]]
        if not r["complete"]:
            problems.append("%s: guest did not finish the job" % j["id"])
        rec = r["records"][-1] if r["records"] else None
        last_act = [s for s in j["steps"] if s["op"] == "activate"][-1]
        rep = results.get(j["id"] + "--repeat")
        if rep is not None:
            same = rep["cow"] == r["cow"] and rep["origin"] == r["origin"]
            print("determinism: %s repeated in the same boot -> %s" % (
                j["id"], "byte-identical COW and origin" if same else "DIFFERENT"), file=sys.stderr)
            if not same:
                problems.append("%s: repeat gave different images" % j["id"])
        meta = {
            "id": j["id"],
            "description": j["description"],
            "kernel": r["kernel"],
            "job": j["_file"],
            "table": {"mode": last_act["mode"], "chunkSize": last_act["chunkSize"]},
            "cowBytes": len(r["cow"]),
            "originBytes": len(r["origin"]),
            "cowImage": "cow.img.gz",
            "originImage": "origin.img.gz",
            "activation": activation_of(rec),
            "status": split_status(rec["statusLine"]) if rec else None,
            "statusLine": rec["statusLine"] if rec else None,
            "kernelTable": rec["snapTable"] if rec else None,
            "dmesg": rec["dmesg"] if rec else r["dmesgAll"],
            "snapshotSha256": rec["sha256"] if rec else None,
            "readError": rec["readError"] if rec else None,
            "readDmesg": rec["readDmesg"] if rec else [],
            "tags": j.get("tags", []),
        }
        # cross-check with the documented format (warn only: the kernel is the truth)
        hdr = view.header(r["cow"])
        if rec and rec["sha256"] and hdr and hdr["magic"] == view.MAGIC and hdr["valid"] == 1:
            mine = view.view_sha(r["cow"], r["origin"], hdr["chunkSize"])
            meta["documentedFormatAgrees"] = mine == rec["sha256"]
            if mine != rec["sha256"]:
                print("note: %s: snapshot sha256 differs from the documented-format model" % j["id"], file=sys.stderr)
        write_case(j["id"], meta, r["cow"], r["origin"])
        summary.append((j["id"], meta["activation"], meta["status"]))
    for s in summary:
        print("%-34s %-9s %s" % s)
    stats = dict(harness.STATS, totalSeconds=round(time.monotonic() - t0, 1), jobs=len(run))
    print("golden: %d cases, %d boot(s), %.1fs in QEMU, %.1fs total" % (
        len(summary), stats["boots"], stats["bootSeconds"], stats["totalSeconds"]), file=sys.stderr)
    os.makedirs(os.path.join(HERE, ".cache"), exist_ok=True)
    json.dump(stats, open(os.path.join(HERE, ".cache", "golden-stats.json"), "w"))
    if problems:
        print("PROBLEMS:\n  " + "\n  ".join(problems), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
