#!/usr/bin/env node
// A committed launcher: pnpm links bins at install time, before `pnpm build`
// has made dist/, so the link must point at a file that is in the clone.
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const built = new URL("../dist/bin.js", import.meta.url);
if (!existsSync(fileURLToPath(built))) {
  process.stderr.write(
    "dmsnap: NOT_BUILT: the CLI has not been built yet.\n" +
      "Next step: run `pnpm build` at the repository root, then run the command again.\n",
  );
  process.exit(2);
}
await import(built.href);
