#!/usr/bin/env node
// The release tarballs: `pnpm release:pack` builds every package, then packs
// the five published ones into release/ (or --out DIR) and prints how to
// install them. Until the packages are on the npm registry this is how a user
// gets them: `npm install -g release/dmsnap-cli-<version>.tgz`, or several
// tarballs at once into a project (store needs format beside it: an
// @dmsnap dependency not given as a tarball is looked up on the registry).
import { execFileSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const repo = fileURLToPath(new URL("..", import.meta.url));
const at = process.argv.indexOf("--out");
const out = resolve(process.cwd(), at > 0 ? process.argv[at + 1] : join(repo, "release"));
const { version } = JSON.parse(readFileSync(join(repo, "package.json"), "utf8"));
const packages = ["packages/format", "packages/store", "packages/cli", "conformance", "spec"];

mkdirSync(out, { recursive: true });
for (const f of readdirSync(out)) if (/^dmsnap-.*\.tgz$/.test(f)) rmSync(join(out, f));
for (const p of packages) execFileSync("pnpm", ["pack", "--pack-destination", out], { cwd: join(repo, p), stdio: ["ignore", "ignore", "inherit"] });
const shown = out;
const tgz = (name) => join(shown, `dmsnap-${name}-${version}.tgz`);
process.stdout.write(
  `release tarballs (${version}) in ${out}:\n${readdirSync(out).filter((f) => f.endsWith(".tgz")).map((f) => `  ${f}`).join("\n")}\n\n` +
    `install them:\n` +
    `  npm install -g ${tgz("cli")}                  # dmsnap, man dmsnap\n` +
    `  npm install --save-dev ${tgz("conformance")}  # npx dmsnap-conformance --reader-command "..."\n` +
    `  npm install --save-dev ${tgz("spec")}         # npx dmsnap-tlc --manifest ...\n` +
    `  npm install ${tgz("format")} ${tgz("store")}  # the libraries (store needs format beside it)\n`,
);
