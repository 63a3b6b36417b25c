import { Option, type Command } from "commander";
import { chunkBytes, ExceptionTable, readCowMetadata, SNAP_MAGIC, toDumpObject, writeLosslessDump, type ActivationOptions, type CowImage } from "@dmsnap/format";
import { forEachEntry, pieceReader, scanCow } from "../util/streamCow.js";
import { NEW_COW_NOT_BLANK, notBlank, notBlankMessage } from "../util/notBlank.js";
import { ByteSink, TextSink } from "../util/textSink.js";
import { openDocument } from "../util/document.js";
import { openImage } from "../util/imageFile.js";
import { runCommand, warn } from "../util/output.js";
import { formatBytes, plural } from "../util/units.js";
import { parseSectors, quietOption } from "../util/options.js";

interface DumpOptions {
  json?: boolean;
  chunkSize?: string;
  all?: boolean;
  lossless?: boolean;
  quiet?: boolean;
  output?: string;
  force?: boolean;
}

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
    .action((cow: string, opts: DumpOptions) =>
      runCommand(!!opts.json || !!opts.lossless, async () => {
        const tableChunkSize = opts.chunkSize === undefined ? undefined : parseSectors(opts.chunkSize, "--chunk-size");
        const table: ActivationOptions = tableChunkSize === undefined ? {} : { tableChunkSize };
        const file = openImage(cow, "<cow>");
        table.logicalBlockSize = file.logicalBlockSize;
        // -o is checked before any work (not the input, not an existing file without --force).
        const doc = await openDocument(opts.output, "--output", [file], !!opts.force).catch((e: unknown) => {
          file.close();
          throw e;
        });
        const writeStdout = doc.write;
        try {
          if (opts.lossless) {
            // Entries of an invalidated COW are still on disk: keep them. Refusals surface here, before any output.
            const metadata = readCowMetadata(pieceReader(file), { ...table, readInvalid: true });
            writeLosslessDump(metadata, writeStdout);
            await doc.commit();
            // Magic 0: the dump holds no entries, so say when the COW is not blank (what restore would rebuild is a blank COW).
            const lost = metadata.header.magic === 0 ? await notBlank(file, scanCow(file, table).chunkSize) : null;
            if (lost) warn(`warning: ${NEW_COW_NOT_BLANK}: ${notBlankMessage(lost)}`);
            return;
          }
          const image = scanCow(file, table);
          // As the kernel logs it when it loads such a table: the header's chunk size wins.
          if (tableChunkSize && image.state !== "new" && image.chunkSize !== tableChunkSize) {
            warn(`warning: CHUNK_SIZE_OVERRIDDEN: the header's chunk size, ${plural(image.chunkSize, "sector")}, overrides --chunk-size ${tableChunkSize} (the table's), as the kernel does (it logs a warning too)`);
          }
          const evidence = image.state === "new" ? await notBlank(file, image.chunkSize) : null;
          if (evidence) warn(`warning: ${NEW_COW_NOT_BLANK}: ${notBlankMessage(evidence)}`);
          if (opts.quiet) return;
          const warnings = evidence ? [{ code: NEW_COW_NOT_BLANK, message: notBlankMessage(evidence) }] : [];
          if (opts.json) writeJsonDump(image, warnings, (visit) => forEachEntry(file, table, visit), new ByteSink(doc.writeBytes));
          else {
            // The first entries (all with --all), streamed: nothing is kept.
            const limit = opts.all ? Infinity : 20;
            const sink = new TextSink(writeStdout);
            writeStdout(summaryHead(cow, image, evidence !== null));
            if (image.state === "valid" && image.exceptionCount > 0) {
              sink.push(`               #  origin chunk -> COW chunk\n`);
              let i = 0;
              try {
                forEachEntry(file, table, (t, from, count) => {
                  for (let k = from; k < from + count; k++, i++) {
                    if (i >= limit) throw STOP;
                    sink.push(`  ${String(i).padStart(12)}  ${String(t.oldChunk[k]).padStart(12)} -> ${t.newChunk[k]}\n`);
                  }
                });
              } catch (e) {
                if (e !== STOP) throw e;
              }
              if (i < image.exceptionCount) sink.push(`  ... ${image.exceptionCount - i} more (--all lists them, --json prints them all)\n`);
            }
            sink.flush();
            writeStdout(summaryTail(image));
          }
          await doc.commit();
        } finally {
          await doc.abort();
          file.close();
        }
      }),
    );
}

const STOP = Symbol("stop");

/**
 * The dump object, written as it is produced: every field from the first pass,
 * then the exceptions streamed from a second pass (docs/dump-json.md). The
 * pairs are formatted straight into one reused byte buffer (no string per
 * entry): this loop is the whole cost of a big dump.
 */
export function writeJsonDump(
  image: CowImage,
  warnings: Array<{ code: string; message: string }>,
  each: (visit: (t: ExceptionTable, from: number, count: number) => void) => void,
  sink: ByteSink = new ByteSink(),
): void {
  const o = toDumpObject({ ...image, exceptions: new ExceptionTable(0) });
  const { exceptions: _none, ...fields } = o;
  const head = JSON.stringify(warnings.length > 0 ? { ...fields, warnings } : fields);
  sink.text(`${head.slice(0, -1)},"exceptions":[`);
  let first = true;
  if (image.state === "valid") {
    each((t, from, count) => {
      sink.pairs(t.oldChunk, t.newChunk, from, from + count, first);
      first = false;
    });
  }
  sink.text("]}\n");
  sink.flush();
}

function summaryHead(path: string, img: CowImage, notBlank = false): string {
  const h = img.header;
  const lines: string[] = [];
  const magic = h.magic === SNAP_MAGIC ? `0x${h.magic.toString(16)} "SnAp"` : `0x${h.magic.toString(16).padStart(8, "0")}`;
  lines.push(`COW device   ${path} (${formatBytes(img.deviceBytes)}, ${img.usage.totalSectors} sectors)`);
  lines.push(`header       magic ${magic}, valid ${h.valid}, version ${h.version}, chunk size ${h.chunkSize}`);
  lines.push(`state        ${img.state}${img.state === "new" ? (notBlank ? " (magic 0 but NOT blank: see the warning; do not activate it)" : " (blank: the kernel would write a header and zero area 0)") : img.state === "invalid" ? " (invalidated: no exceptions are loaded)" : ""}`);
  lines.push(`chunk size   ${plural(img.chunkSize, "sector")} (${formatBytes(chunkBytes(img.chunkSize))}), ${img.exceptionsPerArea} exceptions per area`);
  if (img.state === "valid") {
    lines.push(`areas        ${img.currentArea + 1} in use; area ${img.currentArea} holds ${img.currentIndex} of ${img.exceptionsPerArea}`);
    lines.push(`exceptions   ${img.exceptionCount}`);
  }
  return `${lines.join("\n")}\n`;
}

function summaryTail(img: CowImage): string {
  const lines: string[] = [];
  const u = img.usage;
  const pct = u.totalSectors > 0 ? ((100 * u.allocatedSectors) / u.totalSectors).toFixed(1) : "0";
  lines.push(`next free    chunk ${img.nextFree}`);
  lines.push(
    img.state === "invalid"
      ? `usage        Invalid  (what dmsetup status prints for an invalidated snapshot: it has no usage)`
      : `usage        ${u.allocatedSectors}/${u.totalSectors} ${u.metadataSectors}  (allocated/total metadata, sectors; ${pct}% allocated)`,
  );
  return `${lines.join("\n")}\n`;
}
