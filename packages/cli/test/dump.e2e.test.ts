import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { buildCow, damage } from "@dmsnap/format/testing";
import { dmsnap, tempDir, writeTemp } from "./helpers.js";

describe("dmsnap dump (built binary, real files)", () => {
  const dir = tempDir();
  const built = buildCow({ chunkSize: 1, exceptions: Array.from({ length: 34 }, (_, i) => 100 + i), freeChunks: 3 });
  const cow = writeTemp(dir, "cow.img", built.bytes);

  it("prints the kernel's view as JSON, exit 0", () => {
    const r = dmsnap("dump", cow, "--json");
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.header).toEqual({ magic: 0x70416e53, valid: 1, version: 1, chunkSize: 1 });
    expect(out.state).toBe("valid");
    expect(out.exceptionsPerArea).toBe(32);
    expect(out.exceptions).toHaveLength(34);
    expect(out.exceptions[0]).toEqual([100, 2]);
    expect(out.exceptions[32]).toEqual([132, 35]); // chunk 34 is area 1
    expect(out.nextFree).toBe(37);
    // 34 exceptions: header, areas at chunks 1 and 34, data up to 36, 3 free: 40 chunks.
    expect(out.usage).toEqual({ totalSectors: 40, allocatedSectors: 37, metadataSectors: 3 });
    expect(out.status).toBe("37/40 3");
  });

  it("prints a readable summary without --json", () => {
    const r = dmsnap("dump", cow);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/state\s+valid/);
    expect(r.stdout).toMatch(/exceptions\s+34/);
    expect(r.stdout).toMatch(/usage\s+37\/40 3/);
  });

  it("refuses the 2009 race header with BAD_MAGIC, exit 1, and leaves the file untouched", () => {
    const raced = writeTemp(dir, "raced.img", damage.raceHeader(built.bytes, 1));
    const before = readFileSync(raced);
    const r = dmsnap("dump", raced, "--json");
    expect(r.status).toBe(1);
    expect(JSON.parse(r.stdout).error.code).toBe("BAD_MAGIC");
    expect(readFileSync(raced).equals(before)).toBe(true);
  });

  it("refuses chunk size 0 with INVALID_CHUNK_SIZE and names the next step on stderr", () => {
    const bad = writeTemp(dir, "cs0.img", damage.setHeaderField(built.bytes, "chunkSize", 0));
    const r = dmsnap("dump", bad);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/INVALID_CHUNK_SIZE/);
    expect(r.stderr).toMatch(/dmsnap repair/);
  });

  it("reports an invalidated COW as invalid with no exceptions", () => {
    const inv = writeTemp(dir, "inv.img", damage.setHeaderField(built.bytes, "valid", 0));
    const out = JSON.parse(dmsnap("dump", inv, "--json").stdout);
    expect(out.state).toBe("invalid");
    expect(out.exceptions).toEqual([]);
    expect(out.status).toBe("Invalid");
  });

  it("treats a blank file as new with the table chunk size", () => {
    const blank = writeTemp(dir, "blank.img", new Uint8Array(64 * 512));
    const out = JSON.parse(dmsnap("dump", blank, "--json", "--chunk-size", "4").stdout);
    expect(out.state).toBe("new");
    expect(out.chunkSize).toBe(4);
    expect(out.nextFree).toBe(2);
  });

  it("exits 2 with an IO code for a missing file, and for a bad option", () => {
    const missing = dmsnap("dump", `${dir}/nope.img`, "--json");
    expect(missing.status).toBe(2);
    expect(JSON.parse(missing.stdout).error.code).toBe("IO_ENOENT");
    expect(dmsnap("dump", cow, "--chunk-size", "abc").status).toBe(2);
    expect(dmsnap("dump").status).toBe(2);
  });
});
