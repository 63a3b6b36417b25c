import { Option, type Command } from "commander";
import { runCommand } from "../util/output.js";
import { quietOption } from "../util/options.js";
import { runDump, type DumpOptions } from "./dumpRun.js";

export { writeJsonDump } from "./dumpRun.js";

export function register(program: Command): void {
  program
    .command("dump")
    .description("decode a COW device exactly as the kernel would activate it")
    .argument("<cow>", "COW image file or block device (opened read-only)")
    .option("--json", "print one JSON object (its fields: dmsnap-dump(1), JSON OUTPUT); refusals print {\"error\": {code, message}} and exit 1")
    .option("--chunk-size <sectors>", "the table's chunk size: used for a blank COW, overridden by an existing header (default 32)")
    .addOption(new Option("--all", "list every exception in the readable summary (default: the first 20)").conflicts("json"))
    .addOption(new Option("--lossless", "print the lossless JSON dump that 'dmsnap restore' reads back (header words, device size, every entry, even of an invalidated COW)").conflicts(["json", "all"]))
    .option("-o, --output <file>", "write the summary or dump to this file instead of standard output: created whole or not at all ('-': standard output)")
    .option("--force", "overwrite --output if it exists")
    .addOption(quietOption("print nothing: the exit code says whether the kernel would activate the COW (0) or refuse it (1)", ["all", "lossless", "output"]))
    .addHelpText("after", "\nExamples:\n  $ dmsnap dump /dev/vg/snap-cow\n  $ dmsnap dump cow.img --json | jq '.exceptions | length'\n  $ dmsnap dump cow.img --lossless -o cow.dump.json   # then: dmsnap restore cow.dump.json --cow new.img\n\nExit: 0 decoded, 1 the kernel would refuse the image, 2 usage or I/O error.")
    .action((cow: string, opts: DumpOptions) => runCommand(!!opts.json || !!opts.lossless, () => runDump(cow, opts)));
}

