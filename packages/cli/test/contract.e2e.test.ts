/**
 * The contract every dmsnap command keeps (docs/cli.md, "Conventions for
 * every command"), checked on the built binary, one table over the commands
 * the program registers (as thin-provisioning-tools' tests/common does for its
 * tools): a command added to commands/index.ts is covered without a line here,
 * except one succeeding invocation in SUCCEEDS (a row fails until it is given).
 *
 * Rows per command: --help; every option in docs/cli.md; --json; an unknown
 * option (plain and --json); each required argument or option left out; the
 * input files missing; -q on success and on failure; every declared conflict;
 * -o for the written file. Plus: --version at the top level, unknown command.
 */
import { spawn } from "node:child_process";
import { copyFileSync, existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Argument, Command, Option } from "commander";
import { beforeAll, describe, expect, it } from "vitest";
import { makeProgram } from "../src/main.js";
import { BIN, dmsnap, sha, tempDir, type Run } from "./helpers.js";

const program = makeProgram(["node", "dmsnap"]);
const commands: readonly Command[] = program.commands;
const docs = readFileSync(new URL("../../../docs/cli.md", import.meta.url), "utf8");
const formatDocs = readFileSync(new URL("../../../docs/format.md", import.meta.url), "utf8");
const rootVersion = (JSON.parse(readFileSync(new URL("../../../package.json", import.meta.url), "utf8")) as { version: string }).version;

/** The binary, asynchronously, so rows can run side by side. */
function run(args: string[], cwd?: string): Promise<Run> {
  if (!existsSync(BIN)) throw new Error(`${BIN} is missing: run 'pnpm build' before the CLI's end-to-end tests`);
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ["ignore", "pipe", "pipe"], ...(cwd ? { cwd } : {}) });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    child.on("close", (status) => resolve({ status, stdout, stderr }));
  });
}

const jsonError = (r: Run): { code: string; message: string } | undefined => {
  try {
    return (JSON.parse(r.stdout) as { error?: { code: string; message: string } }).error;
  } catch {
    return undefined;
  }
};
const stderrCode = (r: Run): string | undefined => /^dmsnap: ([A-Z][A-Z0-9_]+):/m.exec(r.stderr)?.[1];
const codeOf = (r: Run): string | undefined => jsonError(r)?.code ?? stderrCode(r);

/** A value of the right kind for an option's or argument's placeholder; files are `missing-NAME` in `dir`. */
function filler(placeholder: string, dir: string, name: string): string {
  switch (placeholder) {
    case "file":
    case "cow":
    case "dump":
      return join(dir, `missing-${name}`);
    case "sectors":
      return "8";
    case "bytes":
      return "4096";
    case "size":
      return "1MiB";
    case "which":
      return "origin";
    case "mode":
      return "none";
    default:
      throw new Error(`the contract test has no value for <${placeholder}> (${name}): add one to filler()`);
  }
}
const placeholderOf = (o: Option): string | undefined => /<([a-z-]+)>/.exec(o.flags)?.[1];
const argsOf = (c: Command): readonly Argument[] => c.registeredArguments;
const optionsOf = (c: Command): Option[] => c.options as Option[];
const long = (o: Option): string => o.long!;
const required = (c: Command): Option[] => optionsOf(c).filter((o) => o.mandatory);
const conflictsOf = (o: Option): string[] => (o as Option & { conflictsWith: string[] }).conflictsWith;

/**
 * Inputs a command requires in one of two spellings (restore: the argument or
 * thin_restore's -i; --cow or -o): commander cannot declare them required, the
 * command checks them. The first spelling is the one filled in.
 */
const ONE_OF: Record<string, string[][]> = {
  restore: [
    ["dump", "--input"],
    ["--cow", "--output"],
  ],
};

/** Every required argument and option filled with a value of its kind; `omit` leaves one out. */
function fullInvocation(c: Command, dir: string, omit?: string): string[] {
  const out: string[] = [c.name()];
  const oneOf = (ONE_OF[c.name()] ?? []).map((forms) => forms[0]!);
  for (const a of argsOf(c)) if ((a.required || oneOf.includes(a.name())) && a.name() !== omit) out.push(filler(a.name(), dir, a.name()));
  for (const o of optionsOf(c)) if ((o.mandatory || oneOf.includes(long(o))) && long(o) !== omit) out.push(long(o), filler(placeholderOf(o)!, dir, long(o).slice(2)));
  return out;
}
const withOption = (o: Option, dir: string): string[] => {
  const p = placeholderOf(o);
  return p === undefined ? [long(o)] : [long(o), filler(p, dir, long(o).slice(2))];
};

/** Codes documented for users: the CLI's table and the codec's (docs/format.md). */
const documentedCodes = new Set([...`${docs}\n${formatDocs}`.matchAll(/`([A-Z][A-Z0-9_]{2,})`/g)].map((m) => m[1]!));
const documented = (code: string | undefined): boolean => code !== undefined && (documentedCodes.has(code) || /^IO_E[A-Z]+$/.test(code));

/**
 * One invocation per command that succeeds (exit 0) on files made in `dir` by
 * `files`; `reads` lists the files it must leave unchanged.
 */
interface Files {
  cow: string;
  origin: string;
  input: string;
  dump: string;
}
const SUCCEEDS: Record<string, (f: Files, dir: string) => { args: string[]; reads: string[] }> = {
  dump: (f) => ({ args: [f.cow], reads: [f.cow] }),
  check: (f) => ({ args: [f.cow], reads: [f.cow] }),
  usage: (f) => ({ args: [f.cow], reads: [f.cow] }),
  map: (f, d) => ({ args: [f.cow, "--svg", join(d, "out.svg")], reads: [f.cow] }),
  restore: (f, d) => ({ args: [f.dump, "--cow", join(d, "restored.cow")], reads: [f.dump] }),
  repair: (f, d) => ({ args: [f.cow, "--output", join(d, "repaired.cow")], reads: [f.cow] }),
  create: (_f, d) => ({ args: ["--cow", join(d, "new.cow"), "--chunk-size", "8", "--size", "1MiB"], reads: [] }),
  write: (f) => ({ args: ["--origin", f.origin, "--cow", f.cow, "--offset", "0", "--input", f.input], reads: [f.input] }),
  export: (f, d) => ({ args: ["--origin", f.origin, "--cow", f.cow, "--output", join(d, "view.img")], reads: [f.origin, f.cow] }),
  merge: (f) => ({ args: ["--origin", f.origin, "--cow", f.cow], reads: [] }),
};

// The files of a succeeding run, made once by the binary (our own writer's data: this is a CLI contract, not a format test).
let template: Files;
let rowNo = 0;
function freshFiles(): { f: Files; dir: string } {
  const dir = tempDir();
  const f: Files = { cow: join(dir, "snap.cow"), origin: join(dir, "origin.img"), input: join(dir, "patch.bin"), dump: join(dir, "snap.dump.json") };
  for (const k of Object.keys(f) as Array<keyof Files>) copyFileSync(template[k], f[k]);
  rowNo++;
  return { f, dir };
}
beforeAll(() => {
  const dir = tempDir();
  template = { cow: join(dir, "snap.cow"), origin: join(dir, "origin.img"), input: join(dir, "patch.bin"), dump: join(dir, "snap.dump.json") };
  writeFileSync(template.origin, new Uint8Array(1 << 20).fill(7));
  writeFileSync(template.input, new Uint8Array(5000).fill(9));
  expect(dmsnap("create", "--cow", template.cow, "--chunk-size", "8", "--size", "1MiB").status).toBe(0);
  expect(dmsnap("write", "--origin", template.origin, "--cow", template.cow, "--offset", "8192", "--input", template.input).status).toBe(0);
  const d = dmsnap("dump", "--lossless", template.cow);
  expect(d.status).toBe(0);
  writeFileSync(template.dump, d.stdout);
});

describe("the program", () => {
  it("has commands", () => expect(commands.length).toBeGreaterThanOrEqual(10));

  it("--version and -V print the root package.json version, exit 0", async () => {
    for (const flag of ["--version", "-V"]) {
      const r = await run([flag]);
      expect(r.status).toBe(0);
      expect(r.stdout.trim()).toBe(rootVersion);
    }
  });

  it("--help lists every command, exit 0", async () => {
    const r = await run(["--help"]);
    expect(r.status).toBe(0);
    for (const c of commands) expect(r.stdout).toMatch(new RegExp(`^  ${c.name()}\\b`, "m"));
  });

  it("an unknown command is UNKNOWN_COMMAND, exit 2 (plain and --json)", async () => {
    const plain = await run(["frobnicate"]);
    expect([plain.status, stderrCode(plain)]).toEqual([2, "UNKNOWN_COMMAND"]);
    const json = await run(["frobnicate", "--json"]);
    expect([json.status, jsonError(json)?.code]).toEqual([2, "UNKNOWN_COMMAND"]);
  });
});

describe.each(commands.map((c) => [c.name(), c] as const))("dmsnap %s", (name, c) => {
  it.concurrent("--help: exit 0, usage names the command, every argument and option, examples and exit codes", async () => {
    const r = await run([name, "--help"]);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(`Usage: dmsnap ${name} `);
    for (const a of argsOf(c)) expect(r.stdout).toContain(a.name());
    for (const o of optionsOf(c)) expect(r.stdout).toContain(o.flags);
    expect(r.stdout).toMatch(/^Examples:$/m);
    expect(r.stdout).toMatch(/^Exit: 0 /m);
  });

  it("docs/cli.md has a section for it naming every option", () => {
    const section = docs.split(/^## /m).find((s) => s.startsWith(`${name}\n`));
    expect(section, `docs/cli.md has no '## ${name}' section`).toBeDefined();
    for (const o of optionsOf(c)) expect(section, `docs/cli.md '## ${name}' does not mention ${long(o)}`).toContain(long(o));
  });

  it("has --json (errors as {error: {code, message}} on stdout)", () => {
    expect(optionsOf(c).map(long)).toContain("--json");
  });

  it.concurrent("an unknown option: exit 2, UNKNOWN_OPTION on stderr, or as JSON on stdout under --json", async () => {
    const dir = tempDir();
    const plain = await run([...fullInvocation(c, dir), "--bogus"]);
    expect([plain.status, stderrCode(plain), plain.stdout]).toEqual([2, "UNKNOWN_OPTION", ""]);
    expect(plain.stderr).toContain(`dmsnap ${name} --help`);
    const json = await run([...fullInvocation(c, dir), "--json", "--bogus"]);
    expect([json.status, jsonError(json)?.code]).toEqual([2, "UNKNOWN_OPTION"]);
    expect(readdirSync(dir)).toEqual([]);
  });

  const requiredInputs = [...argsOf(c).filter((a) => a.required).map((a) => a.name()), ...required(c).map(long), ...(ONE_OF[name] ?? []).map((forms) => forms[0]!)];
  it.concurrent.each(requiredInputs)("without %s: exit 2, MISSING_ARGUMENT (plain and --json)", async (input) => {
    const dir = tempDir();
    const plain = await run(fullInvocation(c, dir, input));
    expect([plain.status, stderrCode(plain)]).toEqual([2, "MISSING_ARGUMENT"]);
    const json = await run([...fullInvocation(c, dir, input), "--json"]);
    expect([json.status, jsonError(json)?.code]).toEqual([2, "MISSING_ARGUMENT"]);
    expect(jsonError(json)?.message).toContain(input.replace(/^--/, ""));
    expect(readdirSync(dir)).toEqual([]);
  });

  it.concurrent("files that do not exist: exit 2, IO_ENOENT naming one, nothing created (plain and --json)", async () => {
    const dir = tempDir();
    const plain = await run(fullInvocation(c, dir));
    expect([plain.status, stderrCode(plain), plain.stdout]).toEqual([2, "IO_ENOENT", ""]);
    expect(plain.stderr).toMatch(/missing-/);
    const json = await run([...fullInvocation(c, dir), "--json"]);
    expect([json.status, jsonError(json)?.code]).toEqual([2, "IO_ENOENT"]);
    expect(readdirSync(dir)).toEqual([]);
  });

  it("has a succeeding invocation in SUCCEEDS (add one for a new command)", () => {
    expect(SUCCEEDS[name], `SUCCEEDS has no row for '${name}'`).toBeDefined();
  });

  it.concurrent("succeeds (exit 0) on good files, leaving its inputs unchanged", async () => {
    const { f, dir } = freshFiles();
    const { args, reads } = SUCCEEDS[name]!(f, dir);
    const before = reads.map(sha);
    const r = await run([name, ...args]);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(r.stdout).not.toBe("");
    expect(reads.map(sha)).toEqual(before);
  });

  it("-q/--quiet is declared", () => {
    expect(optionsOf(c).find((o) => o.long === "--quiet")?.short).toBe("-q");
  });

  it.concurrent("-q: on success nothing on stdout or stderr, exit 0; inputs unchanged", async () => {
    const { f, dir } = freshFiles();
    const { args, reads } = SUCCEEDS[name]!(f, dir);
    const before = reads.map(sha);
    const r = await run([name, ...args, "-q"]);
    expect([r.status, r.stdout, r.stderr]).toEqual([0, "", ""]);
    expect(reads.map(sha)).toEqual(before);
  });

  it.concurrent("-q: an error still prints one line on stderr, exit 2", async () => {
    const dir = tempDir();
    const r = await run([...fullInvocation(c, dir), "-q"]);
    expect([r.status, stderrCode(r), r.stdout]).toEqual([2, "IO_ENOENT", ""]);
  });

  it("-o is the short form of the option naming the written file, and of no other", () => {
    for (const o of optionsOf(c)) {
      const written = o.long === "--output" || o.long === "--svg";
      expect(o.short === "-o", `${name} ${o.flags}`).toBe(written);
    }
  });

  // Declared conflicts between options this command has (-q names --progress on every command).
  const has = new Set(optionsOf(c).map(long));
  const conflicts = optionsOf(c).flatMap((o) => conflictsOf(o).map((other) => [long(o), `--${other}`] as const)).filter(([, b]) => has.has(b));
  it.concurrent.each(conflicts)("%s with %s: exit 2, CONFLICTING_OPTIONS (plain and --json), nothing written", async (a, b) => {
    const { f, dir } = freshFiles();
    const { args, reads } = SUCCEEDS[name]!(f, dir);
    const extra = [a, b].flatMap((flag) => (args.includes(flag) ? [] : withOption(optionsOf(c).find((o) => o.long === flag)!, dir)));
    const before = [f.cow, f.origin, ...reads].map(sha);
    const files = readdirSync(dir).sort();
    const plain = await run([name, ...args, ...extra]);
    expect([plain.status, codeOf(plain)]).toEqual([2, "CONFLICTING_OPTIONS"]);
    const json = await run([name, ...args, ...extra, ...(extra.includes("--json") ? [] : ["--json"])]);
    expect([json.status, jsonError(json)?.code]).toEqual([2, "CONFLICTING_OPTIONS"]);
    expect([f.cow, f.origin, ...reads].map(sha)).toEqual(before);
    expect(readdirSync(dir).sort()).toEqual(files);
  });

  it("every error code its source can raise is documented", () => {
    const source = readFileSync(new URL(`../src/commands/${name}.ts`, import.meta.url), "utf8");
    for (const m of source.matchAll(/CliError\(\s*"([A-Z_0-9]+)"/g)) expect(documented(m[1]), `${name}: ${m[1]} is not in docs/cli.md or docs/format.md`).toBe(true);
  });
});

/**
 * One rule for a target that already holds data (issue #23): whether it is a
 * file where a new one would be made (OUTPUT_EXISTS), a snapshot header
 * (restore's COW_EXISTS, create's ALREADY_INITIALISED) or other data
 * (TARGET_NOT_BLANK), the refusal is exit 2, as a usage error: nothing was
 * read as an image; choose another target or --force. The target is untouched.
 */
describe("an output that already holds data: exit 2 in every command, target untouched", () => {
  const rows: Array<[string, (f: Files, d: string) => { args: string[]; target: string }, string]> = [
    ["export", (f, d) => ({ args: ["export", "--origin", f.origin, "--cow", f.cow, "-o", existing(d)], target: existing(d) }), "OUTPUT_EXISTS"],
    ["dump -o", (f, d) => ({ args: ["dump", f.cow, "-o", existing(d)], target: existing(d) }), "OUTPUT_EXISTS"],
    ["map --svg", (f, d) => ({ args: ["map", f.cow, "--svg", existing(d)], target: existing(d) }), "OUTPUT_EXISTS"],
    ["repair -o", (f, d) => ({ args: ["repair", f.cow, "-o", existing(d)], target: existing(d) }), "OUTPUT_EXISTS"],
    ["create over a snapshot", (f) => ({ args: ["create", "--cow", f.cow, "--chunk-size", "8"], target: f.cow }), "ALREADY_INITIALISED"],
    ["restore over a snapshot", (f) => ({ args: ["restore", f.dump, "--cow", f.cow], target: f.cow }), "COW_EXISTS"],
    ["restore -i -o over a snapshot", (f) => ({ args: ["restore", "-i", f.dump, "-o", f.cow], target: f.cow }), "COW_EXISTS"],
  ];
  const existing = (d: string): string => {
    const p = join(d, "existing.out");
    if (!existsSync(p)) writeFileSync(p, "someone's file\n");
    return p;
  };
  it.concurrent.each(rows)("%s: exit 2 (plain and --json)", async (_name, make, code) => {
    const { f, dir } = freshFiles();
    const { args, target } = make(f, dir);
    const before = sha(target);
    const plain = await run(args);
    expect([plain.status, stderrCode(plain)]).toEqual([2, code]);
    const json = await run([...args, "--json"]);
    expect([json.status, jsonError(json)?.code]).toEqual([2, code]);
    expect(sha(target)).toBe(before);
    expect(documented(code)).toBe(true);
  });
});

describe("restore takes thin_restore's spelling", () => {
  it.concurrent("restore -i DUMP -o COW restores as restore DUMP --cow COW", async () => {
    const { f, dir } = freshFiles();
    const a = await run(["restore", "-i", f.dump, "-o", join(dir, "a.cow")]);
    const b = await run(["restore", f.dump, "--cow", join(dir, "b.cow")]);
    expect([a.status, b.status]).toEqual([0, 0]);
    expect(sha(join(dir, "a.cow"))).toBe(sha(join(dir, "b.cow")));
  });
  it.concurrent("both spellings of one input: CONFLICTING_OPTIONS, exit 2, nothing written", async () => {
    const { f, dir } = freshFiles();
    for (const args of [["restore", f.dump, "-i", f.dump, "--cow", join(dir, "c.cow")], ["restore", f.dump, "--cow", join(dir, "c.cow"), "-o", join(dir, "d.cow")]]) {
      const r = await run(args);
      expect([r.status, stderrCode(r)]).toEqual([2, "CONFLICTING_OPTIONS"]);
    }
    expect(existsSync(join(dir, "c.cow")) || existsSync(join(dir, "d.cow"))).toBe(false);
  });
});
