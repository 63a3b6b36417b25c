import { DISK_VERSION, HEADER_SIZE, SNAP_MAGIC } from "./constants.js";
import { ErrorCode, FormatError } from "./errors.js";

/** The four header words exactly as stored (no interpretation). */
export interface Header {
  magic: number;
  valid: number;
  version: number;
  /** In sectors. */
  chunkSize: number;
}

/** Reads the 16 header bytes at the start of `bytes`. */
export function decodeHeader(bytes: Uint8Array): Header {
  if (bytes.length < HEADER_SIZE) {
    throw new FormatError(ErrorCode.Truncated, `the header needs ${HEADER_SIZE} bytes but the device has ${bytes.length}`, { chunk: 0, byteOffset: 0 });
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, HEADER_SIZE);
  return {
    magic: view.getUint32(0, true),
    valid: view.getUint32(4, true),
    version: view.getUint32(8, true),
    chunkSize: view.getUint32(12, true),
  };
}

/** A fresh header as the store writes it. */
export function makeHeader(chunkSize: number, valid = true): Header {
  return { magic: SNAP_MAGIC, valid: valid ? 1 : 0, version: DISK_VERSION, chunkSize };
}

/**
 * Writes the header into the first 16 bytes of `target` (a whole header
 * chunk, whose remaining bytes the caller has zeroed). Returns `target`.
 */
export function encodeHeaderInto(header: Header, target: Uint8Array): Uint8Array {
  const view = new DataView(target.buffer, target.byteOffset, HEADER_SIZE);
  for (const [offset, value, name] of [
    [0, header.magic, "magic"],
    [4, header.valid, "valid"],
    [8, header.version, "version"],
    [12, header.chunkSize, "chunkSize"],
  ] as const) {
    if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
      throw new FormatError(ErrorCode.InvalidArgument, `header field ${name} must be a 32-bit unsigned integer, got ${value}`);
    }
    view.setUint32(offset, value, true);
  }
  return target;
}

/** A header chunk of `chunkBytes` bytes: the header, then zeros. */
export function encodeHeader(header: Header, chunkBytes: number = HEADER_SIZE): Uint8Array {
  return encodeHeaderInto(header, new Uint8Array(Math.max(chunkBytes, HEADER_SIZE)));
}
