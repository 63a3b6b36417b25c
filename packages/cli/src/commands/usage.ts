import type { Command } from "commander";
import { capacity, chunkBytes, dataChunksBelow, deviceSectors, statusOf, type CowImage } from "@dmsnap/format";
import { NEW_COW_NOT_BLANK, notBlank, notBlankMessage } from "../util/notBlank.js";
import { scanCow } from "../util/streamCow.js";
import { openImage } from "../util/imageFile.js";
import { parseSectors, quietOption } from "../util/options.js";
import { runCommand, say, warn } from "../util/output.js";
import { formatBytes, plural } from "../util/units.js";

interface UsageOptions {
  json?: boolean;
  chunkSize?: string;
  quiet?: boolean;
}

export interface UsageReport {
  /** What `dmsetup status` prints after the target name: `allocated/total metadata` (sectors) or `Invalid`. */
  status: string;
  state: CowImage["state"];
  chunkSize: number;
  deviceBytes: number;
  totalSectors: number;
  allocatedSectors: number;
  metadataSectors: number;
  /** allocated / total, in percent (one decimal). */
  percentFull: number;
  /** Areas in use (header not counted) and the most the device holds. */
  areasInUse: number;
  areaCapacity: number;
  exceptions: number;
  /** The most exceptions the device can hold (its data chunks). */
  exceptionCapacity: number;
  capacityBytes: number;
  /** Data chunks the store can still hand out (from the free cursor on). */
  freeChunks: number;
  freeBytes: number;
  nextFree: number;
  /** Present when something about the image needs attention (NEW_COW_NOT_BLANK). */
  warnings?: Array<{ code: string; message: string }>;
}

export function usageReport(img: CowImage): UsageReport {
  const cs = img.chunkSize;
  const total = deviceSectors(img.deviceBytes);
  const cap = capacity(cs, total);
  // Data chunks below the free cursor: the capacity of a device that ends there.
  const below = dataChunksBelow(cs, Math.min(img.nextFree, cap.chunks));
  const freeChunks = img.state === "invalid" ? 0 : Math.max(0, cap.dataChunks - below);
  const u = img.usage;
  return {
    status: statusOf(img),
    state: img.state,
    chunkSize: cs,
    deviceBytes: img.deviceBytes,
    totalSectors: u.totalSectors,
    allocatedSectors: u.allocatedSectors,
    metadataSectors: u.metadataSectors,
    percentFull: u.totalSectors > 0 ? Math.round((1000 * u.allocatedSectors) / u.totalSectors) / 10 : 0,
    areasInUse: img.currentArea + 1,
    areaCapacity: cap.areas,
    exceptions: img.exceptionCount,
    exceptionCapacity: cap.dataChunks,
    capacityBytes: cap.dataChunks * chunkBytes(cs),
    freeChunks,
    freeBytes: freeChunks * chunkBytes(cs),
    nextFree: img.nextFree,
  };
}

export function register(program: Command): void {
  program
    .command("usage")
    .description("how full a COW device is: the `dmsetup status` line and a readable summary")
    .argument("<cow>", "COW image file or block device (opened read-only)")
    .option("--json", "print one JSON object (status, sectors, percentFull, areas, exceptions, capacity, free chunks and bytes)")
    .option("--chunk-size <sectors>", "the table's chunk size: used for a blank COW, overridden by an existing header")
    .addOption(quietOption("print nothing: the exit code says whether the kernel would activate the COW (0) or refuse it (1)"))
    .addHelpText(
      "after",
      `
The first line is what 'dmsetup status' prints for the snapshot after the
target name: allocated/total metadata (in 512-byte sectors), or Invalid.

Examples:
  $ dmsnap usage /dev/vg/snap-cow
  $ dmsnap usage cow.img --json | jq .percentFull

Exit: 0 read, 1 the kernel would refuse the image (see 'dmsnap check'), 2 usage or I/O error.`,
    )
    .action((cow: string, opts: UsageOptions) =>
      runCommand(!!opts.json, async () => {
        const tableChunkSize = opts.chunkSize === undefined ? undefined : parseSectors(opts.chunkSize, "--chunk-size");
        const file = openImage(cow, "<cow>");
        try {
          // Streamed: counts and cursors only, no exception kept.
          const r = usageReport(scanCow(file, { ...(tableChunkSize === undefined ? {} : { tableChunkSize }), logicalBlockSize: file.logicalBlockSize }));
          const evidence = r.state === "new" ? await notBlank(file, r.chunkSize) : null;
          if (evidence) {
            r.warnings = [{ code: NEW_COW_NOT_BLANK, message: notBlankMessage(evidence) }];
            warn(`warning: ${NEW_COW_NOT_BLANK}: ${notBlankMessage(evidence)}`);
          }
          say(opts.json ? `${JSON.stringify(r)}\n` : human(cow, r));
        } finally {
          file.close();
        }
      }),
    );
}

function human(path: string, r: UsageReport): string {
  const cb = chunkBytes(r.chunkSize);
  const lines = [
    r.status,
    `${path}: ${formatBytes(r.deviceBytes)} COW, ${r.state}${r.state === "new" ? (r.warnings ? " (magic 0 but NOT blank: see the warning)" : " (blank)") : r.state === "invalid" ? " (invalidated: the kernel loads no exceptions; 'dmsnap repair' can salvage them)" : ""}, chunk size ${plural(r.chunkSize, "sector")} (${formatBytes(cb)})`,
    `  allocated    ${r.allocatedSectors} of ${r.totalSectors} sectors (${r.percentFull}% full), metadata ${r.metadataSectors} sectors`,
    `  exceptions   ${r.exceptions} of ${r.exceptionCapacity} (capacity ${formatBytes(r.capacityBytes)} of copied data)`,
    `  areas        ${r.areasInUse} in use of ${r.areaCapacity}`,
    `  free         ${r.freeChunks} chunks (${formatBytes(r.freeBytes)}) from chunk ${r.nextFree}`,
  ];
  return `${lines.join("\n")}\n`;
}
