/**
 * Trace validation, the model -> engine direction: a counterexample TLC found
 * for a configuration of spec/DmSnapStore.tla (as `pnpm spec --trace-json`
 * writes it) is driven step by step into the real store over a simulated
 * device whose every write the replay completes by hand, then the violated
 * property is checked on the engine's own bytes, read back by the format's
 * activation.
 *  - With the engine switched to the configuration's design (the test-only
 *    unsafe switches), the run must follow the model state for state and the
 *    property must fail in the engine too.
 *  - With the engine as shipped, the same schedule (plus the engine's own
 *    writes the counterexample skipped, completed when the engine waits for
 *    them) must keep the property.
 *  - A witness configuration (a property meant to be violated by the fixed
 *    design) must reach its state in the engine as shipped.
 *
 * The model's areas hold E = 2 or 3 entries, the engine's at least 32: every
 * area is padded with 32 - E entries committed "earlier" (area 0 on disk at
 * the start, later areas in memory as the store moves to them), so that an
 * area fills exactly when the model's does. The padding is invisible to the
 * comparison: the model's slot i is the engine's entry 32 - E + i.
 */
import { areaLocation, areaOffset, chunkAtByte, chunkBytes, chunkOffset, dataChunkForE, decodeHeader, entryOffset, exceptionsPerArea, isAreaChunk, isAreaChunkForE, isMetadataChunk, areaOfChunkForE, areaOfEntryForE, indexInAreaForE, SNAP_MAGIC, type CowImage } from "@dmsnap/format";
import { ManualScheduler, SimDevice, type PendingOp, type WriteRecord } from "./crash.js";
import { Rng } from "./rng.js";
import { Snapshot } from "./snapshot.js";
import { PersistentStore, type StoreOptions } from "./store.js";
import { activate, drain } from "./settle.js";
import { staleCowImage } from "./traceModel.js";

// ---------------------------------------------------------------------------
// TLC's printed values

/** A value as TLC prints it: numbers, strings, booleans, model values as "#NAME", sequences and sets as arrays, records and functions as objects. */
export type TlaValue = number | string | boolean | TlaValue[] | { [k: string]: TlaValue };

export function parseTla(text: string): TlaValue {
  let i = 0;
  const ws = () => {
    while (i < text.length && /\s/.test(text[i]!)) i++;
  };
  const at = (s: string) => {
    ws();
    return text.startsWith(s, i);
  };
  const eat = (s: string) => {
    if (!at(s)) throw new Error(`TLA value: expected '${s}' at ${i}: ${text.slice(i, i + 40)}`);
    i += s.length;
  };
  const list = (close: string): TlaValue[] => {
    const out: TlaValue[] = [];
    if (at(close)) return eat(close), out;
    for (;;) {
      out.push(value());
      if (at(",")) eat(",");
      else break;
    }
    eat(close);
    return out;
  };
  const value = (): TlaValue => {
    ws();
    if (at("<<")) return eat("<<"), list(">>");
    if (at("{")) return eat("{"), list("}");
    if (at("[")) {
      eat("[");
      const o: { [k: string]: TlaValue } = {};
      if (at("]")) return eat("]"), o;
      for (;;) {
        ws();
        const m = /^[A-Za-z_]\w*/.exec(text.slice(i));
        if (!m) throw new Error(`TLA value: field name expected at ${i}`);
        i += m[0].length;
        eat("|->");
        o[m[0]] = value();
        if (at(",")) eat(",");
        else break;
      }
      eat("]");
      return o;
    }
    if (at("(")) {
      eat("(");
      const o: { [k: string]: TlaValue } = {};
      for (;;) {
        const k = value();
        eat(":>");
        o[String(k)] = value();
        if (at("@@")) eat("@@");
        else break;
      }
      eat(")");
      return o;
    }
    if (at('"')) {
      const m = /^"((?:[^"\\]|\\.)*)"/.exec(text.slice(i));
      if (!m) throw new Error(`TLA value: bad string at ${i}`);
      i += m[0].length;
      return JSON.parse(m[0]) as string;
    }
    const n = /^-?\d+/.exec(text.slice(i));
    if (n) return (i += n[0].length), Number(n[0]);
    const id = /^[A-Za-z_]\w*/.exec(text.slice(i));
    if (!id) throw new Error(`TLA value: unexpected '${text.slice(i, i + 20)}'`);
    i += id[0].length;
    return id[0] === "TRUE" ? true : id[0] === "FALSE" ? false : `#${id[0]}`;
  };
  const v = value();
  ws();
  if (i !== text.length) throw new Error(`TLA value: trailing text '${text.slice(i, i + 20)}'`);
  return v;
}

// ---------------------------------------------------------------------------

export interface Counterexample {
  configuration: string;
  /** The property TLC reported violated. */
  violated: string;
  /** The configuration's CONSTANTS as written in its .cfg (`TRUE`, `2`, `STALE`, ...). */
  constants: Record<string, string>;
  /** The states, as `--trace-json` writes them (`state`: variable -> printed value). */
  trace: Array<{ action: string; kind?: string; state: Record<string, string> }>;
}

export interface ReplayRun {
  /** Switches as the configuration's design (true) or the engine as shipped (false). */
  design: boolean;
  /** The property, checked on the engine, failed at some step. */
  violated: boolean;
  /** Step (1-based state number of the counterexample) where it first failed. */
  at: number | null;
  /** Differences between the engine and the model's states (design runs only). */
  mismatches: string[];
  /** Steps the replay added for the engine (its own writes the counterexample did not have). */
  added: string[];
}

export interface ReplayResult {
  configuration: string;
  property: string;
  witness: boolean;
  runs: ReplayRun[];
  /** Reproduced: violated with the design's switches (or, for a witness, as shipped), kept as shipped. */
  ok: boolean;
  /** Why the engine cannot replay this counterexample (yet): no engine counterpart for a constant, action or property. */
  unsupported: string[];
  problems: string[];
}

type Design = { options: StoreOptions; inOrder: boolean; commitOnCopyFailure: boolean; mergeFlushOrigin: boolean };

/**
 * The model's design constants: the engine's test-only switch for the value
 * other than the fixed kernel's (or the replay's own choice, for what the
 * snapshot target decides above the store).
 */
const DESIGN: Record<string, { fixed: string; apply: (d: Design, value: string) => boolean }> = {
  HeaderInAreaBuffer: { fixed: "FALSE", apply: (d) => ((d.options.unsafeSharedHeaderBuffer = true), true) },
  ZeroNextArea: { fixed: "TRUE", apply: (d) => ((d.options.unsafeNoZeroing = true), true) },
  ZeroOrder: {
    fixed: '"before-area"',
    apply: (d, v) => {
      if (v === '"none"') d.options.unsafeNoZeroing = true;
      else if (v === '"after-area"') d.options.unsafeZeroOrder = "after-area";
      else if (v === '"after-callbacks"') d.options.unsafeZeroOrder = "after-callbacks";
      else return false;
      return true;
    },
  },
  FlushBeforeArea: { fixed: "TRUE", apply: (d) => ((d.options.unsafeNoFlush = true), true) },
  CallbackAfterWrite: { fixed: "TRUE", apply: (d) => ((d.options.unsafeEarlyCallbacks = true), true) },
  HeaderFUA: { fixed: "TRUE", apply: (d) => ((d.options.unsafePlainHeader = true), true) },
  InitZeroFirst: { fixed: "TRUE", apply: (d) => ((d.options.unsafeInitHeaderFirst = true), true) },
  SkipMetadataAfterReload: { fixed: "TRUE", apply: (d) => ((d.options.unsafeNoSkipAfterReload = true), true) },
  ReloadPartialArea: { fixed: "TRUE", apply: (d) => ((d.options.unsafeZeroAreaOnReload = true), true) },
  // The snapshot target's rules, above the store: the replay commits as the design says.
  InOrderCommit: { fixed: "TRUE", apply: (d) => ((d.inOrder = false), true) },
  CommitOnCopyFailure: { fixed: "TRUE", apply: (d) => ((d.commitOnCopyFailure = false), true) },
  OriginWaitsHeader: { fixed: "TRUE", apply: (d) => ((d.options.unsafeOriginSkipsHeaderWait = true), true) },
  // The merge driver's (merge.ts) order: flush the origin before commitMerge; the design leaves it out
  // (merge.ts's own test-only switch is unsafeOrdering: "no-origin-flush").
  MergeFlushOrigin: { fixed: "TRUE", apply: (d) => ((d.mergeFlushOrigin = false), true) },
};

/** The environment: what the replay can drive (the rest is unsupported when a trace uses it). */
const ENVIRONMENT = new Set(["E", "NAreas", "N", "MaxInFlight", "MaxCrashes", "FirstActivation", "CopyFailures", "IOErrors", "OriginWrites", "Merge", "STALE", "HDR_INVALID", "HDR_VALID"]);

/** Properties meant to be violated by the fixed design (non-vacuity witnesses). */
const WITNESSES = new Set(["NeverRecoversEverything", "NeverHeaderDuringAreaWrite", "NeverRecoversAfterReload", "NeverOriginAfterInvalidation", "NeverMerged", "NeverZeroPastEnd"]);

const ENGINE_E = exceptionsPerArea(1); // chunk size 1: 32 entries per area
const BACKGROUND_OLD = 2097152; // origin chunks of the padding entries (no model exception uses them)
const ORIGIN_OF = (e: number) => 1000 + e;

/** Origin chunk e's data before the snapshot: what the copy of exception e writes into its data chunk. */
function copyData(e: number): Uint8Array {
  const b = new Uint8Array(chunkBytes(1)).fill((e * 37 + 11) & 0xff);
  new DataView(b.buffer).setUint32(0, 0xda7a0000 + e, true);
  return b;
}

/** What an origin write puts in origin chunk e. */
function newOriginData(e: number): Uint8Array {
  return new Uint8Array(chunkBytes(1)).fill((e * 53 + 5) & 0xff);
}

const SUPPORTED_ACTIONS = new Set([
  "Prepare", "CopyDone", "CopyFail", "CommitStart", "TakeCommitWrite", "CompleteCommitWrite", "FailCommitWrite", "IssueArea", "Finish",
  "Invalidate", "TakeHeaderWrite", "CompleteHeaderWrite", "FailHeaderWrite", "Destage", "Crash", "Reload", "InitWriteHeader", "InitZeroArea0", "Halted", "Stuttering",
  "OriginWrite", "OriginDestage", "MergeCopy", "MergeCommit",
]);

export async function replayCounterexample(cx: Counterexample): Promise<ReplayResult> {
  const witness = WITNESSES.has(cx.violated);
  const unsupported: string[] = [];
  const design: Design = { options: {}, inOrder: true, commitOnCopyFailure: true, mergeFlushOrigin: true };
  let differs = false;
  for (const [k, v] of Object.entries(cx.constants)) {
    const d = DESIGN[k];
    if (d) {
      if (v === d.fixed) continue;
      differs = true;
      if (!d.apply(design, v)) unsupported.push(`no engine switch for ${k} = ${v}`);
    } else if (!ENVIRONMENT.has(k)) unsupported.push(`no engine counterpart for the model's constant ${k}`);
  }
  const actions = new Set(cx.trace.map((s) => s.action.split(/[\s(]/)[0]!).filter((a) => a !== "" && !/^Initial/.test(a)));
  for (const a of actions) if (!SUPPORTED_ACTIONS.has(a)) unsupported.push(`no engine step for the model's action ${a}`);
  if (!(cx.violated in CHECKS)) unsupported.push(`no engine check for the property ${cx.violated}`);
  const runs: ReplayRun[] = [];
  const problems: string[] = [];
  if (unsupported.length === 0) {
    runs.push(await runOnce(cx, design, true));
    if (differs) runs.push(await runOnce(cx, { options: {}, inOrder: true, commitOnCopyFailure: true, mergeFlushOrigin: true }, false));
    const [d, shipped] = runs;
    if (d && !d.violated) problems.push(`the engine ${witness ? "as shipped never reached" : "with the design's switches kept"} ${cx.violated}`);
    if (d && d.mismatches.length > 0) problems.push(`the engine left the model's behaviour: ${d.mismatches.slice(0, 3).join("; ")}`);
    if (shipped && shipped.violated) problems.push(`the engine as shipped violated ${cx.violated} at state ${shipped.at}`);
    if (!witness && !shipped) problems.push("the configuration's design is the fixed one, but its property is not a witness");
  }
  return { configuration: cx.configuration, property: cx.violated, witness, runs, ok: unsupported.length === 0 && problems.length === 0, unsupported, problems };
}

interface Ctx {
  cx: Counterexample;
  E: number;
  pad: number;
  store: PersistentStore | null;
  /** The snapshot target around the store (its invalidation and origin-write rules). */
  snap: Snapshot | null;
  cow: SimDevice;
  sched: ManualScheduler;
  chunkOf: number[];
  committed: Set<number>;
  acked: Map<number, boolean>;
  headerAndAreaInFlight: boolean;
  headerDone: boolean;
  blankAgain: boolean;
  quiescentIO: boolean;
  crashes: number;
  crash: { image: Uint8Array; act: CowImage | Error } | null;
  /** The origin device (origin chunk ORIGIN_OF(e) is the model's origin chunk e) and its image at the crash. */
  origin: SimDevice;
  originCrash: Uint8Array | null;
  merged: number;
}

const pairOf = (c: Ctx, e: number) => `${ORIGIN_OF(e)},${c.chunkOf[e]}`;
/** Activation's verdict in the model's words: a read past the device end (every area full) is "error". */
const statusOf = (act: CowImage | Error) => (act instanceof Error ? ((act as { code?: string }).code === "TRUNCATED" ? "error" : "corrupt") : act.state === "new" ? "blank" : act.state);
const crashStatus = (c: Ctx) => (!c.crash ? "none" : statusOf(c.crash.act));

/** Each property as the engine shows it, on its own bytes (true: holds). */
const CHECKS: Record<string, (c: Ctx) => boolean> = {
  HeaderWellFormed: (c) => headerOk(c.cow.current) && headerOk(durableImage(c)),
  HeaderNeverBlankAgain: (c) => !c.blankAgain,
  NoBlankAfterAck: (c) => c.crash === null || crashStatus(c) !== "blank" || ![...c.acked.values()].some((ok) => ok),
  InvalidationSticks: (c) => c.crash === null || !c.headerDone || !["valid", "blank"].includes(crashStatus(c)),
  AckedSurvive: (c) => !recovered(c) || [...c.acked].every(([e, ok]) => !ok || loadedPairs(c).has(pairOf(c, e))),
  NoStaleEntries: (c) => !recovered(c) || [...loadedPairs(c)].every((k) => isBackground(k) || [...c.committed].some((e) => k === pairOf(c, e))),
  LoadedDataDurable: (c) => {
    if (!recovered(c)) return true;
    const pairs = loadedPairs(c);
    for (let e = 1; e < c.chunkOf.length; e++) {
      if (!pairs.has(pairOf(c, e))) continue;
      const want = copyData(e);
      const at = chunkOffset(1, c.chunkOf[e]!);
      for (let i = 0; i < want.length; i++) if (c.crash!.image[at + i] !== want[i]) return false;
    }
    return true;
  },
  NoAllocationOnMetadata: (c) => c.chunkOf.every((ch, e) => e === 0 || !isMetadataChunk(1, ch)),
  NoLeakedChunks: (c) => {
    if (!recovered(c)) return true;
    const used = new Set([...loadedPairs(c)].map((k) => Number(k.split(",")[1])));
    const top = Math.max(-1, ...used);
    for (let ch = 2; ch < top; ch++) if (!isMetadataChunk(1, ch) && !used.has(ch)) return false;
    return true;
  },
  NoMetadataIOWhenQuiescent: (c) => !c.quiescentIO,
  CallbacksEventuallyRun: (c) => c.crash !== null || [...c.committed].every((e) => c.acked.has(e)),
  NeverRecoversEverything: (c) => {
    if (!recovered(c)) return true;
    const pairs = loadedPairs(c);
    const n = Number(c.cx.constants.N);
    for (let e = 1; e <= n; e++) if (!pairs.has(pairOf(c, e))) return true;
    return false;
  },
  NeverRecoversAfterReload: (c) => c.crashes < 2 || CHECKS.NeverRecoversEverything!(c),
  NeverHeaderDuringAreaWrite: (c) => !c.headerAndAreaInFlight,
  SnapshotViewIntact: (c) => {
    if (!recovered(c)) return true;
    const pairs = loadedPairs(c);
    for (let e = 1; e <= Number(c.cx.constants.N); e++) {
      if (c.chunkOf[e] !== undefined && pairs.has(pairOf(c, e))) continue;
      if (!sameBytes(originChunk(c.originCrash!, e), copyData(e))) return false;
    }
    return true;
  },
  NeverOriginAfterInvalidation: (c) => {
    if (c.crash === null || !c.headerDone) return true;
    for (let e = 1; e <= Number(c.cx.constants.N); e++) if (c.acked.get(e) !== true && sameBytes(originChunk(c.originCrash!, e), newOriginData(e))) return false;
    return true;
  },
  NeverMerged: (c) => !(recovered(c) && c.merged > 0),
  // The store tried to zero an area past the device end (the device refused the write of an area chunk).
  NeverZeroPastEnd: (c) =>
    !(c.store?.errors.some((e) => {
      const m = /^write of \d+ bytes at offset (\d+) lies outside/.exec(e.message);
      const ch = m ? Number(m[1]) / chunkBytes(1) : -1;
      return isAreaChunk(1, ch);
    }) ?? false),
};

/** Properties the model checks at the end of a behaviour that stutters (liveness): checked once the engine has done all it can. */
const AT_END = new Set(["CallbacksEventuallyRun"]);

function originChunk(img: Uint8Array, e: number): Uint8Array {
  return img.subarray(chunkOffset(1, ORIGIN_OF(e)), chunkOffset(1, ORIGIN_OF(e) + 1));
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function isBackground(pair: string): boolean {
  return Number(pair.split(",")[0]) >= BACKGROUND_OLD;
}

function recovered(c: Ctx): boolean {
  return c.crash !== null && !(c.crash.act instanceof Error) && c.crash.act.state === "valid";
}

function loadedPairs(c: Ctx): Set<string> {
  if (!c.crash || c.crash.act instanceof Error) return new Set();
  return new Set(c.crash.act.exceptions.toPairs().map(([o, n]) => `${o},${n}`));
}

function headerOk(img: Uint8Array): boolean {
  const h = decodeHeader(img);
  if (h.magic === 0 && h.valid === 0 && h.version === 0 && h.chunkSize === 0) return true;
  return h.magic === SNAP_MAGIC && (h.valid === 0 || h.valid === 1) && h.version === 1 && h.chunkSize === 1;
}

function isBlank(img: Uint8Array): boolean {
  return decodeHeader(img).magic === 0;
}

function durableImage(c: Ctx): Uint8Array {
  return c.cow.crashImage(c.cow.now, () => "none", new Rng(1));
}

async function runOnce(cx: Counterexample, d: Design, design: boolean): Promise<ReplayRun> {
  const E = Number(cx.constants.E);
  const nAreas = Number(cx.constants.NAreas);
  const first = cx.constants.FirstActivation === "TRUE";
  // Padding only when the counterexample fills an area: the 2009 race needs the model's
  // slot 1 to be the engine's entry 0 (the bytes the header lies in).
  const fills = cx.trace.some((st) => /^\d+$/.test(st.state.curArea ?? "") && (Number(st.state.curArea) > 0 || Number(st.state.curIdx) === E));
  const pad = fills ? ENGINE_E - E : 0;
  const mismatches: string[] = [];
  const added: string[] = [];
  // The model's initial disk: a valid header (or, for a first activation, a wiped one),
  // area 0 zeroed, the other areas an earlier snapshot's (one stale entry, then zeros),
  // the data stale; the device ends after the model's last area's data chunks.
  const sched = new ManualScheduler();
  const chunks = areaLocation(1, nAreas);
  const image = staleCowImage(chunks * chunkBytes(1), 1, new Rng(0x5eed));
  for (let a = 1; a < nAreas; a++) image.fill(0, areaOffset(1, a) + entryOffset(1), areaOffset(1, a) + chunkBytes(1));
  if (first) {
    // A new COW as lvm2 leaves it: chunk 0 wiped, area 0 an earlier snapshot's.
    image.fill(0, 0, chunkBytes(1));
    new DataView(image.buffer).setUint32(areaOffset(1, 0), 1048576 + 7, true);
    new DataView(image.buffer).setUint32(areaOffset(1, 0) + 8, 2, true);
  }
  const c: Ctx = {
    cx, E, pad, store: null, snap: null, cow: new SimDevice(image, sched, { flushAtSubmit: true }), sched, chunkOf: [0], committed: new Set(), acked: new Map(),
    headerAndAreaInFlight: false, headerDone: false, blankAgain: false, quiescentIO: false, crashes: 0, crash: null,
    origin: new SimDevice(originImage(Number(cx.constants.N)), sched, { flushAtSubmit: true }), originCrash: null, merged: 0,
  };
  let opening: Promise<Snapshot> | null = null;
  let paddedArea = -1;
  let toSettle: PendingOp | null = null;
  let violatedAt: number | null = null;
  let destaged = new Set<WriteRecord>();
  const originDestaged = new Set<WriteRecord>();
  const failed = new Set<number>();
  const deferred: number[] = [];
  const check = CHECKS[cx.violated]!;
  const chunkOfOp = (op: PendingOp) => chunkAtByte(1, op.offset);

  /** Opening a device: reads complete at once; first activation's writes wait for the model's Init steps. */
  const open = async (dev: SimDevice) => {
    c.cow = dev;
    c.store = null;
    c.snap = null;
    let settled = false;
    opening = Snapshot.open(c.origin, dev, { chunkSize: 1, ...d.options });
    opening.then((sn) => ((c.snap = sn), (c.store = sn.store), (settled = true)), () => (settled = true));
    for (let guard = 0; !settled && guard < 1000; guard++) {
      const i = sched.find((op) => op.kind === "read");
      if (i < 0) break;
      sched.completeAt(i);
      await drain(1);
    }
    await drain(2);
  };
  const store = (): PersistentStore => {
    if (!c.store) throw new Error("the store is not open (first activation not finished)");
    return c.store;
  };
  const engineChunk = (mc: number): number => {
    if (mc === 0) return 0;
    if (isAreaChunkForE(E, mc)) return areaLocation(1, areaOfChunkForE(E, mc));
    return -1;
  };
  const findWrite = (chunk: number) => sched.find((op) => op.kind === "write" && op.device === c.cow && chunkOfOp(op) === chunk);
  /** Lands and settles the engine's pending metadata writes the schedule lacks (the shipped engine's own steps). */
  const catchUp = async (why: string, only?: number) => {
    for (let guard = 0; guard < 8; guard++) {
      const i = sched.find((op) => op.kind === "write" && isAreaChunk(1, chunkOfOp(op)) && (only === undefined || chunkOfOp(op) === only));
      if (i < 0 && !toSettle) return;
      if (toSettle) {
        toSettle.settle!();
        toSettle = null;
      } else {
        const op = sched.completeAt(i);
        added.push(`${why}: completed the engine's write of chunk ${chunkOfOp(op)}`);
      }
      await drain(2);
    }
  };
  const commit = (e: number) => {
    padArea();
    c.committed.add(e);
    void store().commit(ORIGIN_OF(e), c.chunkOf[e]!, !failed.has(e)).then((ok) => c.acked.set(e, ok));
  };
  /** The snapshot's rule (shipped): a commit waits for every older exception's. */
  const older = (e: number) => c.chunkOf.some((_, f) => f > 0 && f < e && !c.committed.has(f) && !(failed.has(f) && !d.commitOnCopyFailure));

  /**
   * Before the first commit into an area, pad it as the model's areas are padded
   * (not earlier: until then the buffer is all zeros, as the model's, which the
   * 2009 race's header write may take). An area read back at a reload has its padding.
   */
  const padArea = () => {
    const st = c.store;
    if (!st || pad === 0 || st.currentArea <= paddedArea) return;
    paddedArea = st.currentArea;
    if (st.currentIndex < pad) st.unsafeFillArea(pad - st.currentIndex, BACKGROUND_OLD + 64 * (st.currentArea + 1) + 1000 * c.crashes);
  };
  const noteReadArea = () => {
    if (c.store && pad > 0 && c.store.currentIndex >= pad) paddedArea = c.store.currentArea;
  };
  const scheduleCommitsFailures = cx.constants.CommitOnCopyFailure !== "FALSE";
  const states = cx.trace.filter((st) => st.kind === undefined || st.kind === "state");
  await open(c.cow);
  noteReadArea();
  let prev = parseState(states[0]!.state);
  for (let k = 1; k < states.length; k++) {
    const step = states[k]!;
    const next = parseState(step.state);
    const a = step.action.split(/[\s(]/)[0]!;
    const diff = (v: string) => (prev[v] as TlaValue[]).filter((x) => !(next[v] as TlaValue[]).includes(x)) as number[];
    const cwChunk = () => engineChunk((prev.cw as Record<string, number>).chunk!);
    switch (a) {
      case "InitZeroArea0":
      case "InitWriteHeader": {
        const target = a === "InitWriteHeader" ? 0 : areaLocation(1, 0);
        let i = findWrite(target);
        if (i < 0 && !design) {
          await catchUp("first activation", areaLocation(1, 0));
          i = findWrite(target);
        }
        if (i >= 0) sched.completeAt(i);
        else if (design) mismatches.push(`state ${k + 1}: the engine has no first-activation write of chunk ${target} in flight`);
        break;
      }
      case "Prepare": {
        const e = prev.nextEx as number;
        const chunk = store().prepare();
        c.chunkOf[e] = chunk;
        void c.cow.write(chunkOffset(1, chunk), copyData(e)).catch(() => {});
        break;
      }
      case "CopyDone":
      case "CopyFail": {
        const e = diff("copying")[0]!;
        const i = findWrite(c.chunkOf[e]!);
        if (i < 0) mismatches.push(`state ${k + 1}: no copy of exception ${e} in flight`);
        else if (a === "CopyDone") sched.completeAt(i);
        else {
          sched.completeAt(i, new Error("EIO (injected: the copy failed)"));
          failed.add(e);
          // 2015's design: the callback fails at once and the exception never reaches commit.
          if (!d.commitOnCopyFailure) c.acked.set(e, false);
          // The engine as shipped commits it (valid = 0) where the schedule has no commit for it.
          else if (!scheduleCommitsFailures) {
            if (d.inOrder && older(e)) deferred.push(e);
            else commit(e);
            added.push(`the failed copy of exception ${e} committed (valid = 0)`);
          }
        }
        break;
      }
      case "CommitStart": {
        const e = [...diff("ready"), ...(prev.failedCopy ? diff("failedCopy") : [])][0]!;
        if (!design) await catchUp("before the commit");
        padArea();
        if (d.inOrder && older(e)) {
          deferred.push(e);
          added.push(`commit of exception ${e} held until the older ones are committed (in order)`);
        } else commit(e);
        break;
      }
      case "TakeCommitWrite": {
        const i = findWrite(cwChunk());
        if (i >= 0) sched.pending[i]!.take!();
        else if (chunkOffset(1, cwChunk()) >= c.cow.size) break; // past the device end: the device refused it at once
        else if (design) mismatches.push(`state ${k + 1}: the engine has no write of chunk ${cwChunk()} in flight`);
        break;
      }
      case "CompleteCommitWrite":
      case "FailCommitWrite": {
        const i = findWrite(cwChunk());
        if (i >= 0) {
          if (a === "FailCommitWrite") sched.completeAt(i, new Error("EIO (injected)"));
          else {
            const op = sched.pending[i]!;
            sched.pending.splice(i, 1);
            op.apply!();
            toSettle = op;
          }
        } else if (design) mismatches.push(`state ${k + 1}: the engine has no write of chunk ${cwChunk()} in flight`);
        break;
      }
      case "IssueArea":
      case "Finish": {
        if (toSettle) {
          toSettle.settle!();
          toSettle = null;
        } else if (!design && a === "IssueArea") await catchUp("before the area write", areaLocation(1, store().currentArea + 1));
        break;
      }
      case "Invalidate":
        void c.snap!.invalidate();
        break;
      case "TakeHeaderWrite": {
        const i = findWrite(0);
        if (i >= 0) sched.pending[i]!.take!();
        break;
      }
      case "CompleteHeaderWrite":
      case "FailHeaderWrite": {
        const i = findWrite(0);
        if (i >= 0) {
          sched.completeAt(i, a === "FailHeaderWrite" ? new Error("EIO (injected)") : undefined);
          if (a === "CompleteHeaderWrite") c.headerDone = true;
        }
        break;
      }
      case "Destage": {
        const cache = (st: Record<string, TlaValue>) => st.cache as Record<string, TlaValue[]>;
        for (const ch of Object.keys(cache(prev)).filter((x) => cache(prev)[x]!.length > 0 && cache(next)[x]!.length === 0)) {
          const mc = Number(ch);
          const ec = mc === 0 || isAreaChunkForE(E, mc) ? engineChunk(mc) : c.chunkOf[c.chunkOf.findIndex((_, e) => e > 0 && modelChunkOf(prev, e, E) === mc)] ?? -1;
          for (const w of c.cow.writes) if (w.completeT !== Infinity && chunkAtByte(1, w.offset) === ec) destaged.add(w);
        }
        break;
      }
      case "OriginWrite": {
        const e = exceptionWhere(prev.ocache, next.ocache, (was, now) => was === "none" && now === "new");
        if (c.snap && !c.snap.valid) {
          // Released by the invalidation: the snapshot target's write, which (as shipped) waits for the header write.
          void c.snap.writeOrigin(chunkOffset(1, ORIGIN_OF(e)), newOriginData(e));
          await drain(2);
          const i = sched.find((op) => op.device === c.origin && op.kind === "write");
          if (i >= 0) sched.completeAt(i);
          else if (design) mismatches.push(`state ${k + 1}: the snapshot held the origin write`);
          else added.push(`the origin write to chunk ${e} held until the header write completes (snapshot.ts)`);
        } else {
          // Released by its exception's callback: the origin write the snapshot target issues then.
          void c.origin.write(chunkOffset(1, ORIGIN_OF(e)), newOriginData(e));
          sched.completeAt(sched.pending.length - 1);
        }
        break;
      }
      case "OriginDestage": {
        const e = exceptionWhere(prev.ocache, next.ocache, (was, now) => was !== "none" && now === "none");
        for (const w of c.origin.writes) if (w.completeT !== Infinity && w.offset === chunkOffset(1, ORIGIN_OF(e))) originDestaged.add(w);
        break;
      }
      case "MergeCopy": {
        // prepareMerge names the last entry; its data goes back onto the origin (a plain write).
        const e = next.merging as number;
        const m = store().prepareMerge();
        await drain(2);
        const { lastOld } = await m;
        if (lastOld !== ORIGIN_OF(e) && design) mismatches.push(`state ${k + 1}: the engine merges origin chunk ${lastOld}, the model exception ${e}`);
        void c.origin.write(chunkOffset(1, lastOld), copyData(lastOld - 1000));
        sched.completeAt(sched.pending.length - 1);
        break;
      }
      case "MergeCommit": {
        if (d.mergeFlushOrigin) {
          void c.origin.flush();
          sched.completeAt(sched.pending.length - 1);
        }
        const m = store().commitMerge(1);
        await drain(2);
        const i = findWrite(areaLocation(1, store().currentArea));
        if (i >= 0) sched.completeAt(i); // the model's merge commit is one step: the area is durable (flush + FUA)
        await m;
        c.merged++;
        break;
      }
      case "Crash": {
        c.originCrash = c.origin.crashImage(c.origin.now, (w) => (originDestaged.has(w) ? "all" : "none"), new Rng(1));
        const img = c.cow.crashImage(c.cow.now, (w) => (destaged.has(w) ? "all" : "none"), new Rng(1));
        c.crash = { image: img, act: activate(img, 1) };
        c.crashes++;
        // Memory and writes in flight are gone.
        sched.pending = sched.pending.filter((op) => op.device !== c.cow);
        toSettle = null;
        break;
      }
      case "Reload": {
        destaged = new Set();
        paddedArea = -1;
        await open(new SimDevice(c.crash!.image, sched, { flushAtSubmit: true }));
        noteReadArea();
        break;
      }
      default:
        break; // Halted, Stuttering
    }
    await drain(2);
    // Commits held for order go as soon as the older ones are through.
    for (let j = 0; j < deferred.length; j++) {
      const e = deferred[j]!;
      if (!older(e)) {
        deferred.splice(j--, 1);
        commit(e);
        await drain(2);
      }
    }
    trackBlank(c);
    const hdr = findWrite(0) >= 0;
    const area = c.store !== null && findWrite(areaLocation(1, store().currentArea)) >= 0;
    if (hdr && area) c.headerAndAreaInFlight = true;
    if (c.crash === null && c.store && c.chunkOf.every((_, e) => e === 0 || c.acked.has(e)) && sched.find((op) => op.kind === "write" && isAreaChunk(1, chunkOfOp(op))) >= 0) c.quiescentIO = true;
    if (design) compare(c, next, k + 1, mismatches, c.store !== null && paddedArea === c.store.currentArea);
    if (violatedAt === null && !AT_END.has(cx.violated) && !check(c)) violatedAt = k + 1;
    prev = next;
  }
  if (AT_END.has(cx.violated)) {
    // The behaviour stutters from here: let the engine do all it can on its own.
    for (let guard = 0; guard < 100 && sched.pending.length > 0; guard++) {
      sched.completeAt(0);
      await drain(2);
    }
    if (!check(c)) violatedAt = states.length;
  }
  return { design, violated: violatedAt !== null, at: violatedAt, mismatches, added };
}

/** f[e] of a function over 1..N as TLC prints it (a sequence, or `e :> v @@ ...`). */
function at(f: TlaValue, e: number): TlaValue | undefined {
  return Array.isArray(f) ? f[e - 1] : (f as Record<string, TlaValue>)[String(e)];
}

/** The exception e for which (prev[e], next[e]) satisfies `p` (0 if none). */
function exceptionWhere(prev: TlaValue | undefined, next: TlaValue | undefined, p: (was: TlaValue | undefined, now: TlaValue | undefined) => boolean): number {
  const n = Array.isArray(next) ? next.length : Object.keys(next as object).length;
  for (let e = 1; e <= n; e++) if (p(at(prev!, e), at(next!, e))) return e;
  return 0;
}

/** The origin before the snapshot: chunk ORIGIN_OF(e) holds copyData(e). */
function originImage(n: number): Uint8Array {
  const img = new Uint8Array(chunkBytes(1) * (ORIGIN_OF(n) + 1));
  for (let e = 1; e <= n; e++) img.set(copyData(e), chunkOffset(1, ORIGIN_OF(e)));
  return img;
}

/** The data chunk the model gave exception e (newChunk, or the first model's fixed layout). */
function modelChunkOf(st: Record<string, TlaValue>, e: number, E: number): number {
  if (st.newChunk !== undefined) return Number(at(st.newChunk, e));
  const i = e - 1;
  return dataChunkForE(E, areaOfEntryForE(E, i), indexInAreaForE(E, i));
}

const blankSeen = new WeakMap<Ctx, { durable: boolean; read: boolean }>();
/** HeaderNeverBlankAgain: once chunk 0 is not blank (durably, or as read while running), it stays so. */
function trackBlank(c: Ctx): void {
  const seen = blankSeen.get(c) ?? { durable: false, read: false };
  const durable = !isBlank(durableImage(c));
  const read = !isBlank(c.cow.current);
  if ((seen.durable && !durable) || (seen.read && !read && c.crash === null)) c.blankAgain = true;
  blankSeen.set(c, { durable: seen.durable || durable, read: c.crash === null && (seen.read || read) });
}

function parseState(state: Record<string, string>): Record<string, TlaValue> {
  const out: Record<string, TlaValue> = {};
  for (const [k, v] of Object.entries(state)) out[k] = parseTla(v);
  return out;
}

/** The engine's state, abstracted as the model's, against the model's (the variables the engine has). */
function compare(c: Ctx, s: Record<string, TlaValue>, at: number, out: string[], padded: boolean): void {
  const say = (m: string) => out.push(`state ${at}: ${m}`);
  if (s.phase === "crashed") return compareCrash(c, s, say);
  const st = c.store;
  if (!st || s.phase === "init") return;
  if ((s.memValid === 1) !== st.valid) say(`valid ${st.valid}, model memValid ${String(s.memValid)}`);
  if (s.cpc === "idle") {
    const idx = st.currentIndex - (padded ? c.pad : 0);
    if (idx !== s.curIdx) say(`current_committed ${idx} (beyond the padding), model curIdx ${String(s.curIdx)}`);
    if (st.currentArea !== s.curArea) say(`current_area ${st.currentArea}, model curArea ${String(s.curArea)}`);
  }
  // The engine issues the area write within the commit step (the model: CommitStart, then IssueArea).
  if (s.cpc === "prewrite") return;
  const ackOk = [...c.acked].filter(([, ok]) => ok).map(([e]) => e).sort();
  const modelAckOk = (s.ackOk as number[]).slice().sort();
  if (ackOk.some((e) => !modelAckOk.includes(e))) say(`acknowledged ${ackOk.join(",")}, model ackOk ${modelAckOk.join(",")}`);
}

function compareCrash(c: Ctx, s: Record<string, TlaValue>, say: (m: string) => void): void {
  if (c.crash) {
    const act = s.act as { status: string; loaded: TlaValue[] };
    const status = statusOf(c.crash.act);
    if (status !== act.status) say(`activation ${status}, model ${act.status}`);
    if (status === "valid" && !(c.crash.act instanceof Error)) {
      const slots = new Set<string>();
      for (const [o, n] of c.crash.act.exceptions.toPairs()) {
        if (o >= BACKGROUND_OLD) continue;
        const e = c.chunkOf.findIndex((ch, i) => i > 0 && ch === n && ORIGIN_OF(i) === o);
        slots.add(e > 0 ? String(e) : "#STALE");
      }
      const model = new Set(act.loaded.map(String));
      if (slots.size !== model.size || [...slots].some((x) => !model.has(x))) say(`activation loaded {${[...slots].join(", ")}}, model {${[...model].join(", ")}}`);
    }
  }
}
