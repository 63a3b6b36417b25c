import { existsSync, readdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { globToRegExp, loadCases, makeValidator, readImage } from "./cases.js";

const suite = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const validate = makeValidator(join(suite, "schema", "case.schema.json"));

const minimal = () => ({
  id: "derived-x",
  description: "x",
  tags: ["a"],
  provenance: { kind: "derived" },
  files: { cow: "cow.img.gz" },
  table: { mode: "P", chunkSize: 1 },
  expected: { outcome: "accepted", state: "valid", nextFree: 5 } as Record<string, unknown>,
});

describe("case schema", () => {
  it("accepts a minimal case", () => {
    expect(validate(minimal())).toEqual([]);
  });

  it("rejects a refusal without an error code, and a refusal with a state", () => {
    const c = minimal();
    c.expected = { outcome: "refused" };
    expect(validate(c).join()).toMatch(/error/);
    c.expected = { outcome: "refused", error: { code: "BAD_MAGIC" }, state: "valid" };
    expect(validate(c)).not.toEqual([]);
  });

  it("rejects unknown error codes, unknown fields and bad ids", () => {
    const a = minimal();
    a.expected = { outcome: "refused", error: { code: "OOPS" } };
    expect(validate(a)).not.toEqual([]);
    const b = minimal();
    b.expected.nextFreee = 5;
    expect(validate(b).join()).toMatch(/additional/);
    const c = { ...minimal(), id: "Kernel X" };
    expect(validate(c)).not.toEqual([]);
  });

  it("rejects exceptions on an invalid snapshot, and both exceptions and exceptionsFile", () => {
    const a = minimal();
    a.expected = { outcome: "accepted", state: "invalid", exceptions: [[1, 2]] };
    expect(validate(a)).not.toEqual([]);
    const b = minimal();
    b.expected = { outcome: "accepted", state: "valid", exceptions: [], exceptionsFile: "e.json" };
    expect(validate(b)).not.toEqual([]);
  });

  it("globs", () => {
    expect(globToRegExp("kernel-*").test("kernel-chunk-8s")).toBe(true);
    expect(globToRegExp("kernel-*").test("damaged-x")).toBe(false);
    expect(globToRegExp("*-8s").test("kernel-chunk-8s")).toBe(true);
  });
});

describe("the committed cases", () => {
  const casesDir = join(suite, "cases");
  it.skipIf(!existsSync(casesDir) || readdirSync(casesDir).length === 0)("all match the schema and the suite's quotas", () => {
    const { cases, problems } = loadCases(casesDir, validate);
    expect(problems).toEqual([]);
    expect(cases.length).toBeGreaterThanOrEqual(60);
    const kernelMade = cases.filter((c) => c.provenance.kind === "kernel").length;
    expect(kernelMade / cases.length).toBeGreaterThanOrEqual(0.4);
    const codes = new Set(cases.map((c) => c.expected.error?.code).filter(Boolean));
    for (const code of ["BAD_MAGIC", "UNSUPPORTED_VERSION", "INVALID_CHUNK_SIZE", "TRUNCATED", "CHUNK_NUMBER_TOO_LARGE"]) expect(codes).toContain(code);
    for (const state of ["new", "valid", "invalid"]) expect(cases.some((c) => c.expected.state === state)).toBe(true);
  });

  it.skipIf(!existsSync(casesDir) || readdirSync(casesDir).length === 0)("expect the usage of invalid snapshots, and need no 16 KiB header read under a table of 0", () => {
    const { cases } = loadCases(casesDir, validate);
    for (const c of cases.filter((x) => x.expected.state === "invalid")) {
      expect([c.id, c.expected.nextFree, c.expected.currentArea, c.expected.usage?.allocatedSectors]).toEqual([c.id, 2, 0, 2 * c.expected.chunkSize!]);
    }
    // With table chunk size 0 the kernel reads the header as one 32-sector chunk;
    // readers given 0 skip that check (docs/format.md, step 1), so no case may depend on it.
    for (const c of cases.filter((x) => x.table.chunkSize === 0)) {
      const bytes = readImage(resolve(c.dir, c.files.cow)).length;
      expect([c.id, bytes >= 32 * 512 || c.expected.error?.code === "TRUNCATED"]).toEqual([c.id, true]);
    }
  });
});
