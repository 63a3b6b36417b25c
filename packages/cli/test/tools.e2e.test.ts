/**
 * End-to-end tests of check, usage, dump --lossless, restore, repair and map:
 * the built binary on real files, every exit code, damaged images from
 * damage.* and the kernel-made conformance images, and that no reading
 * command ever changes its input.
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { bytesReader, decodeCow } from "@dmsnap/format";
import { buildCow, damage } from "@dmsnap/format/testing";
import { dmsnap, sha, tempDir, untouched, writeTemp } from "./helpers.js";

const json = (text: string): any => JSON.parse(text);


/** Data chunk contents that name their origin chunk, so a copy can be checked. */
const pattern = (old: number): Uint8Array => new Uint8Array(4096).fill((old * 7 + 1) & 0xff);

const dir = tempDir();

describe("dmsnap check", () => {
  const built = buildCow({ chunkSize: 1, exceptions: Array.from({ length: 40 }, (_, i) => 100 + i), freeChunks: 4 });
  const cow = writeTemp(dir, "check-ok.img", built.bytes);

  it("exit 0 and 'clean' for a healthy COW; --json carries findings, counts and summary", () => {
    const r = untouched([cow], "check", cow);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/clean: no findings/);
    const j = json(untouched([cow], "check", cow, "--json").stdout);
    expect(j).toMatchObject({ state: "valid", status: "43/47 3", chunkSize: 1, exceptions: 40, findings: [], counts: {}, summary: { errors: 0, warnings: 0, info: 0, clean: true } });
  });

  it("info findings alone are still clean (exit 0)", () => {
    const odd = new Uint8Array(built.bytes.length + 100);
    odd.set(built.bytes);
    const p = writeTemp(dir, "check-odd.img", odd);
    const r = dmsnap("check", p, "--json");
    expect(r.status).toBe(0);
    const j = json(r.stdout);
    expect(j.counts).toEqual({ DEVICE_NOT_CHUNK_MULTIPLE: 1 });
    expect(j.summary).toMatchObject({ info: 1, clean: true });
  });

  it("exit 1 with each finding's code, severity and location for warnings", () => {
    const p = writeTemp(dir, "check-dup.img", damage.setEntry(built.bytes, 1, 1, 2, 100, 3));
    const r = untouched([p], "check", p, "--json");
    expect(r.status).toBe(1);
    const j = json(r.stdout);
    const f = j.findings.find((x: any) => x.code === "DUPLICATE_OLD_CHUNK");
    expect(f).toMatchObject({ severity: "warning", location: { area: 1, index: 2, chunk: 3 } });
    expect(j.counts.DUPLICATE_NEW_CHUNK).toBe(1);
    expect(j.summary.clean).toBe(false);
    const human = dmsnap("check", p);
    expect(human.stdout).toMatch(/warning DUPLICATE_OLD_CHUNK {2}\[chunk 3, area 1, entry 2\]/);
  });

  it("exit 1 for refusals, with the code, the cause and the next step", () => {
    for (const [name, bytes, code] of [
      ["raced", damage.raceHeader(built.bytes, 1), "BAD_MAGIC"],
      ["cs0", damage.setHeaderField(built.bytes, "chunkSize", 0), "INVALID_CHUNK_SIZE"],
      ["v2", damage.setHeaderField(built.bytes, "version", 2), "UNSUPPORTED_VERSION"],
      ["trunc", damage.truncate(built.bytes, 30 * 512), "TRUNCATED"],
    ] as const) {
      const p = writeTemp(dir, `check-${name}.img`, bytes);
      const r = untouched([p], "check", p);
      expect(r.status).toBe(1);
      expect(r.stdout).toContain(`error   ${code}`);
      expect(json(dmsnap("check", p, "--json").stdout)).toMatchObject({ state: "refused", status: null, summary: { errors: 1, clean: false } });
    }
    const raced = join(dir, "check-raced.img");
    expect(dmsnap("check", raced).stdout).toMatch(/dmsnap repair/);
  });

  it("--quiet prints nothing and only sets the exit code", () => {
    const ok = dmsnap("check", cow, "--quiet");
    expect([ok.status, ok.stdout, ok.stderr]).toEqual([0, "", ""]);
    const bad = dmsnap("check", join(dir, "check-raced.img"), "-q");
    expect([bad.status, bad.stdout, bad.stderr]).toEqual([1, "", ""]);
  });

  it("an invalidated snapshot is a warning (exit 1), and a magic-0 header over live metadata is flagged", () => {
    const inv = writeTemp(dir, "check-inv.img", damage.setHeaderField(built.bytes, "valid", 0));
    const r = dmsnap("check", inv, "--json");
    expect(r.status).toBe(1);
    expect(json(r.stdout).findings[0].code).toBe("SNAPSHOT_INVALIDATED");
    // The 2009 race with first entry {0, 2}: magic reads 0, the kernel would wipe it as a new COW.
    const zeroFirst = buildCow({ chunkSize: 1, exceptions: [0, 5, 17], freeChunks: 20 });
    const p = writeTemp(dir, "check-newrace.img", damage.raceHeader(zeroFirst.bytes, 1));
    const n = dmsnap("check", p, "--chunk-size", "1", "--json");
    expect(n.status).toBe(1);
    expect(json(n.stdout).findings[0]).toMatchObject({ code: "NEW_COW_NOT_BLANK", severity: "warning" });
    // A really blank COW is clean.
    const blank = writeTemp(dir, "check-blank.img", new Uint8Array(64 * 512));
    expect(dmsnap("check", blank, "--chunk-size", "1").status).toBe(0);
  });

  it("--origin-size takes units and flags exceptions past the origin", () => {
    const r = dmsnap("check", cow, "--origin-size", "60s", "--json");
    expect(r.status).toBe(1);
    expect(json(r.stdout).counts.OLD_CHUNK_BEYOND_ORIGIN).toBe(40);
    expect(dmsnap("check", cow, "--origin-size", "1MiB").status).toBe(0);
  });

  it("exit 2 for usage and I/O errors", () => {
    expect(json(dmsnap("check", join(dir, "nope.img"), "--json").stdout).error.code).toBe("IO_ENOENT");
    expect(dmsnap("check", join(dir, "nope.img")).status).toBe(2);
    const bad = dmsnap("check", cow, "--origin-size", "lots");
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/BAD_OPTION: --origin-size takes a size/);
    expect(dmsnap("check").status).toBe(2);
    expect(dmsnap("check", cow, "--progress", "loud").status).toBe(2);
  });

  it("--progress json writes JSON lines on stderr", () => {
    const r = dmsnap("check", cow, "--progress", "json");
    expect(r.status).toBe(0);
    const lines = r.stderr.trim().split("\n").map((l) => json(l));
    expect(lines[0].progress).toMatchObject({ op: "check", done: 0, unit: "areas" });
    expect(lines.at(-1).progress).toEqual({ op: "check", done: 2, total: 2, unit: "areas" });
    expect(dmsnap("check", cow).stderr).toBe(""); // not a terminal: silent
  });
});

describe("dmsnap usage", () => {
  const built = buildCow({ chunkSize: 8, exceptions: Array.from({ length: 300 }, (_, i) => i), freeChunks: 50 });
  const cow = writeTemp(dir, "usage.img", built.bytes);

  it("prints the dmsetup status line first, then a summary; --json has the numbers", () => {
    const r = untouched([cow], "usage", cow);
    expect(r.status).toBe(0);
    const img = decodeCow(bytesReader(built.bytes));
    expect(r.stdout.split("\n")[0]).toBe(`${img.usage.allocatedSectors}/${img.usage.totalSectors} ${img.usage.metadataSectors}`);
    expect(r.stdout).toMatch(/exceptions\s+300 of/);
    const j = json(dmsnap("usage", cow, "--json").stdout);
    expect(j).toMatchObject({ status: r.stdout.split("\n")[0], state: "valid", exceptions: 300, areasInUse: 2, freeChunks: 50, freeBytes: 50 * 4096 });
    expect(j.exceptionCapacity).toBe(350);
    expect(j.percentFull).toBeCloseTo((100 * j.allocatedSectors) / j.totalSectors, 0);
  });

  it("prints Invalid for an invalidated COW, exit 1 for a refused one, 2 for a missing file", () => {
    const inv = writeTemp(dir, "usage-inv.img", damage.setHeaderField(built.bytes, "valid", 0));
    const r = dmsnap("usage", inv);
    expect(r.status).toBe(0);
    expect(r.stdout.split("\n")[0]).toBe("Invalid");
    const raced = writeTemp(dir, "usage-raced.img", damage.setHeaderField(built.bytes, "magic", 0x3e8));
    const bad = dmsnap("usage", raced);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/BAD_MAGIC/);
    expect(dmsnap("usage", join(dir, "nope")).status).toBe(2);
  });
});

describe("dmsnap dump --lossless and restore", () => {
  it("round-trips byte-for-byte through the files, and creates the target sparse", () => {
    for (const [name, spec] of [
      ["multi", { chunkSize: 1, exceptions: Array.from({ length: 70 }, (_, i) => 3 * i), freeChunks: 5 }],
      ["full", { chunkSize: 1, exceptions: Array.from({ length: 64 }, (_, i) => i), freeChunks: 1 }],
      ["inv8", { chunkSize: 8, valid: 0, exceptions: Array.from({ length: 300 }, (_, i) => 9 + i), freeChunks: 3 }],
      ["empty", { chunkSize: 2, exceptions: [], freeChunks: 3 }],
    ] as const) {
      const src = writeTemp(dir, `rt-${name}.img`, buildCow(spec).bytes);
      const d = untouched([src], "dump", src, "--lossless");
      expect(d.status).toBe(0);
      const dumpFile = writeTemp(dir, `rt-${name}.json`, new TextEncoder().encode(d.stdout));
      const head = json(d.stdout);
      expect(head).toMatchObject({ format: "dmsnap-dump", version: 1, deviceBytes: statSync(src).size, header: { magic: 0x70416e53, version: 1, chunkSize: spec.chunkSize } });
      expect(head.exceptions).toHaveLength(spec.exceptions.length); // entries of an invalidated COW too
      const out = join(dir, `rt-${name}.restored.img`);
      const r = dmsnap("restore", dumpFile, "--cow", out);
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(/created/);
      expect(sha(out)).toBe(sha(src));
    }
  });

  it("refuses to overwrite a snapshot (COW_EXISTS, exit 2 as every output that exists) unless --force, and then replaces it", () => {
    const dumpFile = join(dir, "rt-multi.json");
    const target = writeTemp(dir, "rt-target.img", buildCow({ chunkSize: 1, exceptions: [1, 2, 3], deviceChunks: 100 }).bytes);
    const r = untouched([target], "restore", dumpFile, "--cow", target);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/COW_EXISTS: .*dump --lossless.*--force/);
    const f = dmsnap("restore", dumpFile, "--cow", target, "--force", "--json", "--progress", "json");
    expect(f.status).toBe(0);
    expect(json(f.stdout)).toMatchObject({ created: false, overwrote: "snapshot", exceptions: 70, areasWritten: 3 });
    expect(json(f.stderr.trim().split("\n").at(-1)!).progress).toEqual({ op: "restore", done: 3, total: 3, unit: "areas" });
    expect(decodeCow(bytesReader(readFileSync(target))).exceptions.count).toBe(70);
  });

  it("exit 1 for an invalid dump or a too-small target, 2 for a missing dump or no --cow", () => {
    const view = writeTemp(dir, "view.json", new TextEncoder().encode(dmsnap("dump", join(dir, "rt-multi.img"), "--json").stdout));
    const r = dmsnap("restore", view, "--cow", join(dir, "x.img"));
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/DUMP_INVALID: .*"format".*dump --lossless/);
    expect(existsSync(join(dir, "x.img"))).toBe(false);
    const small = writeTemp(dir, "small.img", new Uint8Array(4096));
    expect(dmsnap("restore", join(dir, "rt-multi.json"), "--cow", small).stderr).toMatch(/TARGET_TOO_SMALL/);
    expect(dmsnap("restore", join(dir, "none.json"), "--cow", join(dir, "y.img")).status).toBe(2);
    expect(dmsnap("restore", join(dir, "rt-multi.json")).status).toBe(2);
  });

  it("dump --lossless of a refused image is an error object, exit 1", () => {
    const raced = writeTemp(dir, "ll-raced.img", damage.raceHeader(buildCow({ chunkSize: 1, exceptions: [4, 5] }).bytes, 1));
    const r = dmsnap("dump", raced, "--lossless");
    expect(r.status).toBe(1);
    expect(json(r.stdout).error.code).toBe("BAD_MAGIC");
  });
});

describe("dmsnap repair", () => {
  for (const chunkSize of [1, 8]) {
    const perArea = chunkSize * 32;
    const built = buildCow({ chunkSize, exceptions: Array.from({ length: 2 * perArea + 5 }, (_, i) => 11 + 2 * i), freeChunks: 7, chunkData: (o) => pattern(o).subarray(0, chunkSize * 512) });

    it(`recovers every acknowledged exception of a 2009-race image (${chunkSize}-sector chunks, 3 areas) into a new file`, () => {
      const raced = writeTemp(dir, `race-${chunkSize}.img`, damage.raceHeader(built.bytes, chunkSize));
      const out = join(dir, `race-${chunkSize}.fixed.img`);
      const r = untouched([raced], "repair", raced, "--output", out);
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`chunk size +${chunkSize} sectors, inferred`));
      expect(r.stdout).toMatch(new RegExp(`${built.pairs.length} kept, 0 dropped`));
      expect(r.stderr).toMatch(/WARNING: the 2009 header race/);
      const fixed = readFileSync(out);
      const img = decodeCow(bytesReader(fixed));
      expect(img.state).toBe("valid");
      expect(img.exceptions.toPairs()).toEqual(built.pairs);
      // Data chunks are copied unchanged; only chunk 0 differs from the undamaged original.
      const cb = chunkSize * 512;
      expect(Buffer.from(fixed.subarray(cb)).equals(Buffer.from(built.bytes.subarray(cb)))).toBe(true);
      expect(Buffer.from(fixed).equals(Buffer.from(built.bytes))).toBe(true);
      expect(dmsnap("check", out).status).toBe(0);
    });

    it(`recovers them when an intact-magic header has chunk size 0 (${chunkSize}-sector chunks), --invalid writes valid=0`, () => {
      const zero = writeTemp(dir, `cs0-${chunkSize}.img`, damage.setHeaderField(built.bytes, "chunkSize", 0));
      const out = join(dir, `cs0-${chunkSize}.fixed.img`);
      const r = untouched([zero], "repair", zero, "--output", out, "--invalid", "--json");
      expect(r.status).toBe(0);
      const j = json(r.stdout);
      expect(j).toMatchObject({ chunkSize, chunkSizeSource: "inferred", kept: built.pairs.length, droppedCount: 0, valid: 0, verified: true });
      expect(j.headerProblem).toMatch(/chunk size 0/);
      const img = decodeCow(bytesReader(readFileSync(out)), { readInvalid: true });
      expect(img.state).toBe("invalid");
      expect(img.exceptions.toPairs()).toEqual(built.pairs);
    });
  }

  it("reports dropped entries with reasons", () => {
    const built = buildCow({ chunkSize: 1, exceptions: Array.from({ length: 10 }, (_, i) => i), freeChunks: 40 });
    const bad = writeTemp(dir, "rep-drop.img", damage.setHeaderField(damage.setEntry(built.bytes, 1, 0, 3, 99, 34), "magic", 1));
    const j = json(dmsnap("repair", bad, "--output", join(dir, "rep-drop.out"), "--json").stdout);
    expect(j).toMatchObject({ kept: 9, droppedCount: 1, droppedByReason: { NEW_CHUNK_IS_METADATA: 1 } });
    expect(j.dropped[0]).toMatchObject({ area: 0, index: 3, oldChunk: 99, newChunk: 34, reason: "NEW_CHUNK_IS_METADATA" });
    expect(j.dropped[0].meaning).toMatch(/metadata/);
  });

  it("never writes over its input or an existing file (exit 2), and says so", () => {
    const raced = join(dir, "race-1.img");
    const same = untouched([raced], "repair", raced, "--output", raced);
    expect(same.status).toBe(2);
    expect(same.stderr).toMatch(/SAME_FILE/);
    const exists = untouched([raced], "repair", raced, "--output", join(dir, "race-1.fixed.img"));
    expect(exists.status).toBe(2);
    expect(exists.stderr).toMatch(/OUTPUT_EXISTS: .*--force/);
    expect(dmsnap("repair", raced, "--output", join(dir, "race-1.fixed.img"), "--force").status).toBe(0);
    expect(dmsnap("repair", raced).status).toBe(2);
  });

  it("exit 1 when nothing can be salvaged (CHUNK_SIZE_UNKNOWN)", () => {
    const junk = writeTemp(dir, "junk.img", damage.setHeaderField(new Uint8Array(64 * 512), "magic", 0x12345678));
    const r = untouched([junk], "repair", junk, "--output", join(dir, "junk.out"));
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/CHUNK_SIZE_UNKNOWN: .*--chunk-size/);
    expect(existsSync(join(dir, "junk.out"))).toBe(false);
  });
});

describe("dmsnap map", () => {
  it("writes an SVG with a legend and title, for healthy, damaged and refused images, leaving the input alone", () => {
    const built = buildCow({ chunkSize: 1, exceptions: Array.from({ length: 50 }, (_, i) => i), freeChunks: 30 });
    for (const [name, bytes, expectText] of [
      ["ok", built.bytes, /valid COW/],
      ["dup", damage.setEntry(built.bytes, 1, 0, 4, 77, 3), /problems found by check: [1-9]/],
      ["raced", damage.raceHeader(built.bytes, 1), /refused \(magic 0 over live metadata\), drawn from salvage at chunk size 1/],
      ["raced-bad-magic", damage.setHeaderField(damage.raceHeader(built.bytes, 1), "magic", 7), /refused \(BAD_MAGIC\), drawn from salvage at chunk size 1/],
    ] as const) {
      const p = writeTemp(dir, `map-${name}.img`, bytes);
      const svg = join(dir, `map-${name}.svg`);
      const r = untouched([p], "map", p, "--svg", svg, "--json");
      expect(r.status).toBe(0);
      expect(json(r.stdout)).toMatchObject({ svg, chunks: built.bytes.length / 512, chunksPerCell: 1 });
      const text = readFileSync(svg, "utf8");
      expect(text).toMatch(/^<svg xmlns/);
      expect(text).toMatch(expectText);
      expect(text).toMatch(/metadata areas: 3 chunks/);
    }
    expect(dmsnap("map", join(dir, "map-ok.img"), "--svg", "-").stdout).toMatch(/^<svg/);
  });

  it("exit 1 when a refused image cannot be laid out, 2 without --svg or for a missing file", () => {
    expect(dmsnap("map", join(dir, "junk.img"), "--svg", join(dir, "junk.svg")).status).toBe(1);
    expect(dmsnap("map", join(dir, "map-ok.img")).status).toBe(2);
    expect(dmsnap("map", join(dir, "nope.img"), "--svg", join(dir, "n.svg")).status).toBe(2);
  });
});

describe("--help on every command", () => {
  it.each(["dump", "check", "usage", "restore", "repair", "map"])("%s --help shows an example and the exit codes", (cmd) => {
    const r = dmsnap(cmd, "--help");
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/Examples:\n {2}\$ dmsnap /);
    expect(r.stdout).toMatch(/Exit: 0/);
  });
});

