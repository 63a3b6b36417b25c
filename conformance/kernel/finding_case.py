#!/usr/bin/env python3
"""Write the conformance case of a kernel crash finding: the minimal violating
crash state that `pnpm kernel:crash --out DIR` saved, shown to the real kernel
(one boot), recorded as every kernel case is (kernel.json, then
`node conformance/tools/assemble.mjs` writes case.json).

  pnpm kernel:crash --logs kernel/io/fixtures --no-kernel --out /tmp/kc
  python3 conformance/kernel/finding_case.py /tmp/kc overflow-p-1s kernel-crash-invalidation-not-durable-1s
"""
import gzip
import hashlib
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "lib"))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "kernel", "lib"))  # the oracle
import activation  # noqa: E402
from cases import write_case, kernel_answer  # noqa: E402


def main():
    src, workload, case_id = sys.argv[1:4]
    meta = json.load(open(os.path.join(src, "minimal-%s.json" % workload)))
    cow = gzip.decompress(open(os.path.join(src, "minimal-%s.cow.gz" % workload), "rb").read())
    origin = gzip.decompress(open(os.path.join(src, "minimal-%s.origin.gz" % workload), "rb").read())
    t = meta["table"]
    r = activation.activate_images([{"id": case_id, "cow": cow, "origin": origin, "chunkSize": t["chunkSize"], "mode": t["mode"]}])[0]
    kept = ",".join(str(i) for i in meta["kept"])
    dropped = ",".join(str(i) for i in meta["dropped"])
    out = {
        "id": case_id,
        "description": ("A crash state of the kernel's own log of workload %s (kernel/io/fixtures/%s.log.gz): "
                        "everything up to log event %d is durable; of the last unflushed group, log events %s reached the disk and %s "
                        "did not, among them the header write with valid=0. Linux activates a VALID snapshot whose view is not the origin "
                        "as snapshotted (%s). See docs/kernel-findings.md." % (workload, workload, meta["boundary"], kept or "none", dropped, meta["detail"])),
        "kernel": r["kernel"],
        "job": "kernel/io/fixtures/%s.log.gz#crash:boundary=%d:kept=%s" % (workload, meta["boundary"], kept),
        "table": {"mode": t["mode"], "chunkSize": t["chunkSize"]},
        "cowBytes": len(cow),
        "originBytes": len(origin),
        "cowImage": "cow.img.gz",
        "originImage": "origin.img.gz",
        **kernel_answer(r),
        "cowSha256": hashlib.sha256(cow).hexdigest(),
        "cowChangedByKernel": r["cowChanged"],
        "tags": ["crash", "finding", "invalidation", "overflow", "chunk-%d" % t["chunkSize"]],
    }
    d = write_case(case_id, out, cow, origin)
    print("%s: kernel %s, status %s, sha256 %s (ours: %s %s)" % (d, r["activation"], r["status"], r["snapshotSha256"],
          meta["ours"]["status"], meta["ours"]["viewSha256"]))


if __name__ == "__main__":
    main()
