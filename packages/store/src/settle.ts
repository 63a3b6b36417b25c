/**
 * Two small helpers of the simulation and the model replay (shipped in
 * `@dmsnap/store/testing` and `/trace`), kept apart from the repository-only
 * test kit (testkit.ts) so that nothing of it is bundled into the packages.
 */
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
