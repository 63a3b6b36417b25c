/**
 * A COW on a device with 4096-byte logical blocks (issue #20 item 9): the
 * kernel refuses a chunk size that is not a multiple of the logical block
 * size in sectors (format.md, chunk size check rule 2), so on such a device
 * chunk sizes 1, 2 and 4 are INVALID_CHUNK_SIZE for create, check, dump,
 * usage, map, write and restore; 8 is fine. dmsnap used to take 512 for every
 * device: create --chunk-size 1 succeeded and check said clean.
 *
 * Needs root and a kernel whose loop driver takes --sector-size (4.14+): a
 * real loop device, detached in `finally`. Skipped, with the reason, elsewhere.
 */
import { spawnSync } from "node:child_process";
import { readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { dmsnap, errorCode, tempDir } from "./helpers.js";

const dir = tempDir();
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const BYTES = 4 << 20;

/** A loop device of BYTES zeros with the given logical sector size, or the reason there is none. */
function loop(name: string, sectorSize: number): { dev: string; detach(): void } | string {
  if (process.getuid?.() !== 0) return "needs root to set up a loop device";
  const backing = join(dir, `${name}.img`);
  writeFileSync(backing, new Uint8Array(BYTES));
  const r = spawnSync("losetup", ["--find", "--show", "--sector-size", String(sectorSize), backing], { encoding: "utf8" });
  if (r.status !== 0) return `losetup --sector-size ${sectorSize} failed: ${(r.stderr || r.error?.message || "").trim()}`;
  const dev = r.stdout.trim();
  const detach = (): void => void spawnSync("losetup", ["-d", dev]);
  // The kernel's own word (BLKSSZGET), independent of the code under test.
  const getss = spawnSync("blockdev", ["--getss", dev], { encoding: "utf8" });
  if (getss.status !== 0 || Number(getss.stdout.trim()) !== sectorSize) {
    detach();
    return `the loop driver did not take --sector-size ${sectorSize} (blockdev --getss says ${getss.stdout.trim() || getss.stderr.trim()})`;
  }
  return { dev, detach };
}

/** Copies an image made on a file onto the device (the first `bytes.length` bytes). */
function put(dev: string, bytes: Uint8Array): void {
  writeFileSync(dev, bytes, { flag: "r+" });
}

describe("a COW device with 4096-byte logical blocks", () => {
  it("create refuses chunk sizes 1, 2 and 4 (INVALID_CHUNK_SIZE, exit 1, device untouched) and takes 8; check says clean only for 8", (ctx) => {
    const d = loop("create", 4096);
    if (typeof d === "string") return ctx.skip(d);
    try {
      for (const cs of ["1", "2", "4"]) {
        const r = dmsnap("create", "--cow", d.dev, "--chunk-size", cs, "--json");
        expect(errorCode(r)).toBe("INVALID_CHUNK_SIZE");
        expect(JSON.parse(r.stdout).error.message).toMatch(new RegExp(`chunk size ${cs} is not a multiple of the device's logical block size \\(4096 bytes\\)`));
        expect(r.status).toBe(1);
        expect(readFileSync(d.dev).every((b) => b === 0)).toBe(true);
      }
      const ok = dmsnap("create", "--cow", d.dev, "--chunk-size", "8", "--json");
      expect(ok.status).toBe(0);
      expect(JSON.parse(ok.stdout)).toMatchObject({ chunkSize: 8, deviceBytes: BYTES });
      const check = dmsnap("check", d.dev, "--json");
      expect(check.status).toBe(0);
      expect(JSON.parse(check.stdout).summary.clean).toBe(true);
    } finally {
      d.detach();
    }
  });

  it("a chunk-size-1 COW made on a file and copied onto the device: check, dump, usage, map, write refuse it; restore of its dump too", (ctx) => {
    const d = loop("copied", 4096);
    if (typeof d === "string") return ctx.skip(d);
    try {
      const file = join(dir, "cs1.cow");
      expect(dmsnap("create", "--cow", file, "--chunk-size", "1", "--size", String(BYTES)).status).toBe(0);
      const origin = join(dir, "origin.img");
      writeFileSync(origin, new Uint8Array(1 << 20).fill(7));
      const input = join(dir, "input.bin");
      writeFileSync(input, new Uint8Array(512).fill(9));
      expect(dmsnap("write", "--origin", origin, "--cow", file, "--offset", "0", "--input", input).status).toBe(0);
      const dump = join(dir, "cs1.json");
      writeFileSync(dump, dmsnap("dump", file, "--lossless").stdout);
      // On the file (512-byte blocks) it is a clean valid COW.
      expect(dmsnap("check", file).status).toBe(0);
      put(d.dev, readFileSync(file));
      const check = dmsnap("check", d.dev, "--json");
      expect(check.status).toBe(1);
      expect(JSON.stringify(JSON.parse(check.stdout))).toMatch(/INVALID_CHUNK_SIZE/);
      for (const args of [["dump", d.dev, "--json"], ["usage", d.dev, "--json"], ["write", "--origin", origin, "--cow", d.dev, "--offset", "4096", "--input", input, "--json"]]) {
        const r = dmsnap(...args);
        expect([args[0], errorCode(r)]).toEqual([args[0], "INVALID_CHUNK_SIZE"]);
        expect(r.status).toBe(1);
      }
      expect(JSON.stringify(JSON.parse(check.stdout))).toMatch(/use the COW on a file or a device with 512-byte logical blocks/);
      // map draws a refused image with its header as the problem.
      const map = dmsnap("map", d.dev, "--svg", join(dir, "m.svg"), "--json");
      expect(map.status).toBe(0);
      expect(JSON.parse(map.stdout).counts.problem).toBeGreaterThan(0);
      // Restore onto the device (blank it first): refused before anything is written.
      put(d.dev, new Uint8Array(BYTES));
      const r = dmsnap("restore", dump, "--cow", d.dev, "--json");
      expect(errorCode(r)).toBe("INVALID_CHUNK_SIZE");
      expect(JSON.parse(r.stdout).error.message).toMatch(/not a multiple of the logical block size of .* \(4096 bytes = 8 sectors\)/);
      expect(r.status).toBe(1);
      expect(readFileSync(d.dev).every((b) => b === 0)).toBe(true);
    } finally {
      d.detach();
    }
  });

  it("a loop device with 512-byte blocks still takes chunk size 1 (the rule follows the device)", (ctx) => {
    const d = loop("small", 512);
    if (typeof d === "string") return ctx.skip(d);
    try {
      expect(statSync(d.dev).isBlockDevice()).toBe(true);
      expect(dmsnap("create", "--cow", d.dev, "--chunk-size", "1").status).toBe(0);
      expect(dmsnap("check", d.dev).status).toBe(0);
    } finally {
      d.detach();
    }
  });
});
