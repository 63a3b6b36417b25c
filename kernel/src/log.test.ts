import { describe, expect, it } from "vitest";
import { encodeLog, LogError, parseLog } from "./log.js";

/** A log written byte by byte from the documented layout (not by encodeLog). */
function handMade(): Uint8Array {
  const b = new Uint8Array(512 * 6);
  const v = new DataView(b.buffer);
  v.setBigUint64(0, 0x6a736677736872n, true); // magic
  v.setBigUint64(8, 1n, true); // version
  v.setBigUint64(16, 4n, true); // nr_entries
  v.setUint32(24, 512, true); // sectorsize
  // entry 1 (sector 1): a plain write of one sector at sector 64, data in sector 2
  v.setBigUint64(512, 64n, true);
  v.setBigUint64(520, 1n, true);
  b.fill(0xab, 1024, 1536);
  // entry 2 (sector 3): an empty flush (FLUSH|FUA, as dm splits a preflush bio)
  v.setBigUint64(1536 + 16, 3n, true);
  // entry 3 (sector 4): a mark "ack:o:0:1:WR1"
  v.setBigUint64(2048 + 16, 8n, true);
  v.setBigUint64(2048 + 24, 13n, true);
  b.set(new TextEncoder().encode("ack:o:0:1:WR1"), 2048 + 32);
  // entry 4 (sector 5): a FUA write of zero sectors is a flush too; make it a mark-less FUA write instead
  v.setBigUint64(2560, 65n, true);
  v.setBigUint64(2560 + 8, 1n, true);
  v.setBigUint64(2560 + 16, 2n, true);
  const out = new Uint8Array(512 * 7);
  out.set(b);
  out.fill(0xcd, 3072, 3584);
  return out;
}

describe("dm-log-writes log parser", () => {
  it("reads writes, flushes, FUA and marks from hand-made bytes", () => {
    const log = parseLog(handMade());
    expect(log.sectorSize).toBe(512);
    expect(log.events.map((e) => e.kind)).toEqual(["write", "flush", "mark", "write"]);
    const w = log.events[0] as Extract<(typeof log.events)[0], { kind: "write" }>;
    expect([w.sector, w.data.length, w.data[0], w.data[511], w.fua, w.preflush]).toEqual([64, 512, 0xab, 0xab, false, false]);
    expect(log.events[2]).toEqual({ kind: "mark", text: "ack:o:0:1:WR1" });
    const f = log.events[3] as Extract<(typeof log.events)[0], { kind: "write" }>;
    expect([f.sector, f.fua, f.data[0]]).toEqual([65, true, 0xcd]);
  });

  it("encodeLog gives back what parseLog reads", () => {
    const events = parseLog(handMade()).events;
    expect(parseLog(encodeLog(events)).events).toEqual(events);
  });

  it.each([
    ["LOG_BAD_MAGIC", (b: Uint8Array) => (b[0] = 0)],
    ["LOG_BAD_VERSION", (b: Uint8Array) => (b[8] = 2)],
    ["LOG_BAD_SECTOR_SIZE", (b: Uint8Array) => (b[24] = 100)],
    ["LOG_UNKNOWN_FLAGS", (b: Uint8Array) => (b[512 + 16] = 0x40)],
    ["LOG_TRUNCATED", (b: Uint8Array) => (b[16] = 9)],
  ])("refuses a damaged log with %s and leaves the input untouched", (code, damage) => {
    const b = handMade();
    damage(b);
    const before = b.slice();
    expect(() => parseLog(b)).toThrow(LogError);
    try {
      parseLog(b);
    } catch (e) {
      expect((e as LogError).code).toBe(code);
    }
    expect(b).toEqual(before);
  });

  it("refuses a log cut inside a write's data", () => {
    expect(() => parseLog(handMade().subarray(0, 1100))).toThrow(/LOG_TRUNCATED/);
  });
});
