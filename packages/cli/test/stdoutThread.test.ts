/**
 * A big `dump --json` to standard output is written by a second thread
 * (src/util/stdoutThread.ts) from shared buffers the sink fills in turn. The
 * bytes must be those a direct write gives, in order, across many hand-overs;
 * a failed write must surface on the main thread as IO_<errno>; and the
 * built CLI must print the same dump with and without the thread, refuse an
 * image whose problem is in its last area with nothing but the error object,
 * and stop quietly when the reader of a pipe goes away.
 */
import { spawnSync } from "node:child_process";
import { closeSync, openSync, readFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { areaOffset, entryOffset } from "@dmsnap/format";
import { CliError } from "../src/util/errors.js";
import { StdoutThread } from "../src/util/stdoutThread.js";
import { ByteSink } from "../src/util/textSink.js";
import { BIN, tempDir } from "./helpers.js";
import { sparseLayout, writeSparseCow } from "./sparseCow.mjs";

/** 3000 entries of varied lengths as Uint32 words (old low, old high, new low, new high). */
function words(): Uint32Array {
  const w = new Uint32Array(4 * 3000);
  for (let i = 0; i < 3000; i++) {
    w[4 * i] = (i * 2654435761) >>> 0;
    w[4 * i + 1] = i % 5 === 0 ? i : 0;
    w[4 * i + 2] = i + 2;
  }
  return w;
}

describe("standard output written by a second thread", () => {
  it("writes what a direct sink writes, in order, over many hand-overs of small buffers", () => {
    const dir = tempDir();
    const path = join(dir, "out.json");
    const fd = openSync(path, "w");
    const size = 200;
    let directBatches = 0;
    const thread = new StdoutThread(ByteSink.bufferBytes(size), fd, (b, n, from) => {
      directBatches++;
      writeSync(fd, b, from, n);
    });
    const viaThread = new ByteSink(undefined, size, thread);
    const direct: Buffer[] = [];
    const plain = new ByteSink((b, n) => direct.push(Buffer.from(b.subarray(0, n))), size);
    const w = words();
    for (const sink of [viaThread, plain]) {
      sink.text('{"head":"\u00e9t\u00e9","exceptions":[');
      // The first batches are written here while the thread starts (unless it is very quick), the rest by the thread.
      if (sink === viaThread) expect(thread.waitUntilReady(10_000)).toBe(true);
      for (let piece = 0; piece < 3000; piece += 300) sink.entryPairs(w.subarray(4 * piece, 4 * (piece + 300)), 300, piece === 0);
      sink.text("x".repeat(1000));
      sink.text("]}\n");
      sink.flush();
    }
    thread.close();
    closeSync(fd);
    const expected = Buffer.concat(direct);
    // Hand-written: the first entries (entry 0: 0 -> 2; entry 1: 2654435761 -> 3).
    expect(expected.toString("utf8").startsWith('{"head":"\u00e9t\u00e9","exceptions":[[0,2],[2654435761,3],')).toBe(true);
    expect(expected.length).toBeGreaterThan(30 * size);
    expect(readFileSync(path).equals(expected)).toBe(true);
    // Most batches went through the thread.
    expect(directBatches).toBeLessThan(3);
  });

  it("a failed write is IO_<errno> on the main thread", () => {
    const dir = tempDir();
    const path = join(dir, "ro.json");
    closeSync(openSync(path, "w"));
    const fd = openSync(path, "r"); // writing to it fails with EBADF
    const thread = new StdoutThread(ByteSink.bufferBytes(200), fd);
    expect(thread.waitUntilReady(10_000)).toBe(true);
    const sink = new ByteSink(undefined, 200, thread);
    let caught: unknown;
    try {
      for (let i = 0; i < 50; i++) sink.text("y".repeat(150));
      sink.flush();
      thread.close();
    } catch (e) {
      caught = e;
    }
    closeSync(fd);
    expect(caught).toBeInstanceOf(CliError);
    expect((caught as CliError).code).toBe("IO_EBADF");
    expect(readFileSync(path).length).toBe(0);
  });
});

describe("the built CLI with the thread (a dump of 300,000 exceptions)", () => {
  const spec = { chunkSize: 1, count: 300_000, oldOf: (i: number) => (i * 7919) % 1_000_003 };
  const run = (command: string) => spawnSync("bash", ["-o", "pipefail", "-c", command], { encoding: "utf8", timeout: 120_000 });

  it("prints the bytes it prints without the thread (-o), to a file and to a pipe", () => {
    const dir = tempDir();
    const cow = join(dir, "big.cow");
    const l = writeSparseCow(cow, spec);
    const direct = join(dir, "direct.json");
    const r1 = run(`'${process.execPath}' '${BIN}' dump '${cow}' --json -o '${direct}'`);
    expect(r1.status, r1.stderr).toBe(0);
    const r2 = run(`'${process.execPath}' '${BIN}' dump '${cow}' --json > '${join(dir, "threaded.json")}'`);
    expect(r2.status, r2.stderr).toBe(0);
    expect(r2.stderr).toBe("");
    const bytes = readFileSync(direct);
    expect(readFileSync(join(dir, "threaded.json")).equals(bytes)).toBe(true);
    const r3 = run(`'${process.execPath}' '${BIN}' dump '${cow}' --json | cat > '${join(dir, "piped.json")}'`);
    expect(r3.status, r3.stderr).toBe(0);
    expect(readFileSync(join(dir, "piped.json")).equals(bytes)).toBe(true);
    // The values from the layout's formulas, not from dmsnap: the last entry, and the count.
    const text = bytes.toString("utf8");
    expect(text.endsWith(`[${spec.oldOf(299_999)},${l.newOf(299_999)}]]}\n`)).toBe(true);
    expect(text.match(/\],\[/g)!.length).toBe(299_999);
  });

  it("a refusal found in the last area: the error object alone on stdout, exit 1", () => {
    const dir = tempDir();
    const cow = join(dir, "late.cow");
    const l = writeSparseCow(cow, spec);
    // The last entry's old_chunk high word: 2^53.
    const at = areaOffset(spec.chunkSize, Math.floor((spec.count - 1) / l.perArea)) + entryOffset((spec.count - 1) % l.perArea) + 4;
    const fd = openSync(cow, "r+");
    writeSync(fd, Buffer.from([0x00, 0x00, 0x20, 0x00]), 0, 4, at);
    closeSync(fd);
    const r = run(`'${process.execPath}' '${BIN}' dump '${cow}' --json`);
    expect(r.status).toBe(1);
    expect(r.stdout.split("\n")).toHaveLength(2);
    expect(JSON.parse(r.stdout).error.code).toBe("CHUNK_NUMBER_TOO_LARGE");
  });

  it("stops quietly, exit 0, when the reader of the pipe goes away", () => {
    const dir = tempDir();
    const cow = join(dir, "big.cow");
    writeSparseCow(cow, spec);
    const r = run(`'${process.execPath}' '${BIN}' dump '${cow}' --json | head -c 100 > /dev/null`);
    expect(r.status).toBe(0);
    expect(r.stderr).toBe("");
  });
});
