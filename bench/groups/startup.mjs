// Target: the CLI's start-up, `dmsnap --version` (the whole process), within
// 1.3x of `node -e 0` (the runtime's own start-up, the floor any Node CLI has),
// by the ratio of the medians of >= 15 alternated pairs. Both are short (tens of
// ms): a single pair is at the mercy of the scheduler, hence the pairs and the
// noise check (an `inconclusive` verdict when node's own spread is wider than
// the margin to the goal).
import { makeRow } from "../lib.mjs";
import { alternate, dmsnap, emit, log, requireTools, timed } from "../proc.mjs";

requireTools();
const PAIRS = 15;
const r = alternate(
  {
    dmsnap: () => dmsnap(["--version"]),
    node: () => timed([process.execPath, "-e", "0"]),
  },
  { runs: PAIRS, minRuns: PAIRS, budgetMs: 0 },
);
log(`dmsnap --version: ${r.dmsnap.runs.map((x) => x.toFixed(0)).join(", ")} ms`);
log(`node -e 0: ${r.node.runs.map((x) => x.toFixed(0)).join(", ")} ms`);

await emit([
  makeRow({
    id: "startup-version",
    group: "startup",
    what: "dmsnap --version, start-up of the whole process",
    unit: "ms",
    samples: { value: r.dmsnap.runs, baseline: r.node.runs },
    baseline: { label: "node -e 0" },
    target: { on: "ratio", op: "<=", limit: 1.3, minPairs: PAIRS },
    note: `${PAIRS} alternated pairs, ratio of the medians; peak RSS ${r.dmsnap.rssMiB.toFixed(0)} MiB vs ${r.node.rssMiB.toFixed(0)} MiB`,
  }),
]);
