import type { Command } from "commander";
import { applyWrite } from "@dmsnap/store/node";
import { CliError, Exit } from "../util/errors.js";
import { closeAll, identify, openDevice, refuseSameFile, type OpenedDevice } from "../util/inputs.js";
import { inputSource } from "../util/inputSource.js";
import { runCommand, say } from "../util/output.js";
import { parseSectors, parseSize, quietOption } from "../util/options.js";
import { plural } from "../util/units.js";

interface WriteOpts {
  origin: string;
  cow: string;
  offset: string;
  input: string;
  target: string;
  chunkSize?: string;
  overflow?: boolean;
  json?: boolean;
}

export function register(program: Command): void {
  program
    .command("write")
    .description("apply one write through the snapshot semantics, durably (origin: the view keeps the old data; snapshot: only the view changes)")
    .requiredOption("--origin <file>", "origin device or image")
    .requiredOption("--cow <file>", "the snapshot's COW device or image")
    .requiredOption("--offset <bytes>", "byte offset in the origin / snapshot")
    .requiredOption("--input <file>", "file whose bytes are written")
    .option("--target <which>", "origin or snapshot", "origin")
    .option("--chunk-size <sectors>", "the table's chunk size: checked first, overridden by the COW's header")
    .option("--overflow", "the PO table option: a full COW fails snapshot writes with OVERFLOW instead of invalidating")
    .option("--json", "print the result as one JSON object; errors as {\"error\": {code, message}}")
    .addOption(quietOption("print no result line; errors on stderr"))
    .addHelpText("after", "\nExamples:\n  $ dmsnap write --origin disk.img --cow snap.cow --offset 4096 --input patch.bin\n  $ dmsnap write --origin disk.img --cow snap.cow --offset 0 --input mbr.bin --target snapshot\n\nExit: 0 written, 1 refused (invalid snapshot, full COW, corrupt COW, a blank COW: NOT_INITIALISED, run 'dmsnap create' first; magic 0 over data: NEW_COW_NOT_BLANK), 2 usage or I/O error.")
    .action((opts: WriteOpts) =>
      runCommand(!!opts.json, async () => {
        if (opts.target !== "origin" && opts.target !== "snapshot") throw new CliError("BAD_OPTION", `--target is origin or snapshot, not '${opts.target}'`, Exit.Usage);
        const chunkSize = opts.chunkSize === undefined ? undefined : parseSectors(opts.chunkSize, "--chunk-size");
        const offset = parseSize(opts.offset, "--offset");
        // Identity first: two names of one file are refused before any lock (which would call it BUSY).
        refuseSameFile([identify(opts.origin, "--origin"), identify(opts.cow, "--cow"), identify(opts.input, "--input")]);
        let input: OpenedDevice | undefined;
        let origin: OpenedDevice | undefined;
        let cow: OpenedDevice | undefined;
        let r;
        try {
          input = await openDevice(opts.input, "--input", false);
          // Its length is what reading it gives (a /proc or /sys file's size is not), so it is measured first.
          const data = await inputSource(input);
          origin = await openDevice(opts.origin, "--origin", true);
          cow = await openDevice(opts.cow, "--cow", true);
          r = await applyWrite({
            origin: opts.origin,
            cow: opts.cow,
            offset,
            input: opts.input,
            target: opts.target,
            overflow: !!opts.overflow,
            ...(chunkSize === undefined ? {} : { chunkSize }),
            opened: { origin: origin.device, cow: cow.device, input: data.source, inputBytes: data.bytes },
          });
        } finally {
          await closeAll([cow, origin, input]);
        }
        say(opts.json ? `${JSON.stringify(r)}\n` : `wrote ${r.bytes} bytes to the ${r.target} at offset ${r.offset}; ${plural(r.exceptionsAdded, "new exception")}; status ${r.status}\n`);
      }),
    );
}
