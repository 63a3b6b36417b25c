// `pnpm bench`: runs every package's benchmark (packages/*/bench/run.mjs)
// against the built packages. Build first (`pnpm build`). One argument filters
// by package name: `pnpm bench store`.
import { existsSync, readdirSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { join } from "node:path";

const only = process.argv[2];
const root = new URL("..", import.meta.url).pathname;
let failed = 0;
for (const pkg of readdirSync(join(root, "packages"))) {
  const script = join(root, "packages", pkg, "bench", "run.mjs");
  if (!existsSync(script) || (only && only !== pkg)) continue;
  if (!existsSync(join(root, "packages", pkg, "dist"))) {
    console.error(`bench: packages/${pkg} is not built; run 'pnpm build' first`);
    failed++;
    continue;
  }
  console.log(`\n== ${pkg} ==`);
  const r = spawnSync(process.execPath, ["--expose-gc", script], { stdio: "inherit", cwd: join(root, "packages", pkg) });
  if (r.status !== 0) failed++;
}
process.exit(failed ? 1 : 0);
