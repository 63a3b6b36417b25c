/** The registry of readers (conformance/readers.json) and ad-hoc readers from the command line. */
import { existsSync, readFileSync } from "node:fs";
import { isAbsolute, resolve } from "node:path";
import type { Capability, ReaderSpec } from "./types.js";

const KINDS = new Set(["process", "batch"]);
const CAPS = new Set<Capability>(["dump", "export"]);

export function parseReaders(data: unknown, source: string): ReaderSpec[] {
  const list = (data as { readers?: unknown }).readers ?? data;
  if (!Array.isArray(list)) throw new Error(`${source}: expected {"readers": [...]}`);
  const seen = new Set<string>();
  return list.map((r: Partial<ReaderSpec>, i) => {
    const where = `${source}: reader ${i} (${r.name ?? "unnamed"})`;
    if (typeof r.name !== "string" || !/^[A-Za-z0-9_.-]+$/.test(r.name)) throw new Error(`${where}: name must be a word`);
    if (seen.has(r.name)) throw new Error(`${where}: duplicate name`);
    seen.add(r.name);
    if (!Array.isArray(r.command) || r.command.length === 0 || !r.command.every((a) => typeof a === "string")) throw new Error(`${where}: command must be a non-empty array of strings`);
    if (!Array.isArray(r.capabilities) || !r.capabilities.every((c) => CAPS.has(c))) throw new Error(`${where}: capabilities must list "dump" and/or "export"`);
    if (typeof r.required !== "boolean") throw new Error(`${where}: required must be true or false`);
    if (!KINDS.has(r.kind ?? "")) throw new Error(`${where}: kind must be "process" or "batch"`);
    return r as ReaderSpec;
  });
}

export function loadReaders(file: string): ReaderSpec[] {
  return parseReaders(JSON.parse(readFileSync(file, "utf8")), file);
}

/** A reader given as one shell-style command line (--reader-command). */
export function adHocReader(commandLine: string, capabilities: Capability[], name = "custom", cwd?: string): ReaderSpec {
  return { name, command: splitCommandLine(commandLine), capabilities, required: true, kind: "process", description: `--reader-command ${commandLine}`, ...(cwd ? { cwd } : {}) };
}

/** Splits a command line on spaces, honouring '…' and "…" quotes and backslash escapes. */
export function splitCommandLine(s: string): string[] {
  const out: string[] = [];
  let cur = "";
  let inWord = false;
  let quote: string | null = null;
  for (let i = 0; i < s.length; i++) {
    const ch = s[i]!;
    if (quote) {
      if (ch === quote) quote = null;
      else if (ch === "\\" && quote === '"' && i + 1 < s.length) cur += s[++i];
      else cur += ch;
    } else if (ch === "'" || ch === '"') {
      quote = ch;
      inWord = true;
    } else if (ch === "\\" && i + 1 < s.length) {
      cur += s[++i];
      inWord = true;
    } else if (/\s/.test(ch)) {
      if (inWord) out.push(cur);
      cur = "";
      inWord = false;
    } else {
      cur += ch;
      inWord = true;
    }
  }
  if (quote) throw new Error(`unbalanced quote in ${s}`);
  if (inWord) out.push(cur);
  if (out.length === 0) throw new Error("empty reader command");
  return out;
}

/** Why a reader cannot run here (a required file is missing), or null. */
export function notInstalled(reader: ReaderSpec, root: string): string | null {
  const paths = [...(reader.requires ?? [])];
  const first = reader.command[0]!;
  if (first.includes("/")) paths.push(first);
  for (const p of paths) {
    const abs = isAbsolute(p) ? p : resolve(reader.cwd ?? root, p);
    if (!existsSync(abs)) return `not installed: ${p} does not exist${reader.note ? ` (${reader.note})` : ""}`;
  }
  return null;
}
