import type { Command } from "commander";
import { capacity, checkHeaderOnly, checkReport, formatLocation, chunkBytes, chunkKind, decodeHeader, roomForEntries, salvageStreamed, deviceSectors, diagnose, HEADER_SIZE, SNAP_MAGIC, chunkSizeProblem, type CheckReport, type Location, type SyncReader } from "@dmsnap/format";
import { CliError, Exit } from "../util/errors.js";
import { pieceReader } from "../util/streamCow.js";
import { openImage } from "../util/imageFile.js";
import { parseSectors, parseSize, quietOption } from "../util/options.js";
import { runCommand } from "../util/output.js";
import { writeStdout } from "../util/textSink.js";
import { makeProgress, progressOption, type Progress, type ProgressMode } from "../util/progress.js";
import { formatBytes, plural } from "../util/units.js";

interface CheckOptions {
  originSize?: string;
  chunkSize?: string;
  json?: boolean;
  quiet?: boolean;
  all?: boolean;
  headerOnly?: boolean;
  progress?: ProgressMode;
}

// The report (findings, counts, summary) is @dmsnap/format's checkReport: the explorer shows the same one.
export { SNAPSHOT_INVALIDATED, NEW_COW_NOT_BLANK, formatLocation, type CheckReport } from "@dmsnap/format";

export function register(program: Command): void {
  program
    .command("check")
    .description("check a COW device's metadata: every problem the kernel would refuse or silently get wrong")
    .argument("<cow>", "COW image file or block device (opened read-only)")
    .option("--origin-size <size>", "origin size (4096, 8s, 10GiB): also flags exceptions past the end of the origin")
    .option("--chunk-size <sectors>", "the table's chunk size: used for a blank COW, overridden by an existing header")
    .option("--json", "print one JSON object: {file, state, status, chunkSize, findings, counts, summary}")
    .addOption(quietOption("print nothing; only the exit code tells", ["all"]))
    .option("--all", "list every finding (default: at most 20 per code; the rest are counted)")
    .option("--header-only", "check only what activation decides from the header (magic, version, chunk size, valid, room for the header and area 0), reading no metadata area: thin_check --super-block-only")
    .addOption(progressOption())
    .addHelpText(
      "after",
      `
Severities: error = the kernel refuses the image; warning = it activates, but
data or space is wrong (or the snapshot was invalidated); info = a harmless
oddity. Info findings alone count as clean.

Examples:
  $ dmsnap check /dev/vg/snap-cow
  $ dmsnap check cow.img --origin-size 10GiB --json | jq .summary
  $ dmsnap check -q cow.img && echo clean
  $ dmsnap check --header-only /dev/vg/snap-cow

Exit: 0 clean (no errors or warnings), 1 problems found, 2 usage or I/O error.`,
    )
    .action((cow: string, opts: CheckOptions) =>
      runCommand(!!opts.json, async () => {
        const tableChunkSize = opts.chunkSize === undefined ? undefined : parseSectors(opts.chunkSize, "--chunk-size");
        const originBytes = opts.originSize === undefined ? undefined : parseSize(opts.originSize, "--origin-size");
        const file = openImage(cow, "<cow>");
        if (opts.headerOnly) {
          if (originBytes !== undefined) throw new CliError("CONFLICTING_OPTIONS", "--origin-size needs the exceptions, which --header-only does not read: give one of them", Exit.Usage);
          try {
            const report = await checkHeaderOnly(cow, file, { logicalBlockSize: file.logicalBlockSize, ...(tableChunkSize === undefined ? {} : { tableChunkSize }) });
            if (opts.quiet) return report.summary.clean ? Exit.Ok : Exit.Image;
            writeStdout(opts.json ? `${JSON.stringify(report)}\n` : human(report, file.size, ""));
            return report.summary.clean ? Exit.Ok : Exit.Image;
          } finally {
            file.close();
          }
        }
        const progress = makeProgress(opts.quiet ? "none" : opts.progress);
        try {
          const tracked = withProgress(pieceReader(file), progress);
          // One streaming pass: the exceptions are tested as they are read, none is kept.
          const diagnosis = await diagnose(tracked.reader, {
            keepEntries: false,
            logicalBlockSize: file.logicalBlockSize,
            ...(tableChunkSize === undefined ? {} : { tableChunkSize }),
            ...(originBytes === undefined ? {} : { originBytes }),
            maxPerCode: opts.all ? Number.MAX_SAFE_INTEGER : 20,
          });
          tracked.finish();
          const report = await checkReport(cow, diagnosis, file);
          if (opts.quiet) return report.summary.clean ? Exit.Ok : Exit.Image;
          writeStdout(opts.json ? `${JSON.stringify(report)}\n` : human(report, file.size, report.summary.errors > 0 ? repairAdvice(file, tableChunkSize) : ""));
          return report.summary.clean ? Exit.Ok : Exit.Image;
        } finally {
          progress.stop();
          file.close();
        }
      }),
    );
}

function human(r: CheckReport, size: number, advice: string): string {
  const lines: string[] = [];
  const body = r.exceptions === null ? "header only" : `${plural(r.exceptions, "exception")}, status ${r.status}`;
  lines.push(`${r.file}: ${formatBytes(size)}, ${r.state === "refused" ? "refused by activation" : `state ${r.state}, chunk size ${plural(r.chunkSize ?? 0, "sector")}, ${body}`}`);
  const shown = new Map<string, number>();
  for (const f of r.findings) {
    shown.set(f.code, (shown.get(f.code) ?? 0) + 1);
    lines.push(`${f.severity.padEnd(7)} ${f.code}  [${formatLocation(f.location)}]`);
    lines.push(`        ${f.message}`);
  }
  for (const [code, n] of Object.entries(r.counts)) {
    const more = n - (shown.get(code) ?? 0);
    if (more > 0) lines.push(`        ... and ${more} more ${code} (--all lists them)`);
  }
  const s = r.summary;
  lines.push(
    s.clean
      ? `clean: ${s.info === 0 ? "no findings" : `${s.info} info finding(s), nothing wrong`}`
      : `problems: ${s.errors} error(s), ${s.warnings} warning(s), ${s.info} info${s.errors > 0 ? `; the kernel would refuse this COW${advice}` : ""}`,
  );
  return `${lines.join("\n")}\n`;
}

/**
 * What to say about repair for a COW the kernel refuses: recommend it only
 * when repair would not refuse it (the same tests as repair's CHUNK_SIZE_UNKNOWN
 * and NO_ROOM, on the same salvage).
 */
function repairAdvice(reader: SyncReader, chunkSize: number | undefined): string {
  // Counts only: the entries are not kept (salvageStreamed's first walk).
  const found = salvageStreamed(reader, chunkSize === undefined ? {} : { chunkSize });
  if (found.chunkSize === 0) {
    return "; 'dmsnap repair' finds nothing to salvage: no chunk size makes its metadata parse (if you know the chunk size, 'dmsnap repair --chunk-size <sectors>' may)";
  }
  if (!roomForEntries(found.chunkSize, found.kept, reader.size)) {
    return "; 'dmsnap repair' cannot re-lay it on a device this size (NO_ROOM): restore a trimmed 'dmsnap dump --lossless' onto a larger device";
  }
  return ` ('dmsnap repair --output <file>' salvages ${found.kept} exception(s) at chunk size ${found.chunkSize})`;
}

/** Reports metadata areas read as progress; the total is the most areas the device can hold. */
function withProgress(reader: SyncReader, progress: Progress): { reader: SyncReader; finish(): void } {
  let areas = 0;
  let started = false;
  let chunkSize = 1;
  let chunk = chunkBytes(chunkSize);
  let lastArea = 0;
  const finish = (): void => {
    if (!started) return;
    progress.setTotal(areas);
    progress.update(areas);
    progress.stop();
  };
  return { finish, reader: {
    size: reader.size,
    read(offset, length) {
      const bytes = reader.read(offset, length);
      if (offset === 0 && length === HEADER_SIZE && !started) {
        const h = decodeHeader(bytes);
        if (h.magic === SNAP_MAGIC && chunkSizeProblem(h.chunkSize) === null) {
          started = true;
          chunkSize = h.chunkSize;
          chunk = chunkBytes(h.chunkSize);
          progress.start("check", capacity(h.chunkSize, deviceSectors(reader.size)).areas, "areas");
        }
      } else if (started && offset > lastArea && offset % chunk === 0 && chunkKind(chunkSize, offset / chunk) === "metadata") {
        // An area's first piece (later pieces and re-reads of an area are not new areas).
        lastArea = offset;
        progress.update(++areas);
      }
      return bytes;
    },
  } };
}

