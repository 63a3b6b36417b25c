/** `@dmsnap/format`: the codec, bytes in, typed structures out; no I/O and no Node built-ins. Image builders and damage generators: `@dmsnap/format/testing`. */
export * from "./constants.js";
export * from "./errors.js";
export * from "./chunkSize.js";
export * from "./layout.js";
export * from "./header.js";
export * from "./exceptionTable.js";
export * from "./area.js";
export * from "./reader.js";
export * from "./activation.js";
export * from "./diagnose.js";
export * from "./dump.js";
export * from "./salvage.js";
export * from "./cowMetadata.js";
export * from "./losslessDump.js";
export { DumpTokenizer, DumpSyntaxError, type DumpEvents, type DumpRoot } from "./dumpTokenizer.js";
export * from "./mapSvg.js";
export * from "./sortedChunks.js";
export * from "./view.js";
