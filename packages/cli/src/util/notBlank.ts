/**
 * Magic 0 means "new": first activation writes a fresh header over chunk 0 and
 * zeroes area 0. A COW is blank only when those two chunks (at the chunk size
 * in effect) are all zeros; anything else there (the 2009 race's live entries,
 * an ext4 image's superblock) would be destroyed. The test is the format's
 * (newCowNotBlank: bounded, two chunks and area 0 at each candidate size).
 * Reading commands report NEW_COW_NOT_BLANK; commands that would initialise
 * or overwrite the COW (create, restore) refuse with TARGET_NOT_BLANK.
 */
import { describeNotBlank, newCowNotBlank, notBlankNextStep, NEW_COW_NOT_BLANK, notBlankMessage, type NotBlank, type SyncReader } from "@dmsnap/format";
import { CliError, Exit } from "./errors.js";

// The finding and its message live in @dmsnap/format (checkReport.ts), shared with the browser explorer.
export { NEW_COW_NOT_BLANK, notBlankFinding, notBlankMessage, type NotBlank } from "@dmsnap/format";
export const TARGET_NOT_BLANK = "TARGET_NOT_BLANK";

/** Evidence that a COW with magic 0 is not blank at `chunkSize` (the chunk size in effect), or null. */
export function notBlank(reader: SyncReader, chunkSize: number): Promise<NotBlank | null> {
  return newCowNotBlank(reader, chunkSize);
}

/** The refusal of a command that reads the COW as a snapshot (merge, export, write): NEW_COW_NOT_BLANK, exit 1. */
export function notBlankError(e: NotBlank, path: string): CliError {
  return new CliError(NEW_COW_NOT_BLANK, `${path}: ${notBlankMessage(e)}`, Exit.Image);
}

/** Refuses to initialise a magic-0 COW that is not blank (create), unless forced: TARGET_NOT_BLANK, exit 2 (as every target that already holds data). */
export async function refuseNotBlank(reader: SyncReader, path: string, chunkSize: number, doing: string, force: boolean): Promise<void> {
  if (force) return;
  const e = await notBlank(reader, chunkSize);
  if (e === null) return;
  throw new CliError(TARGET_NOT_BLANK, `${path}: ${describeNotBlank(e)}; '${doing}' would destroy them. ${notBlankNextStep(e)}. Or rerun with --force to initialise it anyway`, Exit.Usage);
}
