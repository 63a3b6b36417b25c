/** `@dmsnap/store/node`: Node-only parts: file and block-device access, and the create/write/export helpers the CLI uses. */
export * from "./fileDevice.js";
export * from "./blockingFileDevice.js";
export * from "./commands.js";
export * from "./export.js";
export * from "./sameFile.js";
