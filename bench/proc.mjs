/**
 * Timing whole processes: wall clock around the process and its peak RSS as
 * GNU time reports it (%M, KiB, the whole process). Output goes to a file or
 * /dev/null, never through a pipe we read, so a slow consumer cannot skew it.
 */
import { spawnSync } from "node:child_process";
import { accessSync, closeSync, constants, existsSync, mkdtempSync, openSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { median, parseTimes } from "./lib.mjs";

export const root = new URL("..", import.meta.url).pathname;
export const BIN = join(root, "packages/cli/dist/bin.js");
const TIME = "/usr/bin/time";

export function requireTools() {
  if (!existsSync(TIME)) throw new Error("bench needs GNU time at /usr/bin/time (Debian package 'time')");
  if (!existsSync(BIN)) throw new Error("bench needs the built CLI: run 'pnpm build' first");
}

/**
 * Runs `argv` (argv[0] is the program) with stdout to `stdout` (a path, default
 * /dev/null). Returns { ms, rssMiB }. Throws on a non-zero exit unless `ok` allows it.
 */
export function timed(argv, { stdout = "/dev/null", ok = [0], env, timeoutSec } = {}) {
  const out = openSync(stdout, "w");
  try {
    // `timeout` between GNU time and the program: time's %M still covers the program (the largest waited-for descendant).
    const limit = timeoutSec ? ["timeout", "-s", "KILL", String(timeoutSec)] : [];
    const t0 = process.hrtime.bigint();
    const r = spawnSync(TIME, ["-f", "BENCH_MAXRSS=%M", ...limit, ...argv], { stdio: ["ignore", out, "pipe"], encoding: "utf8", maxBuffer: 1 << 24, env: env ?? process.env });
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    const m = /BENCH_MAXRSS=(\d+)/.exec(r.stderr ?? "");
    const status = /exited with non-zero status (\d+)/.exec(r.stderr ?? "")?.[1];
    const code = status === undefined ? (r.status ?? -1) : Number(status);
    const timedOut = !!timeoutSec && code === 137;
    if (!timedOut && !ok.includes(code)) throw new Error(`${argv.join(" ")}: exit ${code}\n${(r.stderr ?? "").slice(-2000)}`);
    return { ms, rssMiB: m ? Number(m[1]) / 1024 : NaN, code, timedOut };
  } finally {
    closeSync(out);
  }
}

/**
 * Runs `argv` and returns { ms: its CPU time (user + system, all threads, in
 * ms, from bash's `times`: 1 ms resolution, where GNU time's %U/%S have 10) }.
 * For short processes on a shared machine, where the wall clock includes
 * waiting for a core.
 */
export function cpuTimed(argv) {
  const r = spawnSync("bash", ["-c", '"$@" >/dev/null; s=$?; times >&2; exit $s', "bash", ...argv], { stdio: ["ignore", "ignore", "pipe"], encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${argv.join(" ")}: exit ${r.status}\n${(r.stderr ?? "").slice(-2000)}`);
  const ms = parseTimes(r.stderr);
  if (!Number.isFinite(ms)) throw new Error(`no CPU time from bash's times for ${argv.join(" ")}: ${r.stderr}`);
  return { ms };
}

/** `dmsnap <args>` as a process (the real CLI, node included). */
export function dmsnap(args, opts) {
  return timed([process.execPath, BIN, ...args], opts);
}

/** Flushes dirty pages so one measurement's write-back does not land in the next. */
export function settle() {
  spawnSync("sync", [], { stdio: "ignore" });
}

/**
 * Whether disk-bound groups drop the page cache between runs: as root (and
 * unless DMSNAP_BENCH_DROP_CACHES=0), `sync; echo 3 > /proc/sys/vm/drop_caches`
 * before every timed run, so that every run, subject and baseline alike,
 * reads its input from the disk (cold). Files in /dev/shm stay in memory.
 */
export const canDropCaches = (() => {
  if (process.env.DMSNAP_BENCH_DROP_CACHES === "0") return false;
  try {
    accessSync("/proc/sys/vm/drop_caches", constants.W_OK);
    return process.getuid?.() === 0;
  } catch {
    return false;
  }
})();

/** sync, then drop the page cache (when canDropCaches), else just sync. */
export function dropCaches() {
  settle();
  if (!canDropCaches) return false;
  writeFileSync("/proc/sys/vm/drop_caches", "3\n");
  return true;
}

/**
 * Runs each of `fns` (name -> () => {ms, ...}) in turn, `runs` rounds,
 * alternating so that noise hits all alike; stops early after `minRuns`
 * rounds once `budgetMs` is spent. Returns name -> { ms (median), runs: [...] }.
 */
export function alternate(fns, { runs = 5, minRuns = 3, budgetMs = 60_000, before } = {}) {
  const all = Object.fromEntries(Object.keys(fns).map((k) => [k, []]));
  const t0 = Date.now();
  for (let r = 0; r < runs; r++) {
    for (const [k, f] of Object.entries(fns)) {
      before?.(k);
      all[k].push(f());
    }
    if (r + 1 >= minRuns && Date.now() - t0 > budgetMs) break;
  }
  return Object.fromEntries(
    Object.entries(all).map(([k, xs]) => [k, { ms: median(xs.map((x) => x.ms)), rssMiB: Math.max(...xs.map((x) => x.rssMiB ?? NaN)), runs: xs.map((x) => x.ms), timedOut: xs.some((x) => x.timedOut) }]),
  );
}

/** A fresh temporary folder (in `base`: os.tmpdir(), or DMSNAP_BENCH_DIR) removed at exit, even on Ctrl-C. */
export function scratch(prefix, base = process.env.DMSNAP_BENCH_DIR ?? tmpdir()) {
  const dir = mkdtempSync(join(base, `dmsnap-bench-${prefix}-`));
  const clean = () => rmSync(dir, { recursive: true, force: true });
  process.on("exit", clean);
  for (const s of ["SIGINT", "SIGTERM"]) process.on(s, () => process.exit(130));
  return dir;
}

const t0 = Date.now();
/** Progress on stderr, with the seconds since this group started. */
export function log(msg) {
  process.stderr.write(`  [${((Date.now() - t0) / 1000).toFixed(0).padStart(3)} s] ${msg}\n`);
}

/** Hands a group's rows to `pnpm bench` (--rows-out FILE) or prints them when the group runs alone. */
export async function emit(rows) {
  const i = process.argv.indexOf("--rows-out");
  if (i > 0) {
    const { writeFileSync } = await import("node:fs");
    writeFileSync(process.argv[i + 1], JSON.stringify(rows));
    return;
  }
  const { formatTable } = await import("./lib.mjs");
  console.log(formatTable(rows, { firstRun: true }));
  if (process.argv.includes("--json")) console.log(JSON.stringify(rows));
}

export const quick = process.argv.includes("--quick");

/** A memory file system for benchmarks of software overhead (fdatasync is free there), or null. */
export function memoryDir() {
  if (process.env.DMSNAP_BENCH_MEMDIR) return process.env.DMSNAP_BENCH_MEMDIR;
  try {
    accessSync("/dev/shm", constants.W_OK);
    return "/dev/shm";
  } catch {
    return null;
  }
}
