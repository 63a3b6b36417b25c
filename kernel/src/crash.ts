/**
 * Crash states of a write log, CrashMonkey's way: at every flush or FUA
 * boundary, the writes made durable so far plus any subset of the plain
 * writes logged since the last flush (all subsets up to `maxExhaustive`
 * writes; beyond that every single drop, all, none and a seeded sample).
 * Each state is judged against the snapshot promise with our codec's
 * activation (@dmsnap/format) and the snapshot view.
 */
import { createHash } from "node:crypto";
import { areaLocation, areaOffset, bytesReader, chunkAtSector, chunkBytes, chunksInDevice, sectorsIn, chunkKind, decodeCow, sectorBytes, snapshotView, statusOf, writeEntry, type CowImage } from "@dmsnap/format";
import type { LogEvent } from "./log.js";
import { initialRegion, snapshotVersions, tableOf, type Workload } from "./workload.js";

export type Verdict =
  | "ok"
  /** Our activation refuses the COW. */
  | "header-unreadable"
  /** The COW reads as blank although the origin changed: the snapshot is gone silently. */
  | "snapshot-lost"
  /** Valid, but an origin write that returned has no exception. */
  | "acknowledged-exception-missing"
  /** Valid, but the view differs from the origin as snapshotted. */
  | "view-wrong";

export interface CrashState {
  workload: string;
  /** Index of the boundary event (events.length for the end of the log). */
  boundary: number;
  /** Log indices of the plain writes after the last flush that this state drops. */
  dropped: number[];
  /** Log indices of the plain writes after the last flush that this state keeps. */
  kept: number[];
  verdict: Verdict;
  detail: string;
  /** Violation explained by a documented finding (see docs/kernel-findings.md), or null. */
  finding: string | null;
  activation: "accepted" | "invalid" | "refused";
  status: string | null;
  viewSha256: string | null;
  /** sha256 of origin + COW: identical states are judged once. */
  key: string;
  origin?: Uint8Array;
  cow?: Uint8Array;
}

export interface EnumerateOptions {
  maxExhaustive?: number;
  samples?: number;
  seed?: number;
  /**
   * Start from a COW whose metadata areas after area 0 hold a stale entry (a
   * reused disk: lvm2 wipes only the start of a new COW), so a commit that
   * fills an area without the next area's zeroing shows (default true).
   */
  staleAreas?: boolean;
  /** Stop at the first violation no documented finding explains (a mutated log: one is enough). */
  stopAtUnexplained?: boolean;
  /**
   * Keep the origin/COW bytes of every violating state and of a seeded sample
   * of this many others (reservoir sampling: memory bounded by the sample,
   * not by the number of states), for the kernel's activation.
   */
  keepSample?: number;
}

export interface EnumerateResult {
  states: CrashState[];
  /** Distinct (origin, COW) states judged. */
  unique: number;
  violations: CrashState[];
  /** The sample of states that keep the promise (with bytes when `keepSample` was given). */
  sample: CrashState[];
}

function mulberry(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Subsets (as keep-masks over `n` writes) a boundary is crashed with. */
export function subsets(n: number, maxExhaustive: number, samples: number, rnd: () => number): boolean[][] {
  const out: boolean[][] = [];
  if (n <= maxExhaustive) {
    for (let m = 0; m < 1 << n; m++) out.push(Array.from({ length: n }, (_, i) => ((m >> i) & 1) === 1));
    return out;
  }
  out.push(new Array(n).fill(false), new Array(n).fill(true));
  for (let i = 0; i < n; i++) out.push(Array.from({ length: n }, (_, k) => k !== i));
  for (let s = 0; s < samples; s++) out.push(Array.from({ length: n }, () => rnd() < 0.5));
  return out;
}

const isHeaderInvalidation = (w: Workload, e: LogEvent): boolean =>
  e.kind === "write" && e.sector === w.originSectors && e.data.length >= 16 && e.data[0] === 0x53 && e.data[1] === 0x6e && e.data[4] === 0 && e.data[5] === 0 && e.data[6] === 0 && e.data[7] === 0;

/**
 * Origin writes that returned ("ack:o:SECTOR:COUNT:TAG" marks) before `end`
 * while the snapshot was valid (not the write after which the status turned
 * Invalid: that one found no room and invalidated instead). None once a merge started: merging removes
 * exceptions, and the view check alone states the promise then.
 */
function acknowledgedOrigin(events: LogEvent[], end: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (let i = 0; i < end; i++) {
    const e = events[i]!;
    if (e.kind !== "mark") continue;
    if (e.text === "merge-start") return [];
    if (e.text === "status:Invalid") {
      // the write just before found no room: it is the one that invalidated
      out.pop();
      break;
    }
    if (e.text.startsWith("fail:")) break;
    const m = /^ack:o:(\d+):(\d+):/.exec(e.text);
    if (m) out.push([Number(m[1]), Number(m[2])]);
  }
  return out;
}

export function judge(w: Workload, origin: Uint8Array, cow: Uint8Array, ack: Array<[number, number]>, ref: Uint8Array, versions: Map<number, Uint8Array[]>): { verdict: Verdict; detail: string; image: CowImage | null; view: Uint8Array | null } {
  const { chunkSize } = tableOf(w);
  let image: CowImage;
  try {
    image = decodeCow(bytesReader(cow), { tableChunkSize: chunkSize });
  } catch (e) {
    return { verdict: "header-unreadable", detail: (e as Error).message, image: null, view: null };
  }
  if (image.state === "invalid") return { verdict: "ok", detail: "invalid", image, view: null };
  const { view, mapped } = snapshotView(image, origin, cow);
  if (image.state === "valid") {
    for (const [s, count] of ack) {
      for (let c = chunkAtSector(image.chunkSize, s); c <= chunkAtSector(image.chunkSize, s + count - 1); c++) {
        if (!mapped.has(c)) return { verdict: "acknowledged-exception-missing", detail: `origin chunk ${c} was written and the write returned, but the valid COW has no exception for it`, image, view };
      }
    }
  }
  const buf = Buffer.from(view.buffer, view.byteOffset, view.length);
  for (let s = 0; sectorBytes(s) < view.length; s++) {
    const got = buf.subarray(sectorBytes(s), sectorBytes(s + 1));
    if (got.equals(ref.subarray(sectorBytes(s), sectorBytes(s + 1)))) continue;
    if ((versions.get(s) ?? []).some((v) => got.equals(v))) continue;
    const what = new TextDecoder().decode(got.subarray(0, 15)).replace(/\0/g, ".").trim();
    if (image.state === "new") return { verdict: "snapshot-lost", detail: `the COW reads as blank but origin sector ${s} already holds "${what}"`, image, view };
    return { verdict: "view-wrong", detail: `the valid snapshot shows "${what}" at sector ${s}, not the origin as snapshotted`, image, view };
  }
  return { verdict: "ok", detail: image.state, image, view };
}

function apply(region: Uint8Array, e: LogEvent): void {
  if (e.kind === "write") region.set(e.data, sectorBytes(e.sector));
  else if (e.kind === "discard") region.fill(0, sectorBytes(e.sector), sectorBytes(e.sector + e.sectors));
}

export function enumerateCrashes(w: Workload, events: LogEvent[], options: EnumerateOptions = {}): EnumerateResult {
  const maxEx = options.maxExhaustive ?? 10;
  const rnd = mulberry(options.seed ?? 1);
  const ob = sectorBytes(w.originSectors);
  const ref = initialRegion(w).subarray(0, ob);
  const versions = snapshotVersions(w);
  const durable = options.staleAreas === false ? initialRegion(w) : staleRegion(w);
  // area 0 as a reused COW holds it before the first activation (null: blank)
  const cs = tableOf(w).chunkSize;
  const a0 = durable.subarray(ob + areaOffset(cs, 0), ob + areaOffset(cs, 0) + chunkBytes(cs));
  const initialArea0 = a0.every((b) => b === 0) ? null : a0.slice();
  const pending: number[] = [];
  const states: CrashState[] = [];
  const seen = new Map<string, CrashState>();
  const sample: CrashState[] = [];
  const rndSample = mulberry((options.seed ?? 1) + 7);
  let okSeen = 0;
  const keepBytes = (st: CrashState, origin: Uint8Array, cow: Uint8Array) => {
    st.origin = origin.slice();
    st.cow = cow.slice();
  };

  let stopped = false;
  const crashAt = (boundary: number): void => {
    if (stopped) return;
    const ack = acknowledgedOrigin(events, boundary);
    const kept = subsets(pending.length, maxEx, options.samples ?? 48, rnd);
    for (const mask of kept) {
      const region = durable.slice();
      for (let i = 0; i < pending.length; i++) if (mask[i]) apply(region, events[pending[i]!]!);
      const key = createHash("sha256").update(region).digest("hex");
      const keptIdx = pending.filter((_, i) => mask[i]);
      const dropped = pending.filter((_, i) => !mask[i]);
      const prior = seen.get(key);
      if (prior) {
        states.push({ ...prior, boundary, kept: keptIdx, dropped, origin: undefined, cow: undefined });
        continue;
      }
      const origin = region.subarray(0, ob);
      const cow = region.subarray(ob);
      const j = judge(w, origin, cow, ack, ref, versions);
      const droppedInvalidation = dropped.some((i) => isHeaderInvalidation(w, events[i]!));
      const st: CrashState = {
        workload: w.id,
        boundary,
        kept: keptIdx,
        dropped,
        verdict: j.verdict,
        detail: j.detail,
        finding: j.verdict === "ok" || j.image?.state !== "valid" ? null : droppedInvalidation ? "invalidation-not-durable" : staleArea0(w, cow, initialArea0) && dropped.some((i) => isArea0Zeroing(w, events[i]!)) ? "first-activation-stale-area-0" : null,
        activation: j.image === null ? "refused" : j.image.state === "invalid" ? "invalid" : "accepted",
        status: j.image === null ? null : statusOf(j.image),
        viewSha256: j.view === null ? null : createHash("sha256").update(j.view).digest("hex"),
        key,
      };
      if (options.keepSample !== undefined) {
        if (st.verdict !== "ok") keepBytes(st, origin, cow);
        else {
          okSeen++;
          const slot = okSeen <= options.keepSample ? okSeen - 1 : Math.floor(rndSample() * okSeen);
          if (slot < options.keepSample) {
            keepBytes(st, origin, cow);
            const evicted = sample[slot];
            if (evicted) {
              evicted.origin = undefined;
              evicted.cow = undefined;
            }
            sample[slot] = st;
          }
        }
      }
      seen.set(key, st);
      states.push(st);
      if (options.stopAtUnexplained && st.verdict !== "ok" && st.finding === null) {
        stopped = true;
        return;
      }
    }
  };

  events.forEach((e, i) => {
    if (e.kind === "mark" || stopped) return;
    const flushFirst = e.kind === "flush" || (e.kind === "write" && e.preflush);
    if (flushFirst) {
      crashAt(i);
      for (const p of pending) apply(durable, events[p]!);
      pending.length = 0;
    }
    if (e.kind === "write" && e.fua) {
      if (!flushFirst) crashAt(i);
      apply(durable, e);
    } else if (e.kind === "write" || e.kind === "discard") pending.push(i);
  });
  crashAt(events.length);
  const violations = [...seen.values()].filter((s) => s.verdict !== "ok");
  return { states, unique: seen.size, violations, sample };
}

/**
 * A valid state whose area 0 still holds what a reused COW held before the
 * first activation (entries the kernel never wrote), the state having lost
 * the log's zeroing of area 0 (isArea0Zeroing), which the stock kernel
 * leaves in the same unflushed group (docs/kernel-findings.md,
 * first-activation-stale-area-0; kernel/patches/0002 zeroes area 0 first).
 */
function isArea0Zeroing(w: Workload, e: LogEvent): boolean {
  const cs = tableOf(w).chunkSize;
  return e.kind === "write" && e.sector === w.originSectors + sectorsIn(areaOffset(cs, 0)) && e.data.every((b) => b === 0);
}

function staleArea0(w: Workload, cow: Uint8Array, initial: Uint8Array | null): boolean {
  if (initial === null) return false;
  const at = areaOffset(tableOf(w).chunkSize, 0);
  return Buffer.from(cow.subarray(at, at + initial.length)).equals(initial);
}

/**
 * The recording's initial slice, with a stale entry in every metadata area
 * after area 0 that lies inside the COW: the last origin chunk mapped to the
 * last data chunk of the COW (what an earlier use of the disk could leave).
 * The kernel writes a new COW's header and zeroes area 0 and reads nothing
 * else, so it writes the same log over this slice; only an area it fills
 * without zeroing the next lets a reader reach a stale one.
 */
export function staleRegion(w: Workload): Uint8Array {
  const r = initialRegion(w);
  const cs = tableOf(w).chunkSize;
  const chunks = chunksInDevice(cs, sectorBytes(w.cowSectors));
  let lastData = chunks - 1;
  while (lastData > 0 && chunkKind(cs, lastData) !== "data") lastData--;
  const lastOrigin = chunkAtSector(cs, w.originSectors - 1);
  const cow = r.subarray(sectorBytes(w.originSectors));
  for (let a = 1; areaLocation(cs, a) < chunks; a++) {
    writeEntry(cow.subarray(areaOffset(cs, a)), 0, lastOrigin, lastData);
  }
  return r;
}

/** The data slice after every event of the log (to check a log against the slice the kernel left). */
export function replay(w: Workload, events: LogEvent[]): Uint8Array {
  const r = initialRegion(w);
  for (const e of events) apply(r, e);
  return r;
}
