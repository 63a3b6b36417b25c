import type { Command } from "commander";
import { mergeSnapshot, type MergeResult } from "@dmsnap/store";
import { BlockingFileDevice } from "@dmsnap/store/node";
import { closeAll, identify, openDevice, refuseSameFile, type OpenedDevice } from "../util/inputs.js";
import { runCommand, say } from "../util/output.js";
import { quietOption } from "../util/options.js";
import { makeProgress, progressOption, type ProgressMode } from "../util/progress.js";
import { formatBytes, plural } from "../util/units.js";

interface MergeOpts {
  origin: string;
  cow: string;
  progress?: ProgressMode;
  json?: boolean;
}

export function register(program: Command): void {
  program
    .command("merge")
    .description("merge the snapshot back into the origin (offline), crash-safely: an interrupted merge resumes when run again")
    .requiredOption("--origin <file>", "origin device or image (written: it receives the snapshot's chunks)")
    .requiredOption("--cow <file>", "the snapshot's COW device or image (written: merged exceptions are cleared)")
    .addOption(progressOption())
    .addOption(quietOption("print no result line; errors on stderr"))
    .option("--json", "print the result as one JSON object; errors as {\"error\": {code, message}}")
    .addHelpText(
      "after",
      `
Copies every exception back to the origin, last first, and clears it from the
COW the way the kernel's snapshot-merge target does: a batch of chunks is
copied and flushed to the origin before its entries are cleared (area write
with flush + FUA). If the merge is interrupted (crash, I/O error, Ctrl-C), run
the same command again: it finishes the job, and the COW stays a valid
snapshot that the kernel's snapshot-merge could continue as well.
Afterwards the origin holds the snapshot's view and the COW has no exceptions.

Offline only: neither file may be in use by device-mapper or mounted.

Examples:
  $ dmsnap merge --origin disk.img --cow snap.cow
  $ dmsnap merge --origin /dev/vg/root --cow /dev/vg/snap-cow --progress=json

Exit: 0 merged (or nothing to merge), 1 refused (invalid snapshot, corrupt COW,
an entry that cannot be merged: the codes of 'dmsnap dump' and 'dmsnap check'),
2 usage or I/O error.`,
    )
    .action((opts: MergeOpts) =>
      runCommand(!!opts.json, async () => {
        refuseSameFile([identify(opts.origin, "--origin"), identify(opts.cow, "--cow")]);
        let originFile: OpenedDevice | undefined;
        let cowFile: OpenedDevice | undefined;
        try {
          originFile = await openDevice(opts.origin, "--origin", true);
          cowFile = await openDevice(opts.cow, "--cow", true);
        } catch (e) {
          await closeAll([cowFile, originFile]);
          throw e;
        }
        // Synchronous calls on the handles opened (and locked) above: an offline merge
        // does nothing else meanwhile, and a random layout costs one origin write per
        // chunk, where a thread-pool round trip per call would dominate.
        const origin = BlockingFileDevice.fromHandle(originFile.path, originFile.handle, originFile.size, undefined, originFile.logicalBlockSize);
        const cow = BlockingFileDevice.fromHandle(cowFile.path, cowFile.handle, cowFile.size, undefined, cowFile.logicalBlockSize);
        const progress = makeProgress(opts.progress);
        const started = process.hrtime.bigint();
        let r: MergeResult;
        try {
          let begun = false;
          r = await mergeSnapshot({
            origin,
            cow,
            onProgress: (p) => {
              if (!begun) {
                begun = true;
                progress.start("merge", p.total, "exceptions");
              }
              progress.update(p.merged);
            },
          });
        } finally {
          progress.stop();
          await origin.close();
          await cow.close();
        }
        const seconds = Number(process.hrtime.bigint() - started) / 1e9;
        const out = { origin: opts.origin, cow: opts.cow, ...r, seconds: Math.round(seconds * 1000) / 1000 };
        say(opts.json ? `${JSON.stringify(out)}\n` : `${summary(r, seconds)}\n`);
      }),
    );
}

function summary(r: MergeResult, seconds: number): string {
  if (r.state === "new") return "nothing to merge: the COW is blank (no snapshot has been written to it); nothing was written";
  if (r.exceptions === 0) return "nothing to merge: the snapshot has no exceptions; the origin already holds its view";
  const time = seconds < 10 ? `${seconds.toFixed(2)} s` : `${seconds.toFixed(1)} s`;
  const dup = r.skippedDuplicates > 0 ? `; ${plural(r.skippedDuplicates, "later duplicate entry", "later duplicate entries")} cleared without copying (never visible; see 'dmsnap check')` : "";
  return `merged ${plural(r.merged, "exception")}: ${plural(r.copiedChunks, "chunk")} (${formatBytes(r.bytesCopied)}) copied to the origin in ${plural(r.commits, "commit")}, ${time}; the COW now has no exceptions${dup}`;
}
