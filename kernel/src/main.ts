/**
 * `pnpm kernel:crash`: the real kernel's I/O order, validated against the
 * store's write-order rules and crashed at every point (issue #10).
 *
 *  1. record every workload's log in one QEMU boot (kernel/io/record.py),
 *     or read logs already recorded (--logs DIR, e.g. the committed fixtures);
 *  2. validate each log's order; check that replaying the log gives the slice
 *     the kernel left; mutate each log (order.ts `mutations`) and judge every
 *     mutant by each layer that applies (order rules, TLC, crash enumeration:
 *     the line `kernel log mutants: R of M rejected`);
 *  3. enumerate crash states, judge each with our codec, and activate a sample
 *     (every violating state included) with the real kernel in one more boot;
 *  4. the same enumeration over our engine's own logs (0 violations), under
 *     the kernel's header rule (violations: the check has teeth) and under the
 *     smallest kernel fix (0 violations).
 * Ends with the one summary line; exit 0 only when every check passed and
 * every kernel violation is a documented finding.
 */
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync, gunzipSync } from "node:zlib";
import { enumerateCrashes, replay, type CrashState } from "./crash.js";
import { engineLog, type HeaderRule } from "./engine.js";
import { parseLog, type LogEvent } from "./log.js";
import { designOf, toModel, type ModelLog } from "./model.js";
import { crashShows, mutations, validateOrder } from "./order.js";
import { KERNEL_IDS, kernelEnv, kernelIdProblem, UNKNOWN_KERNEL, unknownKernelMessage } from "./kernels.js";
import { ACTIVATE_PY } from "./oracle.js";
import { checkKernelLogs } from "./tlc.js";
import { loadWorkloads, tableOf, type Workload } from "./workload.js";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const IO = join(ROOT, "kernel/io");
/** Violations explained by docs/kernel-findings.md. */
const DOCUMENTED = new Set(["invalidation-not-durable", "first-activation-stale-area-0"]);

type Layer = "order" | "tlc" | "crash";
/** A mutated kernel log and each layer's verdict on it ("rejected ..." or "ACCEPTED"). */
interface MutantRecord {
  workload: string;
  kind: string;
  layers: Partial<Record<Layer, string>>;
  /** Its index among the logs TLC checks. */
  tlcIndex?: number;
}

interface Args {
  logs: string | null;
  kernelActivation: boolean;
  sample: number;
  out: string | null;
  tlc: boolean;
  /** TLC over the kernel's logs and their design variants only (not the mutants, not the engine's logs). */
  tlcLight: boolean;
  /** Write .cache/kernel-crash.json, CI's closing count (off for the matrix's other kernels). */
  count: boolean;
  /** Run the same enumeration over our engine's logs (the same for every kernel). */
  engine: boolean;
  kernel: string | null;
}

function parseArgs(argv: string[]): Args {
  // paths are the caller's: a pnpm script runs in kernel/ and names the caller's folder INIT_CWD
  const caller = process.env.INIT_CWD ?? process.cwd();
  const a: Args = { logs: null, kernelActivation: true, sample: 16, out: null, tlc: true, tlcLight: false, count: true, engine: true, kernel: null };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    if (k === "--logs") a.logs = resolve(caller, argv[++i]!);
    else if (k === "--no-kernel") a.kernelActivation = false;
    else if (k === "--no-tlc") a.tlc = false;
    else if (k === "--tlc-light") a.tlcLight = true;
    else if (k === "--no-count") a.count = false;
    else if (k === "--no-engine") a.engine = false;
    else if (k === "--sample") a.sample = Number(argv[++i]);
    else if (k === "--out") a.out = resolve(caller, argv[++i]!);
    else if (k === "--kernel") a.kernel = argv[++i] ?? "";
    else if (k === "--help" || k === "-h") {
      console.log("usage: kernel-crash [--kernel ID] [--logs DIR] [--no-kernel] [--sample N] [--out DIR]\n  --kernel ID  boot this kernel of the matrix: 6.1 (default), 6.12, 6.1+fix, 6.12+fix, or a folder with vmlinuz* and lib/modules/<release>/ (kernel/kernels.sh)\n  --logs DIR   read DIR/<workload>.log.gz (+ record.json) instead of booting QEMU to record\n  --no-kernel  skip the boot that activates crash states with the kernel\n  --no-tlc     skip the TLC trace validation of the logs against spec/DmSnapStore.tla\n  --tlc-light  TLC checks the kernel's logs (constants from each log's header writes) and their design variants only, not the mutants or our engine's logs (the kernel matrix: one short TLC run per kernel)\n  --no-engine  skip our engine's logs (the same on every kernel)\n  --no-count   do not write .cache/kernel-crash.json (CI's closing count: scripts/summary.mjs)\n  --sample N   crash states (besides every violating one) the kernel activates (default 16)\n  --out DIR    write the report (kernel-crash.json) and the violating states there");
      process.exit(0);
    } else {
      console.error(`kernel-crash: USAGE: unknown argument ${k}; see --help`);
      process.exit(2);
    }
  }
  if (a.kernel !== null) {
    if (!(KERNEL_IDS as readonly string[]).includes(a.kernel) && existsSync(resolve(caller, a.kernel))) a.kernel = resolve(caller, a.kernel); // a folder
    const problem = kernelIdProblem(a.kernel);
    if (problem) {
      console.error(`kernel-crash: ${UNKNOWN_KERNEL}: ${unknownKernelMessage(problem)}`);
      process.exit(2);
    }
    // the recorder and the activation (python children) boot the kernel these variables name
    try {
      Object.assign(process.env, kernelEnv(ROOT, a.kernel));
    } catch (e) {
      console.error(`kernel-crash: KERNEL_UNAVAILABLE: ${(e as Error).message}; see the lines above, and kernel/README.md`);
      process.exit(2);
    }
  }
  return a;
}

interface KernelAnswer {
  id: string;
  activation: string;
  status: string | null;
  snapshotSha256: string | null;
}

function runAsync(cmd: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ["ignore", "inherit", "inherit"], cwd: ROOT });
    child.on("error", reject);
    child.on("close", (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} ${args.join(" ")} exited with ${code}`))));
  });
}

function run(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { stdio: ["ignore", "inherit", "inherit"], cwd: ROOT });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} exited with ${r.status}`);
}

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  const t0 = Date.now();
  const workloads = loadWorkloads(join(IO, "workloads.json"));
  const work = mkdtempSync(join(tmpdir(), "dmsnap-kernel-crash-"));
  const problems: string[] = [];
  let checks = 0;
  try {
    let logsDir = args.logs;
    if (!logsDir) {
      logsDir = join(work, "logs");
      run("python3", [join(IO, "record.py"), "--out", logsDir]);
    }
    const record = JSON.parse(readFileSync(join(logsDir, "record.json"), "utf8")) as { kernel: string; bootSeconds: number; workloads: Record<string, { finalSha256: string }>; kernelId?: string | null; dmTargets?: string[]; dmSnapshotSha256?: string | null; dmSnapshotOrigin?: string };
    // a fresh recording against the committed fixtures (informative: kernel timing may move a group)
    let sameAsFixtures = 0;
    if (!args.logs) {
      for (const w of workloads) {
        const fx = join(IO, "fixtures", `${w.id}.log.gz`);
        const fresh = join(logsDir, `${w.id}.log.gz`);
        if (existsSync(fx) && existsSync(fresh) && Buffer.from(gunzipSync(readFileSync(fx))).equals(gunzipSync(readFileSync(fresh)))) sameAsFixtures++;
      }
      console.error(`kernel-crash: ${sameAsFixtures}/${workloads.length} fresh logs byte-identical to kernel/io/fixtures`);
    }
    let events = 0;
    let states = 0;
    const kernelViolations: CrashState[] = [];
    const toActivate: CrashState[] = [];
    const report: Record<string, unknown>[] = [];
    const modelLogs: ModelLog[] = [];
    let fixedRulesAccepted = 0;
    const fixedRulesRejected: string[] = [];
    const designs: Record<string, { HeaderFUA: boolean; InitZeroFirst: boolean }> = {};
    const mutants: MutantRecord[] = [];
    const notMapped: string[] = [];
    const used: Workload[] = workloads.filter((w) => existsSync(join(logsDir!, `${w.id}.log.gz`)));
    for (const w of used) {
      const log = parseLog(gunzipSync(readFileSync(join(logsDir, `${w.id}.log.gz`))));
      const ev = log.events;
      // the log must account for every byte the kernel left on the slice
      const final = record.workloads[w.id]?.finalSha256;
      checks += 2;
      if (final && sha(replay(w, ev)) !== final) problems.push(`${w.id}: replaying the log does not give the slice the kernel left`);
      const order = validateOrder(w, ev, "plain");
      if (!order.ok) problems.push(`${w.id}: log rejected at event ${order.error!.index} (${order.error!.rule}): ${order.error!.message}`);
      else events += order.events;
      // the fixed design's rules (kernel/patches/: a durable invalidation header, area 0 zeroed before the new header)
      const strict = validateOrder(w, ev, "preflush-fua");
      if (strict.ok) fixedRulesAccepted++;
      else fixedRulesRejected.push(`${w.id} (${strict.error!.rule})`);
      // the log as a behaviour of the TLA+ model, under the design its header writes show
      const design = designOf(w, ev);
      designs[w.id] = design;
      const mapped = toModel(w, ev, w.id, design);
      if (!mapped.ok) notMapped.push(`${w.id} (${mapped.reason})`);
      else if (mapped.log.events.length > 0) modelLogs.push(mapped.log);
      // every mutation of the log, judged by every layer that applies to it
      const mutated: Record<string, string> = {};
      for (const [kind, mutate] of Object.entries(mutations)) {
        const m = mutate(w, ev);
        if (!m) continue;
        const rec: MutantRecord = { workload: w.id, kind, layers: {} };
        const r = validateOrder(w, m, "plain");
        rec.layers.order = r.ok ? "ACCEPTED" : `rejected (${r.error!.rule})`;
        if (args.tlc && !args.tlcLight && mapped.ok) {
          const mm = toModel(w, m, `${w.id}~${kind}`, design);
          if (!mm.ok) rec.layers.tlc = `rejected by the mapping (${mm.reason})`;
          else {
            const d = mm.log.events.findIndex((e, i) => JSON.stringify(e) !== JSON.stringify(mapped.log.events[i]));
            const at = d >= 0 ? d : Math.min(mm.log.events.length, mapped.log.events.length);
            rec.tlcIndex = modelLogs.length;
            modelLogs.push({ ...mm.log, mutant: { kind, at, of: w.id } });
          }
        }
        if (crashShows(kind, w, ev)) {
          const c = enumerateCrashes(w, m, { seed: 10, stopAtUnexplained: true });
          const bad = c.violations.filter((v) => v.finding === null);
          rec.layers.crash = bad.length > 0 ? `rejected (${bad.length} undocumented violations, the first ${bad[0]!.verdict} at event ${bad[0]!.boundary})` : "ACCEPTED";
        }
        mutants.push(rec);
        mutated[kind] = Object.entries(rec.layers).map(([l, v]) => `${l}: ${v}`).join("; ");
      }
      if (mapped.ok && mapped.log.events.length > 0) {
        // the kernel before the CVE-2013-4299 fix (next_free not stepped over an area after reload) must not produce it
        // (where the log copies after a reactivation)
        const re = mapped.log.events.findIndex((e) => e.a === "Reactivate");
        const pr = mapped.log.events.findIndex((e, i) => re >= 0 && i > re && e.a === "Prepare");
        if (pr >= 0) {
          modelLogs.push({ ...mapped.log, name: `${w.id}@no-skip-after-reload`, constants: { ...mapped.log.constants, SkipMetadataAfterReload: false }, mutant: { kind: "no-skip-after-reload", at: pr, of: w.id } });
        }
        // the kernel before the 2021 fix (no origin flush before the merge's metadata commit) must not produce it
        const mc = mapped.log.events.findIndex((e) => e.a === "MergeCommit");
        if (mc >= 0) {
          modelLogs.push({ ...mapped.log, name: `${w.id}@no-merge-flush`, constants: { ...mapped.log.constants, MergeFlushOrigin: false }, mutant: { kind: "no-merge-flush", at: mc, of: w.id } });
        }
        // the other header durability (HeaderFUA: a plain header log is no behaviour of the FUA design, nor the reverse)
        const hd = mapped.log.events.findIndex((e) => e.a === "HeaderDone");
        if (hd >= 0) {
          modelLogs.push({ ...mapped.log, name: `${w.id}@HeaderFUA=${!design.HeaderFUA}`, constants: { ...mapped.log.constants, HeaderFUA: !design.HeaderFUA }, mutant: { kind: `HeaderFUA=${!design.HeaderFUA}`, at: hd, of: w.id } });
        }
        // the other first-activation order (InitZeroFirst), on the logs with nothing else to vary
        const ih = mapped.log.events.findIndex((e) => e.a === "InitHeader");
        if (ih >= 0 && w.id.startsWith("first-activation")) {
          modelLogs.push({ ...mapped.log, name: `${w.id}@InitZeroFirst=${!design.InitZeroFirst}`, constants: { ...mapped.log.constants, InitZeroFirst: !design.InitZeroFirst }, mutant: { kind: `InitZeroFirst=${!design.InitZeroFirst}`, at: ih, of: w.id } });
        }
      }
      const per = Math.max(1, Math.floor(args.sample / workloads.length));
      const res = enumerateCrashes(w, ev, { keepSample: per, seed: 10 });
      states += res.unique;
      const viol = res.violations;
      kernelViolations.push(...viol);
      for (const v of viol) if (!v.finding || !DOCUMENTED.has(v.finding)) problems.push(`${w.id}: unexplained violation at event ${v.boundary} (${v.verdict}): ${v.detail}`);
      report.push({ workload: w.id, events: ev.length, order: order.ok ? "accepted" : order.error, fixedDesignRules: strict.ok ? "accepted" : strict.error, design, actions: order.actions, mutations: mutated, crashStates: res.states.length, unique: res.unique, violations: viol.length });
      console.error(`kernel-crash: ${w.id}: ${ev.length} events, order ${order.ok ? "accepted" : "REJECTED"}${strict.ok ? "" : ` (rejected by the fixed design's rules: ${strict.error!.rule})`}, ${res.unique} crash states, ${viol.length} violations`);
      // the kernel's sample: every violation plus a seeded sample of the rest
      toActivate.push(...viol, ...res.sample);
    }

    const tEnum = Date.now();
    // 3. the kernel activates the sample
    let byKernel = 0;
    let kernelBoot = 0;
    let kernelRun: Promise<KernelAnswer[]> | null = null;
    if (args.kernelActivation && toActivate.length > 0) {
      const dir = join(work, "states");
      mkdirSync(dir, { recursive: true });
      const items = toActivate.map((s, i) => {
        const w = used.find((x) => x.id === s.workload)!;
        const id = `${s.workload}-${i}`;
        writeFileSync(join(dir, `${id}.cow`), s.cow!);
        writeFileSync(join(dir, `${id}.origin`), s.origin!);
        return { id, cow: `${id}.cow`, origin: `${id}.origin`, chunkSize: tableOf(w).chunkSize, mode: tableOf(w).mode };
      });
      writeFileSync(join(dir, "in.json"), JSON.stringify(items));
      const k0 = Date.now();
      // QEMU runs while TLC and the engine part use the other core
      kernelRun = runAsync("python3", [ACTIVATE_PY, join(dir, "in.json"), "-o", join(dir, "out.json")]).then(() => {
        kernelBoot = (Date.now() - k0) / 1000;
        return JSON.parse(readFileSync(join(dir, "out.json"), "utf8")) as KernelAnswer[];
      });
      kernelRun.catch(() => undefined); // awaited below; no unhandled rejection meanwhile
    }
    const tEngine0 = Date.now();
    // 4. our engine
    let engineStates = 0;
    let engineViolations = 0;
    const engineRules: Record<HeaderRule, { states: number; violations: number; rejected: number }> = { engine: { states: 0, violations: 0, rejected: 0 }, "preflush-fua": { states: 0, violations: 0, rejected: 0 }, kernel: { states: 0, violations: 0, rejected: 0 } };
    for (const w of args.engine ? workloads : []) {
      for (const rule of ["engine", "preflush-fua", "kernel"] as HeaderRule[]) {
        const ev: LogEvent[] = await engineLog(w, rule);
        if (rule !== "kernel") checks += 2;
        // the engine's order as a behaviour of the model too (its own rule and the fix)
        const em = rule === "kernel" ? null : toModel(w, ev, `engine-${rule}-${w.id}`);
        // the engine is the fixed design: durable invalidation header, origin writes held, area 0 zeroed first
        // (engine logs with 8-sector chunks stay out of TLC: 256-slot blocks cost most of its time; the kernel's stays in)
        if (!args.tlcLight && em?.ok && em.log.events.length > 0 && Number(em.log.constants.E) <= 64) modelLogs.push({ ...em.log, constants: { ...em.log.constants, HeaderFUA: true, OriginWaitsHeader: true, InitZeroFirst: true } });
        const order = validateOrder(w, ev, rule === "kernel" ? "plain" : rule === "engine" ? "fua" : "preflush-fua");
        if (!order.ok) {
          engineRules[rule].rejected++;
          if (rule !== "kernel") problems.push(`engine (${rule}) ${w.id}: log rejected at event ${order.error!.index} (${order.error!.rule}): ${order.error!.message}`);
        }
        const res = enumerateCrashes(w, ev, { seed: 11 });
        engineRules[rule].states += res.unique;
        engineRules[rule].violations += res.violations.length;
        if (rule !== "kernel") {
          for (const v of res.violations) problems.push(`engine (${rule}) ${w.id}: violation at event ${v.boundary} (${v.verdict}): ${v.detail}`);
        }
      }
    }
    const tEngine = Date.now();
    // 2b. TLC: the mapped logs are behaviours of the model; every mapped mutant is rejected
    let tlcLine = "TLC: skipped (--no-tlc)";
    let tlcAccepted = 0;
    let tlcModelEvents = 0;
    let tlcKernelAccepted = 0;
    let tlcVariantText = "not run";
    if (args.tlc && modelLogs.length > 0) {
      const r = await checkKernelLogs(ROOT, modelLogs, (m) => console.error(`kernel-crash: ${m}`)).catch((e: Error) => {
        problems.push(`TLC: ${e.message}`);
        return { reached: modelLogs.map(() => -1), seconds: 0, finished: true, raw: "" };
      });
      if (!r.finished) problems.push(`TLC did not finish:\n${r.raw.slice(-1500)}`);
      let variants = 0;
      let variantsRejected = 0;
      const variantNames: string[] = [];
      modelLogs.forEach((l, i) => {
        const got = r.reached[i] ?? 0;
        if (got < 0) return; // TLC did not run (reported above)
        checks++;
        if (!l.mutant) {
          if (got === l.events.length) {
            tlcAccepted++;
            tlcModelEvents += l.events.length;
            if (!l.name.startsWith("engine-")) tlcKernelAccepted++;
          } else problems.push(`TLC rejects the log ${l.name} at model event ${got + 1} of ${l.events.length}: ${JSON.stringify(l.events[got]).slice(0, 160)}`);
          return;
        }
        const verdict = got === l.events.length ? "ACCEPTED" : got < l.mutant.at ? `rejected at model event ${got + 1}, before its mutation (${l.mutant.at + 1})` : `rejected at model event ${got + 1} (${String(l.events[got]?.a)})`;
        const rec = mutants.find((m) => m.tlcIndex === i);
        if (rec) rec.layers.tlc = verdict;
        else {
          // a design variant: the kernel's own log under an older design's constants
          variants++;
          if (verdict.startsWith("rejected at model event") && got >= l.mutant.at) {
            variantsRejected++;
            variantNames.push(`${l.name} at ${got + 1} (${String(l.events[got]?.a)})`);
          }
          else problems.push(`TLC: the design variant ${l.name}: ${verdict}`);
        }
      });
      tlcLine = `TLC (${r.seconds.toFixed(1)}s): ${tlcAccepted} logs accepted (${tlcModelEvents} model events; ${modelLogs.filter((l) => !l.mutant && l.name.startsWith("engine-")).length} of them our engine's), ${mutants.filter((m) => m.tlcIndex !== undefined).length} mutated kernel logs checked (below), ${variantsRejected} of ${variants} design variants rejected (the pre-CVE-2013-4299 reload: it would allocate the next area's chunk; the pre-2021 merge: it would leave the origin copy cached where the kernel's log flushes it; the other HeaderFUA and InitZeroFirst: a log is a behaviour of one header durability and one first-activation order only); not mapped: ${notMapped.join(", ") || "none"}`;
      tlcVariantText = `${tlcKernelAccepted} of ${modelLogs.filter((l) => !l.mutant && !l.name.startsWith("engine-")).length} logs accepted, ${variantsRejected} of ${variants} design variants rejected${variantNames.length ? ` (${variantNames.filter((n) => /@(HeaderFUA|InitZeroFirst)/.test(n)).join("; ")})` : ""}`;
    }
    console.error(`kernel-crash: ${tlcLine}`);

    const tTlc = Date.now();
    if (kernelRun) {
      const out = await kernelRun;
      out.forEach((k, i) => {
        const s = toActivate[i]!;
        byKernel++;
        checks++;
        const ours = { activation: s.activation, status: s.activation === "accepted" ? s.status : s.activation === "invalid" ? "Invalid" : null, sha: s.activation === "accepted" ? s.viewSha256 : null };
        const theirs = { activation: k.activation, status: k.status, sha: k.snapshotSha256 };
        (s as CrashState & { kernel?: unknown }).kernel = theirs;
        if (ours.activation !== theirs.activation || ours.status !== theirs.status || ours.sha !== theirs.sha) {
          problems.push(`${s.workload} crash state at event ${s.boundary} (dropping ${s.dropped.join(",") || "nothing"}): ours ${JSON.stringify(ours)}, kernel ${JSON.stringify(theirs)}`);
        }
      });
    }

    engineStates = engineRules.engine.states + engineRules["preflush-fua"].states;
    engineViolations = engineRules.engine.violations + engineRules["preflush-fua"].violations;
    if (args.engine && engineRules.kernel.violations === 0) problems.push("engine under the kernel's header rule shows no violation: the crash check has no teeth");

    // every mutated kernel log, rejected by every layer that applies to it
    const rejectedBy = (v: string | undefined) => v !== undefined && v.startsWith("rejected") && !v.includes("before its mutation");
    let mutantsRejected = 0;
    const byLayer: Record<Layer, [number, number]> = { order: [0, 0], tlc: [0, 0], crash: [0, 0] };
    for (const m of mutants) {
      let all = true;
      for (const [l, v] of Object.entries(m.layers) as Array<[Layer, string]>) {
        byLayer[l][1]++;
        if (rejectedBy(v)) byLayer[l][0]++;
        else {
          all = false;
          problems.push(`mutated log ${m.workload}~${m.kind}: ${l} ${v}`);
        }
      }
      checks++;
      if (all) mutantsRejected++;
    }
    const violWorkloads = new Set(kernelViolations.map((v) => v.workload)).size;
    const summary = {
      kernel: record.kernel,
      // which kernel recorded the logs: the matrix id, its dm targets, the dm-snapshot module (origin, sha256)
      kernelIdentity: { id: record.kernelId ?? null, dmTargets: record.dmTargets ?? null, dmSnapshot: { origin: record.dmSnapshotOrigin ?? null, sha256: record.dmSnapshotSha256 ?? null } },
      recordBootSeconds: record.bootSeconds,
      freshLogsIdenticalToFixtures: args.logs ? null : sameAsFixtures,
      activationBootSeconds: kernelBoot,
      seconds: (Date.now() - t0) / 1000,
      workloads: report,
      violations: kernelViolations.map((v) => ({ workload: v.workload, boundary: v.boundary, dropped: v.dropped, kept: v.kept, verdict: v.verdict, detail: v.detail, finding: v.finding, ours: { activation: v.activation, status: v.status, viewSha256: v.viewSha256 }, kernel: (v as { kernel?: unknown }).kernel ?? null })),
      engine: engineRules,
      tlc: tlcLine,
      mutants: mutants.map(({ workload, kind, layers }) => ({ workload, kind, layers })),
      problems,
    };
    if (args.out) {
      mkdirSync(args.out, { recursive: true });
      writeFileSync(join(args.out, "kernel-crash.json"), JSON.stringify(summary, null, 2) + "\n");
      // per workload, the violating state with the fewest writes kept: the conformance case's input
      const minimal = new Map<string, CrashState>();
      for (const v of kernelViolations) {
        const m = minimal.get(v.workload);
        if (!m || v.kept.length < m.kept.length) minimal.set(v.workload, v);
      }
      for (const [wid, v] of minimal) {
        writeFileSync(join(args.out, `minimal-${wid}.cow.gz`), gzipSync(v.cow!, { level: 9 }));
        writeFileSync(join(args.out, `minimal-${wid}.origin.gz`), gzipSync(v.origin!, { level: 9 }));
        const w = used.find((x) => x.id === wid)!;
        writeFileSync(join(args.out, `minimal-${wid}.json`), JSON.stringify({ workload: wid, table: tableOf(w), boundary: v.boundary, kept: v.kept, dropped: v.dropped, verdict: v.verdict, detail: v.detail, finding: v.finding, ours: { activation: v.activation, status: v.status, viewSha256: v.viewSha256 } }, null, 2) + "\n");
      }
    }
    for (const p of problems) console.error(`kernel-crash: PROBLEM: ${p}`);
    // the closing count of CI (scripts/summary.mjs)
    mkdirSync(join(ROOT, ".cache"), { recursive: true });
    if (args.count) writeFileSync(join(ROOT, ".cache/kernel-crash.json"), JSON.stringify({ passed: Math.max(0, checks - problems.length), failed: problems.length }) + "\n");
    console.error(`kernel-crash: engine rules: ${Object.entries(engineRules).map(([r, x]) => `${r} ${x.states} states ${x.violations} violations${x.rejected ? ` ${x.rejected} logs rejected` : ""}`).join("; ")}`);
    const sec = (a: number, b: number) => ((b - a) / 1000).toFixed(1);
    console.error(`kernel-crash: times: record boot ${record.bootSeconds}s${args.logs ? " (earlier)" : ""}, kernel logs validated and crashed ${sec(t0, tEnum)}s (with the record), engine ${sec(tEngine0, tEngine)}s, TLC ${sec(tEngine, tTlc)}s, activation boot ${kernelBoot.toFixed(1)}s (alongside TLC and the engine); total ${sec(t0, Date.now())}s`);
    const layerText = (Object.entries(byLayer) as Array<[Layer, [number, number]]>).map(([l, [r, n]]) => `${l === "order" ? "order rules" : l === "tlc" ? "TLC" : "crash enumeration"} ${r} of ${n}`).join(", ");
    const nd = Object.values(designs);
    const yes = (k: "HeaderFUA" | "InitZeroFirst") => nd.filter((d) => d[k]).length;
    console.log(`kernel design: HeaderFUA=TRUE in ${yes("HeaderFUA")} of ${nd.length} logs, InitZeroFirst=TRUE in ${yes("InitZeroFirst")} of ${nd.length}; fixed-design order rules: ${fixedRulesAccepted} of ${used.length} logs accepted${fixedRulesRejected.length ? ` (rejected: ${fixedRulesRejected.join(", ")})` : ""}; TLC: ${tlcVariantText}`);
    console.log(`kernel log mutants: ${mutantsRejected} of ${mutants.length} rejected (${layerText})`);
    console.log(`kernel crash: ${used.length} workloads, ${events} events validated, ${states} crash states (${byKernel} by the kernel), ${kernelViolations.length} violations in ${violWorkloads} workloads; engine: ${engineStates} crash states, ${engineViolations} violations`);
    return problems.length === 0 ? 0 : 1;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

main().then(
  (code) => process.exit(code),
  (e) => {
    console.error(`kernel-crash: ${(e as Error).stack ?? e}`);
    process.exit(1);
  },
);
