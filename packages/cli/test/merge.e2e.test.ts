/**
 * End-to-end: `dmsnap merge` on real files built with `create` + `write`; the
 * merged origin must equal what `export` gave before the merge. Resume: the
 * merge is interrupted in-process (a fault device fails after k writes), then
 * the built CLI finishes it.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { copyFileSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { bytesReader, decodeCow } from "@dmsnap/format";
import { isStoreError, mergeSnapshot, StoreErrorCode } from "@dmsnap/store";
import { FileDevice } from "@dmsnap/store/node";
import { FaultDevice } from "@dmsnap/store/testing";
import { dmsnap, random, tempDir, writeTemp } from "./helpers.js";

const CB = 4096;


interface Image {
  origin: string;
  cow: string;
  view: Uint8Array;
  exceptions: number;
}

/** An origin of 64 chunks plus a bit, a snapshot with scattered origin writes, runs, and a snapshot write. */
function buildImage(dir: string): Image {
  const origin = writeTemp(dir, "origin.img", random(64 * CB + 1000, 1));
  const cow = join(dir, "snap.cow");
  expect(dmsnap("create", "--cow", cow, "--chunk-size", "8", "--size", "512K").status).toBe(0);
  let exceptions = 0;
  // chunks written last-to-first so that the exceptions do not form one long run
  for (const [i, chunk] of [60, 50, 40, 30, 20, 10, 5, 2].entries()) {
    const patch = writeTemp(dir, `p${i}.bin`, random(CB + (i % 3) * CB, 10 + i));
    const w = dmsnap("write", "--origin", origin, "--cow", cow, "--offset", String(chunk * CB + 100), "--input", patch, "--json");
    expect(w.status, w.stderr + w.stdout).toBe(0);
    exceptions += JSON.parse(w.stdout).exceptionsAdded as number;
  }
  const tail = writeTemp(dir, "tail.bin", random(900, 99));
  expect(dmsnap("write", "--origin", origin, "--cow", cow, "--offset", String(64 * CB + 50), "--input", tail, "--target", "snapshot").status).toBe(0);
  exceptions++;
  const view = join(dir, "view.img");
  expect(dmsnap("export", "--origin", origin, "--cow", cow, "--output", view).status).toBe(0);
  return { origin, cow, view: new Uint8Array(readFileSync(view)), exceptions };
}

/** Exceptions the COW activates with (in-process: the CLI's dump is tested elsewhere). */
function exceptionsIn(cow: string): number {
  const img = decodeCow(bytesReader(new Uint8Array(readFileSync(cow))));
  expect(img.state).toBe("valid");
  return img.exceptions.count;
}

let template: Image;
/** A fresh copy of the image built once with create + write + export. */
function buildImageCopy(): Image {
  const dir = tempDir();
  const origin = join(dir, "origin.img");
  const cow = join(dir, "snap.cow");
  copyFileSync(template.origin, origin);
  copyFileSync(template.cow, cow);
  return { ...template, origin, cow };
}

describe("dmsnap merge", () => {
  beforeAll(() => {
    template = buildImage(tempDir());
  }, 60_000);

  it("merges the snapshot into the origin: the origin becomes the exported view, the COW empty", () => {
    const img = buildImageCopy();
    expect(exceptionsIn(img.cow)).toBe(img.exceptions);
    const m = dmsnap("merge", "--origin", img.origin, "--cow", img.cow, "--json");
    expect(m.status, m.stderr + m.stdout).toBe(0);
    const r = JSON.parse(m.stdout);
    expect(r).toMatchObject({ state: "valid", chunkSize: 8, exceptions: img.exceptions, merged: img.exceptions, copiedChunks: img.exceptions, skippedDuplicates: 0 });
    expect(r.bytesCopied).toBe((img.exceptions - 1) * CB + 1000); // the last origin chunk is partial
    expect(typeof r.seconds).toBe("number");
    expect(new Uint8Array(readFileSync(img.origin))).toEqual(img.view);
    expect(exceptionsIn(img.cow)).toBe(0);
    expect(dmsnap("check", img.cow, "-q").status).toBe(0);
    // merging again: nothing to do, nothing changes; the human summary says so
    const again = dmsnap("merge", "--origin", img.origin, "--cow", img.cow);
    expect(again.status).toBe(0);
    expect(again.stdout).toMatch(/nothing to merge/);
    expect(again.stderr).toBe(""); // not a terminal: no progress bar
    expect(new Uint8Array(readFileSync(img.origin))).toEqual(img.view);
  });

  it("prints a summary with units, and JSON progress lines with --progress=json", () => {
    const img = buildImageCopy();
    const m = dmsnap("merge", "--origin", img.origin, "--cow", img.cow, "--progress=json");
    expect(m.status, m.stderr).toBe(0);
    expect(m.stdout).toMatch(new RegExp(`^merged ${img.exceptions} exceptions: ${img.exceptions} chunks \\(\\d+\\.\\d+ KiB\\) copied to the origin in \\d+ commits?, \\d+\\.\\d+ s; the COW now has no exceptions\\n$`));
    const lines = m.stderr.trim().split("\n").map((l) => JSON.parse(l));
    expect(lines[0]).toEqual({ progress: { op: "merge", done: 0, total: img.exceptions, unit: "exceptions" } });
    expect(lines[lines.length - 1]).toEqual({ progress: { op: "merge", done: img.exceptions, total: img.exceptions, unit: "exceptions" } });
  });

  it("an interrupted merge resumes: after a failure at any of the first writes, the CLI finishes it", async () => {
    const img = buildImageCopy();
    const originBytes = readFileSync(img.origin);
    const cowBytes = readFileSync(img.cow);
    // how many writes an uninterrupted in-process merge makes (on scratch copies)
    const so = join(tempDir(), "o"), sc = join(tempDir(), "c");
    writeFileSync(so, originBytes);
    writeFileSync(sc, cowBytes);
    const [o0, c0] = [await FileDevice.open(so, { noSync: true }), await FileDevice.open(sc, { noSync: true })];
    let total = 0;
    const count = (op: { kind: string }) => (op.kind === "write" && total++, false);
    await mergeSnapshot({ origin: new FaultDevice(o0, count), cow: new FaultDevice(c0, count), batchBytes: 0 });
    await o0.close();
    await c0.close();
    expect(total).toBeGreaterThan(8); // a copy and an area write per run, several runs
    let partial = 0;
    const ks = [...new Set([0, 1, 2, Math.floor(total / 3), Math.floor(total / 2), Math.floor((2 * total) / 3), total - 2, total - 1])];
    for (const k of ks) {
      writeFileSync(img.origin, originBytes);
      writeFileSync(img.cow, cowBytes);
      const o = await FileDevice.open(img.origin, { noSync: true });
      const c = await FileDevice.open(img.cow, { noSync: true });
      let writes = 0;
      const failAfterK = (op: { kind: string }) => op.kind === "write" && writes++ >= k;
      const err = await mergeSnapshot({ origin: new FaultDevice(o, failAfterK), cow: new FaultDevice(c, failAfterK), batchBytes: 0 }).then(
        () => null,
        (e: unknown) => e,
      );
      await o.close();
      await c.close();
      expect(err, `a failure at write ${k} of ${total}`).not.toBeNull();
      expect(isStoreError(err, StoreErrorCode.IoError)).toBe(true);
      const left = exceptionsIn(img.cow);
      expect(left).toBeGreaterThan(0);
      if (left < img.exceptions) partial++;
      const m = dmsnap("merge", "--origin", img.origin, "--cow", img.cow, "--json");
      expect(m.status, m.stdout + m.stderr).toBe(0);
      expect(JSON.parse(m.stdout).exceptions).toBe(left);
      expect(new Uint8Array(readFileSync(img.origin)), `interrupted after ${k} writes`).toEqual(img.view);
      expect(exceptionsIn(img.cow)).toBe(0);
    }
    expect(partial).toBeGreaterThan(0); // some interruptions happened after commits: those runs resumed part-way
  });

  it("refuses with the codes of dump, SNAPSHOT_INVALID, and usage errors, writing nothing", () => {
    const dir = tempDir();
    const img = buildImageCopy();
    const before = readFileSync(img.origin);
    const bad = writeTemp(dir, "bad.cow", Uint8Array.from([1, 2, 3, 4, ...new Array(CB).fill(0)]));
    const dump = dmsnap("dump", bad, "--json");
    const m = dmsnap("merge", "--origin", img.origin, "--cow", bad, "--json");
    expect(m.status).toBe(dump.status);
    expect(JSON.parse(m.stdout).error.code).toBe(JSON.parse(dump.stdout).error.code);

    const cow = readFileSync(img.cow);
    cow.writeUInt32LE(0, 4); // valid = 0: an invalidated snapshot
    writeFileSync(img.cow, cow);
    const inv = dmsnap("merge", "--origin", img.origin, "--cow", img.cow);
    expect(inv.status).toBe(1);
    expect(inv.stderr).toMatch(/^dmsnap: SNAPSHOT_INVALID: .*nothing was written/);
    expect(readFileSync(img.cow)).toEqual(cow);
    expect(readFileSync(img.origin)).toEqual(before);

    const same = dmsnap("merge", "--origin", img.origin, "--cow", img.origin, "--json");
    expect(same.status).toBe(2);
    expect(JSON.parse(same.stdout).error.code).toBe("SAME_FILE");
    const missing = dmsnap("merge", "--origin", img.origin, "--cow", join(dir, "missing.cow"));
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/IO_ENOENT: .*check the path/);
    expect(dmsnap("merge", "--origin", img.origin).status).toBe(2);
  });

  it("--help shows an example", () => {
    const h = dmsnap("merge", "--help");
    expect(h.status).toBe(0);
    expect(h.stdout).toMatch(/\$ dmsnap merge --origin disk\.img --cow snap\.cow/);
  });
});
