/** Shapes shared by the runner, the case files and the reader protocol (docs/conformance.md). */

export type Outcome = "accepted" | "refused";
export type CowState = "new" | "valid" | "invalid";

export interface Usage {
  totalSectors: number;
  allocatedSectors: number;
  metadataSectors: number;
}

export interface HeaderWords {
  magic: number;
  valid: number;
  version: number;
  chunkSize: number;
}

export type Pair = [number, number];

/** `expected` in case.json. */
export interface Expected {
  outcome: Outcome;
  error?: { code: string; kernelMessage?: string };
  state?: CowState;
  header?: HeaderWords;
  chunkSize?: number;
  exceptionsPerArea?: number;
  exceptions?: Pair[];
  exceptionsFile?: string;
  nextFree?: number;
  usage?: Usage;
  currentArea?: number;
  status?: string;
  snapshotSha256?: string;
}

export interface CaseFile {
  id: string;
  description: string;
  tags: string[];
  provenance: { kind: "kernel" | "derived" | "engine"; kernel?: string; job?: string; from?: string; mutation?: string; note?: string; exceptionsSource?: string; generator?: string };
  files: { cow: string; origin?: string };
  table: { mode: "P" | "PO"; chunkSize: number };
  expected: Expected;
  kernelObserved?: Record<string, unknown>;
  stricterThanKernel?: string;
  /**
   * Where a kernel series answers otherwise than `expected` (measured by
   * `pnpm kernel:matrix`; docs/format.md): per series ("6.12"), the fields
   * it answers and why. A reader with `answersPerKernel` is judged against
   * `expected` with these fields replaced.
   */
  kernelAnswers?: Record<string, KernelAnswer>;
}

/** One kernel series' answer to a case, where it differs from `expected`. */
export interface KernelAnswer {
  snapshotSha256?: string;
  status?: string;
  note: string;
}

/** A case as loaded: the file plus where it lives, with exceptionsFile resolved. */
export interface LoadedCase extends CaseFile {
  dir: string;
  /** expected.exceptions, read from exceptionsFile when the case uses one. */
  exceptions?: Pair[];
}

export type Capability = "dump" | "export";

/** One entry of conformance/readers.json. */
export interface ReaderSpec {
  name: string;
  description?: string;
  /** argv prefix; relative paths are relative to the repository root (the working directory). */
  command: string[];
  capabilities: Capability[];
  /** A required reader's failures fail the run; an optional reader's failures are reported only. */
  required: boolean;
  kind: "process" | "batch";
  /** Run when no --reader is given (default true). */
  runByDefault?: boolean;
  /** Files (relative to the repository root) that must exist, else the reader is "not installed". */
  requires?: string[];
  /** Fields of the dump object this reader can report (default: all). Others are not compared. */
  fields?: string[];
  /** Fields it reports for a case whose expected state is invalid, if fewer (the kernel prints only "Invalid"). */
  fieldsWhenInvalid?: string[];
  timeoutSeconds?: number;
  /** Working directory of the command (default: the repository root); --reader-command uses the caller's folder. */
  cwd?: string;
  /** Extra environment variables for the reader's command (e.g. DMSNAP_MUTANT). */
  env?: Record<string, string>;
  /** Skip cases marked stricterThanKernel (for the kernel itself: there it differs by design). */
  skipStricterThanKernel?: boolean;
  /**
   * The reader is a Linux kernel (conformance/kernel/): judge it against the
   * case's kernelAnswers for its series, taken from DMSNAP_KVER (the release
   * kernel/kernels.sh sets; unset: the recipe's installed 6.1).
   */
  answersPerKernel?: boolean;
  note?: string;
}

/** What a reader answered for one case, whichever the protocol (process or batch). */
export interface ReaderAnswer {
  exitCode: number | null;
  /** Parsed stdout of `dump` (or the batch answer's output). */
  output?: unknown;
  /** sha256 of `export` stdout. */
  exportSha256?: string;
  exportExitCode?: number | null;
  /** `error.code` of the object `export` printed when it refused. */
  exportErrorCode?: string;
  /** Protocol failures: crash, timeout, non-JSON, wrote to its input, ... */
  problems: string[];
  /** What the reader wrote to stderr (last lines of each call): shown beside a failing cell, never decides one. */
  stderr?: string[];
  /** A batch reader declined the case (e.g. an image it cannot attach): not run. */
  skip?: string;
}

export interface Diff {
  field: string;
  expected: unknown;
  actual: unknown;
}

export type CellStatus = "pass" | "fail" | "skip";

export interface Cell {
  caseId: string;
  reader: string;
  status: CellStatus;
  /** Fields that differ from expected. */
  diffs: Diff[];
  /** Protocol failures or the reason for a skip. */
  problems: string[];
  /** Fields compared (for the record). */
  compared: string[];
  ms: number;
}
