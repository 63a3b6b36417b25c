// The manifest against the model: every property has a configuration that
// violates it, every class-a bug of BUG-HISTORY.md has a must-fail
// configuration naming its upstream fix, and the selection of a run.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { cfgProperties, loadManifest, selectConfigurations } from "../lib/runner.mjs";

const specFile = (p: string) => new URL(`../${p}`, import.meta.url).pathname;
const manifest = loadManifest(specFile("manifest.json"));
const cfgText = (c: { config: string }) => readFileSync(specFile(c.config), "utf8");

/** INVARIANT(S) of a .cfg (cfgProperties gives the PROPERTY/PROPERTIES part). */
function cfgInvariants(text: string): string[] {
  const out: string[] = [];
  let on = false;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.replace(/\\\*.*$/, "").trim();
    if (line === "") continue;
    const kw = /^([A-Z_]+)\b\s*(.*)$/.exec(line);
    if (kw && /^(INVARIANTS?|PROPERTY|PROPERTIES|CONSTANTS?|SPECIFICATION|INIT|NEXT|SYMMETRY|CONSTRAINTS?|VIEW|CHECK_DEADLOCK)$/.test(kw[1] ?? "")) {
      on = kw[1] === "INVARIANT" || kw[1] === "INVARIANTS";
      if (on && kw[2]) out.push(...kw[2].split(/\s+/).filter(Boolean));
      continue;
    }
    if (on) out.push(...line.split(/\s+/).filter(Boolean));
  }
  return out;
}

describe("the manifest", () => {
  const fails = manifest.configurations.filter((c) => c.expect === "fail");
  const passes = manifest.configurations.filter((c) => c.expect === "pass");

  it("the fixed design checks every property, and each one is violated by some configuration", () => {
    const fixed = manifest.configurations.find((c) => c.name === "fixed");
    expect(fixed?.expect).toBe("pass");
    const text = cfgText(fixed!);
    const checked = [...cfgInvariants(text), ...cfgProperties(text)].filter((p) => p !== "TypeOK");
    expect(checked.length).toBeGreaterThanOrEqual(12);
    const violated = new Set(fails.map((c) => c.violated));
    expect(checked.filter((p) => !violated.has(p))).toEqual([]);
  });

  it("every must-fail configuration checks the property it must violate", () => {
    for (const c of fails) {
      const text = cfgText(c);
      expect([...cfgInvariants(text), ...cfgProperties(text)], c.name).toContain(c.violated);
    }
  });

  it("has at least ten must-fail configurations re-introducing an upstream behaviour", () => {
    const upstream = fails.filter((c) => typeof c.upstream === "string" && c.upstream.length > 0);
    expect(upstream.length).toBeGreaterThanOrEqual(10);
  });

  it("covers every class-a bug of BUG-HISTORY.md and the open invalidation hole", () => {
    const bugs = new Set(fails.map((c) => c.bug?.split(" ")[0]));
    for (const b of ["#2", "#5", "#7", "#9", "#10", "#12", "#13", "#17"]) expect(bugs, b).toContain(b);
    // #7 both halves: the flush and the zeroing order
    expect(fails.filter((c) => c.bug?.startsWith("#7")).map((c) => c.violated).sort()).toEqual(["LoadedDataDurable", "NoStaleEntries"]);
    const open = fails.filter((c) => c.upstream === "open").map((c) => c.violated);
    expect(open).toContain("SnapshotViewIntact");
    expect(open).toContain("InvalidationSticks");
  });

  it("pins the state space of every passing configuration", () => {
    for (const c of passes) expect(c.distinct, c.name).toBeGreaterThan(0);
  });

  it("has a passing configuration with E=3 and 3 copies in flight", () => {
    const big = passes.filter((c) => /E = 3\b/.test(cfgText(c)) && /MaxInFlight = 3\b/.test(cfgText(c)));
    expect(big.length).toBeGreaterThanOrEqual(1);
  });
});

describe("selecting configurations", () => {
  const m = {
    spec: "X.tla",
    configurations: [
      { name: "a", config: "a.cfg", design: "", expect: "pass" as const, distinct: 1 },
      { name: "b", config: "b.cfg", design: "", expect: "pass" as const, distinct: 1, slow: true },
    ],
  };
  it("skips slow ones by default, runs them with --all or alone with --slow, and named ones always", () => {
    expect(selectConfigurations(m, {}).map((c) => c.name)).toEqual(["a"]);
    expect(selectConfigurations(m, { all: true }).map((c) => c.name)).toEqual(["a", "b"]);
    expect(selectConfigurations(m, { slowOnly: true }).map((c) => c.name)).toEqual(["b"]);
    expect(selectConfigurations(m, { names: ["b"] }).map((c) => c.name)).toEqual(["b"]);
  });
  it("refuses an upstream field on a passing configuration", () => {
    expect(() => loadManifest(specFile("test/fixtures/bad-manifest.json"))).toThrow(/upstream/);
  });
});
