import { CliError, Exit } from "./errors.js";

/** A positive whole number of sectors. */
export function parseSectors(text: string, option: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(n)) {
    throw new CliError("BAD_OPTION", `${option} takes a whole number of 512-byte sectors, got '${text}'`, Exit.Usage);
  }
  return n;
}
