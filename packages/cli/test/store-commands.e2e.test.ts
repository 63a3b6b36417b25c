/** End-to-end: create, write and export through the built binary, with the documented exit codes and JSON. */
import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { dmsnap, random, tempDir, writeTemp } from "./helpers.js";

const CB = 4096;


describe("dmsnap create / write / export", () => {
  it("keeps the snapshot view through origin writes and changes it through snapshot writes", () => {
    const dir = tempDir();
    const data = random(20 * CB, 1);
    const origin = writeTemp(dir, "origin.img", data);
    const cow = join(dir, "snap.cow");
    const c = dmsnap("create", "--cow", cow, "--chunk-size", "8", "--size", "256K", "--json");
    expect(c.status).toBe(0);
    expect(JSON.parse(c.stdout)).toMatchObject({ created: true, chunkSize: 8, deviceBytes: 262144 });

    const patch = writeTemp(dir, "patch.bin", random(3 * CB, 2));
    const w = dmsnap("write", "--origin", origin, "--cow", cow, "--offset", "8192", "--input", patch, "--json");
    expect(w.status).toBe(0);
    expect(JSON.parse(w.stdout)).toMatchObject({ target: "origin", bytes: 3 * CB, exceptionsAdded: 3 });
    const out = join(dir, "view.img");
    expect(dmsnap("export", "--origin", origin, "--cow", cow, "--output", out).status).toBe(0);
    expect(new Uint8Array(readFileSync(out))).toEqual(data);

    const s = dmsnap("write", "--origin", origin, "--cow", cow, "--offset", "100", "--input", patch, "--target", "snapshot");
    expect(s.status).toBe(0);
    const view = data.slice();
    view.set(random(3 * CB, 2), 100);
    expect(dmsnap("export", "--origin", origin, "--cow", cow, "--output", out, "--json", "--force").status).toBe(0);
    expect(new Uint8Array(readFileSync(out))).toEqual(view);

    // Scripts ask for progress as JSON lines on stderr; the last one says it is done.
    const p = dmsnap("export", "--origin", origin, "--cow", cow, "--output", out, "--progress", "json", "--force");
    expect(p.status).toBe(0);
    const lines = p.stderr.trim().split("\n").map((l) => JSON.parse(l).progress);
    expect(lines[0]).toMatchObject({ op: "export", unit: "bytes", total: 20 * CB });
    expect(lines.at(-1)).toMatchObject({ done: 20 * CB, total: 20 * CB });
  });

  it("refuses with the same codes as dump", () => {
    const dir = tempDir();
    const origin = writeTemp(dir, "origin.img", new Uint8Array(4 * CB));
    const bad = writeTemp(dir, "bad.cow", Uint8Array.from([1, 2, 3, 4, ...new Array(CB).fill(0)]));
    const dump = dmsnap("dump", bad, "--json");
    const exp = dmsnap("export", "--origin", origin, "--cow", bad, "--output", join(dir, "o.img"), "--json");
    expect(exp.status).toBe(dump.status);
    expect(JSON.parse(exp.stdout).error.code).toBe(JSON.parse(dump.stdout).error.code);
    const wr = dmsnap("write", "--origin", origin, "--cow", bad, "--offset", "0", "--input", origin, "--json");
    expect(wr.status).toBe(2); // input is the origin: SAME_FILE, a usage error
    expect(JSON.parse(wr.stdout).error.code).toBe("SAME_FILE");
    const again = dmsnap("create", "--cow", join(dir, "c.cow"), "--chunk-size", "3", "--size", "64K", "--json");
    expect(again.status).toBe(1);
    expect(JSON.parse(again.stdout).error.code).toBe("INVALID_CHUNK_SIZE");
  });
});
