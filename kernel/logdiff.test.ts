// kernel/logdiff.py on the committed logs of Linux 6.1.0-57: Debian's module
// (kernel/io/fixtures) against the module built from
// kernel/patches/ (fixtures-fix). The series changes the header's flags, adds
// flushes and moves every first activation's header after area 0's zeroing;
// logdiff must say so per workload, not hide the reorder in a multiset.
import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
const STOCK = join(ROOT, "kernel/io/fixtures");
const FIXED = join(ROOT, "kernel/io/fixtures-fix");
const logdiff = (...args: string[]) => {
  const r = spawnSync("python3", [join(ROOT, "kernel/logdiff.py"), ...args], { encoding: "utf8" });
  const lines = new Map(r.stdout.trim().split("\n").map((l) => [l.split(": ")[1]!, l.slice(l.indexOf(": ", 9) + 2)] as const));
  return { status: r.status, lines };
};

describe("kernel/logdiff.py", () => {
  it("stock vs fixed: every workload the same writes once the first header follows area 0's zeroing, inflight-1s by its final slice", () => {
    const r = logdiff(STOCK, FIXED, "--expect", "fix");
    expect(r.status).toBe(0);
    expect(r.lines.size).toBe(10);
    for (const [id, text] of r.lines) {
      if (id === "inflight-1s") expect(text).toMatch(/^the commits of copies in flight grouped differently .*the same data slice left/);
      else expect(text, id).toMatch(/^the same writes but for the header's flags, once the first activation zeroes area 0 before writing the header \(patch 0002's order\)/);
    }
  });
  it("the reorder is not hidden: stock vs fixed is not what two stock kernels must show", () => {
    const r = logdiff(STOCK, FIXED, "--expect", "same");
    expect(r.status).toBe(1);
    expect(r.lines.get("first-activation-stale-8s")).toMatch(/\[expected same or timing\]$/);
  });
  it("a stock log against itself is entry for entry the same, which --expect fix refuses (the fix changed nothing)", () => {
    expect(logdiff(STOCK, STOCK, "--expect", "same").status).toBe(0);
    const r = logdiff(STOCK, STOCK, "--expect", "fix");
    expect(r.status).toBe(1);
    expect(r.lines.get("overflow-p-1s")).toMatch(/^entry for entry the same \(53 entries\) \[expected reorder or timing\]$/);
  });
});
