import { readFileSync } from "node:fs";
import { defineConfig } from "tsup";

const { version } = JSON.parse(readFileSync(new URL("./package.json", import.meta.url), "utf8")) as { version: string };

export default defineConfig({
  entry: { bin: "src/bin.ts", demo: "src/demo.ts", index: "src/index.ts" },
  format: ["esm"],
  dts: { entry: { index: "src/index.ts" } },
  clean: true,
  sourcemap: true,
  target: "node20",
  // The workspace libraries are bundled in, so the built CLI runs on its own.
  noExternal: [/^@dmsnap\//],
  // The entry prints --version from this constant, so that it imports nothing (src/bin.ts).
  define: { DMSNAP_VERSION: JSON.stringify(version) },
});
