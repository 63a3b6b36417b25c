// Shared by the case tools (assemble.mjs, derive.mjs). Plain code: nothing
// here decodes metadata the way the code under test does.
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { gunzipSync, gzipSync } from "node:zlib";

export const SUITE = resolve(dirname(fileURLToPath(import.meta.url)), "..");
export const CASES = join(SUITE, "cases");
export const SECTOR = 512;

export const sha256 = (b) => createHash("sha256").update(b).digest("hex");
export const readImage = (p) => (p.endsWith(".gz") ? gunzipSync(readFileSync(p)) : readFileSync(p));
/** gzip without a name or time stamp (like gzip -n), so regenerating gives identical bytes. */
export const gz = (b) => gzipSync(b, { level: 9 });

export function writeJson(path, value) {
  writeFileSync(path, `${JSON.stringify(value, null, 2).replace(/\[\n\s+(\d+),\n\s+(\d+)\n\s+\]/g, "[$1, $2]")}\n`);
}

/**
 * The snapshot view from origin + COW + an exception list, in the plainest
 * terms: origin chunk c reads from COW chunk new_chunk when c has an
 * exception, else from the origin; the last chunk may be partial.
 * policy "last": a later entry for the same old_chunk replaces an earlier one;
 * "first": the first entry stays. Returns null if an exception points past the COW.
 */
export function viewSha(origin, cow, chunkSize, exceptions, policy = "last") {
  const cb = chunkSize * SECTOR;
  const map = new Map();
  for (const [o, n] of exceptions) if (policy === "last" || !map.has(o)) map.set(o, n);
  const view = Buffer.from(origin);
  for (const [o, n] of map) {
    const at = o * cb;
    if (at >= origin.length) continue;
    const len = Math.min(cb, origin.length - at);
    if (n * cb + len > cow.length) return null;
    cow.copy(view, at, n * cb, n * cb + len);
  }
  return sha256(view);
}

/** "A/T M" from dmsetup status -> usage, or null. */
export function parseUsage(status) {
  const m = /^(\d+)\/(\d+) (\d+)$/.exec(status ?? "");
  return m ? { allocatedSectors: Number(m[1]), totalSectors: Number(m[2]), metadataSectors: Number(m[3]) } : null;
}

export const cleanTag = (t) => t.toLowerCase().replace(/[^a-z0-9.-]+/g, "-").replace(/^-+|-+$/g, "");
