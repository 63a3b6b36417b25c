// The explorer in a real browser: Debian's chromium driven by playwright-core
// (the system browser; nothing is downloaded). Serves dist/, then:
//  - the start page shows no empty boxes;
//  - every conformance case from the examples menu: state (or error code),
//    exception count and status line against its case.json, and the state,
//    status line, exception count and findings (codes, severities, counts)
//    against `dmsnap check --json` and `dump --json` of the same file (the built CLI);
//  - a user's own file opened after an example inherits nothing from it;
//  - the map's tooltip (hover and keyboard focus), the hex labels at 800 px;
//  - a kernel-made case through the file input, a refused one dropped on the page;
//  - the hex view's labels and links, a click on the map;
//  - a sparse 1 M-exception image: decode, search, scroll to the last row
//    (figures in .cache/explorer.json; the bounds are hang guards, not speed tests).
// Writes .cache/explorer.json (passed/failed for scripts/summary.mjs) and
// screenshots under packages/explorer/artefacts/ (gitignored).
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { gunzipSync } from "node:zlib";
import { chromium } from "playwright-core";
import { serve } from "./server.mjs";
import { newChunkOf, writeSparseCow } from "./sparseImage.mjs";

const here = fileURLToPath(new URL("..", import.meta.url));
const repo = join(here, "../..");
const dist = join(here, "dist");
const artefacts = join(here, "artefacts");
const casesDir = join(repo, "conformance/cases");
const BIG = Number(process.env.EXPLORER_BIG ?? 1_000_000);
const executablePath = process.env.CHROMIUM ?? "/usr/bin/chromium";

if (!existsSync(join(dist, "index.html"))) {
  console.error("explorer: dist/index.html is missing; run 'pnpm explorer:build' first");
  process.exit(2);
}
if (!existsSync(executablePath)) {
  console.error(`explorer: no browser at ${executablePath}; install Debian's chromium (apt-get install chromium) or set CHROMIUM`);
  process.exit(2);
}
mkdirSync(artefacts, { recursive: true });
mkdirSync(join(repo, ".cache"), { recursive: true });

const results = [];
const metrics = {};
function check(name, ok, detail = "") {
  results.push({ name, ok: !!ok, detail });
  if (!ok) console.log(`FAIL ${name}${detail ? `: ${detail}` : ""}`);
}

/** What case.json expects, read here from the case itself (not from the build's index). */
function expectation(id) {
  const c = JSON.parse(readFileSync(join(casesDir, id, "case.json"), "utf8"));
  const e = c.expected;
  let count = null;
  if (e.outcome === "accepted") count = e.exceptions ? e.exceptions.length : JSON.parse(gunzipSync(readFileSync(join(casesDir, id, e.exceptionsFile)))).length;
  return { state: e.outcome === "refused" ? e.error.code : e.state, count, status: e.status ?? null, table: c.table?.chunkSize, kind: c.provenance.kind, cow: join(casesDir, id, c.files.cow) };
}

async function shown(page) {
  return page.evaluate(() => {
    const t = (id) => document.querySelector(`[data-testid=${id}]`).textContent.trim();
    // The findings as listed, and the count of each code (a "more" line carries the code's total).
    const findings = [...document.querySelectorAll("[data-testid=finding]")].map((li) => ({ code: li.dataset.code, severity: li.dataset.severity }));
    const counts = {};
    for (const f of findings) counts[f.code] = (counts[f.code] ?? 0) + 1;
    for (const li of document.querySelectorAll("[data-testid=finding-more]")) counts[li.dataset.code] = Number(li.dataset.count);
    return { name: document.body.dataset.name, state: t("state"), count: t("exception-count"), status: t("status-line"), decodeMs: Number(t("decode-ms")), findings, counts, findingCount: Number(t("finding-count")), tableCs: document.querySelector("#table-cs").value };
  });
}

/** `dmsnap check --json` and `dmsnap dump --json` of a file, by the built CLI (the table chunk size as --chunk-size). */
const cli = join(repo, "packages/cli/bin/dmsnap.mjs");
function run(args) {
  return new Promise((resolve) => execFile(process.execPath, [cli, ...args], { maxBuffer: 1 << 28 }, (_e, stdout) => resolve(JSON.parse(stdout))));
}
async function cliSays(file, tableCs) {
  const cs = tableCs === undefined ? [] : ["--chunk-size", String(tableCs)];
  const [check, dump] = await Promise.all([run(["check", "--json", ...cs, file]), run(["dump", "--json", ...cs, file])]);
  return { check, dump };
}

/** Differences between the page and the CLI's check and dump of the same file ([] when they agree). */
function differences(s, { check, dump }) {
  const out = [];
  const state = check.state === "refused" ? check.findings[0].code : check.state;
  if (s.state !== state) out.push(`state ${s.state} vs check ${state}`);
  if (dump.error ? state !== dump.error.code : dump.state !== state) out.push(`dump says ${dump.error?.code ?? dump.state}`);
  if (s.status !== (check.status ?? "")) out.push(`status ${s.status} vs check ${check.status}`);
  const count = dump.error ? 0 : dump.state === "invalid" ? 0 : dump.exceptions.length;
  if (Number(s.count) !== count || (check.exceptions ?? 0) !== count) out.push(`exceptions ${s.count} vs dump ${count}, check ${check.exceptions}`);
  const codes = (l) => l.map((f) => `${f.code}/${f.severity}`).join(" ");
  if (codes(s.findings) !== codes(check.findings)) out.push(`findings [${codes(s.findings)}] vs check [${codes(check.findings)}]`);
  if (JSON.stringify(Object.entries(s.counts).sort()) !== JSON.stringify(Object.entries(check.counts).sort())) out.push(`counts ${JSON.stringify(s.counts)} vs check ${JSON.stringify(check.counts)}`);
  if (s.findingCount !== check.summary.total) out.push(`finding count ${s.findingCount} vs check ${check.summary.total}`);
  return out;
}

async function waitLoaded(page, name, timeout = 20_000) {
  await page.waitForFunction((n) => document.body.dataset.loaded === "true" && document.body.dataset.name === n, name, { timeout });
}

/** Resident memory of the descendants of rootPid (the browser and all its processes), in bytes. */
function browserRss(rootPid) {
  const kids = new Map();
  for (const p of readdirSync("/proc")) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const stat = readFileSync(`/proc/${p}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (!kids.has(ppid)) kids.set(ppid, []);
      kids.get(ppid).push(Number(p));
    } catch {}
  }
  let total = 0;
  const stack = [...(kids.get(rootPid) ?? [])];
  while (stack.length) {
    const pid = stack.pop();
    try {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
      if (m) total += Number(m[1]) * 1024;
    } catch {}
    stack.push(...(kids.get(pid) ?? []));
  }
  return total;
}

const server = await serve(dist);
const browser = await chromium.launch({ executablePath, args: ["--no-sandbox", "--disable-dev-shm-usage"] });
const started = Date.now();
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 1000 } });
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto(server.url);
  await page.waitForFunction(() => Number(document.body.dataset.cases) > 0);

  // 0. The start page: the opening controls only (no empty hex, exception or findings boxes, no "(decode ms)").
  {
    const start = await page.evaluate(() => ({
      text: document.body.innerText,
      visible: ["#hex", "#exceptions", "#map", "#findings", "#fields", "[data-testid=decode-ms]"].filter((q) => document.querySelector(q).checkVisibility()),
    }));
    check("start page: no empty boxes (hex, exceptions, map, findings, fields, decode time)", start.visible.length === 0, start.visible.join(", "));
    check("start page: no dangling '(decode ms)'", !/decode\s*ms/.test(start.text), start.text.slice(0, 300));
    await page.screenshot({ path: join(artefacts, "start-page.png"), fullPage: true });
  }

  // 1. A kernel-made case through the file picker.
  {
    const id = "kernel-multi-area-1s";
    const e = expectation(id);
    await page.fill("#table-cs", String(e.table));
    await page.setInputFiles("[data-testid=file-input]", { name: id, mimeType: "application/octet-stream", buffer: gunzipSync(readFileSync(e.cow)) });
    await waitLoaded(page, id);
    const s = await shown(page);
    check(`file input: ${id} state`, s.state === e.state, `${s.state} vs ${e.state}`);
    check(`file input: ${id} exception count`, Number(s.count) === e.count, `${s.count} vs ${e.count}`);
    check(`file input: ${id} status line`, s.status === e.status, `${s.status} vs ${e.status}`);
    // Chunk 0's labels, and their links into the rendered format document.
    const row0 = await page.locator("[data-testid=hex] .vrow[data-index='0']").innerText();
    check("hex view: chunk 0 labels the magic", row0.includes('magic 0x70416e53 "SnAp"'), row0);
    const href = await page.locator("[data-testid=hex] .vrow[data-index='0'] a").getAttribute("href");
    const doc = readFileSync(join(dist, "format.html"), "utf8");
    check("hex view: the header label links to its section of docs/format.md", href === "format.html#chunk-0-the-header" && doc.includes('id="chunk-0-the-header"'), href);
    await page.screenshot({ path: join(artefacts, "kernel-file-input.png"), fullPage: true });
    // The map: a click on the second cell (chunk 1, 1 chunk per cell here) opens metadata area 0.
    await page.locator("[data-testid=map] svg").scrollIntoViewIfNeeded();
    const px = await mapPx(page);
    const grid = await page.evaluate(() => {
      const svg = document.querySelector("[data-testid=map] svg");
      const r = svg.getBoundingClientRect();
      const vb = svg.viewBox.baseVal;
      return { left: r.left, top: r.top, scale: r.width / vb.width };
    });
    // The grid starts at (16, 58) in SVG units (mapSvg.ts); the centre of cell 1 of row 0.
    await page.locator("[data-testid=map] svg").click({ position: { x: (16 + 1.5 * px) * grid.scale, y: (58 + 0.5 * px) * grid.scale } });
    await page.waitForFunction(() => document.querySelector("[data-testid=hex-title]").dataset.chunk === "1", null, { timeout: 5000 }).catch(() => {});
    const title = await page.locator("[data-testid=hex-title]").innerText();
    check("map click: the cell of chunk 1 opens metadata area 0", /chunk 1: metadata area 0/.test(title), title);
    const entry = await page.locator("[data-testid=hex] .vrow[data-index='0']").innerText();
    check("hex view: area 0's first entry is labelled with its chunks", /entry 0: origin chunk \d+ → COW chunk \d+/.test(entry), entry);
    await page.locator("#hex-section").screenshot({ path: join(artefacts, "area0-hex.png") });
  }

  // 2. A refused image dropped on the page shows its error code.
  {
    const id = "damaged-bad-magic";
    const e = expectation(id);
    const bytes = [...gunzipSync(readFileSync(e.cow))];
    await page.evaluate(
      ({ bytes, id }) => {
        const dt = new DataTransfer();
        dt.items.add(new File([new Uint8Array(bytes)], id));
        document.dispatchEvent(new DragEvent("drop", { dataTransfer: dt, bubbles: true, cancelable: true }));
      },
      { bytes, id },
    );
    await waitLoaded(page, id);
    const s = await shown(page);
    check(`drop: ${id} shows its error code`, s.state === "BAD_MAGIC" && s.state === e.state, s.state);
    await page.screenshot({ path: join(artefacts, "refused-drop.png"), fullPage: true });
  }

  // 3. Every conformance case from the examples menu, against its case.json and against
  //    `dmsnap check --json` / `dump --json` of the same file (the CLI runs while the page decodes).
  {
    const ids = readdirSync(casesDir).filter((d) => existsSync(join(casesDir, d, "case.json"))).sort();
    const tmp = mkdtempSync(join(tmpdir(), "dmsnap-explorer-cases-"));
    let agree = 0;
    let agreeCli = 0;
    const findingCodes = new Set();
    try {
    for (const id of ids) {
      const e = expectation(id);
      const file = join(tmp, `${id}.img`);
      writeFileSync(file, gunzipSync(readFileSync(e.cow)));
      const cliPromise = cliSays(file, e.table);
      await page.selectOption("[data-testid=examples]", id);
      await waitLoaded(page, id);
      const s = await shown(page);
      const ok = s.state === e.state && (e.count === null || Number(s.count) === e.count) && (e.status === null || s.status === e.status);
      check(`example ${id} (${e.kind}): state ${e.state}, ${e.count ?? "-"} exceptions, status ${e.status ?? "-"}`, ok, JSON.stringify(s));
      if (ok) agree++;
      const said = await cliPromise;
      const diff = differences(s, said);
      check(`example ${id}: state, status, exceptions and findings as dmsnap check --json / dump --json say`, diff.length === 0, diff.join("; "));
      if (diff.length === 0) agreeCli++;
      for (const code of Object.keys(said.check.counts)) findingCodes.add(code);
      // A blank header over live entries, and a refusal: the map is drawn from salvage, as dmsnap map does.
      const note = { "damaged-magic-zero-used": /header is blank \(magic 0\) but \d+ exceptions are still on disk/, "damaged-bad-magic": /refused: drawn from what 'dmsnap repair' can salvage/ }[id];
      if (note) {
        const text = await page.locator("[data-testid=map]").innerText();
        check(`map of ${id} is drawn from salvage`, note.test(text) && /drawn from salvage/.test(text), text.slice(0, 200));
        const rows = await page.locator("#table-note").innerText();
        check(`table of ${id} lists the salvaged entries, marked as not loaded`, /the kernel loads none: these [1-9]\d* are what 'dmsnap repair' would salvage/.test(rows), rows);
      }
      // The picture in docs/explorer.md: a kernel image with a duplicate, as check and the map show it.
      if (id === "damaged-duplicate-new-chunk") {
        await page.evaluate(() => window.scrollTo(0, 0));
        await page.screenshot({ path: join(artefacts, "docs-explorer.png"), clip: { x: 0, y: 0, width: 1280, height: 1000 } });
      }
    }
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
    metrics.cases = { total: ids.length, agree, agreeWithCli: agreeCli, findingCodes: [...findingCodes].sort() };
    // The comparison saw the findings the issue names (a page that showed none would fail above).
    for (const code of ["SNAPSHOT_INVALIDATED", "NEW_COW_NOT_BLANK", "DUPLICATE_NEW_CHUNK"]) check(`the cases include a ${code} finding, compared with check`, findingCodes.has(code));
    await page.selectOption("[data-testid=examples]", "kernel-overflow-p-1s");
    await waitLoaded(page, "kernel-overflow-p-1s");
    await page.screenshot({ path: join(artefacts, "example-kernel-overflow.png"), fullPage: true });
  }

  // 5. A user's own file after an example: nothing carries over (the table chunk size box,
  //    the expectation line, the description).
  {
    await page.selectOption("[data-testid=examples]", "damaged-table-3-existing");
    await waitLoaded(page, "damaged-table-3-existing");
    const before = await shown(page);
    check("example damaged-table-3-existing sets the table chunk size box to 3", before.tableCs === "3" && before.state === "INVALID_CHUNK_SIZE", JSON.stringify(before));
    const id = "kernel-snap-writes-1s";
    const bytes = gunzipSync(readFileSync(expectation(id).cow));
    const tmp = mkdtempSync(join(tmpdir(), "dmsnap-explorer-user-"));
    try {
      const file = join(tmp, "my.cow");
      writeFileSync(file, bytes);
      const said = await cliSays(file, undefined);
      await page.setInputFiles("[data-testid=file-input]", { name: "my.cow", mimeType: "application/octet-stream", buffer: bytes });
      await waitLoaded(page, "my.cow");
      const s = await shown(page);
      const diff = differences(s, said);
      check("a user's file after that example: as dmsnap check/dump without --chunk-size (valid, nothing inherited)", s.state === "valid" && diff.length === 0, `${diff.join("; ")} ${JSON.stringify(s)}`);
      check("a user's file after that example: the table chunk size box is cleared", s.tableCs === "", s.tableCs);
      const rest = await page.evaluate(() => ({ expect: document.querySelector("#expect").textContent, desc: document.querySelector("#case-description").textContent, fields: document.querySelector("#fields").textContent }));
      check("a user's file after that example: no case expectation, description or 'inferred by salvage'", rest.expect === "" && rest.desc === "" && !/inferred by salvage/.test(rest.fields), JSON.stringify(rest));
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }

  // 6. The map's tooltip: on hover and on keyboard focus.
  {
    await page.selectOption("[data-testid=examples]", "kernel-multi-area-1s");
    await waitLoaded(page, "kernel-multi-area-1s");
    const svg = page.locator("[data-testid=map] svg");
    await svg.scrollIntoViewIfNeeded();
    const px = await mapPx(page);
    const scale = await page.evaluate(() => {
      const svg = document.querySelector("[data-testid=map] svg");
      return svg.getBoundingClientRect().width / svg.viewBox.baseVal.width;
    });
    const tip = page.locator("[data-testid=map-tooltip]");
    await svg.hover({ position: { x: (16 + 1.5 * px) * scale, y: (58 + 0.5 * px) * scale } });
    const hover = (await tip.isVisible()) ? await tip.innerText() : "(hidden)";
    check("map tooltip on hover: chunk 1 is metadata area 0", hover === "chunk 1: metadata area 0", hover);
    await page.mouse.move(0, 0);
    await svg.focus();
    await page.keyboard.press("ArrowRight");
    await page.keyboard.press("ArrowRight");
    const focus = (await tip.isVisible()) ? await tip.innerText() : "(hidden)";
    // Chunk 2 of this kernel image is its first data chunk, the copy of an origin chunk.
    check("map tooltip on focus and arrow keys: chunk 2 names the exception that owns it", /^chunk 2: data, the copy of origin chunk \d+ \(entry \d+\)$/.test(focus), focus);
    await page.keyboard.press("Enter");
    await page.waitForFunction(() => document.querySelector("[data-testid=hex-title]").dataset.chunk === "2", null, { timeout: 5000 }).catch(() => {});
    check("map: Enter on the focused cell opens chunk 2", (await page.locator("[data-testid=hex-title]").getAttribute("data-chunk")) === "2");
  }

  // 7. At 800 px the hex view's labels are not cut (header and a metadata area).
  {
    await page.setViewportSize({ width: 800, height: 1000 });
    for (const chunk of ["0", "1"]) {
      await page.fill("[data-testid=hex-chunk]", chunk);
      await page.locator("[data-testid=hex-chunk]").dispatchEvent("change");
      await page.waitForFunction((c) => document.querySelector("[data-testid=hex-title]").dataset.chunk === c, chunk, { timeout: 5000 });
      const cut = await page.evaluate(() => [...document.querySelectorAll("[data-testid=hex] .note")].filter((n) => n.textContent && n.scrollWidth > n.clientWidth + 1).map((n) => n.textContent));
      const labels = await page.locator("[data-testid=hex] .note").count();
      check(`hex view at 800 px, chunk ${chunk}: no label cut (${labels} rows)`, labels > 0 && cut.length === 0, cut.slice(0, 3).join(" | "));
    }
    await page.locator("#hex-section").screenshot({ path: join(artefacts, "hex-800px.png") });
    await page.setViewportSize({ width: 1280, height: 1000 });
  }

  // 4. A 1 M-exception image, sparse (4 GiB apparent, 16 MiB of metadata written).
  {
    const dir = join(tmpdir(), `dmsnap-explorer-${process.pid}`);
    mkdirSync(dir, { recursive: true });
    const path = join(dir, "big.cow");
    try {
      const img = writeSparseCow(path, BIG);
      await page.fill("#table-cs", "");
      const client = await context.newCDPSession(page);
      await client.send("Performance.enable");
      // The browser runs as a child of this process: its processes are our descendants.
      const rssBefore = browserRss(process.pid);
      // Peak resident memory while it decodes, sampled every 100 ms.
      let rssPeak = rssBefore;
      const poll = setInterval(() => (rssPeak = Math.max(rssPeak, browserRss(process.pid))), 100);
      const t0 = Date.now();
      await page.setInputFiles("[data-testid=file-input]", path);
      await waitLoaded(page, "big.cow", 120_000).finally(() => clearInterval(poll));
      const openMs = Date.now() - t0;
      const s = await shown(page);
      check(`1M image: state valid`, s.state === "valid", s.state);
      check(`1M image: ${BIG} exceptions`, Number(s.count) === BIG, s.count);
      check(`1M image: status line ${img.status}`, s.status === img.status, s.status);
      const heap = Object.fromEntries((await client.send("Performance.getMetrics")).metrics.map((m) => [m.name, m.value]));
      const rssAfter = browserRss(process.pid);
      // Scroll the table to its last row.
      const t1 = Date.now();
      await page.evaluate(() => {
        const s = document.querySelector("[data-testid=exceptions]");
        s.scrollTop = s.scrollHeight;
      });
      const last = page.locator(`[data-testid=exceptions] .vrow[data-index='${BIG - 1}']`);
      await last.waitFor({ state: "visible", timeout: 10_000 });
      const scrollMs = Date.now() - t1;
      const text = (await last.innerText()).split(/\s+/);
      check("1M image: the last row is entry 999999 with its chunks", text[0] === String(BIG - 1) && text[3] === String(BIG - 1) && text[4] === String(newChunkOf(BIG - 1)), text.join(" "));
      await page.screenshot({ path: join(artefacts, "1m-last-row.png"), fullPage: true });
      // Search by COW chunk.
      const t2 = Date.now();
      await page.selectOption("[data-testid=search-by]", "new");
      await page.fill("[data-testid=search]", String(img.lastNew));
      await page.waitForFunction(() => document.querySelector("[data-testid=search-result]").textContent === "1 match");
      const searchMs = Date.now() - t2;
      const found = (await page.locator("[data-testid=exceptions] .vrow[data-index='0']").innerText()).split(/\s+/);
      check("1M image: search by COW chunk finds the last entry", found[0] === String(BIG - 1), found.join(" "));
      metrics.big = {
        exceptions: BIG,
        apparentBytes: img.bytes,
        decodeAndCheckMs: s.decodeMs,
        openToShownMs: openMs,
        scrollToLastRowMs: scrollMs,
        searchMs,
        mainThreadJsHeapUsedBytes: heap.JSHeapUsedSize,
        browserRssBeforeBytes: rssBefore,
        browserRssAfterBytes: rssAfter,
        browserRssPeakDuringDecodeBytes: rssPeak,
      };
      // Hang guards (generous; speed is measured and reported, not asserted).
      check("1M image: opened within 90 s", openMs < 90_000, `${openMs} ms`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  check("no uncaught errors in the page", errors.length === 0, errors.join("; "));
} catch (e) {
  check("browser run completed", false, e instanceof Error ? e.stack : String(e));
} finally {
  await browser.close();
  server.close();
}

async function mapPx(page) {
  return page.evaluate(() => Number(/scale\(([\d.]+)\)/.exec(document.querySelector("[data-testid=map] svg g").getAttribute("transform"))[1]));
}

const passed = results.filter((r) => r.ok).length;
const failed = results.length - passed;
metrics.seconds = (Date.now() - started) / 1000;
writeFileSync(join(repo, ".cache/explorer.json"), JSON.stringify({ passed, failed, metrics, results }, null, 1));
console.log(`explorer (chromium): ${passed} passed, ${failed} failed in ${metrics.seconds.toFixed(1)} s`);
if (metrics.big) console.log(`1M exceptions: ${JSON.stringify(metrics.big)}`);
process.exit(failed > 0 ? 1 : 0);
