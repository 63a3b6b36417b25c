// The layout mutation gate (issue #14): do the format and store tests notice
// when the area-location formula is wrong? Each mutant changes the formula in
// packages/format/src/layout.ts IN MEMORY ONLY (a Vite transform of the module
// as vitest loads it; the file on disk is never touched), runs the format and
// store test files, and counts the failed test cases from vitest's JSON
// reporter. Fails unless every mutant is killed and the area-stride mutant
// fails at least a third of the tests: tests whose expected values come from
// layout.ts itself would pass with any formula. The other mutants only need
// to be killed, so their runs stop at the first failure (CI time).
//
//   node scripts/layout-mutant.mjs            # the gate (writes .cache/layout-mutant.json)
//   node scripts/layout-mutant.mjs --list     # also name the tests each mutant failed
//   node scripts/layout-mutant.mjs --list packages/format/src/salvage   # only these test files (no gate)
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startVitest } from "vitest/node";

const root = new URL("..", import.meta.url).pathname;
const layoutFile = join(root, "packages/format/src/layout.ts");
const THRESHOLD = 1 / 3;

/**
 * Each mutant: regular expressions over layout.ts, each of which must match
 * (so a refactor of layout.ts makes this script fail loudly instead of
 * measuring an unmutated run). The formula: area i at chunk 1 + i * (E + 1).
 */
const mutants = [
  {
    // area i at 1 + i * E: the areas drift one chunk per area (the primary mutant)
    name: "area-stride",
    gate: true,
    edits: [[/(function areaStrideForE\([^)]*\)[^{]*\{\s*return \w+) \+ 1;/, "$1;"]],
  },
  {
    // area i at 1 + i * (E + 2)
    name: "area-stride-plus-one",
    gate: false,
    edits: [[/(function areaStrideForE\([^)]*\)[^{]*\{\s*return \w+) \+ 1;/, "$1 + 2;"]],
  },
  {
    // area i at 2 + i * (E + 1): every area one chunk late, consistently (location, area test, owning area)
    name: "area-origin",
    gate: false,
    edits: [
      [/(function areaLocationForE\([^)]*\)[^{]*\{\s*return) 1 \+ /, "$1 2 + "],
      [/(function isAreaChunkForE\([^)]*\)[^{]*\{[^}]*?\(chunk) - 1\)/, "$1 - 2)"],
      [/(function areaOfChunkForE\([^)]*\)[^{]*\{[^}]*?\(chunk) - 1\)/, "$1 - 2)"],
    ],
  },
];

function mutate(code, m) {
  let out = code;
  for (const [re, to] of m.edits) {
    if (!re.test(out)) throw new Error(`layout mutant ${m.name}: ${re} no longer matches packages/format/src/layout.ts; update scripts/layout-mutant.mjs to the new shape of the formula`);
    out = out.replace(re, to);
  }
  if (out === code) throw new Error(`layout mutant ${m.name} changed nothing`);
  return out;
}

const list = process.argv.includes("--list");
const only = process.argv.slice(2).filter((a) => !a.startsWith("--"));
const filters = only.length > 0 ? only : ["packages/format/", "packages/store/"];
const workdir = join(tmpdir(), `dmsnap-layout-mutant-${process.pid}`);
mkdirSync(workdir, { recursive: true });
const cleanup = () => rmSync(workdir, { recursive: true, force: true });
for (const sig of ["SIGINT", "SIGTERM"]) process.once(sig, () => (cleanup(), process.exit(130)));

async function runMutant(m, files = filters) {
  const source = readFileSync(layoutFile, "utf8");
  const mutated = mutate(source, m);
  let applied = 0;
  const plugin = {
    name: "dmsnap-layout-mutant",
    enforce: "pre",
    transform(code, id) {
      if (id.split("?")[0] !== layoutFile) return null;
      applied++;
      return mutate(code, m);
    },
  };
  const outputFile = join(workdir, `${m.name}.json`);
  const vitest = await startVitest(
    "test",
    files,
    { root, run: true, watch: false, reporters: ["json"], outputFile: { json: outputFile }, silent: true, config: join(root, "vitest.config.ts"), ...(m.gate || list ? {} : { bail: 1 }) },
    { plugins: [plugin] },
  );
  await vitest?.close();
  process.exitCode = 0; // vitest sets it when tests fail; here that is the point
  if (applied === 0 || mutated === source) throw new Error(`layout mutant ${m.name}: layout.ts was never loaded through the mutation`);
  const j = JSON.parse(readFileSync(outputFile, "utf8"));
  const failedNames = j.testResults.flatMap((f) => f.assertionResults.filter((a) => a.status === "failed").map((a) => `${f.name.slice(root.length)} > ${a.fullName}`));
  // A test file that fails to load counts its file as failed with no test cases: count it loudly.
  const brokenFiles = j.testResults.filter((f) => f.status === "failed" && f.assertionResults.length === 0).map((f) => f.name.slice(root.length));
  return { name: m.name, gate: m.gate, total: j.numTotalTests, failed: j.numFailedTests, failedNames, brokenFiles };
}

try {
  const results = [];
  for (const m of mutants) {
    const bail = !m.gate && !list && only.length === 0;
    // A mutant that only needs killing is first tried on the (fast) format tests.
    let r = bail ? await runMutant(m, ["packages/format/"]) : await runMutant(m);
    if (bail && r.failed === 0) r = await runMutant(m);
    results.push(r);
  }
  const killed = results.filter((r) => r.failed > 0).length;
  const pct = (r) => Math.round((100 * r.failed) / Math.max(1, r.total));
  const parts = results.map((r) => (r.gate || list ? `${r.name} mutant failed ${r.failed} of ${r.total} format+store tests (${pct(r)} %)` : `${r.name} mutant ${r.failed > 0 ? "killed" : "NOT killed"}`));
  console.log(`layout mutants: ${killed} of ${results.length} killed; ${parts.join("; ")}`);
  for (const r of results) {
    if (r.brokenFiles.length > 0) console.log(`  ${r.name}: test files that did not load: ${r.brokenFiles.join(", ")}`);
    if (list) for (const n of r.failedNames) console.log(`  ${r.name} killed by: ${n}`);
  }
  const checks = results.flatMap((r) => [r.failed > 0, ...(r.gate ? [r.failed >= THRESHOLD * r.total] : [])]);
  const passed = checks.filter(Boolean).length;
  mkdirSync(join(root, ".cache"), { recursive: true });
  if (only.length > 0) process.exit(0); // a subset: no gate, no record
  writeFileSync(join(root, ".cache/layout-mutant.json"), JSON.stringify({ passed, failed: checks.length - passed, threshold: THRESHOLD, results }, null, 2));
  if (passed < checks.length) {
    console.error(`layout mutants: FAILED: every mutant must fail some test, and the area-stride mutant at least ${Math.round(THRESHOLD * 100)} % of the format+store tests (run with --list to see which tests noticed)`);
    process.exitCode = 1;
  }
} finally {
  cleanup();
}
