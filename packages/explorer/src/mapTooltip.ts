/**
 * The map's tooltip: pointing at a cell (or focusing the map and moving with
 * the arrow keys) says which chunks the cell covers, what they are in the
 * layout, and for a data chunk the exception that names it. Enter or a click
 * opens the cell's first chunk in the hex view.
 */
import { areaOfChunk, chunkKind } from "@dmsnap/format";
import type { Decoded } from "./protocol.js";

/** What one map cell holds, in words. */
export function describeCell(d: Decoded, cell: number): string {
  const m = d.map!;
  const first = cell * m.chunksPerCell;
  const last = Math.min(m.chunks, first + m.chunksPerCell) - 1;
  const cs = d.chunkSize;
  const named = d.rowsSource === "loaded" ? "" : d.rowsSource === "invalid" ? " (on disk; the COW is invalid, the kernel loads none)" : " (what 'dmsnap repair' would salvage; the kernel loads none)";
  if (first === last) {
    const kind = chunkKind(cs, first);
    if (kind === "header") return `chunk 0: the header`;
    if (kind === "metadata") return `chunk ${first}: metadata area ${areaOfChunk(cs, first)}`;
    const entry = entryNaming(d, first);
    if (entry >= 0) return `chunk ${first}: data, the copy of origin chunk ${d.oldChunk[entry]} (entry ${entry})${named}`;
    if (d.state === "valid" || d.state === "new") return first >= d.nextFree ? `chunk ${first}: free data chunk` : `chunk ${first}: data chunk below the free cursor that no exception names (leaked)`;
    return `chunk ${first}: data chunk no entry names`;
  }
  let metadata = 0;
  for (let c = first; c <= last; c++) if (chunkKind(cs, c) !== "data") metadata++;
  let used = 0;
  for (let i = 0; i < d.rows; i++) if (d.newChunk[i]! >= first && d.newChunk[i]! <= last) used++;
  return `chunks ${first}–${last}: ${metadata} metadata, ${used} data in use${named}, ${last - first + 1 - metadata - used} other data`;
}

/** The first entry whose new_chunk is `chunk`, or -1 (one pass over the column; only on hover). */
function entryNaming(d: Decoded, chunk: number): number {
  for (let i = 0; i < d.rows; i++) if (d.newChunk[i] === chunk) return i;
  return -1;
}

export function attachMapTooltip(box: HTMLElement, d: Decoded, openChunk: (chunk: number) => void): void {
  const m = d.map!;
  const svg = box.querySelector("svg")!;
  const cells = Math.ceil(m.chunks / m.chunksPerCell);
  const tip = document.createElement("div");
  tip.className = "map-tip";
  tip.setAttribute("role", "tooltip");
  tip.id = "map-tip";
  tip.dataset.testid = "map-tooltip";
  tip.hidden = true;
  box.appendChild(tip);
  svg.style.cursor = "pointer";
  svg.setAttribute("tabindex", "0");
  svg.setAttribute("aria-describedby", tip.id);
  let focused = 0;

  const cellAt = (clientX: number, clientY: number): number => {
    const pt = new DOMPoint(clientX, clientY).matrixTransform(svg.getScreenCTM()!.inverse());
    const col = Math.floor((pt.x - m.grid.x) / m.grid.px);
    const row = Math.floor((pt.y - m.grid.y) / m.grid.px);
    if (col < 0 || col >= m.grid.cols || row < 0 || row >= m.grid.rows) return -1;
    const cell = row * m.grid.cols + col;
    return cell < cells ? cell : -1;
  };
  const show = (cell: number): void => {
    if (cell < 0) {
      tip.hidden = true;
      return;
    }
    tip.textContent = describeCell(d, cell);
    tip.dataset.cell = String(cell);
    // Beside the cell, in the box's coordinates.
    const ctm = svg.getScreenCTM()!;
    const col = cell % m.grid.cols;
    const row = Math.floor(cell / m.grid.cols);
    const p = new DOMPoint(m.grid.x + (col + 1) * m.grid.px, m.grid.y + (row + 1) * m.grid.px).matrixTransform(ctm);
    const b = box.getBoundingClientRect();
    tip.hidden = false;
    const left = Math.min(p.x - b.left + 6, Math.max(0, b.width - tip.offsetWidth));
    tip.style.left = `${left}px`;
    tip.style.top = `${p.y - b.top + 6}px`;
  };
  svg.addEventListener("mousemove", (ev) => show(cellAt(ev.clientX, ev.clientY)));
  svg.addEventListener("mouseleave", () => {
    if (document.activeElement !== svg) tip.hidden = true;
  });
  svg.addEventListener("click", (ev) => {
    const cell = cellAt(ev.clientX, ev.clientY);
    if (cell >= 0) openChunk(cell * m.chunksPerCell);
  });
  svg.addEventListener("focus", () => show(focused));
  svg.addEventListener("blur", () => (tip.hidden = true));
  svg.addEventListener("keydown", (ev) => {
    const step: Record<string, number> = { ArrowLeft: -1, ArrowRight: 1, ArrowUp: -m.grid.cols, ArrowDown: m.grid.cols, Home: -cells, End: cells };
    if (ev.key === "Enter") {
      openChunk(focused * m.chunksPerCell);
      ev.preventDefault();
    } else if (ev.key in step) {
      focused = Math.max(0, Math.min(cells - 1, focused + step[ev.key]!));
      show(focused);
      ev.preventDefault();
    } else if (ev.key === "Escape") tip.hidden = true;
  });
}
