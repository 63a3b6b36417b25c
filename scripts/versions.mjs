#!/usr/bin/env node
// One version for every dmsnap package: the root package.json's `version` is
// the only one anyone edits. `node scripts/versions.mjs` (pnpm versions)
// checks that every workspace package has it and that every dependency on
// another dmsnap package is `workspace:*` (pnpm pack writes the exact version
// there, so a packed package always asks for its own release of the others);
// `--set [X]` sets the root to X (if given) and writes it into every package.
// Exit 0 in step, 1 with one line per mismatch.
import { readdirSync, readFileSync, writeFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const SEMVER = /^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/;
const DEP_FIELDS = ["dependencies", "devDependencies", "peerDependencies", "optionalDependencies"];

/** The workspace's package.json files (the globs of pnpm-workspace.yaml: `dir/*` or `dir`). */
export function workspacePackages(root) {
  const globs = [...readFileSync(join(root, "pnpm-workspace.yaml"), "utf8").matchAll(/^\s*-\s*["']?([^"'\s]+)["']?\s*$/gm)].map((m) => m[1]);
  const dirs = globs.flatMap((g) => (g.endsWith("/*") ? readdirSync(join(root, g.slice(0, -2)), { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => join(g.slice(0, -2), d.name)) : [g]));
  return dirs.filter((d) => existsSync(join(root, d, "package.json"))).map((d) => ({ dir: d, file: join(root, d, "package.json") }));
}

/**
 * Mismatches between the root version and the packages: `root` is the root
 * package.json object, `packages` a list of {dir, json}. Pure, so a test can
 * hand it a broken set.
 */
export function versionProblems(root, packages) {
  const problems = [];
  const want = root.version;
  if (typeof want !== "string" || !SEMVER.test(want)) problems.push(`package.json: version ${JSON.stringify(want)} is not a semantic version (1.2.3): set it with --set 1.2.3`);
  const names = new Set(packages.map((p) => p.json.name));
  for (const { dir, json } of packages) {
    if (json.version !== want) problems.push(`${dir}/package.json: ${json.name} has version ${json.version}, the root has ${want}: run node scripts/versions.mjs --set`);
    for (const field of DEP_FIELDS) {
      for (const [dep, range] of Object.entries(json[field] ?? {})) {
        if (names.has(dep) && range !== "workspace:*") problems.push(`${dir}/package.json: ${field} ${dep} is ${JSON.stringify(range)}, not "workspace:*" (packed as exactly the version the root gives)`);
      }
    }
  }
  return problems;
}

function main(argv) {
  const root = fileURLToPath(new URL("..", import.meta.url));
  const rootFile = join(root, "package.json");
  const rootJson = JSON.parse(readFileSync(rootFile, "utf8"));
  const packages = workspacePackages(root).map((p) => ({ ...p, json: JSON.parse(readFileSync(p.file, "utf8")) }));
  const at = argv.indexOf("--set");
  if (at >= 0) {
    const version = argv[at + 1];
    if (version !== undefined) {
      if (!SEMVER.test(version)) {
        console.error(`versions: '${version}' is not a semantic version (1.2.3)`);
        return 2;
      }
      rootJson.version = version;
      writeFileSync(rootFile, `${JSON.stringify(rootJson, null, 2)}\n`);
    }
    for (const p of packages) {
      if (p.json.version === rootJson.version) continue;
      p.json.version = rootJson.version;
      writeFileSync(p.file, `${JSON.stringify(p.json, null, 2)}\n`);
      console.log(`${p.dir}: ${rootJson.version}`);
    }
  }
  const problems = versionProblems(rootJson, packages);
  for (const line of problems) console.error(line);
  console.log(problems.length === 0 ? `versions: ${packages.length} packages at ${rootJson.version}` : `versions: ${problems.length} mismatch(es)`);
  return problems.length === 0 ? 0 : 1;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) process.exit(main(process.argv.slice(2)));
