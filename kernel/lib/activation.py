"""Activate many (COW, origin) pairs with the kernel in one boot and report
what it says about each: crash states (kernel:crash), the conformance suite's
cases (its kernel reader), damaged images. kernel/activate.py is
the command line over activate_images()."""
import gzip
import hashlib
import re

import harness
from pattern import SECTOR


def split_status(line):
    """'0 64 snapshot 6/64 2' -> '6/64 2' (the part after the target name)."""
    if line is None:
        return None
    parts = line.split(None, 3)
    if len(parts) >= 3 and parts[2] == "snapshot":
        return parts[3] if len(parts) > 3 else ""
    return line


def activation_of(rec):
    """accepted | refused (dmsetup create failed) | invalid (status Invalid)."""
    if rec is None or rec.get("create") != "accepted":
        return "refused"
    if split_status(rec.get("statusLine")) == "Invalid":
        return "invalid"
    return "accepted"


def _load(x):
    if x is None or isinstance(x, (bytes, bytearray)):
        return None if x is None else bytes(x)
    with open(x, "rb") as f:
        data = f.read()
    return gzip.decompress(data) if str(x).endswith(".gz") else data


def activate_images(items, keep_dir=None):
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
            "kernelIdentity": r["identity"],
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
