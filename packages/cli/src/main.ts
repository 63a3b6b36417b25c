import { Command, CommanderError } from "commander";
import { commands } from "./commands/index.js";
import { describeError, Exit } from "./util/errors.js";
import { refuseLossyArguments } from "./util/paths.js";
import { printError, setQuiet } from "./util/output.js";

// The one place the version lives is package.json; the bundler inlines it.
import { version } from "../package.json";

export const VERSION: string = version;

/** Commander's error codes mapped to ours: a script matches on these, never on commander's wording. */
const USAGE_CODES: Record<string, string> = {
  "commander.unknownOption": "UNKNOWN_OPTION",
  "commander.unknownCommand": "UNKNOWN_COMMAND",
  "commander.missingArgument": "MISSING_ARGUMENT",
  "commander.optionMissingArgument": "MISSING_ARGUMENT",
  "commander.missingMandatoryOptionValue": "MISSING_ARGUMENT",
  "commander.invalidArgument": "BAD_OPTION",
  "commander.excessArguments": "EXTRA_ARGUMENT",
  "commander.conflictingOption": "CONFLICTING_OPTIONS",
};

/** The dmsnap program with every command registered. */
export function makeProgram(argv: readonly string[] = process.argv): Command {
  const program = new Command("dmsnap")
    .version(VERSION)
    .description("Inspect, check and write Linux dm-snapshot persistent COW devices")
    // Our own error line replaces commander's (see usageError).
    .configureOutput({ outputError: () => {} });
  program.exitOverride((err) => usageError(err, argv, program));
  // -q is read by say/warn/progress (util/output.ts), so no command body has to pass it on.
  program.hook("preAction", (_program, command) => setQuiet(command.opts().quiet === true));
  for (const register of commands) register(program);
  return program;
}

/**
 * Usage errors keep the README's contract: a stable code, exit 2, and under
 * --json `{"error": {"code", "message"}}` on stdout. Help and --version exit 0.
 */
function usageError(err: CommanderError, argv: readonly string[], program: Command): never {
  if (err.exitCode === 0 || err.code === "commander.helpDisplayed" || err.code === "commander.version") process.exit(0);
  // `dmsnap` alone: commander has printed the help on stderr.
  if (err.code === "commander.help") process.exit(Exit.Usage);
  const args = argv.slice(2);
  const json = jsonRequested(args);
  const command = args.find((a) => program.commands.some((c) => c.name() === a));
  const code = USAGE_CODES[err.code] ?? "USAGE";
  const message = err.message.replace(/^error: /, "").replace(/\.$/, "");
  printError(json, code, `${message}; run 'dmsnap ${command ? `${command} ` : ""}--help' for usage`);
  process.exit(Exit.Usage);
}

export async function main(argv: string[] = process.argv): Promise<void> {
  // The path rule: an argument Node could not decode exactly is refused before anything is opened.
  try {
    refuseLossyArguments(argv);
  } catch (e) {
    const { code, message, exitCode } = describeError(e);
    printError(jsonRequested(argv.slice(2)), code, message);
    process.exitCode = exitCode;
    return;
  }
  await makeProgram(argv).parseAsync(argv);
}

/** --json among the options (not after `--`). */
function jsonRequested(args: readonly string[]): boolean {
  const end = args.indexOf("--");
  return (end < 0 ? args : args.slice(0, end)).includes("--json");
}
