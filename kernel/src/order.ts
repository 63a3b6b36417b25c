/**
 * Trace validation of a write log against the store's write-order rules (the
 * fixed design of spec/DmSnapStore.tla, with the header-write durability as a
 * parameter). Each event maps to one model action:
 *   COW header write (valid)   -> activation's header write (area 0 must be
 *                                 zeroed before anything else happens; under
 *                                 the fixed rules, `fua`/`preflush-fua`:
 *                                 zeroed and flushed before it, the header
 *                                 with FUA: kernel/patches/0002)
 *   COW header write (valid=0) -> invalidation (durability: `headerRule`)
 *   COW area write, all zero before any commit to it -> zeroing
 *   COW area write (FUA)       -> commit (or merge commit when merging); a
 *                                 commit that fills an area needs the next
 *                                 area (if inside the COW) zeroed before it
 *   other COW write            -> copy / snapshot data write
 *   origin write               -> origin write (needs a committed exception)
 *   flush                      -> flush
 * The log is accepted when every action's precondition holds in log order.
 */
import { areaLocation, areaOfChunk, chunkAtSector, chunkKind, chunksInDevice, entriesIn, exceptionsPerArea, joinU64, readEntry, sectorBytes, sectorsIn, writeEntry } from "@dmsnap/format";
import type { LogEvent } from "./log.js";
import { pattern, tableOf, type Workload } from "./workload.js";

/** How the invalidation header must reach the disk. */
export type HeaderDurability = "plain" | "fua" | "preflush-fua";

export interface OrderResult {
  ok: boolean;
  events: number;
  /** The first broken precondition: event index and rule. */
  error?: { index: number; rule: string; message: string };
  /** Actions seen, by name. */
  actions: Record<string, number>;
}

export function validateOrder(w: Workload, events: LogEvent[], headerRule: HeaderDurability): OrderResult {
  const { chunkSize: cs } = tableOf(w);
  const E = exceptionsPerArea(cs);
  const cowChunks = chunksInDevice(cs, sectorBytes(w.cowSectors));
  const zeroedAreas = new Set<number>();
  let initPending = false; // a first activation's header written, area 0 not yet zeroed
  let area0Durable = false; // area 0's zeroing made durable (a flush since, or FUA)
  const committed = new Map<number, Set<number>>(); // area -> old chunks in it
  const actions: Record<string, number> = {};
  let dirtyCow = false;
  let dirtyOrigin = false;
  let headerWritten = false;
  let headerDurable = false;
  let invalidated = false;
  let merging = false;
  let lastWasFlush = false;
  const count = (a: string) => (actions[a] = (actions[a] ?? 0) + 1);
  const fail = (index: number, rule: string, message: string): OrderResult => ({ ok: false, events: events.length, error: { index, rule, message }, actions });
  const isCommitted = (c: number) => [...committed.values()].some((s) => s.has(c));

  for (let i = 0; i < events.length; i++) {
    const e = events[i]!;
    if (initPending && (e.kind === "mark" ? e.text === "deactivate" : e.kind === "write" && !isAreaZeroing(w, e, 0))) {
      return fail(i, "init-zero-area-0", "the activation wrote the header of a new snapshot and went on without zeroing area 0");
    }
    if (e.kind === "mark") {
      if (e.text === "merge-start") merging = true;
      if (e.text.startsWith("activate:")) invalidated = false;
      continue;
    }
    if (e.kind === "discard") return fail(i, "no-discard", `a discard at sector ${e.sector}: the store never discards`);
    if (e.kind === "flush" || (e.kind === "write" && e.preflush)) {
      count("flush");
      dirtyCow = dirtyOrigin = false;
      if (headerWritten) headerDurable = true;
      if (zeroedAreas.has(0)) area0Durable = true;
      if (e.kind === "flush") {
        lastWasFlush = true;
        continue;
      }
    }
    const afterFlush = lastWasFlush || e.preflush;
    lastWasFlush = false;
    if (e.sector < w.originSectors) {
      count("origin-write");
      dirtyOrigin = true;
      if (merging || invalidated) continue;
      const first = chunkAtSector(cs, e.sector);
      const last = chunkAtSector(cs, e.sector + sectorsIn(e.data.length) - 1);
      for (let c = first; c <= last; c++) {
        if (!isCommitted(c)) return fail(i, "origin-after-commit", `origin write at sector ${e.sector} before the exception of chunk ${c} was committed`);
      }
      continue;
    }
    const rel = e.sector - w.originSectors;
    if (rel % cs !== 0) {
      count("cow-data-write");
      dirtyCow = true;
      continue;
    }
    const chunk = rel / cs;
    const kind = chunkKind(cs, chunk);
    if (kind === "header") {
      const valid = e.data[4]! | e.data[5]! | e.data[6]! | e.data[7]!;
      if (valid) {
        count("header-write");
        // the fixed design (kernel/patches/0002): area 0 zeroed and durable, then the header with FUA
        if (headerRule !== "plain") {
          if (!zeroedAreas.has(0)) return fail(i, "init-zero-first", "a new snapshot's header is written before area 0 is zeroed: a crash can keep the header over whatever area 0 held");
          if (!area0Durable) return fail(i, "init-zero-first", "a new snapshot's header is written while area 0's zeroing is not durable (no flush between them)");
          if (!e.fua) return fail(i, "init-zero-first", "a new snapshot's header is not written with FUA");
        }
        initPending = !zeroedAreas.has(0);
        headerWritten = true;
        if (e.fua) headerDurable = true;
      } else {
        count("invalidation");
        if (headerRule !== "plain" && !e.fua) return fail(i, "invalidation-durable", "the invalidated header is not written with FUA");
        if (headerRule === "preflush-fua" && !afterFlush) return fail(i, "invalidation-durable", "the invalidated header is not preceded by a flush");
        invalidated = true;
      }
      continue;
    }
    if (kind === "metadata") {
      const area = areaOfChunk(cs, chunk);
      const olds = entriesOf(cs, e.data);
      if (olds.size === 0 && !e.fua && !(committed.get(area)?.size)) {
        count("zeroing");
        committed.set(area, olds);
        zeroedAreas.add(area);
        if (area === 0) {
          initPending = false;
          area0Durable = e.fua;
        }
        continue;
      }
      count(merging ? "merge-commit" : "commit");
      if (!e.fua) return fail(i, "commit-fua", `area ${area} written without FUA`);
      if (dirtyCow) return fail(i, "commit-after-copy-flush", `area ${area} committed while a COW data write since the last flush is not durable`);
      if (merging && dirtyOrigin) return fail(i, "merge-after-origin-flush", `merge commit of area ${area} while an origin copy since the last flush is not durable`);
      if (!headerDurable) return fail(i, "commit-after-header", `area ${area} committed before the header is durable`);
      if (!merging && olds.size === E && areaLocation(cs, area + 1) < cowChunks && !zeroedAreas.has(area + 1)) {
        return fail(i, "zero-next-area", `area ${area} filled before area ${area + 1} was zeroed: a crash would read whatever area ${area + 1} held`);
      }
      committed.set(area, olds);
      continue;
    }
    count("cow-data-write");
    dirtyCow = true;
  }
  if (initPending) return fail(events.length, "init-zero-area-0", "the log ends with the new snapshot's header written and area 0 not zeroed");
  return { ok: true, events: events.length, actions };
}

/** Mutations that a validator with teeth must reject. Each returns null when the log has no place for it. */
export const mutations: Record<string, (w: Workload, events: LogEvent[]) => LogEvent[] | null> = {
  /** The flush before the first commit moved after it. */
  "swap-flush-and-commit": (w, events) => {
    const i = events.findIndex((e, k) => e.kind === "flush" && isCommit(w, events[k + 1]));
    if (i < 0) return null;
    const out = events.slice();
    [out[i], out[i + 1]] = [out[i + 1]!, out[i]!];
    return out;
  },
  /** The first commit without FUA. */
  "drop-commit-fua": (w, events) => {
    const i = events.findIndex((e) => isCommit(w, e));
    if (i < 0) return null;
    const out = events.slice();
    out[i] = { ...(out[i] as Extract<LogEvent, { kind: "write" }>), fua: false };
    return out;
  },
  /** The first origin write moved before the commit of its chunk's exception. */
  "origin-before-commit": (w, events) => {
    const cs = tableOf(w).chunkSize;
    const o = events.findIndex((e) => e.kind === "write" && e.sector < w.originSectors);
    if (o < 0) return null;
    const chunk = Math.floor((events[o] as Extract<LogEvent, { kind: "write" }>).sector / cs);
    const c = events.findIndex((e, k) => k < o && isCommit(w, e) && entriesOf(cs, (e as Extract<LogEvent, { kind: "write" }>).data).has(chunk));
    if (c < 0) return null;
    const out = events.slice();
    const [ev] = out.splice(o, 1);
    out.splice(c, 0, ev!);
    return out;
  },
  /** The merge's first metadata commit moved before the flush that follows its copy onto the origin. */
  "merge-commit-before-origin-flush": (w, events) => {
    const m = events.findIndex((e) => e.kind === "mark" && e.text === "merge-start");
    if (m < 0) return null;
    const k = events.findIndex((e, i) => i > m && isCommit(w, e));
    if (k < 0) return null;
    let o = k - 1;
    while (o > m && !(events[o]!.kind === "write" && (events[o] as Extract<LogEvent, { kind: "write" }>).sector < w.originSectors)) o--;
    if (o <= m || o === k - 1) return null;
    const out = events.slice();
    const [ev] = out.splice(k, 1);
    out.splice(o + 1, 0, ev!);
    return out;
  },
  /** The zeroing of the next area (before the commit that fills an area) removed. */
  "drop-next-area-zeroing": (w, events) => {
    const i = events.findIndex((e) => isAreaZeroing(w, e) && !isAreaZeroing(w, e, 0));
    if (i < 0) return null;
    return events.filter((_, k) => k !== i);
  },
  /** The first activation's zeroing of area 0 removed. */
  "drop-area0-zeroing": (w, events) => {
    const i = events.findIndex((e) => e.kind === "write" && isAreaZeroing(w, e, 0));
    if (i < 0) return null;
    return events.filter((_, k) => k !== i);
  },
  /**
   * A wrong old_chunk: the first committed entry whose origin chunk the log
   * later writes gets an origin chunk no entry and no origin write names, in
   * every area write that holds it (new_chunk unchanged).
   */
  "wrong-old-chunk": (w, events) => {
    const cs = tableOf(w).chunkSize;
    const olds = new Set<number>();
    const written = new Set<number>();
    for (const e of events) {
      if (e.kind !== "write") continue;
      if (e.sector < w.originSectors) for (let c = chunkAtSector(cs, e.sector); c <= chunkAtSector(cs, e.sector + sectorsIn(e.data.length) - 1); c++) written.add(c);
      else if (isCommit(w, e)) for (const o of entriesOf(cs, e.data)) olds.add(o);
    }
    const spare = unusedOriginChunk(w, olds, written);
    if (spare < 0) return null;
    for (let i = 0; i < events.length; i++) {
      const e = events[i]!;
      if (!isCommit(w, e) || e.kind !== "write") continue;
      const data = e.data;
      const n = Math.min(exceptionsPerArea(cs), entriesIn(data.length));
      for (let k = 0; k < n; k++) {
        const en = readEntry(data, k);
        if (en.newLow === 0 && en.newHigh === 0) break;
        const old = joinU64(en.oldLow, en.oldHigh);
        const nw = joinU64(en.newLow, en.newHigh);
        if (!events.some((x, j) => j > i && x.kind === "write" && x.sector < w.originSectors && chunkAtSector(cs, x.sector) <= old && old <= chunkAtSector(cs, x.sector + sectorsIn(x.data.length) - 1))) continue;
        // this entry, in every area write of this chunk that holds it
        return events.map((x) => {
          if (x.kind !== "write" || x.sector !== e.sector || x.data.length !== data.length) return x;
          const y = readEntry(x.data, k);
          if (joinU64(y.newLow, y.newHigh) !== nw || joinU64(y.oldLow, y.oldHigh) !== old) return x;
          const d = new Uint8Array(x.data); // a copy (a Buffer's slice would share the log's bytes)
          writeEntry(d, k, spare, nw);
          return { ...x, data: d };
        });
      }
    }
    return null;
  },
  /**
   * An origin write (and its acknowledgement) to a chunk that never got an
   * exception, right after the first commit, while the snapshot is valid.
   */
  "origin-write-without-exception": (w, events) => {
    const cs = tableOf(w).chunkSize;
    const c = events.findIndex((e) => isCommit(w, e));
    if (c < 0) return null;
    const olds = new Set<number>();
    const written = new Set<number>();
    for (const e of events) {
      if (e.kind !== "write") continue;
      if (e.sector < w.originSectors) for (let x = chunkAtSector(cs, e.sector); x <= chunkAtSector(cs, e.sector + sectorsIn(e.data.length) - 1); x++) written.add(x);
      else if (isCommit(w, e)) for (const o of entriesOf(cs, e.data)) olds.add(o);
    }
    const spare = unusedOriginChunk(w, olds, written);
    if (spare < 0) return null;
    const sector = spare * cs;
    const out = events.slice();
    out.splice(c + 1, 0, { kind: "write", sector, data: pattern("WRX", sector, cs), preflush: false, fua: false }, { kind: "mark", text: `ack:o:${sector}:${cs}:WRX` });
    return out;
  },
};


/** The highest origin chunk no entry names and no origin write touches (-1: none). */
function unusedOriginChunk(w: Workload, olds: Set<number>, written: Set<number>): number {
  for (let c = chunkAtSector(tableOf(w).chunkSize, w.originSectors) - 1; c >= 0; c--) if (!olds.has(c) && !written.has(c)) return c;
  return -1;
}

/** A plain all-zero write to a metadata area's chunk (area `only`, if given). */
function isAreaZeroing(w: Workload, e: LogEvent, only?: number): boolean {
  if (e.kind !== "write" || e.fua || e.sector < w.originSectors) return false;
  const cs = tableOf(w).chunkSize;
  const rel = e.sector - w.originSectors;
  if (rel % cs !== 0 || chunkKind(cs, rel / cs) !== "metadata" || !e.data.every((b) => b === 0)) return false;
  return only === undefined || areaOfChunk(cs, rel / cs) === only;
}

/** Old chunks of an area's entries, up to the terminator. */
function entriesOf(cs: number, data: Uint8Array): Set<number> {
  const olds = new Set<number>();
  const n = Math.min(exceptionsPerArea(cs), entriesIn(data.length));
  for (let k = 0; k < n; k++) {
    const en = readEntry(data, k);
    if (en.newLow === 0 && en.newHigh === 0) break;
    olds.add(joinU64(en.oldLow, en.oldHigh));
  }
  return olds;
}

function isCommit(w: Workload, e: LogEvent | undefined): boolean {
  if (!e || e.kind !== "write" || !e.fua || e.sector < w.originSectors) return false;
  const cs = tableOf(w).chunkSize;
  const rel = e.sector - w.originSectors;
  return rel % cs === 0 && chunkKind(cs, rel / cs) === "metadata";
}

/**
 * Whether a crash state of the mutated log can show the mutation's damage, so
 * the crash enumeration judges it too (else TLC and the order rules alone):
 *  - area 0's zeroing removed: only over a reused COW ("cow": "reused");
 *    a blank one reads as zeros with or without it;
 *  - the merge commit before the origin flush: merge-1s merges its two
 *    snapshot-written chunks first, and a crash that loses their copy back
 *    leaves the origin as snapshotted, a state the promise allows;
 *  - the first commit without FUA: only where an origin write to one of its
 *    chunks comes before the next commit (which makes the entry durable);
 *    otherwise losing it loses a snapshot write, which need not be durable.
 */
export function crashShows(kind: string, w: Workload, events: LogEvent[]): boolean {
  if (kind === "drop-area0-zeroing") return w.cow === "reused";
  if (kind === "merge-commit-before-origin-flush") return false;
  if (kind !== "drop-commit-fua") return true;
  const cs = tableOf(w).chunkSize;
  const c = events.findIndex((e) => isCommit(w, e));
  if (c < 0) return false;
  const olds = entriesOf(cs, (events[c] as Extract<LogEvent, { kind: "write" }>).data);
  for (let i = c + 1; i < events.length && !isCommit(w, events[i]); i++) {
    const e = events[i]!;
    if (e.kind === "write" && e.sector < w.originSectors && olds.has(chunkAtSector(cs, e.sector))) return true;
  }
  return false;
}
