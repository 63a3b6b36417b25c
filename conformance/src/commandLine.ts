/**
 * The command line of dmsnap-conformance, parsed as dmsnap and dmsnap-tlc
 * parse theirs (commander, one style for the three bins): `-V/--version`,
 * `-h/--help` on stdout with exit 0, and a usage error as one line
 * `<bin>: <CODE>: <message>; run '<bin> --help' for usage` with exit 2, the
 * codes being dmsnap's (UNKNOWN_OPTION, MISSING_ARGUMENT, ...).
 */
import { Command, CommanderError } from "commander";
import { version } from "../package.json";

export const VERSION: string = version;

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

/** For a repeatable option: every value, in order. */
export const repeat = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];

/** The options and arguments, or the exit code when help, the version or a usage error was printed. */
export function parseCommandLine(name: string, help: string, argv: readonly string[], define: (program: Command) => Command): { opts: Record<string, unknown>; args: string[] } | number {
  const program = define(new Command(name).version(VERSION, "-V, --version").helpOption("-h, --help"));
  program.helpInformation = () => `${help}\n`;
  program.exitOverride().configureOutput({ outputError: () => {} });
  try {
    program.parse([...argv]);
  } catch (e) {
    if (!(e instanceof CommanderError)) throw e;
    if (e.code === "commander.helpDisplayed" || e.code === "commander.version") return 0;
    process.stderr.write(`${name}: ${USAGE_CODES[e.code] ?? "USAGE"}: ${e.message.replace(/^error: /, "").replace(/\.$/, "")}; run '${name} --help' for usage\n`);
    return 2;
  }
  return { opts: program.opts(), args: program.args };
}
