import type { Command } from "commander";
import { decodeCow, SNAP_MAGIC, toDumpObject, type CowImage } from "@dmsnap/format";
import { openImage } from "../util/imageFile.js";
import { runCommand } from "../util/output.js";
import { formatBytes, plural } from "../util/units.js";
import { parseSectors } from "../util/options.js";
import { losslessDumpOf, writeLosslessDump } from "../util/metadataImage.js";

interface DumpOptions {
  json?: boolean;
  chunkSize?: string;
  all?: boolean;
  lossless?: boolean;
}

export function register(program: Command): void {
  program
    .command("dump")
    .description("decode a COW device exactly as the kernel would activate it")
    .argument("<cow>", "COW image file or block device (opened read-only)")
    .option("--json", "print one JSON object (see docs/dump-json.md); refusals print {\"error\": {code, message}} and exit 1")
    .option("--chunk-size <sectors>", "the table's chunk size: used for a blank COW, overridden by an existing header (default 32)")
    .option("--all", "list every exception in the readable summary (default: the first 20)")
    .option("--lossless", "print the lossless JSON dump that 'dmsnap restore' reads back (header words, device size, every entry, even of an invalidated COW)")
    .addHelpText("after", "\nExamples:\n  $ dmsnap dump /dev/vg/snap-cow\n  $ dmsnap dump cow.img --json | jq '.exceptions | length'\n  $ dmsnap dump cow.img --lossless > cow.dump.json   # then: dmsnap restore cow.dump.json --cow new.img\n\nExit: 0 decoded, 1 the kernel would refuse the image, 2 usage or I/O error.")
    .action((cow: string, opts: DumpOptions) =>
      runCommand(!!opts.json || !!opts.lossless, () => {
        const tableChunkSize = opts.chunkSize === undefined ? undefined : parseSectors(opts.chunkSize, "--chunk-size");
        const file = openImage(cow, "<cow>");
        try {
          if (opts.lossless) {
            // Entries of an invalidated COW are still on disk: keep them.
            const image = decodeCow(file, { readInvalid: true, ...(tableChunkSize === undefined ? {} : { tableChunkSize }) });
            writeLosslessDump(losslessDumpOf(image), (s) => process.stdout.write(s));
            return;
          }
          const image = decodeCow(file, tableChunkSize === undefined ? {} : { tableChunkSize });
          process.stdout.write(opts.json ? `${JSON.stringify(toDumpObject(image))}\n` : summary(cow, image, !!opts.all));
        } finally {
          file.close();
        }
      }),
    );
}

function summary(path: string, img: CowImage, all: boolean): string {
  const h = img.header;
  const lines: string[] = [];
  const magic = h.magic === SNAP_MAGIC ? `0x${h.magic.toString(16)} "SnAp"` : `0x${h.magic.toString(16).padStart(8, "0")}`;
  lines.push(`COW device   ${path} (${formatBytes(img.deviceBytes)}, ${img.usage.totalSectors} sectors)`);
  lines.push(`header       magic ${magic}, valid ${h.valid}, version ${h.version}, chunk size ${h.chunkSize}`);
  lines.push(`state        ${img.state}${img.state === "new" ? " (blank: the kernel would write a header and zero area 0)" : img.state === "invalid" ? " (invalidated: no exceptions are loaded)" : ""}`);
  lines.push(`chunk size   ${plural(img.chunkSize, "sector")} (${formatBytes(img.chunkSize * 512)}), ${img.exceptionsPerArea} exceptions per area`);
  if (img.state === "valid") {
    lines.push(`areas        ${img.currentArea + 1} in use; area ${img.currentArea} holds ${img.currentIndex} of ${img.exceptionsPerArea}`);
    lines.push(`exceptions   ${img.exceptions.count}`);
    const show = all ? img.exceptions.count : Math.min(20, img.exceptions.count);
    if (show > 0) lines.push(`               #  origin chunk -> COW chunk`);
    for (let i = 0; i < show; i++) {
      lines.push(`  ${String(i).padStart(12)}  ${String(img.exceptions.oldChunk[i]).padStart(12)} -> ${img.exceptions.newChunk[i]}`);
    }
    if (show < img.exceptions.count) lines.push(`  ... ${img.exceptions.count - show} more (--all lists them, --json prints them all)`);
  }
  const u = img.usage;
  const pct = u.totalSectors > 0 ? ((100 * u.allocatedSectors) / u.totalSectors).toFixed(1) : "0";
  lines.push(`next free    chunk ${img.nextFree}`);
  lines.push(`usage        ${img.state === "invalid" ? "Invalid" : `${u.allocatedSectors}/${u.totalSectors} ${u.metadataSectors}`}  (allocated/total metadata, sectors; ${pct}% allocated)`);
  return `${lines.join("\n")}\n`;
}
