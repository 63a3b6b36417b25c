/**
 * The workloads of kernel/io/workloads.json, as both the kernel
 * recording and the engine replay run them, and what a crash state of each is
 * allowed to show (the snapshot promise).
 */
import { readFileSync } from "node:fs";
import { areaLocation, areaOffset, chunkBytes, chunkKind, chunkOffset, chunkSectors, chunksInDevice, sectorBytes, writeEntry } from "@dmsnap/format";

export type Step =
  | { op: "activate"; mode: "P" | "PO"; chunkSize: number }
  | { op: "deactivate" }
  | { op: "merge"; mode: "P" | "PO"; chunkSize: number }
  | { op: "write"; to: "origin" | "snap"; sector: number; sectors: number; count: number; tag: string };

export interface Workload {
  id: string;
  originSectors: number;
  cowSectors: number;
  watch?: boolean;
  /**
   * What the COW holds before the first activation: blank (the default), or
   * "reused": space an earlier snapshot of the same geometry used, with only
   * its first 4 KiB wiped (lvm2 zeroes that much of a new LV; the workload's
   * chunk 0 is no larger), so area 0 still holds that snapshot's entries.
   */
  cow?: "blank" | "reused";
  note: string;
  steps: Step[];
}

export function loadWorkloads(path: string): Workload[] {
  return (JSON.parse(readFileSync(path, "utf8")) as { workloads: Workload[] }).workloads;
}

/** One 512-byte sector of the recipe's pattern (lib/pattern.py, guest/pwrite-direct.c). */
export function patternSector(tag: string, sector: number, out: Uint8Array = new Uint8Array(512), at = 0): Uint8Array {
  const rec = `${tag.slice(0, 6).padEnd(6)} ${(sector >>> 0).toString(16).padStart(8, "0")}\n`;
  for (let i = 0; i < 32; i++) for (let k = 0; k < 16; k++) out[at + i * 16 + k] = rec.charCodeAt(k);
  return out;
}

export function pattern(tag: string, first: number, count: number): Uint8Array {
  const out = new Uint8Array(sectorBytes(count));
  for (let i = 0; i < count; i++) patternSector(tag, first + i, out, sectorBytes(i));
  return out;
}

/** The data slice the recording starts from: the ORIGIN pattern, then the COW (blank, or reused: reusedCow). */
export function initialRegion(w: Workload): Uint8Array {
  const r = new Uint8Array(sectorBytes(w.originSectors + w.cowSectors));
  r.set(pattern("ORIGIN", 0, w.originSectors), 0);
  if (w.cow === "reused") reusedCow(w, r.subarray(sectorBytes(w.originSectors)));
  return r;
}

/**
 * A reused COW (kernel/io/record.py writes the same bytes): the
 * header chunk zero, area 0 holding one entry per data chunk of area 0's
 * range inside the COW (the k-th data chunk for origin chunk k), each such
 * data chunk holding the pattern "STALE" of its origin chunk's sectors.
 * A snapshot that loads these entries shows STALE where the origin was.
 */
export function reusedCow(w: Workload, cow: Uint8Array): void {
  const { chunkSize: cs } = tableOf(w);
  const chunks = chunksInDevice(cs, sectorBytes(w.cowSectors));
  const area = cow.subarray(areaOffset(cs, 0), areaOffset(cs, 0) + chunkBytes(cs));
  let k = 0;
  for (let c = areaLocation(cs, 0) + 1; c < chunks && chunkKind(cs, c) === "data"; c++, k++) {
    writeEntry(area, k, k, c);
    cow.set(pattern("STALE", chunkSectors(cs, k), cs), chunkOffset(cs, c));
  }
}

/** The chunk size and mode the COW is activated with (the first activation's). */
export function tableOf(w: Workload): { mode: "P" | "PO"; chunkSize: number } {
  const a = w.steps.find((s) => s.op === "activate");
  if (!a || a.op !== "activate") throw new Error(`workload ${w.id} never activates`);
  return { mode: a.mode, chunkSize: a.chunkSize };
}

/**
 * Per snapshot sector, the contents the snapshot may show besides the origin
 * as it was: what snapshot writes put there (any of them: a write that
 * returned without fsync need not be durable).
 */
export function snapshotVersions(w: Workload): Map<number, Uint8Array[]> {
  const m = new Map<number, Uint8Array[]>();
  for (const s of w.steps) {
    if (s.op !== "write" || s.to !== "snap") continue;
    for (let k = 0; k < s.count * s.sectors; k++) {
      const sec = s.sector + k;
      const list = m.get(sec) ?? [];
      list.push(patternSector(s.tag, sec));
      m.set(sec, list);
    }
  }
  return m;
}
