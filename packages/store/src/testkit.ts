/** Helpers shared by the store's tests (not exported from the package). */
import { bytesReader, decodeCow, type CowImage } from "@dmsnap/format";

/** Lets every ready continuation run (promises settle across a few macrotask turns). */
export async function drain(turns = 2): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise<void>((r) => setImmediate(r));
}

/** Activation of an image in memory; returns the error instead of throwing. */
export function activate(bytes: Uint8Array, tableChunkSize?: number): CowImage | Error {
  try {
    return decodeCow(bytesReader(bytes), tableChunkSize === undefined ? {} : { tableChunkSize });
  } catch (e) {
    return e as Error;
  }
}

export function pairsOf(image: CowImage): Array<[number, number]> {
  return image.exceptions.toPairs();
}

/** Seed count for the randomised suites: DMSNAP_SIM_SEEDS overrides, DMSNAP_SIM_SEED replays one. */
export function seeds(defaultCount: number, salt: number): number[] {
  const one = process.env.DMSNAP_SIM_SEED;
  if (one !== undefined && one !== "") return [Number(one)];
  const n = Number(process.env.DMSNAP_SIM_SEEDS ?? defaultCount);
  const scale = Number.isFinite(n) && n > 0 ? n : defaultCount;
  return Array.from({ length: scale }, (_, i) => (salt * 1_000_003 + i) >>> 0);
}
