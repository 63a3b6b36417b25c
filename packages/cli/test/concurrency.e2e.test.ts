/**
 * End-to-end: commands running at the same time on one COW (issue #9 item 3).
 * Writers take an exclusive lock and refuse with BUSY while anyone holds one;
 * readers take a shared lock. Before locks.ts two `write` runs both exited 0
 * and lost acknowledged exceptions, and a second `merge` died with a stack trace.
 */
import { spawn, spawnSync } from "node:child_process";
import { copyFileSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { dmsnap, dmsnapAsync, errorCode, random, sha, tempDir, writeTemp, type Run } from "./helpers.js";

const SECTOR = 512;
/**
 * Trials per race: enough to see the old failures every time (two writers
 * lost exceptions in the first trial, as the 5 of 5 with 1-sector
 * chunks), few enough for CI. DMSNAP_RACE_TRIALS=20 for a longer run.
 */
const TRIALS = Number(process.env.DMSNAP_RACE_TRIALS ?? 3);

interface Setup {
  d: string;
  origin: string;
  cow: string;
  data: Uint8Array;
}

let blank: string | undefined;

/**
 * A 1 MiB origin and a 2 MiB COW with 1-sector chunks: every 512 bytes
 * written is one exception, one commit batch after another. The blank COW is
 * made once by our own `create` and copied for each trial.
 */
function setup(seed: number): Setup {
  const d = tempDir();
  const data = random(1 << 20, seed);
  const origin = writeTemp(d, "origin.img", data);
  const cow = join(d, "snap.cow");
  if (!blank) {
    blank = join(tempDir(), "blank.cow");
    expect(dmsnap("create", "--cow", blank, "--chunk-size", "1", "--size", "2M").status).toBe(0);
  }
  copyFileSync(blank, cow);
  return { d, origin, cow, data };
}

const exceptionsOf = (cow: string): number => JSON.parse(dmsnap("dump", cow, "--json").stdout).exceptions.length;
const noStack = (r: Run): void => expect(r.stderr).not.toMatch(/\n\s+at /);

function busy(r: Run): boolean {
  return r.status === 2 && errorCode(r) === "BUSY";
}

describe("a lock held by another process", () => {
  it("refuses every writer and reader with BUSY while an exclusive lock is held, changing nothing", async () => {
    const s = setup(1);
    const patch = writeTemp(s.d, "p.bin", random(4 * SECTOR, 2));
    const dump = join(s.d, "d.json");
    writeTemp(s.d, "d.json", new TextEncoder().encode(dmsnap("dump", s.cow, "--lossless").stdout));
    const holder = spawn("flock", ["-x", s.cow, "sleep", "30"], { stdio: "ignore" });
    try {
      await waitUntil(() => spawnSync("flock", ["-n", "-s", s.cow, "true"]).status !== 0);
      const before = [sha(s.origin), sha(s.cow)];
      const runs: Array<[string, string[]]> = [
        ["write", ["--origin", s.origin, "--cow", s.cow, "--offset", "0", "--input", patch]],
        ["merge", ["--origin", s.origin, "--cow", s.cow]],
        ["restore", [dump, "--cow", s.cow, "--force"]],
        ["create", ["--cow", s.cow, "--chunk-size", "8"]],
        ["dump", [s.cow]],
        ["check", [s.cow]],
        ["usage", [s.cow]],
        ["map", [s.cow, "--svg", join(s.d, "m.svg")]],
        ["repair", [s.cow, "--output", join(s.d, "r.img")]],
        ["export", ["--origin", s.origin, "--cow", s.cow, "--output", join(s.d, "v.img")]],
      ];
      for (const [cmd, args] of runs) {
        const r = dmsnap(cmd, ...args, "--json");
        expect([cmd, r.status, errorCode(r)]).toEqual([cmd, 2, "BUSY"]);
        expect(JSON.parse(r.stdout).error.message).toMatch(/wait for .* rerun/);
      }
      expect([sha(s.origin), sha(s.cow)]).toEqual(before);
    } finally {
      holder.kill();
    }
  });

  it("lets readers share: a shared lock held elsewhere refuses writers only", async () => {
    const s = setup(3);
    const patch = writeTemp(s.d, "p.bin", random(4 * SECTOR, 4));
    const holder = spawn("flock", ["-s", s.cow, "sleep", "30"], { stdio: "ignore" });
    try {
      await waitUntil(() => spawnSync("flock", ["-n", "-x", s.cow, "true"]).status !== 0);
      expect(dmsnap("dump", s.cow, "--json").status).toBe(0);
      expect(dmsnap("check", s.cow).status).toBe(0);
      expect(busy(dmsnap("write", "--origin", s.origin, "--cow", s.cow, "--offset", "0", "--input", patch, "--json"))).toBe(true);
    } finally {
      holder.kill();
    }
  });
});

describe("races between dmsnap runs", () => {
  it(`two writers on one COW: one may be refused with BUSY, no acknowledged exception is lost (${TRIALS} trials)`, async () => {
    let overlapped = 0;
    for (let t = 0; t < TRIALS; t++) {
      const s = setup(10 + t);
      const a = writeTemp(s.d, "a.bin", random(256 * SECTOR, 100 + t));
      const b = writeTemp(s.d, "b.bin", random(256 * SECTOR, 200 + t));
      const [ra, rb] = await Promise.all([
        dmsnapAsync("write", "--origin", s.origin, "--cow", s.cow, "--offset", "0", "--input", a, "--json").done,
        dmsnapAsync("write", "--origin", s.origin, "--cow", s.cow, "--offset", String(512 * 1024), "--input", b, "--json").done,
      ]);
      let acknowledged = 0;
      for (const r of [ra, rb]) {
        noStack(r);
        if (r.status === 0) acknowledged += JSON.parse(r.stdout).exceptionsAdded;
        else expect(busy(r)).toBe(true);
      }
      if (ra.status !== 0 || rb.status !== 0) overlapped++;
      expect(ra.status === 0 || rb.status === 0).toBe(true);
      // Every acknowledged write is in the COW, and a refused one touched nothing.
      expect(exceptionsOf(s.cow)).toBe(acknowledged);
      const now = new Uint8Array(readFileSync(s.origin));
      expect(same(now.subarray(0, 256 * SECTOR), ra.status === 0 ? readFileSync(a) : s.data.subarray(0, 256 * SECTOR))).toBe(true);
      expect(same(now.subarray(512 * 1024, 512 * 1024 + 256 * SECTOR), rb.status === 0 ? readFileSync(b) : s.data.subarray(512 * 1024, 512 * 1024 + 256 * SECTOR))).toBe(true);
      expect(dmsnap("check", s.cow).status).toBe(0);
    }
    // Recorded for the closing note; not asserted (scheduling decides).
    console.log(`two writers: ${overlapped} of ${TRIALS} trials overlapped (one refused with BUSY)`);
  });

  it(`readers during a write see the state before or after it, or BUSY (${TRIALS} trials)`, async () => {
    const seen = new Set<number>();
    for (let t = 0; t < TRIALS; t++) {
      const s = setup(30 + t);
      const a = writeTemp(s.d, "a.bin", random(1024 * SECTOR, 300 + t));
      const w = dmsnapAsync("write", "--origin", s.origin, "--cow", s.cow, "--offset", "0", "--input", a, "--json");
      let finished = false;
      void w.done.then(() => (finished = true));
      await sleep(20 * t);
      // Read again and again until the writer is done: every read must be whole.
      while (!finished) {
        const r = await dmsnapAsync("dump", s.cow, "--json").done;
        noStack(r);
        if (r.status === 0) {
          const n = JSON.parse(r.stdout).exceptions.length as number;
          seen.add(n);
          expect([0, 1024]).toContain(n);
        } else expect(busy(r)).toBe(true);
      }
      // The reader may have locked first: then the writer is the one refused.
      const wr = await w.done;
      expect(wr.status === 0 || busy(wr)).toBe(true);
    }
  });

  it(`two merges at once: one may be refused with BUSY, never a stack trace; the origin ends as the snapshot (${TRIALS} trials)`, async () => {
    const base = setup(50);
    const a = writeTemp(base.d, "a.bin", random(128 * SECTOR, 400));
    expect(dmsnap("write", "--origin", base.origin, "--cow", base.cow, "--offset", "4096", "--input", a).status).toBe(0);
    for (let t = 0; t < TRIALS; t++) {
      const d = tempDir();
      const origin = join(d, "origin.img");
      const cow = join(d, "snap.cow");
      copyFileSync(base.origin, origin);
      copyFileSync(base.cow, cow);
      const [m1, m2] = await Promise.all([dmsnapAsync("merge", "--origin", origin, "--cow", cow, "--json").done, dmsnapAsync("merge", "--origin", origin, "--cow", cow, "--json").done]);
      for (const r of [m1, m2]) {
        noStack(r);
        expect(r.status === 0 || busy(r)).toBe(true);
      }
      expect(m1.status === 0 || m2.status === 0).toBe(true);
      expect(same(readFileSync(origin), base.data)).toBe(true);
      expect(exceptionsOf(cow)).toBe(0);
    }
  });
});

/** Byte equality without vitest's element-by-element diff (slow on a MiB). */
const same = (a: Uint8Array, b: Uint8Array): boolean => Buffer.compare(a, b) === 0;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitUntil(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !cond(); i++) await sleep(25);
  expect(cond()).toBe(true);
}
