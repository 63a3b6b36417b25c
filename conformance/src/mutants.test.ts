import { describe, expect, it } from "vitest";
import { judgeMutants, MIN_KILLS, mutantReaders, renderKillTable, type Mutant } from "./mutants.js";
import type { RunReport } from "./runner.js";
import type { Cell } from "./types.js";

const m = (name: string): Mutant => ({ name, models: "test", bug: "test" });
const cell = (caseId: string, reader: string, status: Cell["status"]): Cell => ({ caseId, reader, status, diffs: [], problems: [], compared: [], ms: 0 });
const report = (cells: Cell[]) => ({ cells, caseProblems: [] }) as unknown as RunReport;

describe("judgeMutants", () => {
  it("counts the cases that fail for each mutant; a mutant no case fails survives", () => {
    const r = judgeMutants(
      report([
        cell("a", "python-batch", "pass"),
        cell("a", "mutant:x", "fail"),
        cell("b", "mutant:x", "fail"),
        cell("a", "mutant:y", "fail"),
        cell("b", "mutant:y", "pass"),
        cell("a", "mutant:z", "pass"),
        cell("b", "mutant:z", "skip"),
      ]),
      [m("x"), m("y"), m("z")],
    );
    expect(r.kills.map((k) => [k.mutant.name, k.killedBy.length])).toEqual([["x", 2], ["y", 1], ["z", 0]]);
    expect(r.survivors).toEqual(["z"]);
    expect(MIN_KILLS).toBe(2);
    expect(r.thin).toEqual(["y"]);
    expect(r.baselineFailures).toEqual([]);
    expect(renderKillTable(r)).toContain("| `x` | test | 2 | a, b |");
  });

  it("reports the plain reader's failures, which make the counts meaningless", () => {
    expect(judgeMutants(report([cell("a", "python-batch", "fail")]), []).baselineFailures).toEqual(["a"]);
  });

  it("runs each mutant as a batch reader with DMSNAP_MUTANT set, beside the plain one", () => {
    const readers = mutantReaders("r.py", [m("x")]);
    expect(readers.map((r) => [r.name, r.kind, r.env])).toEqual([
      ["python-batch", "batch", { DMSNAP_MUTANT: "" }],
      ["mutant:x", "batch", { DMSNAP_MUTANT: "x" }],
    ]);
  });
});
