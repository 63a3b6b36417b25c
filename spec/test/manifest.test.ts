// The manifest against the model: every property has a configuration that
// violates it, every class-a bug of BUG-HISTORY.md has a must-fail
// configuration naming its upstream fix, and the selection of a run.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { applyMutant, cfgForProperty, loadMutants } from "../lib/mutants.mjs";
import { cfgProperties, loadManifest, selectConfigurations } from "../lib/runner.mjs";

const specFile = (p: string) => new URL(`../${p}`, import.meta.url).pathname;
const manifest = loadManifest(specFile("manifest.json"));
const cfgText = (c: { config: string }) => readFileSync(specFile(c.config), "utf8");
const mutants = loadMutants(specFile("mutants.json"));
const model = readFileSync(specFile("DmSnapStore.tla"), "utf8");
const byName = (n: string) => manifest.configurations.find((c) => c.name === n);

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
    // violated by a must-fail configuration or killing a design mutant
    const violated = new Set([...fails.map((c) => c.violated), ...mutants.mutants.map((x) => x.killedBy)]);
    expect(checked.filter((p) => !violated.has(p))).toEqual([]);
    expect(checked).toContain("NoActivationError");
    // the progress of origin writes and merges: where the configuration has them
    const all = passes.flatMap((c) => [...cfgInvariants(cfgText(c)), ...cfgProperties(cfgText(c))]);
    for (const p of ["OriginEventuallyReleased", "MergeEventuallyCommits"]) {
      expect(all, p).toContain(p);
      expect(violated, p).toContain(p);
    }
  });

  it("stands for Linux 6.1's invalidation with OriginWaitsHeader = TRUE and HeaderFUA = FALSE, and that still fails", () => {
    const k = byName("kernel-invalidation");
    expect(k?.expect).toBe("fail");
    expect(k?.violated).toBe("SnapshotViewIntact");
    const text = cfgText(k!);
    expect(text).toMatch(/^\s*OriginWaitsHeader = TRUE$/m);
    expect(text).toMatch(/^\s*HeaderFUA = FALSE$/m);
  });

  it("attributes the zeroing order and the flush of #7 to the 2009 barrier change, not to d87f4c14", () => {
    for (const n of ["zero-after-area", "no-flush"]) {
      const c = byName(n);
      expect(c?.bug, n).toMatch(/^#7/);
      expect(c?.upstream, n).toMatch(/^2009 /);
      expect(c?.upstream, n).not.toMatch(/^d87f4c14/);
    }
    const doc = readFileSync(specFile("../docs/model.md"), "utf8");
    expect(doc).not.toMatch(/fixed by d87f4c14|before d87f4c14/);
    // the 2009 source in the reference material zeroes the next area before the barrier area write
    expect(doc).toMatch(/already zeroes the next area/);
  });

  it("checks progress of origin writes under failing header writes, and merge progress with several merge steps per area", () => {
    const origin = cfgText(byName("fixed-origin")!);
    expect(origin).toMatch(/^\s*IOErrors = TRUE$/m);
    expect(cfgProperties(origin)).toContain("OriginEventuallyReleased");
    const merge = cfgText(byName("fixed-merge")!);
    expect(merge).toMatch(/^\s*E = 3$/m);
    expect(merge).toMatch(/^\s*NAreas = 2$/m);
    expect(cfgProperties(merge)).toContain("MergeEventuallyCommits");
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

describe("the design mutants (spec/mutants.json)", () => {
  it("has at least 15, each applying to the model exactly where it says", () => {
    expect(mutants.mutants.length).toBeGreaterThanOrEqual(15);
    for (const x of mutants.mutants) expect(applyMutant(model, x), x.name).not.toBe(model);
  });

  it("runs each under a passing configuration that checks the property meant to kill it", () => {
    for (const x of mutants.mutants) {
      const c = byName(x.configuration);
      expect(c?.expect, x.name).toBe("pass");
      expect(() => cfgForProperty(cfgText(c!), x.killedBy), x.name).not.toThrow();
      expect(x.survives, x.name).toBeUndefined();
    }
  });

  it("includes the review's mutants, each under a configuration large enough to kill it", () => {
    const m = (n: string) => mutants.mutants.find((x) => x.name === n);
    expect(m("merge-clears-first")?.configuration).toBe("fixed-merge");
    expect(m("zero-past-end-succeeds")?.killedBy).toBe("NoActivationError");
    expect(m("origin-skips-header-wait")?.killedBy).toBe("SnapshotViewIntact");
    expect(m("origin-held-forever")?.killedBy).toBe("OriginEventuallyReleased");
    expect(m("merge-unfair")?.killedBy).toBe("MergeEventuallyCommits");
  });

  it("refuses a mutant whose text is not in the model", () => {
    expect(() => applyMutant(model, { name: "x", what: "", from: "no such text", to: "y", configuration: "fixed", killedBy: "TypeOK" })).toThrow(/occurs 0 times/);
  });

  it("cuts a configuration down to one property, as an invariant or a temporal property", () => {
    const fixed = cfgText(byName("fixed")!);
    const inv = cfgForProperty(fixed, "AckedSurvive");
    expect(inv.temporal).toBe(false);
    expect(inv.text).toMatch(/INVARIANTS\n {4}AckedSurvive\n$/);
    expect(inv.text).toMatch(/^\s*E = 2$/m);
    expect(cfgForProperty(fixed, "CallbacksEventuallyRun").temporal).toBe(true);
    expect(() => cfgForProperty(fixed, "NoSuchProperty")).toThrow(/does not check/);
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
