/** Running a reader command with a timeout, capturing (or hashing) its stdout. */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";

export interface ProcessResult {
  exitCode: number | null;
  signal: string | null;
  stdout: Buffer;
  /** sha256 of stdout when hashing was asked for (stdout is then not kept). */
  sha256?: string;
  /** When hashing: the first 4 KiB of stdout (an error object, for a refusal). */
  head?: Buffer;
  stdoutBytes: number;
  stderr: string;
  timedOut: boolean;
  spawnError?: string;
  ms: number;
}

export interface RunOptions {
  cwd: string;
  timeoutMs: number;
  /** Hash stdout instead of keeping it (export output can be large). */
  hashStdout?: boolean;
  /** Most stdout bytes kept (default 64 MiB); more is a failure. */
  maxStdout?: number;
  env?: NodeJS.ProcessEnv;
}

const STDERR_KEEP = 4000;

export function runProcess(argv: string[], options: RunOptions): Promise<ProcessResult> {
  const start = Date.now();
  return new Promise((resolvePromise) => {
    const [cmd, ...args] = argv;
    const chunks: Buffer[] = [];
    const head: Buffer[] = [];
    let headBytes = 0;
    const hash = options.hashStdout ? createHash("sha256") : null;
    let stdoutBytes = 0;
    let stderr = "";
    let timedOut = false;
    let overflow = false;
    let settled = false;
    const max = options.maxStdout ?? 64 * 1024 * 1024;
    const child = spawn(cmd!, args, { cwd: options.cwd, env: options.env ?? process.env, stdio: ["ignore", "pipe", "pipe"], detached: true });
    const killGroup = () => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, "SIGKILL");
      } catch {
        child.kill("SIGKILL");
      }
    };
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup();
    }, options.timeoutMs);
    const finish = (r: Omit<ProcessResult, "stdout" | "stdoutBytes" | "stderr" | "timedOut" | "ms">) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      const out: ProcessResult = { ...r, stdout: hash ? Buffer.alloc(0) : Buffer.concat(chunks), stdoutBytes, stderr, timedOut, ms: Date.now() - start };
      if (hash) {
        out.sha256 = hash.digest("hex");
        out.head = Buffer.concat(head);
      }
      if (overflow) out.spawnError = `stdout exceeded ${max} bytes`;
      resolvePromise(out);
    };
    child.stdout.on("data", (b: Buffer) => {
      stdoutBytes += b.length;
      if (hash) {
        hash.update(b);
        if (headBytes < 4096) {
          head.push(b.subarray(0, 4096 - headBytes));
          headBytes += Math.min(b.length, 4096 - headBytes);
        }
      }
      else if (stdoutBytes <= max) chunks.push(b);
      else if (!overflow) {
        overflow = true;
        killGroup();
      }
    });
    child.stderr.on("data", (b: Buffer) => {
      if (stderr.length < STDERR_KEEP) stderr += b.toString("utf8").slice(0, STDERR_KEEP - stderr.length);
    });
    child.on("error", (e) => finish({ exitCode: null, signal: null, spawnError: e.message }));
    child.on("close", (code, signal) => finish({ exitCode: overflow ? null : code, signal }));
  });
}
