/**
 * `dmsnap dump <cow> --json`, the form scripts and the conformance protocol
 * run most, straight from the entry (bin.ts): the same body as the dump
 * command (commands/dumpRun.ts) and the same rules as main.ts, without
 * loading commander and the other commands first (a fifth of a small dump's
 * time). Any other command line goes through main.ts.
 */
import { runDump } from "./commands/dumpRun.js";
import { describeError } from "./util/errors.js";
import { printError, runCommand } from "./util/output.js";
import { refuseLossyArguments } from "./util/paths.js";

/**
 * The `<cow>` of a command line (after the node and script arguments) that
 * is exactly `dump <cow> --json` or `dump --json <cow>`, or null. A `<cow>`
 * that starts with "-" is left to commander (an option, `--`, `-h`).
 */
export function dumpJsonTarget(args: readonly string[]): string | null {
  if (args.length !== 3 || args[0] !== "dump") return null;
  const cow = args[1] === "--json" ? args[2]! : args[2] === "--json" ? args[1]! : null;
  return cow === null || cow.startsWith("-") ? null : cow;
}

/** Runs `dmsnap dump <cow> --json` as main() would (dumpJsonTarget said it is one). */
export async function dumpJson(cow: string, argv: string[] = process.argv): Promise<void> {
  // The path rule, as main() applies it before anything is opened.
  try {
    refuseLossyArguments(argv);
  } catch (e) {
    const { code, message, exitCode } = describeError(e);
    printError(true, code, message);
    process.exitCode = exitCode;
    return;
  }
  await runCommand(true, () => runDump(cow, { json: true }));
}
