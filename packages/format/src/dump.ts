/**
 * The `dmsnap dump --json` object: the decoded model rendered for scripts and
 * for the conformance suite's reader protocol (docs/conformance.md).
 */
import type { CowImage } from "./activation.js";
import type { FormatError } from "./errors.js";
import type { Header } from "./header.js";
import { usageStatus, type Usage } from "./layout.js";

export interface DumpObject {
  header: Header;
  state: CowImage["state"];
  /** Chunk size in effect, in sectors. */
  chunkSize: number;
  exceptionsPerArea: number;
  /** [old_chunk, new_chunk] in on-disk order; empty unless state is valid. */
  exceptions: Array<[number, number]>;
  nextFree: number;
  usage: Usage;
  currentArea: number;
  deviceBytes: number;
  /** What `dmsetup status` would print after the target name: usage, or "Invalid". */
  status: string;
}

export interface DumpError {
  error: { code: string; message: string };
}

export function statusOf(image: CowImage): string {
  return image.state === "invalid" ? "Invalid" : usageStatus(image.usage);
}

export function toDumpObject(image: CowImage): DumpObject {
  return {
    header: { ...image.header },
    state: image.state,
    chunkSize: image.chunkSize,
    exceptionsPerArea: image.exceptionsPerArea,
    exceptions: image.exceptions.toPairs(),
    nextFree: image.nextFree,
    usage: { ...image.usage },
    currentArea: image.currentArea,
    deviceBytes: image.deviceBytes,
    status: statusOf(image),
  };
}

export function toDumpError(e: FormatError): DumpError {
  return { error: { code: e.code, message: e.message } };
}
