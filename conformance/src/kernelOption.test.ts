// `pnpm conformance --reader kernel --kernel ID` (issue #22): the kernel id is
// checked before any reader runs; a bad one is a usage error with the ids to give.
import { spawnSync } from "node:child_process";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const BIN = join(resolve(dirname(fileURLToPath(import.meta.url)), ".."), "dist", "bin.js");
const run = (...args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: "utf8" });

describe("dmsnap-conformance --kernel (built)", () => {
  it("an id that names no kernel: UNKNOWN_KERNEL, exit 2, nothing run", () => {
    const r = run("--reader", "kernel", "--kernel", "nosuch");
    expect(r.status).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toBe(
      'dmsnap-conformance: UNKNOWN_KERNEL: no kernel "nosuch"; give 6.1, 6.12, 6.1+fix, 6.12+fix or a folder holding vmlinuz* and lib/modules/<release>/ (kernel/README.md); run \'dmsnap-conformance --help\' for usage\n',
    );
  });
  it("a folder without a kernel in it: UNKNOWN_KERNEL, exit 2", () => {
    const r = run("--reader", "kernel", "--kernel", ".");
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^dmsnap-conformance: UNKNOWN_KERNEL: the folder \/.* holds no vmlinuz\* beside lib\/modules\/<release>\/; give 6\.1, /);
  });
  it("--kernel without --reader kernel: BAD_OPTION, exit 2", () => {
    const r = run("--kernel", "6.1");
    expect(r.status).toBe(2);
    expect(r.stderr).toBe("dmsnap-conformance: BAD_OPTION: --kernel chooses the kernel of --reader kernel; add --reader kernel; run 'dmsnap-conformance --help' for usage\n");
  });
  it("--help names it", () => {
    expect(run("--help").stdout).toMatch(/--kernel ID {15}with --reader kernel: the kernel it boots: 6\.1 \(default\), 6\.12, 6\.1\+fix,/);
  });
});
