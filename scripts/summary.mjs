// Prints one plain closing line per test runner that ran ("vitest: N passed,
// N failed"), so CI logs end with a count any reader understands.
import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs";

const root = new URL("..", import.meta.url).pathname;
const sources = [
  ["vitest", ".cache/vitest.json", (j) => [j.numPassedTests, j.numFailedTests, j.numPendingTests + (j.numTodoTests ?? 0)]],
  ["spec", ".cache/spec.json", (j) => [j.passed, j.failed, 0]],
  ["traces", ".cache/traces.json", (j) => [j.passed, j.failed, 0]],
  ["design-mutants", ".cache/design-mutants.json", (j) => [j.passed, j.failed, 0]],
  // pnpm kernel:crash (CI, after the kernel conformance run): its checks
  ["kernel-crash", ".cache/kernel-crash.json", (j) => [j.passed, j.failed, 0]],
  // pnpm kernel:matrix (CI): kernels of the matrix, the patched module, the series applying (scripts/kernel-matrix.py)
  ["kernel-matrix", ".cache/kernel-matrix.json", (j) => [j.passed, j.failed, 0]],
  // scripts/outside-use.sh (CI, after pnpm verify): the packed packages installed outside the clone
  ["outside-use", ".cache/outside-use.json", (j) => [j.passed, j.failed, 0]],
  // pnpm test:explorer (CI): the format explorer in Debian's chromium
  ["explorer", ".cache/explorer.json", (j) => [j.passed, j.failed, 0]],
  ["spec-slow", ".cache/spec-slow.json", (j) => [j.passed, j.failed, 0]],
  ["traces-slow", ".cache/traces-slow.json", (j) => [j.passed, j.failed, 0]],
  // pnpm layout:mutants: each layout-formula mutant killed, and the area-stride one by at least a third of the format+store tests
  ["layout-mutants", ".cache/layout-mutant.json", (j) => [j.passed, j.failed, 0]],
  // pnpm fuzz: one count per CLI run over a hostile input
  ["fuzz", ".cache/fuzz.json", (j) => [j.passed, j.failed, 0]],
];
// Every conformance run: conformance.json (default readers), conformance-kernel.json, ...
for (const f of existsSync(`${root}.cache`) ? readdirSync(`${root}.cache`).sort() : []) {
  const m = /^conformance(-[\w-]+)?\.json$/.exec(f);
  if (m) sources.push([`conformance${m[1] ?? ""}`, `.cache/${f}`, (j) => [j.passed, j.failed, j.skipped ?? 0]]);
}
if (process.argv[2] === "--reset") {
  // Start of a verify run: forget results of earlier runs.
  for (const [, file] of sources) rmSync(root + file, { force: true });
  process.exit(0);
}
let passed = 0;
let failed = 0;
let skipped = 0;
for (const [name, file, read] of sources) {
  if (!existsSync(root + file)) continue;
  const [p, f, s] = read(JSON.parse(readFileSync(root + file, "utf8")));
  console.log(`${name}: ${p} passed, ${f} failed${s ? `, ${s} skipped` : ""}`);
  passed += p;
  failed += f;
  skipped += s;
}
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ""}`);
process.exit(failed > 0 ? 1 : 0);
