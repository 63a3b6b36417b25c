// One size formatter for the CLI and the device map (it lives with the map in @dmsnap/format).
export { formatBytes } from "@dmsnap/format";

export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

const BINARY: Record<string, number> = { k: 10, m: 20, g: 30, t: 40, p: 50 };
const DECIMAL: Record<string, number> = { k: 3, m: 6, g: 9, t: 12, p: 15 };
const MAX = BigInt(Number.MAX_SAFE_INTEGER);

/**
 * Parses a size into bytes. Accepted forms (units are case-insensitive):
 * - a bare number: bytes (`512`);
 * - `s`: 512-byte sectors (`8s` = 4096);
 * - `B`: bytes (`4096B`);
 * - `K M G T P` and `KiB MiB GiB TiB PiB`: powers of 1024, as lvm and dmsetup read them (`4K` = `4KiB` = 4096);
 * - `kB MB GB TB PB`: powers of 1000 (`1MB` = 1000000).
 * A fraction is allowed when the result is a whole number of bytes (`1.5MiB`, `0.5K`, `4.1MB`); otherwise it is refused.
 * The decimal text is read exactly (integer arithmetic on its digits, never a
 * float): `4.1MB` is 4100000, `1.000000000000000000001K` is not whole.
 * Returns null when the text is not a size below 2^53 bytes (the caller words the error).
 */
export function parseSizeBytes(text: string): number | null {
  const m = /^\s*(\d*)(?:\.(\d+))?\s*([a-zA-Z]*)\s*$/.exec(text);
  if (!m || (m[1] === "" && m[2] === undefined)) return null;
  const unit = m[3]!.toLowerCase();
  // factor = 2^binary * 10^decimal * multiplier
  let binary = 0;
  let decimal = 0;
  let multiplier = 1n;
  if (unit === "" || unit === "b") multiplier = 1n;
  else if (unit === "s") multiplier = 512n;
  else if (unit.length === 1 && BINARY[unit] !== undefined) binary = BINARY[unit]!;
  else if (unit.length === 3 && unit.endsWith("ib") && BINARY[unit[0]!] !== undefined) binary = BINARY[unit[0]!]!;
  else if (unit.length === 2 && unit.endsWith("b") && DECIMAL[unit[0]!] !== undefined) decimal = DECIMAL[unit[0]!]!;
  else return null;
  const whole = m[1]!.replace(/^0+(?=\d)/, "");
  const fraction = (m[2] ?? "").replace(/0+$/, "");
  // Too many digits cannot be below 2^53 (16 digits) once scaled: refuse before any arithmetic on them.
  if (whole.length > 20 || fraction.length > 80) return null;
  // value = digits / 10^fraction.length, exactly
  const digits = BigInt((whole || "0") + fraction);
  const numerator = digits * multiplier * (1n << BigInt(binary)) * 10n ** BigInt(decimal);
  const denominator = 10n ** BigInt(fraction.length);
  if (numerator % denominator !== 0n) return null;
  const bytes = numerator / denominator;
  return bytes <= MAX ? Number(bytes) : null;
}
