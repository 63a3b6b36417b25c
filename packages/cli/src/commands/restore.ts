import { statSync } from "node:fs";
import { spoolStdin } from "../util/spool.js";
import type { Command } from "commander";
import { fileError } from "../util/ioErrors.js";
import { identify, openDevice, openImage, refuseSameFile, type Named } from "../util/inputs.js";
import { cleanUpOnSignals, createOutput, followLinks, type Output } from "../util/outputs.js";
import { readLosslessDump } from "@dmsnap/format";
import { pieceReader } from "../util/streamCow.js";
import { restoreMetadata } from "@dmsnap/store";
import { runCommand, say } from "../util/output.js";
import { quietOption } from "../util/options.js";
import { makeProgress, progressOption, type ProgressMode } from "../util/progress.js";
import { formatBytes } from "../util/units.js";

interface RestoreOptions {
  cow: string;
  force?: boolean;
  json?: boolean;
  progress?: ProgressMode;
}

export function register(program: Command): void {
  program
    .command("restore")
    .description("rebuild a COW device's metadata from a lossless dump ('dmsnap dump --lossless')")
    .argument("<dump>", "lossless dump file ('-' reads standard input)")
    .requiredOption("--cow <file>", "COW file or block device to write; a missing file is created (sparse, deviceBytes long)")
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

Exit: 0 restored, 1 the dump is invalid or the target was refused (COW_EXISTS,
TARGET_NOT_BLANK, TARGET_TOO_SMALL), 2 usage or I/O error.`,
    )
    .action((dumpPath: string, opts: RestoreOptions) =>
      runCommand(!!opts.json, async () => {
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
    const dev = output ? output.device(dump.deviceBytes) : opened!.device;
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


/** Whether the path (symlinks followed) names something that exists. */
function existsFollowing(path: string): boolean {
  try {
    statSync(followLinks(path, "--cow"));
    return true;
  } catch (e) {
    if ((e as { code?: string }).code !== "ENOENT") throw fileError(e, path, "look up --cow");
    return false;
  }
}
