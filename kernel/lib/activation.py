"""Kernel reader: activate many (COW, origin) pairs in one boot and report
what the kernel says about each. Used by reader.py (CLI) and damaged.py."""
import hashlib
import os
import re

import harness
from cases import gunzip, split_status, activation_of
from pattern import SECTOR


def _load(x):
    if x is None or isinstance(x, (bytes, bytearray)):
        return None if x is None else bytes(x)
    if str(x).endswith(".gz"):
        return gunzip(x)
    with open(x, "rb") as f:
        return f.read()


def read_images(items, keep_dir=None):
    """items: [{"id", "cow", "origin"?, "originSectors"?, "chunkSize", "mode"?}]
    cow/origin: bytes or a path (".gz" is decompressed). Without an origin the
    ORIGIN pattern of originSectors (default: the COW's size) is used.
    Returns a list of result dicts in the same order."""
    jobs = []
    for it in items:
        cow = _load(it["cow"])
        origin = _load(it.get("origin"))
        if len(cow) % SECTOR:
            raise ValueError("%s: COW size %d is not a multiple of 512" % (it["id"], len(cow)))
        osect = len(origin) // SECTOR if origin is not None else int(it.get("originSectors") or len(cow) // SECTOR)
        if origin is not None and len(origin) % SECTOR:
            raise ValueError("%s: origin size is not a multiple of 512" % it["id"])
        jid = re.sub(r"[^a-z0-9.~-]", "-", it["id"].lower())
        steps = it.get("steps") or [
            {"op": "activate", "mode": it.get("mode", "P"), "chunkSize": int(it.get("chunkSize", 0))},
            {"op": "record"},
            {"op": "deactivate"},
        ]
        jobs.append({"id": jid, "originSectors": osect, "origin": origin,
                     "cowSectors": len(cow) // SECTOR, "cow": cow, "steps": steps, "_in": it})
    res = harness.run_jobs(jobs, keep_dir=keep_dir)
    out = []
    for j in jobs:
        r = res[j["id"]]
        rec = r["records"][-1] if r["records"] else None
        out.append({
            "id": j["_in"]["id"],
            "kernel": r["kernel"],
            "activation": activation_of(rec),
            "status": split_status(rec["statusLine"]) if rec else None,
            "statusLine": rec["statusLine"] if rec else None,
            "statusAfterRead": rec["statusAfterRead"] if rec else None,
            "kernelTable": rec["snapTable"] if rec else None,
            "snapshotSha256": rec["sha256"] if rec else None,
            "readError": rec["readError"] if rec else None,
            "dmesg": rec["dmesg"] if rec else r["dmesgAll"],
            "readDmesg": rec["readDmesg"] if rec else [],
            "cowSha256": hashlib.sha256(j["cow"]).hexdigest(),
            "cowAfterSha256": hashlib.sha256(r["cow"]).hexdigest(),
            "cowChanged": r["cow"] != j["cow"],
            "originChanged": j["origin"] is not None and r["origin"] != j["origin"],
            "complete": r["complete"],
            "log": r["log"],
            "_cowAfter": r["cow"],
        })
    return out
