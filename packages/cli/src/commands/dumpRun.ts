/** `dmsnap dump`: the body of the command (dump.ts declares its options for commander). */
import { chunkBytes, entryWordsOf, ExceptionTable, LITTLE_ENDIAN_HOST, readCowMetadata, SNAP_MAGIC, toDumpObject, writeLosslessDump, type ActivationOptions, type CowImage } from "@dmsnap/format";
import { forEachEntry, forEachPiece, pieceReader, scanCow } from "../util/streamCow.js";
import { NEW_COW_NOT_BLANK, notBlank, notBlankMessage } from "../util/notBlank.js";
import { ByteSink, TextSink } from "../util/textSink.js";
import { StdoutThread } from "../util/stdoutThread.js";
import { openDocument } from "../util/document.js";
import { openImage } from "../util/imageFile.js";
import { warn } from "../util/output.js";
import { formatBytes, plural } from "../util/units.js";
import { parseSectors } from "../util/sectors.js";

export interface DumpOptions {
  json?: boolean;
  chunkSize?: string;
  all?: boolean;
  lossless?: boolean;
  quiet?: boolean;
  output?: string;
  force?: boolean;
}

/**
 * The dump command's body, without commander: `dmsnap dump <cow> --json` runs
 * it straight from the entry (dumpJson.ts), so that a dump does not load the
 * argument parser and the other commands first.
 */
export async function runDump(cow: string, opts: DumpOptions): Promise<void> {
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
  let thread: StdoutThread | null = null;
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
    // A big JSON dump to standard output is written by a second thread (stdoutThread.ts), started
    // once the first pass has seen enough entries for it to pay, so that it starts while the pass goes on.
    const threaded = !!opts.json && !opts.quiet && (opts.output === undefined || opts.output === "-") && LITTLE_ENDIAN_HOST;
    let seen = 0;
    const countEntries = (_bytes: Uint8Array, count: number): void => {
      seen += count;
      if (thread === null && seen >= THREAD_AT_ENTRIES) thread = startThread();
    };
    const image = threaded ? scanCow(file, { ...table, onPiece: countEntries }) : scanCow(file, table);
    // As the kernel logs it when it loads such a table: the header's chunk size wins.
    if (tableChunkSize && image.state !== "new" && image.chunkSize !== tableChunkSize) {
      warn(`warning: CHUNK_SIZE_OVERRIDDEN: the header's chunk size, ${plural(image.chunkSize, "sector")}, overrides --chunk-size ${tableChunkSize} (the table's), as the kernel does (it logs a warning too)`);
    }
    const evidence = image.state === "new" ? await notBlank(file, image.chunkSize) : null;
    if (evidence) warn(`warning: ${NEW_COW_NOT_BLANK}: ${notBlankMessage(evidence)}`);
    if (opts.quiet) return;
    const warnings = evidence ? [{ code: NEW_COW_NOT_BLANK, message: notBlankMessage(evidence) }] : [];
    if (opts.json && LITTLE_ENDIAN_HOST) {
      const started = thread as StdoutThread | null;
      writeJsonDumpFromPieces(image, warnings, (visit) => forEachPiece(file, table, visit), started ? new ByteSink(doc.writeBytes, undefined, started) : new ByteSink(doc.writeBytes));
      started?.close();
    }
    else if (opts.json) writeJsonDump(image, warnings, (visit) => forEachEntry(file, table, visit), new ByteSink(doc.writeBytes));
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
    (thread as StdoutThread | null)?.stop();
    await doc.abort();
    file.close();
  }
}

/** Entries (about 18 bytes of JSON each) from which a dump to standard output is written by a second thread: 4.5 MiB and more. */
const THREAD_AT_ENTRIES = 1 << 18;

/** A writer thread for standard output, or null when one cannot be started (then the main thread writes). */
function startThread(): StdoutThread | null {
  try {
    return new StdoutThread(ByteSink.bufferBytes());
  } catch {
    return null;
  }
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
  sink.text(jsonHead(image, warnings));
  let first = true;
  if (image.state === "valid") {
    each((t, from, count) => {
      sink.pairs(t.oldChunk, t.newChunk, from, from + count, first);
      first = false;
    });
  }
  sink.text(JSON_TAIL);
  sink.flush();
}

/**
 * writeJsonDump on a little-endian host, where the pairs are formatted
 * straight from the Uint32 words of each metadata piece the second pass reads
 * (forEachPiece), with no copy into a table: the same bytes, less work.
 */
export function writeJsonDumpFromPieces(
  image: CowImage,
  warnings: Array<{ code: string; message: string }>,
  each: (visit: (bytes: Uint8Array, count: number) => void) => void,
  sink: ByteSink = new ByteSink(),
): void {
  sink.text(jsonHead(image, warnings));
  let first = true;
  if (image.state === "valid") {
    each((bytes, count) => {
      sink.entryPairs(entryWordsOf(bytes, count), count, first);
      first = false;
    });
  }
  sink.text(JSON_TAIL);
  sink.flush();
}

/** The dump object up to the opening bracket of `exceptions` (every other field, in the documented order). */
function jsonHead(image: CowImage, warnings: Array<{ code: string; message: string }>): string {
  const o = toDumpObject({ ...image, exceptions: new ExceptionTable(0) });
  const { exceptions: _none, ...fields } = o;
  const head = JSON.stringify(warnings.length > 0 ? { ...fields, warnings } : fields);
  return `${head.slice(0, -1)},"exceptions":[`;
}

const JSON_TAIL = "]}\n";

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
