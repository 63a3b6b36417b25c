import { defineConfig } from "tsup";

export default defineConfig({
  entry: { bin: "src/bin.ts", demo: "src/demo.ts", index: "src/index.ts" },
  format: ["esm"],
  dts: { entry: { index: "src/index.ts" } },
  clean: true,
  sourcemap: true,
  target: "node20",
  // The workspace libraries are bundled in, so the built CLI runs on its own.
  noExternal: [/^@dmsnap\//],
});
