// Kernel ids (issue #22): every entry point that boots a kernel takes
// --kernel ID; an id that names no kernel is a usage error (UNKNOWN_KERNEL,
// exit 2, the ids to give) before apt, make or QEMU run.
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { KERNEL_DIR } from "./oracle.js";
import { kernelIdProblem } from "./kernels.js";

const tmp = mkdtempSync(join(tmpdir(), "dmsnap-kernel-ids-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe("kernelIdProblem", () => {
  it("takes the four ids of the matrix", () => {
    for (const id of ["6.1", "6.12", "6.1+fix", "6.12+fix"]) expect(kernelIdProblem(id)).toBeNull();
  });
  it("names what is wrong with anything else", () => {
    expect(kernelIdProblem("nosuch")).toBe('no kernel "nosuch"');
    expect(kernelIdProblem("6.2")).toBe('no kernel "6.2"');
    expect(kernelIdProblem("6.1+fix+fix")).toBe('no kernel "6.1+fix+fix"');
  });
  it("takes a folder only with vmlinuz* beside lib/modules/<release>/", () => {
    const dir = join(tmp, "mine");
    mkdirSync(dir);
    expect(kernelIdProblem(dir)).toBe(`the folder ${dir} holds no vmlinuz* beside lib/modules/<release>/`);
    writeFileSync(join(dir, "vmlinuz-6.9.0"), "");
    expect(kernelIdProblem(dir)).toMatch(/holds no vmlinuz\*/);
    mkdirSync(join(dir, "lib", "modules", "6.9.0"), { recursive: true });
    expect(kernelIdProblem(dir)).toBeNull();
  });
});

const NEXT_STEP = "give 6.1, 6.12, 6.1+fix, 6.12+fix or a folder holding vmlinuz* and lib/modules/<release>/ (kernel/README.md)";

// (the conformance suite tests its own --kernel option)
describe("--kernel nosuch on every entry point: exit 2, UNKNOWN_KERNEL, nothing booted", () => {
  const cases: Array<[string, string[], string]> = [
    ["pnpm kernel:crash (built)", [process.execPath, join(KERNEL_DIR, "dist", "kernel-crash.js"), "--kernel", "nosuch"], 'kernel-crash: UNKNOWN_KERNEL: no kernel "nosuch"; '],
    ["kernel/activate.py", ["python3", join(KERNEL_DIR, "activate.py"), join(tmp, "in.json"), "--kernel", "nosuch"], "activate: UNKNOWN_KERNEL: no kernel 'nosuch'; "],
    ["kernel/io/record.py", ["python3", join(KERNEL_DIR, "io", "record.py"), "--out", join(tmp, "logs"), "--kernel", "nosuch"], "record: UNKNOWN_KERNEL: no kernel 'nosuch'; "],
    ["kernel/header-fail.py", ["python3", join(KERNEL_DIR, "header-fail.py"), "--kernel", "nosuch"], "header-fail: UNKNOWN_KERNEL: no kernel 'nosuch'; "],
    ["kernel/kernels.sh env", ["bash", join(KERNEL_DIR, "kernels.sh"), "env", "nosuch"], "kernels: UNKNOWN_KERNEL: no kernel 'nosuch'; "],
  ];
  for (const [name, [cmd, ...args], start] of cases) {
    it(name, () => {
      const r = spawnSync(cmd!, args, { encoding: "utf8", env: { ...process.env, DMSNAP_KERNEL_CACHE: join(tmp, "cache") } });
      expect(r.status).toBe(2);
      expect(r.stdout).toBe("");
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
      expect(r.stderr).toContain(start);
      expect(r.stderr).toContain(NEXT_STEP);
      expect(r.stderr).not.toMatch(/Traceback|at .*\.js:\d+/);
    });
  }
});
