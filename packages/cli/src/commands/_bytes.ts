import { CliError, Exit } from "../util/errors.js";

/** A byte count: digits, optionally with a K, M, G or T suffix (powers of 1024; "KiB" etc. accepted). */
export function parseBytes(text: string, option: string): number {
  const m = /^\s*(\d+)\s*([KMGT])?(?:i?B)?\s*$/i.exec(text);
  const n = m ? Number(m[1]) * 1024 ** (m[2] ? "KMGT".indexOf(m[2].toUpperCase()) + 1 : 0) : NaN;
  if (!m || !Number.isSafeInteger(n)) {
    throw new CliError("BAD_OPTION", `${option} takes a whole number of bytes (optionally with K, M, G or T), got '${text}'`, Exit.Usage);
  }
  return n;
}
