import { defineConfig } from "tsup";

export default defineConfig({
  // index: the browser-safe engine; node: file devices and commands; testing: test kits.
  entry: ["src/index.ts", "src/node.ts", "src/testing.ts", "src/traceHarness.ts"],
  format: ["esm", "cjs"],
  dts: true,
  clean: true,
  sourcemap: true,
  target: "es2022",
});
