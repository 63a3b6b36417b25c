/**
 * `dmsnap dump <cow> --json` runs from the entry without commander
 * (src/dumpJson.ts). It must answer exactly as the command does through
 * commander: the same stdout bytes, stderr and exit code, for accepted
 * images, warnings and every kind of refusal, including one found only in
 * the last area. `-o -` (standard output) sends the same dump through
 * commander, so each image is run both ways.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { areaOffset, chunkOffset, entryOffset } from "@dmsnap/format";
import { buildCow } from "@dmsnap/format/testing";
import { dumpJsonTarget } from "../src/dumpJson.js";
import { dmsnap, tempDir, writeTemp } from "./helpers.js";

const pairs = (n: number): Array<[number, number]> => Array.from({ length: n }, (_, i) => [(i * 7919) % 1000, i + 2 + Math.floor((i + 1) / 32)]);

describe("dump --json without commander", () => {
  it("recognises only `dump <cow> --json` and `dump --json <cow>`", () => {
    expect(dumpJsonTarget(["dump", "a.img", "--json"])).toBe("a.img");
    expect(dumpJsonTarget(["dump", "--json", "a.img"])).toBe("a.img");
    expect(dumpJsonTarget(["dump", "a.img", "--json", "-q"])).toBeNull();
    expect(dumpJsonTarget(["dump", "-h", "--json"])).toBeNull();
    expect(dumpJsonTarget(["dump", "--json", "--"])).toBeNull();
    expect(dumpJsonTarget(["dump", "--json", "--json"])).toBeNull();
    expect(dumpJsonTarget(["check", "a.img", "--json"])).toBeNull();
    expect(dumpJsonTarget(["dump", "a.img", "--lossless"])).toBeNull();
  });

  it("answers as the command does through commander: stdout, stderr and exit code, for every kind of image", () => {
    const dir = tempDir();
    const images: Record<string, string> = {};
    images.valid = writeTemp(dir, "valid.img", buildCow({ chunkSize: 1, exceptions: pairs(100) }).bytes);
    // CHUNK_NUMBER_TOO_LARGE in the last area (area 3, entry 3): found only at the end of the first pass.
    const late = buildCow({ chunkSize: 1, exceptions: pairs(100) }).bytes;
    new DataView(late.buffer).setUint32(areaOffset(1, 3) + entryOffset(3) + 4, 0x200000, true);
    images.lateTooLarge = writeTemp(dir, "late.img", late);
    // Areas 0 and 1 full, the device ends before area 2: TRUNCATED at the end.
    const full = buildCow({ chunkSize: 1, exceptions: pairs(64) }).bytes;
    images.truncated = writeTemp(dir, "truncated.img", full.subarray(0, areaOffset(1, 2)));
    images.invalid = writeTemp(dir, "invalid.img", buildCow({ chunkSize: 1, exceptions: pairs(10), valid: 0 }).bytes);
    const badMagic = buildCow({ chunkSize: 1, exceptions: pairs(3) }).bytes;
    badMagic[0] = 0x41;
    images.badMagic = writeTemp(dir, "badmagic.img", badMagic);
    const notBlank = new Uint8Array(chunkOffset(32, 4));
    notBlank[1000] = 7;
    images.newNotBlank = writeTemp(dir, "notblank.img", notBlank);
    images.missing = join(dir, "missing.img");
    images.folder = join(dir, "folder");
    mkdirSync(images.folder);

    const seen: Record<string, [number | null, string]> = {};
    for (const [name, path] of Object.entries(images)) {
      const fast = dmsnap("dump", path, "--json");
      expect(dmsnap("dump", "--json", path), name).toEqual(fast);
      const viaCommander = dmsnap("dump", path, "--json", "-o", "-");
      expect(viaCommander, name).toEqual(fast);
      seen[name] = [fast.status, fast.status === 0 ? (JSON.parse(fast.stdout).warnings?.[0]?.code ?? "ok") : JSON.parse(fast.stdout).error.code];
    }
    // What each answer is (docs/dump-json.md), written out by hand.
    expect(seen).toEqual({
      valid: [0, "ok"],
      lateTooLarge: [1, "CHUNK_NUMBER_TOO_LARGE"],
      truncated: [1, "TRUNCATED"],
      invalid: [0, "ok"],
      badMagic: [1, "BAD_MAGIC"],
      newNotBlank: [0, "NEW_COW_NOT_BLANK"],
      missing: [2, "IO_ENOENT"],
      folder: [2, "NOT_A_REGULAR_FILE_OR_BLOCK_DEVICE"],
    });
  });
});
