export * from "./types.js";
export * from "./compare.js";
export * from "./cases.js";
export * from "./readers.js";
export * from "./runner.js";
export * from "./matrix.js";
export * from "./mutants.js";
