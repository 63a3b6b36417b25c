/** Bytes in a sector. Every size in the format is counted in sectors or chunks. */
export const SECTOR_SIZE = 512;
/** "SnAp" read as a little-endian u32 (bytes 53 6E 41 70). */
export const SNAP_MAGIC = 0x70416e53;
/** The only on-disk version there has ever been. */
export const DISK_VERSION = 1;
/** Header fields: magic, valid, version, chunk_size — four little-endian u32. */
export const HEADER_SIZE = 16;
/** One exception entry: old_chunk u64 LE, new_chunk u64 LE. */
export const EXCEPTION_SIZE = 16;
/** Chunk 0 holds the header. */
export const HEADER_CHUNK = 0;
/** The kernel's default chunk size in sectors when the table gives 0. */
export const DEFAULT_CHUNK_SIZE = 32;
/** The kernel caps the chunk size at INT_MAX >> 9 sectors. */
export const MAX_CHUNK_SIZE = 0x7fffffff >>> 9;
/** First chunk number handed out by a fresh store (0 = header, 1 = area 0). */
export const FIRST_DATA_CHUNK = 2;
/** Chunk numbers are u64 on disk; this implementation keeps them in doubles. */
export const MAX_CHUNK_NUMBER = Number.MAX_SAFE_INTEGER;
