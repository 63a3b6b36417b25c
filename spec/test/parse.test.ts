// Tests of the TLC output parser and of the runner's judgement, on outputs
// recorded from real TLC runs (TLC2 Version 2.18 of 20 March 2023, `-tool`):
//   fixtures/bug2009.out          models/bug2009.cfg, 1 worker
//   fixtures/early-callbacks.out  models/early-callbacks.cfg, 1 worker
//   fixtures/fixed.out            models/fixed.cfg, 2 workers (with liveness)
//   fixtures/temporal.out         fixtures/Live.tla with Live.cfg (a liveness violation)
//   fixtures/parse-error.out      fixtures/Bad.tla (a syntax error)
// Expected values below were read by eye from those files.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parseDuration, parseTlcOutput, splitMessages } from "../lib/parse.mjs";
import { cfgProperties, judge, loadManifest } from "../lib/runner.mjs";
import { javaMajor, MAVEN_TLC, storeVerified } from "../lib/tools.mjs";
import { formatTrace, traceToJson } from "../lib/trace.mjs";

const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), "utf8");

describe("parseTlcOutput on recorded outputs", () => {
  it("reads the 2009 design's header violation and its trace", () => {
    const r = parseTlcOutput(fixture("bug2009.out"));
    expect(r.outcome).toBe("invariant");
    expect(r.violated).toBe("HeaderWellFormed");
    expect(r.version).toBe("2.18 of 20 March 2023");
    expect([r.generated, r.distinct, r.left, r.depth]).toEqual([289, 193, 103, 7]);
    expect(r.seconds).toBeCloseTo(0.738, 6);
    expect(r.errors).toEqual([]);
    expect(r.trace.map((s) => s.action)).toEqual([
      "Initial predicate",
      "Prepare",
      "CopyDone",
      "Invalidate",
      "CommitStart",
      "TakeHeaderWrite",
      "CompleteHeaderWrite",
    ]);
    expect(r.trace.map((s) => s.step)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    const [first, second, , invalidate, commit, take] = r.trace;
    expect(first?.location).toBeNull();
    expect(Object.keys(first?.vars ?? {})).toHaveLength(21);
    expect(first?.vars.disk).toBe(
      "(0 :> <<HDR_VALID, 0>> @@ 1 :> <<0, 0>> @@ 2 :> <<STALE, STALE>> @@ 3 :> <<STALE, STALE>> @@ " +
        "4 :> <<STALE, STALE>> @@ 5 :> <<STALE, STALE>> @@ 6 :> <<STALE, STALE>> @@ 7 :> <<STALE, STALE>>)",
    );
    expect(second?.location).toBe("line 153, col 5 to line 159, col 77 of module DmSnapStore");
    expect(invalidate?.vars.areaBuf).toBe("<<HDR_INVALID, 0>>");
    expect(invalidate?.vars.hw).toBe('[chunk |-> 0, src |-> "area", taken |-> <<>>]');
    expect(commit?.vars.areaBuf).toBe("<<1, 0>>");
    expect(take?.vars.hw).toBe('[chunk |-> 0, src |-> "area", taken |-> <<1, 0>>]');
    expect(r.trace[6]?.vars.cache).toMatch(/^\( 0 :> <<1, 0>> @@ 1 :> <<>>/);
  });

  it("reads the early-callback design's lost acknowledgement", () => {
    const r = parseTlcOutput(fixture("early-callbacks.out"));
    expect(r.outcome).toBe("invariant");
    expect(r.violated).toBe("AckedSurvive");
    expect([r.generated, r.distinct, r.left, r.depth]).toEqual([114, 79, 43, 6]);
    expect(r.seconds).toBeCloseTo(0.922, 6);
    expect(r.trace).toHaveLength(6);
    expect(r.trace[4]?.action).toBe("IssueArea");
    expect(r.trace[4]?.vars.ackOk).toBe("{1}");
    expect(r.trace[5]?.action).toBe("Crash");
    expect(r.trace[5]?.vars.act).toBe('[status |-> "valid", loaded |-> {}]');
  });

  it("reads a passing run with liveness checking", () => {
    const r = parseTlcOutput(fixture("fixed.out"));
    expect(r.outcome).toBe("pass");
    expect(r.violated).toBeNull();
    expect([r.generated, r.distinct, r.left, r.depth]).toEqual([152357, 52788, 0, 34]);
    expect(r.seconds).toBeCloseTo(26.035, 6);
    expect(r.trace).toEqual([]);
    expect(r.errors).toEqual([]);
  });

  it("reads a temporal violation ending in stuttering", () => {
    const r = parseTlcOutput(fixture("temporal.out"));
    expect(r.outcome).toBe("temporal");
    expect(r.violated).toBeNull(); // TLC does not name it; the runner takes it from the .cfg
    expect([r.generated, r.distinct, r.left]).toEqual([6, 3, 0]);
    expect(r.depth).toBeNull();
    expect(r.seconds).toBeCloseTo(1.404, 6);
    expect(r.trace.map((s) => [s.step, s.kind])).toEqual([
      [1, "state"],
      [2, "state"],
      [3, "stuttering"],
    ]);
    expect(r.trace[0]?.vars).toEqual({ x: "0" });
    expect(r.trace[1]?.vars).toEqual({ x: "1" });
    expect(r.trace[1]?.location).toBe("line 5, col 10 to line 5, col 28 of module Live");
  });

  it("reports a parse error as an error, with SANY's message", () => {
    const r = parseTlcOutput(fixture("parse-error.out"));
    expect(r.outcome).toBe("error");
    expect(r.errors[0]).toBe("[3002] Parsing or semantic analysis failed.");
    expect(r.errors.join("\n")).toContain("***Parse Error***");
    expect(r.distinct).toBeNull();
  });

  it("keeps the text outside the markers apart", () => {
    const msgs = splitMessages(fixture("parse-error.out"));
    expect(msgs.filter((m) => m.code === 2262)).toHaveLength(1);
    expect(msgs.some((m) => m.code === 0 && m.body.includes("Parsing file"))).toBe(true);
  });
});

describe("pieces of the parser", () => {
  it("converts TLC durations", () => {
    expect(parseDuration("Finished in 738ms at (x)")).toBeCloseTo(0.738, 6);
    expect(parseDuration("Finished in 11s at (x)")).toBe(11);
    expect(parseDuration("Finished in 01min 02s at (x)")).toBe(62);
    expect(parseDuration("Finished in 1h 00min 05s at (x)")).toBe(3605);
    expect(parseDuration("nothing")).toBeNull();
  });

  it("reads numbers with thousands separators", () => {
    const out = [
      "@!@!@STARTMSG 2199:0 @!@!@",
      "1,234,567 states generated, 89,012 distinct states found, 0 states left on queue.",
      "@!@!@ENDMSG 2199 @!@!@",
      "@!@!@STARTMSG 2193:0 @!@!@",
      "Model checking completed. No error has been found.",
      "@!@!@ENDMSG 2193 @!@!@",
    ].join("\n");
    const r = parseTlcOutput(out);
    expect(r.outcome).toBe("pass");
    expect(r.generated).toBe(1234567);
    expect(r.distinct).toBe(89012);
  });

  it("calls a run without a final verdict incomplete", () => {
    const r = parseTlcOutput(fixture("bug2009.out").split("@!@!@STARTMSG 2110")[0] ?? "");
    expect(r.outcome).toBe("incomplete");
  });
});

describe("judging a result against the manifest", () => {
  const bug = parseTlcOutput(fixture("bug2009.out"));
  const fixed = parseTlcOutput(fixture("fixed.out"));

  it("accepts the expected outcomes", () => {
    expect(judge({ name: "b", config: "c", design: "d", expect: "fail", violated: "HeaderWellFormed", traceLength: 7 }, bug, 12)).toEqual([]);
    expect(judge({ name: "f", config: "c", design: "d", expect: "pass", distinct: 52788, generated: 152357, depth: 34 }, fixed, 0)).toEqual([]);
  });

  it("fails a must-fail configuration that passes", () => {
    const bad = judge({ name: "b", config: "c", design: "d", expect: "fail", violated: "HeaderWellFormed" }, fixed, 0);
    expect(bad).toHaveLength(1);
    expect(bad[0]).toContain("found no violation");
  });

  it("fails when another property is violated", () => {
    const bad = judge({ name: "b", config: "c", design: "d", expect: "fail", violated: "AckedSurvive" }, bug, 12);
    expect(bad[0]).toContain("HeaderWellFormed");
  });

  it("fails a passing configuration whose state space changed", () => {
    const bad = judge({ name: "f", config: "c", design: "d", expect: "pass", distinct: 52787 }, fixed, 0);
    expect(bad).toEqual(["distinct states 52788, manifest pins 52787"]);
  });

  it("fails a must-pass configuration that is violated", () => {
    expect(judge({ name: "f", config: "c", design: "d", expect: "pass", distinct: 1 }, bug, 12)[0]).toContain("expected to pass");
  });

  it("fails a run that did not finish", () => {
    const err = parseTlcOutput(fixture("parse-error.out"));
    expect(judge({ name: "f", config: "c", design: "d", expect: "fail", violated: "X" }, err, 150)[0]).toContain("did not finish");
  });

  it("the committed manifest is well formed and pins the fixed design", () => {
    const m = loadManifest(new URL("../manifest.json", import.meta.url).pathname);
    const byName = new Map(m.configurations.map((c) => [c.name, c]));
    expect(byName.get("fixed")?.expect).toBe("pass");
    expect(byName.get("bug2009")?.violated).toBe("HeaderWellFormed");
    expect(byName.get("no-zeroing")?.violated).toBe("NoStaleEntries");
    expect(byName.get("no-flush")?.violated).toBe("LoadedDataDurable");
    expect(byName.get("early-callbacks")?.violated).toBe("AckedSurvive");
  });
});

describe("runner helpers", () => {
  it("finds the properties of a .cfg", () => {
    expect(cfgProperties(fixture("Live.cfg"))).toEqual(["Reaches3"]);
    expect(cfgProperties("SPECIFICATION Spec\nINVARIANTS\n  A\n  B\nPROPERTIES\n  P1 \\* comment\n  P2\n")).toEqual(["P1", "P2"]);
  });

  it("reads Java versions", () => {
    expect(javaMajor('openjdk version "17.0.15" 2025-04-15')).toBe(17);
    expect(javaMajor('java version "1.8.0_292"')).toBe(8);
    expect(javaMajor('openjdk version "21" 2023-09-19')).toBe(21);
    expect(javaMajor("garbage")).toBeNull();
  });

  it("refuses a download whose sha256 is not the pinned one", () => {
    expect(() => storeVerified("/nonexistent-never-created", Buffer.from("not a jar"), MAVEN_TLC)).toThrow(/sha256/);
  });

  it("prints only what changed, and writes JSON", () => {
    const r = parseTlcOutput(fixture("bug2009.out"));
    const text = formatTrace(r.trace);
    expect(text).toContain("4. Invalidate");
    const block = text.slice(text.indexOf("2. Prepare"), text.indexOf("3. CopyDone"));
    expect(block.trim().split("\n").map((l) => l.trim())).toEqual(["2. Prepare", "copying = {1}", "nextEx = 2", "pending = 1"]);
    const json = traceToJson(r.trace);
    expect(json[3]?.changed.sort()).toEqual(["areaBuf", "hpc", "hw", "memValid"]);
    expect(json[3]?.state.memValid).toBe("0");
  });
});
