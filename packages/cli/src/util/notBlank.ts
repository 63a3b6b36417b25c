/**
 * Magic 0 means "new": activation writes a fresh header and zeroes area 0. If
 * the other header words are set, or the metadata still parses at some chunk
 * size, activating (or `create`, or `write`) would destroy exceptions: the
 * 2009 race leaves exactly this when the first entry written over the header
 * is {0, 2}. One test, shared by check, dump, usage, map, create and write.
 */
import { decodeHeader, HEADER_SIZE, salvage, type Finding, type SyncReader } from "@dmsnap/format";
import { CliError, Exit } from "./errors.js";

export const NEW_COW_NOT_BLANK = "NEW_COW_NOT_BLANK";

export interface NotBlank {
  headerDirty: boolean;
  /** Sound entries salvage finds, and at which chunk size. */
  exceptions: number;
  chunkSize: number;
}

/** Evidence that a COW with magic 0 is not blank, or null (blank, or magic not 0). */
export function notBlank(reader: SyncReader): NotBlank | null {
  if (reader.size < HEADER_SIZE) return null;
  const words = reader.read(0, HEADER_SIZE);
  if (decodeHeader(words).magic !== 0) return null;
  const headerDirty = words.some((b) => b !== 0);
  const s = salvage(reader);
  if (!headerDirty && s.exceptions.count === 0) return null;
  return { headerDirty, exceptions: s.exceptions.count, chunkSize: s.chunkSize };
}

export function notBlankMessage(e: NotBlank, what = "the kernel would treat this COW as new: write a fresh header and zero area 0, destroying what is there"): string {
  return `the header magic is 0, so ${what}. But ${e.headerDirty ? "the other header words are not zero" : "the header is blank"}${e.exceptions > 0 ? ` and ${e.exceptions} exception(s) parse at chunk size ${e.chunkSize}` : ""}: this is what the 2009 race leaves when the first entry written over the header is {0, 2}. Do not activate it; ${e.chunkSize !== 0 ? "run 'dmsnap repair <cow> --output <file>' first" : "no chunk size makes its metadata parse, so 'dmsnap repair' cannot salvage it (unless you know the chunk size: --chunk-size <sectors>); inspect it with 'dmsnap map'"}`;
}

export function notBlankFinding(e: NotBlank): Finding {
  return { code: NEW_COW_NOT_BLANK, severity: "warning", message: notBlankMessage(e), location: { chunk: 0, byteOffset: 0 } };
}

/** Refuses to initialise or write a magic-0 COW that is not blank, unless forced. */
export function refuseNotBlank(reader: SyncReader, path: string, doing: string, force: boolean): void {
  if (force) return;
  const e = notBlank(reader);
  if (e === null) return;
  throw new CliError(NEW_COW_NOT_BLANK, `${path}: ${notBlankMessage(e, `'${doing}' would initialise it as new (a fresh header, area 0 zeroed), destroying what is there`)}, or rerun with --force to initialise it anyway`, Exit.Image);
}
