/** Messages between the page and the decoding worker. */
import type { CheckReport, ChunkColumn, Finding, Header } from "@dmsnap/format";

export interface OpenRequest {
  blob: Blob;
  name: string;
  /** The chunk size of the snapshot table (dmsetup), in sectors; as the kernel, used for a blank COW. */
  tableChunkSize?: number;
}

export interface MapPicture {
  svg: string;
  grid: { x: number; y: number; cols: number; rows: number; px: number };
  chunksPerCell: number;
  chunks: number;
  /** Set when a refused image is drawn from what salvage recovers. */
  note?: string;
}

export interface Decoded {
  name: string;
  size: number;
  /** What the kernel does: the COW state, or "refused". */
  state: "new" | "valid" | "invalid" | "refused";
  error?: { code: string; message: string };
  /** The 16 header bytes as stored (null when the file is shorter). */
  header: Header | null;
  /** Chunk size in effect, in sectors (for a refused image: what salvage inferred, 0 if nothing). */
  chunkSize: number;
  exceptionsPerArea: number;
  currentArea: number;
  currentIndex: number;
  nextFree: number;
  /** The usage part of the `dmsetup status` line ("Invalid" for an invalid COW); null when refused. */
  status: string | null;
  /** Exceptions the kernel loads. */
  count: number;
  /** Rows of the table: the loaded exceptions; for an invalid COW the entries still on disk; for a refused one (or a blank header over live entries) what salvage recovers. */
  rows: number;
  rowsSource: "loaded" | "invalid" | "salvaged";
  oldChunk: ChunkColumn;
  newChunk: ChunkColumn;
  /** What `dmsnap check` reports (@dmsnap/format's checkReport): the findings listed (at most 20 a code), every one counted. */
  findings: Finding[];
  findingCounts: Record<string, number>;
  summary: CheckReport["summary"];
  map: MapPicture | null;
  /** Milliseconds: activation + check pass, and drawing the map. */
  decodeMs: number;
  mapMs: number;
  /** Metadata areas the decoder read. */
  areasRead: number;
}

export type WorkerReply = { ok: true; decoded: Decoded } | { ok: false; message: string };
