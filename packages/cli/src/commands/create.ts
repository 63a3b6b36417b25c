import type { Command } from "commander";
import { createCow } from "@dmsnap/store";
import { runCommand } from "../util/output.js";
import { parseSectors, parseSize } from "../util/options.js";
import { formatBytes } from "../util/units.js";

interface CreateOpts {
  cow: string;
  chunkSize: string;
  size?: string;
  json?: boolean;
}

export function register(program: Command): void {
  program
    .command("create")
    .description("initialise a COW device exactly as the kernel's first activation does (header + zeroed area 0)")
    .requiredOption("--cow <file>", "COW file to create (with --size) or an existing zeroed file or device")
    .requiredOption("--chunk-size <sectors>", "chunk size in 512-byte sectors (a power of two, e.g. 8 = 4 KiB)")
    .option("--size <bytes>", "create a new blank COW file of this size (K, M, G, T suffixes accepted)")
    .option("--json", "print the result as one JSON object; errors as {\"error\": {code, message}}")
    .addHelpText("after", "\nExamples:\n  $ dmsnap create --cow snap.cow --chunk-size 8 --size 64M\n  $ dmsnap create --cow /dev/vg/cow --chunk-size 16\n\nExit: 0 initialised, 1 refused (already a snapshot, corrupt header), 2 usage or I/O error.")
    .action((opts: CreateOpts) =>
      runCommand(!!opts.json, async () => {
        const chunkSize = parseSectors(opts.chunkSize, "--chunk-size");
        const size = opts.size === undefined ? undefined : parseSize(opts.size, "--size");
        const r = await createCow({ cow: opts.cow, chunkSize, ...(size === undefined ? {} : { size }) });
        process.stdout.write(
          opts.json
            ? `${JSON.stringify(r)}\n`
            : `${r.created ? "created" : "initialised"} ${r.cow}: ${formatBytes(r.deviceBytes)}, chunk size ${r.chunkSize} sectors, room for ${r.capacity} exceptions; status ${r.status}\n`,
        );
      }),
    );
}
