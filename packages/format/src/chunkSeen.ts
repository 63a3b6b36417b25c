/**
 * "Seen this chunk number before?" for salvage, exactly, for any number below
 * 2^53: one bit a number below 2^28 (ChunkBitmap: 256 KiB pages made as
 * numbers arrive, so at most 32 MiB, and 2 MiB for the 16 M chunks of a
 * 64 GiB COW of 4 KiB chunks), and a typed-array hash set (16 bytes a number
 * at most half full) for the numbers at or past 2^28, which only an origin or
 * a COW of more than 2^28 chunks (1 TiB of 4 KiB chunks) or corrupt entries
 * hold. Salvage's keep-the-first rule links the old and new columns (an entry
 * dropped for one column does not mark its number in the other), so the
 * numbers cannot be settled by separate hashed passes as the checker does.
 */
import { ChunkBitmap } from "./chunkBitmap.js";
import { ChunkNumberSet } from "./chunkNumberSet.js";

/** Numbers below this many are one bit each. */
export const SEEN_BITMAP_BITS = 2 ** 28;

export class ChunkSeen {
  private readonly bits: ChunkBitmap;
  private big: ChunkNumberSet | null = null;

  constructor(capBits = SEEN_BITMAP_BITS) {
    this.bits = new ChunkBitmap(capBits);
  }

  has(v: number): boolean {
    if (v < this.bits.capBits) return this.bits.has(v);
    return this.big !== null && this.big.has(v);
  }

  /** Adds `v`; false when it was there already. */
  add(v: number): boolean {
    const r = this.bits.mark(v);
    if (r >= 0) return r === 0;
    this.big ??= new ChunkNumberSet();
    return this.big.add(v);
  }

  /** Numbers held in the hash set (at or past the bitmap's cap). */
  get beyondBitmap(): number {
    return this.big?.size ?? 0;
  }
}
