/**
 * Chunk numbers are u64 on disk and doubles below 2^53 here: the one place
 * that splits a chunk number into its two little-endian 32-bit words and
 * joins them back.
 */

export const TWO_32 = 4294967296;
/** A high word above this means the u64 is 2^53 or more. */
export const MAX_SAFE_HIGH = 0x1fffff;
/** On a little-endian host an entry's fields are native Uint32 words. */
export const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** The low 32 bits of `n` (0 <= n < 2^53). */
export function low32(n: number): number {
  return n >>> 0;
}

/** The high 32 bits of `n` (0 <= n < 2^53). */
export function high32(n: number): number {
  return (n / TWO_32) >>> 0;
}

/** The number whose words are `low` and `high` (exact while high <= MAX_SAFE_HIGH). */
export function joinU64(low: number, high: number): number {
  return high * TWO_32 + low;
}
