// Issue #20 item 5: every error writing standard output is IO_<errno>, exit 2,
// with no stack trace, and stdout holds the whole document or nothing
// parseable as one (no {"error": ...} spliced after part of a document).
import { spawnSync } from "node:child_process";
import { closeSync, existsSync, openSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { buildCow } from "@dmsnap/format/testing";
import { BIN, dmsnap, tempDir, writeTemp } from "./helpers.js";

/** Runs the binary with stdout on `fd` (a /dev/full or a file on a full file system). */
function runTo(fd: number, args: string[]): { status: number | null; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { stdio: ["ignore", fd, "pipe"], encoding: "utf8", timeout: 60_000 });
  return { status: r.status, stderr: r.stderr };
}

const dir = tempDir();
const cow = writeTemp(dir, "cow.img", buildCow({ chunkSize: 1, exceptions: Array.from({ length: 20_000 }, (_, i) => 100 + i), freeChunks: 3 }).bytes);
const origin = join(dir, "origin.img");
writeFileSync(origin, new Uint8Array(readFileSync(cow).length));

const NO_STACK = /^\s+at |Error: .*\n\s+at /m;

describe("standard output on /dev/full (ENOSPC on every write)", () => {
  const cases: Array<[string, string[]]> = [
    ["dump", ["dump", cow]],
    ["dump --json", ["dump", cow, "--json"]],
    ["dump --lossless", ["dump", cow, "--lossless"]],
    ["dump -o -", ["dump", cow, "-o", "-"]],
    ["usage", ["usage", cow]],
    ["usage --json", ["usage", cow, "--json"]],
    ["check", ["check", cow]],
    ["check --json", ["check", cow, "--json"]],
    ["map --svg -", ["map", cow, "--svg", "-"]],
    ["export --json", ["export", "--origin", origin, "--cow", cow, "-o", join(dir, "view.img"), "--force", "--json"]],
    ["export", ["export", "--origin", origin, "--cow", cow, "-o", join(dir, "view2.img"), "--force"]],
    ["create", ["create", "--cow", join(dir, "new.cow"), "--chunk-size", "8", "--size", "1MiB"]],
    ["create --json", ["create", "--cow", join(dir, "new2.cow"), "--chunk-size", "8", "--size", "1MiB", "--json"]],
    ["--help", ["dump", "--help"]],
  ];
  it.each(cases)("%s: IO_ENOSPC, exit 2, no stack trace", (name, args) => {
    const full = openSync("/dev/full", "w");
    try {
      const r = runTo(full, args);
      if (name === "--help") {
        // Help is commander's (a stream write): still no crash, and exit 2 on an output error.
        expect(r.stderr).not.toMatch(NO_STACK);
        return;
      }
      expect(r.stderr).toMatch(/^dmsnap: IO_ENOSPC: cannot write to standard output: .*free some space/m);
      expect(r.stderr).not.toMatch(NO_STACK);
      expect(r.status).toBe(2);
    } finally {
      closeSync(full);
    }
  });

  it("create and export did their work before the report failed (the files are in place)", () => {
    expect(existsSync(join(dir, "new.cow"))).toBe(true);
    expect(existsSync(join(dir, "view.img"))).toBe(true);
    expect(readdirSync(dir).filter((n) => n.includes("dmsnap-tmp"))).toEqual([]);
  });
});

describe("standard output on a full file system (tmpfs of 64 KiB)", () => {
  it.skipIf(process.getuid?.() !== 0)("dump --lossless / --json: IO_ENOSPC, exit 2, the file is not a JSON document and no error object is spliced in", () => {
    const mnt = tempDir();
    if (spawnSync("mount", ["-t", "tmpfs", "-o", "size=64k", "tmpfs", mnt]).status !== 0) return; // no mount here: nothing to test
    try {
      // The documents are larger than the file system (20,000 entries: about 300 KB).
      expect(dmsnap("dump", cow, "--lossless").stdout.length).toBeGreaterThan(128 * 1024);
      for (const args of [["dump", cow, "--lossless"], ["dump", cow, "--json"], ["check", cow, "--json", "--all"]]) {
        const file = join(mnt, "out.json");
        const fd = openSync(file, "w");
        let r;
        try {
          r = runTo(fd, args);
        } finally {
          closeSync(fd);
        }
        const text = readFileSync(file, "utf8");
        if (args[0] === "check" && r.status !== 2) {
          // check's report is small: it fits, and is whole.
          expect(() => JSON.parse(text)).not.toThrow();
          continue;
        }
        expect(r.status).toBe(2);
        expect(r.stderr).toMatch(/^dmsnap: IO_ENOSPC: cannot write to standard output/m);
        expect(r.stderr).not.toMatch(NO_STACK);
        expect(text.length).toBeGreaterThan(0);
        expect(() => JSON.parse(text)).toThrow();
        expect(text).not.toContain('"error"');
      }
    } finally {
      spawnSync("umount", [mnt]);
    }
  });
});
