/**
 * End-to-end: issue #9's I/O-safety cases. Inputs are regular files or block
 * devices only; outputs never clobber, follow links, are written whole or not
 * at all; two names of one file are one file; errors keep the README contract.
 * Each test failed on the CLI before inputs.ts/outputs.ts/locks.ts.
 */
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, linkSync, lstatSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { dmsnap, errorCode, random, tempDir, untouched, writeTemp, type Run } from "./helpers.js";

const CB = 4096;
let dir: string;
let origin: string;
let cow: string;
let originData: Uint8Array;

/** A COW with 3 exceptions over a 64 KiB origin, made by our own CLI. */
beforeAll(() => {
  dir = tempDir();
  originData = random(16 * CB, 7);
  origin = writeTemp(dir, "origin.img", originData);
  cow = join(dir, "snap.cow");
  expect(dmsnap("create", "--cow", cow, "--chunk-size", "8", "--size", "256K").status).toBe(0);
  const patch = writeTemp(dir, "patch.bin", random(3 * CB, 8));
  expect(dmsnap("write", "--origin", origin, "--cow", cow, "--offset", "0", "--input", patch).status).toBe(0);
});

/** A fresh copy of the fixture in its own folder. */
function fixture(): { d: string; origin: string; cow: string } {
  const d = tempDir();
  copyFileSync(origin, join(d, "origin.img"));
  copyFileSync(cow, join(d, "snap.cow"));
  return { d, origin: join(d, "origin.img"), cow: join(d, "snap.cow") };
}

function refused(r: Run, code: string): void {
  expect({ status: r.status, code: errorCode(r) }).toEqual({ status: 2, code });
  expect(r.stderr).not.toMatch(/\n\s+at /); // never a stack trace
}

/** Hidden temporaries or partial files left in a folder. */
const leftovers = (d: string): string[] => readdirSync(d).filter((n) => n.includes("dmsnap-tmp"));

describe("inputs: only regular files and block devices (item 9)", () => {
  it("refuses a FIFO in every reading role with a code, without blocking", () => {
    const { d, origin, cow } = fixture();
    const fifo = join(d, "pipe");
    expect(spawnSync("mkfifo", [fifo]).status).toBe(0);
    const runs: Array<[string, string[]]> = [
      ["dump", [fifo, "--json"]],
      ["check", [fifo, "--json"]],
      ["usage", [fifo, "--json"]],
      ["map", [fifo, "--svg", join(d, "m.svg"), "--json"]],
      ["repair", [fifo, "--output", join(d, "r.img"), "--json"]],
      ["restore", [fifo, "--cow", join(d, "new.cow"), "--json"]],
      ["export", ["--origin", origin, "--cow", fifo, "--output", join(d, "v.img"), "--json"]],
      ["write", ["--origin", origin, "--cow", cow, "--offset", "0", "--input", fifo, "--json"]],
    ];
    for (const [cmd, args] of runs) {
      const r = dmsnap(cmd, ...args); // the helper's 60 s timeout would give status null
      expect([cmd, r.status, errorCode(r)]).toEqual([cmd, 2, "NOT_A_REGULAR_FILE_OR_BLOCK_DEVICE"]);
    }
    expect(leftovers(d)).toEqual([]);
  });

  it("write --input /dev/urandom and export --origin /dev/zero are refused, nothing written", () => {
    const { d, origin, cow } = fixture();
    refused(untouched([origin, cow], "write", "--origin", origin, "--cow", cow, "--offset", "0", "--input", "/dev/urandom", "--json"), "NOT_A_REGULAR_FILE_OR_BLOCK_DEVICE");
    const out = join(d, "view.img");
    refused(untouched([cow], "export", "--origin", "/dev/zero", "--cow", cow, "--output", out, "--json"), "NOT_A_REGULAR_FILE_OR_BLOCK_DEVICE");
    expect(existsSync(out)).toBe(false);
    refused(dmsnap("dump", "/dev/zero", "--json"), "NOT_A_REGULAR_FILE_OR_BLOCK_DEVICE");
  });
});

describe("same file by device and inode (item 12)", () => {
  it("refuses a symlink or hard link to the COW as --origin or --input, COW untouched", () => {
    const { d, origin, cow } = fixture();
    const soft = join(d, "soft.cow");
    const hard = join(d, "hard.cow");
    symlinkSync(cow, soft);
    linkSync(cow, hard);
    const patch = writeTemp(d, "p.bin", random(CB, 9));
    for (const alias of [soft, hard]) {
      refused(untouched([origin, cow], "write", "--origin", alias, "--cow", cow, "--offset", "0", "--input", patch, "--json"), "SAME_FILE");
      refused(untouched([origin, cow], "write", "--origin", origin, "--cow", cow, "--offset", "0", "--input", alias, "--json"), "SAME_FILE");
      refused(untouched([origin, cow], "merge", "--origin", alias, "--cow", cow, "--json"), "SAME_FILE");
      refused(untouched([origin, cow], "export", "--origin", alias, "--cow", cow, "--output", join(d, "v.img"), "--json"), "SAME_FILE");
      refused(untouched([origin, cow], "export", "--origin", origin, "--cow", cow, "--output", alias, "--force", "--json"), "SAME_FILE");
      refused(untouched([cow], "repair", cow, "--output", alias, "--force", "--json"), "SAME_FILE");
    }
  });
});

describe("outputs (items 1, 2)", () => {
  it("map --svg onto its own COW is refused and the COW is untouched", () => {
    const { d, cow } = fixture();
    refused(untouched([cow], "map", cow, "--svg", cow, "--json"), "SAME_FILE");
    refused(untouched([cow], "map", cow, "--svg", cow, "--force", "--json"), "SAME_FILE");
    const link = join(d, "link.svg");
    symlinkSync(cow, link);
    refused(untouched([cow], "map", cow, "--svg", link, "--force", "--json"), "SAME_FILE");
  });

  it("map, export and repair never overwrite an existing file without --force", () => {
    const { d, origin, cow } = fixture();
    const precious = writeTemp(d, "precious.txt", new TextEncoder().encode("keep me\n"));
    refused(untouched([precious], "map", cow, "--svg", precious, "--json"), "OUTPUT_EXISTS");
    refused(untouched([precious], "export", "--origin", origin, "--cow", cow, "--output", precious, "--json"), "OUTPUT_EXISTS");
    refused(untouched([precious], "repair", cow, "--output", precious, "--json"), "OUTPUT_EXISTS");
    // With --force the file is replaced whole.
    expect(dmsnap("map", cow, "--svg", precious, "--force").status).toBe(0);
    expect(readFileSync(precious, "utf8")).toMatch(/^<svg[\s\S]*<\/svg>\n$/);
    expect(leftovers(d)).toEqual([]);
  });

  it("an output symlink is followed: its target is written and the link stays a link", () => {
    const { d, origin, cow } = fixture();
    mkdirSync(join(d, "real"));
    const link = join(d, "view.img");
    symlinkSync(join("real", "target.img"), link); // dangling until written
    expect(dmsnap("export", "--origin", origin, "--cow", cow, "--output", link).status).toBe(0);
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(Buffer.compare(readFileSync(join(d, "real", "target.img")), originData)).toBe(0);
    // Replaced through the link with --force: still a link, target rewritten.
    const svgLink = join(d, "map.svg");
    symlinkSync(join(d, "real", "map-target.svg"), svgLink);
    writeFileSync(join(d, "real", "map-target.svg"), "old");
    expect(dmsnap("map", cow, "--svg", svgLink, "--force").status).toBe(0);
    expect(lstatSync(svgLink).isSymbolicLink()).toBe(true);
    expect(readFileSync(join(d, "real", "map-target.svg"), "utf8")).toMatch(/^<svg/);
    expect(leftovers(d)).toEqual([]);
    expect(leftovers(join(d, "real"))).toEqual([]);
  });

  it.skipIf(process.getuid?.() !== 0)("a character device output is refused and stays a device node (root: mknod)", () => {
    const { d, origin, cow } = fixture();
    const node = join(d, "null");
    expect(spawnSync("mknod", [node, "c", "1", "3"]).status).toBe(0);
    refused(dmsnap("export", "--origin", origin, "--cow", cow, "--output", node, "--force", "--json"), "NOT_A_REGULAR_FILE_OR_BLOCK_DEVICE");
    refused(dmsnap("map", cow, "--svg", node, "--force", "--json"), "NOT_A_REGULAR_FILE_OR_BLOCK_DEVICE");
    expect(statSync(node).isCharacterDevice()).toBe(true);
  });
});

/** A loop device over a file of `bytes`, or null where losetup is not allowed. */
function loopDevice(d: string, bytes: number): { dev: string; detach(): void } | null {
  if (process.getuid?.() !== 0) return null;
  const backing = join(d, "loop.img");
  writeFileSync(backing, new Uint8Array(bytes).fill(0xee));
  const r = spawnSync("losetup", ["--find", "--show", backing], { encoding: "utf8" });
  if (r.status !== 0) return null;
  const dev = r.stdout.trim();
  return { dev, detach: () => void spawnSync("losetup", ["-d", dev]) };
}

describe("block device outputs are written in place (item 2)", () => {
  it("export --force writes a loop device in place after a size check; a node named by a symlink too", () => {
    const { d, origin, cow } = fixture();
    const small = loopDevice(d, 16 * CB);
    if (!small) return; // no loop devices here: nothing to test
    try {
      refused(dmsnap("export", "--origin", origin, "--cow", cow, "--output", small.dev, "--json"), "OUTPUT_EXISTS");
      const link = join(d, "lv");
      symlinkSync(small.dev, link);
      const r = dmsnap("export", "--origin", origin, "--cow", cow, "--output", link, "--force", "--json");
      expect(r.status).toBe(0);
      expect(lstatSync(link).isSymbolicLink()).toBe(true);
      expect(statSync(small.dev).isBlockDevice()).toBe(true);
      expect(Buffer.compare(readFileSync(small.dev), originData)).toBe(0);
    } finally {
      small.detach();
    }
  });

  it("refuses a block device smaller than the image with OUTPUT_TOO_SMALL, writing nothing", () => {
    const { d, origin, cow } = fixture();
    const tiny = loopDevice(d, 8 * CB);
    if (!tiny) return;
    try {
      refused(untouched([tiny.dev], "export", "--origin", origin, "--cow", cow, "--output", tiny.dev, "--force", "--json"), "OUTPUT_TOO_SMALL");
    } finally {
      tiny.detach();
    }
  });
});

describe("no partial outputs after errors (item 11)", () => {
  it("create --size 100T where the file system cannot hold it fails with a code and leaves nothing", () => {
    const d = tempDir();
    const r = dmsnap("create", "--cow", join(d, "big.cow"), "--chunk-size", "8", "--size", "100T", "--json");
    if (r.status === 0) return; // a file system that holds 100 TiB sparse files: nothing to test
    expect(r.status).toBe(2);
    expect(errorCode(r)).toMatch(/^IO_E(FBIG|NOSPC|DQUOT)$/);
    expect(JSON.parse(r.stdout).error.message).toContain("big.cow");
    expect(readdirSync(d)).toEqual([]);
  });

  it("restore of a dump larger than the file system allows fails and leaves nothing; the rerun is not OUTPUT_EXISTS", () => {
    const d = tempDir();
    const dump = writeTemp(d, "d.json", new TextEncoder().encode(JSON.stringify({ format: "dmsnap-dump", version: 1, deviceBytes: 2 ** 47, header: { magic: 0, valid: 0, version: 0, chunkSize: 0 }, exceptions: [] })));
    const first = dmsnap("restore", dump, "--cow", join(d, "new.cow"), "--json");
    if (first.status === 0) return;
    expect(errorCode(first)).toMatch(/^IO_E(FBIG|NOSPC|DQUOT)$/);
    expect(readdirSync(d)).toEqual(["d.json"]);
    expect(errorCode(dmsnap("restore", dump, "--cow", join(d, "new.cow"), "--json"))).toBe(errorCode(first));
  });
});

describe("a full file system (items 11, 13)", () => {
  it.skipIf(process.getuid?.() !== 0)("export and repair onto a full file system fail with IO_ENOSPC naming the file and the next step, leaving nothing", () => {
    const mnt = tempDir();
    if (spawnSync("mount", ["-t", "tmpfs", "-o", "size=8k", "tmpfs", mnt]).status !== 0) return; // no mount here: nothing to test
    try {
      for (const [args, out] of [
        [["export", "--origin", origin, "--cow", cow, "--output", join(mnt, "view.img")], "view.img"],
        [["repair", cow, "--output", join(mnt, "fixed.cow")], "fixed.cow"],
      ] as const) {
        const r = dmsnap(...args, "--json");
        expect(r.status).toBe(2);
        const { code, message } = JSON.parse(r.stdout).error;
        expect(code).toBe("IO_ENOSPC");
        expect(message).toContain(out);
        expect(message).toContain("free some space");
        expect(readdirSync(mnt)).toEqual([]);
      }
    } finally {
      spawnSync("umount", [mnt]);
    }
  });
});

describe("the error contract (item 13)", () => {
  const usage: Array<[string, string[], string]> = [
    ["unknown option", ["dump", "x.cow", "--bogus"], "UNKNOWN_OPTION"],
    ["missing argument", ["dump"], "MISSING_ARGUMENT"],
    ["missing required option", ["create", "--chunk-size", "8"], "MISSING_ARGUMENT"],
    ["option without its value", ["create", "--cow"], "MISSING_ARGUMENT"],
    ["bad --progress", ["check", "x.cow", "--progress", "loud"], "BAD_OPTION"],
    ["unknown command", ["frobnicate"], "UNKNOWN_COMMAND"],
    ["extra argument", ["dump", "a.cow", "b.cow"], "EXTRA_ARGUMENT"],
  ];
  it.each(usage)("%s: a stable code, exit 2, and JSON on stdout under --json", (_what, args, code) => {
    const text = dmsnap(...args);
    expect(text.status).toBe(2);
    expect(text.stderr).toMatch(new RegExp(`^dmsnap: ${code}: .*--help`, "m"));
    const json = dmsnap(...args, "--json");
    expect(json.status).toBe(2);
    expect(JSON.parse(json.stdout)).toEqual({ error: { code, message: expect.stringContaining("--help") } });
  });

  it("IO errors name the file and the next step (a symlink loop: IO_ELOOP)", () => {
    const d = tempDir();
    const a = join(d, "a.cow");
    symlinkSync(join(d, "b.cow"), a);
    symlinkSync(a, join(d, "b.cow"));
    for (const r of [dmsnap("dump", a, "--json"), dmsnap("map", a, "--svg", join(d, "m.svg"), "--json"), dmsnap("export", "--origin", origin, "--cow", cow, "--output", a, "--json")]) {
      expect(r.status).toBe(2);
      const { code, message } = JSON.parse(r.stdout).error;
      expect(code).toBe("IO_ELOOP");
      expect(message).toContain("a.cow");
      expect(message).toMatch(/symbolic links.*(check|give)/);
    }
  });

  it("check recommends repair only for a COW that repair accepts", () => {
    const d = tempDir();
    const junk = writeTemp(d, "junk.img", random(25 * CB, 3));
    const c = dmsnap("check", junk);
    expect(c.status).toBe(1);
    const r = dmsnap("repair", junk, "--output", join(d, "out.img"), "--json");
    expect(r.status).toBe(1);
    expect(errorCode(r)).toBe("CHUNK_SIZE_UNKNOWN");
    expect(c.stdout).not.toMatch(/repair --output <file>' salvages/);
    expect(c.stdout).toMatch(/'dmsnap repair' finds nothing to salvage/);
    // A header destroyed by the 2009 race is repairable, and check says so with the count repair keeps.
    const raced = join(d, "raced.cow");
    copyFileSync(cow, raced);
    const bytes = new Uint8Array(readFileSync(raced));
    bytes.fill(0xab, 0, 16);
    writeFileSync(raced, bytes);
    const c2 = dmsnap("check", raced);
    expect(c2.status).toBe(1);
    expect(c2.stdout).toMatch(/'dmsnap repair --output <file>' salvages 3 exception\(s\)/);
    expect(dmsnap("repair", raced, "--output", join(d, "fixed.img")).status).toBe(0);
  });
});
