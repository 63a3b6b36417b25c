import { basename } from "node:path";
import type { Command } from "commander";
import {
  areaLocation,
  capacity,
  chunkBytes,
  chunkKind,
  chunksInDevice,
  diagnose,
  nextFreeAfterLoad,
  salvage,
  statusOf,
  type ChunkColumn,
  type Finding,
} from "@dmsnap/format";
import { CliError, Exit } from "../util/errors.js";
import { openImage } from "../util/imageFile.js";
import { cleanUpOnSignals, createOutput, type Output } from "../util/outputs.js";
import { parseSectors } from "../util/options.js";
import { runCommand } from "../util/output.js";
import { formatBytes } from "../util/units.js";

interface MapOptions {
  svg: string;
  chunkSize?: string;
  json?: boolean;
  force?: boolean;
}

/** Chunk classes, least important first (ties in a cell go to the later one). */
const CLASSES = ["free", "used", "metadata", "leaked", "header", "problem"] as const;
type ChunkClass = (typeof CLASSES)[number];
const FREE = 0;
const USED = 1;
const META = 2;
const LEAKED = 3;
const HEADER = 4;
const PROBLEM = 5;
const COLOUR: Record<ChunkClass, string> = {
  free: "#e6e6e6",
  used: "#2f7fd8",
  metadata: "#7b4fd6",
  leaked: "#f0a020",
  header: "#333333",
  problem: "#d62728",
};
const LABEL: Record<ChunkClass, string> = {
  free: "free data chunks",
  used: "data chunks in use (named by an exception)",
  metadata: "metadata areas",
  leaked: "leaked (below the free cursor, named by no exception)",
  header: "header",
  problem: "problems found by check",
};

/** At most this many cells: 256 columns x 128 rows. */
const MAX_CELLS = 256 * 128;

export interface MapInput {
  title: string;
  subtitle: string;
  chunkSize: number;
  deviceBytes: number;
  nextFree: number;
  newChunks: ChunkColumn;
  count: number;
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
}

/** Renders the device map. No per-chunk allocation: counts are kept per cell. */
export function renderMap(m: MapInput): MapResult {
  const cs = m.chunkSize;
  const chunks = chunksInDevice(cs, m.deviceBytes);
  const perCell = Math.max(1, Math.ceil(chunks / MAX_CELLS));
  const cells = Math.ceil(chunks / perCell);
  const cols = Math.min(256, Math.max(16, Math.ceil(Math.sqrt(cells * 2))));
  const rows = Math.ceil(cells / cols);
  const px = Math.max(4, Math.min(24, Math.floor(1024 / cols)));
  // Per-cell counts of used chunks, and problem flags.
  const used = new Uint32Array(cells);
  const seen = chunks <= 1 << 28 ? new Uint32Array((chunks >>> 5) + 1) : null;
  const { newChunks, count } = m;
  let usedTotal = 0;
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
    usedTotal++;
  }
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
  const metaBelow = (x: number): number => x - capacity(cs, x * cs).dataChunks;
  const nf = Math.min(m.nextFree, chunks);
  const cls = new Uint8Array(cells);
  const totals = new Float64Array(CLASSES.length);
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
  const paths: string[][] = CLASSES.map(() => []);
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
  const counts = Object.fromEntries(CLASSES.map((k, i) => [k, totals[i]!])) as Record<ChunkClass, number>;
  const gridW = cols * px;
  const gridH = rows * px;
  const margin = 16;
  const top = 58;
  const legendTop = top + gridH + 18;
  const width = Math.max(gridW + 2 * margin, 640);
  const height = legendTop + CLASSES.length * 20 + 30;
  const cb = chunkBytes(cs);
  const esc = (s: string): string => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="13">`);
  out.push(`<rect width="100%" height="100%" fill="#ffffff"/>`);
  out.push(`<text x="${margin}" y="22" font-size="16" font-weight="bold">${esc(m.title)}</text>`);
  out.push(`<text x="${margin}" y="42" fill="#444">${esc(m.subtitle)}; 1 cell = ${perCell} chunk${perCell === 1 ? "" : "s"}, read left to right, top to bottom</text>`);
  out.push(`<g transform="translate(${margin} ${top}) scale(${px})" shape-rendering="crispEdges">`);
  CLASSES.forEach((k, i) => {
    if (paths[i]!.length) out.push(`<path fill="${COLOUR[k]}" d="${paths[i]!.join("")}"/>`);
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
    if (rings.length) out.push(`<path fill="none" stroke="${COLOUR.problem}" stroke-width="2" d="${rings.join("")}"/>`);
  }
  out.push(`<rect x="${margin - 0.5}" y="${top - 0.5}" width="${gridW + 1}" height="${gridH + 1}" fill="none" stroke="#999"/>`);
  [...CLASSES].reverse().forEach((k, j) => {
    const y = legendTop + j * 20;
    const n = counts[k];
    const extra = k === "problem" && m.undrawable > 0 ? ` (+${m.undrawable} past the end of the device)` : "";
    out.push(`<rect x="${margin}" y="${y}" width="14" height="14" fill="${COLOUR[k]}" stroke="#999"/>`);
    out.push(`<text x="${margin + 22}" y="${y + 12}">${esc(`${LABEL[k]}: ${n} chunk${n === 1 ? "" : "s"}${k === "problem" ? "" : ` (${formatBytes(n * cb)})`}${extra}`)}</text>`);
  });
  out.push(`<text x="${margin}" y="${height - 10}" fill="#666">a cell takes the colour of a problem or the header if it holds one, else of its most common kind of chunk</text>`);
  out.push(`</svg>\n`);
  return { svg: out.join("\n"), chunks, chunksPerCell: perCell, cells, counts };
}

export function register(program: Command): void {
  program
    .command("map")
    .description("draw an SVG map of a COW device: header, metadata areas, data in use, free and leaked chunks, problems")
    .argument("<cow>", "COW image file or block device (opened read-only)")
    .requiredOption("--svg <file>", "SVG file to write ('-' for standard output)")
    .option("--chunk-size <sectors>", "chunk size for a blank COW, or for a refused one whose chunk size cannot be inferred")
    .option("--json", "print a JSON summary (counts per class, cells) instead of the readable one")
    .option("--force", "overwrite --svg if it exists")
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
          const d = await diagnose(file, { maxPerCode: 100_000, readInvalid: true, ...(tableChunkSize === undefined ? {} : { tableChunkSize }) });
          const name = basename(cow);
          // Magic 0 over live metadata (the 2009 race with first entry {0, 2}) is drawn from salvage too.
          const salvaged = d.image?.state === "new" ? salvage(file) : null;
          const refusal = d.image === null ? d.findings[0]!.code : salvaged && salvaged.exceptions.count > 0 ? "magic 0 over live metadata" : null;
          if (d.image && refusal === null) {
            const img = d.image;
            const { chunks, undrawable } = problemChunks(d.findings, chunksInDevice(img.chunkSize, img.deviceBytes), img.chunkSize);
            input = {
              title: `${name}: ${img.state} COW, chunk size ${img.chunkSize} sectors (${formatBytes(chunkBytes(img.chunkSize))})`,
              subtitle: `${formatBytes(img.deviceBytes)}, ${img.exceptions.count} exceptions, status ${statusOf(img)}, ${d.findings.length} finding(s)`,
              chunkSize: img.chunkSize,
              deviceBytes: img.deviceBytes,
              nextFree: img.nextFree,
              newChunks: img.exceptions.newChunk,
              count: img.exceptions.count,
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
          process.stdout.write(r.svg);
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
        process.stdout.write(
          opts.json
            ? `${JSON.stringify(summary)}\n`
            : `wrote ${opts.svg} (${formatBytes(summary.bytes)}): ${r.chunks} chunks, ${r.chunksPerCell} per cell; ${CLASSES.map((k) => `${k} ${r.counts[k]}`).join(", ")}\n`,
        );
      }),
    );
}

/** Chunks named by findings (an area location for area-level findings). */
function problemChunks(findings: Finding[], chunks: number, cs: number): { chunks: number[]; undrawable: number } {
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
