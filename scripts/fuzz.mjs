// `pnpm fuzz`: hostile inputs through every reading command of the built CLI
// (issue #9). Seeded and deterministic: the same inputs every run.
//
// Inputs: one mutant of every conformance case (conformance/cases/*: bit
// flips, header words, entries with huge or zero or metadata chunk numbers,
// truncation, extension), and sparse-geometry images (chunk size 2^0 .. 2^21
// sectors, devices up to 2 TiB, sparse files). Each input goes through dump,
// dump --json, dump --lossless, check, usage, map and export. Lossless dumps
// (text mutants of a valid one, and hostile ones of 1-8 MB: nesting, long
// arrays, long tokens, inside and outside "exceptions") go through restore
// into a new COW.
//
// Non-UTF-8 names (issue #20 item 2): seeded names with bytes 0x80-0xff that
// are not UTF-8, as the COW, origin, output, dump and input of every command,
// next to a decoy file holding the name Node's lossy decoding gives (U+FFFD);
// each run must be PATH_NOT_UTF8, exit 2, with every file in the folder
// unchanged and none added (the arguments reach the binary as raw bytes
// through sh's printf: Node's spawn takes only strings).
//
// A run fails on: a stack trace or INTERNAL code, an exit code other than
// 0/1/2 (or a signal), a hang over 10 s, a peak RSS over the constant bound
// of docs/cli.md (BASE = 128 MiB: the mutants hold a handful of exceptions),
// or any change to an input (sha256 of every byte of the small images; for
// the sparse ones, of every region written plus size and allocated blocks).
//
// Writes .cache/fuzz.json ({passed, failed, ...}) for scripts/summary.mjs.
// Options (environment): DMSNAP_FUZZ_SEED, DMSNAP_FUZZ_GEOMETRY (count),
// DMSNAP_FUZZ_DUMPS (count of dump mutants), DMSNAP_FUZZ_NAMES (sets of
// non-UTF-8 names), DMSNAP_FUZZ_JOBS (parallel runs), DMSNAP_TEST_BIN (another build).
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, readSync, rmSync, statSync, writeFileSync, writeSync, ftruncateSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";

const root = new URL("..", import.meta.url).pathname;
const BIN = process.env.DMSNAP_TEST_BIN ?? join(root, "packages/cli/dist/bin.js");
const SEED = Number(process.env.DMSNAP_FUZZ_SEED ?? 20091214);
const GEOMETRY = Number(process.env.DMSNAP_FUZZ_GEOMETRY ?? 16);
const DUMPS = Number(process.env.DMSNAP_FUZZ_DUMPS ?? 24);
const JOBS = Number(process.env.DMSNAP_FUZZ_JOBS ?? Math.max(2, availableParallelism()));
const HANG_MS = 10_000;
const BOUND_KIB = 128 * 1024;
const SNAP_MAGIC = 0x70416e53;
const TIB = 2 ** 40;

if (!existsSync(BIN)) {
  console.error(`fuzz: ${BIN} is missing; run 'pnpm build' first`);
  process.exit(2);
}

/** mulberry32, as packages/store/src/rng.ts. */
function rng(seed) {
  let s = seed >>> 0;
  const next = () => {
    let t = (s = (s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n) => Math.floor(next() * n);
  return { next, int, pick: (a) => a[int(a.length)] };
}

const INTERESTING32 = [0, 1, 2, 3, 31, 32, 0x7fffffff, 0x80000000, 0xffffffff, SNAP_MAGIC, 0x1fffff, 0x200000, 4194303];

/** One mutant of a small image: 1 to 4 of the operations below. */
function mutate(bytes, r) {
  let b = Buffer.from(bytes);
  const ops = 1 + r.int(4);
  const done = [];
  for (let k = 0; k < ops; k++) {
    const op = r.int(7);
    if (op === 0 && b.length > 0) {
      const at = r.int(Math.min(b.length, 1 << 16));
      b[at] ^= 1 << r.int(8);
      done.push(`flip@${at}`);
    } else if (op === 1 && b.length >= 16) {
      const w = r.int(4);
      b.writeUInt32LE(r.pick(INTERESTING32), w * 4);
      done.push(`header${w}`);
    } else if (op === 2) {
      // An entry somewhere in the first areas: old and new words from the interesting set.
      const at = 16 * r.int(Math.max(1, Math.min(b.length, 1 << 16) >> 4));
      if (at + 16 <= b.length) {
        for (let w = 0; w < 4; w++) b.writeUInt32LE(r.next() < 0.5 ? r.pick(INTERESTING32) : r.int(2 ** 32), at + 4 * w);
        done.push(`entry@${at}`);
      }
    } else if (op === 3) {
      const len = r.int(b.length + 1);
      b = b.subarray(0, len);
      done.push(`truncate${len}`);
    } else if (op === 4) {
      const extra = r.pick([1, 511, 512, 4096, 65536]);
      b = Buffer.concat([b, Buffer.alloc(extra)]);
      done.push(`extend${extra}`);
    } else if (op === 5 && b.length > 0) {
      const at = r.int(b.length);
      b.fill(0, at, Math.min(b.length, at + r.pick([16, 512, 4096])));
      done.push(`zero@${at}`);
    } else {
      // The 2009 race: magic 0 over an area's entries.
      if (b.length >= 32) {
        b.writeUInt32LE(0, 0);
        b.writeUInt32LE(0, 4);
        done.push("magic0");
      }
    }
  }
  return { bytes: b, ops: done.join(",") };
}

/** A sparse COW: a header and area 0 with a few entries, written into a sparse file of up to 2 TiB. */
function geometry(path, r) {
  const cs = 2 ** r.int(22); // 1 sector .. 2^21 sectors (1 GiB)
  const cb = cs * 512;
  const minBytes = 2 * cb;
  const deviceBytes = r.next() < 0.1 ? Math.max(512, r.int(minBytes)) : Math.min(2 * TIB, minBytes + 512 * Math.floor((r.next() ** 3 * 2 * TIB) / 512));
  const chunks = Math.floor(deviceBytes / cb);
  const regions = [];
  const fd = openSync(path, "w");
  try {
    ftruncateSync(fd, deviceBytes);
    const header = Buffer.alloc(512);
    const magic0 = r.next() < 0.15;
    header.writeUInt32LE(magic0 ? 0 : SNAP_MAGIC, 0);
    header.writeUInt32LE(magic0 ? 0 : r.pick([1, 1, 1, 0, 2]), 4);
    header.writeUInt32LE(magic0 ? 0 : 1, 8);
    header.writeUInt32LE(magic0 ? 0 : cs, 12);
    const put = (at, buf) => {
      if (at + buf.length > deviceBytes) return;
      writeSync(fd, buf, 0, buf.length, at);
      regions.push([at, buf.length]);
    };
    put(0, header.subarray(0, Math.min(512, deviceBytes)));
    const n = r.int(9);
    const area = Buffer.alloc(16 * (n + 3));
    for (let i = 0; i < n; i++) {
      const kind = r.int(6);
      const nw = kind === 0 ? 4e9 : kind === 1 ? chunks + r.int(1000) : kind === 2 ? 1 : 2 + r.int(Math.max(1, Math.min(chunks - 2, 2 ** 31)));
      area.writeUInt32LE(r.int(2 ** 32), 16 * i);
      area.writeUInt32LE(r.next() < 0.1 ? r.pick(INTERESTING32) : 0, 16 * i + 4);
      area.writeUInt32LE(nw % 2 ** 32, 16 * i + 8);
      area.writeUInt32LE(Math.floor(nw / 2 ** 32), 16 * i + 12);
    }
    // Sometimes stale entries after the terminator.
    if (r.next() < 0.3) area.writeUInt32LE(7, 16 * (n + 1) + 8);
    put(cb, area);
    // Sometimes bytes far into the header chunk or at the end of the device.
    if (r.next() < 0.2 && cb > 4096) put(cb - 512, Buffer.alloc(512, 0xa5));
    if (r.next() < 0.2 && deviceBytes > 4096) put(deviceBytes - 512, Buffer.alloc(512, 0x5a));
  } finally {
    closeSync(fd);
  }
  return { regions, desc: `cs=${cs} device=${deviceBytes}` };
}

/** A valid lossless dump of a few exceptions (chunk size 1 .. 128, 1 MiB device), as 'dmsnap dump --lossless' writes it. */
function validDump(r) {
  const cs = 2 ** r.int(8);
  const chunks = Math.floor((1 << 20) / (cs * 512));
  const n = r.int(Math.min(12, Math.max(0, chunks - 3)));
  const pairs = Array.from({ length: n }, (_, i) => `[${r.int(2 ** 32)},${2 + i}]`);
  return `{"format":"dmsnap-dump","version":1,"deviceBytes":${1 << 20},"header":{"magic":${SNAP_MAGIC},"valid":1,"version":1,"chunkSize":${cs}},"exceptions":[${pairs.length ? `\n${pairs.join(",\n")}\n` : ""}]}\n`;
}

const DUMP_BYTES = ['[', ']', '{', '}', ',', ':', '"', '\\', '0', '9', '-', '.', 'e', ' ', 'n', '\n'];

/** A text mutant of a valid dump: 1 to 4 byte flips, inserted or deleted JSON punctuation, duplicated or cut spans. */
function mutateDump(text, r) {
  let t = text;
  const done = [];
  for (let k = 1 + r.int(4); k > 0; k--) {
    const at = r.int(t.length + 1);
    const op = r.int(5);
    if (op === 0 && at < t.length) {
      t = t.slice(0, at) + String.fromCharCode(t.charCodeAt(at) ^ (1 << r.int(7))) + t.slice(at + 1);
      done.push(`flip@${at}`);
    } else if (op === 1) {
      t = t.slice(0, at) + r.pick(DUMP_BYTES).repeat(1 + r.int(3)) + t.slice(at);
      done.push(`insert@${at}`);
    } else if (op === 2) {
      t = t.slice(0, at) + t.slice(at + 1 + r.int(8));
      done.push(`delete@${at}`);
    } else if (op === 3) {
      const len = r.int(64);
      t = t.slice(0, at) + t.slice(at, at + len).repeat(2) + t.slice(at + len);
      done.push(`repeat@${at}`);
    } else {
      t = t.slice(0, at);
      done.push(`truncate${at}`);
    }
  }
  return { text: t, ops: done.join(",") };
}

/** Hostile dumps of about `mb` MB (issue #20: 4 MB of nesting inside "exceptions" took 515 MB; 80 k levels outside took 10-40 s). */
function hostileDumps(mb) {
  const n = mb << 20;
  const head = `{"format":"dmsnap-dump","version":1,"deviceBytes":${1 << 20},"header":{"magic":${SNAP_MAGIC},"valid":1,"version":1,"chunkSize":1},`;
  const fill = (unit) => unit.repeat(Math.floor(n / unit.length));
  return [
    ["nesting inside exceptions", `${head}"exceptions":[${fill("[")}`],
    ["objects nested inside exceptions", `${head}"exceptions":[${fill('{"a":')}`],
    ["a long array inside a pair", `${head}"exceptions":[[[${fill("1,")}1]]]}`],
    ["long arrays inside elements", `${head}"exceptions":[${fill("[[1,2,3],[4]],")}[1,2]]}`],
    ["a long string inside exceptions", `${head}"exceptions":[["${fill("x")}"]]}`],
    ["nesting outside exceptions (80 k)", `${head}"x":${"[".repeat(80_000)}`],
    ["a long array outside exceptions", `${head}"x":[${fill("1,")}1],"exceptions":[]}`],
    ["many keys outside exceptions", `${head}${Array.from({ length: Math.floor(n / 12) }, (_, k) => `"k${k}":1,`).join("")}"exceptions":[]}`],
  ];
}

/** What identifies an input's contents: every byte for small files; written regions, size and blocks for sparse ones. */
function fingerprint(path, regions) {
  const st = statSync(path);
  const h = createHash("sha256");
  if (!regions) h.update(readFileSync(path));
  else {
    const fd = openSync(path, "r");
    try {
      for (const [at, len] of regions) {
        const b = Buffer.alloc(len);
        readSync(fd, b, 0, len, at);
        h.update(b);
      }
    } finally {
      closeSync(fd);
    }
  }
  return `${st.size}:${st.blocks}:${st.mtimeMs}:${h.digest("hex")}`;
}

/** A shell word that expands to `bytes` exactly (every byte as an octal escape of printf). */
const shellBytes = (bytes) => `"$(printf '${[...bytes].map((b) => `\\${b.toString(8).padStart(3, "0")}`).join("")}')"`;
const shellWord = (s) => `'${s.replace(/'/g, `'\\''`)}'`;

/** Runs the binary under GNU time; an argument given as a Buffer reaches it as those raw bytes (through sh). */
function run(args) {
  return new Promise((resolve) => {
    const command = ["/usr/bin/time", "-f", "MAXRSS=%M", process.execPath, BIN];
    const child = args.some((a) => Buffer.isBuffer(a))
      ? spawn("sh", ["-c", `exec ${[...command.map(shellWord), ...args.map((a) => (Buffer.isBuffer(a) ? shellBytes(a) : shellWord(a)))].join(" ")}`], { stdio: ["ignore", "pipe", "pipe"], detached: true })
      : spawn(command[0], [...command.slice(1), ...args], { stdio: ["ignore", "pipe", "pipe"], detached: true });
    let out = "";
    let err = "";
    // Outputs can be large (a lossless dump): keep the start and the end.
    const keep = (acc, d) => (acc.length > 1 << 16 ? acc.slice(0, 1 << 15) + acc.slice(-(1 << 15)) : acc) + d;
    child.stdout.setEncoding("utf8").on("data", (d) => (out = keep(out, d)));
    child.stderr.setEncoding("utf8").on("data", (d) => (err = keep(err, d)));
    let hung = false;
    const timer = setTimeout(() => {
      hung = true;
      // The whole group: time and the node under it.
      try {
        process.kill(-child.pid, "SIGKILL");
      } catch {}
    }, HANG_MS);
    child.on("close", () => {
      clearTimeout(timer);
      const m = /MAXRSS=(\d+)\s*$/.exec(err);
      const exit = /Command exited with non-zero status (\d+)/.exec(err);
      const signalled = /Command terminated by signal/.test(err);
      resolve({ status: signalled ? null : exit ? Number(exit[1]) : 0, rss: m ? Number(m[1]) : -1, stdout: out, stderr: m ? err.slice(0, m.index) : err, hung });
    });
  });
}

const STACK = /\n\s+at .+:\d+:\d+\)?/;

const work = mkdtempSync(join(tmpdir(), "dmsnap-fuzz-"));
const r = rng(SEED);
const inputs = [];
const casesDir = join(root, "conformance/cases");
for (const id of readdirSync(casesDir).sort()) {
  const dir = join(casesDir, id);
  const c = JSON.parse(readFileSync(join(dir, "case.json"), "utf8"));
  const load = (f) => (f.endsWith(".gz") ? gunzipSync(readFileSync(join(dir, f))) : readFileSync(join(dir, f)));
  const m = mutate(load(c.files.cow), r);
  const cow = join(work, `${id}.cow`);
  writeFileSync(cow, m.bytes);
  let origin = join(work, `${id}.origin`);
  writeFileSync(origin, c.files.origin ? load(c.files.origin) : Buffer.alloc(64 * 1024));
  inputs.push({ name: `${id} [${m.ops}]`, cow, origin, chunkSize: r.next() < 0.5 ? c.table?.chunkSize : undefined, regions: null });
}
for (let g = 0; g < GEOMETRY; g++) {
  const cow = join(work, `geometry-${g}.cow`);
  const { regions, desc } = geometry(cow, r);
  const origin = join(work, `geometry-${g}.origin`);
  writeFileSync(origin, Buffer.alloc(0));
  // A sparse origin: its size is all export reads.
  const fd = openSync(origin, "r+");
  ftruncateSync(fd, 512 * (1 + r.int(4096)));
  closeSync(fd);
  inputs.push({ name: `geometry-${g} [${desc}]`, cow, origin, chunkSize: undefined, regions, originRegions: [] });
}

const dumps = [];
for (let d = 0; d < DUMPS; d++) {
  const m = mutateDump(validDump(r), r);
  const path = join(work, `dump-${d}.json`);
  writeFileSync(path, m.text);
  dumps.push({ name: `dump-${d} [${m.ops}]`, cow: path, origin: path, regions: null });
}
for (const [what, text] of hostileDumps(1 + r.int(8))) {
  const path = join(work, `hostile-${dumps.length}.json`);
  writeFileSync(path, text);
  dumps.push({ name: `hostile dump: ${what} (${(text.length / 2 ** 20).toFixed(1)} MB)`, cow: path, origin: path, regions: null });
}
inputs.push(...dumps);
/** Seeded non-UTF-8 names: ASCII with 1 to 3 bytes that break UTF-8 (a lone continuation byte, a lead byte without its tail, 0xff). */
function badName(rr, ext) {
  const parts = [Buffer.from(`n${rr.int(1000)}`)];
  for (let k = 0; k <= rr.int(3); k++) parts.push(Buffer.from([rr.pick([0x80, 0xa9, 0xbf, 0xc3, 0xe9, 0xf0, 0xfe, 0xff])]), Buffer.from(rr.pick(["", "x", "caf"])));
  parts.push(Buffer.from(ext));
  return Buffer.concat(parts);
}
const NAMES = Number(process.env.DMSNAP_FUZZ_NAMES ?? 6);
const nameSets = [];
{
  const rr = rng(SEED ^ 0x5eed);
  const good = inputs[0];
  for (let k = 0; k < NAMES; k++) {
    const dir = join(work, `names-${k}`);
    mkdirSync(dir);
    const at = (name) => Buffer.concat([Buffer.from(`${dir}/`), name]);
    const files = { cow: badName(rr, ".cow"), origin: badName(rr, ".img"), dump: badName(rr, ".json"), out: badName(rr, ".out") };
    // The real files under non-UTF-8 names, and at each name Node would decode to, a decoy.
    writeFileSync(at(files.cow), readFileSync(good.cow));
    writeFileSync(at(files.origin), readFileSync(good.origin));
    writeFileSync(at(files.dump), "{}");
    writeFileSync(at(files.out), "an existing output\n");
    for (const name of Object.values(files)) writeFileSync(join(dir, name.toString("utf8")), "decoy: the name Node's lossy decoding gives\n");
    nameSets.push({ dir, files: Object.fromEntries(Object.entries(files).map(([k2, v]) => [k2, at(v)])), cow: join(dir, "ok.cow"), origin: join(dir, "ok.img") });
    writeFileSync(join(dir, "ok.cow"), readFileSync(good.cow));
    writeFileSync(join(dir, "ok.img"), readFileSync(good.origin));
  }
}
/** Every file in a names folder: name (as hex) and fingerprint. */
const folderPrint = (dir) =>
  readdirSync(dir, { encoding: "buffer" })
    .map((n) => `${n.toString("hex")}=${fingerprint(Buffer.concat([Buffer.from(`${dir}/`), n]), null)}`)
    .sort()
    .join(",");

const jobs = [];
let seq = 0;
for (const set of nameSets) {
  const f = set.files;
  for (const args of [
    ["dump", f.cow],
    ["dump", f.cow, "--json"],
    ["dump", f.cow, "--lossless"],
    ["dump", set.cow, "-o", f.out, "--force"],
    ["check", f.cow, "--json"],
    ["usage", f.cow],
    ["map", f.cow, "--svg", "-"],
    ["map", set.cow, "--svg", f.out, "--force"],
    ["export", "--origin", f.origin, "--cow", set.cow, "-o", join(set.dir, "view.img")],
    ["export", "--origin", set.origin, "--cow", set.cow, "-o", f.out, "--force", "--json"],
    ["repair", f.cow, "-o", join(set.dir, "fixed.cow")],
    ["repair", set.cow, "-o", f.out, "--force"],
    ["restore", f.dump, "--cow", join(set.dir, "restored.cow")],
    ["restore", "-i", join(set.dir, "ok.cow"), "-o", f.out, "--force"],
    ["create", "--cow", f.out, "--chunk-size", "8", "--size", "1MiB"],
    ["write", "--origin", set.origin, "--cow", set.cow, "--offset", "0", "--input", f.dump],
    ["merge", "--origin", f.origin, "--cow", f.cow],
  ]) {
    jobs.push({ input: { name: `non-UTF-8 names ${set.dir.slice(work.length + 1)}`, folder: set.dir }, args, expect: "PATH_NOT_UTF8" });
  }
}
for (const input of inputs) {
  if (dumps.includes(input)) {
    // The dump is the input; the COW is a new file (removed after the run).
    jobs.push({ input, args: ["restore", input.cow, "--cow", `${join(work, `out-${seq++}`)}.cow`] });
    continue;
  }
  const table = input.chunkSize ? ["--chunk-size", String(input.chunkSize)] : [];
  const out = () => join(work, `out-${seq++}`);
  jobs.push(
    { input, args: ["dump", input.cow, ...table] },
    { input, args: ["dump", input.cow, "--json", ...table] },
    { input, args: ["dump", input.cow, "--lossless", ...table] },
    { input, args: ["check", input.cow, "--json", ...table] },
    { input, args: ["usage", input.cow, "--json", ...table] },
    { input, args: ["map", input.cow, "--svg", `${out()}.svg`, ...table] },
    { input, args: ["export", "--origin", input.origin, "--cow", input.cow, "--output", `${out()}.img`, ...table] },
  );
}

const t0 = Date.now();
const failures = [];
let maxRss = 0;
let maxRssRun = "";
let stackTraces = 0;
let badExits = 0;
let hangs = 0;
let overBound = 0;
let modified = 0;
const exits = { 0: 0, 1: 0, 2: 0 };
let next = 0;
async function worker() {
  while (next < jobs.length) {
    const job = jobs[next++];
    const { input, args } = job;
    const print = () => (input.folder ? [folderPrint(input.folder), ""] : [fingerprint(input.cow, input.regions), fingerprint(input.origin, input.originRegions ?? null)]);
    const before = print();
    const res = await run(args);
    const after = print();
    const why = [];
    if (job.expect && !(res.status === 2 && new RegExp(`\\b${job.expect}\\b`).test(res.stdout + res.stderr))) why.push(`expected ${job.expect}, exit 2; got exit ${res.status}`);
    if (res.hung) {
      hangs++;
      why.push(`hang over ${HANG_MS / 1000} s`);
    } else if (res.status === null || !(res.status in exits)) {
      badExits++;
      why.push(`exit ${res.status}`);
    } else exits[res.status]++;
    if (STACK.test(res.stdout) || STACK.test(res.stderr) || /"INTERNAL"|: INTERNAL:/.test(res.stdout + res.stderr)) {
      stackTraces++;
      why.push("stack trace / INTERNAL");
    }
    if (res.rss > BOUND_KIB) {
      overBound++;
      why.push(`peak RSS ${res.rss} KiB over ${BOUND_KIB}`);
    }
    if (res.rss > maxRss) {
      maxRss = res.rss;
      maxRssRun = `${args[0]} ${input.name}`;
    }
    if (before[0] !== after[0] || before[1] !== after[1]) {
      modified++;
      why.push("an input changed");
    }
    if (why.length) failures.push({ run: `dmsnap ${args.map((a) => (Buffer.isBuffer(a) ? JSON.stringify(a.toString("latin1")) : a)).join(" ")}`, input: input.name, why: why.join("; "), stderr: res.stderr.slice(0, 400) });
    // Outputs of export and map go away at once (sparse geometry makes large ones).
    for (const a of args) if (typeof a === "string" && a.startsWith(join(work, "out-"))) rmSync(a, { force: true });
  }
}
await Promise.all(Array.from({ length: JOBS }, worker));
const seconds = (Date.now() - t0) / 1000;
rmSync(work, { recursive: true, force: true });

for (const f of failures.slice(0, 20)) console.log(`FAIL ${f.run}\n     input ${f.input}: ${f.why}\n     ${f.stderr.split("\n").slice(0, 4).join("\n     ")}`);
console.log(
  `fuzz: seed ${SEED}, ${inputs.length} inputs (${inputs.length - GEOMETRY - dumps.length} conformance mutants, ${GEOMETRY} sparse geometries, ${dumps.length} lossless dumps) and ${NAMES} sets of non-UTF-8 names, ${jobs.length} runs in ${seconds.toFixed(1)} s; ` +
    `exits 0/1/2: ${exits[0]}/${exits[1]}/${exits[2]}; stack traces ${stackTraces}, other exits ${badExits}, hangs ${hangs}, over ${BOUND_KIB / 1024} MiB ${overBound}, inputs modified ${modified}; ` +
    `max RSS ${(maxRss / 1024).toFixed(1)} MiB (${maxRssRun})`,
);
mkdirSync(join(root, ".cache"), { recursive: true });
writeFileSync(
  join(root, ".cache/fuzz.json"),
  `${JSON.stringify({ seed: SEED, inputs: inputs.length, runs: jobs.length, passed: jobs.length - failures.length, failed: failures.length, stackTraces, badExits, hangs, overBound, modified, maxRssKiB: maxRss, seconds })}\n`,
);
process.exit(failures.length > 0 ? 1 : 0);
