/**
 * dmsnap.1 is generated from docs/cli.md at build time (scripts/man.mjs): the
 * built page is what the current docs give, it names every registered command
 * with its synopsis and every option, it is shipped (package.json `man` and
 * `files`), and groff reads it without errors when groff is installed.
 */
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { toRoff } from "../scripts/man.mjs";
import { makeProgram } from "../src/main.js";

const docs = readFileSync(new URL("../../../docs/cli.md", import.meta.url), "utf8");
const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string; man: string; files: string[]; scripts: Record<string, string> };
const built = new URL("../dist/dmsnap.1", import.meta.url);
const commands = makeProgram(["node", "dmsnap"]).commands;
const page = toRoff(docs, pkg.version);
/** What a reader types: roff's \- is a plain minus. */
const plain = (roff: string): string => roff.replace(/\\-/g, "-").replace(/\\f[BIR]/g, "");

/** Registered commands the page has no subsection and synopsis for. */
function missingCommands(roff: string): string[] {
  const text = plain(roff);
  return commands.map((c) => c.name()).filter((name) => !text.includes(`\n.SS ${name}\n`) || !text.includes(`dmsnap ${name} `));
}

describe("dmsnap.1", () => {
  it("the built page is the one docs/cli.md gives now (rebuild after editing the docs)", () => {
    expect(existsSync(built), "dist/dmsnap.1 is missing: run pnpm build").toBe(true);
    expect(readFileSync(built, "utf8")).toBe(page);
  });

  it("names every registered command (a subsection and a synopsis) and every option", () => {
    expect(missingCommands(page)).toEqual([]);
    const text = plain(page);
    for (const c of commands) for (const o of c.options) expect(text, `${c.name()} ${o.long}`).toContain(o.long!);
    expect(text).toContain(`dmsnap ${pkg.version}`);
  });

  it("control: a command section removed from the docs is missing from the page", () => {
    const withoutMerge = docs.replace(/^## merge\n[\s\S]*?(?=^## )/m, "");
    expect(withoutMerge).not.toBe(docs);
    expect(missingCommands(toRoff(withoutMerge, pkg.version))).toEqual(["merge"]);
  });

  it("is ASCII roff whose request lines are all known macros", () => {
    expect(page).toMatch(/^'\\" t\n/);
    expect(/[^\x00-\x7f]/.test(page)).toBe(false);
    const requests = new Set(page.split("\n").filter((l) => l.startsWith(".") && !l.startsWith('.\\"')).map((l) => l.split(/\s/)[0]));
    expect([...requests].filter((r) => ![".TH", ".SH", ".SS", ".PP", ".IP", ".RS", ".RE", ".nf", ".fi", ".TS", ".TE", ".ad", ".nh"].includes(r!))).toEqual([]);
  });

  it("is shipped: package.json man and files, built by the build script", () => {
    expect(pkg.man).toBe("./dist/dmsnap.1");
    expect(pkg.files).toContain("dist/dmsnap.1");
    expect(pkg.scripts.build).toContain("scripts/man.mjs");
  });

  const groff = spawnSync("groff", ["--version"]).status === 0;
  it.skipIf(!groff)("groff formats it without errors or warnings (other than unbreakable long lines), with every command heading", () => {
    const r = spawnSync("groff", ["-t", "-man", "-Tutf8", "-ww", "-Wbreak"], { input: page, encoding: "utf8" });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const text = r.stdout.replace(/.\x08/g, "");
    expect(text).toMatch(/^NAME\n\s+dmsnap - reads, checks/m);
    for (const c of commands) expect(text).toMatch(new RegExp(`^   ${c.name()}$`, "m"));
  });
});
