/**
 * Magic 0 means "new": activation writes a fresh header and zeroes area 0. If
 * the other header words are set, or the metadata still parses at some chunk
 * size, activating (or `create`, or `write`) would destroy exceptions: the
 * 2009 race leaves exactly this when the first entry written over the header
 * is {0, 2}. One test, shared by check, dump, usage, map, create and write.
 */
import { NEW_COW_NOT_BLANK, notBlank, notBlankMessage, type SyncReader } from "@dmsnap/format";
import { CliError, Exit } from "./errors.js";

// The test itself lives in @dmsnap/format (checkReport.ts), shared with the browser explorer.
export { NEW_COW_NOT_BLANK, notBlank, notBlankFinding, notBlankMessage, type NotBlank } from "@dmsnap/format";

/** Refuses to initialise or write a magic-0 COW that is not blank, unless forced. */
export function refuseNotBlank(reader: SyncReader, path: string, doing: string, force: boolean): void {
  if (force) return;
  const e = notBlank(reader);
  if (e === null) return;
  throw new CliError(NEW_COW_NOT_BLANK, `${path}: ${notBlankMessage(e, `'${doing}' would initialise it as new (a fresh header, area 0 zeroed), destroying what is there`)}, or rerun with --force to initialise it anyway`, Exit.Image);
}
