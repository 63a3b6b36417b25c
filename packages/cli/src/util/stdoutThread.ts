/**
 * Standard output written by a helper thread, for a document big enough to
 * pay for one (dump --json of many exceptions): the main thread formats into
 * one of SLOTS shared buffers while the thread writes the ones before it, so
 * the write calls (a sixth of a big dump) run on the other core. The slots
 * are the memory bound; when all are full the main thread waits. The
 * thread takes about 30 ms to start (on the other core): until it says it is
 * ready the main thread writes each batch itself, so it never waits for the
 * start; and small documents get no thread at all.
 *
 * Errors keep writeStdoutBytes' rules: a closed pipe ends the run quietly,
 * any other failed write is IO_<errno>, exit 2, thrown on the main thread
 * at its next hand-over or at close.
 */
import { createRequire } from "node:module";
import type { MessagePort, Worker } from "node:worker_threads";
import { noteStdout, stdoutError, writeStdoutBytes } from "./textSink.js";

const SLOTS = 4;
const FREE = 0;
const FULL = 1;
const FAILED = 2;
/** Bytes before the slots in the shared buffer: a state and a length for each, then the thread's "ready" word (and padding). */
const HEADER_BYTES = 8 * SLOTS + 8;

/**
 * The thread (CommonJS, run from this string: no file to find next to the
 * bundle). Slot i: wait until FULL, write lengths[i] bytes (a length of -1
 * ends the thread), mark FREE. A failed write marks every slot FAILED and
 * posts the error.
 */
const THREAD_SOURCE = `
const { workerData } = require("node:worker_threads");
const { writeSync } = require("node:fs");
const { fd, shared, slotBytes, port } = workerData;
const SLOTS = ${SLOTS};
const state = new Int32Array(shared, 0, SLOTS);
const lengths = new Int32Array(shared, 4 * SLOTS, SLOTS);
const data = new Uint8Array(shared, ${HEADER_BYTES});
const pause = new Int32Array(new SharedArrayBuffer(4));
const ready = new Int32Array(shared, 8 * SLOTS, 1);
Atomics.store(ready, 0, 1);
Atomics.notify(ready, 0);
for (let i = 0; ; i = (i + 1) % SLOTS) {
  while (Atomics.load(state, i) === ${FREE}) Atomics.wait(state, i, ${FREE});
  const n = lengths[i];
  if (n < 0) break;
  try {
    for (let done = 0; done < n; ) {
      try {
        done += writeSync(fd, data, i * slotBytes + done, n - done);
      } catch (e) {
        if (e.code !== "EAGAIN") throw e;
        Atomics.wait(pause, 0, 0, 1);
      }
    }
  } catch (e) {
    port.postMessage({ code: e.code, message: e.message });
    for (let j = 0; j < SLOTS; j++) {
      Atomics.store(state, j, ${FAILED});
      Atomics.notify(state, j);
    }
    break;
  }
  Atomics.store(state, i, ${FREE});
  Atomics.notify(state, i);
}
port.close();
`;

/** node:worker_threads, loaded with the first thread (a dump too small for one does not load it). */
type Threads = typeof import("node:worker_threads");
let threads: Threads | undefined;
const workerThreads = (): Threads => (threads ??= createRequire(import.meta.url)("node:worker_threads") as Threads);

export class StdoutThread {
  private readonly worker: Worker;
  private readonly port: MessagePort;
  private readonly state: Int32Array;
  private readonly lengths: Int32Array;
  private readonly data: Uint8Array;
  /** Set by the thread once it runs. */
  private readonly ready: Int32Array;
  private handedOver = false;
  private next = 0;
  private ended = false;

  /**
   * Starts the thread; `slotBytes` is the size of each buffer handed out.
   * `direct` writes a batch while the thread is starting (bytes [from, from +
   * length) of a buffer) to the same `fd`.
   */
  constructor(
    readonly slotBytes: number,
    fd = 1,
    private readonly direct: (bytes: Uint8Array, length: number, from: number) => void = writeStdoutBytes,
  ) {
    const shared = new SharedArrayBuffer(HEADER_BYTES + SLOTS * slotBytes);
    this.state = new Int32Array(shared, 0, SLOTS);
    this.lengths = new Int32Array(shared, 4 * SLOTS, SLOTS);
    this.data = new Uint8Array(shared, HEADER_BYTES);
    this.ready = new Int32Array(shared, 8 * SLOTS, 1);
    const { MessageChannel, Worker } = workerThreads();
    const { port1, port2 } = new MessageChannel();
    this.port = port1;
    this.worker = new Worker(THREAD_SOURCE, { eval: true, workerData: { fd, shared, slotBytes, port: port2 }, transferList: [port2] });
    // A thread that fails to start never said it was ready, so the main thread wrote every batch
    // itself: nothing is lost, and the error must not end the run (an unhandled 'error' would).
    this.worker.on("error", () => {});
    // Never kept alive by the thread: close() waits for what was handed over.
    this.worker.unref();
    this.port.unref();
  }

  /** The buffer to fill first. */
  first(): Uint8Array {
    return this.slot(this.acquire(0));
  }

  /**
   * Hands bytes [0, length) of the buffer being filled to the thread and
   * returns the next buffer to fill, once the thread has written what it held.
   */
  write(length: number): Uint8Array {
    if (length <= 0) return this.slot(this.next);
    if (!this.handedOver && Atomics.load(this.ready, 0) === 0) {
      // The thread is still starting: write this batch here rather than wait.
      this.direct(this.data, length, this.next * this.slotBytes);
      return this.slot(this.next);
    }
    this.handedOver = true;
    const i = this.next;
    this.lengths[i] = length;
    Atomics.store(this.state, i, FULL);
    Atomics.notify(this.state, i);
    noteStdout("started");
    this.next = (i + 1) % SLOTS;
    return this.slot(this.acquire(this.next));
  }

  /** Waits until everything handed over is written (or throws the write's error), then ends the thread. */
  close(): void {
    if (this.ended) return;
    this.ended = true;
    if (!this.handedOver) {
      this.stop();
      return;
    }
    for (let j = 0; j < SLOTS; j++) this.acquire(j);
    this.lengths[this.next] = -1;
    Atomics.store(this.state, this.next, FULL);
    Atomics.notify(this.state, this.next);
  }

  /** Waits up to `ms` for the thread to start; true once it runs (for tests of the hand-over). */
  waitUntilReady(ms: number): boolean {
    return Atomics.wait(this.ready, 0, 0, ms) !== "timed-out" || Atomics.load(this.ready, 0) === 1;
  }

  /** Ends the thread without waiting (after an error on the main thread). */
  stop(): void {
    this.ended = true;
    void this.worker.terminate();
  }

  private slot(i: number): Uint8Array {
    return this.data.subarray(i * this.slotBytes, (i + 1) * this.slotBytes);
  }

  /** Waits until slot i is free; a failed write is thrown here. */
  private acquire(i: number): number {
    let s: number;
    while ((s = Atomics.load(this.state, i)) === FULL) Atomics.wait(this.state, i, FULL);
    if (s === FAILED) {
      this.ended = true;
      const e = (workerThreads().receiveMessageOnPort(this.port)?.message ?? { code: "EIO", message: "the output thread failed" }) as { code?: string; message: string };
      if (e.code === "EPIPE") process.exit(process.exitCode ?? 0);
      noteStdout("failed");
      throw stdoutError(Object.assign(new Error(e.message), { code: e.code }));
    }
    return i;
  }
}
