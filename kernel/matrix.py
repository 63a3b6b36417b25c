#!/usr/bin/env python3
"""`pnpm kernel:matrix`: every kernel of the matrix through the same checks.

  python3 kernel/matrix.py [--kernels "6.1 6.12 6.1+fix 6.12+fix"] [--conformance] [--no-header-fail] [--tlc] [--reuse]

Per kernel (kernel/kernels.sh resolves the id: Debian's image, or the same
image with dm-snapshot.ko built here from kernel/patches/):
  1. `pnpm kernel:crash --no-tlc`: record every workload's log (one boot),
     crash it at every flush/FUA point, activate a sample (one more boot);
     the violations are the crash states that activate valid with a wrong view;
  2. kernel/header-fail.py: the invalidation header write fails (dm-error under
     the COW, one boot); is a valid header left over origin chunks the COW
     never copied?
  3. with --conformance, `pnpm conformance --reader kernel` (one boot): every
     case judged by it (not measured yet on the new kernels).
Stock kernels must show violations (the check has teeth); fixed kernels none.
Writes .cache/kernel/matrix.json and ends with the one line of issue #22.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
RUNS = os.path.join(ROOT, ".cache", "kernel", "runs")


def kernel_info(kid):
    return json.loads(subprocess.run(["bash", os.path.join(HERE, "kernels.sh"), "info", kid], check=True, stdout=subprocess.PIPE, text=True).stdout)


def step(name, cmd, env, log):
    t0 = time.monotonic()
    with open(log, "w") as f:
        r = subprocess.run(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        f.write(r.stdout)
    secs = time.monotonic() - t0
    print("kernel-matrix:   %s: exit %d in %.0fs (log %s)" % (name, r.returncode, secs, os.path.relpath(log, ROOT)), file=sys.stderr, flush=True)
    return r.returncode, r.stdout, secs


def short(release, fixed):
    """6.1.0-57-amd64 -> 6.1.0-57; 6.12.118+deb12-amd64 -> 6.12.118"""
    s = re.sub(r"(\+deb\d+)?-amd64$", "", release)
    return s + ("+fix" if fixed else "")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--kernels", default=os.environ.get("DMSNAP_MATRIX", "6.1 6.12 6.1+fix 6.12+fix"))
    ap.add_argument("--conformance", action="store_true", help="also run the kernel conformance reader on each kernel (one more boot each; not yet measured)")
    ap.add_argument("--no-conformance", action="store_true", help="the default")
    ap.add_argument("--no-header-fail", action="store_true")
    ap.add_argument("--tlc", action="store_true", help="also run TLC inside kernel:crash (slow; the same for every kernel)")
    ap.add_argument("--reuse", action="store_true", help="take a kernel's result from an earlier run (.cache/kernel/runs/ID/result.json) when present")
    a = ap.parse_args()
    os.makedirs(RUNS, exist_ok=True)
    # kernel:crash leaves its count for CI's closing line (scripts/summary.mjs); keep the plain run's
    count_file = os.path.join(ROOT, ".cache", "kernel-crash.json")
    count_before = open(count_file).read() if os.path.exists(count_file) else None
    results, problems = [], []
    t_all = time.monotonic()
    for kid in a.kernels.split():
        print("kernel-matrix: %s" % kid, file=sys.stderr, flush=True)
        d = os.path.join(RUNS, kid)
        if a.reuse and os.path.exists(os.path.join(d, "result.json")):
            res = json.load(open(os.path.join(d, "result.json")))
            problems.extend(res.get("problems", []))
            results.append(res)
            print("kernel-matrix: %s: earlier result reused" % kid, file=sys.stderr, flush=True)
            continue
        n_problems = len(problems)
        info = kernel_info(kid)
        env = dict(os.environ)  # each step takes the kernel as --kernel ID
        fixed = kid.endswith("+fix")
        os.makedirs(d, exist_ok=True)
        res = {"id": kid, "release": info["release"], "module": info["module"], "fixed": fixed, "seconds": {}}
        # the logs are kept (d/logs) so that stock and fixed logs can be compared (kernel/logdiff.py)
        rc0, _, secs0 = step("record", ["python3", os.path.join(HERE, "io", "record.py"), "--kernel", kid, "--out", os.path.join(d, "logs")], env, os.path.join(d, "record.log"))
        res["seconds"]["record"] = round(secs0)
        if rc0 != 0:
            problems.append("%s: record.py exited %d" % (kid, rc0))
        else:
            rec = json.load(open(os.path.join(d, "logs", "record.json")))
            res["guest"] = {"uname": rec["kernel"], "dmTargets": rec.get("dmTargets"), "dmSnapshotSha256": rec.get("dmSnapshotSha256")}
        cmd = ["pnpm", "-s", "kernel:crash", "--kernel", kid, "--logs", os.path.join(d, "logs"), "--out", d] + ([] if a.tlc else ["--no-tlc"])
        rc, out, secs = step("kernel:crash", cmd, env, os.path.join(d, "kernel-crash.log"))
        res["seconds"]["kernelCrash"] = round(secs)
        m = re.search(r"kernel crash: (\d+) workloads, .*?(\d+) crash states \((\d+) by the kernel\), (\d+) violations in (\d+) workloads", out)
        if not m:
            problems.append("%s: kernel:crash printed no summary line (exit %d)" % (kid, rc))
            res["violations"] = None
        else:
            res["workloads"], res["crashStates"], res["byKernel"], res["violations"] = int(m.group(1)), int(m.group(2)), int(m.group(3)), int(m.group(4))
        rep = os.path.join(d, "kernel-crash.json")
        if os.path.exists(rep):
            j = json.load(open(rep))
            res["kernelProblems"] = j.get("problems", [])
            # the kernel agreed with our codec on every sampled state (a disagreement is a problem there)
        if rc != 0:
            problems.append("%s: kernel:crash exited %d" % (kid, rc))
        if not a.no_header_fail:
            rc2, out2, secs2 = step("header-fail", ["python3", os.path.join(HERE, "header-fail.py"), "--kernel", kid, "--json", os.path.join(d, "header-fail.json")], env, os.path.join(d, "header-fail.log"))
            res["seconds"]["headerFail"] = round(secs2)
            if rc2 == 0:
                hf = json.load(open(os.path.join(d, "header-fail.json")))
                res["headerFail"] = {"hole": hf["validOverLostChunks"], "failedWrites": sum(1 for s in hf["steps"] if " EIO" in s), "headerValid": hf["header"]["valid"]}
            else:
                problems.append("%s: header-fail.py exited %d" % (kid, rc2))
        if a.conformance and not a.no_conformance:
            rc3, out3, secs3 = step("conformance", ["pnpm", "-s", "conformance", "--reader", "kernel", "--kernel", kid, "--no-write"], env, os.path.join(d, "conformance.log"))
            res["seconds"]["conformance"] = round(secs3)
            m3 = re.search(r"^kernel\s+\w+\s+(\d+) passed\s+(\d+) failed\s+(\d+) skipped", out3, re.M)
            if m3:
                res["conformance"] = {"passed": int(m3.group(1)), "failed": int(m3.group(2)), "skipped": int(m3.group(3))}
            else:
                problems.append("%s: conformance printed no kernel row (exit %d)" % (kid, rc3))
        # the teeth: stock kernels must show the hole, fixed kernels must not
        v = res.get("violations")
        if v is not None:
            if fixed and v != 0:
                problems.append("%s: %d crash states activate valid with a wrong view" % (kid, v))
            if not fixed and v == 0:
                problems.append("%s: no violation on a stock kernel: the check has no teeth" % kid)
        hf = res.get("headerFail")
        if hf is not None:
            if fixed and (hf["hole"] or hf["failedWrites"] == 0):
                problems.append("%s: a failed invalidation header write still lets origin writes through (%s)" % (kid, hf))
            if not fixed and not hf["hole"]:
                problems.append("%s: stock kernel shows no valid header over lost chunks after a failed header write" % kid)
        res["problems"] = problems[n_problems:]
        with open(os.path.join(d, "result.json"), "w") as f:
            json.dump(res, f, indent=2)
        results.append(res)
        print("kernel-matrix: %s done: %s" % (kid, json.dumps({k: res.get(k) for k in ("release", "violations", "headerFail", "conformance", "seconds")})), file=sys.stderr, flush=True)
    # each fixed kernel's logs against its stock kernel's: the same writes but for the header's flags
    logdiff = {}
    for r in results:
        stock_dir, fixed_dir = os.path.join(RUNS, r["id"], "logs"), os.path.join(RUNS, r["id"] + "+fix", "logs")
        if r["fixed"] or not (os.path.isdir(stock_dir) and os.path.isdir(fixed_dir)):
            continue
        ld = subprocess.run(["python3", os.path.join(HERE, "logdiff.py"), stock_dir, fixed_dir], stdout=subprocess.PIPE, text=True)
        logdiff[r["id"]] = ld.stdout.splitlines()
        for line in ld.stdout.splitlines():
            print("kernel-matrix: %s vs %s+fix: %s" % (r["id"], r["id"], line[len("logdiff: "):]), file=sys.stderr)
        if ld.returncode != 0:
            problems.append("%s+fix writes more than the header's flags differ from %s (kernel/logdiff.py)" % (r["id"], r["id"]))
    # the series applies to every stock tree of the matrix
    ca = subprocess.run(["bash", os.path.join(HERE, "check-apply.sh")], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for line in ca.stdout.splitlines():
        print("kernel-matrix: " + line, file=sys.stderr)
    if ca.returncode != 0:
        problems.append("the patch series does not apply (kernel/check-apply.sh)")
    checks = sum(2 + (0 if a.no_header_fail else 1) + (1 if a.conformance and not a.no_conformance else 0) for _ in results) + len(logdiff) + 1
    with open(os.path.join(ROOT, ".cache", "kernel-matrix.json"), "w") as f:
        json.dump({"passed": max(0, checks - len(problems)), "failed": len(problems)}, f)
    if count_before is not None:
        with open(count_file, "w") as f:
            f.write(count_before)
    total = round(time.monotonic() - t_all)
    with open(os.path.join(ROOT, ".cache", "kernel", "matrix.json"), "w") as f:
        json.dump({"kernels": results, "logdiff": logdiff, "checkApply": ca.stdout.splitlines(), "problems": problems, "seconds": total}, f, indent=2)
    for p in problems:
        print("kernel-matrix: PROBLEM: %s" % p, file=sys.stderr)
    stock = [r for r in results if not r["fixed"]]
    fixed = [r for r in results if r["fixed"]]
    viol = lambda r: "%s %s violations" % (short(r["release"], r["fixed"]), "?" if r.get("violations") is None else r["violations"])
    conf = lambda r: "%s %s" % (short(r["release"], r["fixed"]), "%d/%d" % (r["conformance"]["passed"], r["conformance"]["passed"] + r["conformance"]["failed"] + r["conformance"]["skipped"]) if r.get("conformance") else "not run")
    print("kernel-matrix: total %ds" % total, file=sys.stderr)
    print("kernel matrix: %d kernels; stock: %s; fixed: %s; conformance: %s" % (
        len(results), ", ".join(map(viol, stock)) or "none", ", ".join(map(viol, fixed)) or "none", ", ".join(map(conf, results))))
    return 0 if not problems else 1


if __name__ == "__main__":
    sys.exit(main())
