/**
 * Mutation testing of the suite itself: the Python reader with one deliberate
 * bug switched on (DMSNAP_MUTANT, conformance/readers/python/mutants.json) is
 * a batch reader; a mutant is killed when some case fails for it. A suite that
 * lets a realistic reader bug through has a hole; one case alone is too thin.
 */
import { readFileSync } from "node:fs";
import type { RunReport } from "./runner.js";
import type { ReaderSpec } from "./types.js";

export interface Mutant {
  name: string;
  /** The real bug it is modelled on. */
  models: string;
  bug: string;
}

export interface Kill {
  mutant: Mutant;
  /** Cases whose answer exposed the mutant. */
  killedBy: string[];
}

/** Each mutant must fail at least this many cases. */
export const MIN_KILLS = 2;

export const BASELINE = "python-batch";

export function loadMutants(file: string): Mutant[] {
  const data = JSON.parse(readFileSync(file, "utf8")) as { mutants?: Mutant[] };
  if (!Array.isArray(data.mutants)) throw new Error(`${file}: no "mutants" array`);
  return data.mutants;
}

/** The plain reader (baseline) and one batch reader per mutant. */
export function mutantReaders(readerPath: string, mutants: Mutant[], timeoutSeconds = 300): ReaderSpec[] {
  const base = { command: ["python3", readerPath], capabilities: ["dump", "export"] as ReaderSpec["capabilities"], required: true, kind: "batch" as const, timeoutSeconds };
  return [{ ...base, name: BASELINE, env: { DMSNAP_MUTANT: "" } }, ...mutants.map((m) => ({ ...base, name: `mutant:${m.name}`, env: { DMSNAP_MUTANT: m.name } }))];
}

export interface MutationResult {
  kills: Kill[];
  survivors: string[];
  /** Killed, but by fewer than MIN_KILLS cases. */
  thin: string[];
  /** Cases the plain reader failed: the kill counts mean nothing then. */
  baselineFailures: string[];
}

export function judgeMutants(report: RunReport, mutants: Mutant[]): MutationResult {
  const failing = (reader: string) => report.cells.filter((c) => c.reader === reader && c.status === "fail").map((c) => c.caseId);
  const kills = mutants.map((m) => ({ mutant: m, killedBy: failing(`mutant:${m.name}`) }));
  return {
    kills,
    survivors: kills.filter((k) => k.killedBy.length === 0).map((k) => k.mutant.name),
    thin: kills.filter((k) => k.killedBy.length > 0 && k.killedBy.length < MIN_KILLS).map((k) => k.mutant.name),
    baselineFailures: failing(BASELINE),
  };
}

export function renderKillTable(r: MutationResult): string {
  const lines = ["| mutant | models | killing cases | e.g. |", "| --- | --- | ---: | --- |"];
  for (const k of r.kills) lines.push(`| \`${k.mutant.name}\` | ${k.mutant.models} | ${k.killedBy.length} | ${k.killedBy.slice(0, 3).join(", ")} |`);
  return `${lines.join("\n")}\n`;
}
