/** `@dmsnap/format/testing`: test kits, not the codec: an image builder and damage generators for hostile-input tests. */
export * from "./build.js";
export * as damage from "./damage.js";
