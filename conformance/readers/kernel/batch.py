#!/usr/bin/env python3
"""Kernel reader for the conformance runner's batch protocol (docs/conformance.md).

  python3 conformance/readers/kernel/batch.py batch <requests.json> <answers.json>

Shows every requested COW to the real Linux kernel in ONE QEMU boot, through
the kernel oracle's activation (kernel/activate.py of @dmsnap/kernel), and translates what
the kernel said into the answers a dump/export reader gives:

- refused activation -> exit 1, {"error": {"code", "message"}}: the code is
  mapped from the kernel's log line (same table as conformance/tools/assemble.mjs);
- accepted -> exit 0 with state, chunkSize (from the live table), status, and,
  when the status line is `allocated/total metadata`, usage, nextFree
  (allocated / chunk size) and currentArea (metadata / chunk size - 2);
  state is "new" when the COW given had magic 0 (the kernel wrote a header),
  "invalid" when the status is Invalid, else "valid";
- export -> the sha256 of the snapshot device read in the guest (exit 1 when
  the read failed).
The kernel cannot report the header words or the exception list. The answers
file's "environment" says which kernel answered: uname -r, the kernel id,
`dmsetup targets`, the dm-snapshot module's origin and sha256. The kernel is
the one the DMSNAP_* variables name (`pnpm conformance --reader kernel --kernel ID`
sets them), else the installed 6.1.
"""
import json
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ACTIVATE = os.path.join(HERE, "..", "..", "..", "kernel", "activate.py")
REFUSALS = [
    (re.compile(r"Invalid or corrupt snapshot"), "BAD_MAGIC"),
    (re.compile(r"unable to handle snapshot disk version"), "UNSUPPORTED_VERSION"),
    (re.compile(r"invalid on-disk chunk size"), "INVALID_CHUNK_SIZE"),
    # A bad TABLE chunk size: the constructor refuses the table before it
    # reads the device ("Chunk size is not a power of 2" / "... too high",
    # logged as the exception store failing to be created).
    (re.compile(r"Couldn't create exception store|Chunk size is (not a power of 2|too high|not a multiple)"), "INVALID_CHUNK_SIZE"),
    (re.compile(r"Failed to read snapshot metadata \(-EIO\)|I/O error"), "TRUNCATED"),
]


def translate(req, res, cow_head):
    if res["activation"] == "refused":
        for line in res.get("dmesg") or []:
            for rx, code in REFUSALS:
                if rx.search(line):
                    return 1, {"error": {"code": code, "message": line}}
        return 1, {"error": {"code": "UNKNOWN", "message": " | ".join(res.get("dmesg") or [])[-400:]}}
    out = {}
    table = (res.get("kernelTable") or "").split()
    if table and table[-1].isdigit():
        cs = int(table[-1])
        out["chunkSize"] = cs
        out["exceptionsPerArea"] = cs * 512 // 16
    status = res.get("status") or ""
    out["status"] = status
    if res["activation"] == "invalid" or status == "Invalid":
        out["state"] = "invalid"
        return 0, out
    out["state"] = "new" if cow_head[:4] == b"\0\0\0\0" and res.get("cowChanged") else "valid"
    m = re.match(r"^(\d+)/(\d+) (\d+)$", status)
    if m and "chunkSize" in out:
        a, t, md = (int(x) for x in m.groups())
        out["usage"] = {"totalSectors": t, "allocatedSectors": a, "metadataSectors": md}
        out["nextFree"] = a // out["chunkSize"]
        out["currentArea"] = md // out["chunkSize"] - 2
    return 0, out


def main():
    if len(sys.argv) != 4 or sys.argv[1] != "batch":
        sys.exit("usage: batch.py batch <requests.json> <answers.json>")
    data = json.load(open(sys.argv[2]))
    if data.get("protocol") != "dmsnap-conformance-batch/1":
        sys.exit("unknown batch protocol %r" % data.get("protocol"))
    reqs = data["requests"]
    dumps = [q for q in reqs if q["op"] == "dump"]
    exports = {q["id"]: q for q in reqs if q["op"] == "export"}
    answers, items, heads, environment = [], [], {}, None
    for q in dumps:
        size = os.path.getsize(q["cow"])
        with open(q["cow"], "rb") as f:
            heads[q["id"]] = f.read(16)
        if size < 512 or size % 512:
            # A loop device is a whole number of sectors; the recipe only takes such images.
            why = "a COW of %d bytes is not a whole number of 512-byte sectors; the kernel recipe cannot attach it" % size
            answers.append({"id": q["id"], "op": "dump", "exitCode": None, "skip": why})
            continue
        item = {"id": q["id"], "cow": q["cow"], "chunkSize": q["table"]["chunkSize"], "mode": q["table"]["mode"]}
        origin = (exports.get(q["id"]) or {}).get("origin")
        if origin and os.path.getsize(origin) % 512 == 0:
            item["origin"] = origin
        elif origin:
            # An origin that is not whole sectors cannot be attached either: dump only.
            exports.pop(q["id"])
            answers.append({"id": q["id"], "op": "export", "exitCode": None,
                            "skip": "an origin of %d bytes is not a whole number of sectors" % os.path.getsize(origin)})
        items.append(item)
    if items:
        with tempfile.TemporaryDirectory(prefix="dmsnap-kernel-batch-") as tmp:
            inp, out = os.path.join(tmp, "in.json"), os.path.join(tmp, "out.json")
            json.dump(items, open(inp, "w"))
            subprocess.run([sys.executable, ACTIVATE, inp, "-o", out], check=True, stdout=sys.stderr)
            results = {r["id"]: r for r in json.load(open(out))}
        environment = next((r["kernelIdentity"] for r in results.values() if r.get("kernelIdentity")), None)
        for it in items:
            r = results.get(it["id"])
            if r is None or not r.get("complete", True):
                answers.append({"id": it["id"], "op": "dump", "exitCode": None, "problem": "the guest did not finish this image"})
                continue
            code, output = translate(it, r, heads[it["id"]])
            answers.append({"id": it["id"], "op": "dump", "exitCode": code, "output": output})
            if it["id"] in exports:
                ok = code == 0 and r.get("snapshotSha256") and not r.get("readError")
                a = {"id": it["id"], "op": "export", "exitCode": 0 if ok else 1}
                if ok:
                    a["sha256"] = r["snapshotSha256"]
                answers.append(a)
    json.dump(dict({"answers": answers}, **({"environment": environment} if environment else {})), open(sys.argv[3], "w"), indent=1)


if __name__ == "__main__":
    main()
