import { describe, expect, it } from "vitest";
import { MemoryDevice } from "./device.js";
import type { WriteFlags } from "./device.js";
import { Snapshot } from "./snapshot.js";

/**
 * The open hole of Linux 6.1 (docs/kernel-findings.md, model configuration
 * `origin-before-header`): an origin write must not reach the origin while the
 * header write that invalidates the snapshot is still in flight, or a crash
 * can leave a valid header over post-snapshot origin data.
 */
class GatedHeaderDevice extends MemoryDevice {
  armed = false;
  inFlight = 0;
  private release: (() => void) | null = null;
  private gate: Promise<void> | null = null;

  override async write(offset: number, data: Uint8Array, _flags?: WriteFlags): Promise<void> {
    if (this.armed && offset === 0) {
      this.inFlight++;
      this.gate ??= new Promise<void>((r) => (this.release = r));
      await this.gate;
      this.inFlight--;
    }
    return super.write(offset, data);
  }

  open(): void {
    this.release?.();
  }
}

const tick = () => new Promise<void>((r) => setImmediate(r));

describe("invalidation ordering", () => {
  it("holds a later origin write until the invalidating header write completes", async () => {
    const cs = 512; // 1-sector chunks
    const origin = new MemoryDevice(16 * cs);
    origin.bytes.fill(0x11);
    // Header, area 0 and two data chunks: the third origin chunk overflows.
    const cow = new GatedHeaderDevice(4 * cs);
    const snap = await Snapshot.open(origin, cow, { chunkSize: 1 });
    const post = new Uint8Array(cs).fill(0x22);
    await snap.writeOrigin(0 * cs, post);
    await snap.writeOrigin(1 * cs, post);
    cow.armed = true;
    const overflowing = snap.writeOrigin(2 * cs, post);
    for (let i = 0; i < 5 && cow.inFlight === 0; i++) await tick();
    expect(cow.inFlight).toBe(1); // the invalidating header write is held
    expect(snap.valid).toBe(false);
    const later = snap.writeOrigin(5 * cs, post);
    for (let i = 0; i < 5; i++) await tick();
    // Neither origin write may be on the origin yet.
    expect(origin.bytes[2 * cs]).toBe(0x11);
    expect(origin.bytes[5 * cs]).toBe(0x11);
    cow.open();
    await Promise.all([overflowing, later]);
    expect(origin.bytes[2 * cs]).toBe(0x22);
    expect(origin.bytes[5 * cs]).toBe(0x22);
    // Header bytes 4..7 hold `valid` (little-endian): now 0.
    expect(new DataView(cow.bytes.buffer).getUint32(4, true)).toBe(0);
  });
});
