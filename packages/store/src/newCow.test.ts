/**
 * Issue #20 items 1 and 8 at the store: magic 0 is not blank. A raced COW
 * (the 2009 race with first entry {0, 2}: area 0 copied over the header, so
 * magic and valid read 0 over 10 live exceptions) and an ext4-like image
 * (1024 zero bytes, then a superblock) must be refused by every command that
 * would take them for blank: merge ("nothing to merge"), export (the origin
 * as the view), write (initialise), restore (overwrite). Nothing is written.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ExceptionTable, metadataOfTable } from "@dmsnap/format";
import { buildCow, damage } from "@dmsnap/format/testing";
import { MemoryDevice } from "./device.js";
import { applyWrite } from "./commands.js";
import { exportSnapshot } from "./export.js";
import { mergeSnapshot } from "./merge.js";
import { isBlankNewCow } from "./newCow.js";
import { restoreMetadata } from "./restore.js";
import { Rng } from "./rng.js";

// Ten exceptions, chunk size 1: area 0 at chunk 1 holds {0, 2}, {1, 3} ... {9, 11}.
const built = buildCow({ chunkSize: 1, exceptions: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], freeChunks: 40 });
const raced = damage.raceHeader(built.bytes, 1);
/** 64 KiB: zeros, then an ext2/3/4 superblock magic (0xEF53) at byte 1080, as mkfs.ext4 leaves the start of a device. */
const ext4 = (() => {
  const b = new Uint8Array(64 * 1024);
  b.set([0x53, 0xef], 1080);
  b[1024] = 0x80; // s_inodes_count
  return b;
})();

let dir: string;
beforeAll(async () => void (dir = await mkdtemp(join(tmpdir(), "dmsnap-newcow-"))));
afterAll(async () => rm(dir, { recursive: true, force: true }));

describe("the fixtures are what they claim", () => {
  it("raced: magic and valid 0, entry {0, 2} in the header words", () => {
    expect([...raced.subarray(0, 16)]).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0]);
  });
});

describe("merge", () => {
  it("refuses a raced COW with NEW_COW_NOT_BLANK and points at repair; origin and COW untouched", async () => {
    const origin = new MemoryDevice(new Rng(1).bytes(50 * 512));
    const cow = new MemoryDevice(raced.slice());
    const r = mergeSnapshot({ origin, cow });
    await expect(r).rejects.toMatchObject({ code: "NEW_COW_NOT_BLANK", exitCode: 1 });
    await expect(r).rejects.toThrow(/dmsnap repair/);
    expect(cow.writes + origin.writes).toBe(0);
    expect(cow.bytes).toEqual(raced);
  });

  it("refuses an ext4 image named as the COW, naming it, without suggesting repair", async () => {
    const r = mergeSnapshot({ origin: new MemoryDevice(64 * 1024), cow: new MemoryDevice(ext4.slice()) });
    await expect(r).rejects.toMatchObject({ code: "NEW_COW_NOT_BLANK" });
    await expect(r).rejects.toThrow(/ext2\/3\/4 file system/);
    await expect(r).rejects.not.toThrow(/'dmsnap repair <cow>/);
  });

  it("a COW blank at the default chunk size (32 sectors: chunks 0 and 1 = 32 KiB of zeros) still has nothing to merge", async () => {
    const cow = new Uint8Array(64 * 1024);
    cow[32 * 1024] = 0xff; // a data chunk: not read by first activation
    await expect(mergeSnapshot({ origin: new MemoryDevice(4096), cow: new MemoryDevice(cow) })).resolves.toMatchObject({ state: "new" });
  });
});

describe("export", () => {
  it("refuses a raced COW with NEW_COW_NOT_BLANK: no output file", async () => {
    await writeFile(join(dir, "r.origin"), new Rng(2).bytes(50 * 512));
    await writeFile(join(dir, "r.cow"), raced);
    // The table's chunk size 1: at the default (32 sectors) the COW is too small for two chunks (TRUNCATED comes first).
    const r = exportSnapshot({ origin: join(dir, "r.origin"), cow: join(dir, "r.cow"), output: join(dir, "r.img"), chunkSize: 1 });
    await expect(r).rejects.toMatchObject({ code: "NEW_COW_NOT_BLANK" });
    await expect(r).rejects.toThrow(/dmsnap repair/);
    expect(existsSync(join(dir, "r.img"))).toBe(false);
  });
});

describe("write never initialises a COW", () => {
  async function files(name: string, cow: Uint8Array): Promise<{ origin: string; cow: string; input: string; before: Uint8Array }> {
    const before = new Rng(3).bytes(64 * 1024);
    await writeFile(join(dir, `${name}.origin`), before);
    await writeFile(join(dir, `${name}.cow`), cow);
    await writeFile(join(dir, `${name}.in`), new Rng(4).bytes(100));
    return { origin: join(dir, `${name}.origin`), cow: join(dir, `${name}.cow`), input: join(dir, `${name}.in`), before };
  }

  it("a blank COW: NOT_INITIALISED, next step 'dmsnap create'; both files untouched", async () => {
    const f = await files("blank", new Uint8Array(64 * 1024));
    const r = applyWrite({ origin: f.origin, cow: f.cow, offset: 0, input: f.input });
    await expect(r).rejects.toMatchObject({ code: "NOT_INITIALISED", exitCode: 1 });
    await expect(r).rejects.toThrow(/dmsnap create/);
    expect(new Uint8Array(await readFile(f.cow)).every((b) => b === 0)).toBe(true);
    expect(new Uint8Array(await readFile(f.origin))).toEqual(f.before);
  });

  it("--origin and --cow swapped (an ext4 image as the COW): NEW_COW_NOT_BLANK, nothing written", async () => {
    const f = await files("swapped", ext4);
    const r = applyWrite({ origin: f.origin, cow: f.cow, offset: 0, input: f.input });
    await expect(r).rejects.toMatchObject({ code: "NEW_COW_NOT_BLANK" });
    await expect(r).rejects.toThrow(/swapped/);
    expect(new Uint8Array(await readFile(f.cow))).toEqual(ext4);
    expect(new Uint8Array(await readFile(f.origin))).toEqual(f.before);
  });

  it("the table's chunk size is checked first, as activation does (INVALID_CHUNK_SIZE before NEW_COW_NOT_BLANK)", async () => {
    const f = await files("badtable", ext4);
    await expect(applyWrite({ origin: f.origin, cow: f.cow, offset: 0, input: f.input, chunkSize: 3 })).rejects.toMatchObject({ code: "INVALID_CHUNK_SIZE" });
  });
});

describe("restore onto a magic-0 target that is not blank", () => {
  const dump = metadataOfTable(raced.length, { magic: 0x70416e53, valid: 1, version: 1, chunkSize: 1 }, ExceptionTable.from([[7, 2]]));

  it("refuses a raced COW (10 live exceptions) with TARGET_NOT_BLANK unless forced; the target untouched", async () => {
    const dev = new MemoryDevice(raced.slice());
    const r = restoreMetadata(dev, dump, { targetName: "raced.cow" });
    await expect(r).rejects.toMatchObject({ code: "TARGET_NOT_BLANK", exitCode: 2 });
    await expect(r).rejects.toThrow(/10 exception\(s\) at chunk size 1/);
    expect(dev.writes).toBe(0);
    await expect(restoreMetadata(dev, dump, { force: true })).resolves.toMatchObject({ overwrote: "other" });
  });

  it("refuses an ext4 image when the dump's chunk size reaches its superblock (8 sectors: bytes 0..8191 looked at), naming it", async () => {
    const dev = new MemoryDevice(ext4.slice());
    const m = metadataOfTable(ext4.length, { ...dump.header, chunkSize: 8 }, ExceptionTable.from([[7, 2]]));
    await expect(restoreMetadata(dev, m, {})).rejects.toThrow(/ext2\/3\/4/);
    expect(dev.writes).toBe(0);
    // At chunk size 1 the kernel reads and writes bytes 0..1023 only: all zeros there, so that is blank by the rule.
    await expect(restoreMetadata(new MemoryDevice(ext4.slice()), metadataOfTable(ext4.length, dump.header, ExceptionTable.from([[7, 2]])), {})).resolves.toMatchObject({ overwrote: "blank" });
  });
});

describe("isBlankNewCow", () => {
  it("true for zeros, false for a SnAp header, and a refusal for bytes in the header chunk or area 0", async () => {
    expect(await isBlankNewCow(new MemoryDevice(64 * 1024), "z")).toBe(true);
    expect(await isBlankNewCow(new MemoryDevice(built.bytes.slice()), "b")).toBe(false);
    await expect(isBlankNewCow(new MemoryDevice(raced.slice()), "r")).rejects.toMatchObject({ code: "NEW_COW_NOT_BLANK" });
  });
});
