// The layering of issue #22, visible from the folder names: the kernel oracle
// (kernel/, @dmsnap/kernel) knows nothing of the conformance suite, which
// calls it; the oracle's pieces live in kernel/ only.
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { KERNEL_DIR } from "./oracle.js";

const ROOT = join(KERNEL_DIR, "..");
const SKIP = new Set(["node_modules", "dist", "patches", "__pycache__", ".cache"]);

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    if (SKIP.has(n)) return [];
    return statSync(p).isDirectory() ? files(p) : [p];
  });
}

const code = files(KERNEL_DIR).filter((f) => /\.(ts|mjs|js|py|sh|c|json)$|\/init$/.test(f) && !f.endsWith("layering.test.ts"));

describe("kernel/ does not reach into conformance/", () => {
  it("holds the oracle's code (TypeScript, python, shell, the guest)", () => {
    const rel = code.map((f) => relative(KERNEL_DIR, f));
    for (const f of ["src/index.ts", "src/main.ts", "lib/harness.py", "lib/activation.py", "activate.py", "io/record.py", "build-initramfs.sh", "guest/init"]) expect(rel).toContain(f);
  });
  it("no file names a path in conformance/ or puts it on a module path", () => {
    const hits = code.flatMap((f) =>
      readFileSync(f, "utf8")
        .split("\n")
        .map((line, i) => ({ line, at: `${relative(ROOT, f)}:${i + 1}` }))
        .filter(({ line }) => /conformance\/|@dmsnap\/conformance|join\([^)]*["']conformance["']/.test(line))
        .map(({ at, line }) => `${at}: ${line.trim()}`),
    );
    expect(hits).toEqual([]);
  });
  it("@dmsnap/kernel does not depend on @dmsnap/conformance", () => {
    const pkg = JSON.parse(readFileSync(join(KERNEL_DIR, "package.json"), "utf8")) as Record<string, Record<string, string> | undefined>;
    const deps = ["dependencies", "devDependencies", "peerDependencies"].flatMap((k) => Object.keys(pkg[k] ?? {}));
    expect(deps).not.toContain("@dmsnap/conformance");
  });
});

describe("conformance/ holds the cases, the runner and the readers, not the oracle", () => {
  it("has no QEMU recipe, harness, recorder or crash enumeration of its own", () => {
    const oracle = ["conformance/kernel/setup.sh", "conformance/kernel/build-initramfs.sh", "conformance/kernel/guest", "conformance/kernel/lib/harness.py", "conformance/kernel/lib/pattern.py", "conformance/kernel/io", "conformance/src/kernel-io"];
    expect(oracle.filter((p) => existsSync(join(ROOT, p)))).toEqual([]);
  });
});
