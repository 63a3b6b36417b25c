/**
 * Issue #9 items 4, 6, 7, 8, 10 and 14: what the commands do with images that are
 * legal to the kernel but dangerous to act on. Images come from the format's
 * builder and damage generators (our own writer's data, laid out per
 * docs/format.md); expected values are stated from the layout, not computed
 * by the code under test.
 */
import { spawnSync } from "node:child_process";
import { closeSync, ftruncateSync, openSync, readFileSync, existsSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { buildCow, damage } from "@dmsnap/format/testing";
import { dmsnap, dmsnapRss, random, tempDir, untouched, writeTemp } from "./helpers.js";

const json = (s: string) => JSON.parse(s);

describe("magic 0 over live exceptions (NEW_COW_NOT_BLANK, item 4)", () => {
  const dir = tempDir();
  // The 2009 race with first entry {0, 2}: the header chunk holds area 0's
  // entries, so magic and valid read 0 while the areas hold three exceptions.
  const built = buildCow({ chunkSize: 1, exceptions: [0, 5, 17], freeChunks: 20 });
  const raced = damage.raceHeader(built.bytes, 1);
  const origin = random(built.bytes.length, 7);

  it("create without --size refuses with TARGET_NOT_BLANK, exit 2 (a target that holds data), COW untouched; --force initialises", () => {
    const cow = writeTemp(dir, "create.cow", raced);
    const r = untouched([cow], "create", "--cow", cow, "--chunk-size", "1", "--json");
    expect(r.status).toBe(2);
    expect(json(r.stdout).error.code).toBe("TARGET_NOT_BLANK");
    expect(json(r.stdout).error.message).toMatch(/--force/);
    const s = untouched([cow], "create", "--cow", cow, "--chunk-size", "1", "--size", `${raced.length}`);
    expect(s.status).toBe(2);
    expect(s.stderr).toMatch(/TARGET_NOT_BLANK/);
    const f = dmsnap("create", "--cow", cow, "--chunk-size", "1", "--force");
    expect(f.status).toBe(0);
    expect(json(dmsnap("dump", cow, "--json").stdout).state).toBe("valid");
  });

  it("write refuses with NEW_COW_NOT_BLANK, exit 1, origin and COW untouched", () => {
    const cow = writeTemp(dir, "write.cow", raced);
    const org = writeTemp(dir, "write.origin", origin);
    const input = writeTemp(dir, "write.in", random(100, 3));
    const r = untouched([cow, org], "write", "--origin", org, "--cow", cow, "--offset", "0", "--input", input, "--chunk-size", "1", "--json");
    expect(r.status).toBe(1);
    expect(json(r.stdout).error.code).toBe("NEW_COW_NOT_BLANK");
  });

  it("a really blank COW is still created and written without --force", () => {
    const cow = writeTemp(dir, "blank.cow", new Uint8Array(raced.length));
    expect(dmsnap("create", "--cow", cow, "--chunk-size", "1").status).toBe(0);
  });

  it("dump and usage warn on stderr and in --json (warnings[]), exit 0", () => {
    const cow = writeTemp(dir, "dump.cow", raced);
    const d = untouched([cow], "dump", cow, "--json", "--chunk-size", "1");
    expect(d.status).toBe(0);
    const o = json(d.stdout);
    expect(o.state).toBe("new");
    expect(o.warnings).toEqual([expect.objectContaining({ code: "NEW_COW_NOT_BLANK" })]);
    expect(o.warnings[0].message).toMatch(/area 0 parses as 3 exception\(s\) at chunk size 1/);
    expect(d.stderr).toMatch(/warning: NEW_COW_NOT_BLANK/);
    const h = dmsnap("dump", cow, "--chunk-size", "1");
    expect(h.status).toBe(0);
    expect(h.stdout).toMatch(/NOT blank/);
    const u = untouched([cow], "usage", cow, "--json", "--chunk-size", "1");
    expect(u.status).toBe(0);
    expect(json(u.stdout).warnings[0].code).toBe("NEW_COW_NOT_BLANK");
    expect(u.stderr).toMatch(/warning: NEW_COW_NOT_BLANK/);
    // A blank COW has no warnings field.
    const blank = writeTemp(dir, "blank2.cow", new Uint8Array(raced.length));
    expect(json(dmsnap("dump", blank, "--json", "--chunk-size", "1").stdout).warnings).toBeUndefined();
  });
});

describe("write on a COW with stale entries after the terminator (item 7)", () => {
  const dir = tempDir();
  // Three live entries; entry 3 is the terminator; entries 4 and 5 are stale
  // (new_chunk != 0), left by a torn commit or a merge.
  const built = buildCow({ chunkSize: 1, exceptions: [10, 11, 12], freeChunks: 20 });
  const stale = damage.setEntry(damage.setEntry(built.bytes, 1, 0, 4, 30, 9), 1, 0, 5, 31, 10);

  it("check reports ENTRIES_AFTER_TERMINATOR before; the write adds exactly one exception and revives none", () => {
    const cow = writeTemp(dir, "stale.cow", stale);
    const before = json(dmsnap("check", cow, "--json").stdout);
    expect(before.counts.ENTRIES_AFTER_TERMINATOR).toBe(1);
    expect(json(dmsnap("dump", cow, "--json").stdout).exceptions).toHaveLength(3);
    const org = writeTemp(dir, "stale.origin", random(64 * 512, 5));
    const input = writeTemp(dir, "stale.in", random(100, 9));
    // Origin chunk 0 has no exception: the write copies it and commits one entry.
    const w = dmsnap("write", "--origin", org, "--cow", cow, "--offset", "0", "--input", input, "--json");
    expect(w.stderr).toBe("");
    expect(w.status).toBe(0);
    expect(json(w.stdout).exceptionsAdded).toBe(1);
    const after = json(dmsnap("dump", cow, "--json").stdout);
    expect(after.exceptions).toEqual([[10, 2], [11, 3], [12, 4], [0, 5]]);
    const c = json(dmsnap("check", cow, "--json").stdout);
    expect(c.counts.ENTRIES_AFTER_TERMINATOR).toBeUndefined();
  });
});

describe("export of a chunk mapped past the end of the COW (item 8)", () => {
  const dir = tempDir();
  it("fails with NEW_CHUNK_BEYOND_DEVICE, exit 1, and leaves no output", () => {
    // Origin chunk 1 mapped to COW chunk 5000; the device has 25 chunks.
    const built = buildCow({ chunkSize: 1, exceptions: [0, [1, 5000], 2], deviceChunks: 25 });
    const cow = writeTemp(dir, "beyond.cow", built.bytes);
    const org = writeTemp(dir, "beyond.origin", random(8 * 512, 1));
    const out = join(dir, "view.img");
    const r = untouched([cow, org], "export", "--origin", org, "--cow", cow, "--output", out, "--json");
    expect(r.status).toBe(1);
    expect(json(r.stdout).error.code).toBe("NEW_CHUNK_BEYOND_DEVICE");
    expect(existsSync(out)).toBe(false);
    // check says the same about the entry.
    expect(json(dmsnap("check", cow, "--json").stdout).counts.NEW_CHUNK_BEYOND_DEVICE).toBe(1);
  });

  it("a COW chunk inside the device is still served", () => {
    const built = buildCow({ chunkSize: 1, exceptions: [0, 1, 2], freeChunks: 20 });
    const cow = writeTemp(dir, "inside.cow", built.bytes);
    const org = writeTemp(dir, "inside.origin", random(8 * 512, 1));
    const out = join(dir, "inside.img");
    expect(dmsnap("export", "--origin", org, "--cow", cow, "--output", out).status).toBe(0);
    expect(readFileSync(out).length).toBe(8 * 512);
  });
});

describe("restore accepts only what dump reads back (item 14)", () => {
  const dir = tempDir();
  const dumpOf = (deviceBytes: number, chunkSize: number, pairs: Array<[number, number]>) =>
    JSON.stringify({ format: "dmsnap-dump", version: 1, deviceBytes, header: { magic: 0x70416e53, valid: 1, version: 1, chunkSize }, exceptions: pairs });

  it("new_chunk 2^53-1 is refused with DUMP_INVALID and nothing is created", () => {
    const p = writeTemp(dir, "max.json", new TextEncoder().encode(dumpOf(64 * 512, 1, [[0, 2 ** 53 - 1]])));
    const cow = join(dir, "max.cow");
    const r = dmsnap("restore", p, "--cow", cow, "--json");
    expect(r.status).toBe(1);
    expect(json(r.stdout).error.code).toBe("DUMP_INVALID");
    expect(existsSync(cow)).toBe(false);
  });

  it("at the limit (free cursor at 2^53 - 2 sectors) what restore writes, dump reads back; one chunk more is refused", () => {
    // chunk size 2: the cursor after new_chunk n is n + 1 (n + 1 not an area), in sectors 2(n + 1) <= 2^53 - 1.
    const n = 2 ** 52 - 2; // cursor 2^52 - 1, 2^53 - 2 sectors: the largest that fits
    for (const [pairs, ok] of [
      [[[2 ** 53 - 1, n]], true],
      [[[5, n + 2]], false],
    ] as Array<[Array<[number, number]>, boolean]>) {
      const p = writeTemp(dir, `lim-${ok}.json`, new TextEncoder().encode(dumpOf(64 * 1024, 2, pairs)));
      const cow = join(dir, `lim-${ok}.cow`);
      const r = dmsnap("restore", p, "--cow", cow);
      expect(r.status).toBe(ok ? 0 : 1);
      if (!ok) continue;
      const back = dmsnap("dump", cow, "--lossless");
      expect(back.status).toBe(0);
      expect(json(back.stdout).exceptions).toEqual(pairs);
    }
  });
});

describe("a sparse COW on a full file system (item 10)", () => {
  it.skipIf(process.getuid?.() !== 0)("write refuses with NO_SPACE before touching the origin; the snapshot stays valid", () => {
    const dir = tempDir();
    const mnt = tempDir();
    // A 1 MiB tmpfs; the COW is a 512 KiB sparse file on it, and a filler takes the rest.
    if (spawnSync("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", mnt]).status !== 0) return; // no mount here: nothing to test
    try {
      const cow = join(mnt, "snap.cow");
      expect(dmsnap("create", "--cow", cow, "--chunk-size", "8", "--size", "512K").status).toBe(0);
      const filler = join(mnt, "filler");
      for (let k = 0; k < 4096; k++) {
        try {
          writeFileSync(filler, new Uint8Array(4096), { flag: "a" });
        } catch {
          break; // full
        }
      }
      const origin = writeTemp(dir, "origin.img", random(256 * 1024, 11));
      const input = writeTemp(dir, "in.bin", random(100, 12));
      const r = untouched([origin, cow], "write", "--origin", origin, "--cow", cow, "--offset", "40960", "--input", input, "--json");
      expect(r.status).toBe(1);
      expect(json(r.stdout).error.code).toBe("NO_SPACE");
      expect(json(r.stdout).error.message).toMatch(/origin and the snapshot are intact/);
      expect(json(dmsnap("dump", cow, "--json").stdout).state).toBe("valid");
      // With room again the same write goes through.
      writeFileSync(filler, "");
      const ok = dmsnap("write", "--origin", origin, "--cow", cow, "--offset", "40960", "--input", input, "--json");
      expect(ok.status).toBe(0);
      expect(json(ok.stdout).exceptionsAdded).toBe(1);
    } finally {
      spawnSync("umount", [mnt]);
    }
  });
});

describe("sparse and huge geometry (item 6)", () => {
  /** Node, the code and one 1 MiB piece (docs/cli.md, Memory and scale), in KiB. */
  const BASE_KIB = 128 * 1024;

  it("check of a 2 TiB sparse COW with 1 GiB chunks and one entry at new_chunk 4e9: bounded memory, counted from the layout", () => {
    const dir = tempDir();
    const cow = join(dir, "huge.cow");
    const cs = 2 ** 21; // sectors: 1 GiB chunks
    const fd = openSync(cow, "w");
    ftruncateSync(fd, 2 * 2 ** 40);
    const header = Buffer.alloc(512);
    header.writeUInt32LE(0x70416e53, 0);
    header.writeUInt32LE(1, 4);
    header.writeUInt32LE(1, 8);
    header.writeUInt32LE(cs, 12);
    writeSync(fd, header, 0, 512, 0);
    const entry = Buffer.alloc(16);
    entry.writeUInt32LE(5, 0);
    entry.writeUInt32LE(4e9, 8); // below 2^32: one word
    writeSync(fd, entry, 0, 16, cs * 512);
    closeSync(fd);
    const r = dmsnapRss(["check", cow, "--json"]);
    expect(r.status).toBe(1);
    const out = json(r.stdout);
    expect(out.counts.NEW_CHUNK_BEYOND_DEVICE).toBe(1);
    // 2048 chunks: header, area 0, then 2046 data chunks, none named (the entry points past the end).
    expect(out.findings.find((f: { code: string }) => f.code === "UNREFERENCED_CHUNKS").message).toMatch(/^2046 data chunk/);
    expect(r.maxRssKiB).toBeLessThan(BASE_KIB);
  }, 120_000);

  it("a 100-byte write with 128 MiB chunks: no chunk-sized buffer (the copy goes in pieces)", () => {
    const dir = tempDir();
    const cs = 2 ** 18; // sectors: 128 MiB chunks
    const cow = join(dir, "big-chunks.cow");
    expect(dmsnap("create", "--cow", cow, "--chunk-size", String(cs), "--size", "1G").status).toBe(0);
    const origin = join(dir, "origin.img");
    writeFileSync(origin, "");
    const fo = openSync(origin, "r+");
    ftruncateSync(fo, 512 * 2 ** 20);
    closeSync(fo);
    const input = writeTemp(dir, "in.bin", random(100, 21));
    const r = dmsnapRss(["write", "--origin", origin, "--cow", cow, "--offset", "1000", "--input", input, "--json"]);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(json(r.stdout).exceptionsAdded).toBe(1);
    expect(r.maxRssKiB).toBeLessThan(BASE_KIB);
    expect(json(dmsnap("dump", cow, "--json").stdout).exceptions).toEqual([[0, 2]]);
  }, 120_000);
});
