/**
 * Stable error codes. A code never changes meaning once published; tools and
 * the conformance suite match on it. docs/format.md#error-codes lists them.
 */
export const ErrorCode = {
  /** Header magic is neither 0 (new) nor "SnAp". Kernel: "Invalid or corrupt snapshot". */
  BadMagic: "BAD_MAGIC",
  /** Header version is not 1. Kernel: "unable to handle snapshot disk version". */
  UnsupportedVersion: "UNSUPPORTED_VERSION",
  /** Chunk size is 0, not a power of two, not a multiple of the logical block size, or too large. */
  InvalidChunkSize: "INVALID_CHUNK_SIZE",
  /** The device ends before a chunk the kernel must read (header or a metadata area). */
  Truncated: "TRUNCATED",
  /** A chunk number uses bits at or beyond 2^53, which this implementation cannot represent exactly. */
  ChunkNumberTooLarge: "CHUNK_NUMBER_TOO_LARGE",
  /** Arguments to an encoder or builder do not describe a possible image. */
  InvalidArgument: "INVALID_ARGUMENT",
  /** A lossless dump is not one, or describes no possible image (restore writes nothing). */
  DumpInvalid: "DUMP_INVALID",
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** Where in the device a problem sits. Every field is optional. */
export interface Location {
  chunk?: number;
  area?: number;
  index?: number;
  byteOffset?: number;
}

/** A refusal: the kernel would not activate this image (or we cannot represent it). */
export class FormatError extends Error {
  override readonly name = "FormatError";
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly location: Location = {},
  ) {
    super(message);
  }

  toJSON(): { code: ErrorCode; message: string; location?: Location } {
    const out: { code: ErrorCode; message: string; location?: Location } = { code: this.code, message: this.message };
    if (Object.keys(this.location).length > 0) out.location = this.location;
    return out;
  }
}

export function isFormatError(e: unknown): e is FormatError {
  return e instanceof FormatError;
}
