/**
 * A COW whose magic is 0 is "new": activation would write a fresh header and
 * zero area 0. Commands that read it as an existing snapshot (merge, export,
 * write) must not take "magic 0" for "blank": when the header chunk or area 0
 * holds anything (the 2009 race's live entries, an ext4 image given by
 * mistake), a blank answer ("nothing to merge", the origin exported as the
 * snapshot, a fresh header written) would be wrong or destroy it.
 */
import { decodeCowAsync, decodeHeader, defaultChunkSize, describeNotBlank, HEADER_SIZE, newCowNotBlank, notBlankNextStep } from "@dmsnap/format";
import { deviceReader, type BlockDevice } from "./device.js";
import { StoreError, StoreErrorCode } from "./errors.js";

export interface NewCowOptions {
  /** The table's chunk size (0 or absent: the kernel's default). */
  tableChunkSize?: number;
  /** Run activation's checks first (the table chunk size, TRUNCATED), as the kernel does before it writes; merge, which activates nothing, does not. */
  activate?: boolean;
  /** Appended to the refusal's message. */
  hint?: string;
}

/**
 * For a COW with magic 0: refuses with NEW_COW_NOT_BLANK unless its header
 * chunk and area 0 (at the table's chunk size, or the kernel's default) are
 * all zeros. Returns true for a blank COW, false when the magic is not 0
 * (then activation decides). Bounded: reads at most those two chunks and
 * area 0 at each candidate chunk size.
 */
export async function isBlankNewCow(cow: BlockDevice, name: string, options: NewCowOptions = {}): Promise<boolean> {
  if (cow.size < HEADER_SIZE) return false;
  if (decodeHeader(await cow.read(0, HEADER_SIZE)).magic !== 0) return false;
  const table = options.tableChunkSize ? { tableChunkSize: options.tableChunkSize } : {};
  // The kernel's order: the table's chunk size check and TRUNCATED come before this test.
  const cs = options.activate ? (await decodeCowAsync(deviceReader(cow), { ...table, logicalBlockSize: cow.logicalBlockSize })).chunkSize : (options.tableChunkSize || defaultChunkSize(cow.logicalBlockSize));
  const e = await newCowNotBlank(deviceReader(cow), cs);
  if (e === null) return true;
  throw new StoreError(StoreErrorCode.NewCowNotBlank, `${name}: ${describeNotBlank(e)}. ${notBlankNextStep(e)}${options.hint ?? ""}`);
}
