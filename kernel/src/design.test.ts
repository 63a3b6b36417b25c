/**
 * Stock and patched kernels, told apart by their own logs (issue #22): the
 * committed logs of Linux 6.1.0-57 with Debian's dm-snapshot.ko
 * (kernel/io/fixtures) and with the module built from
 * kernel/patches/ (fixtures-fix, recorded by `pnpm kernel:matrix --kernels
 * 6.1+fix`; record.json names the module's sha256). The model's design
 * constants come from the header writes of each log; the order rules that
 * encode a fix reject the stock log and accept the fixed one; the crash
 * enumeration of the reused-COW first activation finds the stale-area-0
 * hole on the stock log only.
 */
import { readFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { enumerateCrashes, replay } from "./crash.js";
import { createHash } from "node:crypto";
import { parseLog } from "./log.js";
import { designOf, toModel } from "./model.js";
import { crashShows, mutations, validateOrder } from "./order.js";
import { initialRegion, loadWorkloads } from "./workload.js";

const IO = new URL("../io/", import.meta.url).pathname;
const workloads = loadWorkloads(IO + "workloads.json");
const w = (id: string) => workloads.find((x) => x.id === id)!;
const stock = (id: string) => parseLog(gunzipSync(readFileSync(`${IO}fixtures/${id}.log.gz`))).events;
const fixed = (id: string) => parseLog(gunzipSync(readFileSync(`${IO}fixtures-fix/${id}.log.gz`))).events;
const fixRecord = JSON.parse(readFileSync(`${IO}fixtures-fix/record.json`, "utf8")) as { kernelId: string; dmSnapshotSha256: string; workloads: Record<string, { finalSha256: string }> };

describe("the patched module's logs (fixtures-fix)", () => {
  it("come from the module built here, and replay to the slice the kernel left", () => {
    expect(fixRecord.kernelId).toBe("6.1+fix");
    expect(fixRecord.dmSnapshotSha256).toMatch(/^[0-9a-f]{64}$/);
    for (const x of workloads) {
      const sha = createHash("sha256").update(replay(x, fixed(x.id))).digest("hex");
      expect(sha, x.id).toBe(fixRecord.workloads[x.id]!.finalSha256);
    }
  });
});

describe("design constants from the log's header writes (TLC's HeaderFUA and InitZeroFirst)", () => {
  it("stock overflow log: the invalidation header is plain, the first header before area 0's zeroing", () => {
    expect(designOf(w("overflow-p-1s"), stock("overflow-p-1s"))).toEqual({ HeaderFUA: false, InitZeroFirst: false });
  });
  it("fixed overflow log: the invalidation header has FUA, area 0 zeroed before the first header", () => {
    expect(designOf(w("overflow-p-1s"), fixed("overflow-p-1s"))).toEqual({ HeaderFUA: true, InitZeroFirst: true });
  });
  it("a log without invalidation takes HeaderFUA from the first activation's header", () => {
    expect(designOf(w("first-activation-8s"), stock("first-activation-8s"))).toEqual({ HeaderFUA: false, InitZeroFirst: false });
    expect(designOf(w("first-activation-8s"), fixed("first-activation-8s"))).toEqual({ HeaderFUA: true, InitZeroFirst: true });
  });
  it("every log of a kernel shows one design: stock all FALSE, fixed all TRUE", () => {
    for (const x of workloads) {
      expect(designOf(x, stock(x.id)), x.id).toEqual({ HeaderFUA: false, InitZeroFirst: false });
      expect(designOf(x, fixed(x.id)), x.id).toEqual({ HeaderFUA: true, InitZeroFirst: true });
    }
  });
  it("the mapped constants are the log's, unless forced", () => {
    const f = toModel(w("overflow-p-1s"), fixed("overflow-p-1s"));
    const s = toModel(w("overflow-p-1s"), stock("overflow-p-1s"));
    const forced = toModel(w("overflow-p-1s"), stock("overflow-p-1s"), "forced", { HeaderFUA: true, InitZeroFirst: false });
    expect(f.ok && f.log.constants).toMatchObject({ HeaderFUA: true, InitZeroFirst: true });
    expect(s.ok && s.log.constants).toMatchObject({ HeaderFUA: false, InitZeroFirst: false });
    expect(forced.ok && forced.log.constants).toMatchObject({ HeaderFUA: true, InitZeroFirst: false });
    // the header events carry the log's flags
    expect(f.ok && f.log.events.find((e) => e.a === "HeaderDone")).toMatchObject({ fua: true });
    expect(s.ok && s.log.events.find((e) => e.a === "HeaderDone")).toMatchObject({ fua: false });
  });
});

describe("order rules that encode a fix: reject the stock log, accept the fixed one", () => {
  it("invalidation-durable (patch 0001): stock overflow-p-1s rejected at its plain valid=0 header", () => {
    const x = w("overflow-p-1s");
    const ev = stock(x.id);
    const fx = fixed(x.id);
    // the init rule fires first on every stock log: give the stock log the fixed first activation
    // (the fixed log up to its first header, in place of the stock log's header and area-0 zeroing)
    const isInit = (e: (typeof ev)[number]) => e.kind === "write" && (e.sector === x.originSectors || e.sector === x.originSectors + 1) && (e.sector === x.originSectors ? e.data[4] !== 0 : e.data.every((b) => b === 0));
    const fixedInit = fx.slice(0, fx.findIndex((e) => e.kind === "write" && e.sector === x.originSectors) + 1);
    const spliced = [...fixedInit, ...ev.slice(1).filter((e) => !isInit(e))];
    expect(validateOrder(x, ev, "preflush-fua").error?.rule).toBe("init-zero-first");
    const r = validateOrder(x, spliced, "preflush-fua");
    expect(r.error?.rule).toBe("invalidation-durable");
    expect(validateOrder(x, spliced, "plain").error).toBeUndefined();
  });
  it("init-zero-first (patch 0002): every stock log rejected at its first header; every fixed log accepted", () => {
    for (const x of workloads) {
      const s = validateOrder(x, stock(x.id), "preflush-fua");
      expect(s.error?.rule, x.id).toBe("init-zero-first");
      expect(validateOrder(x, fixed(x.id), "preflush-fua").error, x.id).toBeUndefined();
    }
  });
  it("init-zero-area-0 (the stock design's rule, information only) accepts both", () => {
    for (const x of workloads) {
      expect(validateOrder(x, stock(x.id), "plain").error, x.id).toBeUndefined();
      expect(validateOrder(x, fixed(x.id), "plain").error, x.id).toBeUndefined();
    }
  });
});

describe("first activation over a reused COW (first-activation-stale-8s)", () => {
  const x = w("first-activation-stale-8s");
  it("starts from a COW whose area 0 holds entries and whose data chunks hold STALE (the bytes record.py writes)", () => {
    const cow = initialRegion(x).subarray(64 * 512);
    expect(cow.subarray(0, 4096).every((b) => b === 0)).toBe(true);
    // area 0 (chunk 1), entry 0: old chunk 0 -> new chunk 2; entry 5: 5 -> 7; entry 6: the terminator
    const dv = new DataView(cow.buffer, cow.byteOffset + 4096);
    expect([dv.getUint32(0, true), dv.getUint32(8, true), dv.getUint32(80, true), dv.getUint32(88, true), dv.getUint32(104, true)]).toEqual([0, 2, 5, 7, 0]);
    expect(new TextDecoder().decode(cow.subarray(2 * 4096, 2 * 4096 + 16))).toBe("STALE  00000000\n");
  });
  it("stock log: crash states that keep the header and lose area 0's zeroing activate valid with the stale exceptions", () => {
    const r = enumerateCrashes(x, stock(x.id), { seed: 10 });
    expect(r.violations.length).toBeGreaterThan(0);
    for (const v of r.violations) {
      expect(v.finding).toBe("first-activation-stale-area-0");
      expect(v.activation).toBe("accepted");
    }
    expect(r.violations.some((v) => v.detail.includes("STALE"))).toBe(true);
  });
  it("fixed log: no crash state activates with a wrong view", () => {
    const r = enumerateCrashes(x, fixed(x.id), { seed: 10 });
    expect(r.unique).toBeGreaterThan(0);
    expect(r.violations).toEqual([]);
  });
  it("the same stock workload over a blank COW shows nothing (why first-activation-8s never did)", () => {
    expect(enumerateCrashes(w("first-activation-8s"), stock("first-activation-8s"), { seed: 10 }).violations).toEqual([]);
  });
  it("removing area 0's zeroing is visible to the crash enumeration here (a reused COW), undocumented", () => {
    expect(crashShows("drop-area0-zeroing", x, fixed(x.id))).toBe(true);
    const m = mutations["drop-area0-zeroing"]!(x, fixed(x.id))!;
    const bad = enumerateCrashes(x, m, { seed: 10 }).violations.filter((v) => v.finding === null);
    expect(bad.length).toBeGreaterThan(0);
  });
});
