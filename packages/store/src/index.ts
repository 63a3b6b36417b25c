/**
 * `@dmsnap/store`: the engine, over abstract block devices. Browser-safe (no
 * Node built-ins). File devices and the command helpers are in
 * `@dmsnap/store/node`; crash/fault devices and simulation in
 * `@dmsnap/store/testing`.
 */
export * from "./errors.js";
export * from "./device.js";
export * from "./exceptionIndex.js";
export * from "./store.js";
export * from "./snapshot.js";
export * from "./merge.js";
export * from "./sortedIndex.js";
export * from "./restore.js";
export * from "./repair.js";
export * from "./newCow.js";
