#!/usr/bin/env node
/**
 * pnpm conformance:mutants — every mutant of the Python reader through the
 * conformance runner. Prints `mutants: K/N killed; survivors: ...`; exits 1
 * on a survivor, on a mutant caught by fewer than two cases, or when the
 * plain reader fails a case.
 *
 *   mutants [--mutant NAME]... [--case GLOB]... [--jobs N]
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { judgeMutants, loadMutants, MIN_KILLS, mutantReaders, renderKillTable } from "./mutants.js";
import { runConformance } from "./runner.js";

const here = dirname(fileURLToPath(import.meta.url));
const suite = resolve(here, "..");
const root = resolve(suite, "..");
const reader = "conformance/readers/python/dmsnap_reader.py";

async function main(): Promise<number> {
  const args = parseArgs({ options: { mutant: { type: "string", multiple: true }, case: { type: "string", multiple: true }, jobs: { type: "string" } } }).values;
  let mutants = loadMutants(join(root, "conformance/readers/python/mutants.json"));
  if (args.mutant) {
    const unknown = args.mutant.filter((n) => !mutants.some((m) => m.name === n));
    if (unknown.length) throw new Error(`no mutant named ${unknown.join(", ")}`);
    mutants = mutants.filter((m) => args.mutant!.includes(m.name));
  }
  const report = await runConformance({
    root,
    casesDir: join(suite, "cases"),
    schemaPath: join(suite, "schema", "case.schema.json"),
    extraReaders: mutantReaders(reader, mutants),
    caseGlobs: args.case ?? [],
    ...(args.jobs ? { jobs: Number(args.jobs) } : {}),
  });
  const r = judgeMutants(report, mutants);
  const table = renderKillTable(r);
  const killed = mutants.length - r.survivors.length;
  const full = args.mutant === undefined && args.case === undefined;
  if (full) {
    mkdirSync(join(suite, "results"), { recursive: true });
    writeFileSync(join(suite, "results", "mutants.md"), `# Mutants of the Python reader\n\n${report.cases.length} cases; a mutant must fail at least ${MIN_KILLS}.\n\n${table}`);
    mkdirSync(join(root, ".cache"), { recursive: true });
    const failed = r.survivors.length + r.thin.length + r.baselineFailures.length + report.caseProblems.length;
    writeFileSync(join(root, ".cache", "conformance-mutants.json"), `${JSON.stringify({ passed: mutants.length - r.survivors.length - r.thin.length, failed, skipped: 0, ms: report.ms }, null, 2)}\n`);
  }
  process.stdout.write(table);
  for (const p of report.caseProblems) process.stdout.write(`BROKEN CASE ${p.caseId}: ${p.message}\n`);
  for (const c of r.baselineFailures) process.stdout.write(`the plain reader fails ${c}: the kill counts are not meaningful\n`);
  if (r.thin.length) process.stdout.write(`caught by fewer than ${MIN_KILLS} cases: ${r.thin.join(", ")}\n`);
  process.stdout.write(`mutants: ${killed}/${mutants.length} killed; survivors: ${r.survivors.length ? r.survivors.join(", ") : "none"} (${report.cases.length} cases, ${(report.ms / 1000).toFixed(1)}s)\n`);
  return r.survivors.length + r.thin.length + r.baselineFailures.length + report.caseProblems.length > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    process.stderr.write(`mutants: ${(e as Error).stack ?? e}\n`);
    process.exit(2);
  },
);
