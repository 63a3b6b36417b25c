/**
 * `@dmsnap/store/trace`: trace validation's engine side, for spec/lib/traces.mjs
 * and the tests. Recording runs as model behaviours (traceModel, traceRuns) and
 * replaying the model's counterexamples into the engine (modelReplay). Not part
 * of the store's API.
 */
export * from "./trace.js";
export * from "./traceModel.js";
export * from "./traceRuns.js";
export * from "./traceMutants.js";
export * from "./modelReplay.js";
