#!/usr/bin/env node
// The package report of issue #14: for every published dmsnap package, its
// entry points (`exports` keys -> files, and bins), the packed tarball size
// and unpacked size (`npm pack --dry-run --json`), and whether the browser
// bundle of format + store core stays free of Node built-ins (the check
// scripts/outside-use.sh runs on the installed tarballs, here on the
// workspace build). Needs `pnpm build`.
//
//   node scripts/package-report.mjs [--json] [--check]
//
// --check: exit 1 when an entry point's file is not in the package's pack
// (a `files` list that leaves it out), or the browser bundle fails.
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { browserBundle, CORE } from "./browser-bundle.mjs";
import { workspacePackages } from "./versions.mjs";

const root = fileURLToPath(new URL("..", import.meta.url));

/** `exports` flattened to [key, condition path, file]: {".": {import: {types, default}}} -> [".", "import.default", "./dist/index.js"], ... */
export function entryPoints(exports) {
  const out = [];
  const walk = (key, value, conditions) => {
    if (typeof value === "string") out.push({ key, condition: conditions.join(".") || "default", file: value.replace(/^\.\//, "") });
    else if (value && typeof value === "object") for (const [c, v] of Object.entries(value)) walk(key, v, [...conditions, c]);
  };
  if (typeof exports === "string") walk(".", exports, []);
  else for (const [key, value] of Object.entries(exports ?? {})) walk(key, value, []);
  return out;
}

function pack(dir) {
  const out = execFileSync("npm", ["pack", "--dry-run", "--json", "--ignore-scripts"], { cwd: join(root, dir), encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
  const [p] = JSON.parse(out);
  return { size: p.size, unpackedSize: p.unpackedSize, entryCount: p.entryCount, files: new Set(p.files.map((f) => f.path)) };
}

/** A folder whose node_modules/@dmsnap/* link to the workspace packages: what an installed project resolves. */
function workspaceProject(packages) {
  const dir = mkdtempSync(join(tmpdir(), "dmsnap-report-"));
  mkdirSync(join(dir, "node_modules", "@dmsnap"), { recursive: true });
  for (const p of packages) symlinkSync(join(root, p.dir), join(dir, "node_modules", p.json.name));
  return dir;
}

const kib = (n) => `${(n / 1024).toFixed(1)} KiB`;

export async function report() {
  const all = workspacePackages(root).map((p) => ({ ...p, json: JSON.parse(readFileSync(p.file, "utf8")) }));
  const order = ["@dmsnap/format", "@dmsnap/store", "@dmsnap/cli", "@dmsnap/conformance", "@dmsnap/spec"];
  const rank = (name) => (order.includes(name) ? order.indexOf(name) : order.length);
  const published = all.filter((p) => !p.json.private).sort((a, b) => rank(a.json.name) - rank(b.json.name));
  const problems = [];
  const packages = published.map((p) => {
    const packed = pack(p.dir);
    const entries = entryPoints(p.json.exports).filter((e) => e.key !== "./package.json");
    const bins = Object.entries(typeof p.json.bin === "string" ? { [p.json.name]: p.json.bin } : (p.json.bin ?? {})).map(([name, file]) => ({ name, file: file.replace(/^\.\//, "") }));
    for (const f of [...entries.map((e) => e.file), ...bins.map((b) => b.file), ...[p.json.man ?? []].flat().map((m) => m.replace(/^\.\//, ""))]) {
      if (!packed.files.has(f)) problems.push(`${p.json.name}: ${f} (an entry point) is not in the packed files`);
    }
    return { name: p.json.name, version: p.json.version, dir: p.dir, entries, bins, man: p.json.man ?? null, packedBytes: packed.size, unpackedBytes: packed.unpackedSize, files: packed.entryCount };
  });
  const project = workspaceProject(all);
  let browser;
  try {
    browser = {
      core: { imports: CORE, ...(await browserBundle(project, CORE)) },
      format: { imports: ["@dmsnap/format"], ...(await browserBundle(project, ["@dmsnap/format"])) },
      // The control: the Node entry must not bundle (it reads files).
      nodeEntry: { imports: ["@dmsnap/store/node"], ...(await browserBundle(project, ["@dmsnap/store/node"])) },
    };
  } finally {
    rmSync(project, { recursive: true, force: true });
  }
  if (!browser.core.ok) problems.push(`format + store core does not bundle for a browser: ${browser.core.errors.slice(0, 3).join("; ")}`);
  if (browser.nodeEntry.ok) problems.push("control: @dmsnap/store/node bundled for a browser, so the check cannot see Node built-ins");
  return { packages, browser, problems };
}

function table(r) {
  const lines = [];
  lines.push("| package | entry points (exports key: import / require / types files; bins) | packed | unpacked | files |");
  lines.push("| --- | --- | ---: | ---: | ---: |");
  for (const p of r.packages) {
    const byKey = new Map();
    for (const e of p.entries) byKey.set(e.key, [...(byKey.get(e.key) ?? []), e.file]);
    const eps = [...byKey].map(([k, files]) => `\`${k}\` ${[...new Set(files)].join(", ")}`);
    for (const b of p.bins) eps.push(`bin \`${b.name}\` ${b.file}`);
    if (p.man) eps.push(`man ${[p.man].flat().map((m) => m.replace(/^\.\/dist\/man\//, "")).join(", ")}`);
    lines.push(`| ${p.name}@${p.version} | ${eps.join("<br>")} | ${kib(p.packedBytes)} | ${kib(p.unpackedBytes)} | ${p.files} |`);
  }
  const b = r.browser;
  const line = (what, x) => `${what}: ${x.ok ? `bundles, no Node built-ins: ${kib(x.bytes)} unminified, ${kib(x.minifiedBytes)} minified, ${kib(x.gzipBytes)} gzipped` : `does NOT bundle${x.nodeBuiltins.length ? ` (Node built-ins: ${x.nodeBuiltins.join(", ")})` : ""}`}`;
  lines.push("", `Browser (esbuild --platform=browser --bundle):`, `- ${line("format + store core", b.core)}`, `- ${line("format alone", b.format)}`, `- ${line("control, @dmsnap/store/node", b.nodeEntry)} (expected: does not)`);
  for (const p of r.problems) lines.push(`PROBLEM: ${p}`);
  return lines.join("\n");
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const argv = process.argv.slice(2);
  const r = await report();
  console.log(argv.includes("--json") ? JSON.stringify(r, null, 2) : table(r));
  process.exit(argv.includes("--check") && r.problems.length > 0 ? 1 : 0);
}
