import { describe, expect, it } from "vitest";
import type { SimDevice } from "./crash.js";
import { simulate, type SimOptions } from "./simulation.js";
import { seeds } from "./testkit.js";
import type { DeviceTracer, StoreTracer } from "./trace.js";

const SEEDS = seeds(3000, 1);

/**
 * A passive watcher on the engine (through the tracer hook) that checks, by
 * hand and not through layout.ts, where things go: every chunk handed out is a
 * data chunk, every area write (FUA) lands on an area chunk 1 + a * (E + 1).
 */
function layoutWatch(seed: number, problems: string[]): NonNullable<SimOptions["trace"]> {
  return {
    cowImage: (size) => new Uint8Array(size),
    attach: (_cow: SimDevice, chunkSize: number): StoreTracer & DeviceTracer => {
      const stride = chunkSize * 32 + 1;
      const cb = chunkSize * 512;
      const isArea = (c: number) => c > 0 && (c - 1) % stride === 0;
      const note = (m: string) => problems.length < 5 && problems.push(`seed ${seed} (chunk size ${chunkSize}): ${m}`);
      return {
        prepare: (chunk) => void ((chunk < 2 || isArea(chunk)) && note(`chunk ${chunk} handed out is not a data chunk`)),
        commitStart: () => {},
        issueArea: () => {},
        finish: () => {},
        invalidate: () => {},
        writeDone: (offset, _data, flags) => void (flags.fua && offset > 0 && !(offset % cb === 0 && isArea(offset / cb)) && note(`an area write (FUA) at byte ${offset}, not on an area chunk`)),
      };
    },
  };
}

describe("deterministic simulation", () => {
  it(`holds every invariant for ${SEEDS.length} seeds`, async () => {
    let acked = 0;
    let invalidated = 0;
    let overflowed = 0;
    const failures: string[] = [];
    const layout: string[] = [];
    for (const seed of SEEDS) {
      try {
        const s = await simulate(seed, { trace: layoutWatch(seed, layout) });
        acked += s.commitsAcked;
        invalidated += s.invalidated ? 1 : 0;
        overflowed += s.overflowed ? 1 : 0;
      } catch (e) {
        failures.push((e as Error).message);
        if (failures.length >= 5) break;
      }
    }
    if (failures.length > 0) console.error(`simulation failures:\n${failures.join("\n")}`);
    expect(failures).toEqual([]);
    expect(layout).toEqual([]);
    console.log(`simulation: ${SEEDS.length} seeds, ${acked} commits acknowledged, ${invalidated} runs invalidated, ${overflowed} overflowed`);
    // The workload must exercise the interesting paths.
    if (SEEDS.length >= 100) {
      expect(invalidated).toBeGreaterThan(0);
      expect(overflowed).toBeGreaterThan(0);
    }
  }, 600_000);

  it("catches the shared header buffer (the pre-2009 store) on some seed", async () => {
    let caught: string | null = null;
    for (let seed = 0; seed < 400 && caught === null; seed++) {
      try {
        await simulate(seed, { unsafeSharedHeaderBuffer: true });
      } catch (e) {
        caught = (e as Error).message;
        console.log(`shared header buffer caught: ${caught.split("\n")[0]}`);
      }
    }
    expect(caught).not.toBeNull();
  }, 600_000);
});
