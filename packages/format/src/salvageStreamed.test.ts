/**
 * salvageStreamed (repair's salvage, in bounded memory) against salvage and
 * against the keep-the-first rule restated here with JavaScript Sets: the
 * same kept entries in the same order, the same counts and dropped entries,
 * with duplicates in both columns, chains of them (an entry dropped for its
 * new chunk leaves its old chunk to a later one), and old chunks far past the
 * bitmap's 2^28 (the hash-set part of ChunkSeen).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { bytesReader, salvage, salvageStreamed } from "./index.js";
import { buildCow } from "./testing.js";
import { ChunkSeen } from "./chunkSeen.js";

/** The rule of docs/cli.md (repair, Entries), for entries whose numbers are below 2^53 and whose new chunk lies in the device. */
function keepFirst(pairs: Array<[number, number]>, chunkSize: number): Array<[number, number]> {
  const perArea = chunkSize * 32;
  // Area a sits at chunk 1 + a * (perArea + 1) (docs/format.md); chunk 0 is the header.
  const isMetadata = (c: number): boolean => c === 0 || (c - 1) % (perArea + 1) === 0;
  const olds = new Set<number>();
  const news = new Set<number>();
  const kept: Array<[number, number]> = [];
  for (const [o, n] of pairs) {
    if (isMetadata(n) || olds.has(o) || news.has(n)) continue;
    news.add(n);
    olds.add(o);
    kept.push([o, n]);
  }
  return kept;
}

function streamed(s: ReturnType<typeof salvageStreamed>): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (const { table, from, count } of s.batches()) for (let i = from; i < from + count; i++) out.push([table.oldChunk[i]!, table.newChunk[i]!]);
  return out;
}

const BIG = 2 ** 40;
/** Few distinct numbers, so both columns repeat; some old chunks past 2^28 and past 2^32. */
const pairList = fc.array(
  fc.tuple(
    fc.oneof(fc.integer({ min: 0, max: 20 }), fc.integer({ min: 0, max: 3 }).map((k) => BIG + k), fc.constant(2 ** 28 + 1)),
    fc.integer({ min: 1, max: 90 }),
  ),
  { maxLength: 200 },
);

describe("salvageStreamed", () => {
  it("keeps what salvage keeps, in the same order, and reports the same (property)", () => {
    fc.assert(
      fc.property(pairList, fc.constantFrom(1, 2), (pairs, chunkSize) => {
        const built = buildCow({ chunkSize, exceptions: pairs, freeChunks: 4 });
        const whole = salvage(bytesReader(built.bytes));
        const s = salvageStreamed(bytesReader(built.bytes));
        const want = keepFirst(pairs, chunkSize);
        expect(whole.exceptions.toPairs()).toEqual(want);
        expect(streamed(s)).toEqual(want);
        // A second walk hands over the same entries.
        expect(streamed(s)).toEqual(want);
        expect(s.kept).toBe(want.length);
        expect(s.maxNewChunk).toBe(want.length > 0 ? Math.max(...want.map(([, n]) => n)) : -1);
        const { exceptions: _table, ...summary } = whole;
        const { batches: _batches, ...streamedSummary } = s;
        expect(streamedSummary).toEqual(summary);
      }),
      { numRuns: 300 },
    );
  });

  it("an entry dropped for its new chunk leaves its old chunk to a later entry, also past 2^28", () => {
    // By hand: [BIG, 5] kept; [BIG + 1, 5] dropped (new chunk 5 taken), so BIG + 1 stays free; [BIG + 1, 6] kept; [BIG, 7] dropped (old chunk BIG taken).
    const pairs: Array<[number, number]> = [
      [BIG, 5],
      [BIG + 1, 5],
      [BIG + 1, 6],
      [BIG, 7],
    ];
    const s = salvageStreamed(bytesReader(buildCow({ chunkSize: 1, exceptions: pairs, freeChunks: 2 }).bytes));
    expect(streamed(s)).toEqual([
      [BIG, 5],
      [BIG + 1, 6],
    ]);
    expect(s.droppedByReason).toEqual({ DUPLICATE_NEW_CHUNK: 1, DUPLICATE_OLD_CHUNK: 1 });
  });
});

describe("ChunkSeen", () => {
  it("answers exactly below and past its bitmap, and keeps only the numbers past it in the hash set", () => {
    const seen = new ChunkSeen(64);
    for (const v of [0, 63, 64, 2 ** 28, 2 ** 52 + 1]) {
      expect(seen.has(v)).toBe(false);
      expect(seen.add(v)).toBe(true);
      expect(seen.has(v)).toBe(true);
      expect(seen.add(v)).toBe(false);
    }
    expect(seen.has(1)).toBe(false);
    expect(seen.has(65)).toBe(false);
    expect(seen.beyondBitmap).toBe(3);
  });
});
