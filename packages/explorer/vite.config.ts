import { defineConfig } from "vite";
import { casesPlugin } from "./build/casesPlugin.js";
import { formatDocPlugin } from "./build/formatDoc.js";

// Relative base: dist/ works from any static server path.
export default defineConfig({
  base: "./",
  build: { outDir: "dist", emptyOutDir: true, target: "es2022", chunkSizeWarningLimit: 1000 },
  worker: { format: "es" },
  plugins: [casesPlugin(), formatDocPlugin()],
});
