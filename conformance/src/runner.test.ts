// End-to-end: the runner against fake readers (small node scripts), over a
// temporary cases folder, so the protocol handling itself can fail.
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { exportRefusal, runConformance, tableArgs, wantsExport } from "./runner.js";
import { renderMarkdown } from "./matrix.js";
import type { ReaderSpec } from "./types.js";

const suite = resolve(dirname(fileURLToPath(import.meta.url)), "..");
let tmp: string;

const EXPECTED = {
  outcome: "accepted",
  state: "valid",
  chunkSize: 1,
  exceptions: [[0, 2]],
  nextFree: 3,
  usage: { totalSectors: 8, allocatedSectors: 3, metadataSectors: 2 },
  snapshotSha256: "",
};
const ANSWER = { header: { magic: 1883336275, valid: 1, version: 1, chunkSize: 1 }, state: "valid", chunkSize: 1, exceptionsPerArea: 32, exceptions: [[0, 2]], nextFree: 3, usage: EXPECTED.usage, currentArea: 0, deviceBytes: 4096, status: "3/8 2" };

// A fake reader: prints ANSWER with `patch` applied; `mode` picks a misbehaviour.
function fake(name: string, mode: string, patch: Record<string, unknown> = {}): ReaderSpec {
  const script = join(tmp, `${name}.mjs`);
  writeFileSync(
    script,
    `import { readFileSync, writeFileSync } from "node:fs";
const [op, a, b] = process.argv.slice(2);
const mode = ${JSON.stringify(mode)};
if (op === "dump") {
  if (mode === "crash") process.kill(process.pid, "SIGSEGV");
  if (mode === "hang") setTimeout(() => {}, 60000);
  else if (mode === "garbage") process.stdout.write("not json");
  else if (mode === "exit3") process.exit(3);
  else {
    if (mode === "scribble") writeFileSync(a, "x");
    process.stdout.write(JSON.stringify({ ...${JSON.stringify(ANSWER)}, ...${JSON.stringify(patch)} }));
  }
} else if (op === "export") {
  process.stdout.write(readFileSync(a));
}
`,
  );
  return { name, command: [process.execPath, script], capabilities: ["dump", "export"], required: true, kind: "process", timeoutSeconds: 3 };
}

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), "conformance-test-"));
  const dir = join(tmp, "cases", "derived-one");
  mkdirSync(dir, { recursive: true });
  const origin = Buffer.alloc(4096, 7);
  writeFileSync(join(dir, "cow.img.gz"), gzipSync(Buffer.alloc(4096)));
  writeFileSync(join(dir, "origin.img.gz"), gzipSync(origin));
  // The fake export prints the origin, so its sha256 is the expected view.
  const sha = createHash("sha256").update(origin).digest("hex");
  writeFileSync(
    join(dir, "case.json"),
    JSON.stringify({ id: "derived-one", description: "t", tags: ["t"], provenance: { kind: "derived" }, files: { cow: "cow.img.gz", origin: "origin.img.gz" }, table: { mode: "P", chunkSize: 1 }, expected: { ...EXPECTED, snapshotSha256: sha } }),
  );
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

async function run(readers: ReaderSpec[]) {
  return runConformance({ root: tmp, casesDir: join(tmp, "cases"), schemaPath: join(suite, "schema", "case.schema.json"), extraReaders: readers, jobs: 2 });
}

describe("runner", () => {
  it("passes a correct reader and fails one with a wrong nextFree, naming the field", async () => {
    const r = await run([fake("good", "ok"), fake("off", "ok", { nextFree: 4 })]);
    const good = r.cells.find((c) => c.reader === "good")!;
    const off = r.cells.find((c) => c.reader === "off")!;
    expect(good.status).toBe("pass");
    expect(good.compared).toContain("snapshotSha256");
    expect(off.status).toBe("fail");
    expect(off.diffs.map((d) => d.field)).toEqual(["nextFree"]);
    expect(r.failed).toBe(true);
    expect(r.counts).toMatchObject({ passed: 1, failed: 1 });
  });

  it("fails crashes, hangs, garbage, odd exit codes and readers that write to their input", async () => {
    const r = await run([fake("crash", "crash"), fake("hang", "hang"), fake("garbage", "garbage"), fake("exit3", "exit3"), fake("scribble", "scribble")]);
    const why = Object.fromEntries(r.cells.map((c) => [c.reader, `${c.status} ${c.problems.join(" ")}`]));
    expect(why.crash).toMatch(/^fail .*SIGSEGV/);
    expect(why.hang).toMatch(/^fail .*timed out/);
    expect(why.garbage).toMatch(/^fail .*not JSON/);
    expect(why.exit3).toMatch(/^fail .*exit code 3/);
    expect(why.scribble).toMatch(/^fail .*wrote to its input COW/);
  }, 30_000);

  it("stderr never decides a case: the Python reader writing to stderr on every call passes the refusals, the invalidated and a valid case; its stderr explains a failure", async () => {
    // Every call (dump, export, refusals included) writes a diagnostic line first.
    const reader: ReaderSpec = {
      name: "chatty",
      command: ["sh", "-c", 'echo "chatty reader: $1 called" >&2; exec python3 conformance/readers/python/dmsnap_reader.py "$@"', "sh"],
      capabilities: ["dump", "export"],
      required: true,
      kind: "process",
      timeoutSeconds: 60,
    };
    const root = resolve(suite, "..");
    const r = await runConformance({ root, casesDir: join(suite, "cases"), schemaPath: join(suite, "schema", "case.schema.json"), extraReaders: [reader], jobs: 2, caseGlobs: ["damaged-*", "kernel-invalidated-*", "kernel-snap-writes-1s"] });
    const failed = r.cells.filter((c) => c.status === "fail").map((c) => `${c.caseId}: ${c.problems.join(" ")}`);
    expect(failed).toEqual([]);
    expect(r.counts.passed).toBe(r.cases.length);
    // The export refusals were run and judged (the cases that once failed for their stderr alone).
    expect(r.cells.filter((c) => c.compared.includes("exportRefusal")).length).toBeGreaterThan(10);
    expect(r.cells.filter((c) => c.compared.includes("snapshotSha256")).length).toBeGreaterThan(0);
    // A failure decided by stdout keeps the stderr lines as its explanation.
    const wrong = { ...fake("wrong", "ok", { nextFree: 4 }), command: ["sh", "-c", `echo "wrong reader says hello" >&2; exec "${process.execPath}" "${join(tmp, "wrong.mjs")}" "$@"`, "sh"] };
    const w = await run([wrong]);
    expect(w.cells[0]!.status).toBe("fail");
    expect(w.cells[0]!.problems.join(" ")).toContain("wrong reader says hello");
  }, 300_000);

  it("an optional reader's failures do not fail the run; a missing one is skipped", async () => {
    const opt = { ...fake("opt", "ok", { state: "new" }), required: false };
    const missing: ReaderSpec = { name: "missing", command: ["python3", "nowhere/reader.py"], capabilities: ["dump"], required: false, kind: "process", requires: ["nowhere/reader.py"] };
    const r = await run([opt, missing]);
    expect(r.failed).toBe(false);
    expect(r.counts).toMatchObject({ passed: 0, failed: 0, skipped: 1, advisoryFailed: 1 });
    expect(r.cells.find((c) => c.reader === "missing")!.problems[0]).toMatch(/not installed/);
  });

  it("a batch reader gets one request file and answers every case", async () => {
    const script = join(tmp, "batch.mjs");
    writeFileSync(
      script,
      `import { readFileSync, writeFileSync } from "node:fs";
import { createHash } from "node:crypto";
const [op, req, ans] = process.argv.slice(2);
const { protocol, requests } = JSON.parse(readFileSync(req, "utf8"));
if (op !== "batch" || protocol !== "dmsnap-conformance-batch/1") process.exit(9);
const answers = requests.map((q) => q.op === "dump"
  ? { id: q.id, op: q.op, exitCode: 0, output: { state: "valid", nextFree: 2 } }
  : { id: q.id, op: q.op, exitCode: 0, sha256: createHash("sha256").update(readFileSync(q.origin)).digest("hex") });
writeFileSync(ans, JSON.stringify({ answers }));
`,
    );
    const r = await run([{ name: "b", command: [process.execPath, script], capabilities: ["dump", "export"], required: true, kind: "batch", fields: ["outcome", "state", "nextFree", "snapshotSha256"] }]);
    expect(r.cells).toHaveLength(1);
    expect(r.cells[0]!.diffs).toEqual([{ field: "nextFree", expected: 3, actual: 2 }]);
    expect(r.cells[0]!.compared).toEqual(["outcome", "state", "nextFree", "snapshotSha256"]);
  });

  it("a batch reader's environment (the kernel it ran on) lands in its row of the report and the matrix", async () => {
    const script = join(tmp, "batch-env.mjs");
    const environment = { kernel: "6.12.118+deb12-amd64", kernelId: "6.12+fix", dmTargets: ["snapshot          v1.16.0", "linear           v1.4.0"], dmSnapshot: { origin: "built here", sha256: "ab12" } };
    writeFileSync(
      script,
      `import { readFileSync, writeFileSync } from "node:fs";
const [, req, ans] = process.argv.slice(2);
const { requests } = JSON.parse(readFileSync(req, "utf8"));
const answers = requests.filter((q) => q.op === "dump").map((q) => ({ id: q.id, op: "dump", exitCode: 0, output: { state: "valid" } }));
writeFileSync(ans, JSON.stringify({ answers, environment: ${JSON.stringify(environment)} }));
`,
    );
    const r = await run([{ name: "k", command: [process.execPath, script], capabilities: ["dump"], required: true, kind: "batch", fields: ["outcome", "state"] }]);
    expect(r.readers[0]!.environment).toEqual(environment);
    const md = renderMarkdown(r);
    expect(md).toContain("k ran on: kernel 6.12.118+deb12-amd64 (id 6.12+fix); dm-snapshot built here sha256 ab12; snapshot v1.16.0");
  });
});

describe("what the runner asks of a case", () => {
  const base = { id: "x", description: "", tags: [], provenance: { kind: "derived" as const }, dir: "", files: { cow: "c", origin: "o" }, table: { mode: "P" as const, chunkSize: 8 } };
  it("always passes the table's chunk size, 0 included", () => {
    expect(tableArgs({ ...base, expected: { outcome: "accepted", state: "valid" } })).toEqual(["--chunk-size", "8"]);
    expect(tableArgs({ ...base, table: { mode: "P", chunkSize: 0 }, expected: { outcome: "refused", error: { code: "TRUNCATED" } } })).toEqual(["--chunk-size", "0"]);
  });
  it("runs export for a view hash, a refusal or an invalid snapshot, when there is an origin", () => {
    expect(exportRefusal({ ...base, expected: { outcome: "refused", error: { code: "TRUNCATED" } } })).toBe("TRUNCATED");
    expect(exportRefusal({ ...base, expected: { outcome: "accepted", state: "invalid" } })).toBe("SNAPSHOT_INVALID");
    expect(exportRefusal({ ...base, expected: { outcome: "accepted", state: "new" } })).toBeUndefined();
    expect(wantsExport({ ...base, expected: { outcome: "accepted", state: "invalid" } })).toBe(true);
    expect(wantsExport({ ...base, expected: { outcome: "accepted", state: "valid" } })).toBe(false); // no hash: e.g. a chunk beyond the device
    expect(wantsExport({ ...base, files: { cow: "c" }, expected: { outcome: "refused", error: { code: "BAD_MAGIC" } } })).toBe(false);
  });
});
