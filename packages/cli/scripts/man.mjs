#!/usr/bin/env node
// dmsnap.1, the manual page, generated from docs/cli.md at build time (so the
// two cannot drift): `node scripts/man.mjs` writes dist/dmsnap.1. A small
// Markdown-to-roff translation for what docs/cli.md uses: headings,
// paragraphs, bullet and numbered lists, tables (tbl), fenced blocks, `code`,
// **bold** and links. The output is ASCII (other characters become roff
// escapes), and has no date, so a build is reproducible.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const CHARS = { "×": "\\(mu", "→": "\\(->", "←": "\\(<-", "≥": "\\(>=", "≤": "\\(<=", "−": "\\-", "—": "\\(em", "–": "\\(en", "…": "...", "·": "\\(md", "’": "'", "‘": "`", "“": "\\(lq", "”": "\\(rq", "±": "\\(+-", "≠": "\\(!=" };

/** Roff text for plain characters: backslash escaped, non-ASCII as escapes. */
function escape(text) {
  return text.replace(/\\/g, "\\e").replace(/[^\x00-\x7f]/gu, (c) => CHARS[c] ?? `\\[u${c.codePointAt(0).toString(16).toUpperCase().padStart(4, "0")}]`);
}

/** Inline Markdown: `code` (bold, hyphens as \-), **bold**, [text](link) -> text, HTML tags dropped. */
function inline(text) {
  const out = [];
  const parts = text.split(/(`[^`]+`)/);
  for (const part of parts) {
    if (part.startsWith("`") && part.endsWith("`") && part.length > 1) {
      out.push(`\\fB${escape(part.slice(1, -1)).replace(/-/g, "\\-")}\\fR`);
      continue;
    }
    let t = part.replace(/<\/?[a-z][^>]*>/g, "").replace(/\[([^\]]+)\]\([^)]+\)/g, "$1");
    t = escape(t).replace(/\*\*([^*]+)\*\*/g, "\\fB$1\\fR");
    // Options in plain text (--force, -q) typed as the minus sign a shell needs.
    t = t.replace(/(^|[\s(/])(--?[a-z][a-z-]*)/g, (_m, pre, opt) => `${pre}${opt.replace(/-/g, "\\-")}`);
    out.push(t);
  }
  return out.join("");
}

/** A roff text line never starts with a control character. */
const safe = (line) => (/^[.']/.test(line) ? `\\&${line}` : line);

const cells = (row) => row.replace(/^\s*\|/, "").replace(/\|\s*$/, "").split("|").map((c) => c.trim());

/**
 * The manual page for `markdown` (docs/cli.md). `version` goes into the
 * footer. Level-2 headings that are one lower-case word (the commands) become
 * subsections of COMMANDS; other level-2 headings become sections.
 */
export function toRoff(markdown, version) {
  const lines = markdown.replace(/\r\n/g, "\n").split("\n");
  const out = [`'\\" t`, `.\\" Generated from docs/cli.md by packages/cli/scripts/man.mjs; edit docs/cli.md, not this file.`];
  out.push(`.TH DMSNAP 1 "" "dmsnap ${version}" "dmsnap manual"`, ".ad l", ".nh");
  let i = 0;
  // The title, then the first paragraph: its first sentence is the NAME line.
  while (i < lines.length && !lines[i].startsWith("# ")) i++;
  i++;
  while (i < lines.length && lines[i].trim() === "") i++;
  const intro = [];
  while (i < lines.length && lines[i].trim() !== "") intro.push(lines[i++]);
  const introText = intro.join(" ");
  const firstSentence = introText.replace(/\[([^\]]+)\]\([^)]+\)/g, "$1").replace(/\s*\(see [^)]*\)/, "").split(/\.\s/)[0].replace(/^`dmsnap`\s*/, "").replace(/`/g, "");
  out.push(".SH NAME", `dmsnap \\- ${escape(firstSentence)}`);
  out.push(".SH SYNOPSIS");
  const synopses = [];
  for (let k = 0; k < lines.length; k++) {
    const h = /^## ([a-z]+)$/.exec(lines[k]);
    if (!h) continue;
    const syn = lines.slice(k + 1, k + 4).find((l) => l.startsWith("`dmsnap "));
    if (syn) synopses.push(syn.replace(/^`|`$/g, ""));
  }
  for (const s of synopses) out.push(".PP", safe(`\\fB${escape(s).replace(/-/g, "\\-")}\\fR`));
  out.push(".SH DESCRIPTION", ...intro.map((l) => safe(inline(l))));

  let inCommands = false;
  let para = false;
  const blank = () => {
    para = true;
  };
  const startBlock = () => {
    if (para) out.push(".PP");
    para = false;
  };
  while (i < lines.length) {
    const line = lines[i];
    if (line.trim() === "") {
      blank();
      i++;
      continue;
    }
    const h2 = /^## (.+)$/.exec(line);
    if (h2) {
      const title = h2[1].trim();
      if (/^[a-z]+$/.test(title)) {
        if (!inCommands) out.push(".SH COMMANDS");
        inCommands = true;
        out.push(`.SS ${title}`);
      } else {
        inCommands = false;
        out.push(`.SH ${escape(title.toUpperCase()).replace(/ /g, "\\ ")}`);
      }
      para = false;
      i++;
      continue;
    }
    const h3 = /^#{3,} (.+)$/.exec(line);
    if (h3) {
      out.push(`.SS ${escape(h3[1])}`);
      para = false;
      i++;
      continue;
    }
    if (line.startsWith("```")) {
      startBlock();
      out.push(".RS 4", ".nf");
      i++;
      while (i < lines.length && !lines[i].startsWith("```")) out.push(safe(escape(lines[i++]).replace(/-/g, "\\-")));
      out.push(".fi", ".RE");
      i++;
      para = true;
      continue;
    }
    if (line.startsWith("|")) {
      const rows = [];
      while (i < lines.length && lines[i].startsWith("|")) rows.push(lines[i++]);
      const head = cells(rows[0]);
      const body = rows.slice(2).map(cells);
      startBlock();
      out.push(".TS", "allbox;", `${head.map(() => "lB").join(" ")}`, `${head.map((_c, k) => (k === head.length - 1 ? "lx" : "l")).join(" ")}.`);
      for (const row of [head, ...body]) out.push(row.map((c) => `T{\n${safe(inline(c))}\nT}`).join("\t"));
      out.push(".TE");
      para = true;
      continue;
    }
    const item = /^(\s*)([-*]|\d+\.) (.*)$/.exec(line);
    if (item) {
      const bullet = /\d/.test(item[2]) ? `${item[2]} 4` : "\\(bu 2";
      out.push(`.IP ${bullet}`, safe(inline(item[3])));
      i++;
      while (i < lines.length && /^\s{2,}\S/.test(lines[i]) && !/^\s*([-*]|\d+\.) /.test(lines[i])) out.push(safe(inline(lines[i++].trim())));
      para = true;
      continue;
    }
    startBlock();
    if (/^<a id=/.test(line.trim()) && inline(line).trim() === "") {
      i++;
      continue;
    }
    out.push(safe(inline(line.trimStart())));
    i++;
  }
  out.push(".SH SEE ALSO", "The dmsnap repository's docs/format.md (the on-disk format), docs/dump-json.md (dump \\-\\-json) and docs/cli.md (this page).");
  return `${out.join("\n")}\n`;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const docs = readFileSync(new URL("../../../docs/cli.md", import.meta.url), "utf8");
  const { version } = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"));
  mkdirSync(new URL("../dist/", import.meta.url), { recursive: true });
  writeFileSync(new URL("../dist/dmsnap.1", import.meta.url), toRoff(docs, version));
}
