/**
 * `dump -o FILE` writes what `dump` prints, through the output safety rules;
 * `map --svg - --json` is refused (both would go to standard output).
 */
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { dmsnap, errorCode, sha, tempDir } from "./helpers.js";

const dir = tempDir();
const cow = join(dir, "snap.cow");
expect(dmsnap("create", "--cow", cow, "--chunk-size", "8", "--size", "1MiB").status).toBe(0);

describe("dump -o", () => {
  it.each([["summary", []], ["--json", ["--json"]], ["--lossless", ["--lossless"]]])("dump (%s) -o FILE holds exactly what dump prints", (what, mode: string[]) => {
    const out = join(dir, `out-${what}.txt`);
    const printed = dmsnap("dump", cow, ...mode);
    const r = dmsnap("dump", cow, ...mode, "-o", out);
    expect([r.status, r.stdout]).toEqual([0, ""]);
    expect(readFileSync(out, "utf8")).toBe(printed.stdout);
  });

  it("an existing file is OUTPUT_EXISTS (unchanged) without --force, replaced with it", () => {
    const out = join(dir, "exists.json");
    writeFileSync(out, "keep me");
    const r = dmsnap("dump", cow, "--lossless", "-o", out);
    expect([r.status, errorCode(r)]).toEqual([2, "OUTPUT_EXISTS"]);
    expect(readFileSync(out, "utf8")).toBe("keep me");
    expect(dmsnap("dump", cow, "--lossless", "-o", out, "--force").status).toBe(0);
    expect(JSON.parse(readFileSync(out, "utf8"))).toMatchObject({ format: "dmsnap-dump" });
  });

  it("the input itself is SAME_FILE, input untouched", () => {
    const before = sha(cow);
    const r = dmsnap("dump", cow, "-o", cow, "--force");
    expect([r.status, errorCode(r)]).toEqual([2, "SAME_FILE"]);
    expect(sha(cow)).toBe(before);
  });

  it("a refused image leaves no file and no temporary", () => {
    const sub = tempDir();
    const bad = join(sub, "bad.img");
    writeFileSync(bad, "abc");
    const r = dmsnap("dump", bad, "--lossless", "-o", join(sub, "bad.json"));
    expect([r.status, errorCode(r)]).toEqual([1, "TRUNCATED"]);
    expect(readdirSync(sub)).toEqual(["bad.img"]);
  });
});

describe("map", () => {
  it("--svg - with --json is CONFLICTING_OPTIONS, exit 2, nothing on stdout but the error", () => {
    const r = dmsnap("map", cow, "--svg", "-", "--json");
    expect(r.status).toBe(2);
    expect(JSON.parse(r.stdout)).toMatchObject({ error: { code: "CONFLICTING_OPTIONS" } });
  });
  it("-o - alone prints the SVG, and -q keeps it (a document asked for)", () => {
    const r = dmsnap("map", cow, "-o", "-", "-q");
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^<svg/);
  });
});
