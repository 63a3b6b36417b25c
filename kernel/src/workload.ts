/**
 * The workloads of kernel/io/workloads.json, as both the kernel
 * recording and the engine replay run them, and what a crash state of each is
 * allowed to show (the snapshot promise).
 */
import { readFileSync } from "node:fs";
import { sectorBytes } from "@dmsnap/format";

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

/** The data slice the recording starts from: the ORIGIN pattern, then a blank COW. */
export function initialRegion(w: Workload): Uint8Array {
  const r = new Uint8Array(sectorBytes(w.originSectors + w.cowSectors));
  r.set(pattern("ORIGIN", 0, w.originSectors), 0);
  return r;
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
