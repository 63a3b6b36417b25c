#!/usr/bin/env python3
"""Compare the dm-log-writes logs of two kernels, workload by workload.

  python3 kernel/logdiff.py STOCK_DIR FIXED_DIR [--show WORKLOAD]

Each DIR holds <workload>.log.gz as kernel/io/record.py writes
them. A log is read as its entries (writes with their sector, length, flags
and a hash of the data; flushes; marks). Printed per workload: whether the
logs are the same entry for entry (sector, length, flags, data; a flush's
sector is not compared); else whether they are the same once (a) flush-only
entries and marks are left out, (b) the flags of writes to the COW's header
sector are left out and (c) the writes are taken as a multiset (sector,
length, data): a plain write is logged when a later flush covers it, so a
new flush moves it in the log without changing it. That is the claim for
the patch series: it changes the header's flags, adds flushes and reorders
the first activation's two writes, and writes nothing else.
Exit 0 when every workload is the same under (a)-(c).
"""
import gzip
import hashlib
import json
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
FLUSH, FUA, DISCARD, MARK = 1, 2, 4, 8


def entries(path):
    raw = gzip.decompress(open(path, "rb").read())
    magic, version, nr, ssz = struct.unpack_from("<QQQI", raw, 0)
    pos, out = ssz, []
    for _ in range(nr):
        sector, nsect, flags, dlen = struct.unpack_from("<QQQQ", raw, pos)
        if flags & MARK:
            text = raw[pos + 32:pos + 32 + dlen].split(b"\0")[0].decode(errors="replace")
            out.append(("mark", text))
        else:
            data = raw[pos + ssz:pos + ssz + nsect * 512]
            out.append(("io", sector, nsect, flags, hashlib.sha256(data).hexdigest()[:12]))
        pos += ssz + (nsect * 512 + ssz - 1) // ssz * ssz
    return out


def fmt(e):
    if e[0] == "mark":
        return "mark %s" % e[1]
    fl = "|".join(n for b, n in ((FLUSH, "FLUSH"), (FUA, "FUA"), (DISCARD, "DISCARD")) if e[3] & b) or "plain"
    return "write %d+%d %s %s" % (e[1], e[2], fl, e[4]) if e[2] else "flush %s" % fl


def normal(es, header_sector):
    """The writes as a sorted list: marks and flush-only entries left out, the header's flags too."""
    out = []
    for e in es:
        if e[0] == "mark" or e[2] == 0:
            continue
        out.append(fmt(("io", e[1], e[2], 0, e[4])) if e[1] == header_sector else fmt(e))
    return sorted(out)


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    a, b = argv[0], argv[1]
    show = argv[argv.index("--show") + 1] if "--show" in argv else None
    workloads = json.load(open(os.path.join(HERE, "io", "workloads.json")))["workloads"]
    same_all = True
    for w in workloads:
        pa, pb = (os.path.join(d, w["id"] + ".log.gz") for d in (a, b))
        if not (os.path.exists(pa) and os.path.exists(pb)):
            continue
        ea, eb = entries(pa), entries(pb)
        hs = w["originSectors"]  # the COW starts after the origin on the logged slice
        if [fmt(e) for e in ea] == [fmt(e) for e in eb]:
            verdict = "entry for entry the same (%d entries)" % len(ea)
        elif normal(ea, hs) == normal(eb, hs):
            verdict = "the same writes but for header flags; flushes and order differ (%d vs %d entries)" % (len(ea), len(eb))
        else:
            verdict = "DIFFERENT beyond header flags and flushes"
            same_all = False
        print("logdiff: %s: %s" % (w["id"], verdict))
        if show == w["id"]:
            import difflib
            for line in difflib.unified_diff([fmt(e) for e in ea], [fmt(e) for e in eb], a, b, n=2, lineterm=""):
                print(line)
    return 0 if same_all else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
