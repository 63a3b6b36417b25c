#!/usr/bin/env python3
"""Compare the dm-log-writes logs of two kernels, workload by workload.

  python3 kernel/logdiff.py A_DIR B_DIR [--expect same|fix] [--show WORKLOAD]

Each DIR holds <workload>.log.gz (and record.json) as
kernel/io/record.py writes them. A log is read as its entries
(writes with their sector, length, flags and a hash of the data; flushes;
marks). Per workload, the first of these that holds:
  same     the logs are the same entry for entry (a flush's sector aside);
  flags    the same writes in the same order once flush-only entries and
           marks are left out and the flags of writes to the COW's header
           are ignored (a plain write is logged when a later flush covers
           it, so a new flush moves it among the marks, not among the writes);
  reorder  the same, once A's first activation writes area 0's zeroing
           before the new header: the order kernel/patches/0002 gives every
           first activation (every workload starts with one);
  timing   the workload has copies in flight together ("timing" in
           workloads.json): the kernel groups their commits as they
           complete, so two recordings of one kernel differ too; the writes
           differ, the data slice each kernel left (record.json) is the same;
  DIFFERENT.
--expect same (two stock kernels): every workload same (or timing).
--expect fix (A stock, B the same kernel with kernel/patches/): every
workload reorder (or timing): the series changes the header's flags, adds
the flushes before them and moves the first header after area 0's zeroing,
and writes nothing else. Without --expect: same, flags or reorder pass.
Exit 0 when every workload is one the expectation allows.
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
            # the last field: a valid header (magic and a nonzero valid word) or all zeros
            kind = "valid" if data[:4] == b"SnAp" and any(data[4:8]) else "zero" if data and not any(data) else ""
            out.append(("io", sector, nsect, flags, hashlib.sha256(data).hexdigest()[:12], kind))
        pos += ssz + (nsect * 512 + ssz - 1) // ssz * ssz
    return out


def fmt(e):
    if e[0] == "mark":
        return "mark %s" % e[1]
    fl = "|".join(n for b, n in ((FLUSH, "FLUSH"), (FUA, "FUA"), (DISCARD, "DISCARD")) if e[3] & b) or "plain"
    return "write %d+%d %s %s" % (e[1], e[2], fl, e[4]) if e[2] else "flush %s" % fl


def writes(es, header_sector):
    """The writes in log order: marks and flush-only entries left out, the header's flags too."""
    return [fmt(("io", e[1], e[2], 0, e[4])) if e[1] == header_sector else fmt(e) for e in es if e[0] == "io" and e[2]]


def zero_first(es, header_sector, area0_sector):
    """The log with its first valid header write moved after the first zeroing of area 0 (patch 0002's order)."""
    h = next((i for i, e in enumerate(es) if e[0] == "io" and e[1] == header_sector and e[5] == "valid"), None)
    z = next((i for i, e in enumerate(es) if e[0] == "io" and e[1] == area0_sector and e[5] == "zero"), None)
    if h is None or z is None or z < h:
        return es
    return es[:h] + es[h + 1:z + 1] + [es[h]] + es[z + 1:]


def final_sha(d, wid):
    try:
        return json.load(open(os.path.join(d, "record.json")))["workloads"][wid]["finalSha256"]
    except (OSError, KeyError, ValueError):
        return None


def verdict(w, a_dir, b_dir, ea, eb):
    hs = w["originSectors"]  # the COW starts after the origin on the logged slice
    cs = next(s["chunkSize"] for s in w["steps"] if s["op"] in ("activate", "merge"))
    if [fmt(e) for e in ea] == [fmt(e) for e in eb]:
        return "same", "entry for entry the same (%d entries)" % len(ea)
    if writes(ea, hs) == writes(eb, hs):
        return "flags", "the same writes in the same order but for the header's flags; flushes differ (%d vs %d entries)" % (len(ea), len(eb))
    if writes(zero_first(ea, hs, hs + cs), hs) == writes(eb, hs):
        return "reorder", "the same writes but for the header's flags, once the first activation zeroes area 0 before writing the header (patch 0002's order); flushes differ (%d vs %d entries)" % (len(ea), len(eb))
    if w.get("timing"):
        fa, fb = final_sha(a_dir, w["id"]), final_sha(b_dir, w["id"])
        if fa is not None and fa == fb:
            return "timing", "the commits of copies in flight grouped differently (timing: %s); the same data slice left (%s...)" % (w["timing"], fa[:12])
    return "DIFFERENT", "DIFFERENT beyond the header's flags, flushes and the first activation's order"


ALLOWED = {None: {"same", "flags", "reorder", "timing"}, "same": {"same", "timing"}, "fix": {"reorder", "timing"}}


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    a, b = argv[0], argv[1]
    show = argv[argv.index("--show") + 1] if "--show" in argv else None
    expect = argv[argv.index("--expect") + 1] if "--expect" in argv else None
    if expect not in ALLOWED:
        print("logdiff: USAGE: --expect same|fix", file=sys.stderr)
        return 2
    workloads = json.load(open(os.path.join(HERE, "io", "workloads.json")))["workloads"]
    ok_all = True
    for w in workloads:
        pa, pb = (os.path.join(d, w["id"] + ".log.gz") for d in (a, b))
        if not (os.path.exists(pa) and os.path.exists(pb)):
            continue
        ea, eb = entries(pa), entries(pb)
        cls, text = verdict(w, a, b, ea, eb)
        if cls not in ALLOWED[expect]:
            ok_all = False
            text += " [expected %s]" % " or ".join(sorted(ALLOWED[expect]))
        print("logdiff: %s: %s" % (w["id"], text))
        if show == w["id"]:
            import difflib
            for line in difflib.unified_diff([fmt(e) for e in ea], [fmt(e) for e in eb], a, b, n=2, lineterm=""):
                print(line)
    return 0 if ok_all else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
