import type { Command } from "commander";
import { pieceReader } from "../util/streamCow.js";
import { dropReasonMeaning, type DropReason, type SalvageSummary } from "@dmsnap/format";
import { repairCow } from "@dmsnap/store";
import { openImage } from "../util/inputs.js";
import { cleanUpOnSignals, createOutput, type Output } from "../util/outputs.js";
import { fileError } from "../util/ioErrors.js";
import { parseSectors, parseSize, quietOption } from "../util/options.js";
import { runCommand, say, warn } from "../util/output.js";
import { makeProgress, progressOption, type ProgressMode } from "../util/progress.js";
import { formatBytes } from "../util/units.js";

interface RepairOptions {
  output: string;
  json?: boolean;
  chunkSize?: string;
  originSize?: string;
  invalid?: boolean;
  force?: boolean;
  progress?: ProgressMode;
}

const OVERFLOW_WARNING =
  "the 2009 header race happened while the snapshot was being invalidated (it had overflowed or a copy had failed): origin chunks written after that moment were not copied, so the repaired snapshot holds every exception the store acknowledged but can be stale for chunks written later; use it to recover data, not as a faithful point-in-time copy (--invalid writes valid=0 instead)";

export function register(program: Command): void {
  program
    .command("repair")
    .description("salvage a COW the kernel refuses (overwritten header, chunk size 0) into a new, activatable copy")
    .argument("<cow>", "damaged COW image file or block device (opened read-only, never modified)")
    .requiredOption("-o, --output <file>", "new file to write: a copy of the input with the metadata re-laid under a fresh header")
    .option("--chunk-size <sectors>", "use this chunk size instead of the header's or the inferred one")
    .option("--origin-size <size>", "origin size (10GiB, 8s, bytes): entries past its end are dropped")
    .option("--invalid", "write valid=0 (the snapshot stays invalidated; 'dump --lossless' still reads its entries)")
    .option("--force", "overwrite --output if it exists")
    .option("--json", "print one JSON report: chunk size and how it was found, kept and dropped entries with reasons")
    .addOption(progressOption())
    .addOption(quietOption("print no report and no warnings; errors on stderr"))
    .addHelpText(
      "after",
      `
The chunk size comes from an intact header, from --chunk-size, or is inferred:
each power of two is scored by how well the metadata areas parse at that size.
Every structurally sound entry along the area chain is kept; the others are
dropped and listed with the reason. Data chunks are copied unchanged.

By default the output's valid word is 1 so the exceptions can be used for
recovery; a header destroyed by the 2009 race means the snapshot had
overflowed, so chunks written after that are not in it (a warning says so).

Examples:
  $ dmsnap repair /dev/vg/snap-cow --output rescued-cow.img
  $ dmsnap repair cow.img --output fixed.img --json | jq .dropped
  $ dmsnap repair cow.img --output fixed.img --chunk-size 8 --invalid

Exit: 0 repaired (also when entries were dropped: see the report), 1 nothing
could be salvaged (CHUNK_SIZE_UNKNOWN, NO_ROOM), 2 usage or I/O error
(OUTPUT_EXISTS, SAME_FILE).`,
    )
    .action((cow: string, opts: RepairOptions) =>
      runCommand(!!opts.json, async () => {
        const chunkSize = opts.chunkSize === undefined ? undefined : parseSectors(opts.chunkSize, "--chunk-size");
        const originBytes = opts.originSize === undefined ? undefined : parseSize(opts.originSize, "--origin-size");
        cleanUpOnSignals();
        const input = openImage(cow, "<cow>");
        const progress = makeProgress(opts.progress);
        let out: Output | undefined;
        try {
          // Checked before any work: not the input (any link or name of it), not an existing file without --force.
          out = await createOutput(opts.output, { role: "--output", inputs: [input], force: !!opts.force, bytes: input.size });
          // A new file starts as holes of the input's size: zero pieces are then not written.
          if (out.kind === "file") await sized(out, input.size);
          const valid = !opts.invalid;
          // One reused read buffer (a fresh 1 MiB a copy piece let garbage pile up: 145 MB at 30 M exceptions)
          // and synchronous writes (one per metadata area): repair does nothing else meanwhile.
          const { found, verified } = await repairCow(pieceReader(input), out.blockingDevice(input.size), {
            ...(chunkSize === undefined ? {} : { chunkSize }),
            ...(originBytes === undefined ? {} : { originBytes }),
            valid,
            targetIsZero: out.kind === "file",
            progress,
            inputName: cow,
            targetName: opts.output,
          });
          await out.commit();
          const warnings: string[] = [];
          const damaged = found.headerProblem !== null || found.header.valid === 0;
          if (valid && damaged) warnings.push(OVERFLOW_WARNING);
          if (found.droppedCount > 0) warnings.push(`${found.droppedCount} entr${found.droppedCount === 1 ? "y was" : "ies were"} dropped: snapshot reads of those origin chunks will come from the origin`);
          const report = toReport(cow, opts.output, found, valid, verified, warnings);
          if (opts.json) say(`${JSON.stringify(report)}\n`);
          else {
            say(human(report, found));
            for (const w of warnings) warn(`WARNING: ${w}`);
          }
        } finally {
          progress.stop();
          await out?.abort();
          input.close();
        }
      }),
    );
}

function toReport(input: string, output: string, s: SalvageSummary, valid: boolean, verified: boolean, warnings: string[]) {
  return {
    input,
    output,
    headerFound: s.header,
    headerProblem: s.headerProblem,
    chunkSize: s.chunkSize,
    chunkSizeSource: s.chunkSizeSource,
    candidates: s.candidates.slice(0, 6),
    areasRead: s.areasRead,
    chainEnd: s.end,
    staleBytesAfterTerminator: s.staleBytesAfterTerminator,
    entriesRead: s.entriesRead,
    kept: s.kept,
    droppedCount: s.droppedCount,
    droppedByReason: s.droppedByReason,
    dropped: s.dropped.map((d) => ({ ...d, meaning: dropReasonMeaning(d.reason) })),
    valid: valid ? 1 : 0,
    verified,
    warnings,
  };
}

function human(r: ReturnType<typeof toReport>, s: SalvageSummary): string {
  const lines: string[] = [];
  const h = s.header;
  lines.push(`input        ${r.input}: header magic 0x${h.magic.toString(16).padStart(8, "0")}, valid ${h.valid}, version ${h.version}, chunk size ${h.chunkSize}${r.headerProblem ? ` (unusable: ${r.headerProblem})` : " (intact)"}`);
  const how = r.chunkSizeSource === "inferred" ? `inferred from the metadata (scores: ${r.candidates.map((c) => `${c.chunkSize}s=${c.score}`).join(", ")})` : r.chunkSizeSource === "given" ? "given with --chunk-size" : "from the header";
  lines.push(`chunk size   ${r.chunkSize} sectors, ${how}`);
  lines.push(`areas read   ${r.areasRead} (chain ended at ${r.chainEnd === "terminator" ? "a terminator" : "the end of the device"}${r.staleBytesAfterTerminator ? "; stale bytes after the terminator ignored" : ""})`);
  lines.push(`entries      ${r.entriesRead} read, ${r.kept} kept, ${r.droppedCount} dropped`);
  for (const [reason, n] of Object.entries(r.droppedByReason)) lines.push(`  dropped ${n} × ${reason}: ${dropReasonMeaning(reason as DropReason)}`);
  for (const d of r.dropped.slice(0, 20)) lines.push(`    area ${d.area} entry ${d.index}: ${d.oldChunk} -> ${d.newChunk} (${d.reason})`);
  if (r.dropped.length > 20) lines.push(`    ... ${r.droppedCount - 20} more (--json lists up to 1000)`);
  lines.push(`output       ${r.output}: fresh header (valid ${r.valid}), ${r.kept} exceptions re-laid, data chunks copied unchanged; ${r.verified ? "activates as the kernel would read it" : "VERIFY FAILED: run 'dmsnap check' on it"}`);
  return `${lines.join("\n")}\n`;
}

/** Makes a new output file `bytes` long (holes). */
async function sized(out: Output, bytes: number): Promise<void> {
  try {
    await out.handle.truncate(bytes);
  } catch (e) {
    throw fileError(e, out.path, `make a ${bytes}-byte`);
  }
}
