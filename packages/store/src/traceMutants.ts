/**
 * Mutated traces for trace validation: each changes a recorded run so that no
 * behaviour of the model matches it, and TLC must reject it at (or after) the
 * mutated event. Kinds, in rotation: a swapped pair of events where the later
 * needs the earlier; a flipped field the model pins exactly; a dropped flush
 * (in a run ending in a crash, the data an issued area write's flush made
 * durable is missing from the crash image; otherwise the area write is
 * logged as issued without its flush).
 */
import type { ModelTrace, TraceEvent } from "./traceModel.js";

export interface Mutant extends ModelTrace {
  mutant: { kind: string; at: number; of: string };
}

/** A small deterministic generator: mutations are the same on every run. */
function lcg(seed: number): (n: number) => number {
  let s = seed >>> 0;
  return (n) => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s % n;
  };
}

/** Pairs (i < j) where event j needs event i to have happened. */
export function dependentPairs(events: TraceEvent[]): Array<[number, number]> {
  const pairs: Array<[number, number]> = [];
  const where = new Map<string, number>();
  const need = (key: string, j: number) => {
    const i = where.get(key);
    if (i !== undefined) pairs.push([i, j]);
  };
  events.forEach((ev, j) => {
    if (ev.a === "CopyDone") need(`P${ev.e}`, j);
    if (ev.a === "CommitStart") need(`C${ev.e}`, j);
    if (ev.a === "AreaDone") need("I", j);
    if (ev.a === "HeaderDone") need("V", j);
    if (ev.a === "Prepare") where.set(`P${ev.e}`, j);
    if (ev.a === "CopyDone") where.set(`C${ev.e}`, j);
    if (ev.a === "IssueArea" && ev.valid === 1) where.set("I", j);
    if (ev.a === "Invalidate") where.set("V", j);
  });
  return pairs;
}

interface Flip {
  i: number;
  kind: string;
  f: (e: TraceEvent) => TraceEvent;
}

/** Field changes the model pins exactly (each leaves no matching step). */
export function flips(events: TraceEvent[]): Flip[] {
  const out: Flip[] = [];
  events.forEach((ev, i) => {
    const at = (kind: string, f: (e: TraceEvent) => TraceEvent) => out.push({ i, kind, f });
    switch (ev.a) {
      case "Prepare":
        at("Prepare.chunk+1", () => ({ ...ev, chunk: ev.chunk + 1 }));
        break;
      case "CommitStart":
        at("CommitStart.next", () => ({ ...ev, next: ev.next === "idle" ? "prewrite" : "idle" }));
        at("CommitStart.idx+1", () => ({ ...ev, idx: ev.idx + 1 }));
        break;
      case "IssueArea":
        at("IssueArea.valid", () => ({ ...ev, valid: ev.valid === 1 ? 0 : 1 }));
        break;
      case "Finish":
        at("Finish.ok", () => ({ ...ev, ok: !ev.ok }));
        at("Finish.full", () => ({ ...ev, full: !ev.full }));
        break;
      case "AreaDone":
        at("AreaDone.slot", () => {
          const slots = [...ev.slots];
          const k = slots.findIndex((v) => v !== 0);
          if (k < 0) slots[0] = -1;
          else slots[k] = 0;
          return { ...ev, slots };
        });
        break;
      case "HeaderDone":
        at("HeaderDone.valid", () => ({ ...ev, slots: [ev.slots[0] === -2 ? -3 : -2, ...ev.slots.slice(1)] }));
        break;
      case "Reload":
        at("Reload.nextFree+1", () => ({ ...ev, nextFree: ev.nextFree + 1 }));
        at("Reload.idx+1", () => ({ ...ev, idx: ev.idx + 1 }));
        break;
      case "Crash":
        at("Crash.status", () => ({ ...ev, status: ev.status === "valid" ? "invalid" : "valid" }));
        at("Crash.loaded", () => ({ ...ev, loaded: ev.loaded.length > 0 ? ev.loaded.slice(1) : [-1] }));
        break;
    }
  });
  return out;
}

/** Up to `count` mutants of `trace` (the `index`-th trace: picks the kinds and positions). */
export function mutantsOf(trace: ModelTrace, index: number, count: number): Mutant[] {
  const pick = lcg(index * 7919 + 17);
  const kinds = ["swap", "flip", "drop-flush"] as const;
  const out: Mutant[] = [];
  for (let k = 0; out.length < count && k < kinds.length * 2; k++) {
    const kind = kinds[(index + k) % kinds.length]!;
    const ev = [...trace.events];
    let at = -1;
    let last = -1;
    let what: string = kind;
    if (kind === "swap") {
      const pairs = dependentPairs(ev);
      if (pairs.length === 0) continue;
      const [i, j] = pairs[pick(pairs.length)]!;
      [ev[i], ev[j]] = [ev[j]!, ev[i]!];
      at = i;
      last = j;
      what = `swap ${trace.events[i]!.a} and ${trace.events[j]!.a}`;
    } else if (kind === "flip") {
      const fs = flips(ev);
      if (fs.length === 0) continue;
      const f = fs[pick(fs.length)]!;
      ev[f.i] = f.f(ev[f.i]!);
      at = last = f.i;
      what = `flip ${f.kind}`;
    } else {
      const crash = ev.findIndex((e) => e.a === "Crash");
      const c = crash >= 0 ? ev[crash] : undefined;
      // Exceptions copied before an area write was issued: that write's flush made their data durable.
      const flushed: number[] = [];
      if (c && c.a === "Crash") {
        const firstIssue = ev.findIndex((x, i) => i < crash && x.a === "IssueArea" && x.valid === 1);
        if (firstIssue >= 0) for (const x of ev.slice(0, firstIssue)) if (x.a === "CopyDone" && c.data[x.e - 1] === 1) flushed.push(x.e);
      }
      const issues = ev.flatMap((e, i) => (e.a === "IssueArea" && e.valid === 1 ? [i] : []));
      if (c && c.a === "Crash" && flushed.length > 0) {
        const e = flushed[pick(flushed.length)]!;
        ev[crash] = { ...c, data: c.data.map((d, i) => (i === e - 1 ? 0 : d)) };
        at = last = crash;
        what = `drop-flush: exception ${e}'s data not durable at the crash`;
      } else if (issues.length > 0) {
        const i = issues[pick(issues.length)]!;
        const x = ev[i]!;
        if (x.a === "IssueArea") ev[i] = { ...x, flush: false };
        at = last = i;
        what = "drop-flush: area write issued without its flush";
      } else continue;
    }
    out.push({ name: `${trace.name}~${out.length + 1}`, constants: trace.constants, events: ev.slice(0, last + 4), mutant: { kind: what, at, of: trace.name } });
  }
  return out;
}
