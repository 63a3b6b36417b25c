// Target: the CLI's start-up, `dmsnap --version` (the whole process), within
// 1.3x of `node -e 0` (the runtime's own start-up, the floor any Node CLI has),
// by the ratio of the medians of >= 15 alternated pairs of CPU time (user +
// system, all threads). Both are short (about 80 ms): on the shared 2-core
// machine the wall clock of one run includes waiting for a core, so node's own
// wall-clock spread (74-123 ms over 15 runs) was wider than any margin and the
// row could only be `inconclusive`; its CPU time varied by about 10 %. The
// wall clock is measured too (its own 15 pairs) and shown as information.
import { makeRow } from "../lib.mjs";
import { alternate, BIN, cpuTimed, dmsnap, emit, log, requireTools, timed } from "../proc.mjs";

requireTools();
const PAIRS = 15;
const cpu = alternate(
  {
    dmsnap: () => cpuTimed([process.execPath, BIN, "--version"]),
    node: () => cpuTimed([process.execPath, "-e", "0"]),
  },
  { runs: PAIRS, minRuns: PAIRS, budgetMs: 0 },
);
const wall = alternate(
  {
    dmsnap: () => dmsnap(["--version"]),
    node: () => timed([process.execPath, "-e", "0"]),
  },
  { runs: PAIRS, minRuns: PAIRS, budgetMs: 0 },
);
for (const [k, r] of [["CPU", cpu], ["wall", wall]]) {
  log(`${k}: dmsnap --version ${r.dmsnap.runs.map((x) => x.toFixed(0)).join(", ")} ms`);
  log(`${k}: node -e 0 ${r.node.runs.map((x) => x.toFixed(0)).join(", ")} ms`);
}

const row = (id, r, how, note, target) =>
  makeRow({ id, group: "startup", what: `dmsnap --version, start-up of the whole process, ${how}`, unit: "ms", samples: { value: r.dmsnap.runs, baseline: r.node.runs }, baseline: { label: "node -e 0" }, note, ...(target ? { target } : {}) });
await emit([
  row("startup-version", cpu, "CPU time", `${PAIRS} alternated pairs, user + system CPU time of all threads (bash's times), ratio of the medians`, { on: "ratio", op: "<=", limit: 1.3, minPairs: PAIRS }),
  row("startup-version-wall", wall, "wall clock", `information: ${PAIRS} alternated pairs, ratio of the medians; peak RSS ${wall.dmsnap.rssMiB.toFixed(0)} MiB vs ${wall.node.rssMiB.toFixed(0)} MiB`),
]);
