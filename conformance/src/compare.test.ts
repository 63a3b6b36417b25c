import { describe, expect, it } from "vitest";
import { compareAnswer } from "./compare.js";
import type { Expected, Pair, ReaderAnswer } from "./types.js";

const exc: Pair[] = [[0, 2], [5, 3], [17, 4]];
const expected: Expected = {
  outcome: "accepted",
  state: "valid",
  header: { magic: 0x70416e53, valid: 1, version: 1, chunkSize: 1 },
  chunkSize: 1,
  exceptionsPerArea: 32,
  exceptions: exc,
  nextFree: 5,
  usage: { totalSectors: 64, allocatedSectors: 5, metadataSectors: 2 },
  currentArea: 0,
  status: "5/64 2",
  snapshotSha256: "a".repeat(64),
};
const good = () => ({
  header: { magic: 0x70416e53, valid: 1, version: 1, chunkSize: 1 },
  state: "valid",
  chunkSize: 1,
  exceptionsPerArea: 32,
  exceptions: [[0, 2], [5, 3], [17, 4]],
  nextFree: 5,
  usage: { totalSectors: 64, allocatedSectors: 5, metadataSectors: 2 },
  currentArea: 0,
  deviceBytes: 32768,
  status: "5/64 2",
});
const answer = (output: unknown, exitCode: number | null = 0, extra: Partial<ReaderAnswer> = {}): ReaderAnswer => ({ exitCode, output, problems: [], exportExitCode: 0, exportSha256: "a".repeat(64), ...extra });

describe("compareAnswer", () => {
  it("passes an answer equal to the expectations", () => {
    const r = compareAnswer(expected, exc, answer(good()), { exportChecked: true });
    expect(r.diffs).toEqual([]);
    expect(r.problems).toEqual([]);
    expect(r.compared).toContain("snapshotSha256");
  });

  it("reports a wrong nextFree by name", () => {
    const r = compareAnswer(expected, exc, answer({ ...good(), nextFree: 6 }));
    expect(r.diffs).toEqual([{ field: "nextFree", expected: 5, actual: 6 }]);
  });

  it("reports nested fields of header and usage", () => {
    const out = good();
    out.header.chunkSize = 8;
    out.usage.metadataSectors = 3;
    const r = compareAnswer(expected, exc, answer(out));
    expect(r.diffs.map((d) => d.field)).toEqual(["header.chunkSize", "usage.metadataSectors"]);
  });

  it("reports the first differing exception", () => {
    const r = compareAnswer(expected, exc, answer({ ...good(), exceptions: [[0, 2], [5, 4], [17, 4]] }));
    expect(r.diffs).toHaveLength(1);
    expect(r.diffs[0]!.field).toBe("exceptions");
    expect(String(r.diffs[0]!.actual)).toContain("[1] = [5,4]");
  });

  it("reports a missing exception and a missing field", () => {
    const out: Record<string, unknown> = { ...good(), exceptions: [[0, 2]] };
    delete out.status;
    const r = compareAnswer(expected, exc, answer(out));
    expect(r.diffs.map((d) => d.field)).toEqual(["exceptions", "status"]);
    expect(r.diffs[1]!.actual).toBe("missing");
  });

  it("reports a wrong snapshot hash and a failed export", () => {
    expect(compareAnswer(expected, exc, answer(good(), 0, { exportSha256: "b".repeat(64) }), { exportChecked: true }).diffs.map((d) => d.field)).toEqual(["snapshotSha256"]);
    expect(compareAnswer(expected, exc, answer(good(), 0, { exportExitCode: 1 }), { exportChecked: true }).diffs[0]!.actual).toBe("export exited 1");
  });

  it("does not compare the hash when export was not run", () => {
    const r = compareAnswer(expected, exc, answer(good(), 0, { exportSha256: "b".repeat(64) }), { exportChecked: false });
    expect(r.diffs).toEqual([]);
    expect(r.compared).not.toContain("snapshotSha256");
  });

  it("compares only the fields a reader declares", () => {
    const r = compareAnswer(expected, exc, answer({ state: "valid", nextFree: 5 }), { fields: ["outcome", "state", "nextFree"] });
    expect(r.diffs).toEqual([]);
    expect(r.compared).toEqual(["outcome", "state", "nextFree"]);
  });

  it("refusals: outcome and error code", () => {
    const refused: Expected = { outcome: "refused", error: { code: "BAD_MAGIC" } };
    expect(compareAnswer(refused, undefined, answer({ error: { code: "BAD_MAGIC", message: "x" } }, 1)).diffs).toEqual([]);
    expect(compareAnswer(refused, undefined, answer({ error: { code: "TRUNCATED", message: "x" } }, 1)).diffs).toEqual([{ field: "error.code", expected: "BAD_MAGIC", actual: "TRUNCATED" }]);
    expect(compareAnswer(refused, undefined, answer(good(), 0)).diffs[0]!.field).toBe("outcome");
    expect(compareAnswer(expected, exc, answer({ error: { code: "BAD_MAGIC", message: "x" } }, 1)).diffs[0]).toMatchObject({ field: "outcome", expected: "accepted" });
  });

  it("protocol failures: bad exit code, crash, non-object output, error object with exit 0", () => {
    expect(compareAnswer(expected, exc, answer(good(), 2)).problems[0]).toMatch(/exit code 2/);
    expect(compareAnswer(expected, exc, answer(undefined, null, { problems: ["dump: timed out after 1s"] })).problems).toEqual(["dump: timed out after 1s"]);
    expect(compareAnswer(expected, exc, answer([1, 2], 0)).problems[0]).toMatch(/not a JSON object/);
    expect(compareAnswer(expected, exc, answer({ error: { code: "X" } }, 0)).problems[0]).toMatch(/exit code 0 with an error/);
    expect(compareAnswer(expected, exc, answer({ nope: 1 }, 1)).problems[0]).toMatch(/exit code 1 without/);
  });
});

describe("export of an image without a view", () => {
  const refusedCase: Expected = { outcome: "refused", error: { code: "BAD_MAGIC" } };
  const refusal = (exportExitCode: number | null, exportErrorCode?: string): ReaderAnswer => ({
    exitCode: 1,
    output: { error: { code: "BAD_MAGIC", message: "x" } },
    problems: [],
    exportExitCode,
    ...(exportErrorCode ? { exportErrorCode } : {}),
  });
  const check = (a: ReaderAnswer, fields?: string[]) => compareAnswer(refusedCase, undefined, a, { exportChecked: true, exportRefusal: "BAD_MAGIC", ...(fields ? { fields } : {}) });

  it("passes when export refuses with the dump's code", () => {
    expect(check(refusal(1, "BAD_MAGIC")).diffs).toEqual([]);
    expect(check(refusal(1, "BAD_MAGIC")).compared).toContain("exportRefusal");
  });

  it("fails an export that prints a view, refuses with another code, or prints no error object", () => {
    expect(check(refusal(0)).diffs.map((d) => [d.field, d.actual])).toEqual([["exportRefusal", "exit 0"]]);
    expect(check(refusal(1, "TRUNCATED")).diffs.map((d) => d.actual)).toEqual(["TRUNCATED"]);
    expect(check(refusal(1)).diffs.map((d) => d.actual)).toEqual(["no error object"]);
  });

  it("expects SNAPSHOT_INVALID for an invalid snapshot, and is not compared for a reader that does not report it", () => {
    const invalid: Expected = { outcome: "accepted", state: "invalid", status: "Invalid" };
    const a: ReaderAnswer = { exitCode: 0, output: { state: "invalid", status: "Invalid" }, problems: [], exportExitCode: 0 };
    expect(compareAnswer(invalid, undefined, a, { exportChecked: true, exportRefusal: "SNAPSHOT_INVALID" }).diffs.map((d) => d.field)).toEqual(["exportRefusal"]);
    expect(compareAnswer(invalid, undefined, a, { exportChecked: true, exportRefusal: "SNAPSHOT_INVALID", fields: ["state", "status"] }).diffs).toEqual([]);
  });
});
