/**
 * Where the kernel oracle's pieces live, and the two boots as functions for
 * Node callers: record the kernel's own I/O log of workloads (io/record.py)
 * and activate COW/origin pairs (activate.py). Both boot the kernel that the
 * DMSNAP_* variables name (kernels.ts `kernelEnv`), else the installed 6.1;
 * `kernel` passes a kernel id instead.
 */
import { spawn } from "node:child_process";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** The package folder (kernel/), from src/ under vitest and from dist/ when built. */
export const KERNEL_DIR = resolve(dirname(fileURLToPath(import.meta.url)), "..");
/** The workloads the recorder runs. */
export const WORKLOADS_FILE = join(KERNEL_DIR, "io", "workloads.json");
/** The committed logs of the small workloads (recorded on Linux 6.1). */
export const FIXTURES_DIR = join(KERNEL_DIR, "io", "fixtures");
export const RECORD_PY = join(KERNEL_DIR, "io", "record.py");
export const ACTIVATE_PY = join(KERNEL_DIR, "activate.py");

function python(args: string[]): Promise<void> {
  return new Promise((done, fail) => {
    const child = spawn("python3", args, { stdio: ["ignore", "inherit", "inherit"] });
    child.on("error", fail);
    child.on("close", (code) => (code === 0 ? done() : fail(new Error(`python3 ${args.join(" ")} exited with ${code}`))));
  });
}

/** One boot: every workload (or `only`) recorded with dm-log-writes into outDir/<id>.log.gz and outDir/record.json. */
export function recordLogs(outDir: string, opts: { only?: string[]; kernel?: string } = {}): Promise<void> {
  return python([RECORD_PY, "--out", outDir, ...(opts.kernel ? ["--kernel", opts.kernel] : []), ...(opts.only?.length ? ["--only", ...opts.only] : [])]);
}

/** One boot: the items of inputJson (activate.py's input) activated; the answers written to outputJson. */
export function activateImages(inputJson: string, outputJson: string, opts: { kernel?: string } = {}): Promise<void> {
  return python([ACTIVATE_PY, inputJson, "-o", outputJson, ...(opts.kernel ? ["--kernel", opts.kernel] : [])]);
}
