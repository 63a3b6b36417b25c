/**
 * The conformance runner: every selected case against every selected reader.
 * Readers are black boxes (commands); nothing here decodes an image.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { loadCases, makeValidator, readImage, selectCases, type CaseProblem } from "./cases.js";
import { compareAnswer } from "./compare.js";
import { runProcess } from "./exec.js";
import { loadReaders, notInstalled } from "./readers.js";
import type { Cell, LoadedCase, ReaderAnswer, ReaderSpec } from "./types.js";

export const BATCH_PROTOCOL = "dmsnap-conformance-batch/1";

export interface RunConfig {
  /** Repository root: the readers' working directory. */
  root: string;
  casesDir: string;
  schemaPath: string;
  /** Registered readers (readers.json); extra ones come from `extraReaders`. */
  readersFile?: string;
  extraReaders?: ReaderSpec[];
  /** Names of readers to run; empty = every registered reader with runByDefault !== false (and every extra one). */
  readerNames?: string[];
  caseGlobs?: string[];
  tags?: string[];
  jobs?: number;
  /** Default per-command timeout for process readers. */
  timeoutMs?: number;
  /** Called once per case when all its readers are done. */
  onCase?: (done: number, total: number, caseId: string, cells: Cell[]) => void;
}

export interface ReaderSummary {
  name: string;
  kind: ReaderSpec["kind"];
  required: boolean;
  capabilities: string[];
  installed: boolean;
  note?: string;
  /** What a batch reader says it ran on (its answers file's `environment`): for the kernel, uname -r, the matrix id, `dmsetup targets`, the dm-snapshot module's origin and sha256. */
  environment?: Record<string, unknown>;
  passed: number;
  failed: number;
  skipped: number;
}

export interface RunReport {
  protocol: string;
  cases: Array<{ id: string; description: string; tags: string[]; provenance: string; stricterThanKernel?: string }>;
  readers: ReaderSummary[];
  cells: Cell[];
  caseProblems: CaseProblem[];
  counts: { passed: number; failed: number; skipped: number; advisoryFailed: number };
  /** True when a required reader failed a case, or a case is broken. */
  failed: boolean;
  ms: number;
}

interface Staged {
  c: LoadedCase;
  cow: Buffer;
  origin?: Buffer;
  cowSha: string;
  originSha?: string;
}

const sha256 = (b: Buffer | Uint8Array) => createHash("sha256").update(b).digest("hex");

/**
 * The table's chunk size, always: the kernel checks it before reading, reads
 * the header as one chunk of it, and uses it for a blank COW (0 = default).
 */
export function tableArgs(c: LoadedCase): string[] {
  return ["--chunk-size", String(c.table.chunkSize)];
}

/** The code `export` must refuse with, or undefined when it must print the view. */
/**
 * The kernel series a kernel reader runs (DMSNAP_KVER "6.12.118+deb12-amd64" -> "6.12"; unset: the recipe's 6.1),
 * with "+fix" when DMSNAP_KERNEL_ID names the module built with kernel/patches/ (whose
 * after-8581b19eb2c5/ patch changes 6.12's answer on duplicate old_chunks back to 6.1's).
 */
export function kernelSeries(env: NodeJS.ProcessEnv = process.env): string {
  const m = /^(\d+\.\d+)[.-]/.exec(env.DMSNAP_KVER ?? "");
  const series = m ? m[1]! : "6.1";
  return (env.DMSNAP_KERNEL_ID ?? "").endsWith("+fix") ? `${series}+fix` : series;
}

/** What a reader must answer: `expected`, with the case's kernelAnswers for a kernel reader's series. */
export function expectedFor(c: LoadedCase, reader: ReaderSpec, env: NodeJS.ProcessEnv = process.env): LoadedCase["expected"] {
  const k = reader.answersPerKernel ? c.kernelAnswers?.[kernelSeries(env)] : undefined;
  if (!k) return c.expected;
  const { note: _note, ...fields } = k;
  return { ...c.expected, ...fields };
}

export function exportRefusal(c: LoadedCase): string | undefined {
  if (c.expected.outcome === "refused") return c.expected.error?.code;
  if (c.expected.state === "invalid") return "SNAPSHOT_INVALID";
  return undefined;
}

/** True when `export` runs for the case: a view hash to match, or a refusal to expect. */
export function wantsExport(c: LoadedCase): boolean {
  if (c.files.origin === undefined) return false;
  return c.expected.snapshotSha256 !== undefined || exportRefusal(c) !== undefined;
}

/** The JSON error code in what a refusing export printed, if any. */
function errorCodeOf(head: Buffer | undefined): string | undefined {
  const parsed = head ? parseJson(head) : undefined;
  if (typeof parsed !== "object" || parsed === null) return undefined;
  const e = (parsed as { error?: { code?: unknown } }).error;
  return typeof e?.code === "string" ? e.code : undefined;
}

/** Writes fresh read-only copies of a case's images into `dir`; returns their paths. */
function placeCopies(s: Staged, dir: string): { cow: string; origin?: string } {
  mkdirSync(dir, { recursive: true });
  const cow = join(dir, "cow.img");
  writeFileSync(cow, s.cow, { mode: 0o444 });
  const out: { cow: string; origin?: string } = { cow };
  if (s.origin) {
    const origin = join(dir, "origin.img");
    writeFileSync(origin, s.origin, { mode: 0o444 });
    out.origin = origin;
  }
  return out;
}

/** Problems if a reader changed the copies it was given. */
function checkCopies(s: Staged, paths: { cow: string; origin?: string }): string[] {
  const problems: string[] = [];
  const check = (p: string | undefined, want: string | undefined, what: string) => {
    if (!p || !want) return;
    if (!existsSync(p)) problems.push(`the reader removed its input ${what}`);
    else if (sha256(readFileSync(p)) !== want) problems.push(`the reader wrote to its input ${what} (readers must open images read-only)`);
  };
  check(paths.cow, s.cowSha, "COW");
  check(paths.origin, s.originSha, "origin");
  return problems;
}

function parseJson(stdout: Buffer): unknown {
  const text = stdout.toString("utf8").trim();
  if (text === "") return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return Symbol.for("not-json");
  }
}

async function runProcessReader(reader: ReaderSpec, s: Staged, dir: string, root: string, timeoutMs: number): Promise<{ answer: ReaderAnswer; exportChecked: boolean }> {
  const paths = placeCopies(s, dir);
  const extra = tableArgs(s.c);
  const problems: string[] = [];
  const env = reader.env ? { ...process.env, ...reader.env } : undefined;
  const d = await runProcess([...reader.command, "dump", paths.cow, ...extra], { cwd: reader.cwd ?? root, timeoutMs, ...(env ? { env } : {}) });
  const answer: ReaderAnswer = { exitCode: d.exitCode, problems };
  if (d.spawnError) problems.push(`dump: ${d.spawnError}`);
  if (d.timedOut) problems.push(`dump: timed out after ${timeoutMs / 1000}s`);
  else if (d.exitCode === null) problems.push(`dump: killed by ${d.signal ?? "a signal"}${d.stderr ? `: ${d.stderr.trim().split("\n").slice(-3).join(" | ")}` : ""}`);
  const parsed = parseJson(d.stdout);
  if (parsed === Symbol.for("not-json")) problems.push(`dump: stdout is not JSON (exit ${d.exitCode}): ${d.stdout.toString("utf8").slice(0, 160)}`);
  else answer.output = parsed;
  // Stderr is the reader's diagnostics (docs/conformance.md): it never decides a case. Exit codes
  // and stdout do (compare.ts); the last lines are kept to explain a failure.
  const stderr: string[] = [];
  const tail = (what: string, text: string, n: number): void => {
    if (text.trim()) stderr.push(`${what} stderr: ${text.trim().split("\n").slice(-n).join(" | ")}`);
  };
  tail("dump", d.stderr, 3);
  let exportChecked = false;
  if (reader.capabilities.includes("export") && wantsExport(s.c) && paths.origin && (d.exitCode === 0 || d.exitCode === 1)) {
    exportChecked = true;
    const e = await runProcess([...reader.command, "export", paths.origin, paths.cow, ...extra], { cwd: reader.cwd ?? root, timeoutMs, hashStdout: true, ...(env ? { env } : {}) });
    answer.exportExitCode = e.exitCode;
    if (e.sha256 !== undefined) answer.exportSha256 = e.sha256;
    const code = e.exitCode === 1 ? errorCodeOf(e.head) : undefined;
    if (code !== undefined) answer.exportErrorCode = code;
    if (e.timedOut) problems.push(`export: timed out after ${timeoutMs / 1000}s`);
    else if (e.exitCode === null) problems.push(`export: killed by ${e.signal ?? "a signal"}`);
    tail(`export (exit ${e.exitCode})`, e.stderr, 2);
  }
  if (stderr.length) answer.stderr = stderr;
  problems.push(...checkCopies(s, paths));
  return { answer, exportChecked };
}

/** One request in a batch file (docs/conformance.md, "Batch readers"). */
export interface BatchRequest {
  id: string;
  op: "dump" | "export";
  cow: string;
  origin?: string;
  /** The table line the case is meant for. */
  table: { mode: "P" | "PO"; chunkSize: number };
  /** Same as the process protocol's --chunk-size: the table's chunk size. */
  chunkSize?: number;
}

export interface BatchAnswer {
  id: string;
  op: "dump" | "export";
  /** 0 accepted, 1 refused (dump); 0 for a successful export. */
  exitCode: number | null;
  /** The JSON a process reader would print for dump (or for a refusing export). */
  output?: unknown;
  /** sha256 of the export output. */
  sha256?: string;
  /** The reader could not answer (crash, guest died, ...): a failure. */
  problem?: string;
  /** The reader cannot express this case at all (e.g. an image that is not whole sectors): not run. */
  skip?: string;
}

interface BatchResult {
  cells: Map<string, { answer: ReaderAnswer; exportChecked: boolean; ms: number }>;
  environment?: Record<string, unknown>;
}

async function runBatchReader(reader: ReaderSpec, staged: Staged[], tmp: string, root: string): Promise<BatchResult> {
  const dir = join(tmp, `batch-${reader.name}`);
  mkdirSync(dir, { recursive: true });
  const requests: BatchRequest[] = [];
  const placed = new Map<string, { cow: string; origin?: string }>();
  for (const s of staged) {
    const paths = placeCopies(s, join(dir, s.c.id));
    placed.set(s.c.id, paths);
    const extra = { chunkSize: s.c.table.chunkSize };
    requests.push({ id: s.c.id, op: "dump", cow: paths.cow, table: { ...s.c.table }, ...extra });
    if (reader.capabilities.includes("export") && wantsExport(s.c) && paths.origin) {
      requests.push({ id: s.c.id, op: "export", cow: paths.cow, origin: paths.origin, table: { ...s.c.table }, ...extra });
    }
  }
  const reqFile = join(dir, "requests.json");
  const ansFile = join(dir, "answers.json");
  writeFileSync(reqFile, `${JSON.stringify({ protocol: BATCH_PROTOCOL, requests }, null, 2)}\n`);
  const timeoutMs = (reader.timeoutSeconds ?? 1800) * 1000;
  const env = reader.env ? { ...process.env, ...reader.env } : undefined;
  const r = await runProcess([...reader.command, "batch", reqFile, ansFile], { cwd: reader.cwd ?? root, timeoutMs, ...(env ? { env } : {}) });
  const out = new Map<string, { answer: ReaderAnswer; exportChecked: boolean; ms: number }>();
  let answers: BatchAnswer[] = [];
  let environment: Record<string, unknown> | undefined;
  let whole: string | null = null;
  if (r.timedOut) whole = `batch: timed out after ${timeoutMs / 1000}s`;
  else if (r.exitCode !== 0) whole = `batch: exit ${r.exitCode ?? r.signal}${r.stderr ? `: ${r.stderr.trim().split("\n").slice(-3).join(" | ")}` : ""}`;
  else {
    try {
      const data = JSON.parse(readFileSync(ansFile, "utf8")) as { answers?: BatchAnswer[]; environment?: unknown };
      if (!Array.isArray(data.answers)) throw new Error('no "answers" array');
      answers = data.answers;
      if (typeof data.environment === "object" && data.environment !== null && !Array.isArray(data.environment)) environment = data.environment as Record<string, unknown>;
    } catch (e) {
      whole = `batch: ${ansFile} unreadable: ${(e as Error).message}`;
    }
  }
  const perCaseMs = Math.round(r.ms / Math.max(1, staged.length));
  for (const s of staged) {
    const problems: string[] = whole ? [whole] : [];
    const dump = answers.find((a) => a.id === s.c.id && a.op === "dump");
    const exp = answers.find((a) => a.id === s.c.id && a.op === "export");
    const answer: ReaderAnswer = { exitCode: whole ? null : (dump?.exitCode ?? null), problems };
    if (!whole && !dump) problems.push("batch: no dump answer for this case");
    if (dump?.problem) problems.push(`batch: ${dump.problem}`);
    if (dump?.skip) answer.skip = dump.skip;
    if (dump?.output !== undefined) answer.output = dump.output;
    const wanted = requests.some((q) => q.id === s.c.id && q.op === "export");
    let exportChecked = false;
    // An export the reader declined (e.g. an origin it cannot attach) is not checked.
    if (wanted && (answer.exitCode === 0 || answer.exitCode === 1) && !exp?.skip) {
      exportChecked = true;
      answer.exportExitCode = exp?.exitCode ?? null;
      if (exp?.sha256) answer.exportSha256 = exp.sha256;
      const code = exp?.exitCode === 1 && typeof exp.output === "object" && exp.output !== null ? (exp.output as { error?: { code?: unknown } }).error?.code : undefined;
      if (typeof code === "string") answer.exportErrorCode = code;
      if (exp?.problem) problems.push(`batch export: ${exp.problem}`);
    }
    problems.push(...checkCopies(s, placed.get(s.c.id)!));
    out.set(s.c.id, { answer, exportChecked, ms: perCaseMs });
  }
  rmSync(dir, { recursive: true, force: true });
  return environment ? { cells: out, environment } : { cells: out };
}

async function pool<T>(items: T[], width: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.max(1, Math.min(width, items.length)) }, async () => {
    while (next < items.length) {
      const item = items[next++]!;
      await work(item);
    }
  });
  await Promise.all(lanes);
}

export async function runConformance(config: RunConfig): Promise<RunReport> {
  const start = Date.now();
  const root = resolve(config.root);
  const registered = config.readersFile ? loadReaders(config.readersFile) : [];
  const all = [...registered, ...(config.extraReaders ?? [])];
  let readers: ReaderSpec[];
  if (config.readerNames && config.readerNames.length > 0) {
    readers = config.readerNames.map((n) => {
      const r = all.find((x) => x.name === n);
      if (!r) throw new Error(`no reader named "${n}" (registered: ${all.map((x) => x.name).join(", ")})`);
      return r;
    });
    for (const x of config.extraReaders ?? []) if (!readers.includes(x)) readers.push(x);
  } else {
    readers = [...registered.filter((r) => r.runByDefault !== false), ...(config.extraReaders ?? [])];
  }

  const validator = makeValidator(config.schemaPath);
  const loaded = loadCases(config.casesDir, validator);
  const broken = new Set(loaded.problems.map((p) => p.caseId));
  const cases = selectCases(loaded.cases.filter((c) => !broken.has(c.id)), config.caseGlobs ?? [], config.tags ?? []);
  const caseProblems = loaded.problems;

  const tmp = mkdtempSync(join(tmpdir(), "dmsnap-conformance-"));
  const cells: Cell[] = [];
  const environments = new Map<string, Record<string, unknown>>();
  try {
    const staged: Staged[] = cases.map((c) => {
      const cow = readImage(resolve(c.dir, c.files.cow));
      const s: Staged = { c, cow, cowSha: sha256(cow) };
      if (c.files.origin) {
        s.origin = readImage(resolve(c.dir, c.files.origin));
        s.originSha = sha256(s.origin);
      }
      return s;
    });
    const installed = new Map(readers.map((r) => [r.name, notInstalled(r, root)]));
    const byCase = new Map<string, Cell[]>(cases.map((c) => [c.id, []]));
    let casesDone = 0;
    const record = (cell: Cell) => {
      cells.push(cell);
      const list = byCase.get(cell.caseId)!;
      list.push(cell);
      if (list.length === readers.length) config.onCase?.(++casesDone, cases.length, cell.caseId, list);
    };
    const skipCell = (caseId: string, reader: string, why: string): Cell => ({ caseId, reader, status: "skip", diffs: [], problems: [why], compared: [], ms: 0 });
    const judge = (s: Staged, reader: ReaderSpec, answer: ReaderAnswer, exportChecked: boolean, ms: number): Cell => {
      if (answer.skip && answer.problems.length === 0) return skipCell(s.c.id, reader.name, `declined by the reader: ${answer.skip}`);
      const refusal = exportRefusal(s.c);
      const fields = s.c.expected.state === "invalid" && reader.fieldsWhenInvalid ? reader.fieldsWhenInvalid : reader.fields;
      const expected = expectedFor(s.c, reader);
      const cmp = compareAnswer(expected, s.c.exceptions, answer, { ...(fields ? { fields } : {}), exportChecked, ...(refusal ? { exportRefusal: refusal } : {}) });
      const status = cmp.problems.length > 0 || cmp.diffs.length > 0 ? "fail" : "pass";
      // The reader's stderr only explains a failure decided above.
      const problems = status === "fail" && answer.stderr ? [...cmp.problems, ...answer.stderr] : cmp.problems;
      return { caseId: s.c.id, reader: reader.name, status, diffs: cmp.diffs, problems, compared: cmp.compared, ms };
    };

    // Readers that cannot run: every cell is a skip (or a failure, for a required reader).
    const runnable = readers.filter((r) => {
      const why = installed.get(r.name);
      if (why === null && r.capabilities.includes("dump")) return true;
      const reason = why ?? "the reader does not implement dump";
      for (const s of staged) {
        const cell = skipCell(s.c.id, r.name, reason);
        if (r.required) cell.status = "fail";
        record(cell);
      }
      return false;
    });

    const skips = (r: ReaderSpec, s: Staged) => r.skipStricterThanKernel === true && s.c.stricterThanKernel !== undefined;
    for (const r of runnable) for (const s of staged) if (skips(r, s)) record(skipCell(s.c.id, r.name, "the case is stricter than the kernel by design (stricterThanKernel)"));

    // Batch readers: one invocation each, all cases at once; at most `jobs` at a time.
    const batchRuns = [
      pool(
        runnable.filter((r) => r.kind === "batch"),
        config.jobs ?? Math.max(1, availableParallelism()),
        async (r) => {
          const mine = staged.filter((s) => !skips(r, s));
          const batch: BatchResult = mine.length ? await runBatchReader(r, mine, tmp, root) : { cells: new Map() };
          if (batch.environment) environments.set(r.name, batch.environment);
          for (const s of mine) {
            const a = batch.cells.get(s.c.id)!;
            record(judge(s, r, a.answer, a.exportChecked, a.ms));
          }
        },
      ),
    ];

    // Process readers: a pool over case x reader.
    const tasks = staged.flatMap((s) => runnable.filter((r) => r.kind === "process" && !skips(r, s)).map((r) => ({ s, r })));
    const width = config.jobs ?? Math.max(1, availableParallelism());
    let n = 0;
    const processRuns = pool(tasks, width, async ({ s, r }) => {
      const t0 = Date.now();
      const timeoutMs = r.timeoutSeconds ? r.timeoutSeconds * 1000 : (config.timeoutMs ?? 30_000);
      const dir = join(tmp, `${n++}-${r.name}-${s.c.id}`);
      const { answer, exportChecked } = await runProcessReader(r, s, dir, root, timeoutMs);
      rmSync(dir, { recursive: true, force: true });
      record(judge(s, r, answer, exportChecked, Date.now() - t0));
    });
    await Promise.all([processRuns, ...batchRuns]);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }

  // Stable order: cases as listed, readers as selected.
  const caseIndex = new Map(cases.map((c, i) => [c.id, i]));
  const readerIndex = new Map(readers.map((r, i) => [r.name, i]));
  cells.sort((a, b) => caseIndex.get(a.caseId)! - caseIndex.get(b.caseId)! || readerIndex.get(a.reader)! - readerIndex.get(b.reader)!);

  const summaries: ReaderSummary[] = readers.map((r) => {
    const mine = cells.filter((c) => c.reader === r.name);
    const s: ReaderSummary = {
      name: r.name,
      kind: r.kind,
      required: r.required,
      capabilities: r.capabilities,
      installed: notInstalled(r, root) === null,
      passed: mine.filter((c) => c.status === "pass").length,
      failed: mine.filter((c) => c.status === "fail").length,
      skipped: mine.filter((c) => c.status === "skip").length,
    };
    if (r.note) s.note = r.note;
    const env = environments.get(r.name);
    if (env) s.environment = env;
    return s;
  });
  const requiredNames = new Set(readers.filter((r) => r.required).map((r) => r.name));
  const counts = {
    passed: cells.filter((c) => c.status === "pass").length,
    failed: cells.filter((c) => c.status === "fail" && requiredNames.has(c.reader)).length + caseProblems.length,
    skipped: cells.filter((c) => c.status === "skip").length,
    advisoryFailed: cells.filter((c) => c.status === "fail" && !requiredNames.has(c.reader)).length,
  };
  return {
    protocol: "dmsnap-conformance/1",
    cases: cases.map((c) => ({ id: c.id, description: c.description, tags: c.tags, provenance: c.provenance.kind, ...(c.stricterThanKernel ? { stricterThanKernel: c.stricterThanKernel } : {}) })),
    readers: summaries,
    cells,
    caseProblems,
    counts,
    failed: counts.failed > 0,
    ms: Date.now() - start,
  };
}

