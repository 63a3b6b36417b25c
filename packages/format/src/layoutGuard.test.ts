/// <reference types="node" />
/**
 * layout.ts is the one place that knows where things are on a COW device.
 * This scan fails when layout arithmetic is written by hand anywhere else in
 * the sources (tests are not scanned: they should state expectations
 * independently). The Python reader (conformance/readers/python) and the case
 * derivation (conformance/tools) are independent implementations on purpose
 * and are not scanned either.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("../../..", import.meta.url));
const SCANNED = ["packages/format/src", "packages/store/src", "packages/cli/src", "packages/explorer/src", "conformance/src", "kernel/src", "conformance/readers/format", "conformance/readers/store", "conformance/readers/cli"];
/** The definitions themselves. */
const OWNERS = new Set(["packages/format/src/layout.ts", "packages/format/src/constants.ts"]);

interface Rule {
  name: string;
  re: RegExp;
  use: string;
  /** What this rule caught before layout.ts owned it (proves the rule can fail). */
  caught: string;
}

export const RULES: Rule[] = [
  { name: "sector size as a literal", re: /[*/]\s*512\b|\b512\s*\*/, use: "sectorBytes / chunkBytes / chunkOffset", caught: "const cb = chunkSize * 512;" },
  { name: "sector arithmetic", re: /[*/]\s*SECTOR_SIZE\b|\bSECTOR_SIZE\s*[*/]/, use: "sectorBytes / sectorsIn / sectorsCovering", caught: "Math.max(1, Math.floor(logicalBlockSize / SECTOR_SIZE))" },
  { name: "entry arithmetic", re: /[*/]\s*EXCEPTION_SIZE\b|\bEXCEPTION_SIZE\s*[*/]/, use: "entryOffset / entriesIn", caught: "bytes.fill(0, index * EXCEPTION_SIZE, (index + 1) * EXCEPTION_SIZE);" },
  { name: "16-byte entries as a literal", re: /[*/]\s*16\b/, use: "entryOffset / entriesIn", caught: "const perPiece = piece.length / 16;" },
  { name: "32 entries per sector as a literal", re: /\b(chunkSize|cs)\s*\*\s*32\b|\b32\s*\*\s*(chunkSize|cs)\b/, use: "exceptionsPerArea", caught: "const perArea = chunkSize * 32;" },
  { name: "area stride by hand", re: /\b(E|ENGINE_E|per|perArea|exceptionsPerArea\([^)]*\))\s*\+\s*1\b/, use: "areaLocation / isAreaChunk (or the …ForE forms)", caught: "return ch > 0 && (ch - 1) % (ENGINE_E + 1) === 0;" },
  { name: "is-an-area test by hand", re: /-\s*1\)\s*%|%\s*areaStride\(|\/\s*areaStride\(/, use: "isAreaChunk / areaOfChunk", caught: "if ((mc - 1) % (E + 1) === 0) return areaLocation(1, (mc - 1) / (E + 1));" },
  { name: "area byte offset by hand", re: /areaLocation\([^()]*(\([^()]*\))?[^()]*\)\s*\*|chunkOffset\([^,]+,\s*areaLocation\(/, use: "areaOffset / entryDeviceOffset", caught: "const areaStart = areaLocation(chunkSize, img.currentArea) * cb;" },
  { name: "entry position by hand", re: /\/\s*(perArea|per|exceptionsPerArea)\b|%\s*(perArea|per|E)\b|\b(perArea|per)\s*\*\s*\w|\*\s*perArea\b/, use: "areaOfEntry / indexInArea / entryNumber", caught: "const loc: Location = { area: Math.floor(i / perArea), index: i % perArea, chunk: n };" },
  { name: "chunks from sectors by hand", re: /Math\.floor\([^()]*\/\s*(cs|chunkSize|this\.chunkSize|image\.chunkSize)\s*\)/, use: "chunkAtSector", caught: "const first = Math.floor(e.sector / cs);" },
  { name: "data chunk by hand", re: /\b2\s*\+\s*Math\.floor/, use: "dataChunk / allocationSequence", caught: "return 2 + Math.floor(i / E) * (E + 1) + (i % E);" },
  { name: "chunks from bytes by hand", re: /Math\.(floor|ceil)\(\s*[\w.]+\s*\/\s*(cb|this\.cb|chunkBytes\([^)]*\))\s*\)/, use: "chunkAtByte / chunksCovering / chunksInDevice", caught: "const originChunks = Math.ceil(originBytes / chunkBytes(cs));" },
];

/** Known exceptions: file, rule, a piece of the line, and why. */
const ALLOWED: Array<{ file: string; rule: string; line: string; why: string }> = [
  { file: "kernel/src/engine.ts", rule: "sector arithmetic", line: "offset / SECTOR_SIZE", why: "a log device's byte offset back to its sector (exact: the store writes whole sectors)" },
  { file: "kernel/src/log.ts", rule: "sector size as a literal", line: "sectors * 512", why: "dm-log-writes' own record format counts 512-byte sectors" },
  { file: "kernel/src/log.ts", rule: "sector size as a literal", line: "e.data.length / 512", why: "dm-log-writes' own record format counts 512-byte sectors" },
  { file: "kernel/src/workload.ts", rule: "16-byte entries as a literal", line: "out[at + i * 16 + k]", why: "the recipe's sector pattern: 32 copies of a 16-character record, not exception entries" },
  { file: "packages/cli/src/demo.ts", rule: "sector size as a literal", line: "$((i*3*512))", why: "the shell command the demo prints" },
];

const allowed = (file: string, rule: string, line: string): boolean => ALLOWED.some((a) => a.file === file && a.rule === rule && line.includes(a.line));

function sources(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) {
      if (name !== "node_modules" && name !== "dist") sources(p, out);
    } else if (/\.(ts|mjs)$/.test(name) && !/\.test\.ts$/.test(name)) out.push(p);
  }
  return out;
}

/** Code without comments (a rule names the arithmetic, not its explanation). */
function code(text: string): string[] {
  return text.replace(/\/\*[\s\S]*?\*\//g, (m) => m.replace(/[^\n]/g, " ")).split("\n").map((l) => l.replace(/(^|[^:"'`])\/\/.*$/, "$1"));
}

export function violations(root: string): string[] {
  const found: string[] = [];
  for (const dir of SCANNED) {
    for (const file of sources(join(root, dir))) {
      const rel = relative(root, file).split("\\").join("/");
      if (OWNERS.has(rel)) continue;
      code(readFileSync(file, "utf8")).forEach((line, i) => {
        for (const r of RULES) {
          if (r.re.test(line) && !allowed(rel, r.name, line)) found.push(`${rel}:${i + 1}: ${r.name} (use ${r.use}): ${line.trim()}`);
        }
      });
    }
  }
  return found;
}

describe("layout arithmetic lives in layout.ts only", () => {
  it("no source file outside layout.ts does layout arithmetic by hand", () => {
    expect(violations(ROOT)).toEqual([]);
  });

  it("every rule catches the hand-written form it replaced", () => {
    for (const r of RULES) expect([r.name, r.re.test(r.caught)]).toEqual([r.name, true]);
  });

  it("every allowance is still needed", () => {
    for (const a of ALLOWED) {
      const rule = RULES.find((r) => r.name === a.rule)!;
      const lines = code(readFileSync(join(ROOT, a.file), "utf8"));
      expect([a.file, a.line, lines.some((l) => l.includes(a.line) && rule.re.test(l))]).toEqual([a.file, a.line, true]);
    }
  });
});
