/**
 * A kernel log as a behaviour of the TLA+ model (spec/DmSnapStore.tla), in
 * the event vocabulary of spec/trace/TraceDmSnapStore.tla, checked by TLC
 * through spec/kernel/KernelTrace.tla. The model covers the COW side of one
 * activation: copies, commits (with the next area's zeroing), invalidation.
 * It has no origin writes, no reactivation and no merge, so origin writes
 * and snapshot re-writes are left out, and workloads that reactivate or
 * merge are not mapped (docs/kernel-findings.md).
 */
import { areaLocation, chunkKind, exceptionsPerArea, readEntry } from "@dmsnap/format";
import type { LogEvent } from "./log.js";
import { tableOf, type Workload } from "./workload.js";

export interface ModelEvent {
  a: string;
  [k: string]: unknown;
}

export interface ModelLog {
  name: string;
  constants: Record<string, number | boolean | string>;
  events: ModelEvent[];
  /** Mutated logs: which mutation, and the model event it first affects. */
  mutant?: { kind: string; at: number; of: string };
}

export type MapResult = { ok: true; log: ModelLog } | { ok: false; reason: string };

/** Maps a kernel log of one activation to model events. */
export function toModel(w: Workload, events: LogEvent[], name = w.id): MapResult {
  if (w.steps.filter((s) => s.op === "activate").length !== 1 || w.steps.some((s) => s.op === "merge")) {
    return { ok: false, reason: "the model has one activation and no merge" };
  }
  const cs = tableOf(w).chunkSize;
  const E = exceptionsPerArea(cs);
  const out: ModelEvent[] = [];
  const exOf = new Map<number, number>(); // COW data chunk -> exception number
  let nextEx = 1;
  let curArea = 0;
  let curIdx = 0;
  let flushedSinceData = true;
  let setup = true; // the activation's header and area-0 zeroing: the model's Init
  for (const e of events) {
    if (e.kind === "mark" || e.kind === "discard") continue;
    if (e.kind === "flush" || e.preflush) {
      flushedSinceData = true;
      if (e.kind === "flush") continue;
    }
    if (e.sector < w.originSectors) continue; // origin writes: not in the model
    const rel = e.sector - w.originSectors;
    if (rel % cs !== 0 || e.data.length !== cs * 512) return { ok: false, reason: `COW write at sector ${rel} is not one whole chunk` };
    const chunk = rel / cs;
    const kind = chunkKind(cs, chunk);
    if (kind === "header") {
      const valid = e.data[4]! | e.data[5]! | e.data[6]! | e.data[7]!;
      if (valid && setup) continue;
      if (valid) return { ok: false, reason: "a valid header written after activation" };
      out.push({ a: "Invalidate", buffer: "header" }, { a: "HeaderDone", slots: [-2], fua: e.fua });
      continue;
    }
    if (kind === "metadata") {
      const entries: number[] = [];
      for (let k = 0; k < E; k++) {
        const en = readEntry(e.data, k);
        const n = en.newLow + en.newHigh * 4294967296;
        if (n === 0) break;
        const ex = exOf.get(n);
        if (ex === undefined) return { ok: false, reason: `area entry ${k} points at COW chunk ${n}, which no copy wrote` };
        entries.push(ex);
      }
      if (entries.length === 0) {
        if (setup && chunk === areaLocation(cs, 0)) continue;
        // the next area's zeroing belongs to the commit that fills this one (below)
        if (chunk === areaLocation(cs, curArea + 1)) continue;
        return { ok: false, reason: `zeroing of COW chunk ${chunk}, not the next area` };
      }
      setup = false;
      const fresh = entries.slice(curIdx);
      if (chunk !== areaLocation(cs, curArea) || fresh.length === 0) return { ok: false, reason: `area write to chunk ${chunk} adds nothing to area ${curArea}` };
      fresh.forEach((ex, i) => {
        const last = i === fresh.length - 1;
        const full = curIdx + 1 === E;
        out.push({ a: "CommitStart", e: ex, idx: curIdx + 1, next: !last && !full ? "idle" : full ? "zeroing" : "prewrite" });
        if (full) out.push({ a: "ZeroDone", chunk: areaLocation(cs, curArea + 1) });
        curIdx++;
      });
      out.push({ a: "IssueArea", area: curArea, valid: 1, flush: flushedSinceData });
      out.push({ a: "AreaDone", chunk: areaLocation(cs, curArea), slots: entries, fua: e.fua });
      out.push({ a: "Finish", full: curIdx === E, ok: true });
      if (curIdx === E) {
        curArea++;
        curIdx = 0;
      }
      continue;
    }
    // a data chunk: the first write is the copy (or a whole-chunk snapshot write standing for it)
    setup = false;
    flushedSinceData = false;
    if (exOf.has(chunk)) continue;
    const ex = nextEx++;
    exOf.set(chunk, ex);
    out.push({ a: "Prepare", e: ex, chunk }, { a: "CopyDone", e: ex });
  }
  const n = nextEx - 1;
  const constants = {
    E,
    NAreas: Math.floor(n / E) + 1 + (n > 0 && n % E === 0 ? 1 : 0),
    N: n,
    MaxInFlight: 1,
    // Linux 6.1 as docs/model.md's constants table has it: plain header write,
    // origin writes released at once, first activation header-then-zeroing.
    MaxCrashes: 1,
    FirstActivation: false,
    CopyFailures: false,
    IOErrors: false,
    OriginWrites: false,
    Merge: false,
    HeaderInAreaBuffer: false,
    ZeroOrder: "before-area",
    FlushBeforeArea: true,
    CallbackAfterWrite: true,
    InOrderCommit: true,
    CommitOnCopyFailure: true,
    SkipMetadataAfterReload: true,
    ReloadPartialArea: true,
    HeaderFUA: false,
    OriginWaitsHeader: false,
    MergeFlushOrigin: true,
    InitZeroFirst: false,
  };
  return { ok: true, log: { name, constants, events: out } };
}
