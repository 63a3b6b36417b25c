// `pnpm bench [group...] [--quick] [--json]`: every speed target of issues #15
// and #24 (and the older ones), each with met/MISSED/inconclusive, as a ratio
// against a baseline measured in the same run, and against the previous run
// (.cache/bench/last.json). Groups: startup decode lookups commit dump scan
// (= check map usage) export restore salvage (= repair) merge.
// Build first (`pnpm build`). Never part of CI. See docs/benchmarks.md.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { compareWithPrevious, formatTable, makeRow, mergeRuns, summary } from "../bench/lib.mjs";
import { canDropCaches } from "../bench/proc.mjs";

const root = new URL("..", import.meta.url).pathname;
const args = process.argv.slice(2);
const quick = args.includes("--quick");
const json = args.includes("--json");

/** Each group: how to run it, and the rows it must produce (so a crashed group still shows its targets as MISSED). */
const GROUPS = {
  startup: { argv: ["bench/groups/startup.mjs"], ids: ["startup-version", "startup-version-wall"], needs: "packages/cli/dist" },
  decode: { argv: ["--expose-gc", "packages/format/bench/run.mjs"], ids: ["decode-min", "decode-median"], needs: "packages/format/dist" },
  lookups: { argv: ["packages/store/bench/run.mjs", "lookups"], ids: ["lookups"], needs: "packages/store/dist" },
  commit: { argv: ["packages/store/bench/run.mjs", "commit"], ids: ["commit-100k"], needs: "packages/store/dist" },
  dump: { argv: ["bench/groups/dump.mjs"], ids: ["dump-json-time", "dump-json-rss"], needs: "packages/cli/dist" },
  scan: { argv: ["bench/groups/scan.mjs"], ids: ["check-rate", "check-rss", "map-rate", "map-rss", "usage-rate", "usage-rss"], needs: "packages/cli/dist" },
  export: { argv: ["bench/groups/export.mjs"], ids: ["export-random-4k", "export-sequential-4k", "export-big-1s", "export-rss-small", "export-rss-big"], needs: "packages/cli/dist" },
  restore: { argv: ["bench/groups/restore.mjs"], ids: ["restore-time"], needs: "packages/cli/dist" },
  salvage: { argv: ["bench/groups/salvage.mjs"], ids: ["repair-rss", "salvage-rss"], needs: "packages/cli/dist" },
  merge: { argv: ["packages/store/bench/run.mjs", "merge"], ids: ["merge-1m", "merge-1m-wall"], needs: "packages/store/dist" },
};
const ALIASES = { check: "scan", map: "scan", usage: "scan", repair: "salvage", store: ["lookups", "commit", "merge"], format: "decode" };

const names = args.filter((a) => !a.startsWith("--"));
const chosen = new Set();
for (const n of names) {
  const g = ALIASES[n] ?? n;
  for (const x of [g].flat()) {
    if (!GROUPS[x]) {
      console.error(`bench: unknown group '${n}'; groups: ${Object.keys(GROUPS).join(", ")} (also check, map, usage, repair, store, format)`);
      process.exit(2);
    }
    chosen.add(x);
  }
}
const run = Object.keys(GROUPS).filter((g) => chosen.size === 0 || chosen.has(g));

// A --quick run has other sizes: it keeps its own previous run.
const lastPath = join(root, quick ? ".cache/bench/last.quick.json" : ".cache/bench/last.json");
let last = null;
try {
  last = JSON.parse(readFileSync(lastPath, "utf8"));
} catch {
  last = null;
}

const started = Date.now();
const tmp = mkdtempSync(join(tmpdir(), "dmsnap-bench-rows-"));
let rows = [];
let crashed = 0;
try {
  for (const g of run) {
    const spec = GROUPS[g];
    console.error(`== ${g} ==`);
    const t0 = Date.now();
    let error = null;
    if (!existsSync(join(root, spec.needs))) error = `${spec.needs} is missing: run 'pnpm build' first`;
    const out = join(tmp, `${g}.json`);
    if (!error) {
      const r = spawnSync(process.execPath, [...spec.argv, ...(quick ? ["--quick"] : []), "--rows-out", out], { cwd: root, stdio: ["ignore", "inherit", "inherit"] });
      if (r.status !== 0 || !existsSync(out)) error = `the group exited with ${r.status ?? r.signal}`;
    }
    let got = [];
    if (!error) got = JSON.parse(readFileSync(out, "utf8"));
    const have = new Set(got.map((x) => x.id));
    for (const id of spec.ids.filter((id) => !have.has(id))) {
      got.push(makeRow({ id, group: g, what: `${id} (not measured)`, value: NaN, unit: "", target: { on: "value", op: ">=", limit: Infinity }, note: error ?? "the group produced no such row" }));
    }
    if (error) crashed++;
    console.error(`   ${g}: ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    rows.push(...got);
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}

rows = compareWithPrevious(rows, last);
const at = new Date().toISOString();
const s = summary(rows);
console.log(`\ndmsnap benchmarks${quick ? " (--quick: smaller sizes)" : ""}, ${at}, node ${process.version}, load ${loadavg().map((x) => x.toFixed(1)).join(" ")}, ${((Date.now() - started) / 1000).toFixed(0)} s`);
console.log(`images: layouts written by dmsnap's builder (bench/cow.mjs), not by the kernel`);
console.log(`page cache: ${canDropCaches ? "dropped (sync; echo 3 > /proc/sys/vm/drop_caches) before every timed run of the disk-bound export rows: both sides cold" : "not dropped (not root, or DMSNAP_BENCH_DROP_CACHES=0): disk-bound rows run warm, after a warm-up"}`);
console.log(`previous run: ${last ? last.at : `first run (no ${lastPath.slice(root.length)})`}\n`);
console.log(formatTable(rows, { firstRun: !last }));
console.log(`\n${s.met} met, ${s.missed} MISSED${s.missed ? ` (${s.missedIds.join(", ")})` : ""}, ${s.inconclusive} inconclusive${s.inconclusive ? ` (${s.inconclusiveIds.join(", ")}: not met, the baseline's spread is wider than the margin)` : ""}`);
if (json) console.log(JSON.stringify({ at, quick, node: process.version, rows, summary: s }));
mkdirSync(join(root, ".cache/bench"), { recursive: true });
writeFileSync(lastPath, JSON.stringify(mergeRuns(last, rows, at), null, 1));
process.exit(crashed ? 1 : 0);
