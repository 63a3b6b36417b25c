// One size formatter for the CLI and the device map (it lives with the map in @dmsnap/format).
export { formatBytes } from "@dmsnap/format";

export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

const BINARY: Record<string, number> = { k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40, p: 2 ** 50 };
const DECIMAL: Record<string, number> = { k: 1e3, m: 1e6, g: 1e9, t: 1e12, p: 1e15 };

/**
 * Parses a size into bytes. Accepted forms (units are case-insensitive):
 * - a bare number: bytes (`512`);
 * - `s`: 512-byte sectors (`8s` = 4096);
 * - `B`: bytes (`4096B`);
 * - `K M G T P` and `KiB MiB GiB TiB PiB`: powers of 1024, as lvm and dmsetup read them (`4K` = `4KiB` = 4096);
 * - `kB MB GB TB PB`: powers of 1000 (`1MB` = 1000000).
 * A fraction is allowed when the result is a whole number of bytes (`1.5MiB`, `0.5K`); otherwise it is refused.
 * Returns null when the text is not a size (the caller words the error).
 */
export function parseSizeBytes(text: string): number | null {
  const m = /^\s*(\d+(?:\.\d+)?|\.\d+)\s*([a-zA-Z]*)\s*$/.exec(text);
  if (!m) return null;
  const value = Number(m[1]);
  const unit = m[2]!.toLowerCase();
  let factor: number | undefined;
  if (unit === "" || unit === "b") factor = 1;
  else if (unit === "s") factor = 512;
  else if (unit.length === 1) factor = BINARY[unit];
  else if (unit.length === 3 && unit.endsWith("ib")) factor = BINARY[unit[0]!];
  else if (unit.length === 2 && unit.endsWith("b")) factor = DECIMAL[unit[0]!];
  if (factor === undefined) return null;
  const bytes = value * factor;
  if (!Number.isSafeInteger(bytes)) return null;
  return bytes;
}
