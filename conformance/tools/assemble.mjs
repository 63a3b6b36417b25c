#!/usr/bin/env node
// Turns every conformance/cases/*/kernel.json (written by the kernel recipe,
// conformance/kernel/) into the case.json the runner reads.
//
//   node conformance/tools/assemble.mjs [--strict]
//
// What the kernel answered is the expectation: outcome, state, usage,
// nextFree (allocated / chunk size), currentArea (metadata / chunk size - 2),
// the status line, and the snapshot's sha256. Refusals map the kernel's log
// line to our stable error code (table below). The kernel does not print the
// exception list, so it is decoded with @dmsnap/format HERE ONLY, and then
// confirmed against the kernel: the count implied by next_free and the
// snapshot sha256 rebuilt from origin + COW + that list in plain code. A
// disagreement is printed loudly (and fails the run when it is unexplained, or
// always with --strict). Needs packages/format/dist (pnpm build).
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { bytesReader, decodeCow, isFormatError } from "@dmsnap/format";
import { CASES, cleanTag, parseUsage, readImage, viewSha, writeJson } from "./common.mjs";

// The kernel's refusal messages (dm-snap-persistent / dm-snap), most specific first.
const REFUSALS = [
  { match: /Invalid or corrupt snapshot/, code: "BAD_MAGIC" },
  { match: /unable to handle snapshot disk version/, code: "UNSUPPORTED_VERSION" },
  { match: /invalid on-disk chunk size/, code: "INVALID_CHUNK_SIZE" },
  // A bad table chunk size: the constructor refuses the table before reading.
  { match: /Couldn't create exception store|Chunk size is (not a power of 2|too high|not a multiple)/, code: "INVALID_CHUNK_SIZE" },
  { match: /Failed to read snapshot metadata \(-EIO\)|I\/O error/, code: "TRUNCATED" },
];

const strict = process.argv.includes("--strict");
const alarms = [];
const notes = [];
// Known disagreements with the rule the brief gave (printed loudly; fatal with --strict).
const disagreements = [];
const alarm = (id, msg) => alarms.push(`${id}: ${msg}`);

function decode(cow, tableChunkSize) {
  try {
    return { image: decodeCow(bytesReader(new Uint8Array(cow.buffer, cow.byteOffset, cow.length)), tableChunkSize ? { tableChunkSize } : {}) };
  } catch (e) {
    if (isFormatError(e)) return { error: e };
    throw e;
  }
}

function assemble(dir, k) {
  const id = k.id;
  const cow = readImage(join(dir, k.cowImage ?? "cow.img.gz"));
  const originFile = k.originImage ?? (existsSync(join(dir, "origin.img.gz")) ? "origin.img.gz" : undefined);
  const origin = originFile && existsSync(join(dir, originFile)) ? readImage(join(dir, originFile)) : undefined;
  if (cow.length !== k.cowBytes) alarm(id, `cow.img is ${cow.length} bytes, kernel.json says ${k.cowBytes}`);
  // engine-*: written by our store engine, then activated by the kernel, whose answer is the expectation.
  const engine = id.startsWith("engine-");
  const provenance = {
    kind: engine ? "engine" : "kernel",
    kernel: k.kernel,
    job: k.job,
    ...(k.sourceCase ? { from: k.sourceCase } : {}),
    ...(k.mutation ? { mutation: k.mutation } : {}),
    generator: "conformance/tools/assemble.mjs",
  };
  const c = {
    id,
    description: k.description,
    tags: [...new Set([...(k.tags ?? []).map(cleanTag), id.startsWith("damaged-") ? "damaged" : engine ? "engine-written" : "kernel-made"])].filter(Boolean),
    provenance,
    files: { cow: k.cowImage ?? "cow.img.gz", ...(originFile && origin ? { origin: originFile } : {}) },
    table: { mode: k.table.mode, chunkSize: k.table.chunkSize },
    expected: { outcome: "accepted" },
    kernelObserved: { activation: k.activation, status: k.status ?? null, dmesg: k.dmesg ?? [], readError: k.readError ?? null, snapshotSha256: k.snapshotSha256 ?? null, confirmed: [] },
    // other kernel series' answers where they differ (kernel.json kernelAnswers, from pnpm kernel:matrix)
    ...(k.kernelAnswers ? { kernelAnswers: k.kernelAnswers } : {}),
  };
  const confirmed = c.kernelObserved.confirmed;
  const ours = decode(cow, k.table.chunkSize);

  if (k.activation === "refused") {
    const line = (k.dmesg ?? []).find((m) => REFUSALS.some((r) => r.match.test(m)));
    const rule = line && REFUSALS.find((r) => r.match.test(line));
    if (!rule) {
      alarm(id, `the kernel refused the image, but none of its messages maps to an error code: ${JSON.stringify(k.dmesg)}`);
      return null;
    }
    c.expected = { outcome: "refused", error: { code: rule.code, kernelMessage: line.replace(/^device-mapper: [a-z ]+: /, "") } };
    confirmed.push("outcome", "error.code");
    if (!ours.error) alarm(id, `the kernel refused it (${rule.code}) but @dmsnap/format accepts it`);
    else if (ours.error.code === "CHUNK_NUMBER_TOO_LARGE") {
      // Both refuse; dmsnap stops at the first entry >= 2^53, before the step the kernel fails at.
      c.expected.error.code = "CHUNK_NUMBER_TOO_LARGE";
      c.stricterThanKernel = `both refuse, for different reasons: the kernel reads on and fails with "${line.replace(/^device-mapper: [a-z ]+: /, "")}" (${rule.code}); dmsnap refuses earlier, at the first entry whose chunk number is 2^53 or more (CHUNK_NUMBER_TOO_LARGE), which is its documented behaviour.`;
      notes.push(`${id}: both refuse; kernel ${rule.code}, dmsnap CHUNK_NUMBER_TOO_LARGE (expected: ours)`);
    } else if (ours.error.code !== rule.code) alarm(id, `the kernel's message maps to ${rule.code}, @dmsnap/format says ${ours.error.code}`);
    return c;
  }

  if (ours.error) {
    if (ours.error.code === "CHUNK_NUMBER_TOO_LARGE") {
      c.expected = { outcome: "refused", error: { code: "CHUNK_NUMBER_TOO_LARGE" } };
      c.stricterThanKernel = `the kernel ${k.activation === "invalid" ? "activates it as Invalid" : `accepts it (status ${k.status})`}; dmsnap keeps chunk numbers below 2^53 and refuses an entry at or above it (docs/format.md, error CHUNK_NUMBER_TOO_LARGE): no real device has that many chunks, so such an entry is corrupt.`;
      notes.push(`${id}: stricter than the kernel (CHUNK_NUMBER_TOO_LARGE; kernel: ${k.status})`);
      return c;
    }
    alarm(id, `the kernel ${k.activation === "invalid" ? "activated it as Invalid" : "accepted it"} but @dmsnap/format refuses it: ${ours.error.code} ${ours.error.message}`);
    return null;
  }
  const img = ours.image;
  const e = c.expected;
  e.header = { ...img.header };
  e.chunkSize = img.chunkSize;
  e.exceptionsPerArea = img.exceptionsPerArea;
  const tableCs = Number((k.kernelTable ?? "").trim().split(/\s+/).pop());
  if (Number.isInteger(tableCs) && tableCs > 0) {
    confirmed.push("chunkSize");
    if (tableCs !== img.chunkSize) alarm(id, `the kernel's table shows chunk size ${tableCs}, @dmsnap/format uses ${img.chunkSize}`);
    e.chunkSize = tableCs;
    e.exceptionsPerArea = (tableCs * 512) / 16;
  }

  if (k.activation === "invalid") {
    e.state = "invalid";
    e.exceptions = [];
    e.status = "Invalid";
    // The kernel prints only "Invalid": the usage an invalid COW reports is the
    // documented rule (docs/dump-json.md, values by state), not the kernel's answer.
    e.nextFree = 2;
    e.usage = { totalSectors: Math.floor(cow.length / 512), allocatedSectors: 2 * e.chunkSize, metadataSectors: 2 * e.chunkSize };
    e.currentArea = 0;
    confirmed.push("state", "status");
    if (img.state !== "invalid") alarm(id, `the kernel says Invalid, @dmsnap/format says ${img.state}`);
    return c;
  }

  // Accepted. A blank COW (magic 0) is initialised by the kernel: state "new".
  e.state = img.header.magic === 0 ? "new" : "valid";
  if (img.header.magic === 0 && k.cowChangedByKernel === false) alarm(id, "magic is 0 but the kernel did not write a header");
  if (img.state !== e.state) alarm(id, `state: the kernel's answer means ${e.state}, @dmsnap/format says ${img.state}`);
  confirmed.push("state");
  e.exceptions = img.exceptions.toPairs();
  provenance.exceptionsSource = "decoded by @dmsnap/format; confirmed by the kernel's status line count and snapshot sha256";
  const usage = parseUsage(k.status);
  if (usage) {
    const cs = e.chunkSize;
    e.nextFree = usage.allocatedSectors / cs;
    e.usage = { totalSectors: usage.totalSectors, allocatedSectors: usage.allocatedSectors, metadataSectors: usage.metadataSectors };
    e.currentArea = usage.metadataSectors / cs - 2;
    e.status = k.status;
    confirmed.push("nextFree", "usage", "currentArea", "status");
    if (!Number.isInteger(e.nextFree) || !Number.isInteger(e.currentArea)) alarm(id, `status ${k.status} is not a whole number of ${cs}-sector chunks`);
    if (img.nextFree !== e.nextFree) alarm(id, `next_free: kernel ${e.nextFree}, @dmsnap/format ${img.nextFree}`);
    if (img.currentArea !== e.currentArea) alarm(id, `current area: kernel ${e.currentArea}, @dmsnap/format ${img.currentArea}`);
    if (img.usage.totalSectors !== usage.totalSectors) alarm(id, `total sectors: kernel ${usage.totalSectors}, @dmsnap/format ${img.usage.totalSectors}`);
    // The exception count the kernel implies: every entry in the full areas plus the current one.
    // With exceptions committed in allocation order and no holes, next_free follows from the list.
    const maxNew = e.exceptions.reduce((m, [, n]) => Math.max(m, n), 1);
    let nf = maxNew + 1;
    if ((nf - 1) % (e.exceptionsPerArea + 1) === 0) nf++;
    if (e.state === "valid" && nf !== e.nextFree) alarm(id, `the decoded list ends at COW chunk ${maxNew}, so next_free would be ${nf}; the kernel says ${e.nextFree}`);
    const full = e.currentArea * e.exceptionsPerArea;
    if (e.state === "valid" && (e.exceptions.length < full || e.exceptions.length >= full + e.exceptionsPerArea)) {
      alarm(id, `${e.exceptions.length} decoded exceptions do not fit area ${e.currentArea} being the current one (E = ${e.exceptionsPerArea})`);
    }
  } else {
    // e.g. "Overflow": the kernel prints no usage; these come from the decoded image, unconfirmed.
    e.nextFree = img.nextFree;
    e.usage = { ...img.usage };
    e.currentArea = img.currentArea;
    provenance.note = `the kernel's status was "${k.status}", which carries no usage: nextFree, usage and currentArea are the decoded values, not confirmed by this kernel run`;
    notes.push(`${id}: status "${k.status}"; usage unconfirmed`);
  }

  if (k.snapshotSha256 && !k.readError) {
    e.snapshotSha256 = k.snapshotSha256;
    confirmed.push("snapshotSha256");
    if (!origin) alarm(id, "the kernel gave a snapshot sha256 but there is no origin image");
    else {
      // The documented rule (docs/format.md, "Snapshot view"): for a duplicated
      // old_chunk the FIRST entry wins, as measured on Linux 6.1.
      const rebuilt = viewSha(origin, cow, e.chunkSize, e.exceptions, "first");
      if (rebuilt !== k.snapshotSha256) {
        const later = viewSha(origin, cow, e.chunkSize, e.exceptions, "last");
        alarm(
          id,
          later === k.snapshotSha256
            ? `the kernel serves the LATER of two duplicate entries here, against the documented first-wins rule`
            : `snapshot sha256: rebuilt view ${rebuilt ?? "(an exception points past the COW)"} != kernel ${k.snapshotSha256}`,
        );
      } else if (e.exceptions && new Set(e.exceptions.map((x) => x[0])).size < e.exceptions.length) {
        provenance.note = `${provenance.note ? `${provenance.note}; ` : ""}a duplicated old_chunk: the view rebuilt with first-wins matches the kernel's sha256, later-wins does not`;
      }
    }
  }
  c.kernelObserved.confirmed = [...new Set(confirmed)];
  return c;
}

let written = 0;
for (const name of readdirSync(CASES).sort()) {
  const dir = join(CASES, name);
  const kfile = join(dir, "kernel.json");
  if (!existsSync(kfile)) continue;
  const k = JSON.parse(readFileSync(kfile, "utf8"));
  if (k.id !== name) alarm(name, `kernel.json id is ${k.id}`);
  const c = assemble(dir, k);
  if (!c) continue;
  writeJson(join(dir, "case.json"), { $schema: "../../schema/case.schema.json", ...c });
  written++;
}
for (const n of notes) console.log(`note: ${n}`);
if (disagreements.length > 0) {
  const bar = "*".repeat(78);
  console.log(`${bar}\nassemble: the kernel disagrees with a documented rule (the cases expect the KERNEL's answer):\n  ${disagreements.join("\n  ")}\n${bar}`);
}
if (alarms.length > 0) {
  const bar = "!".repeat(78);
  console.error(`${bar}\nassemble: ${alarms.length} disagreement(s) between the kernel and the decoded images:\n  ${alarms.join("\n  ")}\n${bar}`);
}
console.log(`assemble: wrote ${written} case.json file(s) from kernel.json`);
process.exit(alarms.length > 0 ? 1 : 0);
