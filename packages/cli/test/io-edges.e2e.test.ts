// Issue #20 items 10, 11, 12: kernel files as --input, one rule for '-' and
// '' as a file name, long output names, ENOSPC advice that names the output,
// and chunk sizes at the edges.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { buildCow } from "@dmsnap/format/testing";
import { BIN, dmsnap, errorCode, tempDir, writeTemp } from "./helpers.js";

function setup(): { dir: string; cow: string; origin: string } {
  const dir = tempDir();
  const cow = writeTemp(dir, "cow.img", buildCow({ chunkSize: 8, exceptions: [3, 4], freeChunks: 6 }).bytes);
  const origin = join(dir, "origin.img");
  writeFileSync(origin, new Uint8Array(1 << 20));
  return { dir, cow, origin };
}

describe("write --input of a kernel file (item 10): its length is what reading it gives", () => {
  it.each(["/proc/version", "/sys/devices/system/cpu/possible"])("%s", (file) => {
    if (!existsSync(file)) return;
    const { dir, origin } = setup();
    const content = readFileSync(file);
    expect(content.length).toBeGreaterThan(0);
    const cow = join(dir, "new.cow");
    expect(dmsnap("create", "--cow", cow, "--chunk-size", "8", "--size", "1MiB").status).toBe(0);
    const r = dmsnap("write", "--origin", origin, "--cow", cow, "--offset", "0", "--input", file, "--json");
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).bytes).toBe(content.length);
    expect(readFileSync(origin).subarray(0, content.length)).toEqual(content);
  });
});

describe("'-' and '' as file names (item 11)", () => {
  it.each([
    ["export", (f: ReturnType<typeof setup>) => ["export", "--origin", f.origin, "--cow", f.cow, "-o", "-"]],
    ["repair", (f: ReturnType<typeof setup>) => ["repair", f.cow, "-o", "-"]],
    ["restore --cow -", (f: ReturnType<typeof setup>) => ["restore", f.cow, "--cow", "-"]],
    ["restore -o -", (f: ReturnType<typeof setup>) => ["restore", "-i", f.cow, "-o", "-"]],
    ["dump of '-'", () => ["dump", "-"]],
  ])("%s: '-' is a standard stream the command cannot use: STDIO_NOT_SUPPORTED, exit 2, no file named '-'", (_name, make) => {
    const f = setup();
    const r = spawnSync(process.execPath, [BIN, ...make(f), "--json"], { cwd: f.dir, encoding: "utf8" });
    expect(r.status).toBe(2);
    expect(JSON.parse(r.stdout).error.code).toBe("STDIO_NOT_SUPPORTED");
    expect(JSON.parse(r.stdout).error.message).toContain("./-");
    expect(existsSync(join(f.dir, "-"))).toBe(false);
  });

  it("export -o ./- writes a file named '-'", () => {
    const f = setup();
    const r = spawnSync(process.execPath, [BIN, "export", "--origin", f.origin, "--cow", f.cow, "-o", "./-"], { cwd: f.dir, encoding: "utf8" });
    expect(r.status).toBe(0);
    expect(readFileSync(join(f.dir, "-")).length).toBe(1 << 20);
  });

  it.each([
    ["export", (f: ReturnType<typeof setup>) => ["export", "--origin", f.origin, "--cow", f.cow, "-o", ""]],
    ["repair", (f: ReturnType<typeof setup>) => ["repair", f.cow, "-o", ""]],
    ["dump", (f: ReturnType<typeof setup>) => ["dump", f.cow, "-o", ""]],
    ["map", (f: ReturnType<typeof setup>) => ["map", f.cow, "--svg", ""]],
    ["dump of ''", () => ["dump", ""]],
    ["create", () => ["create", "--cow", "", "--chunk-size", "8", "--size", "1MiB"]],
  ])("%s with an empty file name: BAD_OPTION '... is empty', exit 2", (_name, make) => {
    const f = setup();
    const r = dmsnap(...make(f));
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^dmsnap: BAD_OPTION: \S+ is empty; give a file name/m);
  });
});

describe("output names of 225 to 255 bytes (item 11): the temporary's name fits", () => {
  it.each([225, 240, 255])("%d bytes: export, repair, dump -o and map --svg write it", (length) => {
    const f = setup();
    const name = (tag: string): string => join(f.dir, `${tag}${"x".repeat(length - tag.length)}`);
    for (const [tag, args] of [
      ["e", ["export", "--origin", f.origin, "--cow", f.cow, "-o"]],
      ["r", ["repair", f.cow, "-o"]],
      ["d", ["dump", f.cow, "-o"]],
      ["m", ["map", f.cow, "--svg"]],
    ] as const) {
      const r = dmsnap(...args, name(tag));
      expect(r.status, `${tag}: ${r.stderr}`).toBe(0);
      expect(existsSync(name(tag))).toBe(true);
    }
    // Also a multi-byte name cut at a character boundary.
    const wide = join(f.dir, "é".repeat(127));
    expect(dmsnap("dump", f.cow, "-o", wide).status).toBe(0);
    expect(readdirSync(f.dir).filter((n) => n.includes("dmsnap-tmp"))).toEqual([]);
  });
});

describe("ENOSPC while building an output names the output, not the COW (item 11)", () => {
  it.skipIf(process.getuid?.() !== 0)("repair and restore onto a full tmpfs", () => {
    const f = setup();
    const big = writeTemp(f.dir, "big.img", buildCow({ chunkSize: 8, exceptions: Array.from({ length: 40 }, (_, i) => 10 + i), freeChunks: 400 }).bytes);
    const dump = join(f.dir, "big.json");
    writeFileSync(dump, dmsnap("dump", big, "--lossless").stdout);
    const mnt = tempDir();
    if (spawnSync("mount", ["-t", "tmpfs", "-o", "size=64k", "tmpfs", mnt]).status !== 0) return;
    try {
      // 4 KiB left: less than one metadata area and the header of either output.
      writeFileSync(join(mnt, "filler"), new Uint8Array(60 * 1024).fill(1));
      for (const args of [["repair", big, "-o", join(mnt, "out.cow")], ["restore", dump, "-o", join(mnt, "out.cow")]]) {
        const r = dmsnap(...args);
        expect(errorCode(r)).toBe("IO_ENOSPC");
        expect(r.stderr).toContain("out.cow");
        expect(r.stderr).not.toMatch(/on the COW to see what was written/);
        expect(r.stderr).toMatch(/not put in place/);
        expect(readdirSync(mnt)).toEqual(["filler"]);
      }
    } finally {
      spawnSync("umount", [mnt]);
    }
  });
});

describe("chunk sizes at the edges (item 12)", () => {
  it("create --chunk-size 0 is the kernel's default (32 sectors), and says so", () => {
    const dir = tempDir();
    const r = dmsnap("create", "--cow", join(dir, "c.cow"), "--chunk-size", "0", "--size", "1MiB");
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/chunk size 32 sectors \(16\.0 KiB\), the kernel's default for --chunk-size 0/);
  });
  it("create --chunk-size 4194304: INVALID_CHUNK_SIZE naming 2097152 as the largest and the kernel's limit", () => {
    const dir = tempDir();
    const r = dmsnap("create", "--cow", join(dir, "c.cow"), "--chunk-size", "4194304", "--size", "1MiB");
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/INVALID_CHUNK_SIZE: .*4194303.*largest is 2097152/);
  });
  it("create --size 4.1MB is 4100000 bytes, exactly (refused: not a multiple of 512, so the value is echoed)", () => {
    const dir = tempDir();
    const r = dmsnap("create", "--cow", join(dir, "c.cow"), "--chunk-size", "8", "--size", "4.1MB");
    expect(r.stderr).toMatch(/4100000/);
    expect(dmsnap("create", "--cow", join(dir, "d.cow"), "--chunk-size", "8", "--size", "4.096MB", "--json").status).toBe(0);
    expect(readFileSync(join(dir, "d.cow")).length).toBe(4_096_000);
    expect(dmsnap("create", "--cow", join(dir, "e.cow"), "--chunk-size", "8", "--size", "1.000000000000000000001K").stderr).toMatch(/BAD_OPTION/);
  });
});
