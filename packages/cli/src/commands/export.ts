import type { Command } from "commander";
import { exportSnapshot } from "@dmsnap/store";
import { runCommand } from "../util/output.js";
import { parseSectors } from "../util/options.js";
import { formatBytes } from "../util/units.js";
import { makeProgress, progressOption, type ProgressMode } from "../util/progress.js";

interface ExportOpts {
  origin: string;
  cow: string;
  output: string;
  chunkSize?: string;
  json?: boolean;
  progress?: ProgressMode;
}

export function register(program: Command): void {
  program
    .command("export")
    .description("write the snapshot view as a raw image (streamed, bounded memory; origin and COW are opened read-only)")
    .requiredOption("--origin <file>", "origin device or image")
    .requiredOption("--cow <file>", "the snapshot's COW device or image")
    .requiredOption("--output <file>", "raw image to write (replaced atomically when complete)")
    .option("--chunk-size <sectors>", "table chunk size, used only if the COW is blank")
    .option("--json", "print the result as one JSON object; errors as {\"error\": {code, message}}")
    .addOption(progressOption())
    .addHelpText("after", "\nExamples:\n  $ dmsnap export --origin /dev/vg/root --cow /dev/vg/snap-cow --output root-at-snapshot.img\n\nExit: 0 exported, 1 refused (invalid snapshot, corrupt COW), 2 usage or I/O error.")
    .action((opts: ExportOpts) =>
      runCommand(!!opts.json, async () => {
        const chunkSize = opts.chunkSize === undefined ? undefined : parseSectors(opts.chunkSize, "--chunk-size");
        const progress = makeProgress(opts.progress);
        let started = false;
        const r = await exportSnapshot({ origin: opts.origin, cow: opts.cow, output: opts.output, ...(chunkSize === undefined ? {} : { chunkSize }) }, (done, total) => {
          if (!started) {
            progress.start("export", total, "bytes");
            started = true;
          }
          progress.update(done);
        });
        progress.stop();
        process.stdout.write(opts.json ? `${JSON.stringify(r)}\n` : `exported ${formatBytes(r.bytes)} to ${r.output} (${r.cowChunks} chunks from the COW)\n`);
      }),
    );
}
