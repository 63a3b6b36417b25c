#!/usr/bin/env node
// The browser check of issue #14, shared by scripts/outside-use.sh (on the
// installed tarballs) and scripts/package-report.mjs (on the workspace):
// bundle imports of dmsnap packages with esbuild for a browser and report the
// size and any Node built-in the bundle would need (esbuild refuses those for
// platform=browser, so "bundled" means "Node built-in free").
//
//   node scripts/browser-bundle.mjs DIR [--import SPEC]...
//
// resolves the imports from DIR (a project with node_modules/@dmsnap/...);
// without --import: @dmsnap/format and @dmsnap/store (the core entries).
// Exit 0 bundled, 1 not (the unresolved modules are printed).
import { builtinModules } from "node:module";
import { gzipSync } from "node:zlib";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

export const CORE = ["@dmsnap/format", "@dmsnap/store"];
const BUILTINS = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));

/**
 * Bundles `import * as m0 from SPEC; ...` for a browser, resolved from
 * `resolveDir`. Returns {ok, bytes, minifiedBytes, gzipBytes, nodeBuiltins,
 * errors}; sizes are 0 when it does not bundle.
 */
export async function browserBundle(resolveDir, imports = CORE) {
  const contents = `${imports.map((s, i) => `import * as m${i} from ${JSON.stringify(s)};`).join("\n")}\nexport { ${imports.map((_s, i) => `m${i}`).join(", ")} };\n`;
  // tsconfigRaw: as an installed project sees the packages (their dist), never a workspace tsconfig's paths to sources.
  const options = { stdin: { contents, resolveDir, loader: "js" }, bundle: true, platform: "browser", format: "esm", write: false, logLevel: "silent", tsconfigRaw: {} };
  try {
    const plain = await build(options);
    const min = await build({ ...options, minify: true });
    const code = min.outputFiles[0].contents;
    return { ok: true, bytes: plain.outputFiles[0].contents.length, minifiedBytes: code.length, gzipBytes: gzipSync(code).length, nodeBuiltins: [], errors: [] };
  } catch (e) {
    const errors = (e.errors ?? [{ text: String(e) }]).map((m) => `${m.location ? `${m.location.file}:${m.location.line}: ` : ""}${m.text}`);
    const nodeBuiltins = [...new Set((e.errors ?? []).map((m) => /Could not resolve "([^"]+)"/.exec(m.text)?.[1]).filter((m) => m && BUILTINS.has(m)))];
    return { ok: false, bytes: 0, minifiedBytes: 0, gzipBytes: 0, nodeBuiltins, errors };
  }
}

async function main(argv) {
  const dir = argv[0];
  if (!dir) {
    console.error("usage: browser-bundle.mjs DIR [--import SPEC]...");
    return 2;
  }
  const imports = argv.flatMap((a, i) => (argv[i - 1] === "--import" ? [a] : []));
  const r = await browserBundle(dir, imports.length > 0 ? imports : CORE);
  if (!r.ok) {
    console.error(`does not bundle for a browser${r.nodeBuiltins.length ? ` (Node built-ins: ${r.nodeBuiltins.join(", ")})` : ""}:`);
    for (const e of r.errors.slice(0, 10)) console.error(`  ${e}`);
    return 1;
  }
  console.log(`${(imports.length ? imports : CORE).join(" + ")}: ${(r.bytes / 1024).toFixed(1)} KiB unminified, ${(r.minifiedBytes / 1024).toFixed(1)} KiB minified, ${(r.gzipBytes / 1024).toFixed(1)} KiB gzipped; no Node built-ins`);
  return 0;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) process.exit(await main(process.argv.slice(2)));
