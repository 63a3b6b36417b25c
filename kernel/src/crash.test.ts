import { describe, expect, it } from "vitest";
import { enumerateCrashes, subsets } from "./crash.js";
import type { LogEvent } from "./log.js";
import { validateOrder, mutations } from "./order.js";
import { pattern, type Workload } from "./workload.js";

// A tiny workload: 8-sector origin, 8-sector COW, 1-sector chunks, P.
const w: Workload = {
  id: "tiny",
  originSectors: 8,
  cowSectors: 8,
  note: "test",
  steps: [{ op: "activate", mode: "P", chunkSize: 1 }],
};
const COW = 8; // COW sector 0 is log sector 8

/** Header bytes written by hand: magic "SnAp", valid, version 1, chunk size 1. */
function header(valid: number): Uint8Array {
  const b = new Uint8Array(512);
  const v = new DataView(b.buffer);
  v.setUint32(0, 0x70416e53, true);
  v.setUint32(4, valid, true);
  v.setUint32(8, 1, true);
  v.setUint32(12, 1, true);
  return b;
}
/** Area 0 with the given [old, new] entries, by hand (16 bytes each, little-endian u64s). */
function area(entries: Array<[number, number]>): Uint8Array {
  const b = new Uint8Array(512);
  const v = new DataView(b.buffer);
  entries.forEach(([o, n], i) => {
    v.setUint32(i * 16, o, true);
    v.setUint32(i * 16 + 8, n, true);
  });
  return b;
}
const wr = (sector: number, data: Uint8Array, fua = false): LogEvent => ({ kind: "write", sector, data, fua, preflush: false });
const flush: LogEvent = { kind: "flush" };
const mark = (text: string): LogEvent => ({ kind: "mark", text });

/** The kernel's order for one exception of origin chunk c (to COW chunk n): copy, flush, FUA commit, ack; the origin write waits in the next group. */
function kernelLike(invalidateAfter: boolean): LogEvent[] {
  const ev: LogEvent[] = [
    mark("activate:P:1"),
    wr(COW + 0, header(1)),
    wr(COW + 1, area([])),
    wr(COW + 2, pattern("ORIGIN", 0, 1)), // copy of origin chunk 0
    flush,
    wr(COW + 1, area([[0, 2]]), true),
    mark("ack:o:0:1:WR1"),
  ];
  if (invalidateAfter) {
    ev.push(mark("status:Invalid"), mark("ack:o:1:1:WR1"));
    // the final group: origin write 0, the invalidated header (plain), origin write 1
    ev.push(wr(0, pattern("WR1", 0, 1)), wr(COW + 0, header(0)), wr(1, pattern("WR1", 1, 1)));
  } else {
    ev.push(wr(0, pattern("WR1", 0, 1)), flush);
  }
  return ev;
}

describe("crash enumeration", () => {
  it("subsets: all of them up to the limit, else none, all, single drops and samples", () => {
    expect(subsets(3, 10, 0, Math.random)).toHaveLength(8);
    const big = subsets(12, 10, 5, () => 0.3);
    expect(big).toHaveLength(2 + 12 + 5);
    expect(big.filter((m) => m.filter((x) => !x).length === 1)).toHaveLength(12);
  });

  it("the kernel's commit order keeps the promise at every crash point", () => {
    const r = enumerateCrashes(w, kernelLike(false));
    expect(r.violations).toEqual([]);
    // boundaries: the flush (2^3 subsets of header, zeroing, copy), the FUA commit, the last flush (origin write kept or not), the end
    expect(r.states.length).toBe(8 + 1 + 2 + 1);
  });

  it("a plain invalidation header followed by an origin write is a violation of the documented kind", () => {
    const r = enumerateCrashes(w, kernelLike(true));
    expect(r.violations.length).toBeGreaterThan(0);
    for (const v of r.violations) {
      expect(v.finding).toBe("invalidation-not-durable");
      expect(v.activation).toBe("accepted");
    }
    // the minimal one: header dropped, origin write 1 kept
    expect(r.violations.some((v) => v.verdict === "view-wrong" && v.detail.includes("sector 1"))).toBe(true);
  });

  it("an origin write that returned without its exception is flagged", () => {
    const ev = kernelLike(false);
    // drop the commit: the ack mark now has no committed exception behind it
    const cut = ev.filter((e) => !(e.kind === "write" && e.fua));
    const r = enumerateCrashes(w, cut);
    expect(r.violations.map((v) => v.verdict)).toContain("acknowledged-exception-missing");
    expect(r.violations.every((v) => v.finding === null)).toBe(true);
  });
});

describe("order validation", () => {
  it("accepts the kernel's order and rejects it with a durable-header rule when the header is plain", () => {
    expect(validateOrder(w, kernelLike(false), "plain").ok).toBe(true);
    expect(validateOrder(w, kernelLike(true), "plain").ok).toBe(true);
    // the fixed design's rules first meet the stock first activation (header, then area 0's zeroing, both plain)
    expect(validateOrder(w, kernelLike(true), "fua").error?.rule).toBe("init-zero-first");
    // with patch 0002's first activation (zeroing, flush, header with FUA) the plain invalidation is what remains
    const fixedInit = kernelLike(true);
    fixedInit.splice(1, 2, wr(COW + 1, area([])), flush, wr(COW + 0, header(1), true));
    expect(validateOrder(w, fixedInit, "plain").ok).toBe(true);
    expect(validateOrder(w, fixedInit, "fua").error?.rule).toBe("invalidation-durable");
  });

  it("init-zero-first: the fixed rules want area 0 zeroed, a flush, then the new header with FUA", () => {
    const at = (init: LogEvent[]) => {
      const ev = kernelLike(false);
      ev.splice(1, 2, ...init);
      return validateOrder(w, ev, "preflush-fua").error;
    };
    expect(at([wr(COW + 1, area([])), flush, wr(COW + 0, header(1), true)])).toBeUndefined();
    expect(at([wr(COW + 1, area([])), wr(COW + 0, header(1), true)])?.message).toMatch(/not durable/);
    expect(at([wr(COW + 1, area([])), flush, wr(COW + 0, header(1))])?.message).toMatch(/not written with FUA/);
    expect(at([wr(COW + 0, header(1), true), wr(COW + 1, area([]))])?.message).toMatch(/before area 0 is zeroed/);
  });

  it.each([
    ["swap-flush-and-commit", "commit-after-copy-flush"],
    ["drop-commit-fua", "commit-fua"],
    ["origin-before-commit", "origin-after-commit"],
  ])("rejects the mutation %s (%s)", (name, rule) => {
    const m = mutations[name]!(w, kernelLike(false));
    expect(m).not.toBeNull();
    expect(validateOrder(w, m!, "plain").error?.rule).toBe(rule);
  });
});

describe("mapping to the TLA+ model's events", () => {
  it("maps copy, flush, FUA commit, the origin write and a plain invalidation to the trace spec's actions", async () => {
    const { toModel } = await import("./model.js");
    const r = toModel({ ...w, steps: [{ op: "activate", mode: "P", chunkSize: 1 }] }, kernelLike(true));
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.log.events).toEqual([
      { a: "InitHeader", chunk: 0, fua: false },
      { a: "InitZero", chunk: 1, fua: false },
      { a: "Prepare", e: 1, chunk: 2 },
      { a: "CopyDone", e: 1, chunk: 2, fua: false },
      { a: "CommitStart", e: 1, idx: 1, next: "prewrite" },
      { a: "IssueArea", area: 0, valid: 1, flush: true },
      { a: "AreaDone", chunk: 1, slots: [1], fua: true },
      { a: "Finish", full: false, ok: true },
      { a: "OriginWrite", e: 1 },
      { a: "Invalidate", buffer: "header" },
      { a: "HeaderDone", chunk: 0, slots: [-2], fua: false },
      // the origin write to chunk 1, which got no exception: allowed once the header is written
      { a: "OriginUncopied", chunk: 1 },
    ]);
    expect(r.log.constants).toMatchObject({ E: 32, N: 1, NAreas: 1, FlushBeforeArea: true });
    // the swapped flush shows as an area write issued without a flush
    const swapped = toModel(w, mutations["swap-flush-and-commit"]!(w, kernelLike(false))!);
    expect(swapped.ok && swapped.log.events.find((e) => e.a === "IssueArea")).toMatchObject({ flush: false });
  });
});

describe("the kernel's sample", () => {
  it("keeps the bytes of every violation and of at most keepSample other states", () => {
    const r = enumerateCrashes(w, kernelLike(true), { keepSample: 2, seed: 3 });
    expect(r.sample.length).toBe(2);
    expect(r.sample.every((s) => s.verdict === "ok" && s.cow && s.origin)).toBe(true);
    expect(r.violations.every((s) => s.cow && s.origin)).toBe(true);
    const withBytes = new Set(r.states.filter((s) => s.cow).map((s) => s.key));
    expect(withBytes.size).toBe(r.violations.length + 2);
  });
});
