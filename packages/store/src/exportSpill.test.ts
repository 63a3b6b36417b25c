/**
 * The spill sort (exportSpill.ts) writes the snapshot view: COW images laid
 * out byte by byte here (header, areas of 32 * chunkSize entries, data chunks
 * after their area, as writers leave them), random origin order, 1-sector and
 * 2-sector chunks, a partial last chunk, duplicates (the first entry wins),
 * several windows per group and several groups; the expected view is computed
 * here by the definition, not by export's code. It declines, writing nothing,
 * where it does not apply.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { closeSync, openSync, readFileSync, writeFileSync, writeSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spillExport } from "./exportSpill.js";
import { FileDevice } from "./fileDevice.js";
import { Rng } from "./rng.js";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "dmsnap-export-spill-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Data chunk i of a writer's layout: after area i / E (E = 32 * cs entries), which sits at 1 + a * (E + 1). */
const dataChunk = (cs: number, i: number) => 2 + Math.floor(i / (cs * 32)) * (cs * 32 + 1) + (i % (cs * 32));

/** COW bytes: header, areas holding `olds` (entry i -> newOf(i)), random bytes elsewhere (data chunks included). */
function cowImage(cs: number, olds: number[], newOf: (i: number) => number, rng: Rng): Uint8Array {
  const cb = cs * 512;
  const perArea = cs * 32;
  const chunks = Math.max(...olds.map((_, i) => newOf(i))) + perArea + 2;
  const img = rng.bytes(chunks * cb);
  const v = new DataView(img.buffer);
  img.fill(0, 0, cb);
  [0x70416e53, 1, 1, cs].forEach((w, i) => v.setUint32(i * 4, w, true));
  const areas = Math.floor(olds.length / perArea) + 1;
  for (let a = 0; a < areas; a++) img.fill(0, (1 + a * (perArea + 1)) * cb, (2 + a * (perArea + 1)) * cb);
  olds.forEach((o, i) => {
    const at = (1 + Math.floor(i / perArea) * (perArea + 1)) * cb + (i % perArea) * 16;
    v.setUint32(at, o, true);
    v.setUint32(at + 8, newOf(i), true);
  });
  return img;
}

/** The view by its definition: chunk c from the COW chunk of the FIRST entry naming it, else the origin's. */
function view(cs: number, origin: Uint8Array, cow: Uint8Array, olds: number[], newOf: (i: number) => number): Uint8Array {
  const cb = cs * 512;
  const out = origin.slice();
  const done = new Set<number>();
  olds.forEach((o, i) => {
    if (done.has(o) || o * cb >= origin.length) return;
    done.add(o);
    const n = Math.min(cb, origin.length - o * cb);
    out.set(cow.subarray(newOf(i) * cb, newOf(i) * cb + n), o * cb);
  });
  return out;
}

/** Runs spillExport into a new file of the origin's size; returns whether it ran and the file's bytes. */
async function run(name: string, cs: number, origin: Uint8Array, cow: Uint8Array, count: number, sizes: object, originDevice?: FileDevice) {
  const o = join(dir, `${name}.origin`);
  const c = join(dir, `${name}.cow`);
  const out = join(dir, `${name}.img`);
  writeFileSync(o, origin);
  writeFileSync(c, cow);
  writeFileSync(out, new Uint8Array(origin.length).fill(0xee)); // every byte must be written
  const od = await FileDevice.open(o, { readOnly: true });
  const cd = await FileDevice.open(c, { readOnly: true });
  const fd = openSync(out, "r+");
  try {
    const ran = spillExport({
      origin: originDevice ?? od,
      cow: cd,
      chunkSize: cs,
      exceptionCount: count,
      originBytes: origin.length,
      dir,
      write: (buf, off, len, pos) => void writeSync(fd, buf, off, len, pos),
      sizes,
      minChunks: 0,
    });
    return { ran, bytes: new Uint8Array(readFileSync(out)) };
  } finally {
    closeSync(fd);
    await od.close();
    await cd.close();
  }
}

/** Origin chunks 0..n-1 picked with probability `fraction` (the last always), in a random order, some named twice. */
function randomOlds(rng: Rng, n: number, fraction: number, duplicates: number): number[] {
  const picked: number[] = [];
  for (let c = 0; c < n - 1; c++) if (rng.chance(fraction)) picked.push(c);
  picked.push(n - 1);
  for (let i = picked.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [picked[i], picked[j]] = [picked[j]!, picked[i]!];
  }
  for (let d = 0; d < duplicates; d++) picked.push(picked[rng.int(picked.length)]!);
  return picked;
}

describe("spillExport", () => {
  const cases = [
    { name: "1-sector chunks, 3 groups of 4 windows", cs: 1, chunks: 5000, tail: 300, sizes: { windowBytes: 64 * 512, bucketBytes: 16 * 1024, blockBytes: 4096, groupWindows: 4 } },
    { name: "1-sector chunks, one group, one slot a bucket", cs: 1, chunks: 2000, tail: 512, sizes: { windowBytes: 8192, bucketBytes: 64 * (512 + 4), blockBytes: 8192, groupWindows: 64 } },
    { name: "2-sector chunks, a window smaller than the blocks", cs: 2, chunks: 1500, tail: 1000, sizes: { windowBytes: 4096, bucketBytes: 64 * 1024, blockBytes: 16384, groupWindows: 16 } },
  ];
  it.each(cases)("$name: random layout, duplicates, partial last chunk: the view's bytes", async ({ name, cs, chunks, tail, sizes }) => {
    const rng = new Rng(chunks + cs);
    const originBytes = (chunks - 1) * cs * 512 + tail;
    const origin = rng.bytes(originBytes);
    const olds = randomOlds(rng, chunks, 0.6, 40);
    olds.push(chunks + 3); // past the origin's end: not part of the view
    const newOf = (i: number) => dataChunk(cs, i);
    const cow = cowImage(cs, olds, newOf, rng);
    const r = await run(name.replace(/\W+/g, "-"), cs, origin, cow, olds.length, sizes);
    expect(r.ran).toBe(true);
    expect(r.bytes.length).toBe(originBytes);
    expect(Buffer.compare(r.bytes, view(cs, origin, cow, olds, newOf))).toBe(0);
  });

  it("never reads the origin for a window the COW covers whole; reads it for the others", async () => {
    const rng = new Rng(11);
    const cs = 1;
    const windowChunks = 16;
    const origin = rng.bytes(3 * windowChunks * 512);
    // Windows 0 and 2 covered whole (a duplicate in window 0), window 1 half: a random order.
    const olds = [...Array.from({ length: 16 }, (_, c) => c), 3, ...Array.from({ length: 8 }, (_, c) => 16 + 2 * c), ...Array.from({ length: 16 }, (_, c) => 32 + c)];
    for (let i = olds.length - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      [olds[i], olds[j]] = [olds[j]!, olds[i]!];
    }
    const newOf = (i: number) => dataChunk(cs, i);
    const cow = cowImage(cs, olds, newOf, rng);
    const sizes = { windowBytes: windowChunks * 512, bucketBytes: 3 * 8 * (512 + 4), blockBytes: 4096, groupWindows: 3 };
    const r = await run("covered", cs, origin, cow, olds.length, sizes);
    expect(r.ran).toBe(true);
    expect(Buffer.compare(r.bytes, view(cs, origin, cow, olds, newOf))).toBe(0);
    // An origin that fails every read: a COW covering every window needs none; the COW above needs window 1.
    const whole = [...olds, ...Array.from({ length: 8 }, (_, c) => 17 + 2 * c)];
    const wholeCow = cowImage(cs, whole, newOf, rng);
    const unreadable = { fd: 1 << 30, path: "an origin that must not be read", size: origin.length } as unknown as FileDevice;
    const w = await run("covered-whole", cs, origin, wholeCow, whole.length, sizes, unreadable);
    expect(w.ran).toBe(true);
    const mixed = (() => run("covered-mixed", cs, origin, cow, olds.length, sizes, unreadable))();
    await expect(mixed).rejects.toThrow(/an origin that must not be read/);
  });

  it("declines, writing nothing, when the data chunks do not follow the metadata (it reads the COW in sequential blocks)", async () => {
    const rng = new Rng(9);
    const cs = 1;
    const origin = rng.bytes(400 * 512);
    const olds = randomOlds(rng, 400, 0.5, 0);
    // Data chunks in a random order over a COW of three times the entries.
    const slots = Array.from({ length: olds.length }, (_, i) => i * 3);
    for (let i = slots.length - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      [slots[i], slots[j]] = [slots[j]!, slots[i]!];
    }
    const newOf = (i: number) => dataChunk(cs, slots[i]!);
    const cow = cowImage(cs, olds, newOf, rng);
    const r = await run("scattered", cs, origin, cow, olds.length, { windowBytes: 8192, bucketBytes: 65536, blockBytes: 4096, groupWindows: 64 });
    expect(r.ran).toBe(false);
    expect(r.bytes.every((b) => b === 0xee)).toBe(true);
  });

  it("declines chunks larger than 4 KiB (a write per chunk is cheap there)", async () => {
    const rng = new Rng(10);
    const cs = 16;
    const origin = rng.bytes(40 * cs * 512);
    const olds = [3, 1, 2];
    const cow = cowImage(cs, olds, (i) => dataChunk(cs, i), rng);
    const r = await run("large", cs, origin, cow, olds.length, { windowBytes: 1 << 20, bucketBytes: 1 << 20, blockBytes: 1 << 16, groupWindows: 8 });
    expect(r.ran).toBe(false);
  });
});
