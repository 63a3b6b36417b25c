#!/usr/bin/env node
// `dmsnap --version` is answered here, before the commands (commander, the
// codec, the store) are loaded: start-up is most of what it costs, and the
// rest of the CLI is one dynamic import away. Anything else goes to main.
import { version } from "../package.json";

const args = process.argv.slice(2);
if (args.length === 1 && (args[0] === "--version" || args[0] === "-V")) {
  process.stdout.write(`${version}\n`);
} else {
  const { main } = await import("./main.js");
  void main();
}
