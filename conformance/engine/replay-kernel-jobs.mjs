#!/usr/bin/env node
// The other direction, byte for byte and without QEMU: replay every kernel job
// (conformance/kernel/jobs/*.json) with OUR store engine and compare the COW
// and origin images it leaves with the ones the kernel left
// (conformance/cases/kernel-<job>/cow.img.gz and origin.img.gz).
//
//   node conformance/engine/replay-kernel-jobs.mjs [--json]
//
// Mapping: the origin starts as the ORIGIN pattern and the COW as zeros (as in
// the kernel recipe); the first `activate` of a blank COW is `createCow` with
// the table's chunk size (0 = the default, 32); a `write` of `sectors` with
// `io` is one `applyWrite` per `io` sectors (the guest's pwrite-direct issues
// one pwrite per `io` sectors; without `io`, one for all), with the pattern of
// its tag, to the origin or the snapshot, with `overflow` when the current
// table is PO. A write the engine refuses (NO_SPACE, OVERFLOW,
// SNAPSHOT_INVALID) ends that write step, as a failing pwrite ends the guest's
// writer. Activations and deactivations without writes change nothing on a
// used COW (each applyWrite activates the COW again anyway).
// Exits 1 if any replayed image differs from the kernel's.
import { createHash } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { gunzipSync } from "node:zlib";

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = resolve(HERE, "..", "..");
const { applyWrite, createCow, StoreError } = await import(join(REPO, "packages/store/dist/index.js"));
const S = 512;

function patternBytes(tag, offset, length) {
  const out = Buffer.alloc(length);
  for (let p = 0; p < length; p += 16) {
    const sector = Math.floor((offset + p) / S);
    out.write(tag.slice(0, 6).padEnd(6) + " " + (sector >>> 0).toString(16).padStart(8, "0") + "\n", p, "ascii");
  }
  return out;
}
const sha = (b) => createHash("sha256").update(b).digest("hex");

const jobsDir = join(REPO, "conformance/kernel/jobs");
const work = mkdtempSync(join(tmpdir(), "dmsnap-replay-"));
const rows = [];
try {
  for (const f of readdirSync(jobsDir).filter((x) => x.endsWith(".json")).sort()) {
    const job = JSON.parse(readFileSync(join(jobsDir, f), "utf8"));
    const caseDir = join(REPO, "conformance/cases", job.id);
    let kcow, korigin;
    try {
      kcow = gunzipSync(readFileSync(join(caseDir, "cow.img.gz")));
      korigin = gunzipSync(readFileSync(join(caseDir, "origin.img.gz")));
    } catch {
      rows.push({ id: job.id, skipped: "no kernel case" });
      continue;
    }
    const origin = join(work, `${job.id}.origin`);
    const cow = join(work, `${job.id}.cow`);
    const input = join(work, "input.bin");
    writeFileSync(origin, patternBytes("ORIGIN", 0, job.originSectors * S));
    writeFileSync(cow, Buffer.alloc(job.cowSectors * S));
    let blank = true;
    let mode = "P";
    const refused = [];
    for (const step of job.steps) {
      if (step.op === "activate") {
        mode = step.mode ?? "P";
        if (blank) {
          await createCow({ cow, chunkSize: step.chunkSize || 32 });
          blank = false;
        }
      } else if (step.op === "write") {
        const io = step.io ?? step.sectors;
        for (let s = step.sector; s < step.sector + step.sectors; s += io) {
          const n = Math.min(io, step.sector + step.sectors - s);
          writeFileSync(input, patternBytes(step.tag, s * S, n * S));
          try {
            await applyWrite({ origin, cow, offset: s * S, input, target: step.to === "snap" ? "snapshot" : "origin", overflow: mode === "PO" });
          } catch (e) {
            if (!(e instanceof StoreError)) throw e;
            refused.push(`${step.to}@${s}: ${e.code}`);
            if (e.code !== "NO_SPACE" || step.to !== "origin") break; // an origin write that invalidates still succeeds in the kernel
          }
        }
      }
    }
    const ocow = readFileSync(cow);
    const oorigin = readFileSync(origin);
    rows.push({
      id: job.id,
      cowSame: sha(ocow) === sha(kcow),
      originSame: sha(oorigin) === sha(korigin),
      refused,
      ...(sha(ocow) !== sha(kcow) ? { firstCowDiff: firstDiff(ocow, kcow) } : {}),
    });
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}

function firstDiff(a, b) {
  if (a.length !== b.length) return `sizes ${a.length} vs ${b.length}`;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return `byte ${i} (sector ${Math.floor(i / S)}): ours ${a[i]}, kernel ${b[i]}`;
  return null;
}

const bad = rows.filter((r) => !r.skipped && !(r.cowSame && r.originSame));
if (process.argv.includes("--json")) console.log(JSON.stringify(rows, null, 2));
else {
  for (const r of rows) {
    if (r.skipped) console.log(`${r.id.padEnd(34)} skipped (${r.skipped})`);
    else console.log(`${r.id.padEnd(34)} cow ${r.cowSame ? "identical" : "DIFFERS"}  origin ${r.originSame ? "identical" : "DIFFERS"}${r.refused.length ? `  (engine refused: ${r.refused.join(", ")})` : ""}${r.firstCowDiff ? `  first difference: ${r.firstCowDiff}` : ""}`);
  }
}
console.log(`replay-kernel-jobs: ${rows.filter((r) => !r.skipped).length - bad.length} identical, ${bad.length} different, ${rows.filter((r) => r.skipped).length} skipped`);
process.exit(bad.length ? 1 : 0);
