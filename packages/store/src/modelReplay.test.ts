/**
 * The model's counterexamples replayed into the engine (modelReplay.ts). `pnpm
 * spec` replays every must-fail configuration's live counterexample; here the
 * recorded TLC outputs of spec/test/fixtures (the 2009 header race and the
 * early callbacks) are replayed, which replaces the hand translation of the
 * 2009 race that race.test.ts was.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
// @ts-expect-error -- plain ESM of the spec package, without declarations
import { parseTlcOutput } from "../../../spec/lib/parse.mjs";
// @ts-expect-error -- plain ESM of the spec package, without declarations
import { traceToJson } from "../../../spec/lib/trace.mjs";
// @ts-expect-error -- plain ESM of the spec package, without declarations
import { cfgConstants } from "../../../spec/lib/traces.mjs";
import { parseTla, replayCounterexample, type Counterexample } from "./modelReplay.js";

const spec = new URL("../../../spec/", import.meta.url);

function recorded(name: string): Counterexample {
  const r = parseTlcOutput(readFileSync(new URL(`test/fixtures/${name}.out`, spec), "utf8"));
  const constants = cfgConstants(readFileSync(new URL(`models/${name}.cfg`, spec), "utf8")) as Record<string, string>;
  return { configuration: name, violated: r.violated, constants, trace: traceToJson(r.trace) };
}

describe("TLC values", () => {
  it("parses what TLC prints", () => {
    expect(parseTla('(0 :> <<HDR_VALID, 0>> @@ 1 :> <<>>)')).toEqual({ 0: ["#HDR_VALID", 0], 1: [] });
    expect(parseTla('[chunk |-> 0, src |-> "none", taken |-> <<>>]')).toEqual({ chunk: 0, src: "none", taken: [] });
    expect(parseTla("{1, 2}")).toEqual([1, 2]);
    expect(parseTla("[status |-> \"valid\", loaded |-> {STALE, 1}]")).toEqual({ status: "valid", loaded: ["#STALE", 1] });
    expect(() => parseTla("<<1, 2")).toThrow();
  });
});

describe("counterexamples replayed into the engine", () => {
  it("bug2009: with the header built in the area buffer chunk 0 loses its header; with its own buffer it keeps it", async () => {
    const r = await replayCounterexample(recorded("bug2009"));
    expect(r.problems).toEqual([]);
    expect(r.runs.map((x) => [x.design, x.violated, x.at])).toEqual([
      [true, true, 7], // the last state of TLC's trace, as in the model
      [false, false, null],
    ]);
    expect(r.runs[0]!.mismatches).toEqual([]);
  });

  it("early-callbacks: an acknowledged exception is lost at the crash; callbacks after the write keep it", async () => {
    const r = await replayCounterexample(recorded("early-callbacks"));
    expect(r.problems).toEqual([]);
    expect(r.runs.map((x) => [x.design, x.violated, x.at])).toEqual([
      [true, true, 6],
      [false, false, null],
    ]);
  });

  it("has teeth: a counterexample whose states the engine does not follow is reported", async () => {
    const cx = recorded("early-callbacks");
    // Claim the store stays valid after the crash activation loaded nothing: the engine's activation disagrees.
    const last = cx.trace[cx.trace.length - 1]!;
    last.state = { ...last.state, act: '[status |-> "invalid", loaded |-> {}]' };
    const r = await replayCounterexample(cx);
    expect(r.ok).toBe(false);
    expect(r.runs[0]!.mismatches.join("\n")).toMatch(/activation valid, model invalid/);
  });

  it("refuses a property it has no engine check for", async () => {
    const r = await replayCounterexample({ ...recorded("bug2009"), violated: "SomethingNew" });
    expect(r.ok).toBe(false);
    expect(r.unsupported.join()).toMatch(/no engine check for the property SomethingNew/);
  });
});
