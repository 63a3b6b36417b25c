#!/usr/bin/env node
// The manual pages, generated at build time from the program itself (the
// commands, arguments, options and --help texts of src/commands/), so the
// pages and `dmsnap <command> --help` cannot drift: dmsnap(1), the overview,
// and one page per command, dmsnap-<command>(1), the way git does. Written
// for someone who installed the package: no repository paths, no build
// commands. `node scripts/man.mjs` writes dist/man/*.1 (after tsup: it loads
// dist/index.js). ASCII roff with no date, so a build is reproducible.
import { mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const CHARS = { "×": "\\(mu", "→": "\\(->", "←": "\\(<-", "≥": "\\(>=", "≤": "\\(<=", "−": "\\-", "—": "\\(em", "–": "\\(en", "…": "...", "·": "\\(md", "’": "'", "‘": "`", "“": "\\(lq", "”": "\\(rq", "±": "\\(+-", "≠": "\\(!=" };

/** Roff text for plain characters: backslash escaped, non-ASCII as escapes. */
function escape(text) {
  return text.replace(/\\/g, "\\e").replace(/[^\x00-\x7f]/gu, (c) => CHARS[c] ?? `\\[u${c.codePointAt(0).toString(16).toUpperCase().padStart(4, "0")}]`);
}

/** Running text: escaped, options (--force, -q) and command lines typed with the minus a shell needs. */
function text(t) {
  return escape(t).replace(/(^|[\s('"/=])(--?[a-zA-Z][a-zA-Z0-9-]*)/g, (_m, pre, opt) => `${pre}${opt.replace(/-/g, "\\-")}`);
}

/** A roff text line never starts with a control character. */
const safe = (line) => (/^[.']/.test(line) ? `\\&${line}` : line);

/** Literal lines (examples): every hyphen a minus. */
const literal = (line) => safe(escape(line).replace(/-/g, "\\-"));

/** `-o, --output <file>` as roff: the flags bold, the value italic. */
function flags(f) {
  return f
    .split(/(<[^>]+>|\[[^\]]+\])/)
    .map((part) => (part.startsWith("<") ? `\\fI${escape(part.slice(1, -1))}\\fR` : part.startsWith("[") ? `[\\fI${escape(part.slice(1, -1))}\\fR]` : part.replace(/(--?[a-zA-Z][a-zA-Z0-9-]*)/g, (o) => `\\fB${o.replace(/-/g, "\\-")}\\fR`)))
    .join("");
}

/** The text a command adds after its option list (addHelpText), without printing it. */
function afterHelp(cmd) {
  let out = "";
  cmd.emit("afterHelp", { error: false, command: cmd, write: (s) => (out += s) });
  return out;
}

/** The after-help text split into its description paragraphs, its examples and its exit-status text. */
function sections(after) {
  const description = [];
  const examples = [];
  let exit = "";
  for (const block of after.split(/\n\s*\n/).map((b) => b.trim()).filter(Boolean)) {
    if (/^Examples?:/.test(block)) {
      for (const line of block.split("\n").slice(1)) if (line.trim()) examples.push(line.trim().replace(/^\$ /, ""));
    } else if (/^Exit:/.test(block)) {
      exit = block.replace(/^Exit:\s*/, "").replace(/\s*\n\s*/g, " ");
    } else description.push(block.replace(/\s*\n\s*/g, " "));
  }
  return { description, examples, exit };
}

function header(name, version, summary) {
  return [`.\\" Generated from the dmsnap program's own definitions (its --help); do not edit.`, `.TH ${name.toUpperCase()} 1 "" "dmsnap ${version}" "dmsnap manual"`, ".ad l", ".nh", ".SH NAME", `${name.replace(/-/g, "\\-")} \\- ${text(summary)}`];
}

const EXIT = [
  ".TP",
  "\\fB0\\fR",
  "Success: decoded, clean, written.",
  ".TP",
  "\\fB1\\fR",
  "The image is refused by activation or has problems, or the command refused it (a stable code says why).",
  ".TP",
  "\\fB2\\fR",
  "A usage error or an I/O error (missing file, unknown option, an output that exists without \\fB\\-\\-force\\fR).",
];

/** dmsnap-<command>(1). */
function commandPage(program, cmd, version) {
  const help = program.createHelp();
  const name = `dmsnap-${cmd.name()}`;
  const { description, examples, exit } = sections(afterHelp(cmd));
  const out = header(name, version, cmd.description());
  out.push(".SH SYNOPSIS", `\\fBdmsnap ${cmd.name()}\\fR ${flags(cmd.usage())}`);
  out.push(".SH DESCRIPTION", safe(text(`${cmd.description().replace(/^./, (c) => c.toUpperCase())}.`)));
  for (const p of description) out.push(".PP", safe(text(p)));
  if (cmd.registeredArguments.length) {
    out.push(".SH ARGUMENTS");
    for (const a of cmd.registeredArguments) out.push(".TP", `\\fI${escape(a.name())}\\fR`, safe(text(a.description)));
  }
  out.push(".SH OPTIONS");
  for (const o of [...cmd.options, help.visibleOptions(cmd).find((o) => o.long === "--help")].filter(Boolean)) {
    out.push(".TP", flags(o.flags), safe(text(help.optionDescription(o))));
  }
  out.push(".SH EXIT STATUS", safe(text(exit || "0 success, 1 the image is refused or has problems, 2 usage or I/O error.")));
  if (examples.length) out.push(".SH EXAMPLES", ".nf", ".RS 4", ...examples.map(literal), ".RE", ".fi");
  if (cmd.name() === "dump") out.push(...dumpJson());
  out.push(".SH SEE ALSO", seeAlso(program, cmd.name()));
  return `${out.join("\n")}\n`;
}

/** The fields of `dump --json`, briefly (the one contract a script reads). */
function dumpJson() {
  const fields = [
    ["header", "the 16 header bytes as stored: magic, valid, version, chunkSize"],
    ["state", "new, valid or invalid (a refusal prints {\"error\": {\"code\", \"message\"}} instead, exit 1)"],
    ["chunkSize", "the chunk size in effect, in 512-byte sectors; exceptionsPerArea follows from it"],
    ["exceptions", "[old_chunk, new_chunk] pairs the kernel loads, in on-disk order (none for an invalid COW)"],
    ["nextFree, currentArea, deviceBytes", "the chunk the kernel would allocate next, the area of its next commit, the device size in bytes"],
    ["usage, status", "the allocated, total and metadata sectors, and the usage part of the dmsetup status line"],
    ["warnings", "present only when there is something to say: {code, message} objects"],
  ];
  return [".SH JSON OUTPUT", "With \\fB\\-\\-json\\fR, one object with these keys (numbers are JSON numbers; a chunk number at or above 2^53 is refused with CHUNK_NUMBER_TOO_LARGE, not rounded):", ...fields.flatMap(([k, v]) => [".TP", `\\fB${escape(k)}\\fR`, safe(text(v))])];
}

function seeAlso(program, except) {
  const pages = ["dmsnap", ...program.commands.map((c) => `dmsnap-${c.name()}`)].filter((p) => p !== `dmsnap-${except}` && p !== except);
  return [...pages.map((p) => `\\fB${p.replace(/-/g, "\\-")}\\fR(1)`), "\\fBdmsetup\\fR(8)", "\\fBlvcreate\\fR(8)"].join(",\n");
}

/** dmsnap(1): what it is, each command in a line, the conventions, exit status, examples. */
function overviewPage(program, version) {
  const out = header("dmsnap", version, "inspect, check and write Linux dm-snapshot persistent COW devices");
  out.push(".SH SYNOPSIS", "\\fBdmsnap\\fR \\fIcommand\\fR [\\fIoptions\\fR] [\\fIarguments\\fR]", ".br", "\\fBdmsnap\\fR \\fIcommand\\fR \\fB\\-\\-help\\fR", ".br", "\\fBdmsnap \\-\\-version\\fR");
  out.push(
    ".SH DESCRIPTION",
    "\\fBdmsnap\\fR reads and writes the copy-on-write (COW) device of a Linux device-mapper persistent snapshot (the \\fBsnapshot\\fR target with the \\fBP\\fR or \\fBPO\\fR store, as made by \\fBlvcreate \\-s\\fR or \\fBdmsetup\\fR) exactly as the kernel does: the header in chunk 0, the metadata areas of 16-byte entries, the data chunks. It works on image files and on block devices, offline: the device must not be active in device-mapper while a command writes to it.",
    ".PP",
    "Reading commands open their input read-only. Writers lock what they change; an output file is written beside its final name and put in place only when complete, and an existing one is replaced only with \\fB\\-\\-force\\fR.",
    ".SH COMMANDS",
  );
  for (const c of program.commands) out.push(".TP", `\\fBdmsnap\\-${c.name()}\\fR(1)`, safe(text(`${c.description()}.`)));
  out.push(
    ".SH CONVENTIONS",
    ".TP",
    "Sizes",
    "Sizes take units: \\fB4096\\fR (bytes), \\fB8s\\fR (512-byte sectors), \\fB4KiB\\fR, \\fB10GiB\\fR. Chunk sizes are in sectors, a power of two.",
    ".TP",
    "Errors",
    "An error prints \\fBdmsnap:\\fR \\fICODE\\fR\\fB:\\fR, the cause and the next step on standard error; the code is stable, for scripts. With \\fB\\-\\-json\\fR it is printed on standard output as {\"error\": {\"code\", \"message\"}}.",
    ".TP",
    "Output",
    "Every command takes \\fB\\-\\-json\\fR (one JSON object) and \\fB\\-q\\fR (nothing printed; the exit status answers). Long operations show progress on a terminal; \\fB\\-\\-progress=json\\fR prints JSON lines for scripts.",
    ".SH EXIT STATUS",
    ...EXIT,
    ".SH EXAMPLES",
    "Decode a snapshot's COW as the kernel would activate it, then check it:",
    ".nf",
    ".RS 4",
    literal("dmsnap dump /dev/vg/snap-cow"),
    literal("dmsnap check /dev/vg/snap-cow --json | jq .summary"),
    ".RE",
    ".fi",
    ".PP",
    "How full it is (the usage part of \\fBdmsetup status\\fR):",
    ".nf",
    ".RS 4",
    literal("dmsnap usage /dev/vg/snap-cow"),
    ".RE",
    ".fi",
    ".PP",
    "The snapshot's view as a raw image, and a copy of a COW the kernel refuses:",
    ".nf",
    ".RS 4",
    literal("dmsnap export --origin /dev/vg/root --cow /dev/vg/snap-cow --output root-at-snapshot.img"),
    literal("dmsnap repair broken-cow.img --output rescued-cow.img"),
    ".RE",
    ".fi",
    ".SH SEE ALSO",
    seeAlso(program, "dmsnap"),
  );
  return `${out.join("\n")}\n`;
}

/** Every page: file name (dmsnap.1, dmsnap-<command>.1) to roff text. */
export function manPages(program, version) {
  const pages = new Map([["dmsnap.1", overviewPage(program, version)]]);
  for (const c of program.commands) pages.set(`dmsnap-${c.name()}.1`, commandPage(program, c, version));
  return pages;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { makeProgram, VERSION } = await import("../dist/index.js");
  const dir = fileURLToPath(new URL("../dist/man/", import.meta.url));
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  for (const [name, page] of manPages(makeProgram(["node", "dmsnap"]), VERSION)) writeFileSync(`${dir}${name}`, page);
  console.log(`man: ${readdirSync(dir).length} pages in dist/man/`);
}
