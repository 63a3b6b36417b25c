import { basename } from "node:path";
import type { Command } from "commander";
import {
  chunkBytes,
  chunksInDevice,
  diagnose,
  nextFreeAfterLoad,
  salvage,
  statusOf,
  mapProblemChunks,
  MAP_CLASSES,
  MapRaster,
  renderMap,
  type MapInput,
} from "@dmsnap/format";
import { CliError, Exit } from "../util/errors.js";
import { openImage } from "../util/imageFile.js";
import { cleanUpOnSignals, createOutput, type Output } from "../util/outputs.js";
import { pieceReader } from "../util/streamCow.js";
import { conflicting, parseSectors, quietOption } from "../util/options.js";
import { runCommand, say } from "../util/output.js";
import { writeStdout } from "../util/textSink.js";
import { formatBytes } from "../util/units.js";

// The renderer lives in @dmsnap/format (shared with the browser explorer).
export { renderMap, type MapInput, type MapResult } from "@dmsnap/format";

interface MapOptions {
  svg: string;
  chunkSize?: string;
  json?: boolean;
  force?: boolean;
}

export function register(program: Command): void {
  program
    .command("map")
    .description("draw an SVG map of a COW device: header, metadata areas, data in use, free and leaked chunks, problems")
    .argument("<cow>", "COW image file or block device (opened read-only)")
    .requiredOption("-o, --svg <file>", "SVG file to write ('-' for standard output)")
    .option("--chunk-size <sectors>", "chunk size for a blank COW, or for a refused one whose chunk size cannot be inferred")
    .option("--json", "print a JSON summary (counts per class, cells) instead of the readable one")
    .option("--force", "overwrite --svg if it exists")
    .addOption(quietOption("print no summary (the SVG is still written, also to standard output with '--svg -'); errors on stderr"))
    .addHelpText(
      "after",
      `
The device is drawn as a grid of at most 256 x 128 cells, each a run of
chunks. A refused COW (bad header) is drawn from what 'dmsnap repair' can
salvage, with the header marked as a problem.

Examples:
  $ dmsnap map /dev/vg/snap-cow --svg cow.svg
  $ dmsnap map cow.img --svg - | rsvg-convert -o cow.png

The SVG is written to a temporary file beside it and renamed into place when
complete; an existing file is replaced only with --force.

Exit: 0 written, 1 the image cannot be laid out (CHUNK_SIZE_UNKNOWN), 2 usage or I/O\nerror (OUTPUT_EXISTS, SAME_FILE, BUSY).`,
    )
    .action((cow: string, opts: MapOptions) =>
      runCommand(!!opts.json, async () => {
        // Both would go to standard output, where the SVG alone is printed.
        if (opts.svg === "-" && opts.json) throw conflicting("--svg -", "--json");
        const tableChunkSize = opts.chunkSize === undefined ? undefined : parseSectors(opts.chunkSize, "--chunk-size");
        const file = openImage(cow, "<cow>");
        let input: MapInput;
        // The output is checked (same file, exists) before any work, and written whole or not at all.
        let out: Output | undefined;
        try {
          if (opts.svg !== "-") {
            cleanUpOnSignals();
            out = await createOutput(opts.svg, { role: "--svg", inputs: [file], force: !!opts.force });
          }
          const table = { ...(tableChunkSize === undefined ? {} : { tableChunkSize }), logicalBlockSize: file.logicalBlockSize };
          // One streaming pass: the chunks in use are counted into the map's cells as they are read.
          const raster = new MapRaster();
          const d = await diagnose(pieceReader(file), { maxPerCode: 100_000, readInvalid: true, keepEntries: false, usedChunks: raster, ...table });
          const name = basename(cow);
          // Magic 0 over live metadata (the 2009 race with first entry {0, 2}) is drawn from salvage too.
          const salvaged = d.image?.state === "new" ? salvage(file) : null;
          const refusal = d.image === null ? d.findings[0]!.code : salvaged && salvaged.exceptions.count > 0 ? "magic 0 over live metadata" : null;
          if (d.image && refusal === null) {
            const img = d.image;
            const { chunks, undrawable } = mapProblemChunks(d.findings, chunksInDevice(img.chunkSize, img.deviceBytes), img.chunkSize);
            input = {
              title: `${name}: ${img.state} COW, chunk size ${img.chunkSize} sectors (${formatBytes(chunkBytes(img.chunkSize))})`,
              subtitle: `${formatBytes(img.deviceBytes)}, ${img.exceptionCount} exceptions, status ${statusOf(img)}, ${d.findings.length} finding(s)`,
              chunkSize: img.chunkSize,
              deviceBytes: img.deviceBytes,
              nextFree: img.nextFree,
              raster,
              problemChunks: chunks,
              undrawable,
              headerIsProblem: false,
            };
          } else {
            const s = salvaged ?? salvage(file, tableChunkSize === undefined ? {} : { chunkSize: tableChunkSize });
            if (s.chunkSize === 0) {
              throw new CliError("CHUNK_SIZE_UNKNOWN", `${cow} is refused (${refusal}) and no chunk size makes its metadata parse; rerun with --chunk-size <sectors>`, Exit.Image);
            }
            let max = -1;
            for (let i = 0; i < s.exceptions.count; i++) max = Math.max(max, s.exceptions.newChunk[i]!);
            const dropped = s.dropped.map((e) => e.newChunk);
            const chunks = chunksInDevice(s.chunkSize, file.size);
            input = {
              title: `${name}: refused (${refusal}), drawn from salvage at chunk size ${s.chunkSize} sectors (${s.chunkSizeSource})`,
              subtitle: `${formatBytes(file.size)}, ${s.exceptions.count} salvageable exceptions, ${s.droppedCount} unsound`,
              chunkSize: s.chunkSize,
              deviceBytes: file.size,
              nextFree: nextFreeAfterLoad(s.chunkSize, max),
              newChunks: s.exceptions.newChunk,
              count: s.exceptions.count,
              problemChunks: dropped.filter((c) => c < chunks),
              undrawable: dropped.filter((c) => c >= chunks).length,
              headerIsProblem: true,
            };
          }
        } catch (e) {
          await out?.abort();
          throw e;
        } finally {
          file.close();
        }
        const r = renderMap(input);
        if (!out) {
          writeStdout(r.svg);
          return;
        }
        try {
          const bytes = Buffer.from(r.svg);
          for (let done = 0; done < bytes.length; ) done += (await out.sink.write(bytes, done, bytes.length - done, done)).bytesWritten;
          await out.commit();
        } finally {
          await out.abort();
        }
        const summary = { svg: opts.svg, bytes: Buffer.byteLength(r.svg), chunks: r.chunks, chunksPerCell: r.chunksPerCell, cells: r.cells, counts: r.counts };
        say(
          opts.json
            ? `${JSON.stringify(summary)}\n`
            : `wrote ${opts.svg} (${formatBytes(summary.bytes)}): ${r.chunks} chunks, ${r.chunksPerCell} per cell; ${MAP_CLASSES.map((k) => `${k} ${r.counts[k]}`).join(", ")}\n`,
        );
      }),
    );
}
