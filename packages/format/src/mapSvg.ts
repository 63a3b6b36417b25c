/**
 * The device map as SVG: one renderer for `dmsnap map` and the browser
 * explorer. Pure (no I/O, no Node built-ins), so it runs in a browser too.
 */
import type { ChunkColumn } from "./exceptionTable.js";
import type { Finding } from "./diagnose.js";
import type { UsedChunkSink } from "./exceptionScan.js";
import { areaLocation, chunkBytes, chunkKind, chunksInDevice, dataChunksBelow } from "./layout.js";

/** Chunk classes, least important first (ties in a cell go to the later one). */
export const MAP_CLASSES = ["free", "used", "metadata", "leaked", "header", "problem"] as const;
export type ChunkClass = (typeof MAP_CLASSES)[number];
const FREE = 0;
const USED = 1;
const META = 2;
const LEAKED = 3;
const HEADER = 4;
const PROBLEM = 5;
export const MAP_COLOUR: Record<ChunkClass, string> = {
  free: "#e6e6e6",
  used: "#2f7fd8",
  metadata: "#7b4fd6",
  leaked: "#f0a020",
  header: "#333333",
  problem: "#d62728",
};
export const MAP_LABEL: Record<ChunkClass, string> = {
  free: "free data chunks",
  used: "data chunks in use (named by an exception)",
  metadata: "metadata areas",
  leaked: "leaked (below the free cursor, named by no exception)",
  header: "header",
  problem: "problems found by check",
};

const FOOTER = "a cell takes the colour of a problem or the header if it holds one, else of its most common kind of chunk";

/** At most this many cells: 256 columns x 128 rows. */
const MAX_CELLS = 256 * 128;

export interface MapInput {
  title: string;
  subtitle: string;
  chunkSize: number;
  deviceBytes: number;
  nextFree: number;
  /** The new_chunk column (first `count` entries), or instead `raster`: the chunks in use already counted per cell. */
  newChunks?: ChunkColumn;
  count?: number;
  raster?: MapRaster;
  /** Chunks marked as problems. */
  problemChunks: number[];
  /** Problem findings with no drawable chunk (past the end of the device). */
  undrawable: number;
  headerIsProblem: boolean;
}

export interface MapResult {
  svg: string;
  chunks: number;
  chunksPerCell: number;
  cells: number;
  counts: Record<ChunkClass, number>;
  /** Where the grid sits in the SVG (user units), so a viewer can map a click to a cell. */
  grid: { x: number; y: number; cols: number; rows: number; px: number };
}

/** How a device of `chunks` chunks falls into at most MAX_CELLS cells of `perCell` chunks. */
export function mapGeometry(chunks: number): { perCell: number; cells: number } {
  const perCell = Math.max(1, Math.ceil(chunks / MAX_CELLS));
  return { perCell, cells: Math.ceil(chunks / perCell) };
}

/**
 * The map's picture of the chunks in use, filled as the exceptions stream
 * past (diagnose's `usedChunks`): one count per cell, at most 32,768 cells,
 * so its size is fixed whatever the exception count.
 */
export class MapRaster implements UsedChunkSink {
  chunkSize = 0;
  chunks = 0;
  perCell = 1;
  used = new Uint32Array(0);
  /** The cell of the last chunk added and its chunks [cellStart, cellEnd): chunks come in runs, so most need no division. */
  private cell = 0;
  private cellStart = 0;
  private cellEnd = 0;

  begin(chunkSize: number, chunks: number): void {
    const g = mapGeometry(chunks);
    this.chunkSize = chunkSize;
    this.chunks = chunks;
    this.perCell = g.perCell;
    this.used = new Uint32Array(g.cells);
    this.cellEnd = 0;
  }

  /** A distinct data chunk inside the device, named by an exception. */
  add(chunk: number): void {
    if (chunk < this.cellStart || chunk >= this.cellEnd) {
      this.cell = Math.floor(chunk / this.perCell);
      this.cellStart = this.cell * this.perCell;
      this.cellEnd = this.cellStart + this.perCell;
    }
    this.used[this.cell]!++;
  }

  /** The distinct data chunks [first, first + count), counted a cell at a time. */
  addRun(first: number, count: number): void {
    const end = first + count;
    for (let c = first; c < end; ) {
      const cell = Math.floor(c / this.perCell);
      const next = Math.min(end, (cell + 1) * this.perCell);
      this.used[cell]! += next - c;
      c = next;
    }
  }
}

/** Per-cell counts of the distinct data chunks inside the device named in `newChunks`. */
function countUsed(newChunks: ChunkColumn, count: number, cs: number, chunks: number, perCell: number, cells: number): Uint32Array {
  const used = new Uint32Array(cells);
  const seen = chunks <= 1 << 28 ? new Uint32Array((chunks >>> 5) + 1) : null;
  for (let i = 0; i < count; i++) {
    const n = newChunks[i]!;
    if (n >= chunks || chunkKind(cs, n) !== "data") continue;
    if (seen) {
      const w = n >>> 5;
      const bit = 1 << (n & 31);
      if ((seen[w]! & bit) !== 0) continue;
      seen[w] = seen[w]! | bit;
    }
    used[Math.floor(n / perCell)]!++;
  }
  return used;
}

/** Renders the device map. No per-chunk allocation: counts are kept per cell. */
export function renderMap(m: MapInput): MapResult {
  const cs = m.chunkSize;
  const chunks = chunksInDevice(cs, m.deviceBytes);
  const { perCell, cells } = mapGeometry(chunks);
  const cols = Math.min(256, Math.max(16, Math.ceil(Math.sqrt(cells * 2))));
  const rows = Math.ceil(cells / cols);
  const px = Math.max(4, Math.min(24, Math.floor(1024 / cols)));
  // Per-cell counts of used chunks, and problem flags.
  let used: Uint32Array;
  if (m.raster && m.raster.chunkSize === cs && m.raster.chunks === chunks) used = m.raster.used;
  else if (m.newChunks) used = countUsed(m.newChunks, m.count ?? 0, cs, chunks, perCell, cells);
  else throw new Error("renderMap: give newChunks, or a raster of this chunk size and device");
  const problem = new Uint8Array(cells);
  let problemChunks = 0;
  for (const c of m.problemChunks) {
    if (c < chunks) {
      problem[Math.floor(c / perCell)] = 1;
      problemChunks++;
    }
  }
  if (m.headerIsProblem) problem[0] = 1;
  // Header and metadata chunks below x: x minus the data chunks of a device that ends at x.
  const metaBelow = (x: number): number => x - dataChunksBelow(cs, x);
  const nf = Math.min(m.nextFree, chunks);
  const cls = new Uint8Array(cells);
  const totals = new Float64Array(MAP_CLASSES.length);
  const weights = new Float64Array(4);
  for (let c = 0; c < cells; c++) {
    const c0 = c * perCell;
    const c1 = Math.min(chunks, c0 + perCell);
    const mb0 = metaBelow(c0);
    const meta = metaBelow(c1) - mb0;
    const header = c0 === 0 ? 1 : 0;
    const data = c1 - c0 - meta;
    const x = Math.min(c1, Math.max(c0, nf));
    const dataBelow = x - c0 - (metaBelow(x) - mb0);
    const u = Math.min(used[c]!, dataBelow);
    weights[FREE] = data - dataBelow;
    weights[USED] = u;
    weights[META] = meta - header;
    weights[LEAKED] = dataBelow - u;
    for (let k = 0; k < 4; k++) totals[k]! += weights[k]!;
    totals[HEADER]! += header;
    let best = FREE;
    for (let k = 1; k < 4; k++) if (weights[k]! >= weights[best]!) best = k;
    cls[c] = problem[c] ? PROBLEM : header ? HEADER : best;
  }
  totals[PROBLEM] = problemChunks + (m.headerIsProblem ? 1 : 0);
  // One path per class; each row's runs of equal cells become one rectangle.
  const paths: string[][] = MAP_CLASSES.map(() => []);
  for (let r = 0; r < rows; r++) {
    let c = r * cols;
    const end = Math.min(cells, c + cols);
    while (c < end) {
      const k = cls[c]!;
      let e = c + 1;
      while (e < end && cls[e] === k) e++;
      paths[k]!.push(`M${c - r * cols} ${r}h${e - c}v1h-${e - c}z`);
      c = e;
    }
  }
  const counts = Object.fromEntries(MAP_CLASSES.map((k, i) => [k, totals[i]!])) as Record<ChunkClass, number>;
  const gridW = cols * px;
  const gridH = rows * px;
  const margin = 16;
  const top = 58;
  const legendTop = top + gridH + 18;
  // Wide enough for the longest line of text too (SVG does not wrap; ~0.6 em a character).
  const subtitle = `${m.subtitle}; 1 cell = ${perCell} chunk${perCell === 1 ? "" : "s"}, read left to right, top to bottom`;
  const textWidth = Math.max(m.title.length * 9.6, Math.max(subtitle.length, FOOTER.length) * 7.2);
  const width = Math.ceil(Math.min(Math.max(gridW + 2 * margin, 640, textWidth + 2 * margin), 2400));
  const height = legendTop + MAP_CLASSES.length * 20 + 30;
  const cb = chunkBytes(cs);
  const esc = (s: string): string => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="13">`);
  out.push(`<rect width="100%" height="100%" fill="#ffffff"/>`);
  out.push(`<text x="${margin}" y="22" font-size="16" font-weight="bold">${esc(m.title)}</text>`);
  out.push(`<text x="${margin}" y="42" fill="#444">${esc(subtitle)}</text>`);
  out.push(`<g transform="translate(${margin} ${top}) scale(${px})" shape-rendering="crispEdges">`);
  MAP_CLASSES.forEach((k, i) => {
    if (paths[i]!.length) out.push(`<path fill="${MAP_COLOUR[k]}" d="${paths[i]!.join("")}"/>`);
  });
  out.push(`</g>`);
  // Small cells: ring each problem cell (at most 2000) so one bad chunk in a million still shows.
  if (px < 12) {
    const rings: string[] = [];
    for (let c = 0; c < cells && rings.length < 2000; c++) {
      if (cls[c] !== PROBLEM) continue;
      const x = margin + (c % cols) * px + px / 2;
      const y = top + Math.floor(c / cols) * px + px / 2;
      rings.push(`M${x - 7} ${y - 7}h14v14h-14z`);
    }
    if (rings.length) out.push(`<path fill="none" stroke="${MAP_COLOUR.problem}" stroke-width="2" d="${rings.join("")}"/>`);
  }
  out.push(`<rect x="${margin - 0.5}" y="${top - 0.5}" width="${gridW + 1}" height="${gridH + 1}" fill="none" stroke="#999"/>`);
  [...MAP_CLASSES].reverse().forEach((k, j) => {
    const y = legendTop + j * 20;
    const n = counts[k];
    const extra = k === "problem" && m.undrawable > 0 ? ` (+${m.undrawable} past the end of the device)` : "";
    out.push(`<rect x="${margin}" y="${y}" width="14" height="14" fill="${MAP_COLOUR[k]}" stroke="#999"/>`);
    out.push(`<text x="${margin + 22}" y="${y + 12}">${esc(`${MAP_LABEL[k]}: ${n} chunk${n === 1 ? "" : "s"}${k === "problem" ? "" : ` (${formatBytes(n * cb)})`}${extra}`)}</text>`);
  });
  out.push(`<text x="${margin}" y="${height - 10}" fill="#666">${FOOTER}</text>`);
  out.push(`</svg>\n`);
  return { svg: out.join("\n"), chunks, chunksPerCell: perCell, cells, counts, grid: { x: margin, y: top, cols, rows, px } };
}

/** Chunks named by findings (an area location for area-level findings). */
export function mapProblemChunks(findings: Finding[], chunks: number, cs: number): { chunks: number[]; undrawable: number } {
  const out: number[] = [];
  let undrawable = 0;
  for (const f of findings) {
    if (f.severity === "info") continue;
    const c = f.location.chunk ?? (f.location.area !== undefined ? areaLocation(cs, f.location.area) : undefined);
    if (c === undefined) continue;
    if (c < chunks) out.push(c);
    else undrawable++;
  }
  return { chunks: out, undrawable };
}

/** Human-readable sizes: 1536 -> "1.5 KiB"; the CLI prints sizes with it too. */
export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
  let v = bytes;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${bytes} B` : `${v.toFixed(v < 10 ? 2 : 1)} ${units[i]}`;
}
