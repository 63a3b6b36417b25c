#!/usr/bin/env node
// `dmsnap --version` is answered here, before the commands (commander, the
// codec, the store) are loaded: start-up is most of what it costs, and the
// rest of the CLI is one dynamic import away. Anything else goes to main,
// except `dump <cow> --json`, which runs without commander (dumpJson.ts).
// DMSNAP_VERSION is package.json's version, put in by the bundler (tsup.config.ts):
// an import of package.json here would be one more module to load first.
declare const DMSNAP_VERSION: string;

const args = process.argv.slice(2);
if (args.length === 1 && (args[0] === "--version" || args[0] === "-V")) {
  process.stdout.write(`${DMSNAP_VERSION}\n`);
} else if (args.length === 3 && args[0] === "dump" && args.includes("--json")) {
  const { dumpJson, dumpJsonTarget } = await import("./dumpJson.js");
  const cow = dumpJsonTarget(args);
  if (cow !== null) void dumpJson(cow);
  else void (await import("./main.js")).main();
} else {
  const { main } = await import("./main.js");
  void main();
}

// An ES module (for the top-level await above), though it imports nothing statically.
export {};
