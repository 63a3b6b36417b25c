/**
 * Trace validation of a write log against the store's write-order rules (the
 * fixed design of spec/DmSnapStore.tla, with the header-write durability as a
 * parameter). Each event maps to one model action:
 *   COW header write (valid)   -> activation's header write
 *   COW header write (valid=0) -> invalidation (durability: `headerRule`)
 *   COW area write, all zero before any commit to it -> zeroing
 *   COW area write (FUA)       -> commit (or merge commit when merging)
 *   other COW write            -> copy / snapshot data write
 *   origin write               -> origin write (needs a committed exception)
 *   flush                      -> flush
 * The log is accepted when every action's precondition holds in log order.
 */
import { areaOfChunk, chunkAtSector, chunkKind, entriesIn, exceptionsPerArea, joinU64, readEntry, sectorsIn } from "@dmsnap/format";
import type { LogEvent } from "./log.js";
import { tableOf, type Workload } from "./workload.js";

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
        continue;
      }
      count(merging ? "merge-commit" : "commit");
      if (!e.fua) return fail(i, "commit-fua", `area ${area} written without FUA`);
      if (dirtyCow) return fail(i, "commit-after-copy-flush", `area ${area} committed while a COW data write since the last flush is not durable`);
      if (merging && dirtyOrigin) return fail(i, "merge-after-origin-flush", `merge commit of area ${area} while an origin copy since the last flush is not durable`);
      if (!headerDurable) return fail(i, "commit-after-header", `area ${area} committed before the header is durable`);
      committed.set(area, olds);
      continue;
    }
    count("cow-data-write");
    dirtyCow = true;
  }
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
};

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
