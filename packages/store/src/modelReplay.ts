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
import { areaLocation, chunkBytes, chunkOffset, decodeHeader, SNAP_MAGIC, type CowImage } from "@dmsnap/format";
import { ManualScheduler, SimDevice, type PendingOp, type WriteRecord } from "./crash.js";
import { Rng } from "./rng.js";
import { PersistentStore, type StoreOptions } from "./store.js";
import { activate, drain } from "./testkit.js";
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
  problems: string[];
}

/** Design constants of the model and the engine's test-only switch for the value that differs from the fixed kernel. */
const SWITCHES: Record<string, { fixed: boolean; option: keyof StoreOptions }> = {
  HeaderInAreaBuffer: { fixed: false, option: "unsafeSharedHeaderBuffer" },
  ZeroNextArea: { fixed: true, option: "unsafeNoZeroing" },
  FlushBeforeArea: { fixed: true, option: "unsafeNoFlush" },
  CallbackAfterWrite: { fixed: true, option: "unsafeEarlyCallbacks" },
};

/** Properties meant to be violated by the fixed design (non-vacuity witnesses). */
const WITNESSES = new Set(["NeverRecoversEverything", "NeverHeaderDuringAreaWrite"]);

const ENGINE_E = 32; // chunk size 1: 32 entries per area
const BACKGROUND_OLD = 2097152; // origin chunks of the padding entries (no model exception uses them)
const ORIGIN_OF = (e: number) => 1000 + e;

/** What the copy of exception e writes into its data chunk (recognisable bytes). */
function copyData(e: number): Uint8Array {
  const b = new Uint8Array(chunkBytes(1)).fill((e * 37 + 11) & 0xff);
  new DataView(b.buffer).setUint32(0, 0xda7a0000 + e, true);
  return b;
}

type Engine = {
  sched: ManualScheduler;
  cow: SimDevice;
  store: PersistentStore;
};

/** Completes every pending operation until `p` settles (opening the store). */
async function pump<T>(sched: ManualScheduler, p: Promise<T>): Promise<T> {
  let done = false;
  const r = p.finally(() => (done = true));
  for (let guard = 0; !done && guard < 10000; guard++) {
    if (sched.pending.length > 0) sched.completeAt(0);
    await drain(1);
  }
  return r;
}

export async function replayCounterexample(cx: Counterexample): Promise<ReplayResult> {
  const witness = WITNESSES.has(cx.violated);
  const problems: string[] = [];
  const unknownDesign = Object.keys(cx.constants).filter((k) => /^[A-Z]/.test(k) && ["TRUE", "FALSE"].includes(cx.constants[k]!) && !(k in SWITCHES));
  if (unknownDesign.length > 0) problems.push(`no engine switch for the model's constant(s) ${unknownDesign.join(", ")} (add one in packages/store/src/modelReplay.ts)`);
  if (!(cx.violated in CHECKS)) problems.push(`no engine check for the property ${cx.violated} (add one in packages/store/src/modelReplay.ts)`);
  const runs: ReplayRun[] = [];
  if (problems.length === 0) {
    const designOptions: StoreOptions = {};
    let differs = false;
    for (const [k, sw] of Object.entries(SWITCHES)) {
      if (cx.constants[k] === undefined) continue;
      const v = cx.constants[k] === "TRUE";
      if (v !== sw.fixed) {
        (designOptions as Record<string, boolean>)[sw.option] = true;
        differs = true;
      }
    }
    runs.push(await runOnce(cx, designOptions, true));
    if (differs) runs.push(await runOnce(cx, {}, false));
  }
  const design = runs[0];
  const shipped = runs[1];
  if (design && !design.violated) problems.push(`the engine ${witness ? "as shipped never reached" : "with the design's switches kept"} ${cx.violated}`);
  if (design && design.mismatches.length > 0) problems.push(`the engine left the model's behaviour: ${design.mismatches.slice(0, 3).join("; ")}`);
  if (shipped && shipped.violated) problems.push(`the engine as shipped violated ${cx.violated} at state ${shipped.at}`);
  if (!witness && !shipped && problems.length === 0) problems.push("the configuration's design is the fixed one, but its property is not a witness");
  return { configuration: cx.configuration, property: cx.violated, witness, runs, ok: problems.length === 0, problems };
}

interface Ctx {
  cx: Counterexample;
  E: number;
  pad: number;
  store: PersistentStore;
  cow: SimDevice;
  sched: ManualScheduler;
  chunkOf: number[];
  committed: Set<number>;
  acked: Map<number, boolean>;
  headerAndAreaInFlight: boolean;
  crash: { image: Uint8Array; act: CowImage | Error } | null;
}

const CHECKS: Record<string, (c: Ctx) => boolean> = {
  HeaderWellFormed: (c) => headerOk(c.cow.current) && headerOk(durableImage(c)),
  AckedSurvive: (c) => !recovered(c) || [...c.acked].every(([e, ok]) => !ok || loadedPairs(c).has(`${ORIGIN_OF(e)},${c.chunkOf[e]}`)),
  NoStaleEntries: (c) => !recovered(c) || [...loadedPairs(c)].every((k) => isBackground(k) || [...c.committed].some((e) => k === `${ORIGIN_OF(e)},${c.chunkOf[e]}`)),
  LoadedDataDurable: (c) => {
    if (!recovered(c)) return true;
    const pairs = loadedPairs(c);
    for (let e = 1; e < c.chunkOf.length; e++) {
      if (!pairs.has(`${ORIGIN_OF(e)},${c.chunkOf[e]}`)) continue;
      const want = copyData(e);
      const at = chunkOffset(1, c.chunkOf[e]!);
      for (let i = 0; i < want.length; i++) if (c.crash!.image[at + i] !== want[i]) return false;
    }
    return true;
  },
  NeverRecoversEverything: (c) => {
    if (!recovered(c)) return true;
    const pairs = loadedPairs(c);
    const n = Number(c.cx.constants.N);
    for (let e = 1; e <= n; e++) if (!pairs.has(`${ORIGIN_OF(e)},${c.chunkOf[e]}`)) return true;
    return false;
  },
  NeverHeaderDuringAreaWrite: (c) => !c.headerAndAreaInFlight,
};

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

function durableImage(c: Ctx): Uint8Array {
  return c.cow.crashImage(c.cow.now, () => "none", new Rng(1));
}

async function runOnce(cx: Counterexample, options: StoreOptions, design: boolean): Promise<ReplayRun> {
  const E = Number(cx.constants.E);
  const nAreas = Number(cx.constants.NAreas);
  // Padding only when the counterexample fills an area: the 2009 race needs the model's
  // slot 1 to be the engine's entry 0 (the bytes the header lies in).
  const fills = cx.trace.some((st) => /^\d+$/.test(st.state.curArea ?? "") && (Number(st.state.curArea) > 0 || Number(st.state.curIdx) === E));
  const pad = fills ? ENGINE_E - E : 0;
  const mismatches: string[] = [];
  const added: string[] = [];
  // The model's initial disk: valid header, area 0 empty (here: only the padding), the rest stale.
  const sched = new ManualScheduler();
  // The model's areas, and after them one more, zeroed: the model reads no further than NAreas.
  const chunks = 2 + (ENGINE_E + 1) * nAreas;
  const image = staleCowImage(chunks * chunkBytes(1), 1, new Rng(0x5eed));
  image.fill(0, chunkOffset(1, areaLocation(1, nAreas)));
  const view = new DataView(image.buffer);
  const a0 = chunkOffset(1, areaLocation(1, 0));
  for (let k = 0; k < pad; k++) {
    view.setUint32(a0 + 16 * k, BACKGROUND_OLD + k, true);
    view.setUint32(a0 + 16 * k + 8, 2 + k, true);
  }
  const cow = new SimDevice(image, sched, { flushAtSubmit: true });
  const store = await pump(sched, PersistentStore.open(cow, { chunkSize: 1, ...options }));
  const engine: Engine = { sched, cow, store };
  const c: Ctx = { cx, E, pad, store, cow, sched, chunkOf: [0], committed: new Set(), acked: new Map(), headerAndAreaInFlight: false, crash: null };
  let paddedArea = 0;
  let toSettle: PendingOp | null = null;
  let violatedAt: number | null = null;
  const destaged = new Set<WriteRecord>();
  const check = CHECKS[cx.violated]!;

  const engineChunk = (mc: number): number => {
    if (mc === 0) return 0;
    if ((mc - 1) % (E + 1) === 0) return areaLocation(1, (mc - 1) / (E + 1));
    const e = Math.floor((mc - 2) / (E + 1)) * E + ((mc - 2) % (E + 1)) + 1;
    return c.chunkOf[e] ?? -1;
  };
  const findWrite = (chunk: number) => sched.find((op) => op.kind === "write" && Math.floor(op.offset / chunkBytes(1)) === chunk);
  /** Lands and settles the engine's pending metadata writes (the shipped engine's steps the schedule lacks). */
  const catchUp = async (why: string, only?: number) => {
    for (let guard = 0; guard < 8; guard++) {
      const i = sched.find((op) => {
        const ch = Math.floor(op.offset / chunkBytes(1));
        return op.kind === "write" && ch > 0 && (ch - 1) % (ENGINE_E + 1) === 0 && (only === undefined || ch === only);
      });
      if (i < 0 && !toSettle) return;
      if (toSettle) {
        toSettle.settle!();
        toSettle = null;
      } else {
        const op = sched.completeAt(i);
        added.push(`${why}: completed the engine's write of chunk ${Math.floor(op.offset / chunkBytes(1))}`);
      }
      await drain(2);
    }
  };

  const states = cx.trace.filter((s) => s.kind === undefined || s.kind === "state");
  let prev = parseState(states[0]!.state);
  for (let k = 1; k < states.length; k++) {
    const step = states[k]!;
    const next = parseState(step.state);
    const a = step.action;
    const diff = (v: string) => (prev[v] as TlaValue[]).filter((x) => !(next[v] as TlaValue[]).includes(x)) as number[];
    switch (a) {
      case "Prepare": {
        const e = prev.nextEx as number;
        const chunk = store.prepare();
        c.chunkOf[e] = chunk;
        void cow.write(chunkOffset(1, chunk), copyData(e));
        break;
      }
      case "CopyDone": {
        const e = diff("copying")[0]!;
        const i = findWrite(c.chunkOf[e]!);
        if (i >= 0) sched.completeAt(i);
        else mismatches.push(`state ${k + 1}: no copy of exception ${e} in flight`);
        break;
      }
      case "CommitStart": {
        const e = diff("ready")[0]!;
        if (!design) await catchUp("before the commit");
        c.committed.add(e);
        void store.commit(ORIGIN_OF(e), c.chunkOf[e]!).then((ok) => c.acked.set(e, ok));
        break;
      }
      case "TakeCommitWrite": {
        const i = findWrite(engineChunk((prev.cw as Record<string, number>).chunk!));
        if (i >= 0) sched.pending[i]!.take!();
        else if (design) mismatches.push(`state ${k + 1}: the engine has no write of chunk ${engineChunk((prev.cw as Record<string, number>).chunk!)} in flight`);
        break;
      }
      case "CompleteCommitWrite": {
        const i = findWrite(engineChunk((prev.cw as Record<string, number>).chunk!));
        if (i >= 0) {
          const op = sched.pending[i]!;
          sched.pending.splice(i, 1);
          op.apply!();
          toSettle = op;
        } else if (design) mismatches.push(`state ${k + 1}: the engine has no write of chunk ${engineChunk((prev.cw as Record<string, number>).chunk!)} in flight`);
        break;
      }
      case "IssueArea":
      case "Finish": {
        if (toSettle) {
          toSettle.settle!();
          toSettle = null;
        } else if (!design && a === "IssueArea") await catchUp("before the area write", areaLocation(1, store.currentArea + 1));
        break;
      }
      case "Invalidate":
        void store.drop();
        break;
      case "TakeHeaderWrite": {
        const i = findWrite(0);
        if (i >= 0) sched.pending[i]!.take!();
        break;
      }
      case "CompleteHeaderWrite": {
        const i = findWrite(0);
        if (i >= 0) sched.completeAt(i);
        break;
      }
      case "Destage": {
        const diffChunks = Object.keys(prev.cache as object).filter((ch) => (prev.cache as Record<string, TlaValue[]>)[ch]!.length > 0 && (next.cache as Record<string, TlaValue[]>)[ch]!.length === 0);
        for (const ch of diffChunks) {
          const ec = engineChunk(Number(ch));
          for (const w of cow.writes) if (w.completeT !== Infinity && Math.floor(w.offset / chunkBytes(1)) === ec) destaged.add(w);
        }
        break;
      }
      case "Crash": {
        const img = cow.crashImage(cow.now, (w) => (destaged.has(w) ? "all" : "none"), new Rng(1));
        c.crash = { image: img, act: activate(img, 1) };
        break;
      }
      default:
        if (!/^(Halted|Stuttering)/.test(a)) mismatches.push(`state ${k + 1}: no engine step for the model's action ${a}`);
    }
    await drain(2);
    // The store moved to a new area: pad it as the model's areas are padded.
    if (store.currentArea > paddedArea) {
      paddedArea = store.currentArea;
      store.unsafeFillArea(pad, BACKGROUND_OLD + 64 * paddedArea);
    }
    const hdr = sched.find((op) => op.kind === "write" && op.offset === 0) >= 0;
    const area = sched.find((op) => op.kind === "write" && op.offset === chunkOffset(1, areaLocation(1, store.currentArea))) >= 0;
    if (hdr && area) c.headerAndAreaInFlight = true;
    if (design) compare(c, next, k + 1, mismatches);
    if (violatedAt === null && !check(c)) violatedAt = k + 1;
    prev = next;
  }
  void engine;
  return { design, violated: violatedAt !== null, at: violatedAt, mismatches, added };
}

function parseState(state: Record<string, string>): Record<string, TlaValue> {
  const out: Record<string, TlaValue> = {};
  for (const [k, v] of Object.entries(state)) out[k] = parseTla(v);
  return out;
}

/** The engine's state, abstracted as the model's, against the model's (the variables the engine has). */
function compare(c: Ctx, s: Record<string, TlaValue>, at: number, out: string[]): void {
  const say = (m: string) => out.push(`state ${at}: ${m}`);
  if ((s.memValid === 1) !== c.store.valid) say(`valid ${c.store.valid}, model memValid ${String(s.memValid)}`);
  if (s.phase === "crashed") return compareCrash(c, s, say);
  if (s.cpc === "idle") {
    if (c.store.currentIndex - c.pad !== s.curIdx) say(`current_committed ${c.store.currentIndex - c.pad} (beyond the padding), model curIdx ${String(s.curIdx)}`);
    if (c.store.currentArea !== s.curArea) say(`current_area ${c.store.currentArea}, model curArea ${String(s.curArea)}`);
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
    const status = c.crash.act instanceof Error ? "corrupt" : c.crash.act.state === "new" ? "blank" : c.crash.act.state;
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
