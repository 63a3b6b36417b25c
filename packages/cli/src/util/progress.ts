/**
 * Progress reporting for long operations (check of a large device, restore,
 * repair's copy; offered to export and merge).
 *
 * Modes (`--progress <mode>`):
 * - `auto` (default): a cli-progress bar on stderr when stderr is a terminal,
 *   shown only once the operation has run for a second; nothing otherwise;
 * - `json`: JSON lines on stderr for scripts, `{"progress":{"op","done","total","unit"}}`,
 *   one at the start, at most ten a second while running, and one at the end;
 * - `none`: nothing.
 */
import { Option } from "commander";
import { createRequire } from "node:module";
import type cliProgress from "cli-progress";
import { formatBytes } from "./units.js";
import { isQuiet } from "./output.js";

export type ProgressMode = "auto" | "json" | "none";
export const PROGRESS_MODES: readonly ProgressMode[] = ["auto", "json", "none"];

/** The `--progress` option, for any command that reports progress. */
export function progressOption(): Option {
  return new Option("--progress <mode>", "progress on stderr: auto (a bar when stderr is a terminal), json (JSON lines for scripts), none").choices(PROGRESS_MODES).default("auto");
}

export interface Progress {
  /** Begins an operation of `total` units (e.g. "areas", "bytes"). */
  start(op: string, total: number, unit: string): void;
  /** Sets how many units are done. */
  update(done: number): void;
  /** Grows the total when it was only an estimate. */
  setTotal(total: number): void;
  /** Ends the operation (reports it complete when `done` reached total). */
  stop(): void;
}

const SILENT: Progress = { start() {}, update() {}, setTotal() {}, stop() {} };

export interface ProgressStreams {
  stream?: NodeJS.WriteStream;
  now?: () => number;
}

export function makeProgress(mode: ProgressMode | undefined, io: ProgressStreams = {}): Progress {
  const stream = io.stream ?? process.stderr;
  const now = io.now ?? Date.now;
  if (mode === "none" || isQuiet()) return SILENT;
  if (mode === "json") return jsonProgress(stream, now);
  return stream.isTTY ? barProgress(stream, now) : SILENT;
}

function jsonProgress(stream: NodeJS.WritableStream, now: () => number): Progress {
  let op = "";
  let unit = "";
  let total = 0;
  let done = 0;
  let last = 0;
  let active = false;
  const emit = (): void => {
    last = now();
    stream.write(`${JSON.stringify({ progress: { op, done, total, unit } })}\n`);
  };
  return {
    start(o, t, u) {
      op = o;
      total = t;
      unit = u;
      done = 0;
      active = true;
      emit();
    },
    update(d) {
      done = d;
      if (active && now() - last >= 100) emit();
    },
    setTotal(t) {
      total = t;
    },
    stop() {
      if (!active) return;
      active = false;
      emit();
    },
  };
}

/**
 * Time left at the average rate since the start: the work done so far over the
 * time it took. Steady under bursts (a whole run's average, not the last few
 * updates'); "…" until there is something to average.
 */
export function etaText(elapsedMs: number, done: number, total: number): string {
  if (done <= 0 || elapsedMs < 1000) return "…";
  const s = Math.max(0, Math.round((elapsedMs * (total - done)) / done / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

/** cli-progress, loaded on the first bar: most runs never draw one, and loading it is a fifth of the CLI's start-up. */
let barModule: typeof cliProgress | null = null;
function loadBars(): typeof cliProgress {
  barModule ??= createRequire(import.meta.url)("cli-progress") as typeof cliProgress;
  return barModule;
}

function barProgress(stream: NodeJS.WriteStream, now: () => number): Progress {
  let bar: cliProgress.SingleBar | null = null;
  let started = 0;
  let op = "";
  let unit = "";
  let total = 0;
  let done = 0;
  const ensure = (): void => {
    if (bar || now() - started < 1000) return;
    const cliProgress = loadBars();
    bar = new cliProgress.SingleBar(
      {
        stream,
        // Our own ETA ({etaText}): cli-progress's averages the last few updates, which jumps
        // (0 s, 7 min, 15 s) when an export writes in bursts between write-backs.
        format: `${op} [{bar}] {percentage}% | {value}/{total}${unit === "bytes" ? "" : ` ${unit}`} | ETA {etaText}`,
        hideCursor: true,
        clearOnComplete: false,
        // Byte counts print with units (1.20 GiB), other counts as they are.
        formatValue: (v, options, type) => (unit === "bytes" && (type === "value" || type === "total") ? formatBytes(v) : cliProgress.Format.ValueFormat(v, options, type)),
      },
      cliProgress.Presets.shades_classic,
    );
    bar.start(total, done, { etaText: etaText(now() - started, done, total) });
  };
  return {
    start(o, t, u) {
      op = o;
      unit = u;
      total = t;
      done = 0;
      started = now();
    },
    update(d) {
      done = d;
      ensure();
      bar?.update(d, { etaText: etaText(now() - started, d, total) });
    },
    setTotal(t) {
      total = t;
      bar?.setTotal(t);
    },
    stop() {
      bar?.stop();
      bar = null;
    },
  };
}
