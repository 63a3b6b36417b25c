import { describe, expect, it } from "vitest";
import { simulate } from "./simulation.js";
import { seeds } from "./testkit.js";

const SEEDS = seeds(3000, 1);

describe("deterministic simulation", () => {
  it(`holds every invariant for ${SEEDS.length} seeds`, async () => {
    let acked = 0;
    let invalidated = 0;
    let overflowed = 0;
    const failures: string[] = [];
    for (const seed of SEEDS) {
      try {
        const s = await simulate(seed);
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
