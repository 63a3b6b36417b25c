import type { Command } from "commander";
import { statSync } from "node:fs";
import { chunkBytes } from "@dmsnap/format";
import { initialiseCow, type CreateResult } from "@dmsnap/store/node";
import { CliError, Exit } from "../util/errors.js";
import { fileError } from "../util/ioErrors.js";
import { fdReader, openDevice } from "../util/inputs.js";
import { refuseNotBlank } from "../util/notBlank.js";
import { cleanUpOnSignals, createOutput, followLinks } from "../util/outputs.js";
import { runCommand, say } from "../util/output.js";
import { parseSectors, parseSize, quietOption } from "../util/options.js";
import { formatBytes, plural } from "../util/units.js";

interface CreateOpts {
  cow: string;
  chunkSize: string;
  size?: string;
  json?: boolean;
  force?: boolean;
}

export function register(program: Command): void {
  program
    .command("create")
    .description("initialise a COW device exactly as the kernel's first activation does (header + zeroed area 0)")
    .requiredOption("--cow <file>", "COW file to create (with --size) or an existing zeroed file or device (its header chunk and area 0 all zeros)")
    .requiredOption("--chunk-size <sectors>", "chunk size: a power of two number of 512-byte sectors from 1 to 2097152 (8 = 4 KiB), or a size with a unit (4KiB, 8s; a bare number is sectors), or 0 for the kernel's default (32, or the logical block size if larger), as in a dm table")
    .option("--size <bytes>", "create a new blank COW file of this size (K, M, G, T suffixes accepted)")
    .option("--json", "print the result as one JSON object; errors as {\"error\": {code, message}}")
    .addOption(quietOption("print no result line; errors on stderr"))
    .option("--force", "initialise an existing file or device whose header chunk or area 0 is not all zeros (TARGET_NOT_BLANK), destroying what is there")
    .addHelpText("after", "\nExamples:\n  $ dmsnap create --cow snap.cow --chunk-size 8 --size 64M\n  $ dmsnap create --cow /dev/vg/cow --chunk-size 16\n\nExit: 0 initialised, 1 refused (corrupt header), 2 usage or I/O error, or --cow already holds a snapshot (ALREADY_INITIALISED), exists (OUTPUT_EXISTS) or is not blank (TARGET_NOT_BLANK).")
    .action((opts: CreateOpts) =>
      runCommand(!!opts.json, async () => {
        const chunkSize = parseSectors(opts.chunkSize, "--chunk-size");
        const size = opts.size === undefined ? undefined : parseSize(opts.size, "--size");
        const r = await create(opts.cow, chunkSize, size, !!opts.force);
        say(
          opts.json
            ? `${JSON.stringify(r)}\n`
            : `${r.created ? "created" : "initialised"} ${r.cow}: ${formatBytes(r.deviceBytes)}, chunk size ${plural(r.chunkSize, "sector")} (${formatBytes(chunkBytes(r.chunkSize))})${chunkSize === 0 ? ", the kernel's default for --chunk-size 0" : ""}, room for ${r.capacity} exceptions; status ${r.status}\n`,
        );
      }),
    );
}

/**
 * A missing --cow is built as a temporary beside it (sparse, --size bytes)
 * and put in place when initialised and synced; an existing file or device
 * is initialised in place under an exclusive lock.
 */
async function create(path: string, chunkSize: number, size: number | undefined, force: boolean): Promise<CreateResult> {
  let exists = true;
  try {
    statSync(followLinks(path, "--cow"));
  } catch (e) {
    if (e instanceof CliError) throw e;
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw fileError(e, path, "look up --cow");
    exists = false;
  }
  if (!exists) {
    if (size === undefined) throw new CliError("IO_ENOENT", `--cow ${path} does not exist; give --size <bytes> to create it, or point --cow at an existing zeroed file or device`, Exit.Usage);
    if (!Number.isSafeInteger(size) || size <= 0 || size % 512 !== 0) throw new CliError("BAD_OPTION", `--size must be a positive multiple of 512 bytes, got ${size}`, Exit.Usage);
    cleanUpOnSignals();
    const out = await createOutput(path, { role: "--cow", inputs: [], force: false });
    try {
      try {
        await out.handle.truncate(size);
      } catch (e) {
        throw fileError(e, path, `make a ${size}-byte`);
      }
      const r = await initialiseCow(out.device(size), path, chunkSize);
      await out.commit();
      return { ...r, cow: path, created: true };
    } finally {
      await out.abort();
    }
  }
  const dev = await openDevice(path, "--cow", true);
  try {
    // Magic 0 is not blank: whatever the header chunk and area 0 hold (an ext4 image, the 2009 race's live entries) would be wiped.
    await refuseNotBlank(fdReader(dev.handle.fd, dev.size, path), path, chunkSize, "create", force);
    if (size !== undefined && !dev.isBlockDevice && dev.size !== size) {
      throw new CliError("BAD_OPTION", `--size ${size} does not match --cow ${path}, which already exists with ${dev.size} bytes; omit --size to initialise it as it is, or pick a new path`, Exit.Usage);
    }
    return { ...(await initialiseCow(dev.device, path, chunkSize)), created: false };
  } finally {
    await dev.close();
  }
}
