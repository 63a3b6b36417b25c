import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { mkdtemp, readFile, rm, writeFile, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bytesReader, decodeCow } from "@dmsnap/format";
import { damage } from "@dmsnap/format/testing";
import { applyWrite, createCow, initialiseCow } from "./commands.js";
import { FileDevice } from "./fileDevice.js";
import { exportSnapshot } from "./export.js";
import { Rng } from "./rng.js";
import { handAllocation, handReadAreas } from "./testkit.js";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "dmsnap-cmd-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const CS = 8; // 4 KiB chunks
const CB = CS * 512;

async function setup(name: string, originChunks = 16, cowBytes = 64 * CB) {
  const rng = new Rng(name.length * 7919);
  const origin = join(dir, `${name}.origin`);
  const cow = join(dir, `${name}.cow`);
  const data = rng.bytes(originChunks * CB - 100); // a partial last chunk
  await writeFile(origin, data);
  const created = await createCow({ cow, chunkSize: CS, size: cowBytes });
  return { origin, cow, data, rng, created };
}

async function exported(origin: string, cow: string, name = "out"): Promise<Uint8Array> {
  const output = join(dir, `${name}.img`);
  await exportSnapshot({ origin, cow, output, blockBytes: 3 * CB });
  return new Uint8Array(await readFile(output));
}

describe("create", () => {
  it("initialises a new COW file like the kernel's first activation", async () => {
    const { cow, created } = await setup("create");
    expect(created).toMatchObject({ created: true, chunkSize: CS, deviceBytes: 64 * CB, status: `16/${64 * CS} 16` });
    const img = decodeCow(bytesReader(new Uint8Array(await readFile(cow))));
    expect(img.state).toBe("valid");
    expect(img.exceptions.count).toBe(0);
  });

  it("initialises an existing zeroed file and refuses one that holds a snapshot", async () => {
    const cow = join(dir, "existing.cow");
    await writeFile(cow, new Uint8Array(10 * CB));
    expect((await createCow({ cow, chunkSize: CS })).created).toBe(false);
    await expect(createCow({ cow, chunkSize: CS })).rejects.toMatchObject({ code: "ALREADY_INITIALISED" });
  });

  it("refuses a bad chunk size, a missing size, and a non-SnAp header with dump's codes", async () => {
    await expect(createCow({ cow: join(dir, "x.cow"), chunkSize: 3, size: 8192 })).rejects.toMatchObject({ code: "INVALID_CHUNK_SIZE" });
    await expect(createCow({ cow: join(dir, "y.cow"), chunkSize: 8 })).rejects.toMatchObject({ code: "INVALID_ARGUMENT" });
    const bad = join(dir, "bad.cow");
    await writeFile(bad, Uint8Array.from([1, 2, 3, 4, ...new Array(8188).fill(0)]));
    await expect(createCow({ cow: bad, chunkSize: 8 })).rejects.toMatchObject({ code: "BAD_MAGIC" });
  });
});

describe("initialiseCow: one activation", () => {
  /** Reads of the header sector while initialising: one activation reads it once. */
  async function headerReads(path: string): Promise<{ reads: number; error?: string }> {
    const dev = await FileDevice.open(path);
    const read = vi.spyOn(dev, "read");
    try {
      await initialiseCow(dev, path, CS);
      return { reads: read.mock.calls.filter(([offset]) => offset === 0).length };
    } catch (e) {
      return { reads: read.mock.calls.filter(([offset]) => offset === 0).length, error: (e as { code?: string }).code };
    } finally {
      await dev.close();
    }
  }

  it("decodes a blank COW once, then writes it; a snapshot once, and refuses it without writing", async () => {
    const cow = join(dir, "once.cow");
    await writeFile(cow, new Uint8Array(64 * CB));
    expect(await headerReads(cow)).toEqual({ reads: 1 });
    const before = await readFile(cow);
    expect(await headerReads(cow)).toEqual({ reads: 1, error: "ALREADY_INITIALISED" });
    expect(Buffer.compare(await readFile(cow), before)).toBe(0);
  });

  it("a bad chunk size is refused before the device is read", async () => {
    const cow = join(dir, "once-bad.cow");
    await writeFile(cow, new Uint8Array(64 * CB));
    const dev = await FileDevice.open(cow);
    const read = vi.spyOn(dev, "read");
    try {
      await expect(initialiseCow(dev, cow, 3)).rejects.toMatchObject({ code: "INVALID_CHUNK_SIZE" });
      expect(read).not.toHaveBeenCalled();
    } finally {
      await dev.close();
    }
  });
});

describe("write and export", () => {
  it("an origin write changes the origin and leaves the snapshot view unchanged", async () => {
    const { origin, cow, data, rng } = await setup("origin");
    const input = join(dir, "origin.in");
    const patch = rng.bytes(3 * CB + 17);
    await writeFile(input, patch);
    const r = await applyWrite({ origin, cow, offset: CB + 5, input });
    expect(r).toMatchObject({ target: "origin", bytes: patch.length, exceptionsAdded: 4 });
    const now = new Uint8Array(await readFile(origin));
    const expectedOrigin = data.slice();
    expectedOrigin.set(patch, CB + 5);
    expect(now).toEqual(expectedOrigin);
    expect(await exported(origin, cow, "origin")).toEqual(data);
    // again over the same chunks: no new exceptions, view still the original
    expect((await applyWrite({ origin, cow, offset: CB + 5, input })).exceptionsAdded).toBe(0);
    expect(await exported(origin, cow, "origin2")).toEqual(data);
  });

  it("a snapshot write changes only the view", async () => {
    const { origin, cow, data, rng } = await setup("snap");
    const input = join(dir, "snap.in");
    const patch = rng.bytes(2 * CB + 100); // partial, whole and partial chunk
    await writeFile(input, patch);
    await applyWrite({ origin, cow, offset: 2 * CB - 50, input, target: "snapshot" });
    expect(new Uint8Array(await readFile(origin))).toEqual(data);
    const view = data.slice();
    view.set(patch, 2 * CB - 50);
    expect(await exported(origin, cow, "snap")).toEqual(view);
    // the last, partial chunk
    await writeFile(input, patch.subarray(0, CB - 100));
    await applyWrite({ origin, cow, offset: data.length - (CB - 100), input, target: "snapshot" });
    view.set(patch.subarray(0, CB - 100), data.length - (CB - 100));
    expect(await exported(origin, cow, "snap2")).toEqual(view);
  });

  it("refuses writes past the origin, same files, and invalid or corrupt COWs", async () => {
    const { origin, cow, data } = await setup("refuse");
    const input = join(dir, "refuse.in");
    await writeFile(input, new Uint8Array(200));
    await expect(applyWrite({ origin, cow, offset: data.length - 100, input })).rejects.toMatchObject({ code: "ORIGIN_SIZE" });
    await expect(applyWrite({ origin, cow: origin, offset: 0, input })).rejects.toMatchObject({ code: "SAME_FILE" });
    await expect(exportSnapshot({ origin, cow, output: cow })).rejects.toMatchObject({ code: "SAME_FILE" });
    const bytes = new Uint8Array(await readFile(cow));
    await writeFile(cow, damage.setHeaderField(bytes, "valid", 0));
    await expect(exportSnapshot({ origin, cow, output: join(dir, "x.img") })).rejects.toMatchObject({ code: "SNAPSHOT_INVALID" });
    await expect(applyWrite({ origin, cow, offset: 0, input, target: "snapshot" })).rejects.toMatchObject({ code: "SNAPSHOT_INVALID" });
    await writeFile(cow, damage.setHeaderField(bytes, "magic", 0x1234));
    await expect(exportSnapshot({ origin, cow, output: join(dir, "x.img") })).rejects.toMatchObject({ code: "BAD_MAGIC" });
    await expect(applyWrite({ origin, cow, offset: 0, input })).rejects.toMatchObject({ code: "BAD_MAGIC" });
    await writeFile(cow, damage.setHeaderField(bytes, "chunkSize", 0));
    await expect(applyWrite({ origin, cow, offset: 0, input })).rejects.toMatchObject({ code: "INVALID_CHUNK_SIZE" });
    await expect(stat(join(dir, "x.img"))).rejects.toMatchObject({ code: "ENOENT" });
  });

  it("a full COW: the origin write happens, the snapshot is invalidated (NO_SPACE)", async () => {
    const { origin, cow, rng } = await setup("full", 16, 5 * CB); // room for 3 data chunks
    const input = join(dir, "full.in");
    const patch = rng.bytes(6 * CB);
    await writeFile(input, patch);
    await expect(applyWrite({ origin, cow, offset: 0, input })).rejects.toMatchObject({ code: "NO_SPACE" });
    expect(new Uint8Array(await readFile(origin)).subarray(0, patch.length)).toEqual(patch);
    const img = decodeCow(bytesReader(new Uint8Array(await readFile(cow))));
    expect(img.state).toBe("invalid");
  });

  it("overflow mode: a snapshot write to a full COW fails with OVERFLOW and the snapshot stays valid", async () => {
    const { origin, cow, data, rng } = await setup("overflow", 16, 5 * CB);
    const input = join(dir, "overflow.in");
    await writeFile(input, rng.bytes(5 * CB));
    await expect(applyWrite({ origin, cow, offset: 0, input, target: "snapshot", overflow: true })).rejects.toMatchObject({ code: "OVERFLOW" });
    const img = decodeCow(bytesReader(new Uint8Array(await readFile(cow))));
    expect(img.state).toBe("valid");
    expect(new Uint8Array(await readFile(origin))).toEqual(data);
  });

  it("an origin write over more chunks than one area holds: area 1 at chunk 34, the view unchanged", async () => {
    // 1-sector chunks: E = 32; area 0 is chunk 1 (data 2..33), area 1 chunk 34 (data 35..).
    const origin = join(dir, "areas.origin");
    const cow = join(dir, "areas.cow");
    const rng = new Rng(34);
    const data = rng.bytes(40 * 512 - 100);
    await writeFile(origin, data);
    await createCow({ cow, chunkSize: 1, size: 50 * 512 });
    const input = join(dir, "areas.in");
    await writeFile(input, rng.bytes(data.length));
    expect((await applyWrite({ origin, cow, offset: 0, input })).exceptionsAdded).toBe(40);
    expect(await exported(origin, cow, "areas")).toEqual(data);
    const bytes = new Uint8Array(await readFile(cow));
    const pairs = handReadAreas(bytes, 1);
    expect(pairs.map((p) => p[1]).sort((a, b) => a - b)).toEqual(handAllocation(1, 40));
    expect(pairs.map((p) => p[0]).sort((a, b) => a - b)).toEqual(Array.from({ length: 40 }, (_, i) => i));
    expect(bytes.subarray(34 * 512, 34 * 512 + 16).some((b) => b !== 0)).toBe(true);
    const img = decodeCow(bytesReader(bytes));
    expect([img.currentArea, img.currentIndex, img.nextFree]).toEqual([1, 8, 43]);
  });
});
