/**
 * `@dmsnap/store/testing`: test kits, not the store's API: crash-simulating
 * and fault-injecting devices, a seeded RNG and the randomized simulation.
 */
export * from "./fault.js";
export * from "./crash.js";
export * from "./rng.js";
export * from "./simulation.js";
