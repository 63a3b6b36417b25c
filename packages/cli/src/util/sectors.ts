import { SECTOR_SIZE, sectorsIn } from "@dmsnap/format";
import { CliError, Exit } from "./errors.js";
import { parseSizeBytes } from "./units.js";

/**
 * A chunk size or other count of 512-byte sectors. A bare number is sectors
 * (as in a dm table: `8`); a number with a unit is a size that must be a whole
 * number of sectors (`4KiB` = 8, `8s` = 8).
 */
export function parseSectors(text: string, option: string): number {
  if (/^\s*\d+\s*$/.test(text)) {
    const n = Number(text);
    if (Number.isSafeInteger(n)) return n;
  }
  const bytes = /[a-zA-Z]/.test(text) ? parseSizeBytes(text) : null;
  if (bytes === null || bytes % SECTOR_SIZE !== 0) {
    throw new CliError("BAD_OPTION", `${option} takes a whole number of 512-byte sectors (8) or a size that is one (4KiB, 8s), got '${text}'`, Exit.Usage);
  }
  return sectorsIn(bytes);
}
