/**
 * Per-kernel answers (issue #22): Linux 6.12 serves the later of two entries
 * that name one origin chunk where 6.1 serves the first. The three
 * duplicate-old_chunk cases record 6.12's snapshot sha256 in kernelAnswers;
 * the kernel reader is judged against it when it runs 6.12.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { gunzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { loadCases, makeValidator } from "./cases.js";
import { loadReaders } from "./readers.js";
import { expectedFor, kernelSeries } from "./runner.js";

const suite = fileURLToPath(new URL("..", import.meta.url));
const { cases, problems } = loadCases(join(suite, "cases"), makeValidator(join(suite, "schema", "case.schema.json")));
const readers = loadReaders(join(suite, "readers.json"));
const kernel = readers.find((r) => r.name === "kernel")!;
const format = readers.find((r) => r.name === "format")!;
const DUPLICATES = ["damaged-duplicate-old-chunk", "damaged-duplicate-old-chunk-across-areas", "damaged-duplicate-old-chunk-in-run"];

/** The snapshot view with the LAST entry of a duplicated old chunk winning, in plain code (1-sector chunks, one area). */
function laterWinsSha(id: string): string {
  const c = cases.find((x) => x.id === id)!;
  const cow = gunzipSync(readFileSync(join(c.dir, c.files.cow)));
  const view = Buffer.from(gunzipSync(readFileSync(join(c.dir, c.files.origin!))));
  const cs = c.table.chunkSize * 512;
  const entries = c.exceptions ?? c.expected.exceptions!;
  for (const [oldChunk, newChunk] of entries) cow.copy(view, oldChunk * cs, newChunk * cs, newChunk * cs + cs);
  return createHash("sha256").update(view).digest("hex");
}

describe("kernelAnswers", () => {
  it("the cases validate with the field, and only the three duplicate-old_chunk cases carry one (6.12)", () => {
    expect(problems).toEqual([]);
    expect(cases.filter((c) => c.kernelAnswers).map((c) => [c.id, Object.keys(c.kernelAnswers!)])).toEqual(DUPLICATES.map((id) => [id, ["6.12"]]));
  });
  it("6.12's recorded sha256 is the later-wins view; 6.1's (expected) is not", () => {
    for (const id of DUPLICATES) {
      const c = cases.find((x) => x.id === id)!;
      expect(c.kernelAnswers!["6.12"]!.snapshotSha256, id).toBe(laterWinsSha(id));
      expect(c.expected.snapshotSha256, id).not.toBe(laterWinsSha(id));
    }
  });
  it("the kernel reader's series comes from DMSNAP_KVER (kernel/kernels.sh), else the recipe's 6.1", () => {
    expect(kernelSeries({ DMSNAP_KVER: "6.12.118+deb12-amd64" })).toBe("6.12");
    expect(kernelSeries({ DMSNAP_KVER: "6.1.0-57-amd64" })).toBe("6.1");
    expect(kernelSeries({})).toBe("6.1");
    expect(kernelSeries({ DMSNAP_KVER: "6.12.118+deb12-amd64", DMSNAP_KERNEL_ID: "6.12+fix" })).toBe("6.12+fix");
    expect(kernelSeries({ DMSNAP_KVER: "6.12.118+deb12-amd64", DMSNAP_KERNEL_ID: "6.12" })).toBe("6.12");
  });
  it("6.12 with kernel/patches/ (after-8581b19eb2c5 included) is judged against expected: it serves the first entry again", () => {
    const c = cases.find((x) => x.id === "damaged-duplicate-old-chunk")!;
    expect(expectedFor(c, kernel, { DMSNAP_KVER: "6.12.118+deb12-amd64", DMSNAP_KERNEL_ID: "6.12+fix" })).toBe(c.expected);
  });
  it("a kernel reader on 6.12 is judged against 6.12's answer; on 6.1, and any other reader, against expected", () => {
    const c = cases.find((x) => x.id === "damaged-duplicate-old-chunk")!;
    expect(kernel.answersPerKernel).toBe(true);
    expect(expectedFor(c, kernel, { DMSNAP_KVER: "6.12.118+deb12-amd64" })).toEqual({ ...c.expected, snapshotSha256: c.kernelAnswers!["6.12"]!.snapshotSha256 });
    expect(expectedFor(c, kernel, { DMSNAP_KVER: "6.1.0-57-amd64" })).toBe(c.expected);
    expect(expectedFor(c, format, { DMSNAP_KVER: "6.12.118+deb12-amd64" })).toBe(c.expected);
  });
});
