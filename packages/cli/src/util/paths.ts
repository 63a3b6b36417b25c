/**
 * The path rule (docs/cli.md "Safety rules"): a name dmsnap is given is used
 * byte for byte, or refused before anything is opened.
 *
 * Node decodes the command line as UTF-8 and replaces every invalid byte with
 * U+FFFD, so `caf\xe9.img` arrives as `caf\uFFFD.img`, the name of a different
 * file; the original bytes cannot be passed to any fs call from a string. So
 * an argument holding U+FFFD is compared with the raw bytes of the command
 * line (/proc/self/cmdline): when they differ (or cannot be read) the run is
 * refused with PATH_NOT_UTF8. A name that really contains U+FFFD (valid UTF-8)
 * is used as given. Symlinks an output is reached through are checked the
 * same way (readlink would also decode lossily).
 */
import { readFileSync } from "node:fs";
import { CliError, Exit } from "./errors.js";

const REPLACEMENT = "\uFFFD";
const utf8 = new TextDecoder("utf-8", { fatal: true });

/** True when `bytes` are valid UTF-8. */
export function isUtf8(bytes: Uint8Array): boolean {
  try {
    utf8.decode(bytes);
    return true;
  } catch {
    return false;
  }
}

/** The bytes shown in a message: ASCII as is, others as \xNN (as bash's $'...' quoting reads them back). */
export function showBytes(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += b >= 0x20 && b < 0x7f && b !== 0x5c ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, "0")}`;
  return s;
}

/** PATH_NOT_UTF8 for `what` (e.g. "argument 3"), showing its bytes when known. */
export function notUtf8(what: string, bytes: Uint8Array | null, shown: string): CliError {
  const name = bytes ? `$'${showBytes(bytes)}'` : `'${shown}'`;
  return new CliError(
    "PATH_NOT_UTF8",
    `${what} (${name}) is not valid UTF-8; dmsnap opens names only byte for byte and this one cannot be passed on exactly (it would name a different file); nothing was written; rename the file to a UTF-8 name (mv $'...' new-name, or convmv) and rerun`,
    Exit.Usage,
  );
}

/** The raw arguments after the script, from /proc/self/cmdline; null where it cannot be read. */
function rawArguments(count: number): Buffer[] | null {
  let raw: Buffer;
  try {
    raw = readFileSync("/proc/self/cmdline");
  } catch {
    return null;
  }
  const parts: Buffer[] = [];
  for (let start = 0; start < raw.length; ) {
    let end = raw.indexOf(0, start);
    if (end < 0) end = raw.length;
    parts.push(raw.subarray(start, end));
    start = end + 1;
  }
  // The user's arguments are the last ones (node's own options and the script come first).
  return parts.length >= count ? parts.slice(parts.length - count) : null;
}

/**
 * Refuses PATH_NOT_UTF8 when an argument of this process's command line was
 * not valid UTF-8. `argv` as process.argv; other arrays (a program calling
 * main) are exact strings already and pass.
 */
export function refuseLossyArguments(argv: readonly string[]): void {
  if (argv !== process.argv) return;
  const args = argv.slice(2);
  const suspects = args.map((a, i) => (a.includes(REPLACEMENT) ? i : -1)).filter((i) => i >= 0);
  if (suspects.length === 0) return;
  const raw = rawArguments(args.length);
  for (const i of suspects) {
    const bytes = raw?.[i] ?? null;
    if (bytes && isUtf8(bytes) && bytes.equals(Buffer.from(args[i]!, "utf8"))) continue;
    throw notUtf8(`argument ${i + 1}`, bytes && !isUtf8(bytes) ? bytes : null, args[i]!);
  }
}

/**
 * A file name given for `role`: `''` is a usage error (not "the current
 * folder"), and `-` means a standard stream everywhere (dump -o, map --svg,
 * restore's dump): a command that reads or writes this file at offsets
 * cannot use one and refuses it (`./-` names a file called -).
 */
export function checkFileName(path: string, role: string, direction: "input" | "output"): void {
  if (path === "") throw new CliError("BAD_OPTION", `${role} is empty; give a file name`, Exit.Usage);
  if (path === "-") {
    const stream = direction === "input" ? "standard input" : "standard output";
    throw new CliError(
      "STDIO_NOT_SUPPORTED",
      `${role} '-' means ${stream}, which this command cannot use for it (${direction === "input" ? "it is read at offsets" : "it is written at offsets and put in place whole"}); give a file name ('./-' for a file named -)`,
      Exit.Usage,
    );
  }
}
