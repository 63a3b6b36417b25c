import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { expect } from "vitest";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** The built binary: end-to-end tests run exactly what users run (DMSNAP_TEST_BIN: another build, e.g. the one before a fix). */
export const BIN = process.env.DMSNAP_TEST_BIN ?? fileURLToPath(new URL("../dist/bin.js", import.meta.url));

export interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

export function dmsnap(...args: string[]): Run {
  if (!existsSync(BIN)) throw new Error(`${BIN} is missing: run 'pnpm build' before the CLI's end-to-end tests`);
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: "utf8", timeout: Number(process.env.DMSNAP_TEST_TIMEOUT_MS ?? 60_000) });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), "dmsnap-e2e-"));
}

export function writeTemp(dir: string, name: string, bytes: Uint8Array): string {
  const p = join(dir, name);
  writeFileSync(p, bytes);
  return p;
}

/** sha256 of a file's bytes. */
export const sha = (p: string): string => createHash("sha256").update(readFileSync(p)).digest("hex");

/** Runs a command and checks that it left every listed file byte-for-byte as it was. */
export function untouched(files: string[], ...args: string[]): Run {
  const before = files.map(sha);
  const r = dmsnap(...args);
  expect(files.map(sha)).toEqual(before);
  return r;
}

/** Deterministic pseudo-random bytes (a 32-bit LCG), for test data. */
export function random(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) out[i] = (s = (s * 1103515245 + 12345) >>> 0) >>> 24;
  return out;
}

/** Starts dmsnap without waiting: for concurrency and kill tests. */
export function dmsnapAsync(...args: string[]): { child: ChildProcess; done: Promise<Run> } {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout!.setEncoding("utf8").on("data", (d: string) => (stdout += d));
  child.stderr!.setEncoding("utf8").on("data", (d: string) => (stderr += d));
  const done = new Promise<Run>((resolve) => child.on("close", (status) => resolve({ status, stdout, stderr })));
  return { child, done };
}

/** The error code of a failed run, from --json stdout or the "dmsnap: CODE:" stderr line. */
export function errorCode(r: Run): string | null {
  try {
    return (JSON.parse(r.stdout) as { error?: { code?: string } }).error?.code ?? null;
  } catch {
    return /^dmsnap: ([A-Z_0-9]+):/m.exec(r.stderr)?.[1] ?? null;
  }
}

/**
 * Runs the binary and measures its peak resident set (KiB) and its
 * voluntary context switches (every thread's waits: a thread-pool round trip
 * per I/O call shows as one or more) with GNU time; stdout goes to
 * `stdoutFile` when given (outputs of hundreds of MB).
 */
export function dmsnapRss(args: string[], options: { stdoutFile?: string; stdin?: string } = {}): Run & { maxRssKiB: number; voluntarySwitches: number } {
  if (!existsSync(BIN)) throw new Error(`${BIN} is missing: run 'pnpm build' before the CLI's end-to-end tests`);
  const outFd = options.stdoutFile ? openSync(options.stdoutFile, "w") : "pipe";
  const inFd = options.stdin ? openSync(options.stdin, "r") : "ignore";
  try {
    const r = spawnSync("/usr/bin/time", ["-f", "MAXRSS=%M VCSW=%w", process.execPath, BIN, ...args], { encoding: "utf8", timeout: 300_000, stdio: [inFd, outFd, "pipe"], maxBuffer: 64 << 20 });
    const m = /MAXRSS=(\d+) VCSW=(\d+)\s*$/.exec(r.stderr ?? "");
    if (!m) throw new Error(`no peak RSS from /usr/bin/time: ${r.stderr}`);
    return { status: r.status, stdout: r.stdout ?? "", stderr: (r.stderr ?? "").slice(0, m.index), maxRssKiB: Number(m[1]), voluntarySwitches: Number(m[2]) };
  } finally {
    if (typeof outFd === "number") closeSync(outFd);
    if (typeof inFd === "number") closeSync(inFd);
  }
}
