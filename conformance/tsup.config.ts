import { defineConfig } from "tsup";

export default defineConfig({
  entry: { bin: "src/bin.ts", mutants: "src/mutants-bin.ts", index: "src/index.ts" },
  // Types for the library entry only (the runner API).
  dts: { entry: { index: "src/index.ts" } },
  format: ["esm"],
  clean: true,
  sourcemap: true,
  target: "node20",
  banner: { js: "" },
});
