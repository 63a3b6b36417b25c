/**
 * Issue #9 item 5: every reading command streams. One sparse COW just past
 * 2^24 exceptions (JavaScript's Map limit) made by our own sparse writer
 * (sparseCow.mjs, not the code under test); expected values come from its
 * layout formulas. Peak RSS is measured with GNU time against the bounds
 * docs/cli.md states (Memory and scale):
 *   dump, dump --json, dump --lossless, usage, restore, export: constant, BASE;
 *   check, map: BASE + 1 bit a chunk number (old and new columns), nothing per exception;
 *   repair, and check's repair advice on a refused COW: BASE (salvage streamed, one bit a chunk number).
 */
import { createHash } from "node:crypto";
import { closeSync, createReadStream, openSync, readFileSync, statSync, truncateSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rmSync } from "node:fs";
import { dmsnapRss, tempDir } from "./helpers.js";
import { writeSparseCow, type SparseLayout } from "./sparseCow.mjs";

/** Past JavaScript's Map limit, for check and map (which hold the exceptions). */
const BIG = 2 ** 24 + 1;
/** Enough that an in-memory dump or index would blow the constant bound (and quick enough for CI). */
const COUNT = 2 ** 22 + 1;
const SLOW = 240_000;
const MiB = 1024;
/** Node, the code and one batch of buffers, in KiB. */
const BASE_KIB = 128 * MiB;
const perExceptionKiB = (bytes: number, count = COUNT): number => (count * bytes) / 1024;
/** check and map: one bit a chunk number in each column: old chunks contiguous (up to a quarter more when grown), new ones in 256 KiB pages (one partly used page each). */
const bitmapsKiB = (highestOld: number, highestNew: number): number => (1.25 * highestOld + highestNew) / 8 / 1024 + 2 * 256;

const shaOfFile = (p: string): Promise<string> =>
  new Promise((resolve, reject) => {
    const h = createHash("sha256");
    createReadStream(p).on("data", (d) => h.update(d)).on("end", () => resolve(h.digest("hex"))).on("error", reject);
  });

describe(`check and map at ${BIG} exceptions (2^24 + 1)`, () => {
  const dir = tempDir();
  const cow = join(dir, "big.cow");
  let layout: SparseLayout;
  beforeAll(() => void (layout = writeSparseCow(cow, { chunkSize: 8, count: BIG })), SLOW);
  afterAll(() => rmSync(dir, { recursive: true, force: true }), SLOW);

  it("check: clean, every exception counted, no Map limit, memory BASE + 1 bit a chunk number", () => {
    const r = dmsnapRss(["check", cow, "--json"]);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.exceptions).toBe(BIG);
    expect(out.summary.clean).toBe(true);
    expect(r.maxRssKiB).toBeLessThan(BASE_KIB + bitmapsKiB(BIG, layout.lastNew));
  }, SLOW);

  it("map: every exception's chunk drawn as used, memory BASE + 1 bit a chunk number", () => {
    const r = dmsnapRss(["map", cow, "--svg", join(dir, "map.svg"), "--json"]);
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout).counts.used).toBe(BIG);
    expect(r.maxRssKiB).toBeLessThan(BASE_KIB + bitmapsKiB(BIG, layout.lastNew));
  }, SLOW);

  it("map of the same COW refused (magic 0 over its areas): drawn from salvage, no Set limit, BASE + 72 B an exception", () => {
    const fd = openSync(cow, "r+");
    writeSync(fd, Buffer.alloc(16), 0, 16, 0);
    closeSync(fd);
    const r = dmsnapRss(["map", cow, "--svg", join(dir, "refused.svg"), "--json"]);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout).counts.used).toBe(BIG);
    expect(r.maxRssKiB).toBeLessThan(BASE_KIB + perExceptionKiB(72, BIG));
  }, SLOW);
});

describe(`the streaming commands at ${COUNT} exceptions`, () => {
  const dir = tempDir();
  const cow = join(dir, "medium.cow");
  let layout: SparseLayout;
  beforeAll(() => {
    layout = writeSparseCow(cow, { chunkSize: 8, count: COUNT });
  }, SLOW);
  afterAll(() => rmSync(dir, { recursive: true, force: true }), SLOW);

  it("usage and dump: constant memory", () => {
    const u = dmsnapRss(["usage", cow, "--json"]);
    expect(u.status).toBe(0);
    expect(JSON.parse(u.stdout).exceptions).toBe(COUNT);
    expect(u.maxRssKiB).toBeLessThan(BASE_KIB);
    const d = dmsnapRss(["dump", cow]);
    expect(d.status).toBe(0);
    expect(d.stdout).toMatch(new RegExp(`exceptions\\s+${COUNT}\\n`));
    expect(d.maxRssKiB).toBeLessThan(BASE_KIB);
  }, SLOW);

  it("dump --json: the whole object, written incrementally in constant memory", () => {
    const file = join(dir, "dump.json");
    const r = dmsnapRss(["dump", cow, "--json"], { stdoutFile: file });
    expect(r.status).toBe(0);
    expect(r.maxRssKiB).toBeLessThan(BASE_KIB);
    // The exceptions array's length in characters, from the layout formulas.
    let chars = 0;
    for (let i = 0; i < COUNT; i++) chars += `[${COUNT - 1 - i},${layout.newOf(i)}]`.length + (i > 0 ? 1 : 0);
    const size = statSync(file).size;
    const head = readFileSync(file).subarray(0, 4096).toString();
    const prefix = head.slice(0, head.indexOf(`"exceptions":[`) + `"exceptions":[`.length);
    expect(size).toBe(prefix.length + chars + "]}\n".length);
    expect(head).toContain(`"exceptions":[[${COUNT - 1},2],[${COUNT - 2},3]`);
    expect(JSON.parse(`${prefix}]}`)).toMatchObject({ state: "valid", nextFree: layout.lastNew + 1, deviceBytes: layout.deviceBytes });
  }, SLOW);

  it("dump --lossless, then restore: constant memory, and the restored COW dumps identically", async () => {
    const dump = join(dir, "cow.dump.json");
    const d = dmsnapRss(["dump", cow, "--lossless"], { stdoutFile: dump });
    expect(d.status).toBe(0);
    expect(d.maxRssKiB).toBeLessThan(BASE_KIB);
    const restored = join(dir, "restored.cow");
    const r = dmsnapRss(["restore", dump, "--cow", restored, "--json"]);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ exceptions: COUNT, areasWritten: layout.areas });
    expect(r.maxRssKiB).toBeLessThan(BASE_KIB);
    // Issue #24: one write per metadata area through libuv's thread pool made restore 7x slower than
    // the dump (36,000 voluntary context switches for these 16,385 areas; synchronous writes: about 400).
    expect(r.voluntarySwitches).toBeLessThan(layout.areas / 4);
    const again = join(dir, "again.dump.json");
    expect(dmsnapRss(["dump", restored, "--lossless"], { stdoutFile: again }).status).toBe(0);
    expect(await shaOfFile(again)).toBe(await shaOfFile(dump));
    rmSync(restored);
  }, SLOW);

  it("export: the view streamed, constant memory (no index of the exceptions)", () => {
    const origin = join(dir, "origin.img");
    writeFileSync(origin, "");
    truncateSync(origin, 64 << 20);
    const r = dmsnapRss(["export", "--origin", origin, "--cow", cow, "--output", join(dir, "view.img"), "--json"]);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    // Origin chunks 0..16383 all have exceptions (old = COUNT - 1 - i covers them).
    expect(JSON.parse(r.stdout).cowChunks).toBe(16384);
    expect(r.maxRssKiB).toBeLessThan(BASE_KIB);
  }, SLOW);

  // Issue #20 item 6: deciding NEW_COW_NOT_BLANK read the whole COW into a salvage (335 MB at 8 M exceptions).
  it("magic 0 over the same exceptions: dump, dump --json, usage and check warn NEW_COW_NOT_BLANK in constant memory; merge and export refuse", () => {
    const fd = openSync(cow, "r+");
    writeSync(fd, Buffer.alloc(16), 0, 16, 0); // the header words: magic 0, area 0 (chunk 1 at 8 sectors) untouched
    closeSync(fd);
    for (const args of [["dump", cow], ["dump", cow, "--json"], ["usage", cow, "--json"], ["check", cow, "--json"]]) {
      const r = dmsnapRss(args, args[0] === "dump" ? { stdoutFile: join(dir, "magic0.out") } : {});
      expect(r.status, args.join(" ")).toBe(args[0] === "check" ? 1 : 0);
      expect(r.maxRssKiB, args.join(" ")).toBeLessThan(BASE_KIB); // was 331-339 MB, 9-10 s (a whole salvage); now 54 MB, 0.7 s
      const text = args[0] === "dump" ? readFileSync(join(dir, "magic0.out"), "utf8") : r.stdout;
      expect(`${text}${r.stderr}`, args.join(" ")).toMatch(/NEW_COW_NOT_BLANK/);
      // Area 0 at 8 sectors holds 256 entries: the bounded probe reads no further.
      expect(`${text}${r.stderr}`, args.join(" ")).toMatch(/area 0 parses as 256 exception\(s\) at chunk size 8/);
    }
    const origin = join(dir, "magic0.origin");
    writeFileSync(origin, "");
    truncateSync(origin, 64 << 20);
    const m = dmsnapRss(["merge", "--origin", origin, "--cow", cow, "--json"]);
    expect(JSON.parse(m.stdout).error.code).toBe("NEW_COW_NOT_BLANK");
    expect(m.maxRssKiB).toBeLessThan(BASE_KIB);
    const e = dmsnapRss(["export", "--origin", origin, "--cow", cow, "--output", join(dir, "magic0.img"), "--json"]);
    expect(JSON.parse(e.stdout).error.code).toBe("NEW_COW_NOT_BLANK");
  }, SLOW);

  // Issue #24: salvage kept every sound entry and a hash set of the old chunks (323 MiB at 4.2 M exceptions);
  // now it walks the chain twice and keeps one bit a chunk number.
  // 1-sector chunks: a 2.2 GB device to copy (the 4 KiB-chunk COW above is 17 GB of holes, minutes on a loaded disk).
  it("repair of a COW of as many exceptions refused (magic 0 over its areas): every exception salvaged, memory BASE", () => {
    const small = join(dir, "small.cow");
    const l = writeSparseCow(small, { chunkSize: 1, count: COUNT });
    const fd = openSync(small, "r+");
    writeSync(fd, Buffer.alloc(16), 0, 16, 0);
    closeSync(fd);
    const fixed = join(dir, "fixed.cow");
    const r = dmsnapRss(["repair", small, "--output", fixed, "--json"]);
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ chunkSize: 1, chunkSizeSource: "inferred", entriesRead: COUNT, kept: COUNT, droppedCount: 0, verified: true });
    expect(r.maxRssKiB).toBeLessThan(BASE_KIB);
    const u = dmsnapRss(["usage", fixed, "--json"]);
    expect(JSON.parse(u.stdout)).toMatchObject({ exceptions: COUNT, nextFree: l.lastNew + 1 });
    rmSync(fixed);
    rmSync(small);
  }, SLOW);

  it("check of the same COW refused (a foreign magic): its repair advice counts every exception, memory BASE", () => {
    const fd = openSync(cow, "r+");
    writeSync(fd, Buffer.from([0xe8, 0x03, 0, 0]), 0, 4, 0);
    closeSync(fd);
    const r = dmsnapRss(["check", cow]);
    expect(r.status).toBe(1);
    expect(r.stdout).toContain(`'dmsnap repair --output <file>' salvages ${COUNT} exception(s) at chunk size 8`);
    expect(r.maxRssKiB).toBeLessThan(BASE_KIB);
  }, SLOW);
});
