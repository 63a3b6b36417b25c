#!/usr/bin/env node
// dmsnap-tlc: fetches TLC if needed, runs every configuration of a manifest
// (spec/manifest.json by default, or any spec's: paths resolve relative to the
// manifest file), and fails on any difference from the manifest.

import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseCommandLine } from "../lib/commandLine.mjs";
import { parseTlcOutput } from "../lib/parse.mjs";
import { loadManifest, runConfiguration, selectConfigurations } from "../lib/runner.mjs";
import { schemaProblems } from "../lib/schema.mjs";
import { findJava, findTlc } from "../lib/tools.mjs";
import { formatTrace, traceToJson } from "../lib/trace.mjs";
import { replay, validateTraces } from "../lib/traces.mjs";
import { loadMutants, mutantTable, runMutants } from "../lib/mutants.mjs";

const specDir = resolve(dirname(fileURLToPath(import.meta.url)), "..");
// A clone of the repository (trace validation needs the built engine; the closing count lives there).
const inRepo = existsSync(join(specDir, "..", "pnpm-workspace.yaml"));

const HELP = `usage: dmsnap-tlc [options] [configuration ...]

With --manifest, runs any TLA+ spec: the manifest (checked against
manifest.schema.json, shipped beside this runner) names the root module and
each configuration's .cfg, relative to the manifest file, and what TLC must
find for it. Without, runs the TLA+ model of the persistent exception store (spec/DmSnapStore.tla)
under every configuration of spec/manifest.json not marked slow (or only those
named; --all: every one; --slow: only the slow ones) and
compares each result with the manifest: a passing configuration must pass with
exactly the pinned state counts, a must-fail configuration must violate exactly
the named property. Exits 1 on any mismatch.

options:
  --manifest PATH     manifest to use (default: spec/manifest.json); trace
                      validation and the repository's counts only for the default
  --results FILE      write the per-configuration results as JSON
  --all               also the configurations marked "slow"
  --slow              only the configurations marked "slow" (results go to
                      .cache/spec-slow.json for the closing count)
  --workers N         TLC workers (default: the manifest's, capped at the cores)
  --trace-json DIR    write each counterexample as DIR/<configuration>.trace.json
  --save-output DIR   keep TLC's raw -tool output as DIR/<configuration>.out
  --no-traces         do not print counterexamples
  --no-trace-validation  skip trace validation (engine runs checked against
                      spec/trace/, mutants, counterexamples replayed into the
                      engine; runs by default when no configuration is named)
  --mutants           only the fixed design's mutants (spec/mutants.json; they run
                      after the default set, not with --slow or named configurations)
  --mutant NAME       only this mutant (repeatable)
  --no-mutants        skip the mutants
  --parse FILE        parse a recorded TLC -tool output and print it (no TLC run)
  --which             print which Java and TLC jar would be used, then exit
  -V, --version       print the version and exit
  -h, --help          this text

environment:
  TLA2TOOLS_JAR       use this tla2tools.jar (its sha256 must be pinned,
                      or given in TLA2TOOLS_SHA256)
  DMSNAP_TLC_CACHE    cache directory (default ~/.cache/dmsnap/tlc)
  DMSNAP_MAVEN_ARGS   extra arguments for mvn (e.g. -Dmaven.repo.local=/tmp/m2)
  JAVA_HOME           Java 11 or newer to run TLC with`;

/** @param {string} msg */
const log = (msg) => process.stderr.write(`tlc: ${msg}\n`);

async function main() {
  const parsed = parseCommandLine("dmsnap-tlc", HELP, process.argv, (program) =>
    program
      .argument("[configuration...]")
      .option("--manifest <path>")
      .option("--results <file>")
      .option("--workers <n>")
      .option("--trace-json <dir>")
      .option("--save-output <dir>")
      .option("--no-traces")
      .option("--no-trace-validation")
      .option("--mutants")
      .option("--no-mutants")
      .option("--mutant <name>", "", (/** @type {string} */ v, /** @type {string[]} */ prev) => [...prev, v], /** @type {string[]} */ ([]))
      .option("--parse <file>")
      .option("--which")
      .option("--all")
      .option("--slow"),
  );
  if (typeof parsed === "number") return parsed;
  const { opts: o, args: positionals } = parsed;
  // The option names as this runner uses them (commander camel-cases, and reads --no-x as x: false).
  const values = {
    manifest: o.manifest,
    results: o.results,
    workers: o.workers,
    "trace-json": o.traceJson,
    "save-output": o.saveOutput,
    "no-traces": o.traces === false,
    "no-trace-validation": o.traceValidation === false,
    mutants: o.mutants === true,
    mutant: o.mutant && o.mutant.length > 0 ? o.mutant : undefined,
    "no-mutants": o.mutants === false,
    parse: o.parse,
    which: o.which === true,
    all: o.all === true,
    slow: o.slow === true,
  };
  if (values.parse) {
    const r = parseTlcOutput(readFileSync(values.parse, "utf8"));
    const { trace, ...summary } = r;
    console.log(JSON.stringify(summary, null, 2));
    if (trace.length > 0) console.log(`counterexample:\n${formatTrace(trace)}`);
    if (values["trace-json"]) {
      writeFileSync(values["trace-json"], JSON.stringify({ ...summary, trace: traceToJson(trace) }, null, 2) + "\n");
    }
    return 0;
  }

  // A pnpm script runs in spec/ and names the caller's folder INIT_CWD.
  const manifestPath = values.manifest ? resolve(process.env.INIT_CWD ?? process.cwd(), values.manifest) : join(specDir, "manifest.json");
  const own = manifestPath === join(specDir, "manifest.json");
  // Paths in a manifest are relative to the manifest file.
  const manifestDir = dirname(manifestPath);
  if (!values.which) {
    if (!existsSync(manifestPath)) {
      log(`NO_MANIFEST: ${manifestPath} does not exist`);
      return 2;
    }
    const problems = schemaProblems(JSON.parse(readFileSync(manifestPath, "utf8")));
    if (problems.length > 0) {
      log(`BAD_MANIFEST: ${manifestPath} does not match manifest.schema.json:\n  ${problems.join("\n  ")}`);
      return 2;
    }
  }

  const { java, major } = findJava();
  const tlc = await findTlc(log);
  log(`Java ${major} (${java}); TLC ${tlc.jar} [${tlc.source}] sha256 ${tlc.sha256}`);
  if (values.which) return 0;

  const manifest = loadManifest(manifestPath);
  const unknown = positionals.filter((p) => !manifest.configurations.some((c) => c.name === p));
  if (unknown.length > 0) {
    log(`unknown configuration(s): ${unknown.join(", ")}`);
    return 2;
  }
  const onlyMutants = values.mutants === true || (values.mutant ?? []).length > 0;
  const selected = onlyMutants ? [] : selectConfigurations(manifest, { names: positionals, all: values.all === true, slowOnly: values.slow === true });
  const workers = values.workers ? Number(values.workers) : undefined;

  /** @type {string[]} */
  const rows = [];
  let failures = 0;
  let passed = 0;
  // Engine traces with the default set; counterexample replays with whichever set runs (--slow too).
  // Both only for the repository's own manifest, in a clone (they need the built engine).
  const replays = own && inRepo && !values["no-trace-validation"] && positionals.length === 0 && !onlyMutants;
  const validation = replays && !values.slow;
  /** @type {object[]} */
  const results = [];
  let replayed = 0;
  /** @type {string[]} */
  const replayFailures = [];
  /** @type {string[]} */
  const notReplayed = [];
  for (const entry of selected) {
    const expectation = entry.expect === "pass" ? "must pass" : `must violate ${entry.violated}`;
    const origin = entry.upstream ? `; upstream ${entry.upstream}${entry.bug ? `, BUG-HISTORY ${entry.bug}` : ""}` : "";
    // `design` is optional in a manifest (manifest.schema.json).
    console.log(`\n== ${entry.name}${entry.design ? `: ${entry.design}` : ""}\n   (${entry.config}, ${expectation}${origin})`);
    const o = await runConfiguration({ java, jar: tlc.jar, specDir: manifestDir, manifest, entry, ...(workers ? { workers } : {}) });
    const r = o.result;
    if (values["save-output"]) {
      mkdirSync(values["save-output"], { recursive: true });
      writeFileSync(join(values["save-output"], `${entry.name}.out`), o.raw);
    }
    const what = r.outcome === "pass" ? "no violation" : `${r.outcome} ${r.violated ?? ""} violated`.trim();
    console.log(
      `   TLC: ${what}; ${r.generated ?? "?"} states generated, ${r.distinct ?? "?"} distinct, depth ${r.depth ?? "?"}, ` +
        `${(r.seconds ?? o.wallSeconds).toFixed(1)} s in TLC (${o.wallSeconds.toFixed(1)} s wall, ${o.workers} worker${o.workers > 1 ? "s" : ""})`,
    );
    if (r.trace.length > 0) {
      if (!values["no-traces"]) console.log(`   counterexample (${r.trace.length} states; changed variables only):\n${formatTrace(r.trace)}`);
      if (values["trace-json"]) {
        mkdirSync(values["trace-json"], { recursive: true });
        const file = join(values["trace-json"], `${entry.name}.trace.json`);
        const { trace, ...summary } = r;
        writeFileSync(file, JSON.stringify({ configuration: entry.name, ...summary, trace: traceToJson(trace) }, null, 2) + "\n");
        console.log(`   trace written to ${file}`);
      }
    }
    if (replays && entry.expect === "fail" && entry.spec !== undefined && entry.spec !== manifest.spec && o.mismatches.length === 0) {
      // A module of its own (the byte-level 2009 race): its steps are CPU stores below the engine's API.
      notReplayed.push(entry.name);
      console.log(`   NOT REPLAYED into the engine: ${entry.spec} models bytes and CPU stores, not the engine's steps (bug2009* replay the race at the engine's level)`);
    } else if (replays && entry.expect === "fail" && r.trace.length > 0 && o.mismatches.length === 0) {
      // The other direction of trace validation: the counterexample, driven into the engine.
      const x = await replay({ specDir, name: entry.name, config: entry.config, violated: r.violated ?? "", trace: traceToJson(r.trace) });
      const [design, shipped] = x.runs;
      if (x.ok) {
        replayed++;
        console.log(
          `   replayed into the engine: ${x.witness ? "reached as shipped" : "violated with the design's switches"} at state ${design?.at}` +
            (shipped ? `; kept as shipped${shipped.added.length ? ` (${shipped.added.join("; ")})` : ""}` : ""),
        );
      } else if (x.unsupported.length > 0) {
        notReplayed.push(entry.name);
        console.log(`   NOT REPLAYED into the engine (no counterpart yet): ${x.unsupported.slice(0, 3).join("; ")}${x.unsupported.length > 3 ? `; ${x.unsupported.length - 3} more` : ""}`);
      } else {
        replayFailures.push(`${entry.name}: ${x.problems.join("; ")}`);
        console.log(`   REPLAY FAILED: ${x.problems.join("; ")}`);
      }
    }
    const ok = o.mismatches.length === 0;
    results.push({ name: entry.name, expect: entry.expect, ...(entry.violated ? { violated: entry.violated } : {}), ok, outcome: r.outcome, found: r.violated ?? null, distinct: r.distinct ?? null, traceLength: r.trace.length, seconds: o.wallSeconds, mismatches: o.mismatches });
    if (ok) passed++;
    else failures++;
    console.log(ok ? "   OK: as the manifest expects" : `   MISMATCH:\n${o.mismatches.map((m) => `     - ${m}`).join("\n")}`);
    rows.push(
      `${ok ? "ok  " : "FAIL"}  ${entry.name.padEnd(26)} ${expectation.padEnd(32)} ${String(r.distinct ?? "?").padStart(8)} distinct ` +
        `${String(r.generated ?? "?").padStart(9)} generated  depth ${String(r.depth ?? "?").padStart(3)}  ${o.wallSeconds.toFixed(1).padStart(6)} s`,
    );
  }
  console.log(`\nTLC ${tlc.jar} (sha256 ${tlc.sha256})\n${rows.join("\n")}`);
  if (values.results) writeFileSync(resolve(process.env.INIT_CWD ?? process.cwd(), values.results), JSON.stringify({ manifest: manifestPath, passed, failed: failures, configurations: results }, null, 2) + "\n");
  // The repository's closing count (scripts/summary.mjs): only for its own manifest, in a clone.
  const cache = join(specDir, "..", ".cache");
  const counts = own && inRepo;
  if (counts) mkdirSync(cache, { recursive: true });
  let traceFailures = 0;
  if (validation) {
    console.log("\n== trace validation: engine runs as behaviours of the model (spec/trace/TraceDmSnapStore.tla)");
    const started = process.hrtime.bigint();
    const t = await validateTraces({ java, jar: tlc.jar, specDir, log: (s) => console.log(`   ${s}`) });
    traceFailures = t.failures.length + replayFailures.length;
    for (const f of [...t.failures, ...replayFailures]) console.log(`   FAIL ${f}`);
    console.log(`   TLC: ${t.distinct ?? "?"} distinct states, ${t.seconds.toFixed(1)} s (${(Number(process.hrtime.bigint() - started) / 1e9).toFixed(1)} s with the engine runs)`);
    if (notReplayed.length > 0) console.log(`   counterexamples not replayed (no engine counterpart yet): ${notReplayed.join(", ")}`);
    console.log(`\ntraces: ${t.accepted} accepted, ${t.rejected} mutants rejected, ${replayed} counterexamples replayed, ${traceFailures} failed`);
    writeFileSync(join(cache, "traces.json"), JSON.stringify({ passed: t.accepted + t.rejected + replayed, failed: traceFailures }) + "\n");
  } else if (replays) {
    traceFailures = replayFailures.length;
    for (const f of replayFailures) console.log(`   FAIL ${f}`);
    if (notReplayed.length > 0) console.log(`   counterexamples not replayed (no engine counterpart yet): ${notReplayed.join(", ")}`);
    console.log(`\ncounterexamples: ${replayed} replayed into the engine, ${traceFailures} failed`);
    writeFileSync(join(cache, "traces-slow.json"), JSON.stringify({ passed: replayed, failed: traceFailures }) + "\n");
  }
  // The fixed design's mutants (spec/mutants.json): each must be killed by the property it names.
  let mutantFailures = 0;
  const mutantsWanted = own && !values["no-mutants"] && (onlyMutants || (positionals.length === 0 && !values.slow));
  if (mutantsWanted) {
    console.log("\n== design mutants: single-point changes of the fixed design (spec/mutants.json), each run under its configuration's constants with only the property that must kill it");
    const list = loadMutants(join(specDir, "mutants.json"));
    const started = process.hrtime.bigint();
    const m = await runMutants({ java, jar: tlc.jar, specDir, list, manifest, only: values.mutant ?? [] });
    const table = mutantTable(m);
    console.log(table.slice(0, -1).join("\n"));
    console.log(`(${(Number(process.hrtime.bigint() - started) / 1e9).toFixed(1)} s)`);
    console.log(table[table.length - 1]);
    mutantFailures = m.filter((r) => !r.killed).length;
    if (counts && !onlyMutants) writeFileSync(join(cache, "design-mutants.json"), JSON.stringify({ passed: m.length - mutantFailures, failed: mutantFailures }) + "\n");
  }
  console.log(`\nspec: ${passed} passed, ${failures} failed`);
  // For the repo's closing summary (scripts/summary.mjs).
  if (counts) writeFileSync(join(cache, values.slow ? "spec-slow.json" : "spec.json"), JSON.stringify({ passed, failed: failures }) + "\n");
  return failures > 0 || traceFailures > 0 || mutantFailures > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    log(err instanceof Error ? err.message : String(err));
    process.exit(2);
  },
);
