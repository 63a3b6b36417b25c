import { defineConfig } from "tsup";

export default defineConfig({
  entry: { index: "src/index.ts", "kernel-crash": "src/main.ts" },
  // Types for the library entry only (the log/crash API).
  dts: { entry: { index: "src/index.ts" } },
  format: ["esm"],
  clean: true,
  sourcemap: true,
  target: "node20",
});
