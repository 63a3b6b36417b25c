#!/usr/bin/env node
// Conformance reader over the dmsnap CLI (packages/cli/dist/bin.js), exactly as
// a user runs it:
//   dump <cow> [--chunk-size N]            -> dmsnap dump <cow> --json [--chunk-size N]
//   export <origin> <cow> [--chunk-size N] -> dmsnap export --origin <origin> --cow <cow> --output <tmp> --json, then the file on stdout
//                                            (or, when it refuses, its error object)
// Exit codes and stdout pass through unchanged, with one exception: dmsnap export
// refuses a COW whose magic is 0 over data (NEW_COW_NOT_BLANK: a raced COW's
// exceptions are live, so exporting the origin as its view would mislead a user),
// but the kernel activates it as new and serves the origin, and the protocol asks
// for the kernel's view: the adapter prints the origin then.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const bin = resolve(fileURLToPath(import.meta.url), "../../../../packages/cli/dist/bin.js");
const [op, ...rest] = process.argv.slice(2);
const pos = rest.filter((a, i) => a !== "--chunk-size" && rest[i - 1] !== "--chunk-size");
const table = rest.includes("--chunk-size") ? ["--chunk-size", rest[rest.indexOf("--chunk-size") + 1]] : [];

function run(args, stdio) {
  const r = spawnSync(process.execPath, [bin, ...args], { stdio, maxBuffer: 1 << 30 });
  if (r.error) throw r.error;
  if (r.signal) process.kill(process.pid, r.signal);
  return r;
}

if (op === "dump" && pos.length === 1) {
  process.exit(run(["dump", pos[0], "--json", ...table], "inherit").status ?? 2);
} else if (op === "export" && pos.length === 2) {
  const dir = mkdtempSync(join(tmpdir(), "dmsnap-cli-export-"));
  try {
    const out = join(dir, "view.img");
    // --json: a refusal is the error object on stdout, as the protocol wants.
    const r = run(["export", "--origin", pos[0], "--cow", pos[1], "--output", out, "--json", ...table], ["ignore", "pipe", "inherit"]);
    if (r.status === 1 && /"code":"NEW_COW_NOT_BLANK"/.test(r.stdout.toString())) {
      const view = readFileSync(pos[0]);
      let done = 0;
      while (done < view.length) done += writeSync(1, view, done, view.length - done);
      process.exit(0);
    }
    if (r.status !== 0) {
      process.stdout.write(r.stdout);
      process.exit(r.status ?? 2);
    }
    const view = readFileSync(out);
    let done = 0;
    while (done < view.length) done += writeSync(1, view, done, view.length - done);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
} else {
  process.stderr.write("usage: reader.mjs dump <cow> [--chunk-size N] | export <origin> <cow> [--chunk-size N]\n");
  process.exit(2);
}
