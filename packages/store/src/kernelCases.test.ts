/**
 * Evidence from outside: the COW images the real Linux kernel (6.1, in QEMU)
 * wrote for the conformance suite, with what the kernel itself reported
 * (conformance/cases/kernel-*: its `dmsetup status` line and the sha256 of the
 * snapshot device it served). The codec and the store must agree with the
 * kernel, and what the store appends to a kernel-made COW must land where
 * the layout rules say (offsets written by hand) and read back in the
 * independent Python reader.
 */
import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { bytesReader, decodeCow } from "@dmsnap/format";
import { MemoryDevice } from "./device.js";
import { PersistentStore } from "./store.js";
import { Snapshot } from "./snapshot.js";
import { handReadAreas, pythonDump } from "./testkit.js";

const casesDir = new URL("../../../conformance/cases/", import.meta.url);

interface KernelCase {
  id: string;
  tableChunkSize: number;
  cow: Uint8Array;
  origin: Uint8Array;
  /** case.json's expected values */
  expected: Record<string, unknown>;
  /** the fields the kernel itself confirmed */
  confirmed: string[];
  /** kernel.json: what the kernel printed */
  kernel: { activation: string; status: string; snapshotSha256: string | null };
}

function load(id: string): KernelCase {
  const dir = new URL(`${id}/`, casesDir);
  const c = JSON.parse(readFileSync(new URL("case.json", dir), "utf8"));
  const image = (name: string) => new Uint8Array(gunzipSync(readFileSync(new URL(name, dir))));
  return {
    id,
    tableChunkSize: c.table.chunkSize,
    cow: image(c.files.cow),
    origin: image(c.files.origin),
    expected: c.expected,
    confirmed: c.kernelObserved.confirmed,
    kernel: JSON.parse(readFileSync(new URL("kernel.json", dir), "utf8")),
  };
}

const kernelCases = readdirSync(casesDir)
  .filter((id) => id.startsWith("kernel-"))
  .sort()
  .map(load);
const options = (k: KernelCase) => (k.tableChunkSize ? { chunkSize: k.tableChunkSize } : {});

describe("kernel-made COW images", () => {
  it("the codec and the store activate each as the kernel did (state, next_free, usage, area, status line)", async () => {
    expect(kernelCases.length).toBeGreaterThanOrEqual(20);
    expect(kernelCases.filter((k) => (k.expected.currentArea as number) >= 1).length).toBeGreaterThanOrEqual(4);
    for (const k of kernelCases) {
      const img = decodeCow(bytesReader(k.cow), k.tableChunkSize ? { tableChunkSize: k.tableChunkSize } : {});
      for (const field of ["chunkSize", "state", "nextFree", "usage", "currentArea"]) {
        if (k.confirmed.includes(field)) expect(img[field as keyof typeof img], `${k.id}: ${field}`).toEqual(k.expected[field]);
      }
      const store = await PersistentStore.open(new MemoryDevice(k.cow.slice()), options(k));
      if (k.confirmed.includes("status")) expect(store.status(), `${k.id}: status`).toBe(k.kernel.status);
      if (k.confirmed.includes("nextFree")) expect(store.nextFree, `${k.id}: next_free`).toBe(k.expected.nextFree);
    }
  });

  it("the snapshot view of each hashes to the sha256 of the device the kernel served", async () => {
    let checked = 0;
    for (const k of kernelCases) {
      if (!k.confirmed.includes("snapshotSha256")) continue;
      const snap = await Snapshot.open(new MemoryDevice(k.origin.slice()), new MemoryDevice(k.cow.slice()), options(k));
      const view = await snap.read(0, k.origin.length);
      expect(createHash("sha256").update(view).digest("hex"), k.id).toBe(k.kernel.snapshotSha256);
      checked++;
    }
    expect(checked).toBeGreaterThanOrEqual(18);
  });

  it("appends to the kernel's three-area COW where the kernel would: area 2 at chunk 67, entry 6, data chunk 74", async () => {
    // kernel-multi-area-1s: 1-sector chunks, areas 0 and 1 full, area 2 (chunk 1 + 2 * 33 = 67) holds 6 entries.
    const k = kernelCases.find((c) => c.id === "kernel-multi-area-1s")!;
    const dev = new MemoryDevice(k.cow.slice());
    const store = await PersistentStore.open(dev, { chunkSize: 1 });
    const n = store.prepare();
    expect(n).toBe(74);
    expect(await store.commit(200, n)).toBe(true);
    const v = new DataView(dev.bytes.buffer);
    const at = 67 * 512 + 6 * 16;
    expect([v.getUint32(at, true), v.getUint32(at + 4, true), v.getUint32(at + 8, true), v.getUint32(at + 12, true)]).toEqual([200, 0, 74, 0]);
    // Nothing else the kernel wrote changed.
    const before = k.cow.slice();
    before.set(dev.bytes.subarray(at, at + 16), at);
    expect(dev.bytes).toEqual(before);
    // The independent Python reader (written from docs/format.md alone) reads it back.
    const expected = [...(k.expected.exceptions as Array<[number, number]>), [200, 74]];
    const py = pythonDump(dev.bytes, 1);
    expect(py.exceptions).toEqual(expected);
    expect([py.nextFree, py.currentArea]).toEqual([75, 2]);
    expect(handReadAreas(dev.bytes, 1)).toEqual(expected);
  });
});
