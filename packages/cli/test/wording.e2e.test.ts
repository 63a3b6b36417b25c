/**
 * Issue #23 section 3, the smaller conventions: singular units ("1 sector"),
 * an invalid COW's usage line, the warning when an existing header overrides
 * --chunk-size (the kernel logs one), and `create` echoing the chunk size in
 * bytes so that `--chunk-size 4096` (bytes meant, 2 MiB made) shows itself.
 */
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";
import { dmsnap, tempDir, writeTemp } from "./helpers.js";

const dir = tempDir();
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const caseCow = (id: string): string => writeTemp(dir, `${id}.img`, gunzipSync(readFileSync(new URL(`../../../conformance/cases/${id}/cow.img.gz`, import.meta.url))));

describe("wording", () => {
  it("check and usage say '1 sector', not '1 sectors'", () => {
    const cow = caseCow("kernel-snap-writes-1s");
    const c = dmsnap("check", cow);
    expect(c.stdout).toContain("chunk size 1 sector,");
    expect(c.stdout).not.toContain("1 sectors");
    expect(dmsnap("usage", cow).stdout).toContain("chunk size 1 sector (512 B)");
  });

  it("an invalid COW's usage line does not read as allocated/total metadata", () => {
    const r = dmsnap("dump", caseCow("kernel-invalidated-8s"));
    const line = r.stdout.split("\n").find((l) => l.startsWith("usage"))!;
    expect(line).toMatch(/^usage\s+Invalid\s+\(what dmsetup status prints for an invalidated snapshot/);
    expect(line).not.toContain("allocated/total");
  });

  it("dump --chunk-size 16 over a header that says 8 warns on stderr (as the kernel logs); none when they agree", () => {
    const cow = caseCow("kernel-invalidated-8s");
    const over = dmsnap("dump", "--json", "--chunk-size", "16", cow);
    expect(over.status).toBe(0);
    expect(JSON.parse(over.stdout).chunkSize).toBe(8);
    expect(over.stderr).toMatch(/^dmsnap: warning: CHUNK_SIZE_OVERRIDDEN: the header's chunk size, 8 sectors, overrides --chunk-size 16/m);
    expect(dmsnap("dump", "--json", "--chunk-size", "8", cow).stderr).toBe("");
  });

  it("create takes a chunk size with a unit and echoes it in bytes", () => {
    const a = dmsnap("create", "--cow", join(dir, "a.cow"), "--chunk-size", "4KiB", "--size", "1MiB");
    expect(a.status, a.stderr).toBe(0);
    expect(a.stdout).toContain("chunk size 8 sectors (4.00 KiB)");
    const b = dmsnap("create", "--cow", join(dir, "b.cow"), "--chunk-size", "4096", "--size", "64MiB");
    expect(b.stdout).toContain("chunk size 4096 sectors (2.00 MiB)");
  });
});
