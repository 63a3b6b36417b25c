/**
 * End-to-end on a real read-only block device (issue #20 item 3): the COW, a
 * loop device, is set read-only (`blockdev --setro`) while `dmsnap write` has
 * it open for writing. The copy of the origin chunk fails, so does the header
 * write that would mark the snapshot invalid: the origin must then be left
 * alone (the old CLI wrote it, said "invalidated", code IO_ERROR, and the next
 * activation found a valid snapshot with that chunk missing).
 *
 * The moment: dmsnap locks each file it opened by running flock(1) on the
 * open descriptor (locks.ts). A `flock` earlier on PATH sets the COW device
 * read-only when it is the one being locked, then runs the real flock: from
 * then on every write to the COW fails, and nothing in dmsnap is changed for
 * the test. Needs root and loop devices (CI has both); skipped otherwise.
 */
import { spawnSync } from "node:child_process";
import { chmodSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { BIN, dmsnap, errorCode, random, tempDir, writeTemp, type Run } from "./helpers.js";

const CB = 4096; // chunk size 8 sectors

/** Why this machine cannot run the test, or null. */
function noLoopDevices(): string | null {
  if (process.getuid?.() !== 0) return "needs root (losetup, blockdev --setro); CI runs it as root";
  if (spawnSync("losetup", ["--version"]).status !== 0) return "needs losetup (util-linux)";
  if (spawnSync("blockdev", ["--help"]).error) return "needs blockdev (util-linux)";
  if (spawnSync("sh", ["-c", "command -v flock"]).status !== 0) return "needs flock (util-linux)";
  return null;
}

/** dmsnap with `flock` shimmed: locking `roDevice` first makes it read-only. */
function dmsnapWithCowGoingReadOnly(dir: string, roDevice: string, ...args: string[]): Run {
  const realFlock = spawnSync("sh", ["-c", "command -v flock"], { encoding: "utf8" }).stdout.trim();
  const shimDir = join(dir, "shim");
  spawnSync("mkdir", ["-p", shimDir]);
  const shim = join(shimDir, "flock");
  writeFileSync(
    shim,
    `#!/bin/sh\n# test shim: the COW goes read-only while dmsnap holds it open for writing\nif [ "$(readlink /proc/self/fd/3)" = "${roDevice}" ]; then blockdev --setro "${roDevice}" || exit 1; fi\nexec ${realFlock} "$@"\n`,
  );
  chmodSync(shim, 0o755);
  const r = spawnSync(process.execPath, [BIN, ...args], {
    encoding: "utf8",
    env: { ...process.env, PATH: `${shimDir}:${process.env.PATH ?? ""}` },
    timeout: Number(process.env.DMSNAP_TEST_TIMEOUT_MS ?? 60_000),
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("write when the COW goes read-only under it (issue #20 item 3)", () => {
  it("does not write the origin, says the snapshot is still valid, IO_EPERM, exit 2; the snapshot view is intact after", (ctx) => {
    const why = noLoopDevices();
    if (why) ctx.skip(why);
    const dir = tempDir();
    const originData = random(16 * CB, 31);
    const origin = writeTemp(dir, "origin.img", originData);
    const backing = join(dir, "cow.img");
    writeFileSync(backing, new Uint8Array(64 * CB));
    const attached = spawnSync("losetup", ["--find", "--show", backing], { encoding: "utf8" });
    if (attached.status !== 0) ctx.skip(`no loop device available: ${attached.stderr.trim()}`);
    const dev = attached.stdout.trim();
    try {
      const created = dmsnap("create", "--cow", dev, "--chunk-size", "8", "--json");
      expect(created.status, created.stdout + created.stderr).toBe(0);
      // One exception committed while the COW works (chunk 1).
      const first = writeTemp(dir, "first.bin", random(CB, 32));
      expect(dmsnap("write", "--origin", origin, "--cow", dev, "--offset", String(CB), "--input", first).status).toBe(0);
      const originBefore = readFileSync(origin);
      const patch = writeTemp(dir, "patch.bin", random(2 * CB, 33));

      const r = dmsnapWithCowGoingReadOnly(dir, dev, "write", "--origin", origin, "--cow", dev, "--offset", String(5 * CB), "--input", patch, "--json");
      expect(spawnSync("blockdev", ["--getro", dev], { encoding: "utf8" }).stdout.trim()).toBe("1"); // the shim did set it read-only

      // The origin is untouched, chunks 5 and 6 included.
      expect(Buffer.compare(readFileSync(origin), originBefore)).toBe(0);
      // The kernel refuses a write to a read-only block device with EPERM (blkdev_write_iter).
      expect({ status: r.status, code: errorCode(r) }).toEqual({ status: 2, code: "IO_EPERM" });
      expect(r.stderr).not.toMatch(/\n\s+at /);
      const message = (JSON.parse(r.stdout) as { error: { message: string } }).error.message;
      // What happened: not written; why the snapshot was to be invalidated (the copy into the COW failed); why that failed too.
      expect(message).toMatch(/^the origin was NOT written \(8192 bytes at offset 20480\): the snapshot had to be invalidated \(writing 4096 bytes at offset \d+ of \/dev\/loop\d+ failed: EPERM/);
      expect(message).toMatch(/but it could not be marked invalid on the COW \(writing 4096 bytes at offset 0 of \/dev\/loop\d+ failed: EPERM/);
      expect(message).toContain("the COW still says the snapshot is valid, and its view is intact");
      expect(message).toContain("make the COW device writable again");
      expect(message).not.toMatch(/was invalidated|the origin was written/);

      // Writable again: the COW says valid, and the snapshot's view is the origin as it was first snapshotted.
      expect(spawnSync("blockdev", ["--setrw", dev]).status).toBe(0);
      const dump = dmsnap("dump", dev, "--json");
      expect(dump.status).toBe(0);
      expect((JSON.parse(dump.stdout) as { state: string }).state).toBe("valid");
      const view = join(dir, "view.img");
      expect(dmsnap("export", "--origin", origin, "--cow", dev, "--output", view).status).toBe(0);
      expect(Buffer.compare(readFileSync(view), Buffer.from(originData))).toBe(0);
    } finally {
      spawnSync("blockdev", ["--setrw", dev]);
      spawnSync("losetup", ["-d", dev]);
    }
  });
});
