import { describeError, Exit } from "./errors.js";
import { stdoutError, stdoutStatus, writeStderr, writeStdout } from "./textSink.js";

/**
 * Runs a command body and turns failures into the documented output and exit
 * code: with --json an {"error": {code, message}} object on stdout, otherwise
 * "dmsnap: CODE: message" on stderr.
 */
export async function runCommand(json: boolean, body: () => Promise<number | void> | number | void): Promise<void> {
  quietOnClosedPipe();
  try {
    const code = await body();
    process.exitCode = typeof code === "number" ? code : 0;
  } catch (e) {
    const { code, message, exitCode } = describeError(e);
    if (process.env.DMSNAP_DEBUG === "1" && e instanceof Error) writeStderr(`${e.stack ?? e.message}\n`);
    printError(json, code, message);
    process.exitCode = exitCode;
  }
}

let pipeHandled = false;
/**
 * `dmsnap dump --lossless big.img | head` closes stdout early: stop quietly
 * instead of crashing on EPIPE. Every other stdout error is IO_<errno>, exit 2
 * (dmsnap's own output is written synchronously and throws where it fails;
 * this catches what a library wrote through the stream). A failing stderr
 * cannot be reported anywhere: it is ignored, the exit code still tells.
 */
function quietOnClosedPipe(): void {
  if (pipeHandled) return;
  pipeHandled = true;
  process.stdout.on("error", (e: NodeJS.ErrnoException) => {
    if (e.code === "EPIPE") process.exit(process.exitCode ?? 0);
    const { code, message } = stdoutError(e);
    writeStderr(`dmsnap: ${code}: ${message}\n`);
    process.exit(Exit.Usage);
  });
  process.stderr.on("error", () => {});
}

let quiet = false;

/** -q/--quiet: set once before a command runs (main.ts), read by say, warn and progress. */
export function setQuiet(on: boolean): void {
  quiet = on;
}
export function isQuiet(): boolean {
  return quiet;
}

/** A command's result or readable summary on stdout; nothing under -q (the exit code is the answer). */
export function say(text: string): void {
  if (!quiet) writeStdout(text);
}

/** A warning line `dmsnap: TEXT` on stderr; nothing under -q. Errors are printError's and always print. */
export function warn(text: string): void {
  if (!quiet) writeStderr(`dmsnap: ${text}\n`);
}

/**
 * Prints an error the documented way (also for usage errors found before a
 * command runs). Under --json the error object goes to stdout only while
 * nothing else has: after part of a document (or a failed write) stdout holds
 * the whole document or nothing parseable as one, and the error goes to
 * stderr.
 */
export function printError(json: boolean, code: string, message: string): void {
  if (json && stdoutStatus() === "unused") {
    try {
      writeStdout(`${JSON.stringify({ error: { code, message } })}\n`);
      return;
    } catch (e) {
      const failed = describeError(e);
      writeStderr(`dmsnap: ${failed.code}: ${failed.message}\n`);
    }
  }
  writeStderr(`dmsnap: ${code}: ${message}\n`);
}
