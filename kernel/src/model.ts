/**
 * A kernel log as a behaviour of the TLA+ model (spec/DmSnapStore.tla), in
 * the event vocabulary of spec/trace/TraceDmSnapStore.tla, checked by TLC
 * through spec/kernel/KernelTrace.tla. Every write the mapping claims is read
 * from the log:
 *  - first activation of the blank COW: the valid header write (InitHeader)
 *    and area 0's zeroing (InitZero), each with its FUA flag;
 *  - copies (Prepare + CopyDone; exceptions numbered in allocation order, the
 *    data chunk's order; the copies one area write commits are prepared
 *    together, so several are in flight as in the kernel);
 *  - commits: CommitStart per new entry, the next area's zeroing (ZeroDone)
 *    only where the log holds it, IssueArea, AreaDone with both words of each
 *    entry (an entry whose old_chunk is not the origin chunk its copy read
 *    becomes a slot no exception has), Finish;
 *  - the invalidation (Invalidate + HeaderDone with its FUA flag);
 *  - origin writes: the first to a chunk with an exception (OriginWrite),
 *    re-writes (OriginRewrite), writes to chunks without one
 *    (OriginUncopied: the model allows them only once the snapshot is
 *    invalid and its header written);
 *  - every deactivation (Deactivate: caches written back, the model's Crash,
 *    which must find what the kernel's header says, with every committed
 *    exception) and reactivation (Reactivate: the model's Reload);
 *  - snapshot-merge (MergeCopy + MergeCommit per entry cleared).
 * The COW's size (CowChunks, and NAreas: the areas that start inside it) is
 * the workload's. Not mapped: snapshot re-writes of a data chunk.
 */
import { areaLocation, areaOfChunk, chunkAtSector, chunkBytes, chunkKind, chunkSectors, chunksInDevice, exceptionsPerArea, joinU64, readEntry, sectorBytes, sectorsIn } from "@dmsnap/format";
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

type Write = Extract<LogEvent, { kind: "write" }>;

const isZero = (d: Uint8Array) => d.every((b) => b === 0);
const isValidHeader = (d: Uint8Array) => (d[4]! | d[5]! | d[6]! | d[7]!) !== 0;

/**
 * The design constants a log shows (the kernel's header writes, not a
 * kernel id): `HeaderFUA` is the FUA flag of the invalidation header write
 * (valid=0), or of the first activation's header where the log invalidates
 * nothing (kernel/patches/0001 and 0002 make both durable; a stock kernel
 * writes both plain); `InitZeroFirst` is whether the first activation zeroes
 * area 0 before it writes the header (patch 0002).
 */
export function designOf(w: Workload, events: LogEvent[]): { HeaderFUA: boolean; InitZeroFirst: boolean } {
  const cs = tableOf(w).chunkSize;
  let initFua: boolean | null = null;
  let invalFua: boolean | null = null;
  let zeroSeen = false;
  let zeroFirst = false;
  for (const e of events) {
    if (e.kind !== "write" || e.sector < w.originSectors) continue;
    const rel = e.sector - w.originSectors;
    if (rel === 0) {
      if (isValidHeader(e.data)) {
        if (initFua === null) {
          initFua = e.fua;
          zeroFirst = zeroSeen;
        }
      } else if (invalFua === null) invalFua = e.fua;
    } else if (rel === chunkSectors(cs, areaLocation(cs, 0)) && isZero(e.data)) zeroSeen = true;
  }
  return { HeaderFUA: invalFua ?? initFua ?? false, InitZeroFirst: zeroFirst };
}

/**
 * Maps a kernel log (its activations and a merge) to model events. The
 * constants HeaderFUA and InitZeroFirst come from the log (designOf), or
 * from `design` (to check a log under another design, or a mutant under its
 * kernel's).
 */
export function toModel(w: Workload, events: LogEvent[], name = w.id, design: { HeaderFUA: boolean; InitZeroFirst: boolean } = designOf(w, events)): MapResult {
  const cs = tableOf(w).chunkSize;
  const E = exceptionsPerArea(cs);
  const cowChunks = chunksInDevice(cs, sectorBytes(w.cowSectors));
  const num = numbering(w, events, cs, E);
  if (!num.ok) return num;
  const { exOf, exOfOrigin, lastOfGroup } = num;
  const N = exOf.size;
  const mismatch = N + 1; // a slot value no exception has: an entry whose two words disagree
  const out: ModelEvent[] = [];
  const originDone = new Set<number>(); // origin chunks whose first write is mapped
  let activations = 0;
  let deactivated = false;
  let deactivations = 0;
  let invalid = false; // the kernel wrote the invalidated header since the last activation
  let merge = false; // after the snapshot-merge target took over
  let mergePending: number[] = []; // exceptions whose merge copy onto the origin is in the log, not yet committed
  let originFlushed = true; // a flush since the last merge copy
  let prepared = 0; // exceptions prepared so far
  let copied = 0;
  let maxInFlight = 1;
  const copiedEx = new Set<number>();
  let curArea = 0;
  let curIdx = 0;
  let flushedSinceData = true;
  const zeroed = new Map<number, boolean>(); // area chunks zeroed since the last commit -> FUA flag
  let initHeader = false;
  let initZero = false;
  const deactivate = () => {
    out.push({ a: "Deactivate", status: invalid ? "invalid" : "valid" });
    deactivations++;
  };
  for (const e of events) {
    if (e.kind === "mark") {
      if (e.text === "deactivated" || e.text === "merged") deactivated = true;
      if (e.text.startsWith("activate:") || e.text === "merge-start") {
        // a reactivation after a clean deactivation: caches written back, the model's Crash, then its Reload
        if (activations > 0) {
          if (!deactivated) return { ok: false, reason: "an activation while the snapshot was active" };
          deactivate();
          out.push({ a: "Reactivate" });
        }
        activations++;
        deactivated = false;
        invalid = false;
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
        if (ex === undefined) out.push({ a: "OriginUncopied", chunk: c });
        else if (originDone.has(c)) out.push({ a: "OriginRewrite", e: ex });
        else {
          originDone.add(c);
          out.push({ a: "OriginWrite", e: ex });
        }
      }
      continue;
    }
    const rel = e.sector - w.originSectors;
    if (rel % cs !== 0 || e.data.length !== chunkBytes(cs)) return { ok: false, reason: `COW write at sector ${rel} is not one whole chunk` };
    const chunk = rel / cs;
    const kind = chunkKind(cs, chunk);
    if (kind === "header") {
      if (isValidHeader(e.data)) {
        if (activations !== 1 || initHeader) return { ok: false, reason: "a valid header written other than at the first activation" };
        initHeader = true;
        out.push({ a: "InitHeader", chunk: 0, fua: e.fua });
        continue;
      }
      invalid = true;
      out.push({ a: "Invalidate", buffer: "header" }, { a: "HeaderDone", chunk: 0, slots: [-2], fua: e.fua });
      continue;
    }
    if (kind === "metadata") {
      const entries: number[] = []; // by new_chunk
      const slots: number[] = []; // both words: the exception when they agree
      for (let k = 0; k < E; k++) {
        const en = readEntry(e.data, k);
        const n = joinU64(en.newLow, en.newHigh);
        if (n === 0) break;
        const ex = exOf.get(n);
        if (ex === undefined) return { ok: false, reason: `area entry ${k} points at COW chunk ${n}, which no copy wrote` };
        entries.push(ex);
        slots.push(exOfOrigin.get(joinU64(en.oldLow, en.oldHigh)) === ex ? ex : mismatch);
      }
      if (merge) {
        if (chunk !== areaLocation(cs, curArea)) return { ok: false, reason: `merge commit to COW chunk ${chunk}, not area ${curArea}` };
        // one area write clears the entries of every chunk merged since the last: the model's
        // MergeCopy + MergeCommit per entry, from the last entry backwards
        if (entries.length !== curIdx - mergePending.length) return { ok: false, reason: `merge commit leaves ${entries.length} entries, not ${curIdx} - ${mergePending.length}` };
        mergePending.sort((a, b) => b - a);
        mergePending.forEach((ex, i) => {
          out.push({ a: "MergeCopy", e: ex });
          out.push(i === mergePending.length - 1 ? { a: "MergeCommit", flush: originFlushed, chunk, fua: e.fua, slots } : { a: "MergeCommit", flush: originFlushed, chunk, fua: e.fua });
        });
        curIdx = entries.length;
        mergePending = [];
        continue;
      }
      if (entries.length === 0) {
        if (!isZero(e.data)) return { ok: false, reason: `area write to COW chunk ${chunk} ends at entry 0 but is not all zeros` };
        if (activations === 1 && !initZero && chunk === areaLocation(cs, 0) && !copied) {
          initZero = true;
          out.push({ a: "InitZero", chunk, fua: e.fua });
          continue;
        }
        // the next area's zeroing: read by the commit that fills this area (below)
        if (chunk === areaLocation(cs, curArea + 1)) {
          zeroed.set(chunk, e.fua);
          continue;
        }
        return { ok: false, reason: `zeroing of COW chunk ${chunk}, not the next area` };
      }
      const fresh = entries.slice(curIdx);
      if (chunk !== areaLocation(cs, curArea) || fresh.length === 0) return { ok: false, reason: `area write to chunk ${chunk} adds nothing to area ${curArea}` };
      fresh.forEach((ex, i) => {
        const last = i === fresh.length - 1;
        const full = curIdx + 1 === E;
        out.push({ a: "CommitStart", e: ex, idx: curIdx + 1, next: !last && !full ? "idle" : full ? "zeroing" : "prewrite" });
        // the zeroing of the next area, where the log holds it (none: the model cannot go on)
        const next = areaLocation(cs, curArea + 1);
        if (full && zeroed.has(next)) out.push({ a: "ZeroDone", chunk: next, fua: zeroed.get(next) });
        curIdx++;
      });
      zeroed.clear();
      out.push({ a: "IssueArea", area: curArea, valid: 1, flush: flushedSinceData });
      out.push({ a: "AreaDone", chunk: areaLocation(cs, curArea), slots, fua: e.fua });
      out.push({ a: "Finish", full: curIdx === E, ok: true });
      if (curIdx === E) {
        curArea++;
        curIdx = 0;
      }
      continue;
    }
    // a data chunk: the first write is the copy (or a whole-chunk snapshot write standing for it)
    flushedSinceData = false;
    if (merge) return { ok: false, reason: `a COW data write (chunk ${chunk}) during the merge` };
    const ex = exOf.get(chunk)!;
    if (copiedEx.has(ex)) continue;
    // prepare (in allocation order) every exception up to the last one its area write commits with it
    for (const upTo = Math.max(ex, lastOfGroup.get(ex)!); prepared < upTo; ) {
      prepared++;
      out.push({ a: "Prepare", e: prepared, chunk: num.chunkOf[prepared - 1] });
    }
    copiedEx.add(ex);
    copied++;
    maxInFlight = Math.max(maxInFlight, prepared - copied + 1);
    out.push({ a: "CopyDone", e: ex, chunk, fua: (e as Write).fua });
  }
  if (activations > 0 && deactivated) deactivate();
  if (deactivations > 2) return { ok: false, reason: `${deactivations} deactivations: the model reactivates once (MaxCrashes 2)` };
  const constants = {
    E,
    NAreas: areaOfChunk(cs, cowChunks - 1) + 1,
    CowChunks: cowChunks,
    N,
    MaxInFlight: maxInFlight,
    MaxCrashes: Math.max(1, deactivations),
    // every workload starts from a new COW (chunk 0 zero; the model's BlankDisk
    // holds stale bytes in every other chunk, a reused COW as workload.ts has it)
    FirstActivation: true,
    CopyFailures: false,
    IOErrors: false,
    OriginWrites: true,
    Merge: w.steps.some((s) => s.op === "merge"),
    // Linux 6.1 as docs/model.md's constants table has it (the origin write
    // waits for the header write: issue #21 item 1); the header's durability
    // and the first activation's order as the log shows them (designOf):
    // stock kernels plain and header-then-zeroing, the patched module
    // (kernel/patches/) FUA and zeroing-then-header.
    HeaderInAreaBuffer: false,
    ZeroOrder: "before-area",
    FlushBeforeArea: true,
    CallbackAfterWrite: true,
    InOrderCommit: true,
    CommitOnCopyFailure: true,
    SkipMetadataAfterReload: true,
    ReloadPartialArea: true,
    HeaderFUA: design.HeaderFUA,
    OriginWaitsHeader: true,
    MergeFlushOrigin: true,
    InitZeroFirst: design.InitZeroFirst,
  };
  return { ok: true, log: { name, constants, events: out } };
}

/** The sector a pattern sector names (lib/pattern.py: "TAG    xxxxxxxx\n"), or -1. */
function patternSectorOf(d: Uint8Array): number {
  if (d.length < 16 || d[6] !== 0x20 || d[15] !== 0x0a) return -1;
  const hex = String.fromCharCode(...d.subarray(7, 15));
  return /^[0-9a-f]{8}$/.test(hex) ? parseInt(hex, 16) : -1;
}

type Numbering =
  | {
      ok: true;
      /** COW data chunk -> exception (1-based, in allocation order: the chunk's order). */
      exOf: Map<number, number>;
      /** The data chunk of exception e at [e - 1]. */
      chunkOf: number[];
      /** Origin chunk -> exception: the chunk the copy's (or whole-chunk snapshot write's) pattern names. */
      exOfOrigin: Map<number, number>;
      /** Exception -> the last exception the same area write commits first (itself if none does). */
      lastOfGroup: Map<number, number>;
    }
  | { ok: false; reason: string };

/**
 * Exceptions of a log: every COW data chunk written, numbered in chunk order
 * (the kernel hands out next_free upwards, so this is the allocation order a
 * log must follow: Prepare checks each against the model's next_free).
 */
function numbering(w: Workload, events: LogEvent[], cs: number, E: number): Numbering {
  const firstWrite = new Map<number, Write>();
  const commits: Write[] = [];
  for (const e of events) {
    if (e.kind !== "write" || e.sector < w.originSectors) continue;
    const rel = e.sector - w.originSectors;
    if (rel % cs !== 0) continue;
    const chunk = rel / cs;
    const kind = chunkKind(cs, chunk);
    if (kind === "data" && !firstWrite.has(chunk)) firstWrite.set(chunk, e);
    if (kind === "metadata") commits.push(e);
  }
  const chunkOf = [...firstWrite.keys()].sort((a, b) => a - b);
  const exOf = new Map(chunkOf.map((c, i) => [c, i + 1]));
  const exOfOrigin = new Map<number, number>();
  for (const [c, e] of firstWrite) {
    const sec = patternSectorOf(e.data);
    if (sec >= 0 && sec % cs === 0 && !exOfOrigin.has(sec / cs)) exOfOrigin.set(sec / cs, exOf.get(c)!);
  }
  const lastOfGroup = new Map<number, number>();
  for (const c of commits) {
    const group: number[] = [];
    for (let k = 0; k < E; k++) {
      const en = readEntry(c.data, k);
      const n = joinU64(en.newLow, en.newHigh);
      if (n === 0) break;
      const ex = exOf.get(n);
      if (ex !== undefined && !lastOfGroup.has(ex)) group.push(ex);
    }
    const top = Math.max(0, ...group);
    for (const ex of group) lastOfGroup.set(ex, top);
  }
  for (const ex of exOf.values()) if (!lastOfGroup.has(ex)) lastOfGroup.set(ex, ex);
  return { ok: true, exOf, chunkOf, exOfOrigin, lastOfGroup };
}
