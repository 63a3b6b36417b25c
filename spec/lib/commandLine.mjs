// The command line of dmsnap-tlc, parsed as dmsnap and dmsnap-conformance
// parse theirs (commander, one style for the three bins): -V/--version,
// -h/--help on stdout with exit 0, and a usage error as one line
// `<bin>: <CODE>: <message>; run '<bin> --help' for usage` with exit 2.
import { readFileSync } from "node:fs";
import { Command, CommanderError } from "commander";

export const VERSION = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")).version;

/** @type {Record<string, string>} */
const USAGE_CODES = {
  "commander.unknownOption": "UNKNOWN_OPTION",
  "commander.unknownCommand": "UNKNOWN_COMMAND",
  "commander.missingArgument": "MISSING_ARGUMENT",
  "commander.optionMissingArgument": "MISSING_ARGUMENT",
  "commander.missingMandatoryOptionValue": "MISSING_ARGUMENT",
  "commander.invalidArgument": "BAD_OPTION",
  "commander.excessArguments": "EXTRA_ARGUMENT",
  "commander.conflictingOption": "CONFLICTING_OPTIONS",
};

/**
 * @param {string} name
 * @param {string} help the whole --help text
 * @param {readonly string[]} argv
 * @param {(program: Command) => Command} define
 * @returns {{ opts: Record<string, any>, args: string[] } | number} the options and arguments, or the exit code when help, the version or a usage error was printed
 */
export function parseCommandLine(name, help, argv, define) {
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
