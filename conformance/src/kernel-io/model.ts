/**
 * A kernel log as a behaviour of the TLA+ model (spec/DmSnapStore.tla), in
 * the event vocabulary of spec/trace/TraceDmSnapStore.tla, checked by TLC
 * through spec/kernel/KernelTrace.tla. Mapped: the COW side (copies, commits
 * with the next area's zeroing, invalidation), the first origin write to each
 * chunk that got an exception (OriginWrite; the chunk is read from the copy's
 * pattern), and a clean deactivation followed by an activation (Deactivate:
 * the caches written back, then the model's Crash; Reactivate: its Reload,
 * the kernel's next allocation checked against the model's next_free), and
 * snapshot-merge (each area write of the merge is MergeCopy + MergeCommit per
 * entry it clears, with whether a flush followed the copy onto the origin).
 * Not mapped: origin writes to chunks without an exception (after an
 * invalidation) and origin re-writes (the model writes each origin chunk
 * once), snapshot re-writes (docs/kernel-findings.md).
 */
import { areaLocation, areaOfEntryForE, chunkAtSector, chunkBytes, chunkKind, exceptionsPerArea, indexInAreaForE, joinU64, readEntry, sectorsIn } from "@dmsnap/format";
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

/** Maps a kernel log (its activations and a merge) to model events. */
export function toModel(w: Workload, events: LogEvent[], name = w.id): MapResult {
  const cs = tableOf(w).chunkSize;
  const E = exceptionsPerArea(cs);
  const out: ModelEvent[] = [];
  const exOfOrigin = originChunks(w, events, cs);
  const originDone = new Set<number>(); // origin chunks whose first write is mapped
  let activations = 0;
  let deactivated = false;
  let merge = false; // after the snapshot-merge target took over
  let mergePending: number[] = []; // exceptions whose merge copy onto the origin is in the log, not yet committed
  let originFlushed = true; // a flush since the last merge copy
  const exOf = new Map<number, number>(); // COW data chunk -> exception number
  let nextEx = 1;
  let curArea = 0;
  let curIdx = 0;
  let flushedSinceData = true;
  let setup = true; // the activation's header and area-0 zeroing: the model's Init
  for (const e of events) {
    if (e.kind === "mark") {
      if (e.text === "deactivate") deactivated = true;
      if (e.text.startsWith("activate:") || e.text === "merge-start") {
        // a reactivation after a clean deactivation: caches written back, the model's Crash, then its Reload
        if (activations > 0) {
          if (!deactivated) return { ok: false, reason: "an activation while the snapshot was active" };
          out.push({ a: "Deactivate" }, { a: "Reactivate" });
        }
        activations++;
        deactivated = false;
        merge = e.text === "merge-start";
      }
      continue;
    }
    if (e.kind === "discard") continue;
    if (e.kind === "flush" || e.preflush) {
      flushedSinceData = true;
      originFlushed = true;
      if (e.kind === "flush") continue;
    }
    if (e.sector < w.originSectors) {
      // the first write to an origin chunk that got an exception: OriginWrite (re-writes are not modelled)
      const first = chunkAtSector(cs, e.sector);
      const last = chunkAtSector(cs, e.sector + sectorsIn(e.data.length) - 1);
      for (let c = first; c <= last; c++) {
        const ex = exOfOrigin.get(c);
        if (merge) {
          // the merge copies the snapshot's chunk back onto the origin (committed by the next area write)
          if (ex === undefined) return { ok: false, reason: `merge write to origin chunk ${c}, which has no exception` };
          mergePending.push(ex);
          originFlushed = false;
          continue;
        }
        if (ex === undefined || originDone.has(c)) continue;
        originDone.add(c);
        out.push({ a: "OriginWrite", e: ex });
      }
      continue;
    }
    const rel = e.sector - w.originSectors;
    if (rel % cs !== 0 || e.data.length !== chunkBytes(cs)) return { ok: false, reason: `COW write at sector ${rel} is not one whole chunk` };
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
        const n = joinU64(en.newLow, en.newHigh);
        if (n === 0) break;
        const ex = exOf.get(n);
        if (ex === undefined) return { ok: false, reason: `area entry ${k} points at COW chunk ${n}, which no copy wrote` };
        entries.push(ex);
      }
      if (merge) {
        setup = false;
        // one area write clears the entries of every chunk merged since the last: the model's
        // MergeCopy + MergeCommit per entry, from the last entry backwards
        if (!e.fua) return { ok: false, reason: "a merge commit without FUA" };
        if (entries.length !== curIdx - mergePending.length) return { ok: false, reason: `merge commit leaves ${entries.length} entries, not ${curIdx} - ${mergePending.length}` };
        mergePending.sort((a, b) => b - a);
        mergePending.forEach((ex, i) => {
          out.push({ a: "MergeCopy", e: ex });
          out.push(i === mergePending.length - 1 ? { a: "MergeCommit", flush: originFlushed, slots: entries } : { a: "MergeCommit", flush: originFlushed });
        });
        curIdx = entries.length;
        mergePending = [];
        continue;
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
    if (merge) return { ok: false, reason: `a COW data write (chunk ${chunk}) during the merge` };
    if (exOf.has(chunk)) continue;
    const ex = nextEx++;
    exOf.set(chunk, ex);
    out.push({ a: "Prepare", e: ex, chunk }, { a: "CopyDone", e: ex });
  }
  const n = nextEx - 1;
  const constants = {
    E,
    NAreas: areaOfEntryForE(E, n) + 1 + (n > 0 && indexInAreaForE(E, n) === 0 ? 1 : 0),
    N: n,
    MaxInFlight: 1,
    // Linux 6.1 as docs/model.md's constants table has it: plain header write,
    // origin writes released at once, first activation header-then-zeroing.
    MaxCrashes: activations > 1 ? 2 : 1,
    FirstActivation: false,
    CopyFailures: false,
    IOErrors: false,
    OriginWrites: true,
    Merge: w.steps.some((s) => s.op === "merge"),
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

/** The sector a pattern sector names (lib/pattern.py: "TAG    xxxxxxxx\n"), or -1. */
function patternSectorOf(d: Uint8Array): number {
  if (d.length < 16 || d[6] !== 0x20 || d[15] !== 0x0a) return -1;
  const hex = String.fromCharCode(...d.subarray(7, 15));
  return /^[0-9a-f]{8}$/.test(hex) ? parseInt(hex, 16) : -1;
}

/**
 * Origin chunk -> exception, numbered as toModel numbers them (first write to
 * each COW data chunk, in log order); the origin chunk is the one the copy's
 * (or the whole-chunk snapshot write's) pattern names.
 */
function originChunks(w: Workload, events: LogEvent[], cs: number): Map<number, number> {
  const m = new Map<number, number>();
  const seen = new Set<number>();
  let ex = 0;
  for (const e of events) {
    if (e.kind !== "write" || e.sector < w.originSectors) continue;
    const rel = e.sector - w.originSectors;
    if (rel % cs !== 0) continue;
    const chunk = rel / cs;
    if (chunkKind(cs, chunk) !== "data" || seen.has(chunk)) continue;
    seen.add(chunk);
    ex++;
    const sec = patternSectorOf(e.data);
    if (sec >= 0 && sec % cs === 0 && !m.has(sec / cs)) m.set(sec / cs, ex);
  }
  return m;
}
