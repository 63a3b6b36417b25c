import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

const src = (pkg: string, entry = "index") => fileURLToPath(new URL(`./packages/${pkg}/src/${entry}.ts`, import.meta.url));

// Tests import sibling packages from source, so `pnpm test` needs no build
// (the CLI's end-to-end tests are the exception: they run the built binary).
export default defineConfig({
  resolve: {
    // Exact matches, so "@dmsnap/store" does not swallow "@dmsnap/store/node".
    alias: [
      { find: /^@dmsnap\/format$/, replacement: src("format") },
      { find: /^@dmsnap\/format\/testing$/, replacement: src("format", "testing") },
      { find: /^@dmsnap\/store$/, replacement: src("store") },
      { find: /^@dmsnap\/store\/node$/, replacement: src("store", "node") },
      { find: /^@dmsnap\/store\/testing$/, replacement: src("store", "testing") },
      { find: /^@dmsnap\/kernel$/, replacement: fileURLToPath(new URL("./kernel/src/index.ts", import.meta.url)) },
    ],
  },
  test: {
    include: ["packages/*/src/**/*.test.ts", "packages/*/test/**/*.test.ts", "spec/**/*.test.ts", "conformance/**/*.test.ts", "kernel/**/*.test.ts", "bench/**/*.test.mjs"],
    exclude: ["**/node_modules/**", "**/dist/**"],
    testTimeout: 60_000,
    pool: "forks",
  },
});
