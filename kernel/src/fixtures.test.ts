/**
 * The committed kernel logs (kernel/io/fixtures, recorded by
 * record.py from Linux 6.1 in QEMU) checked without booting anything: the
 * recorded slice sha256 is the kernel's, so the replay check is evidence from
 * outside this code.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { enumerateCrashes, replay } from "./crash.js";
import { engineLog } from "./engine.js";
import { parseLog } from "./log.js";
import { toModel } from "./model.js";
import { mutations, validateOrder } from "./order.js";
import { loadWorkloads } from "./workload.js";

const IO = new URL("../io/", import.meta.url).pathname;
const workloads = loadWorkloads(IO + "workloads.json");
const record = JSON.parse(readFileSync(IO + "fixtures/record.json", "utf8")) as { workloads: Record<string, { finalSha256: string }> };
/** The stock kernel's findings, by workload: the plain invalidation header; the header before area 0's zeroing over a reused COW. */
const FINDINGS: Record<string, string> = { "overflow-p-1s": "invalidation-not-durable", "first-activation-stale-8s": "first-activation-stale-area-0" };
const events = (id: string) => parseLog(gunzipSync(readFileSync(`${IO}fixtures/${id}.log.gz`))).events;

describe.each(workloads.map((w) => [w.id, w] as const))("kernel log %s", (id, w) => {
  const ev = events(id);
  it("replays to the data slice the kernel left", () => {
    expect(createHash("sha256").update(replay(w, ev)).digest("hex")).toBe(record.workloads[id]!.finalSha256);
  });
  it("is accepted by the order rules with the kernel's plain header write, and every mutation is rejected", () => {
    expect(validateOrder(w, ev, "plain").error).toBeUndefined();
    for (const mutate of Object.values(mutations)) {
      const m = mutate(w, ev);
      if (m) expect(validateOrder(w, m, "plain").ok).toBe(false);
    }
  });
  it("crashes only into states the promise allows, or into a documented finding (docs/kernel-findings.md)", () => {
    const r = enumerateCrashes(w, ev, { seed: 10 });
    const finding = FINDINGS[id];
    for (const v of r.violations) expect(v.finding).toBe(finding);
    expect(r.violations.length > 0).toBe(finding !== undefined);
  }, 240_000); // origin-area-8s: about 1000 states of a 264-chunk COW
});

describe.each(workloads.filter((w) => w.id !== "origin-area-8s").map((w) => [w.id, w] as const))("engine log %s", (id, w) => {
  it("keeps the promise at every crash point, as written and with the preflush+FUA header rule", async () => {
    for (const rule of ["engine", "preflush-fua"] as const) {
      const ev = await engineLog(w, rule);
      expect(validateOrder(w, ev, rule === "engine" ? "fua" : rule).error).toBeUndefined();
      expect(enumerateCrashes(w, ev, { seed: 11 }).violations).toEqual([]);
    }
  });
  it("under the kernel's plain header rule shows the kernel's finding exactly where the kernel does", async () => {
    const r = enumerateCrashes(w, await engineLog(w, "kernel"), { seed: 11 });
    expect(r.violations.length > 0).toBe(id === "overflow-p-1s");
    for (const v of r.violations) expect(v.finding).toBe("invalidation-not-durable");
  });
});

describe("the kernel's reload-1s log as model events (TLC checks them in kernel:crash)", () => {
  const w = workloads.find((x) => x.id === "reload-1s")!;
  const ev = events("reload-1s");
  it("maps the deactivation and the second activation, and every origin chunk's first write", () => {
    const r = toModel(w, ev);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const names = r.log.events.map((e) => e.a);
    // the workload (workloads.json): 32 origin chunks, deactivate, activate, 3 more chunks
    expect(names.filter((a) => a === "OriginWrite").length).toBe(35);
    expect(names.filter((a) => a === "Prepare").length).toBe(35);
    const re = names.indexOf("Reactivate");
    expect(names[re - 1]).toBe("Deactivate");
    expect(names.slice(0, re).filter((a) => a === "Prepare").length).toBe(32);
    // after the reload the kernel copies into chunk 35: past area 1 (chunk 34), the CVE-2013-4299 fix
    expect(r.log.events.slice(re).find((e) => e.a === "Prepare")).toMatchObject({ e: 33, chunk: 35 });
    expect(r.log.constants).toMatchObject({ MaxCrashes: 2, OriginWrites: true });
  });
  it("maps the origin write moved before its commit to an OriginWrite before the exception's Finish", () => {
    const r = toModel(w, mutations["origin-before-commit"]!(w, ev)!);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const names = r.log.events.map((e) => e.a);
    expect(names.indexOf("OriginWrite")).toBeLessThan(names.indexOf("Finish"));
  });
});

describe("the kernel's merge-1s log as model events", () => {
  const w = workloads.find((x) => x.id === "merge-1s")!;
  const ev = events("merge-1s");
  it("maps the merge target's activation and each merged entry, last entry first", () => {
    const r = toModel(w, ev);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    // the workload: origin chunks 0-5 written, snapshot chunks 20-21 written: 8 exceptions, all merged
    const copies = r.log.events.filter((e) => e.a === "MergeCopy").map((e) => e.e);
    expect(copies).toEqual([8, 7, 6, 5, 4, 3, 2, 1]);
    const commits = r.log.events.filter((e) => e.a === "MergeCommit");
    expect(commits.every((e) => e.flush === true)).toBe(true);
    // the kernel's last merge commit leaves area 0 empty
    expect(commits.at(-1)).toMatchObject({ slots: [] });
    expect(r.log.constants).toMatchObject({ Merge: true, MaxCrashes: 2 });
  });
  it("maps the merge commit moved before the origin flush to a MergeCommit without flush", () => {
    const r = toModel(w, mutations["merge-commit-before-origin-flush"]!(w, ev)!);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.log.events.find((e) => e.a === "MergeCommit")).toMatchObject({ flush: false });
  });
});
