/**
 * `restore` of hostile lossless dumps (issue #20 item 4), measured in a child
 * process: 48 MB of arrays nested inside "exceptions" took the old tokenizer
 * to a V8 out-of-memory abort (exit 134, 4 MB already took 515 MB), and 80 k
 * levels outside "exceptions" took 10-40 s (a quadratic check). Now every
 * input is refused (DUMP_INVALID, exit 1, no stack trace, no COW created) in
 * bounded memory and linear time. The bounds are generous (the machine is
 * shared) but far below what the old code took.
 */
import { existsSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { dmsnapRss, tempDir } from "./helpers.js";

const MB = 1 << 20;
const HEAD = '{"format":"dmsnap-dump","version":1,"deviceBytes":1048576,"header":{"magic":1883336275,"valid":1,"version":1,"chunkSize":1},';
const fill = (unit: string, bytes: number): string => unit.repeat(Math.floor(bytes / unit.length));

const dir = tempDir();
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("restore of hostile dumps: bounded memory, linear time", () => {
  it.each([
    ["48 MB of arrays nested inside exceptions", () => `${HEAD}"exceptions":[${fill("[", 48 * MB)}`, /exception 0 is not a pair/],
    ["48 MB of objects nested inside exceptions", () => `${HEAD}"exceptions":[${fill('{"a":', 48 * MB)}`, /exception 0 is not a pair/],
    ["a 48 MB array inside a pair", () => `${HEAD}"exceptions":[[[${fill("1,", 48 * MB)}1]]]}`, /exception 0 is not a pair/],
    ["48 MB of arrays nested outside exceptions", () => `${HEAD}"x":${fill("[", 48 * MB)}`, /nested more than 64 deep/],
    ["80 k levels outside exceptions", () => `${HEAD}"x":${"[".repeat(80_000)}${"]".repeat(80_000)},"exceptions":[]}`, /nested more than 64 deep/],
  ])("%s: DUMP_INVALID, exit 1, peak RSS < 200 MB, < 10 s", (_name, make, why) => {
    const dump = join(dir, "hostile.json");
    writeFileSync(dump, make());
    const cow = join(dir, "never.cow");
    const t0 = performance.now();
    const r = dmsnapRss(["restore", dump, "--cow", cow]);
    const ms = performance.now() - t0;
    expect(r.stderr).toMatch(/^dmsnap: DUMP_INVALID: /);
    expect(r.stderr).toMatch(why);
    expect(r.stderr).not.toMatch(/\n\s+at .+:\d+:\d+/);
    expect(r.status).toBe(1);
    expect(existsSync(cow)).toBe(false);
    expect(r.maxRssKiB).toBeLessThan(200 * 1024);
    expect(ms).toBeLessThan(10_000);
  });
});
