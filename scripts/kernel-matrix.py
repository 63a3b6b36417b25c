#!/usr/bin/env python3
"""`pnpm kernel:matrix`: every kernel of the matrix through the same checks.

  python3 scripts/kernel-matrix.py [--kernels "6.1 6.12 6.1+fix 6.12+fix"] [--jobs 2] [--full 6.1]
                           [--no-conformance] [--no-header-fail] [--no-tlc] [--reuse]

First, one after the other, each kernel is resolved (kernel/kernels.sh:
Debian's image fetched through apt, or the same image with dm-snapshot.ko
built here from kernel/patches/; all cached under .cache/kernel/) and the
TypeScript is built once. Then per kernel (--jobs kernels at once: QEMU/TCG
uses one core per VM):
  1. record every workload's log (kernel/io/record.py, one boot);
  2. `kernel:crash --tlc-light --no-engine`: validate the logs (the stock
     rules and the fixed design's), TLC over the logs with the constants
     their header writes show (and the other value, which must be rejected),
     crash every log at every flush/FUA point, activate a sample with the
     kernel (one boot); the violations are the crash states that activate
     valid with a wrong view;
  3. kernel/header-fail.py: the invalidation header write fails (dm-error
     under the COW, one boot): is a valid header left over origin chunks
     the COW never copied?
  4. `conformance --reader kernel --json` (one boot): every case judged by
     it; the answers are kept per case (runs/ID/conformance.json) and
     compared across kernels.
--full ID: that kernel's kernel:crash runs in full (TLC over every mutant
and our engine's logs too) and its kernel:crash and conformance counts are
CI's closing counts (.cache/kernel-crash.json, .cache/conformance-kernel.json):
CI's stock 6.1 run.
Stock kernels must show violations (the check has teeth); fixed kernels none;
each fixed kernel's logs are its stock kernel's but for the series' changes
(kernel/logdiff.py --expect fix), two stock kernels' logs the same (--expect
same). Writes .cache/kernel/matrix.json and ends with the one line of issue #22.
"""
import argparse
import concurrent.futures
import json
import os
import re
import subprocess
import sys
import threading
import time

# the matrix drives two packages: the kernel oracle (kernel/) and, through its
# command, the conformance runner; it lives outside both so that kernel/ never
# names conformance (kernel/src/layering.test.ts)
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HERE = os.path.join(ROOT, "kernel")
RUNS = os.path.join(ROOT, ".cache", "kernel", "runs")


def kernel_info(kid):
    return json.loads(subprocess.run(["bash", os.path.join(HERE, "kernels.sh"), "info", kid], check=True, stdout=subprocess.PIPE, text=True).stdout)


def kernel_env(kid):
    """The DMSNAP_* variables of kernel/kernels.sh env ID (every step reads them,
    as it would read --kernel ID), and the kernel's info."""
    out = subprocess.run(["bash", os.path.join(HERE, "kernels.sh"), "env", kid], check=True, stdout=subprocess.PIPE, text=True).stdout
    env = dict(os.environ)
    for line in out.splitlines():
        k, _, v = line.partition("=")
        env[k] = v
    return env, kernel_info(kid)


LOCK = threading.Lock()


def say(msg):
    with LOCK:
        print("kernel-matrix: " + msg, file=sys.stderr, flush=True)


def step(kid, name, cmd, env, log):
    t0 = time.monotonic()
    # stdout is parsed (summary lines, the conformance JSON); the log gets stderr, then stdout
    r = subprocess.run(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    with open(log, "w") as f:
        f.write(r.stderr + r.stdout)
    secs = time.monotonic() - t0
    say("%s: %s: exit %d in %.0fs (log %s)" % (kid, name, r.returncode, secs, os.path.relpath(log, ROOT)))
    return r.returncode, r.stdout, secs


def short(release, fixed):
    """6.1.0-57-amd64 -> 6.1.0-57; 6.12.118+deb12-amd64 -> 6.12.118"""
    s = re.sub(r"(\+deb\d+)?-amd64$", "", release)
    return s + ("+fix" if fixed else "")


NODE = lambda pkg, script: ["node", os.path.join(ROOT, pkg, "dist", script)]


def run_kernel(kid, env, info, a):
    """One kernel through every step; returns its result (problems included)."""
    d = os.path.join(RUNS, kid)
    fixed = kid.endswith("+fix")
    full = kid in a.full.split()
    problems = []
    os.makedirs(d, exist_ok=True)
    res = {"id": kid, "release": info["release"], "module": info["module"], "fixed": fixed, "full": full, "seconds": dict(info.get("seconds", {}))}
    # the logs are kept (d/logs) so that kernels can be compared (kernel/logdiff.py)
    rc0, _, secs0 = step(kid, "record", ["python3", os.path.join(HERE, "io", "record.py"), "--out", os.path.join(d, "logs")], env, os.path.join(d, "record.log"))
    res["seconds"]["record"] = round(secs0)
    if rc0 != 0:
        problems.append("%s: record.py exited %d" % (kid, rc0))
    else:
        rec = json.load(open(os.path.join(d, "logs", "record.json")))
        res["guest"] = {"uname": rec["kernel"], "dmTargets": rec.get("dmTargets"), "dmSnapshotSha256": rec.get("dmSnapshotSha256")}
        cmd = NODE("kernel", "kernel-crash.js") + ["--logs", os.path.join(d, "logs"), "--out", d]
        cmd += [] if full else ["--no-count", "--no-engine"] + (["--no-tlc"] if a.no_tlc else ["--tlc-light"])
        rc, out, secs = step(kid, "kernel:crash", cmd, env, os.path.join(d, "kernel-crash.log"))
        res["seconds"]["kernelCrash"] = round(secs)
        m = re.search(r"kernel crash: (\d+) workloads, .*?(\d+) crash states \((\d+) by the kernel\), (\d+) violations in (\d+) workloads", out)
        if not m:
            problems.append("%s: kernel:crash printed no summary line (exit %d)" % (kid, rc))
            res["violations"] = None
        else:
            res["workloads"], res["crashStates"], res["byKernel"], res["violations"] = int(m.group(1)), int(m.group(2)), int(m.group(3)), int(m.group(4))
        md = re.search(r"^kernel design: HeaderFUA=TRUE in (\d+) of (\d+) logs, InitZeroFirst=TRUE in (\d+) of \d+; fixed-design order rules: (\d+) of (\d+) logs accepted.*?; TLC: (.*)$", out, re.M)
        if md:
            res["design"] = {"headerFua": int(md.group(1)), "initZeroFirst": int(md.group(3)), "logs": int(md.group(2)), "fixedRulesAccepted": int(md.group(4)), "tlc": md.group(6)}
            want = int(md.group(2)) if fixed else 0
            if int(md.group(1)) != want or int(md.group(3)) != want:
                problems.append("%s: the logs' header writes show HeaderFUA in %s and InitZeroFirst in %s of %s logs, expected %d" % (kid, md.group(1), md.group(3), md.group(2), want))
            if int(md.group(4)) != want:
                problems.append("%s: the fixed design's order rules accept %s of %s logs, expected %d" % (kid, md.group(4), md.group(5), want))
        else:
            problems.append("%s: kernel:crash printed no design line" % kid)
        mm = re.search(r"^kernel log mutants: (\d+) of (\d+) rejected", out, re.M)
        if mm:
            res["mutants"] = {"rejected": int(mm.group(1)), "of": int(mm.group(2))}
        rep = os.path.join(d, "kernel-crash.json")
        if os.path.exists(rep):
            j = json.load(open(rep))
            res["kernelProblems"] = j.get("problems", [])
            res["byWorkload"] = {x["workload"]: {"crashStates": x["unique"], "violations": x["violations"]} for x in j.get("workloads", [])}
        if rc != 0:
            problems.append("%s: kernel:crash exited %d" % (kid, rc))
    if not a.no_header_fail:
        rc2, out2, secs2 = step(kid, "header-fail", ["python3", os.path.join(HERE, "header-fail.py"), "--json", os.path.join(d, "header-fail.json")], env, os.path.join(d, "header-fail.log"))
        res["seconds"]["headerFail"] = round(secs2)
        if rc2 == 0:
            hf = json.load(open(os.path.join(d, "header-fail.json")))
            res["headerFail"] = {"hole": hf["validOverLostChunks"], "failedWrites": sum(1 for s in hf["steps"] if " EIO" in s), "headerValid": hf["header"]["valid"]}
        else:
            problems.append("%s: header-fail.py exited %d" % (kid, rc2))
    if not a.no_conformance:
        cmd = NODE("conformance", "bin.js") + ["--reader", "kernel", "--json"] + ([] if full else ["--no-write"])
        rc3, out3, secs3 = step(kid, "conformance", cmd, env, os.path.join(d, "conformance.log"))
        res["seconds"]["conformance"] = round(secs3)
        try:
            rj = json.loads(out3)
            k = next(r for r in rj["readers"] if r["name"] == "kernel")
            res["conformance"] = {"passed": k["passed"], "failed": k["failed"], "skipped": k["skipped"]}
            # every case's answer on this kernel (compared across kernels below)
            cells = {c["caseId"]: c["status"] for c in rj["cells"] if c["reader"] == "kernel"}
            json.dump(cells, open(os.path.join(d, "conformance.json"), "w"), indent=1, sort_keys=True)
        except (ValueError, StopIteration, KeyError) as e:
            problems.append("%s: conformance printed no kernel report (exit %d: %s)" % (kid, rc3, e))
    # the teeth: stock kernels must show both holes, fixed kernels neither
    bw = res.get("byWorkload", {})
    for wid in ("overflow-p-1s", "first-activation-stale-8s"):
        v = bw.get(wid, {}).get("violations")
        if v is None:
            continue
        if fixed and v != 0:
            problems.append("%s: %d crash states of %s activate valid with a wrong view" % (kid, v, wid))
        if not fixed and v == 0:
            problems.append("%s: no violation in %s on a stock kernel: the check has no teeth" % (kid, wid))
    v = res.get("violations")
    if v is not None and fixed and v != 0:
        problems.append("%s: %d crash states activate valid with a wrong view" % (kid, v))
    hf = res.get("headerFail")
    if hf is not None:
        if fixed and (hf["hole"] or hf["failedWrites"] == 0):
            problems.append("%s: a failed invalidation header write still lets origin writes through (%s)" % (kid, hf))
        if not fixed and not hf["hole"]:
            problems.append("%s: stock kernel shows no valid header over lost chunks after a failed header write" % kid)
    res["problems"] = problems
    with open(os.path.join(d, "result.json"), "w") as f:
        json.dump(res, f, indent=2)
    say("%s done: %s" % (kid, json.dumps({k: res.get(k) for k in ("release", "violations", "headerFail", "conformance", "seconds")})))
    return res


def logdiff(a_id, b_id, expect):
    a_dir, b_dir = os.path.join(RUNS, a_id, "logs"), os.path.join(RUNS, b_id, "logs")
    if not (os.path.isdir(a_dir) and os.path.isdir(b_dir)):
        return None
    ld = subprocess.run(["python3", os.path.join(HERE, "logdiff.py"), a_dir, b_dir, "--expect", expect], stdout=subprocess.PIPE, text=True)
    for line in ld.stdout.splitlines():
        say("%s vs %s: %s" % (a_id, b_id, line[len("logdiff: "):]))
    return ld.returncode, ld.stdout.splitlines()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--kernels", default=os.environ.get("DMSNAP_MATRIX", "6.1 6.12 6.1+fix 6.12+fix"))
    ap.add_argument("--jobs", type=int, default=int(os.environ.get("DMSNAP_MATRIX_JOBS", "1")), help="kernels at once (QEMU/TCG: one core each)")
    ap.add_argument("--full", default="", help="kernel ids whose kernel:crash runs in full and write CI's closing counts (CI: 6.1)")
    ap.add_argument("--conformance", action="store_true", help="(the default)")
    ap.add_argument("--no-conformance", action="store_true")
    ap.add_argument("--no-header-fail", action="store_true")
    ap.add_argument("--no-tlc", action="store_true", help="no TLC in kernel:crash")
    ap.add_argument("--reuse", action="store_true", help="take a kernel's result from an earlier run (.cache/kernel/runs/ID/result.json) when present")
    a = ap.parse_args()
    os.makedirs(RUNS, exist_ok=True)
    t_all = time.monotonic()
    kids = a.kernels.split()
    results, problems, todo = {}, [], []
    # resolve every kernel first, one after the other (apt downloads, module builds, depmod share the cache)
    t0 = time.monotonic()
    for kid in kids:
        d = os.path.join(RUNS, kid)
        if a.reuse and os.path.exists(os.path.join(d, "result.json")):
            results[kid] = json.load(open(os.path.join(d, "result.json")))
            say("%s: earlier result reused" % kid)
            continue
        t1 = time.monotonic()
        env, info = kernel_env(kid)
        info["seconds"] = {"prepare": round(time.monotonic() - t1)}
        say("%s: %s, dm-snapshot.ko %s (%.0fs)" % (kid, info["release"], info["module"].get("origin", "?"), time.monotonic() - t1))
        todo.append((kid, env, info))
    # the TypeScript once (kernel:crash and the conformance runner), not once per kernel in parallel
    for pkg in ("@dmsnap/kernel", "@dmsnap/conformance"):
        subprocess.run(["pnpm", "-s", "--filter", pkg, "exec", "tsup", "--silent"], cwd=ROOT, check=True)
    prepare = round(time.monotonic() - t0)
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, a.jobs)) as pool:
        for res in pool.map(lambda t: run_kernel(*t, a), todo):
            results[res["id"]] = res
    ordered = [results[k] for k in kids if k in results]
    for r in ordered:
        problems.extend(r.get("problems", []))
    # each fixed kernel's logs against its stock kernel's: the series' changes and nothing else;
    # two stock kernels: the same logs (does it still happen on the newer kernel?)
    diffs = {}
    stock_ids = [r["id"] for r in ordered if not r["fixed"]]
    for r in ordered:
        if r["fixed"] and r["id"][:-4] in results:
            got = logdiff(r["id"][:-4], r["id"], "fix")
            if got:
                diffs["%s vs %s" % (r["id"][:-4], r["id"])] = got[1]
                if got[0] != 0:
                    problems.append("%s writes more than the series' changes differ from %s (kernel/logdiff.py --expect fix)" % (r["id"], r["id"][:-4]))
    for other in stock_ids[1:]:
        got = logdiff(stock_ids[0], other, "same")
        if got:
            diffs["%s vs %s" % (stock_ids[0], other)] = got[1]
            if got[0] != 0:
                problems.append("%s's logs differ from %s's (kernel/logdiff.py --expect same): a finding to document" % (other, stock_ids[0]))
    # every case's answer, across kernels: where kernels disagree, each kernel's answer
    answers = {}
    for r in ordered:
        f = os.path.join(RUNS, r["id"], "conformance.json")
        if r.get("conformance") and os.path.exists(f):
            answers[r["id"]] = json.load(open(f))
    disagree = {}
    if len(answers) > 1:
        for case in sorted(set().union(*[set(x) for x in answers.values()])):
            got = {k: v.get(case) for k, v in answers.items()}
            if len(set(got.values())) > 1:
                disagree[case] = got
        say("conformance: %d kernels judged %d cases; they %s" % (len(answers), len(set().union(*[set(x) for x in answers.values()])), "give every case the same verdict against their own answers (a case's kernelAnswers, where a kernel series answers otherwise: docs/format.md)" if not disagree else "give %d cases different verdicts: %s" % (len(disagree), ", ".join(sorted(disagree)))))
    # the series applies to every stock tree of the matrix
    t1 = time.monotonic()
    ca = subprocess.run(["bash", os.path.join(HERE, "check-apply.sh")], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for line in ca.stdout.splitlines():
        say(line)
    if ca.returncode != 0:
        problems.append("the patch series does not apply (kernel/check-apply.sh)")
    check_apply = round(time.monotonic() - t1)
    checks = sum(1 + (0 if a.no_header_fail else 1) + (0 if a.no_conformance else 1) + (1 if r.get("design") else 0) for r in ordered) + len(diffs) + 1
    with open(os.path.join(ROOT, ".cache", "kernel-matrix.json"), "w") as f:
        json.dump({"passed": max(0, checks - len(problems)), "failed": len(problems)}, f)
    total = round(time.monotonic() - t_all)
    with open(os.path.join(ROOT, ".cache", "kernel", "matrix.json"), "w") as f:
        json.dump({"kernels": ordered, "logdiff": diffs, "conformanceDisagreements": disagree, "checkApply": ca.stdout.splitlines(), "problems": problems,
                   "seconds": {"total": total, "prepare": prepare, "checkApply": check_apply}, "jobs": a.jobs}, f, indent=2)
    for p in problems:
        say("PROBLEM: %s" % p)
    # the table of docs/kernel-findings.md
    say("| kernel | violations (overflow / stale area 0) | crash states (by the kernel) | header-fail | conformance | seconds: prepare / record / crash / header-fail / conformance |")
    for r in ordered:
        bw, hf, c, sec = r.get("byWorkload", {}), r.get("headerFail"), r.get("conformance"), r.get("seconds", {})
        say("| %s | %s (%s / %s) | %s (%s) | %s | %s | %s |" % (
            short(r["release"], r["fixed"]), r.get("violations"), bw.get("overflow-p-1s", {}).get("violations"), bw.get("first-activation-stale-8s", {}).get("violations"),
            r.get("crashStates"), r.get("byKernel"),
            "n/a" if hf is None else ("valid header over lost chunks" if hf["hole"] else "%d writes EIO, header valid=%d" % (hf["failedWrites"], hf["headerValid"])),
            "not run" if not c else "%d/%d (%d skipped)" % (c["passed"], c["passed"] + c["failed"] + c["skipped"], c["skipped"]),
            " / ".join(str(sec.get(k, "-")) for k in ("prepare", "record", "kernelCrash", "headerFail", "conformance"))))
    say("total %ds (prepare %ds, --jobs %d)" % (total, prepare, a.jobs))
    stock = [r for r in ordered if not r["fixed"]]
    fixed = [r for r in ordered if r["fixed"]]
    viol = lambda r: "%s %s violations" % (short(r["release"], r["fixed"]), "?" if r.get("violations") is None else r["violations"])
    conf = lambda r: "%s %s" % (short(r["release"], r["fixed"]), "%d/%d" % (r["conformance"]["passed"], r["conformance"]["passed"] + r["conformance"]["failed"] + r["conformance"]["skipped"]) if r.get("conformance") else "not run")
    print("kernel matrix: %d kernels; stock: %s; fixed: %s; conformance: %s" % (
        len(ordered), ", ".join(map(viol, stock)) or "none", ", ".join(map(viol, fixed)) or "none", ", ".join(map(conf, ordered))))
    return 0 if not problems else 1


if __name__ == "__main__":
    sys.exit(main())
