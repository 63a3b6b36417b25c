/**
 * Issue #23 section 3: `check --header-only`, as thin_check --super-block-only.
 * Fixtures are hand-laid bytes (header words written with DataView, little
 * endian, as KERNEL-FACTS.md gives them), not our writer's output: a header
 * over areas full of garbage must be clean under --header-only and not under a
 * full check; a header the kernel refuses is refused either way.
 */
import { describe, expect, it } from "vitest";
import { dmsnap, tempDir, untouched, writeTemp } from "./helpers.js";

const dir = tempDir();
const json = (s: string) => JSON.parse(s);

/** A 64 KiB COW, chunk size 8 (4 KiB): header {magic, valid, version, chunkSize} at byte 0; the rest `fill`. */
function laid(magic: number, valid: number, version: number, chunkSize: number, fill: number): Uint8Array {
  const b = new Uint8Array(64 * 1024).fill(fill);
  b.fill(0, 0, 4096);
  const v = new DataView(b.buffer);
  v.setUint32(0, magic, true);
  v.setUint32(4, valid, true);
  v.setUint32(8, version, true);
  v.setUint32(12, chunkSize, true);
  return b;
}
const SNAP = 0x70416e53;

describe("check --header-only", () => {
  it("reads only the header: garbage in area 0 (chunk 1 at 4096) is found by a full check, not by --header-only", () => {
    const cow = writeTemp(dir, "garbage-areas.cow", laid(SNAP, 1, 1, 8, 0xab));
    const full = dmsnap("check", cow, "--json");
    expect(full.status).toBe(1);
    const head = untouched([cow], "check", cow, "--header-only", "--json");
    expect(head.status).toBe(0);
    const r = json(head.stdout);
    expect(r).toMatchObject({ state: "valid", chunkSize: 8, status: null, exceptions: null, findings: [] });
    expect(dmsnap("check", cow, "--header-only").stdout).toMatch(/state valid, chunk size 8 sectors, header only\nclean: no findings/);
  });

  it("refuses what activation refuses from the header: bad magic, version 2, chunk size 3 (exit 1, the same code as a full check)", () => {
    for (const [name, bytes, code] of [
      ["magic.cow", laid(0x12345678, 1, 1, 8, 0), "BAD_MAGIC"],
      ["version.cow", laid(SNAP, 1, 2, 8, 0), "UNSUPPORTED_VERSION"],
      ["chunk3.cow", laid(SNAP, 1, 1, 3, 0), "INVALID_CHUNK_SIZE"],
    ] as const) {
      const cow = writeTemp(dir, name, bytes);
      const r = untouched([cow], "check", cow, "--header-only", "--json");
      expect(r.status).toBe(1);
      expect(json(r.stdout).findings.map((f: { code: string }) => f.code)).toEqual([code]);
      expect(json(dmsnap("check", cow, "--json").stdout).findings[0].code).toBe(code);
    }
  });

  it("reports an invalidated header and a valid word of 2, and the blank test for magic 0", () => {
    const inv = writeTemp(dir, "invalid.cow", laid(SNAP, 0, 1, 8, 0));
    expect(json(dmsnap("check", inv, "--header-only", "--json").stdout)).toMatchObject({ state: "invalid", counts: { SNAPSHOT_INVALIDATED: 1 } });
    const two = writeTemp(dir, "valid2.cow", laid(SNAP, 2, 1, 8, 0));
    expect(json(dmsnap("check", two, "--header-only", "--json").stdout).counts).toEqual({ VALID_NOT_BOOLEAN: 1 });
    const blank = writeTemp(dir, "blank.cow", new Uint8Array(64 * 1024));
    expect(dmsnap("check", blank, "--header-only", "--chunk-size", "8").status).toBe(0);
    const dirty = new Uint8Array(64 * 1024);
    dirty[5000] = 1; // area 0 at chunk size 8 is bytes 4096..8191
    const nb = writeTemp(dir, "not-blank.cow", dirty);
    const r = dmsnap("check", nb, "--header-only", "--chunk-size", "8", "--json");
    expect(r.status).toBe(1);
    expect(json(r.stdout).findings[0]).toMatchObject({ code: "NEW_COW_NOT_BLANK", location: { byteOffset: 5000 } });
  });

  it("--origin-size with --header-only is CONFLICTING_OPTIONS (exit 2): the exceptions are not read", () => {
    const cow = writeTemp(dir, "conflict.cow", laid(SNAP, 1, 1, 8, 0));
    const r = dmsnap("check", cow, "--header-only", "--origin-size", "1MiB", "--json");
    expect(r.status).toBe(2);
    expect(json(r.stdout).error.code).toBe("CONFLICTING_OPTIONS");
  });
});
