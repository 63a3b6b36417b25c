import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

const src = (pkg: string) => fileURLToPath(new URL(`./packages/${pkg}/src/index.ts`, import.meta.url));

// Tests import sibling packages from source, so `pnpm test` needs no build
// (the CLI's end-to-end tests are the exception: they run the built binary).
export default defineConfig({
  resolve: {
    alias: {
      "@dmsnap/format": src("format"),
      "@dmsnap/store": src("store"),
    },
  },
  test: {
    include: ["packages/*/src/**/*.test.ts", "packages/*/test/**/*.test.ts", "spec/**/*.test.ts", "conformance/**/*.test.ts"],
    exclude: ["**/node_modules/**", "**/dist/**"],
    testTimeout: 60_000,
    pool: "forks",
  },
});
