/**
 * The reader protocol's settled points (docs/conformance.md "Order of the
 * checks", export; docs/dump-json.md key order), as dmsnap keeps them. The
 * expectations are written from the rules, not computed by the code under test.
 */
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";
import { buildCow } from "@dmsnap/format/testing";
import { dmsnap, errorCode, tempDir, writeTemp } from "./helpers.js";

const dir = tempDir();
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const caseCow = (id: string): string => writeTemp(dir, `${id}.img`, gunzipSync(readFileSync(new URL(`../../../conformance/cases/${id}/cow.img.gz`, import.meta.url))));

describe("reader protocol, as dmsnap keeps it", () => {
  it("the device is opened before the table chunk size is checked: a missing file with --chunk-size 3 is IO_ENOENT (exit 2)", () => {
    const missing = dmsnap("dump", "--json", "--chunk-size", "3", join(dir, "missing.img"));
    expect([missing.status, errorCode(missing)]).toEqual([2, "IO_ENOENT"]);
    // The same chunk size on a file that opens: the chunk size check, before any byte is read (a 0-byte file).
    const empty = dmsnap("dump", "--json", "--chunk-size", "3", writeTemp(dir, "empty.img", new Uint8Array(0)));
    expect([empty.status, errorCode(empty)]).toEqual([1, "INVALID_CHUNK_SIZE"]);
  });

  it("export opens the origin first, then the COW, then checks the chunk size", () => {
    const both = dmsnap("export", "--json", "--chunk-size", "3", "--origin", join(dir, "no-origin.img"), "--cow", join(dir, "no-cow.img"), "--output", join(dir, "v1.img"));
    expect([both.status, errorCode(both)]).toEqual([2, "IO_ENOENT"]);
    expect(JSON.parse(both.stdout).error.message).toContain("no-origin.img");
    const origin = writeTemp(dir, "o.img", new Uint8Array(4096));
    const cow = dmsnap("export", "--json", "--chunk-size", "3", "--origin", origin, "--cow", join(dir, "no-cow.img"), "--output", join(dir, "v2.img"));
    expect([cow.status, errorCode(cow)]).toEqual([2, "IO_ENOENT"]);
  });

  it("export with a new_chunk past the end: exit 1 NEW_CHUNK_BEYOND_DEVICE; a partial trailing COW chunk serves the origin's partial last chunk when that part fits", () => {
    // 8-sector (4096-byte) chunks, 16 whole chunks and 1000 bytes more; origin chunk 1 -> COW chunk 16 (the partial one).
    const whole = buildCow({ chunkSize: 8, exceptions: [[1, 15]], deviceChunks: 16 }).bytes;
    const bytes = new Uint8Array(whole.length + 1000);
    bytes.set(whole);
    // Entry 0 of area 0 (chunk 1, byte 4096): old_chunk 1, new_chunk 16, little-endian u64s.
    new DataView(bytes.buffer).setUint32(4096 + 8, 16, true);
    bytes.fill(7, 16 * 4096);
    const cow = writeTemp(dir, "partial.img", bytes);
    const fits = writeTemp(dir, "origin-fits.img", new Uint8Array(4096 + 1000).fill(0xee));
    const ok = dmsnap("export", "--json", "--origin", fits, "--cow", cow, "--output", join(dir, "view-fits.img"));
    expect(ok.status, ok.stdout + ok.stderr).toBe(0);
    const view = readFileSync(join(dir, "view-fits.img"));
    expect(view.length).toBe(5096);
    expect(view.subarray(0, 4096).every((b) => b === 0xee)).toBe(true);
    expect(view.subarray(4096).every((b) => b === 7)).toBe(true);
    // One byte more of origin: the view needs 1001 bytes of COW chunk 16, the device has 1000.
    const over = writeTemp(dir, "origin-over.img", new Uint8Array(4096 + 1001).fill(0xee));
    const refused = dmsnap("export", "--json", "--origin", over, "--cow", cow, "--output", join(dir, "view-over.img"));
    expect([refused.status, errorCode(refused)]).toEqual([1, "NEW_CHUNK_BEYOND_DEVICE"]);
  });

  it("dump --json puts warnings just before exceptions, after status", () => {
    const r = dmsnap("dump", "--json", caseCow("damaged-race-area-in-header"));
    expect(r.status).toBe(0);
    expect(Object.keys(JSON.parse(r.stdout))).toEqual(["header", "state", "chunkSize", "exceptionsPerArea", "nextFree", "usage", "currentArea", "deviceBytes", "status", "warnings", "exceptions"]);
  });
});
