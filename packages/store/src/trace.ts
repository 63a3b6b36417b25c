/**
 * The tracer hook: the store and the simulated device report each step of the
 * commit protocol under the name of the TLA+ model's action (spec/DmSnapStore.tla;
 * the correspondence is tabled in docs/model.md). Off by default: every call
 * site is one `if (this.tracer)` and nothing is built when it is absent.
 *
 * What a step means in the model is decided by `ModelTracer` (traceModel.ts),
 * which numbers exceptions in allocation order and abstracts bytes to slots.
 */

/** What the commit thread does after a commit step (the model's `cpc'`). */
export type CommitNext = "idle" | "zeroing" | "prewrite";

/** Steps of the store (called synchronously, at the moment the engine takes them). */
export interface StoreTracer {
  /** prepare_exception: `chunk` allocated; `pending` in flight after it. */
  prepare(chunk: number, pending: number): void;
  /** commit_exception's first part: entry `index` (0-based) of area `area` now holds {old, chunk}. */
  commitStart(oldChunk: number, chunk: number, area: number, index: number, next: CommitNext): void;
  /** The area write is issued (valid) or skipped (invalid); `flush`: with a flush before it. */
  issueArea(area: number, valid: boolean, flush: boolean): void;
  /** After the area write: advance if `full`, run the callbacks with `ok`. */
  finish(full: boolean, ok: boolean): void;
  /** drop_snapshot: valid = 0, header built in `buffer`, its write issued. */
  invalidate(buffer: "header" | "area"): void;
  /** The header write failed (the model's FailHeaderWrite: nothing of it written). */
  failHeaderWrite?(): void;
  /** The failed header write is issued again (the model's RetryHeaderWrite), before an origin write that needs it. */
  retryHeaderWrite?(): void;
}

/** Writes as the device applies them (called at the moment the bytes land). */
export interface DeviceTracer {
  writeDone(offset: number, data: Uint8Array, flags: { flushBefore?: boolean; fua?: boolean }): void;
}
