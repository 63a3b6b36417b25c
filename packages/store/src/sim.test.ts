import { describe, expect, it } from "vitest";
import type { SimDevice } from "./crash.js";
import { simulate, type SimOptions } from "./simulation.js";
import { seeds } from "./testkit.js";
import type { DeviceTracer, StoreTracer } from "./trace.js";

const SEEDS = seeds(3000, 1);

/** Seeds (of 100) that must commit into area 1 or beyond: the simulation must cross areas, not only fill area 0. */
const CROSSING_PER_100 = 30;

/**
 * A passive watcher on the engine (through the tracer hook) that checks, by
 * hand and not through layout.ts, where things go: every chunk handed out is a
 * data chunk, every area write (FUA) lands on an area chunk 1 + a * (E + 1).
 * `reached.area` counts where the run went: an entry committed into an area
 * a >= 1 whose write (FUA) landed on chunk 1 + a * (E + 1), by hand.
 */
function layoutWatch(seed: number, problems: string[], reached = { area: 0 }): NonNullable<SimOptions["trace"]> {
  return {
    cowImage: (size) => new Uint8Array(size),
    attach: (_cow: SimDevice, chunkSize: number): StoreTracer & DeviceTracer => {
      const stride = chunkSize * 32 + 1;
      const cb = chunkSize * 512;
      const isArea = (c: number) => c > 0 && (c - 1) % stride === 0;
      let committedArea = 0;
      const note = (m: string) => problems.length < 5 && problems.push(`seed ${seed} (chunk size ${chunkSize}): ${m}`);
      return {
        prepare: (chunk) => void ((chunk < 2 || isArea(chunk)) && note(`chunk ${chunk} handed out is not a data chunk`)),
        commitStart: (_old, _chunk, area) => void (committedArea = Math.max(committedArea, area)),
        issueArea: () => {},
        finish: () => {},
        invalidate: () => {},
        writeDone: (offset, _data, flags) => {
          if (!flags.fua || offset === 0) return;
          if (!(offset % cb === 0 && isArea(offset / cb))) return void note(`an area write (FUA) at byte ${offset}, not on an area chunk`);
          const area = (offset / cb - 1) / stride;
          if (area <= committedArea) reached.area = Math.max(reached.area, area);
        },
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
    let crossing = 0;
    for (const seed of SEEDS) {
      try {
        const reached = { area: 0 };
        const s = await simulate(seed, { trace: layoutWatch(seed, layout, reached) });
        crossing += reached.area >= 1 ? 1 : 0;
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
    console.log(`simulation: ${SEEDS.length} seeds, ${acked} commits acknowledged, ${invalidated} runs invalidated, ${overflowed} overflowed, ${crossing} committed into area 1 or beyond`);
    // The workload must exercise the interesting paths.
    if (SEEDS.length >= 100) {
      expect(invalidated).toBeGreaterThan(0);
      expect(overflowed).toBeGreaterThan(0);
      expect(crossing).toBeGreaterThanOrEqual(Math.ceil((SEEDS.length * CROSSING_PER_100) / 100));
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
