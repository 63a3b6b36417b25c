/**
 * The page: open a COW (picker, drop or a built-in example), decode it in a
 * worker, and show what the kernel would do with it. Nothing leaves the browser.
 */
import { chunkBytes, formatLocation, SNAP_MAGIC } from "@dmsnap/format";
import { attachMapTooltip } from "./mapTooltip.js";
import { loadCow, loadIndex, type CaseEntry } from "./cases.js";
import { docLink } from "./docs.js";
import { ExceptionsView } from "./exceptionsView.js";
import { HexView } from "./hexView.js";
import type { Decoded, OpenRequest, WorkerReply } from "./protocol.js";

const $ = <T extends HTMLElement>(sel: string): T => document.querySelector<T>(sel)!;
const esc = (s: string): string => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

const worker = new Worker(new URL("./worker.ts", import.meta.url), { type: "module" });
const hex = new HexView($("#hex"));
const table = new ExceptionsView($("#exceptions"), (c) => openChunk(c));
let current: { blob: Blob; decoded: Decoded; tableChunkSize: number | undefined } | null = null;

function openChunk(chunk: number): void {
  void hex.open(chunk);
  $("#hex-section").scrollIntoView({ block: "start" });
}

function setBusy(text: string): void {
  $("[data-testid=state]").textContent = "…";
  $("#busy").textContent = text;
  document.body.dataset.loaded = "false";
}

let seq = 0;
function open(blob: Blob, name: string, tableChunkSize?: number, expect?: CaseEntry["expect"]): void {
  const my = ++seq;
  setBusy(`decoding ${name} (${blob.size} bytes)…`);
  const req: OpenRequest = { blob, name, ...(tableChunkSize === undefined ? {} : { tableChunkSize }) };
  worker.onmessage = (ev: MessageEvent<WorkerReply>) => {
    if (my !== seq) return;
    const r = ev.data;
    if (!r.ok) {
      $("#busy").textContent = `decoder failed: ${r.message}`;
      $("[data-testid=state]").textContent = "error";
      return;
    }
    current = { blob, decoded: r.decoded, tableChunkSize };
    render(r.decoded, expect);
    hex.show(blob, r.decoded);
    table.show(r.decoded);
    document.body.dataset.name = r.decoded.name;
    document.body.dataset.opened = "true";
    document.body.dataset.loaded = "true";
  };
  worker.postMessage(req);
}

function tableChunkSizeInput(): number | undefined {
  const v = $<HTMLInputElement>("#table-cs").value.trim();
  return v === "" ? undefined : Number(v);
}

function render(d: Decoded, expect?: CaseEntry["expect"]): void {
  $("#busy").textContent = `${d.name}: ${d.size} bytes, decoded and checked in ${d.decodeMs.toFixed(0)} ms (${d.areasRead} metadata area reads), map ${d.mapMs.toFixed(0)} ms`;
  $("[data-testid=decode-ms]").textContent = d.decodeMs.toFixed(1);
  const stateText = d.state === "refused" ? d.error!.code : d.state;
  const state = $("[data-testid=state]");
  state.textContent = stateText;
  state.className = `state s-${d.state}`;
  $("[data-testid=error]").innerHTML = d.error ? `${esc(d.error.message)} <a href="${docLink("errors")}" target="_blank">(error codes)</a>` : "";
  $("[data-testid=exception-count]").textContent = String(d.count);
  $("[data-testid=status-line]").textContent = d.status ?? "";
  const h = d.header;
  const cb = d.chunkSize > 0 ? chunkBytes(d.chunkSize) : 0;
  const fields: [string, string, Parameters<typeof docLink>[0]][] = [
    ["magic", h ? (h.magic === SNAP_MAGIC ? `0x70416e53 "SnAp"` : `0x${h.magic.toString(16).padStart(8, "0")}`) : "—", "header"],
    ["valid", h ? String(h.valid) : "—", "header"],
    ["version", h ? String(h.version) : "—", "header"],
    ["chunk size (header)", h ? `${h.chunkSize} sectors` : "—", "header"],
    ["chunk size in effect", d.chunkSize > 0 ? `${d.chunkSize} sectors (${cb} bytes)${d.state === "refused" ? ", inferred by salvage" : ""}` : "unknown", "units"],
    ["exceptions per area", d.exceptionsPerArea ? String(d.exceptionsPerArea) : "—", "perArea"],
    ["current area / entries in it", d.state === "valid" ? `${d.currentArea} / ${d.currentIndex}` : "—", "activation"],
    ["next free chunk", d.state === "valid" || d.state === "new" ? String(d.nextFree) : "—", "allocation"],
    ["dmsetup status", d.status ?? "— (no snapshot: the table load fails)", "status"],
  ];
  $("#fields").innerHTML = fields.map(([k, v, s]) => `<tr><th><a href="${docLink(s)}" target="_blank">${k}</a></th><td>${esc(v)}</td></tr>`).join("");
  $("#expect").innerHTML = expect
    ? `case.json expects: <b>${esc(expect.state)}</b>${expect.count !== null ? `, ${expect.count} exceptions` : ""}${expect.status ? `, status <code>${esc(expect.status)}</code>` : ""} ${agrees(d, expect) ? "— <span class=ok>this page agrees</span>" : "— <span class=bad>this page differs</span>"}`
    : "";
  // The report of `dmsnap check` (@dmsnap/format's checkReport, computed in the worker): the same
  // findings listed (at most 20 a code), the same counts and the same summary line.
  const sum = d.summary;
  $("[data-testid=finding-count]").textContent = String(sum.total);
  const listed = new Map<string, number>();
  for (const f of d.findings) listed.set(f.code, (listed.get(f.code) ?? 0) + 1);
  const more = Object.entries(d.findingCounts)
    .filter(([code, n]) => n > (listed.get(code) ?? 0))
    .map(([code, n]) => `<li class="muted" data-testid="finding-more" data-code="${esc(code)}" data-count="${n}">… and ${n - (listed.get(code) ?? 0)} more ${esc(code)} (${n} in all; <code>dmsnap check --all</code> lists them)</li>`);
  $("#findings").innerHTML =
    d.findings
      .map((f) => `<li class="sev-${f.severity}" data-testid="finding" data-code="${esc(f.code)}" data-severity="${f.severity}"><b>${esc(f.code)}</b> <span class="muted">${f.severity} [${esc(formatLocation(f.location))}]</span> ${esc(f.message)}</li>`)
      .join("") + more.join("");
  $("[data-testid=check-summary]").textContent = sum.clean
    ? `clean: ${sum.info === 0 ? "no findings" : `${sum.info} info finding(s), nothing wrong`}`
    : `problems: ${sum.errors} error(s), ${sum.warnings} warning(s), ${sum.info} info${sum.errors > 0 ? "; the kernel would refuse this COW" : ""}`;
  $("[data-testid=check-summary]").className = sum.clean ? "ok" : "bad";
  $("#table-note").textContent =
    d.rowsSource === "invalid"
      ? `the COW is invalid: the kernel loads none of these ${d.rows} entries still on disk`
      : d.rowsSource === "salvaged"
        ? `the kernel loads none: these ${d.rows} are what 'dmsnap repair' would salvage`
        : `${d.rows} exceptions in on-disk order`;
  renderMap(d);
}

function agrees(d: Decoded, e: CaseEntry["expect"]): boolean {
  const s = d.state === "refused" ? d.error!.code : d.state;
  return s === e.state && (e.count === null || e.count === d.count) && (e.status === null || e.status === d.status);
}

function renderMap(d: Decoded): void {
  const box = $("#map");
  if (!d.map) {
    box.innerHTML = `<p class="muted">no map: the chunk size is unknown</p>`;
    return;
  }
  box.innerHTML = (d.map.note ? `<p class="muted">${esc(d.map.note)}</p>` : "") + d.map.svg;
  attachMapTooltip(box, d, openChunk);
}

/** True while the table chunk size box holds the value an example set (not one the user typed). */
let tableCsFromExample = false;

/** A file of the user's own: no example's description, expectation or table chunk size applies. */
function openFile(f: File): void {
  $<HTMLSelectElement>("[data-testid=examples]").value = "";
  $("#case-description").textContent = "";
  if (tableCsFromExample) {
    $<HTMLInputElement>("#table-cs").value = "";
    tableCsFromExample = false;
  }
  open(f, f.name, tableChunkSizeInput());
}

// Opening: the picker, a drop anywhere on the page, or an example.
$<HTMLInputElement>("[data-testid=file-input]").addEventListener("change", (ev) => {
  const f = (ev.target as HTMLInputElement).files?.[0];
  if (f) openFile(f);
});
document.addEventListener("dragover", (ev) => {
  ev.preventDefault();
  document.body.classList.add("dragging");
});
document.addEventListener("dragleave", () => document.body.classList.remove("dragging"));
document.addEventListener("drop", (ev) => {
  ev.preventDefault();
  document.body.classList.remove("dragging");
  const f = ev.dataTransfer?.files[0];
  if (f) openFile(f);
});
$("#table-cs").addEventListener("input", () => (tableCsFromExample = false));
$("#table-cs").addEventListener("change", () => {
  // Re-decode only when the value changed (a change event also fires on blur).
  const cs = tableChunkSizeInput();
  if (current && cs !== current.tableChunkSize) open(current.blob, current.decoded.name, cs);
});

void loadIndex().then((cases) => {
  const sel = $<HTMLSelectElement>("[data-testid=examples]");
  const groups = new Map<string, HTMLOptGroupElement>();
  for (const c of cases) {
    const kind = c.id.split("-")[0]!;
    let g = groups.get(kind);
    if (!g) {
      g = document.createElement("optgroup");
      g.label = kind === "kernel" ? "made by the Linux kernel" : kind === "damaged" ? "kernel images, damaged" : kind === "engine" ? "made by our engine" : kind === "derived" ? "derived (hand-built edge cases)" : kind;
      groups.set(kind, g);
      sel.appendChild(g);
    }
    const o = document.createElement("option");
    o.value = c.id;
    o.textContent = c.id;
    o.title = c.description;
    g.appendChild(o);
  }
  sel.addEventListener("change", async () => {
    const c = cases.find((x) => x.id === sel.value);
    if (!c) return;
    $("#case-description").textContent = `${c.description} (${c.provenance})`;
    setBusy(`fetching example ${c.id}…`);
    const blob = await loadCow(c);
    // The box shows the example's table chunk size (or none); a file opened next does not inherit it.
    $<HTMLInputElement>("#table-cs").value = c.tableChunkSize === undefined ? "" : String(c.tableChunkSize);
    tableCsFromExample = c.tableChunkSize !== undefined;
    open(blob, c.id, c.tableChunkSize, c.expect);
  });
  document.body.dataset.cases = String(cases.length);
});
