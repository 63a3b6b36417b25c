import { Command } from "commander";
import { commands } from "./commands/index.js";

export const VERSION = "0.1.0";

/** The dmsnap program with every command registered. */
export function makeProgram(): Command {
  const program = new Command("dmsnap")
    .version(VERSION)
    .description("Inspect, check and write Linux dm-snapshot persistent COW devices")
    .showHelpAfterError("(run with --help for usage)")
    .configureOutput({ outputError: (str, write) => write(str) });
  // Usage errors exit 2, like every other usage error of ours.
  program.exitOverride((err) => {
    process.exit(err.exitCode === 0 ? 0 : 2);
  });
  for (const register of commands) register(program);
  return program;
}

export async function main(argv: string[] = process.argv): Promise<void> {
  await makeProgram().parseAsync(argv);
}
