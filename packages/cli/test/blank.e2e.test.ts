/**
 * Issue #20 items 1, 6 and 8, issue #23 (BAD_MAGIC): magic 0 is not blank.
 * A COW is blank only when its header chunk and area 0 (at the chunk size in
 * effect) are all zeros. Fixtures are hand-made: an ext4-like start (1024
 * zero bytes, then a superblock with magic 0xEF53 at byte 1080), the 2009
 * race over 10 live exceptions (area 0 copied over the header: magic and
 * valid 0), a gzip header, a passwd line.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { buildCow, damage } from "@dmsnap/format/testing";
import { dmsnap, random, sha, tempDir, untouched, writeTemp } from "./helpers.js";

const json = (s: string) => JSON.parse(s);
const dir = tempDir();

/** 1 MiB: zeros to byte 1024, a superblock-ish 1024 bytes with 0xEF53 at 1080, random data after 64 KiB. */
function ext4Like(): Uint8Array {
  const b = new Uint8Array(1 << 20);
  b.set(random(1024, 11), 1024);
  b.set([0x53, 0xef], 1080);
  b.set(random(64 * 1024, 12), 64 * 1024);
  return b;
}
// Ten exceptions at chunk size 1; the race copies area 0 (first entry {0, 2}) over the header.
const built = buildCow({ chunkSize: 1, exceptions: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], freeChunks: 100 });
const raced = damage.raceHeader(built.bytes, 1);

describe("item 1: create, write, restore and check do not take magic 0 for blank", () => {
  it("create refuses an ext4 image (TARGET_NOT_BLANK, exit 2 as every target that holds data, untouched), also with --size; --force initialises it", () => {
    const img = writeTemp(dir, "create-ext4.img", ext4Like());
    const r = untouched([img], "create", "--cow", img, "--chunk-size", "8", "--json");
    expect(r.status).toBe(2);
    expect(json(r.stdout).error.code).toBe("TARGET_NOT_BLANK");
    expect(json(r.stdout).error.message).toMatch(/ext2\/3\/4 file system \(superblock magic 0xEF53 at byte 1080\)/);
    const s = untouched([img], "create", "--cow", img, "--chunk-size", "8", "--size", "1M", "--json");
    expect(s.status).toBe(2);
    expect(json(s.stdout).error.code).toBe("TARGET_NOT_BLANK");
    expect(dmsnap("create", "--cow", img, "--chunk-size", "8", "--force").status).toBe(0);
    expect(json(dmsnap("dump", img, "--json").stdout).state).toBe("valid");
  });

  it("write with --origin and --cow swapped (the ext4 image as the COW): NEW_COW_NOT_BLANK, exit 1, nothing written", () => {
    const disk = writeTemp(dir, "swap-disk.img", ext4Like());
    const cow = join(dir, "swap.cow");
    expect(dmsnap("create", "--cow", cow, "--chunk-size", "8", "--size", "1M").status).toBe(0);
    const input = writeTemp(dir, "swap.in", random(4096, 3));
    const r = untouched([disk, cow], "write", "--origin", cow, "--cow", disk, "--offset", "0", "--input", input, "--json");
    expect(r.status).toBe(1);
    expect(json(r.stdout).error.code).toBe("NEW_COW_NOT_BLANK");
    expect(json(r.stdout).error.message).toMatch(/swapped/);
  });

  it("write never initialises a blank COW: NOT_INITIALISED, exit 1, next step 'dmsnap create'", () => {
    const cow = writeTemp(dir, "blank-write.cow", new Uint8Array(1 << 20));
    const origin = writeTemp(dir, "blank-write.origin", random(64 * 1024, 5));
    const input = writeTemp(dir, "blank-write.in", random(100, 6));
    const r = untouched([cow, origin], "write", "--origin", origin, "--cow", cow, "--offset", "0", "--input", input);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^dmsnap: NOT_INITIALISED: .*run 'dmsnap create --cow /m);
  });

  it("restore without --force refuses a raced COW (TARGET_NOT_BLANK); repair afterwards still finds all 10 exceptions", () => {
    const dump = join(dir, "other.dump.json");
    const other = writeTemp(dir, "other.cow", buildCow({ chunkSize: 1, exceptions: [50], deviceChunks: raced.length / 512 }).bytes);
    expect(dmsnap("dump", other, "--lossless", "-o", dump).status).toBe(0);
    const cow = writeTemp(dir, "restore-raced.cow", raced);
    const r = untouched([cow], "restore", dump, "--cow", cow, "--json");
    expect(r.status).toBe(2);
    expect(json(r.stdout).error.code).toBe("TARGET_NOT_BLANK");
    expect(json(r.stdout).error.message).toMatch(/10 exception\(s\) at chunk size 1/);
    const fixed = join(dir, "restore-raced.fixed.cow");
    const rep = dmsnap("repair", cow, "--output", fixed, "--json");
    expect(rep.status).toBe(0);
    expect(json(rep.stdout).kept).toBe(10);
  });

  it("check does not call an ext4 image 'state new ... clean': NEW_COW_NOT_BLANK naming it, exit 1", () => {
    const img = writeTemp(dir, "check-ext4.img", ext4Like());
    const r = untouched([img], "check", img);
    expect(r.status).toBe(1);
    expect(r.stdout).not.toMatch(/^clean/m);
    expect(r.stdout).toMatch(/warning NEW_COW_NOT_BLANK/);
    expect(r.stdout).toMatch(/ext2\/3\/4 file system/);
    // Nothing parses as exceptions: repair is not suggested.
    expect(r.stdout).not.toMatch(/run 'dmsnap repair|'dmsnap repair <cow> --output <file>' salvages/);
    const j = json(dmsnap("check", img, "--json").stdout);
    expect(j.findings[0]).toMatchObject({ code: "NEW_COW_NOT_BLANK", severity: "warning", location: { chunk: 0, byteOffset: 1024 } });
  });

  it("the chunk size in effect decides: data in chunk 2 at 512-byte chunks is blank for --chunk-size 1, not for 2", () => {
    const b = new Uint8Array(64 * 1024);
    b[1500] = 7;
    const img = writeTemp(dir, "chunk2.img", b);
    expect(dmsnap("check", img, "--chunk-size", "1").status).toBe(0);
    const r = dmsnap("check", img, "--chunk-size", "2", "--json");
    expect(r.status).toBe(1);
    expect(json(r.stdout).findings[0]).toMatchObject({ code: "NEW_COW_NOT_BLANK", location: { byteOffset: 1500 } });
  });
});

describe("item 8: merge and export refuse a raced COW with NEW_COW_NOT_BLANK and point at repair", () => {
  it("merge: exit 1, no 'nothing to merge', both files untouched", () => {
    const cow = writeTemp(dir, "merge-raced.cow", raced);
    const origin = writeTemp(dir, "merge-raced.origin", random(100 * 512, 8));
    const r = untouched([cow, origin], "merge", "--origin", origin, "--cow", cow);
    expect(r.status).toBe(1);
    expect(r.stdout).not.toMatch(/nothing to merge/);
    expect(r.stderr).toMatch(/^dmsnap: NEW_COW_NOT_BLANK: .*10 exception\(s\).*'dmsnap repair/m);
  });

  it("export: exit 1, no output written", () => {
    const cow = writeTemp(dir, "export-raced.cow", raced);
    const origin = writeTemp(dir, "export-raced.origin", random(100 * 512, 9));
    const out = join(dir, "export-raced.img");
    const r = untouched([cow, origin], "export", "--origin", origin, "--cow", cow, "--output", out, "--chunk-size", "1", "--json");
    expect(r.status).toBe(1);
    expect(json(r.stdout).error.code).toBe("NEW_COW_NOT_BLANK");
    expect(json(r.stdout).error.message).toMatch(/dmsnap repair/);
    expect(existsSync(out)).toBe(false);
  });

  it("a really blank COW still merges to nothing and exports the origin", () => {
    const cow = writeTemp(dir, "blank-export.cow", new Uint8Array(64 * 1024));
    const origin = writeTemp(dir, "blank-export.origin", random(8192, 10));
    expect(dmsnap("merge", "--origin", origin, "--cow", cow).stdout).toMatch(/nothing to merge/);
    const out = join(dir, "blank-export.img");
    expect(dmsnap("export", "--origin", origin, "--cow", cow, "--output", out).status).toBe(0);
    expect(sha(out)).toBe(sha(origin));
  });
});

describe("issue #23: BAD_MAGIC shows the magic as text and promises repair only when salvage finds something", () => {
  it("a gzip file: 'gunzip it first', no repair", () => {
    const gz = new Uint8Array(64 * 1024);
    gz.set([0x1f, 0x8b, 0x08, 0x00], 0);
    const f = writeTemp(dir, "cow.img.gz", gz);
    const r = dmsnap("dump", f, "--json");
    expect(r.status).toBe(1);
    const e = json(r.stdout).error;
    expect(e.code).toBe("BAD_MAGIC");
    expect(e.message).toMatch(/gunzip it first/);
    expect(e.message).not.toMatch(/repair/);
  });

  it("a passwd file: the magic reads \"root\"; check never says 'can try' beside 'cannot salvage'", () => {
    const f = writeTemp(dir, "passwd", new TextEncoder().encode("root:x:0:0:root:/root:/bin/bash\n".repeat(40)));
    const r = dmsnap("check", f);
    expect(r.status).toBe(1);
    expect(r.stdout).toContain('("root")');
    expect(r.stdout).not.toMatch(/can try/);
    expect(r.stdout).toMatch(/'dmsnap repair' finds nothing to salvage/);
  });
});

describe("the raced COW's warning in dump and usage names what repair finds", () => {
  it("dump --json warns NEW_COW_NOT_BLANK with the 10 exceptions of area 0", () => {
    const cow = writeTemp(dir, "dump-raced.cow", raced);
    const d = dmsnap("dump", cow, "--json", "--chunk-size", "1");
    expect(d.status).toBe(0);
    expect(json(d.stdout).warnings[0].message).toMatch(/area 0 parses as 10 exception\(s\) at chunk size 1/);
    expect(readFileSync(cow)).toEqual(Buffer.from(raced));
  });
});

describe("dump --lossless of a raced COW warns: the dump keeps no entries", () => {
  it("warning NEW_COW_NOT_BLANK on stderr, exit 0, the dump itself unchanged (magic 0, no exceptions)", () => {
    const cow = writeTemp(dir, "lossless-raced.cow", raced);
    const r = dmsnap("dump", cow, "--lossless", "--chunk-size", "1");
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/warning: NEW_COW_NOT_BLANK: .*area 0 parses as 10 exception\(s\)/);
    expect(json(r.stdout)).toMatchObject({ header: { magic: 0 }, exceptions: [] });
  });
});
