/**
 * TLC over real kernel logs, both directions of issue #22 (one TLC run, one
 * JVM): the patched module's logs (fixtures-fix) are behaviours of the model
 * with the constants their header writes show (HeaderFUA = TRUE,
 * InitZeroFirst = TRUE); the stock logs (fixtures) with FALSE; and each is
 * rejected under the other value, forced: the stock overflow log under
 * HeaderFUA = TRUE at its plain invalidation header, the stock first
 * activation under InitZeroFirst = TRUE at its header written before area
 * 0's zeroing, and the fixed logs under the stock constants at their FUA
 * header writes.
 */
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { gunzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { parseLog } from "./log.js";
import { toModel, type ModelLog } from "./model.js";
import { checkKernelLogs } from "./tlc.js";
import { loadWorkloads } from "./workload.js";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const IO = `${ROOT}/kernel/io/`;
const workloads = loadWorkloads(IO + "workloads.json");

function mapped(dir: "fixtures" | "fixtures-fix", id: string, design?: { HeaderFUA: boolean; InitZeroFirst: boolean }): ModelLog {
  const w = workloads.find((x) => x.id === id)!;
  const ev = parseLog(gunzipSync(readFileSync(`${IO}${dir}/${id}.log.gz`))).events;
  const r = toModel(w, ev, `${dir}/${id}${design ? `@${JSON.stringify(design)}` : ""}`, design);
  if (!r.ok) throw new Error(r.reason);
  return r.log;
}

describe("TLC: KernelTrace with the constants each log's header writes show", () => {
  it("accepts stock and fixed logs under their own constants, rejects each under the other", async () => {
    const stockDesign = { HeaderFUA: false, InitZeroFirst: false };
    const fixedDesign = { HeaderFUA: true, InitZeroFirst: true };
    const cases: Array<[ModelLog, "accept" | string]> = [
      [mapped("fixtures-fix", "overflow-p-1s"), "accept"],
      [mapped("fixtures-fix", "first-activation-stale-8s"), "accept"],
      [mapped("fixtures", "overflow-p-1s"), "accept"],
      [mapped("fixtures", "first-activation-stale-8s"), "accept"],
      // forced: the stock overflow log under the fixed design's durable header (only HeaderFUA changed)
      [mapped("fixtures", "overflow-p-1s", { HeaderFUA: true, InitZeroFirst: false }), "HeaderDone"],
      [mapped("fixtures", "first-activation-stale-8s", fixedDesign), "InitHeader"],
      [mapped("fixtures-fix", "overflow-p-1s", { HeaderFUA: false, InitZeroFirst: true }), "HeaderDone"],
      [mapped("fixtures-fix", "first-activation-stale-8s", stockDesign), "InitHeader"],
    ];
    expect(cases[0]![0].constants).toMatchObject(fixedDesign);
    expect(cases[2]![0].constants).toMatchObject(stockDesign);
    const r = await checkKernelLogs(ROOT, cases.map(([l]) => l));
    expect(r.finished).toBe(true);
    const verdicts = cases.map(([l], i) => (r.reached[i] === l.events.length ? "accept" : String(l.events[r.reached[i]!]?.a)));
    expect(verdicts).toEqual(cases.map(([, v]) => v));
  }, 600_000);
});
