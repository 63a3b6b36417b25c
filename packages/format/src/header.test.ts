import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeHeader, encodeHeader, ErrorCode, makeHeader, SNAP_MAGIC } from "./index.js";

const hex = (s: string) => Uint8Array.from(s.trim().split(/\s+/).map((b) => parseInt(b, 16)));

describe("header codec", () => {
  it("decodes a valid header written by hand from the spec (8-sector chunks)", () => {
    expect(decodeHeader(hex("53 6E 41 70 01 00 00 00 01 00 00 00 08 00 00 00"))).toEqual({
      magic: 0x70416e53,
      valid: 1,
      version: 1,
      chunkSize: 8,
    });
  });

  it("decodes the 2011 hand-flipped header as invalid (valid word 0)", () => {
    const h = decodeHeader(hex("53 6e 41 70 00 00 00 00 01 00 00 00 08 00 00 00"));
    expect(h.valid).toBe(0);
    expect(h.version).toBe(1);
    expect(h.chunkSize).toBe(8);
  });

  it("encodes a fresh header to the bytes the spec gives, zero-padded to the chunk", () => {
    const bytes = encodeHeader(makeHeader(16), 8192);
    expect(bytes.length).toBe(8192);
    expect(Array.from(bytes.subarray(0, 16))).toEqual(Array.from(hex("53 6E 41 70 01 00 00 00 01 00 00 00 10 00 00 00")));
    expect(bytes.subarray(16).every((b) => b === 0)).toBe(true);
    expect(SNAP_MAGIC).toBe(0x70416e53);
  });

  it("refuses fewer than 16 bytes with TRUNCATED", () => {
    expect(() => decodeHeader(new Uint8Array(15))).toThrowError(expect.objectContaining({ code: ErrorCode.Truncated }));
  });

  it("refuses a field that is not a u32 with INVALID_ARGUMENT", () => {
    expect(() => encodeHeader({ magic: SNAP_MAGIC, valid: -1, version: 1, chunkSize: 8 })).toThrowError(
      expect.objectContaining({ code: ErrorCode.InvalidArgument }),
    );
  });

  it("round-trips any four u32 words", () => {
    const u32 = fc.integer({ min: 0, max: 0xffffffff });
    fc.assert(
      fc.property(u32, u32, u32, u32, fc.integer({ min: 16, max: 4096 }), (magic, valid, version, chunkSize, size) => {
        const h = { magic, valid, version, chunkSize };
        const bytes = encodeHeader(h, size);
        expect(decodeHeader(bytes)).toEqual(h);
        // and the bytes are the four words little-endian, then zeros (read with a DataView, not the codec)
        const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
        expect([0, 4, 8, 12].map((at) => v.getUint32(at, true))).toEqual([magic, valid, version, chunkSize]);
        expect(bytes.length).toBe(size);
        expect(bytes.subarray(16).every((b) => b === 0)).toBe(true);
      }),
    );
  });
});
