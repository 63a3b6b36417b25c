/**
 * Kernel ids of the matrix (kernel/kernels.sh): which Linux the oracle boots.
 * `kernelIdProblem` checks an id without touching apt or QEMU (a usage error
 * is known before anything runs); `kernelEnv` resolves it through kernels.sh
 * (fetching the 6.12 image or building the patched module when needed) into
 * the DMSNAP_* variables that build-initramfs.sh and lib/harness.py read.
 */
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";

export const KERNEL_IDS = ["6.1", "6.12", "6.1+fix", "6.12+fix"] as const;

/** The stable code of an id that names no kernel (exit 2). */
export const UNKNOWN_KERNEL = "UNKNOWN_KERNEL";

const isDir = (p: string): boolean => existsSync(p) && statSync(p).isDirectory();

/** null when `id` names a kernel of the matrix or a folder holding one (vmlinuz* beside lib/modules/<release>/), else what is wrong. */
export function kernelIdProblem(id: string): string | null {
  if ((KERNEL_IDS as readonly string[]).includes(id)) return null;
  if (isDir(id)) {
    const mods = join(id, "lib", "modules");
    if (readdirSync(id).some((n) => n.startsWith("vmlinuz")) && isDir(mods) && readdirSync(mods).length > 0) return null;
    return `the folder ${id} holds no vmlinuz* beside lib/modules/<release>/`;
  }
  return `no kernel "${id}"`;
}

/** The usage error for a bad id (after its code, UNKNOWN_KERNEL): the cause and the next step. */
export function unknownKernelMessage(problem: string): string {
  return `${problem}; give ${KERNEL_IDS.join(", ")} or a folder holding vmlinuz* and lib/modules/<release>/ (kernel/README.md)`;
}

/**
 * The DMSNAP_* variables of kernel `id` (`bash kernel/kernels.sh env ID` in the
 * repository at `root`); kernels.sh's own messages go to stderr. Throws when
 * kernels.sh fails (apt, the module build).
 */
export function kernelEnv(root: string, id: string): Record<string, string> {
  const r = spawnSync("bash", [join(root, "kernel", "kernels.sh"), "env", id], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
  if (r.status !== 0) throw new Error(`kernel/kernels.sh env ${id} exited with ${r.status ?? r.signal}`);
  const env: Record<string, string> = {};
  for (const line of r.stdout.split("\n")) {
    const at = line.indexOf("=");
    if (line.startsWith("DMSNAP_") && at > 0) env[line.slice(0, at)] = line.slice(at + 1);
  }
  return env;
}
