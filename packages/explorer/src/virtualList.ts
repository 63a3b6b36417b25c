/**
 * A virtualised list: only the rows in view exist in the DOM, so a million
 * rows cost what twenty do. Past the browser's element-height limit the
 * scroll range is compressed (scrollTop maps proportionally onto rows).
 */
const MAX_SPACER = 10_000_000;

export class VirtualList {
  readonly scroller: HTMLDivElement;
  private readonly spacer: HTMLDivElement;
  private readonly body: HTMLDivElement;
  private count = 0;
  private first = -1;
  private last = -1;

  constructor(
    parent: HTMLElement,
    private rowHeight: number,
    private readonly renderRow: (index: number, el: HTMLDivElement) => void,
    testid?: string,
  ) {
    this.scroller = document.createElement("div");
    this.scroller.className = "vscroll";
    if (testid) this.scroller.dataset.testid = testid;
    this.spacer = document.createElement("div");
    this.body = document.createElement("div");
    this.body.className = "vbody";
    this.spacer.appendChild(this.body);
    this.scroller.appendChild(this.spacer);
    parent.appendChild(this.scroller);
    this.scroller.addEventListener("scroll", () => this.draw());
    new ResizeObserver(() => this.draw(true)).observe(this.scroller);
  }

  setCount(count: number): void {
    this.count = count;
    this.spacer.style.height = `${Math.min(count * this.rowHeight, MAX_SPACER)}px`;
    this.scroller.scrollTop = 0;
    this.draw(true);
  }

  /** Scrolls so that row `index` is at the top (or as near as the end allows). */
  scrollToRow(index: number): void {
    const visible = Math.floor(this.scroller.clientHeight / this.rowHeight);
    const maxFirst = Math.max(1, this.count - visible);
    const range = this.scroller.scrollHeight - this.scroller.clientHeight;
    this.scroller.scrollTop = this.count * this.rowHeight <= MAX_SPACER ? index * this.rowHeight : (Math.min(index, maxFirst) / maxFirst) * range;
    this.draw(true);
  }

  refresh(): void {
    this.draw(true);
  }

  /** A new row height (the hex view's rows take two lines in a narrow window). */
  setRowHeight(h: number): void {
    if (h === this.rowHeight) return;
    this.rowHeight = h;
    for (const el of Array.from(this.body.children) as HTMLElement[]) el.style.height = `${h}px`;
    this.setCount(this.count);
  }

  private draw(force = false): void {
    const h = this.rowHeight;
    const view = this.scroller.clientHeight || 400;
    const visible = Math.ceil(view / h) + 1;
    let first: number;
    let offset: number;
    if (this.count * h <= MAX_SPACER) {
      first = Math.floor(this.scroller.scrollTop / h);
      offset = first * h;
    } else {
      // Compressed: the scroll fraction picks the first row; the body sits at the scroll position.
      const range = Math.max(1, this.scroller.scrollHeight - view);
      const frac = Math.min(1, this.scroller.scrollTop / range);
      first = Math.round(frac * Math.max(0, this.count - visible + 1));
      offset = this.scroller.scrollTop;
    }
    first = Math.max(0, Math.min(first, this.count - 1));
    const last = Math.min(this.count, first + visible);
    this.body.style.transform = `translateY(${offset}px)`;
    if (!force && first === this.first && last === this.last) return;
    this.first = first;
    this.last = last;
    const n = Math.max(0, last - first);
    while (this.body.childElementCount > n) this.body.lastElementChild!.remove();
    while (this.body.childElementCount < n) {
      const el = document.createElement("div");
      el.className = "vrow";
      el.style.height = `${h}px`;
      this.body.appendChild(el);
    }
    for (let i = 0; i < n; i++) {
      const el = this.body.children[i] as HTMLDivElement;
      el.dataset.index = String(first + i);
      this.renderRow(first + i, el);
    }
  }
}
