/**
 * End-to-end: outputs survive kill -9 and signals (issue #9 item 11). A
 * command killed at a random moment leaves either no output or a complete
 * one; its temporary is removed by the next run; the rerun (without --force)
 * succeeds. Before outputs.ts, export left hidden temporaries for ever and
 * repair left a partial output that made the rerun say OUTPUT_EXISTS.
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dmsnap, dmsnapAsync, random, tempDir, writeTemp, type Run } from "./helpers.js";

const KILLS = Number(process.env.DMSNAP_KILL_TRIALS ?? 2);
const CB = 4096;

let src: string;
let originData: Uint8Array;
let origin: string;
let cow: string;
let dump: string;
let exceptions: number;

/** Our own writer's data: a 16 MiB origin, every chunk of it copied into a 24 MiB COW (4 KiB chunks) by one write. */
beforeAll(() => {
  src = tempDir();
  originData = random(4096 * CB, 1);
  origin = writeTemp(src, "origin.img", originData);
  cow = join(src, "snap.cow");
  expect(dmsnap("create", "--cow", cow, "--chunk-size", "8", "--size", "24M").status).toBe(0);
  const patch = writeTemp(src, "patch.bin", random(4096 * CB, 2));
  expect(dmsnap("write", "--origin", origin, "--cow", cow, "--offset", "0", "--input", patch).status).toBe(0);
  exceptions = JSON.parse(dmsnap("dump", cow, "--json").stdout).exceptions.length;
  expect(exceptions).toBe(4096);
  const lossless = dmsnap("dump", cow, "--lossless");
  dump = writeTemp(src, "cow.dump.json", new TextEncoder().encode(lossless.stdout));
});

interface Case {
  name: string;
  /** Arguments that write `out` (a path in a fresh folder). */
  args(out: string): string[];
  /** Throws unless `out` is the complete, correct result. */
  verify(out: string): void;
}

const cases: Case[] = [
  {
    name: "export",
    args: (out) => ["export", "--origin", origin, "--cow", cow, "--output", out],
    verify: (out) => expect(Buffer.compare(readFileSync(out), originData)).toBe(0), // the view is the origin before the write
  },
  {
    name: "repair",
    args: (out) => ["repair", cow, "--output", out],
    verify: (out) => expect(JSON.parse(dmsnap("dump", out, "--json").stdout).exceptions.length).toBe(exceptions),
  },
  {
    name: "map",
    args: (out) => ["map", cow, "--svg", out],
    verify: (out) => expect(readFileSync(out, "utf8")).toMatch(/^<svg[\s\S]*<\/svg>\n$/),
  },
  {
    name: "create",
    args: (out) => ["create", "--cow", out, "--chunk-size", "8", "--size", "64M"],
    verify: (out) => expect(JSON.parse(dmsnap("dump", out, "--json").stdout)).toMatchObject({ state: "valid", deviceBytes: 64 << 20 }),
  },
  {
    name: "restore",
    args: (out) => ["restore", dump, "--cow", out],
    verify: (out) => expect(JSON.parse(dmsnap("dump", out, "--json").stdout).exceptions.length).toBe(exceptions),
  },
];

/** Everything in the folder but the finished output. */
/**
 * Names in `d` besides the output. A kill between the link of the finished
 * temporary to the output's name and the unlink of the temporary (two system
 * calls back to back, outputs.ts) leaves the temporary as a second name of
 * the output itself: that one is not a leftover of a partial write.
 */
const leftovers = (d: string, out: string): string[] =>
  readdirSync(d).filter((n) => {
    const p = join(d, n);
    if (p === out) return false;
    if (!existsSync(out) || !n.includes("dmsnap-tmp")) return true;
    const a = statSync(p);
    const b = statSync(out);
    return !(a.ino === b.ino && a.dev === b.dev);
  });

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Extra delays (ms) after the temporary appears: the first trial kills at once, later ones spread over the run. */
const delay = (i: number, trial: number): number => (trial === 0 ? 0 : ((i * 7 + trial * 13) % 8) * 10);

/** Waits until the command has created something in `d` (its temporary), or has ended. */
async function started(d: string, done: Promise<unknown>): Promise<void> {
  let ended = false;
  void done.then(() => (ended = true));
  for (let i = 0; i < 1000 && !ended && readdirSync(d).length === 0; i++) await sleep(3);
}

/** Kills that landed while the command had its temporary or partial output (for the closing note; timing decides). */
const midway: Record<string, number> = {};

describe("kill -9 at a random moment", () => {
  afterAll(() => console.log(`kill -9 landed mid-write in ${JSON.stringify(midway)} of ${KILLS} trials per command`));

  it.each(cases.map((c, i) => [c.name, i] as const))("%s: no partial output, no temporary after the rerun, the rerun succeeds", async (_name, i) => {
    const c = cases[i]!;
    for (let trial = 0; trial < KILLS; trial++) {
      const d = tempDir();
      const out = join(d, "out");
      const run = dmsnapAsync(...c.args(out));
      await started(d, run.done);
      await sleep(delay(i, trial));
      if (readdirSync(d).some((n) => n !== "out")) midway[c.name] = (midway[c.name] ?? 0) + 1;
      run.child.kill("SIGKILL");
      await run.done;
      // Killed after the output was put in place: it is whole. Otherwise: nothing under its name.
      if (existsSync(out)) c.verify(out);
      else {
        const again: Run = dmsnap(...c.args(out));
        expect({ status: again.status, stderr: again.stderr }).toEqual({ status: 0, stderr: "" });
        c.verify(out);
      }
      // The rerun removed the killed run's temporary; a run killed after commit left none.
      expect(leftovers(d, out)).toEqual([]);
    }
  });
});

describe("SIGINT, SIGTERM, SIGHUP", () => {
  it.each(["SIGINT", "SIGTERM", "SIGHUP"] as const)("%s during export removes the temporary and ends the command by that signal", async (signal) => {
    const d = tempDir();
    const out = join(d, "view.img");
    const run = dmsnapAsync("export", "--origin", origin, "--cow", cow, "--output", out);
    await started(d, run.done);
    run.child.kill(signal);
    await run.done;
    if (existsSync(out)) cases[0]!.verify(out); // finished before the signal arrived
    else {
      expect(run.child.signalCode).toBe(signal);
      expect(readdirSync(d)).toEqual([]);
    }
  });
});
