import { statSync } from "node:fs";
import { spoolStdin } from "../util/spool.js";
import type { Command } from "commander";
import { fileError } from "../util/ioErrors.js";
import { identify, openDevice, openImage, refuseSameFile, type Named } from "../util/inputs.js";
import { cleanUpOnSignals, createOutput, followLinks, type Output } from "../util/outputs.js";
import { readLosslessDump } from "@dmsnap/format";
import { pieceReader } from "../util/streamCow.js";
import { restoreMetadata } from "@dmsnap/store";
import { BlockingFileDevice } from "@dmsnap/store/node";
import { runCommand, say } from "../util/output.js";
import { conflicting, quietOption } from "../util/options.js";
import { CliError, Exit } from "../util/errors.js";
import { checkFileName } from "../util/paths.js";
import { makeProgress, progressOption, type ProgressMode } from "../util/progress.js";
import { formatBytes } from "../util/units.js";

interface RestoreOptions {
  cow: string;
  input?: string;
  output?: string;
  force?: boolean;
  json?: boolean;
  progress?: ProgressMode;
}

export function register(program: Command): void {
  program
    .command("restore")
    .description("rebuild a COW device's metadata from a lossless dump ('dmsnap dump --lossless')")
    .argument("[dump]", "lossless dump file ('-' reads standard input); or -i")
    .option("-i, --input <dump>", "the dump, as thin_restore -i names it (instead of the argument)")
    .option("--cow <file>", "COW file or block device to write; a missing file is created (sparse, deviceBytes long)")
    .option("-o, --output <cow>", "the same as --cow, as thin_restore -o names it")
    .option("--force", "overwrite a target that already holds a snapshot header or other data")
    .option("--json", "print one JSON object describing what was written")
    .addOption(quietOption("print no result line; errors on stderr"))
    .addOption(progressOption())
    .addHelpText(
      "after",
      `
Writes the header and the metadata areas exactly as the kernel lays them out;
data chunks are not touched. Crash-safe: a target that is not blank first has
its header chunk zeroed (and synced), then the areas are written and synced,
and the header is written last. An interrupted restore leaves the old image
(nothing overwritten yet), a blank COW, or the complete result; rerun it.

Examples:
  $ dmsnap dump cow.img --lossless > cow.dump.json
  $ dmsnap restore cow.dump.json --cow rebuilt.img
  $ dmsnap restore cow.dump.json --cow /dev/vg/snap-cow --force
  $ dmsnap restore -i cow.dump.json -o rebuilt.img      # thin_restore's spelling

Exit: 0 restored, 1 the dump is invalid or the target too small (TARGET_TOO_SMALL),
2 usage or I/O error, or the target already holds data (COW_EXISTS,
TARGET_NOT_BLANK: --force).`,
    )
    .action((dumpArgument: string | undefined, opts: RestoreOptions) =>
      runCommand(!!opts.json, async () => {
        const dumpPath = oneOf(dumpArgument, "<dump>", opts.input, "--input", "missing required argument 'dump' (or -i/--input <dump>)");
        opts.cow = oneOf(opts.cow, "--cow", opts.output, "--output", "required option '--cow <file>' (or -o/--output <cow>) not specified");
        // '-' and '' are refused before the dump is read (the path rule, docs/cli.md).
        checkFileName(opts.cow, opts.output !== undefined ? "--output" : "--cow", "output");
        // Standard input is spooled to a temporary file: the dump is read twice (check, then write).
        const spool = dumpPath === "-" ? await spoolStdin() : null;
        try {
          await restoreFrom(spool?.path ?? dumpPath, spool !== null, opts);
        } finally {
          spool?.remove();
        }
      }),
    );
}

/**
 * Checks the dump in `source` (a first streamed pass, constant memory), then
 * restores it (a second pass). The dump stays open, under its shared lock,
 * for both passes.
 */
async function restoreFrom(source: string, spooled: boolean, opts: RestoreOptions): Promise<void> {
  // Through the one input opener: a FIFO or device is refused, a writer's lock respected.
  const file = openImage(source, "<dump>");
  try {
    const inputs: Named[] = spooled ? [] : [file];
    // One reused 1 MiB read buffer: the tokenizer keeps no piece past its push.
    const dump = readLosslessDump(pieceReader(file));
    cleanUpOnSignals();
    // A missing target is built whole as a temporary and put in place at the end; an existing one is rewritten in place, locked.
    const created = !existsFollowing(opts.cow);
    let output: Output | undefined;
    if (created) {
      output = await createOutput(opts.cow, { role: "--cow", inputs, force: false });
      try {
        await output.handle.truncate(dump.deviceBytes);
      } catch (e) {
        await output.abort();
        throw fileError(e, opts.cow, `make a ${dump.deviceBytes}-byte`);
      }
    } else {
      refuseSameFile([...inputs, identify(opts.cow, "--cow")]);
    }
    const opened = output ? undefined : await openDevice(opts.cow, "--cow", true);
    // Synchronous calls: restore does nothing else meanwhile, and a thread-pool round trip
    // per metadata area (117,188 of them at 30 M exceptions, 4 KiB chunks) cost more than the writes.
    const dev = output ? output.blockingDevice(dump.deviceBytes) : BlockingFileDevice.fromHandle(opened!.path, opened!.handle, opened!.size, undefined, opened!.logicalBlockSize);
    const progress = makeProgress(opts.progress);
    try {
      const r = await restoreMetadata(dev, dump, { force: !!opts.force || created, progress, targetName: opts.cow, targetIsZero: created });
      await output?.commit();
      const out = { cow: opts.cow, created, overwrote: created ? "none" : r.overwrote, deviceBytes: dump.deviceBytes, targetBytes: dev.size, chunkSize: dump.header.chunkSize, valid: dump.header.valid, exceptions: dump.exceptionCount, areasWritten: r.areasWritten };
      say(
        opts.json
          ? `${JSON.stringify(out)}\n`
          : `restored ${out.exceptions} exceptions in ${out.areasWritten} metadata area(s) and the header (chunk size ${out.chunkSize} sectors, valid ${out.valid}) to ${opts.cow}${created ? ` (created, ${formatBytes(dump.deviceBytes)} sparse)` : out.overwrote === "blank" ? "" : ` (replaced its previous ${out.overwrote === "snapshot" ? "snapshot metadata" : "contents' header chunk"})`}\n`,
      );
    } finally {
      progress.stop();
      if (output) await output.abort();
      else await opened!.close();
    }
  } finally {
    file.close();
  }
}


/** The value of one of two spellings (thin_restore's -i/-o, or ours): both is CONFLICTING_OPTIONS, neither MISSING_ARGUMENT. */
function oneOf(a: string | undefined, aName: string, b: string | undefined, bName: string, missing: string): string {
  if (a !== undefined && b !== undefined) throw conflicting(aName, bName);
  const value = a ?? b;
  if (value === undefined) throw new CliError("MISSING_ARGUMENT", `${missing}; run 'dmsnap restore --help' for usage`, Exit.Usage);
  return value;
}

/** Whether the path (symlinks followed) names something that exists. */
function existsFollowing(path: string): boolean {
  try {
    statSync(followLinks(path, "--cow"));
    return true;
  } catch (e) {
    if (e instanceof CliError) throw e;
    if ((e as { code?: string }).code !== "ENOENT") throw fileError(e, path, "look up --cow");
    return false;
  }
}
