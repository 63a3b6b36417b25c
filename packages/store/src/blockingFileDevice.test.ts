/**
 * BlockingFileDevice (the synchronous device `dmsnap merge` uses): the bytes
 * it reads and writes are the file's, flush flags become fdatasync calls in
 * the right places, out-of-range and failing calls reject with the store's
 * errors, and a merge through it leaves the same files as a merge in memory.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { constants, promises as fsp } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { buildCow } from "@dmsnap/format/testing";
import { BlockingFileDevice } from "./blockingFileDevice.js";
import { MemoryDevice } from "./device.js";
import { isStoreError, StoreErrorCode } from "./errors.js";
import { mergeSnapshot } from "./merge.js";

const dir = mkdtempSync(join(tmpdir(), "dmsnap-blocking-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function open(path: string, flags = constants.O_RDWR): Promise<BlockingFileDevice> {
  const h = await fsp.open(path, flags);
  return BlockingFileDevice.fromHandle(path, h, (await h.stat()).size);
}

describe("BlockingFileDevice", () => {
  it("reads and writes the file's bytes; a short file reads as zeros past its end", async () => {
    const p = join(dir, "a.img");
    writeFileSync(p, Buffer.from("0123456789abcdef"));
    const d = await open(p);
    expect(Buffer.from(await d.read(4, 4)).toString()).toBe("4567");
    await d.write(8, new TextEncoder().encode("XY"));
    await d.flush();
    await d.close();
    expect(readFileSync(p, "latin1")).toBe("01234567XYabcdef");
  });

  it("rejects a range outside the device and a failing call with the store's errors", async () => {
    const p = join(dir, "b.img");
    writeFileSync(p, Buffer.alloc(1024));
    const d = await open(p);
    await expect(d.read(1000, 100)).rejects.toMatchObject({ code: StoreErrorCode.InvalidArgument });
    await expect(d.write(-1, new Uint8Array(1))).rejects.toMatchObject({ code: StoreErrorCode.InvalidArgument });
    await d.close();
    const ro = await open(p, constants.O_RDONLY);
    const err = await ro.write(0, new Uint8Array(1)).catch((e: unknown) => e);
    expect(isStoreError(err) && err.code).toBe(StoreErrorCode.IoError);
    await ro.close();
    expect(readFileSync(p).every((b) => b === 0)).toBe(true);
  });

  it("flush-before is a fdatasync before the write, FUA one after it", async () => {
    const p = join(dir, "c.img");
    writeFileSync(p, Buffer.alloc(4096));
    const h = await fsp.open(p, constants.O_RDWR);
    const order: string[] = [];
    const d = BlockingFileDevice.fromHandle(p, h, 4096, {
      readSync: () => 0,
      writeSync: (_fd, _buf, _off, length, position) => (order.push(`write ${position}`), length),
      fdatasyncSync: () => void order.push("sync"),
    });
    await d.write(0, new Uint8Array(512), { flushBefore: true, fua: true });
    await d.write(512, new Uint8Array(512));
    await d.write(1024, new Uint8Array(512), { fua: true });
    await d.flush();
    await d.close();
    expect(order).toEqual(["sync", "write 0", "sync", "write 512", "write 1024", "sync", "sync"]);
  });

  it("a merge through it leaves the files a merge in memory leaves", async () => {
    const cs = 1;
    const cb = cs * 512;
    const originChunks = 100;
    // a random-order layout across several areas (32 entries each), our own builder's
    const olds = Array.from({ length: 70 }, (_, i) => (i * 37) % originChunks);
    const built = buildCow({ chunkSize: cs, exceptions: olds, chunkData: (o) => new Uint8Array(cb).fill(1 + (o % 250)) });
    const origin = new Uint8Array(originChunks * cb).fill(0xee);
    const mo = new MemoryDevice(origin.slice());
    const mc = new MemoryDevice(built.bytes.slice());
    await mergeSnapshot({ origin: mo, cow: mc });
    const po = join(dir, "m-origin.img");
    const pc = join(dir, "m.cow");
    writeFileSync(po, origin);
    writeFileSync(pc, built.bytes);
    const fo = await open(po);
    const fc = await open(pc);
    const r = await mergeSnapshot({ origin: fo, cow: fc });
    await fo.close();
    await fc.close();
    expect(r.merged).toBe(70);
    expect(new Uint8Array(readFileSync(po))).toEqual(mo.bytes);
    expect(new Uint8Array(readFileSync(pc))).toEqual(mc.bytes);
    expect(mo.bytes[5 * 37 % originChunks * cb]).toBe(1 + ((5 * 37) % originChunks) % 250);
  });
});
