/**
 * The manual pages are generated at build time from the program's own
 * definitions (scripts/man.mjs): dmsnap(1) and one dmsnap-<command>(1) per
 * command. The built pages are what the program gives now; each has the
 * sections a user of storage tools expects; no page carries repository
 * material; every page is installed by `npm install -g` (package.json `man`
 * is an array naming each); groff reads them without a warning.
 */
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { manPages } from "../scripts/man.mjs";
import { makeProgram, VERSION } from "../src/main.js";

const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string; man: string[]; files: string[]; scripts: Record<string, string> };
const builtDir = new URL("../dist/man/", import.meta.url);
const program = makeProgram(["node", "dmsnap"]);
const commands = program.commands;
const pages = manPages(program, VERSION);
/** What a reader sees: roff's \- is a plain minus, fonts dropped. */
const plain = (roff: string): string => roff.replace(/\\-/g, "-").replace(/\\f[BIR]/g, "");
const sectionsOf = (roff: string): string[] => roff.split("\n").filter((l) => l.startsWith(".SH ")).map((l) => l.slice(4));

describe("manual pages", () => {
  it("one overview page and one page per registered command, as git does (dmsnap-dump(1))", () => {
    expect([...pages.keys()].sort()).toEqual(["dmsnap.1", ...commands.map((c) => `dmsnap-${c.name()}.1`)].sort());
  });

  it("the built pages are the ones the program gives now (rebuild after changing a command)", () => {
    expect(existsSync(builtDir), "dist/man/ is missing: run pnpm build").toBe(true);
    expect(readdirSync(builtDir).sort()).toEqual([...pages.keys()].sort());
    for (const [name, page] of pages) expect(readFileSync(new URL(name, builtDir), "utf8"), name).toBe(page);
  });

  it("dmsnap(1) has NAME, SYNOPSIS, DESCRIPTION, COMMANDS (each command briefly), EXIT STATUS, EXAMPLES, SEE ALSO", () => {
    const page = pages.get("dmsnap.1")!;
    expect(sectionsOf(page)).toEqual(expect.arrayContaining(["NAME", "SYNOPSIS", "DESCRIPTION", "COMMANDS", "EXIT STATUS", "EXAMPLES", "SEE ALSO"]));
    const text = plain(page);
    for (const c of commands) {
      expect(text, c.name()).toContain(`dmsnap-${c.name()}(1)\n${c.description()}`);
      expect(text, c.name()).toContain(`dmsnap-${c.name()}(1),`);
    }
    expect(text).toContain(`"dmsnap ${pkg.version}"`);
  });

  it("each command's page: its synopsis, every option with its help text, EXIT STATUS, its examples", () => {
    for (const c of commands) {
      const page = pages.get(`dmsnap-${c.name()}.1`)!;
      const text = plain(page);
      expect(sectionsOf(page), c.name()).toEqual(expect.arrayContaining(["NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "EXIT STATUS", "EXAMPLES", "SEE ALSO"]));
      expect(text, c.name()).toContain(`dmsnap-${c.name()} - ${c.description()}`);
      expect(text, c.name()).toContain(`dmsnap ${c.name()} ${c.usage().replace(/<([^>]+)>/g, "$1")}`);
      for (const o of c.options) expect(text, `${c.name()} ${o.flags}`).toContain(o.flags.replace(/<([^>]+)>/g, "$1"));
      expect(text, c.name()).toMatch(/\n\.SH EXAMPLES\n\.nf\n\.RS 4\ndmsnap /);
    }
    // The dump page documents the --json keys it refers its option to.
    expect(plain(pages.get("dmsnap-dump.1")!)).toMatch(/\.SH JSON OUTPUT[\s\S]*nextFree/);
  });

  it("no repository material: no source paths, docs files, pnpm scripts or node invocations", () => {
    for (const [name, page] of pages) {
      const text = plain(page);
      expect(text, name).not.toMatch(/packages\/|docs\/|conformance\/|\.md\b|\.ts\b|pnpm|node packages|dist\/bin|spec\//);
    }
  });

  it("control: the repository check above catches a path in a help text", () => {
    const p = makeProgram(["node", "dmsnap"]);
    p.commands[0]!.option("--example", "see docs/dump-json.md");
    expect(plain(manPages(p, VERSION).get("dmsnap-dump.1")!)).toMatch(/docs\//);
  });

  it("is ASCII roff whose request lines are all known man macros", () => {
    for (const [name, page] of pages) {
      expect(/[^\x00-\x7f]/.test(page), name).toBe(false);
      const requests = new Set(page.split("\n").filter((l) => l.startsWith(".") && !l.startsWith('.\\"')).map((l) => l.split(/\s/)[0]));
      expect([...requests].filter((r) => ![".TH", ".SH", ".SS", ".PP", ".TP", ".IP", ".RS", ".RE", ".nf", ".fi", ".br", ".ad", ".nh"].includes(r!)), name).toEqual([]);
    }
  });

  it("is installed by npm install -g: package.json man is an array naming every page, packed, built by the build script", () => {
    expect(Array.isArray(pkg.man)).toBe(true);
    expect([...pkg.man].sort()).toEqual([...pages.keys()].map((n) => `./dist/man/${n}`).sort());
    expect(pkg.files).toContain("dist/man/*.1");
    expect(pkg.scripts.build).toContain("scripts/man.mjs");
  });

  const groff = spawnSync("groff", ["--version"]).status === 0;
  it.skipIf(!groff)("groff -ww -z reads every page without a warning; the formatted page shows each section", () => {
    for (const [name, page] of pages) {
      const r = spawnSync("groff", ["-man", "-ww", "-z"], { input: page, encoding: "utf8" });
      expect(r.stderr, name).toBe("");
      expect(r.status, name).toBe(0);
      const shown = spawnSync("groff", ["-man", "-Tutf8", "-ww"], { input: page, encoding: "utf8" }).stdout.replace(/.\x08/g, "");
      expect(shown, name).toMatch(/^EXIT STATUS$/m);
    }
  });
});
