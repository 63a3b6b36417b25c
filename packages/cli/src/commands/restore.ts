import { closeSync, ftruncateSync, openSync, readFileSync, statSync } from "node:fs";
import type { Command } from "commander";
import { FileDevice } from "@dmsnap/store";
import { CliError, Exit } from "../util/errors.js";
import { fileError } from "../util/ioErrors.js";
import { parseLosslessDump, restoreToDevice, type LosslessDump } from "../util/metadataImage.js";
import { runCommand } from "../util/output.js";
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
        let text: string;
        try {
          text = readFileSync(dumpPath === "-" ? 0 : dumpPath, "utf8");
        } catch (e) {
          throw fileError(e, dumpPath, "read");
        }
        const dump = parseLosslessDump(text);
        const created = createIfMissing(opts.cow, dump);
        let dev: FileDevice;
        try {
          dev = await FileDevice.open(opts.cow);
        } catch (e) {
          throw fileError(e, opts.cow, "open for writing");
        }
        const progress = makeProgress(opts.progress);
        try {
          const r = await restoreToDevice(dev, dump, { force: !!opts.force, progress, targetName: opts.cow });
          const out = { cow: opts.cow, created, overwrote: created ? "none" : r.overwrote, deviceBytes: dump.deviceBytes, targetBytes: dev.size, chunkSize: dump.header.chunkSize, valid: dump.header.valid, exceptions: dump.exceptions.count, areasWritten: r.areasWritten };
          process.stdout.write(
            opts.json
              ? `${JSON.stringify(out)}\n`
              : `restored ${out.exceptions} exceptions in ${out.areasWritten} metadata area(s) and the header (chunk size ${out.chunkSize} sectors, valid ${out.valid}) to ${opts.cow}${created ? ` (created, ${formatBytes(dump.deviceBytes)} sparse)` : out.overwrote === "blank" ? "" : ` (replaced its previous ${out.overwrote === "snapshot" ? "snapshot metadata" : "contents' header chunk"})`}\n`,
          );
        } finally {
          progress.stop();
          await dev.close();
        }
      }),
    );
}

/** Creates the target as a sparse file of the dump's device size when it does not exist. */
function createIfMissing(path: string, dump: LosslessDump): boolean {
  try {
    statSync(path);
    return false;
  } catch (e) {
    if ((e as { code?: string }).code !== "ENOENT") throw fileError(e, path, "stat");
  }
  let fd: number;
  try {
    fd = openSync(path, "wx");
  } catch (e) {
    throw fileError(e, path, "create");
  }
  try {
    ftruncateSync(fd, dump.deviceBytes);
  } catch (e) {
    throw fileError(e, path, `size to ${dump.deviceBytes} bytes`);
  } finally {
    closeSync(fd);
  }
  if (statSync(path).size !== dump.deviceBytes) throw new CliError("IO_SIZE", `could not make ${path} ${dump.deviceBytes} bytes long`, Exit.Usage);
  return true;
}
