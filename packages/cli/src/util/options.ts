import { Option } from "commander";
import { CliError, Exit } from "./errors.js";
import { parseSizeBytes } from "./units.js";

// In its own file so that the dump fast path (dumpJson.ts) does not load commander.
export { parseSectors } from "./sectors.js";

/** A size in bytes: a bare number is bytes; units as in parseSizeBytes (4KiB, 1GiB, 8s, 1.5MiB). */
export function parseSize(text: string, option: string): number {
  const bytes = parseSizeBytes(text);
  if (bytes === null) {
    throw new CliError("BAD_OPTION", `${option} takes a size: bytes (4096), sectors (8s) or a unit (4KiB, 1GiB, 1.5MiB; K/M/G = KiB/MiB/GiB, kB/MB/GB = powers of 1000), got '${text}'`, Exit.Usage);
  }
  return bytes;
}

/**
 * `-q, --quiet`, on every command: no result, summary or warning; errors still
 * go to stderr and the exit code is the answer. It conflicts with --json and
 * --progress (which ask for output) and with `also`, the command's other
 * options that only change what is printed.
 */
export function quietOption(what = "print nothing but errors (on stderr); the exit code is the answer", also: string[] = []): Option {
  return new Option("-q, --quiet", what).conflicts(["json", "progress", ...also]);
}

/** Two options that commander cannot declare as conflicting (a value of one with another): refused the same way. */
export function conflicting(a: string, b: string): CliError {
  return new CliError("CONFLICTING_OPTIONS", `option '${a}' cannot be used with option '${b}'`, Exit.Usage);
}
