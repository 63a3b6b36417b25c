import type { Command } from "commander";
import { exportSnapshot } from "@dmsnap/store/node";
import { closeAll, identify, openDevice, refuseSameFile, type OpenedDevice } from "../util/inputs.js";
import { cleanUpOnSignals, createOutput, type Output } from "../util/outputs.js";
import { runCommand, say } from "../util/output.js";
import { parseSectors, quietOption } from "../util/options.js";
import { formatBytes } from "../util/units.js";
import { makeProgress, progressOption, type ProgressMode } from "../util/progress.js";

interface ExportOpts {
  origin: string;
  cow: string;
  output: string;
  chunkSize?: string;
  json?: boolean;
  force?: boolean;
  progress?: ProgressMode;
}

export function register(program: Command): void {
  program
    .command("export")
    .description("write the snapshot view as a raw image (streamed, bounded memory; origin and COW are opened read-only)")
    .requiredOption("--origin <file>", "origin device or image")
    .requiredOption("--cow <file>", "the snapshot's COW device or image")
    .requiredOption("-o, --output <file>", "raw image to write: a new file (put in place when complete), or with --force an existing file (replaced) or block device (written in place)")
    .option("--force", "overwrite --output if it exists")
    .option("--chunk-size <sectors>", "the table's chunk size: checked first, the chunk size of a blank COW, overridden by an existing header")
    .option("--json", "print the result as one JSON object; errors as {\"error\": {code, message}}")
    .addOption(progressOption())
    .addOption(quietOption("print no result line; errors on stderr"))
    .addHelpText("after", "\nExamples:\n  $ dmsnap export --origin /dev/vg/root --cow /dev/vg/snap-cow --output root-at-snapshot.img\n\nExit: 0 exported, 1 refused (invalid snapshot, corrupt COW), 2 usage or I/O error\n(OUTPUT_EXISTS, SAME_FILE, BUSY, NOT_A_REGULAR_FILE_OR_BLOCK_DEVICE).")
    .action((opts: ExportOpts) =>
      runCommand(!!opts.json, async () => {
        const chunkSize = opts.chunkSize === undefined ? undefined : parseSectors(opts.chunkSize, "--chunk-size");
        cleanUpOnSignals();
        refuseSameFile([identify(opts.origin, "--origin"), identify(opts.cow, "--cow")]);
        let origin: OpenedDevice | undefined;
        let cow: OpenedDevice | undefined;
        let out: Output | undefined;
        const progress = makeProgress(opts.progress);
        let r;
        try {
          origin = await openDevice(opts.origin, "--origin", false);
          cow = await openDevice(opts.cow, "--cow", false);
          out = await createOutput(opts.output, { role: "--output", inputs: [origin, cow], force: !!opts.force, bytes: origin.size });
          let started = false;
          r = await exportSnapshot(
            { origin: opts.origin, cow: opts.cow, output: opts.output, ...(chunkSize === undefined ? {} : { chunkSize }), opened: { origin: origin.device, cow: cow.device, output: { ...out.sink, fd: out.handle.fd } } },
            (done, total) => {
              if (!started) {
                progress.start("export", total, "bytes");
                started = true;
              }
              progress.update(done);
            },
          );
          await out.commit();
        } finally {
          progress.stop();
          await out?.abort();
          await closeAll([cow, origin]);
        }
        say(opts.json ? `${JSON.stringify(r)}\n` : `exported ${formatBytes(r.bytes)} to ${r.output} (${r.cowChunks} chunks from the COW)\n`);
      }),
    );
}
