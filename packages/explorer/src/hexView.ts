/**
 * The annotated hex view of one chunk: chunk 0 (the header), a metadata area
 * (entries, terminator, stale bytes) or a data chunk. The chunk is read as one
 * Blob slice (at most MAX_BYTES of it) and its rows are virtualised.
 */
import { areaLocationForE, areaOfChunk, chunkBytes, chunkKind, chunksInDevice, entriesIn, entryOffset } from "@dmsnap/format";
import { docLink } from "./docs.js";
import { describeRow, terminatorIndex, type ChunkContext } from "./hexRows.js";
import type { Decoded } from "./protocol.js";
import { VirtualList } from "./virtualList.js";

const MAX_BYTES = 4 << 20;
/** Must match the media query of style.css that puts the labels under the bytes. */
const NARROW = "(max-width: 1100px)";
const hex2 = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

export class HexView {
  private list: VirtualList;
  private bytes = new Uint8Array(0);
  private ctx: ChunkContext = { kind: "header" };
  private base = 0;
  private readonly title: HTMLElement;
  private readonly input: HTMLInputElement;
  private blob: Blob | null = null;
  private d: Decoded | null = null;

  constructor(parent: HTMLElement) {
    const bar = document.createElement("div");
    bar.className = "searchbar";
    bar.innerHTML = `<label>chunk <input type="number" min="0" data-testid="hex-chunk" value="0"></label>
      <button data-go="header">chunk 0</button><button data-go="area0">area 0</button><button data-go="current">current area</button>
      <span data-testid="hex-title"></span>`;
    parent.appendChild(bar);
    this.title = bar.querySelector("[data-testid=hex-title]")!;
    this.input = bar.querySelector("input")!;
    this.input.addEventListener("change", () => void this.open(Number(this.input.value)));
    bar.querySelectorAll<HTMLButtonElement>("button").forEach((b) => {
      b.onclick = () => {
        const d = this.d;
        if (!d) return;
        const cs = d.chunkSize || 1;
        const per = d.exceptionsPerArea || 1;
        const chunk = b.dataset.go === "header" ? 0 : b.dataset.go === "area0" ? 1 : areaLocationForE(per, d.currentArea);
        void this.open(chunk, cs);
      };
    });
    // In a narrow window each label goes on a line of its own under its bytes (style.css), so
    // that it is never cut: the rows are then two lines high.
    const narrow = matchMedia(NARROW);
    this.list = new VirtualList(parent, narrow.matches ? 36 : 20, (i, el) => this.row(i, el), "hex");
    narrow.addEventListener("change", () => this.list.setRowHeight(narrow.matches ? 36 : 20));
  }

  show(blob: Blob, d: Decoded): void {
    this.blob = blob;
    this.d = d;
    void this.open(0);
  }

  async open(chunk: number, _cs?: number): Promise<void> {
    const d = this.d;
    const blob = this.blob;
    if (!d || !blob || !Number.isSafeInteger(chunk) || chunk < 0) return;
    const cs = d.chunkSize > 0 ? d.chunkSize : 1;
    const cb = chunkBytes(cs);
    const chunks = Math.max(1, chunksInDevice(cs, blob.size));
    if (chunk >= chunks && !(chunk === 0)) {
      this.title.textContent = `chunk ${chunk} is past the end of the device (${chunks} chunks)`;
      return;
    }
    this.input.value = String(chunk);
    this.base = chunk * cb;
    const len = Math.min(cb, MAX_BYTES, blob.size - this.base);
    this.bytes = new Uint8Array(await blob.slice(this.base, this.base + len).arrayBuffer());
    this.ctx = this.context(d, chunk, cs);
    const kind = this.ctx.kind === "header" ? "chunk 0: the header" : this.ctx.kind === "area" ? `chunk ${chunk}: metadata area ${this.ctx.area}` : `chunk ${chunk}: data`;
    this.title.innerHTML = `${kind} <span class="muted">(bytes ${this.base}–${this.base + len - 1}${len < cb ? `, first ${len} of ${cb}` : ""})</span>`;
    this.title.dataset.chunk = String(chunk);
    this.list.setCount(Math.ceil(entriesIn(len)));
  }

  private context(d: Decoded, chunk: number, cs: number): ChunkContext {
    if (chunk === 0) return { kind: "header" };
    const kind = chunkKind(cs, chunk);
    if (kind === "metadata") {
      const per = d.exceptionsPerArea || entriesIn(this.bytes.length);
      const area = areaOfChunk(cs, chunk);
      const loaded = d.state === "valid" || d.state === "invalid";
      return { kind: "area", area, perArea: per, terminator: terminatorIndex(this.bytes, per), read: !loaded || area <= d.currentArea, stopArea: d.currentArea };
    }
    let entry = -1;
    for (let i = 0; i < d.rows; i++) {
      if (d.newChunk[i] === chunk) {
        entry = i;
        break;
      }
    }
    const text =
      entry >= 0
        ? `data chunk: the copy of origin chunk ${d.oldChunk[entry]} (entry ${entry})`
        : chunk >= d.nextFree
          ? `free data chunk (at or after the free cursor, chunk ${d.nextFree})`
          : `data chunk below the free cursor that no exception names (leaked)`;
    return { kind: "data", text };
  }

  private row(i: number, el: HTMLDivElement): void {
    const off = entryOffset(i);
    const b = this.bytes.subarray(off, entryOffset(i + 1));
    const note = describeRow(this.ctx, i, b);
    let hex = "";
    for (const s of note.spans) {
      const end = Math.min(b.length, s.start + s.length);
      let t = "";
      for (let k = s.start; k < end; k++) t += `${hex2[b[k]!]}${k === 7 ? "  " : " "}`;
      hex += `<span class="f-${s.cls}" title="${s.label.replace(/"/g, "&quot;")}">${t}</span>`;
    }
    let ascii = "";
    for (let k = 0; k < b.length; k++) ascii += b[k]! >= 0x20 && b[k]! < 0x7f ? String.fromCharCode(b[k]!).replace(/[&<]/g, ".") : ".";
    const link = note.section && note.text ? `<a href="${docLink(note.section)}" target="_blank" rel="noopener">${note.text}</a>` : note.text;
    el.className = `vrow hexrow${note.problem ? " problem" : ""}`;
    el.innerHTML = `<span class="off">${(this.base + off).toString(16).padStart(8, "0")}</span><span class="hex">${hex}</span><span class="ascii">${ascii}</span><span class="note">${link}</span>`;
  }
}
