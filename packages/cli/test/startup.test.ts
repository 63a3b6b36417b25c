/**
 * `dmsnap --version` is answered by the entry file before the rest of the
 * CLI is loaded (issue #24: start-up within 1.3x of `node -e 0`). Pinned by
 * what the built entry imports statically: only small local files, never
 * commander or the commands' bundle. The version printed is pinned by
 * contract.e2e.test.ts.
 */
import { readFileSync, statSync } from "node:fs";
import { isBuiltin } from "node:module";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";
import { BIN } from "./helpers.js";

/** The files `file` loads before running (static imports, recursively), with their bare specifiers. */
function staticClosure(file: string, seen = new Set<string>(), bare = new Set<string>()): { files: Set<string>; bare: Set<string> } {
  if (seen.has(file)) return { files: seen, bare };
  seen.add(file);
  const text = readFileSync(file, "utf8");
  // Static forms only: `import ... from "x"` and `import "x"` (a dynamic import("x") is not followed).
  for (const m of text.matchAll(/^\s*import\s+(?:[^"'();]*?\sfrom\s+)?["']([^"']+)["']/gm)) {
    const spec = m[1]!;
    if (spec.startsWith(".")) staticClosure(join(dirname(file), spec), seen, bare);
    else bare.add(spec);
  }
  return { files: seen, bare };
}

describe("start-up of the built CLI", () => {
  it("the entry loads neither commander nor the commands before it looks for --version", () => {
    const { files, bare } = staticClosure(BIN);
    expect([...bare]).toEqual([]);
    const bytes = [...files].reduce((sum, f) => sum + statSync(f).size, 0);
    // The whole CLI is about 260 KB; the entry and the version are a few hundred bytes.
    expect(bytes).toBeLessThan(4096);
  });

  it("the commands load cli-progress only when a bar is drawn (it is a fifth of the start-up of every command)", () => {
    // The bundle of the commands: what the entry imports dynamically.
    const entry = readFileSync(BIN, "utf8");
    const lazy = [...entry.matchAll(/import\(["'](\.[^"']+)["']\)/g)].map((m) => join(dirname(BIN), m[1]!));
    const { bare } = staticClosure(lazy.find((f) => /\/main-[^/]*$/.test(f)) ?? BIN);
    expect(bare.has("commander")).toBe(true);
    expect(bare.has("cli-progress")).toBe(false);
  });

  it("`dump <cow> --json` loads neither commander nor the other commands (nor the store's writers)", () => {
    const entry = readFileSync(BIN, "utf8");
    const lazy = [...entry.matchAll(/import\(["'](\.[^"']+)["']\)/g)].map((m) => join(dirname(BIN), m[1]!));
    const fast = lazy.find((f) => /dumpJson/.test(f));
    expect(fast).toBeDefined();
    const { files, bare } = staticClosure(fast!);
    // Node's own modules only, and not those a dump rarely needs (a temporary's name, the writer thread).
    expect([...bare].filter((b) => !isBuiltin(b))).toEqual([]);
    expect([...bare].filter((b) => /crypto|worker_threads/.test(b))).toEqual([]);
    // Not the bundle of every command: the commands' own code (check's, restore's ...) stays out.
    const text = [...files].map((f) => readFileSync(f, "utf8")).join("\n");
    expect(text).not.toMatch(/src\/commands\/(check|restore|repair|export|merge|write|create|map|usage)\.ts/);
    expect(text).toMatch(/src\/commands\/dumpRun\.ts/);
  });

  it("the commands load node:crypto only when a temporary output is named (check, dump and usage write none)", () => {
    const entry = readFileSync(BIN, "utf8");
    const lazy = [...entry.matchAll(/import\(["'](\.[^"']+)["']\)/g)].map((m) => join(dirname(BIN), m[1]!));
    const { bare } = staticClosure(lazy.find((f) => !/dumpJson/.test(f)) ?? BIN);
    expect(bare.has("commander")).toBe(true);
    expect([...bare].filter((b) => b === "crypto" || b === "node:crypto")).toEqual([]);
  });
});

