// Issue #20 item 2, the path rule: a name that is not UTF-8 reaches Node as
// U+FFFD (the name of another file). dmsnap refuses it with PATH_NOT_UTF8
// before anything is opened, and never opens or replaces the other file; a
// name that really holds U+FFFD works.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { buildCow } from "@dmsnap/format/testing";
import { BIN, dmsnap, tempDir, writeTemp } from "./helpers.js";

/** Runs dmsnap through sh so an argument can hold raw bytes (Node's spawn takes only strings); `$E` is byte 0xe9. */
function dmsnapRaw(cwd: string, args: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync("sh", ["-c", `E=$(printf '\\351'); exec "${process.execPath}" "${BIN}" ${args}`], { cwd, encoding: "utf8" });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const latin1 = (dir: string, name: string): Buffer => Buffer.concat([Buffer.from(`${dir}/`), Buffer.from(name, "latin1")]);

describe("names that are not UTF-8", () => {
  const dir = tempDir();
  const cowBytes = buildCow({ chunkSize: 8, exceptions: [5, 6], freeChunks: 2 }).bytes;
  const cow = writeTemp(dir, "cow.img", cowBytes);
  const origin = join(dir, "origin.img");
  writeFileSync(origin, new Uint8Array(cowBytes.length));
  // caf\xe9.cow really exists: the old code looked up caf\uFFFD.cow instead (IO_ENOENT).
  writeFileSync(latin1(dir, "caf\xe9.cow"), cowBytes);
  // The file Node's decoding names: it must never be opened or replaced.
  const other = join(dir, "caf\uFFFD.img");
  writeFileSync(other, "someone else's file\n");

  it("dump of a non-UTF-8 name: PATH_NOT_UTF8, exit 2, the name shown as bytes", () => {
    const r = dmsnapRaw(dir, `dump "caf$E.cow"`);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^dmsnap: PATH_NOT_UTF8: argument 2 \(\$'caf\\xe9\.cow'\) is not valid UTF-8; .*rename/m);
  });

  it("--json puts the error object on stdout", () => {
    const r = dmsnapRaw(dir, `dump "caf$E.cow" --json`);
    expect(r.status).toBe(2);
    expect(JSON.parse(r.stdout).error.code).toBe("PATH_NOT_UTF8");
  });

  it("export -o caf\\xe9.img --force never replaces caf\\uFFFD.img, and creates nothing", () => {
    const before = readdirSync(dir).sort();
    const r = dmsnapRaw(dir, `export --origin origin.img --cow cow.img -o "caf$E.img" --force`);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/PATH_NOT_UTF8/);
    expect(readFileSync(other, "utf8")).toBe("someone else's file\n");
    expect(readdirSync(dir).sort()).toEqual(before);
  });

  it("an output reached through a symlink whose target is not UTF-8 is refused too", () => {
    symlinkSync(latin1("", "caf\xe9.img").subarray(1), join(dir, "link.img"));
    const r = dmsnap("export", "--origin", origin, "--cow", cow, "-o", join(dir, "link.img"), "--force");
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^dmsnap: PATH_NOT_UTF8: the target of the symbolic link --output .*link\.img \(\$'caf\\xe9\.img'\)/m);
    expect(readFileSync(other, "utf8")).toBe("someone else's file\n");
    expect(existsSync(latin1(dir, "caf\xe9.img"))).toBe(false);
  });

  it("a name that really holds U+FFFD (valid UTF-8) is used as given", () => {
    writeFileSync(join(dir, "caf\uFFFD.cow"), cowBytes);
    const r = dmsnap("dump", join(dir, "caf\uFFFD.cow"), "--json");
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout).exceptions).toHaveLength(2);
  });
});
