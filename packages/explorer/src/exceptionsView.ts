/**
 * The exceptions table: on-disk order, virtualised, searchable by origin
 * chunk or COW chunk. A search scans the two columns (no per-row objects) and
 * keeps the matching row numbers in one Uint32Array.
 */
import { areaOfEntryForE, indexInAreaForE } from "@dmsnap/format";
import type { Decoded } from "./protocol.js";
import { VirtualList } from "./virtualList.js";

export class ExceptionsView {
  private list: VirtualList;
  private d: Decoded | null = null;
  private match: Uint32Array | null = null;
  private readonly summary: HTMLElement;

  constructor(
    parent: HTMLElement,
    private readonly openChunk: (chunk: number) => void,
  ) {
    const bar = document.createElement("div");
    bar.className = "searchbar";
    bar.innerHTML = `<input type="search" data-testid="search" placeholder="origin or COW chunk number" inputmode="numeric">
      <select data-testid="search-by"><option value="any">either column</option><option value="old">origin chunk</option><option value="new">COW chunk</option></select>
      <span class="muted" data-testid="search-result"></span>`;
    parent.appendChild(bar);
    const head = document.createElement("div");
    head.className = "vrow head";
    head.innerHTML = `<span>entry</span><span>area</span><span>index</span><span>origin chunk (old)</span><span>COW chunk (new)</span>`;
    parent.appendChild(head);
    this.summary = bar.querySelector("[data-testid=search-result]")!;
    const input = bar.querySelector("input")!;
    const by = bar.querySelector("select")!;
    const run = (): void => this.search(input.value.trim(), by.value as "any" | "old" | "new");
    input.addEventListener("input", run);
    by.addEventListener("change", run);
    this.list = new VirtualList(parent, 22, (i, el) => this.row(i, el), "exceptions");
  }

  show(d: Decoded): void {
    this.d = d;
    this.match = null;
    this.summary.textContent = "";
    this.list.setCount(d.rows);
  }

  scrollToRow(i: number): void {
    this.list.scrollToRow(i);
  }

  private search(text: string, by: "any" | "old" | "new"): void {
    const d = this.d;
    if (!d) return;
    if (text === "") {
      this.match = null;
      this.summary.textContent = "";
      this.list.setCount(d.rows);
      return;
    }
    const want = Number(text);
    if (!/^\d+$/.test(text) || !Number.isSafeInteger(want)) {
      this.summary.textContent = "type a chunk number";
      return;
    }
    const out = new Uint32Array(Math.min(d.rows, 1 << 20) || 1);
    let n = 0;
    let total = 0;
    for (let i = 0; i < d.rows; i++) {
      if ((by !== "new" && d.oldChunk[i] === want) || (by !== "old" && d.newChunk[i] === want)) {
        if (n < out.length) out[n++] = i;
        total++;
      }
    }
    this.match = out.subarray(0, n);
    this.summary.textContent = `${total} match${total === 1 ? "" : "es"}`;
    this.list.setCount(n);
  }

  private row(i: number, el: HTMLDivElement): void {
    const d = this.d!;
    const e = this.match ? this.match[i]! : i;
    const per = d.exceptionsPerArea || 1;
    const nw = d.newChunk[e]!;
    el.innerHTML = `<span>${e}</span><span>${areaOfEntryForE(per, e)}</span><span>${indexInAreaForE(per, e)}</span><span>${d.oldChunk[e]}</span><span><a href="#" data-chunk="${nw}">${nw}</a></span>`;
    el.querySelector("a")!.onclick = (ev) => {
      ev.preventDefault();
      this.openChunk(nw);
    };
  }
}
