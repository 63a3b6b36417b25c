/**
 * Annotations of the hex view: what each 16-byte row of a chunk is, in the
 * words of docs/format.md. Rows are 16 bytes because both the header and an
 * exception entry are 16 bytes, so one row is one field group.
 */
import { entryOffset, joinU64, SNAP_MAGIC } from "@dmsnap/format";
import type { SECTION } from "./docs.js";

export type Section = keyof typeof SECTION;
export type SpanClass = "magic" | "valid" | "version" | "chunksize" | "old" | "new" | "term" | "stale" | "zero" | "data" | "unread";

export interface Span {
  start: number;
  length: number;
  cls: SpanClass;
  label: string;
}

export interface RowNote {
  spans: Span[];
  text: string;
  section: Section | null;
  /** Marks a row that a checker would report. */
  problem: boolean;
}

export type ChunkContext =
  | { kind: "header" }
  | { kind: "area"; area: number; perArea: number; terminator: number; read: boolean; stopArea: number }
  | { kind: "data"; text: string };

const u32 = (b: Uint8Array, o: number): number => (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;
const u64 = (b: Uint8Array, o: number): number => joinU64(u32(b, o), u32(b, o + 4));
const isZero = (b: Uint8Array): boolean => b.every((x) => x === 0);

/** The first entry whose new_chunk is 0 ends an area's list; perArea if none does (the area is full). */
export function terminatorIndex(area: Uint8Array, perArea: number): number {
  for (let i = 0; i < perArea && entryOffset(i + 1) <= area.length; i++) if (u32(area, entryOffset(i) + 8) === 0 && u32(area, entryOffset(i) + 12) === 0) return i;
  return perArea;
}

/** Describes row `row` (bytes `row*16 .. row*16+15` of the chunk, given as `b`). */
export function describeRow(ctx: ChunkContext, row: number, b: Uint8Array): RowNote {
  if (ctx.kind === "header") return headerRow(row, b);
  if (ctx.kind === "data") return { spans: [{ start: 0, length: b.length, cls: "data", label: "data" }], text: row === 0 ? ctx.text : "", section: row === 0 ? "layout" : null, problem: false };
  const old = b.length >= 8 ? u64(b, 0) : 0;
  const nw = b.length >= 16 ? u64(b, 8) : 0;
  const pair = (cls: SpanClass): Span[] => [
    { start: 0, length: 8, cls: cls === "old" ? "old" : cls, label: `old_chunk ${old}` },
    { start: 8, length: 8, cls: cls === "old" ? "new" : cls, label: `new_chunk ${nw}` },
  ];
  if (!ctx.read) {
    return { spans: pair("unread"), text: row === 0 ? `not read: the kernel stops at area ${ctx.stopArea}, the first that is not full` : "", section: row === 0 ? "activation" : null, problem: false };
  }
  if (row < ctx.terminator) {
    return { spans: pair("old"), text: `entry ${row}: origin chunk ${old} → COW chunk ${nw}`, section: "entries", problem: false };
  }
  if (row === ctx.terminator) {
    return {
      spans: pair("term"),
      text: old === 0 ? `terminator (new_chunk 0): area ${ctx.area} ends at entry ${row}` : `terminator (new_chunk 0; its old_chunk ${old} is ignored): area ${ctx.area} ends at entry ${row}`,
      section: "terminator",
      problem: false,
    };
  }
  if (isZero(b)) return { spans: pair("zero"), text: "", section: null, problem: false };
  return { spans: pair("stale"), text: `stale bytes after the terminator (ENTRIES_AFTER_TERMINATOR): old ${old}, new ${nw}; the kernel ignores them`, section: "findings", problem: true };
}

function headerRow(row: number, b: Uint8Array): RowNote {
  if (row === 0) {
    const magic = u32(b, 0);
    const valid = u32(b, 4);
    const version = u32(b, 8);
    const cs = u32(b, 12);
    const magicText = magic === SNAP_MAGIC ? `0x70416e53 "SnAp"` : magic === 0 ? "0 (blank: a new COW)" : `0x${magic.toString(16).padStart(8, "0")} (neither "SnAp" nor 0)`;
    return {
      spans: [
        { start: 0, length: 4, cls: "magic", label: `magic ${magicText}` },
        { start: 4, length: 4, cls: "valid", label: `valid ${valid}` },
        { start: 8, length: 4, cls: "version", label: `version ${version}` },
        { start: 12, length: 4, cls: "chunksize", label: `chunk_size ${cs} sectors` },
      ],
      text: `header: magic ${magicText}, valid ${valid}, version ${version}, chunk size ${cs} sectors`,
      section: "header",
      problem: false,
    };
  }
  if (isZero(b)) return { spans: [{ start: 0, length: b.length, cls: "zero", label: "padding" }], text: row === 1 ? "rest of chunk 0: zero padding, ignored by the kernel" : "", section: row === 1 ? "header" : null, problem: false };
  return { spans: [{ start: 0, length: b.length, cls: "stale", label: "non-zero padding" }], text: "non-zero bytes after the header (HEADER_PADDING_NOT_ZERO): a sign of the 2009 invalidation race or another tool", section: "findings", problem: true };
}
