/**
 * Decodes a COW image off the page's thread: activation and the checker's
 * pass (@dmsnap/format's diagnose), then the device map. Only the slices the
 * decoder asks for are read.
 */
import {
  checkReport,
  chunksInDevice,
  decodeCowAsync,
  decodeHeader,
  diagnoseAsync,
  exceptionsPerArea,
  HEADER_SIZE,
  mapProblemChunks,
  nextFreeAfterLoad,
  renderMap,
  salvage,
  statusOf,
  type ChunkColumn,
  type MapInput,
  type SalvageResult,
} from "@dmsnap/format";
import { blobReader, blobSyncReader, prefetchingReader } from "./blobReader.js";
import type { Decoded, MapPicture, OpenRequest, WorkerReply } from "./protocol.js";

const post = (reply: WorkerReply, transfer: Transferable[] = []): void => (self as unknown as Worker).postMessage(reply, transfer);

self.onmessage = async (ev: MessageEvent<OpenRequest>) => {
  try {
    const decoded = await decode(ev.data);
    post({ ok: true, decoded }, [decoded.oldChunk.buffer, decoded.newChunk.buffer]);
  } catch (e) {
    post({ ok: false, message: e instanceof Error ? `${e.name}: ${e.message}` : String(e) });
  }
};

async function decode(req: OpenRequest): Promise<Decoded> {
  const { blob, name } = req;
  let areasRead = 0;
  const base = blobReader(blob);
  const ahead = prefetchingReader(base);
  const reader = {
    size: base.size,
    read: (o: number, l: number) => {
      if (l > HEADER_SIZE) areasRead++;
      return ahead.read(o, l);
    },
  };
  const options = req.tableChunkSize === undefined ? {} : { tableChunkSize: req.tableChunkSize };
  const t0 = performance.now();
  // As `dmsnap check` lists them: at most 20 a code, every one counted.
  const d = await diagnoseAsync(reader, { ...options, maxPerCode: 20 });
  // The findings and counts `dmsnap check` prints, from the same function (synchronous slices for
  // the not-blank test of a magic-0 header).
  const report = await checkReport(name, d, blobSyncReader(blob));
  const decodeMs = performance.now() - t0;
  const header = blob.size >= HEADER_SIZE ? decodeHeader(await base.read(0, HEADER_SIZE)) : null;
  const img = d.image;
  let oldChunk: ChunkColumn = new Uint32Array(0);
  let newChunk: ChunkColumn = new Uint32Array(0);
  let rows = 0;
  let rowsSource: Decoded["rowsSource"] = "loaded";
  if (img) {
    let table = img.exceptions;
    if (img.state === "invalid") {
      // The kernel loads nothing from an invalid COW; the entries are still on disk, shown as such.
      try {
        table = (await decodeCowAsync(base, { ...options, readInvalid: true })).exceptions;
        rowsSource = "invalid";
      } catch {
        /* areas unreadable: nothing to show */
      }
    }
    rows = table.count;
    oldChunk = table.oldChunk.slice(0, rows);
    newChunk = table.newChunk.slice(0, rows);
  }
  const t1 = performance.now();
  let map: MapPicture | null = null;
  let chunkSize = img?.chunkSize ?? 0;
  if (img && img.state !== "new") {
    const { chunks, undrawable } = mapProblemChunks(d.findings, chunksInDevice(img.chunkSize, img.deviceBytes), img.chunkSize);
    map = draw({
      title: `${name}: ${img.state} COW, chunk size ${img.chunkSize} sectors`,
      subtitle: `${img.exceptions.count} exceptions, status ${statusOf(img)}, ${report.summary.total} finding(s)`,
      chunkSize: img.chunkSize,
      deviceBytes: img.deviceBytes,
      nextFree: img.nextFree,
      newChunks: newChunk,
      count: rows,
      problemChunks: chunks,
      undrawable,
      headerIsProblem: false,
    });
  } else if (img) {
    // A blank header over live metadata (the 2009 race): the kernel starts afresh and loses
    // the exceptions, so it is drawn, as `dmsnap map` does, from what salvage finds.
    const s = trySalvage(blob, undefined);
    if (s && s.exceptions.count > 0) {
      map = drawSalvage(name, "new (magic 0) over live metadata: the kernel would start afresh", s, blob.size);
      ({ rows, oldChunk, newChunk } = salvagedRows(s));
      rowsSource = "salvaged";
      map.note = `the header is blank (magic 0) but ${s.exceptions.count} exceptions are still on disk: the kernel would start a new, empty snapshot over them; drawn from what 'dmsnap repair' can salvage`;
    } else {
      map = draw({ title: `${name}: new (blank) COW, chunk size ${img.chunkSize} sectors`, subtitle: "nothing allocated", chunkSize: img.chunkSize, deviceBytes: img.deviceBytes, nextFree: 2, newChunks: newChunk, count: 0, problemChunks: [], undrawable: 0, headerIsProblem: false });
    }
  } else {
    // Refused: drawn, as `dmsnap map` does, from what salvage recovers (synchronous slices).
    const s = trySalvage(blob, options.tableChunkSize);
    if (s && s.chunkSize > 0) {
      chunkSize = s.chunkSize;
      map = drawSalvage(name, `refused (${d.findings[0]!.code})`, s, blob.size);
      ({ rows, oldChunk, newChunk } = salvagedRows(s));
      rowsSource = "salvaged";
      map.note = "refused: drawn from what 'dmsnap repair' can salvage";
    }
  }
  const mapMs = performance.now() - t1;
  const refusal = img ? undefined : d.findings[0]!;
  return {
    name,
    size: blob.size,
    state: img ? img.state : "refused",
    ...(refusal ? { error: { code: refusal.code, message: refusal.message } } : {}),
    header,
    chunkSize,
    exceptionsPerArea: img?.exceptionsPerArea ?? (chunkSize > 0 ? exceptionsPerArea(chunkSize) : 0),
    currentArea: img?.currentArea ?? 0,
    currentIndex: img?.currentIndex ?? 0,
    nextFree: img?.nextFree ?? 0,
    status: img ? statusOf(img) : null,
    count: img?.exceptions.count ?? 0,
    rows,
    rowsSource,
    oldChunk,
    newChunk,
    findings: report.findings,
    findingCounts: report.counts,
    summary: report.summary,
    map,
    decodeMs,
    mapMs,
    areasRead,
  };
}

function salvagedRows(s: SalvageResult): { rows: number; oldChunk: ChunkColumn; newChunk: ChunkColumn } {
  const n = s.exceptions.count;
  return { rows: n, oldChunk: s.exceptions.oldChunk.slice(0, n), newChunk: s.exceptions.newChunk.slice(0, n) };
}

function trySalvage(blob: Blob, chunkSize: number | undefined): SalvageResult | null {
  try {
    return salvage(blobSyncReader(blob), chunkSize ? { chunkSize } : {});
  } catch {
    return null; // nothing salvageable: no map
  }
}

function drawSalvage(name: string, what: string, s: SalvageResult, deviceBytes: number): MapPicture {
  let max = -1;
  for (let i = 0; i < s.exceptions.count; i++) max = Math.max(max, s.exceptions.newChunk[i]!);
  const dev = chunksInDevice(s.chunkSize, deviceBytes);
  const dropped = s.dropped.map((e) => e.newChunk);
  return draw({
    title: `${name}: ${what}, drawn from salvage at chunk size ${s.chunkSize} sectors (${s.chunkSizeSource})`,
    subtitle: `${s.exceptions.count} salvageable exceptions, ${s.droppedCount} unsound`,
    chunkSize: s.chunkSize,
    deviceBytes,
    nextFree: nextFreeAfterLoad(s.chunkSize, max),
    newChunks: s.exceptions.newChunk,
    count: s.exceptions.count,
    problemChunks: dropped.filter((c) => c < dev),
    undrawable: dropped.filter((c) => c >= dev).length,
    headerIsProblem: true,
  });
}

function draw(input: MapInput): MapPicture {
  const r = renderMap(input);
  return { svg: r.svg, grid: r.grid, chunksPerCell: r.chunksPerCell, chunks: r.chunks };
}

