/**
 * Our engine's own write log for the same workloads. Origin and COW are two
 * devices over one region (origin first, COW after it, as in the kernel
 * recording) that log like dm-log-writes: a FUA write and a mark are logged
 * when they happen, a plain write waits with the other unflushed writes and
 * is logged just before the flush that covers it (or at the end).
 *
 * `headerRule` rewrites the flags of the invalidation header write (valid=0)
 * on its way to the device, to run the engine under a kernel's rule:
 *  - "engine": as the engine writes it (FUA; the origin write waits for it);
 *  - "kernel": a plain write, as Linux 6.1 does (the origin write that waits
 *    for it then waits for nothing durable);
 *  - "preflush-fua": the smallest kernel fix (flush first, then FUA; the
 *    origin write is held until it completes).
 */
import { SECTOR_SIZE, sectorBytes } from "@dmsnap/format";
import { mergeSnapshot, Snapshot, type BlockDevice, type WriteFlags } from "@dmsnap/store";
import type { LogEvent } from "./log.js";
import { initialRegion, pattern, type Workload } from "./workload.js";

export type HeaderRule = "engine" | "kernel" | "preflush-fua";

export class LoggedRegion {
  readonly events: LogEvent[] = [];
  private unflushed: LogEvent[] = [];
  constructor(
    readonly region: Uint8Array,
    readonly headerRule: HeaderRule,
  ) {}

  mark(text: string): void {
    this.events.push({ kind: "mark", text });
  }
  flush(): void {
    this.events.push(...this.unflushed, { kind: "flush" });
    this.unflushed = [];
  }
  end(): void {
    this.events.push(...this.unflushed);
    this.unflushed = [];
  }
  write(sector: number, data: Uint8Array, flags: WriteFlags, isInvalidation: boolean): void {
    let f = flags;
    if (isInvalidation && this.headerRule === "kernel") f = {};
    if (isInvalidation && this.headerRule === "preflush-fua") f = { flushBefore: true, fua: true };
    if (f.flushBefore) this.flush();
    this.region.set(data, sectorBytes(sector));
    const e: LogEvent = { kind: "write", sector, data: data.slice(), preflush: false, fua: !!f.fua };
    if (f.fua) this.events.push(e);
    else this.unflushed.push(e);
  }

  /** A device over [startSector, startSector + sectors) of the region. */
  device(startSector: number, sectors: number, isCow: boolean): BlockDevice {
    const self = this;
    const base = sectorBytes(startSector);
    return {
      size: sectorBytes(sectors),
      logicalBlockSize: SECTOR_SIZE,
      async read(offset: number, length: number) {
        return self.region.slice(base + offset, base + offset + length);
      },
      async write(offset: number, data: Uint8Array, flags: WriteFlags = {}) {
        // header (COW offset 0) with magic SnAp and valid = 0
        const inval = isCow && offset === 0 && data[0] === 0x53 && data[1] === 0x6e && data[4] === 0 && data[5] === 0 && data[6] === 0 && data[7] === 0;
        self.write(startSector + offset / SECTOR_SIZE, data, flags, inval);
        await Promise.resolve();
      },
      async flush() {
        self.flush();
      },
      async close() {},
    };
  }
}

/** Runs a workload through our engine; returns its dm-log-writes-style log. */
export async function engineLog(w: Workload, headerRule: HeaderRule = "engine"): Promise<LogEvent[]> {
  const r = new LoggedRegion(initialRegion(w), headerRule);
  const origin = r.device(0, w.originSectors, false);
  const cow = r.device(w.originSectors, w.cowSectors, true);
  let snap: Snapshot | null = null;
  let last = "";
  for (const s of w.steps) {
    if (s.op === "activate") {
      r.mark(`activate:${s.mode}:${s.chunkSize}`);
      snap = await Snapshot.open(origin, cow, { chunkSize: s.chunkSize, overflow: s.mode === "PO" });
      last = snap.status();
      r.mark(`activated:${last.replace(/ /g, "_")}`);
    } else if (s.op === "deactivate") {
      r.mark("deactivate");
      await snap?.idle();
      snap = null;
      r.mark("deactivated");
    } else if (s.op === "merge") {
      r.mark("merge-start");
      await mergeSnapshot({ origin, cow, batchBytes: 0 });
      r.mark("merged");
    } else {
      if (!snap) throw new Error(`${w.id}: write before activation`);
      for (let k = 0; k < s.count; k++) {
        const sector = s.sector + k * s.sectors;
        const data = pattern(s.tag, sector, s.sectors);
        const what = `${s.to === "origin" ? "o" : "s"}:${sector}:${s.sectors}:${s.tag}`;
        try {
          if (s.to === "origin") await snap.writeOrigin(sectorBytes(sector), data);
          else await snap.writeSnapshot(sectorBytes(sector), data);
          r.mark(`ack:${what}`);
        } catch {
          r.mark(`fail:${what}`);
        }
        if (w.watch && snap.status() !== last) {
          last = snap.status();
          r.mark(`status:${last.replace(/ /g, "_")}`);
        }
      }
    }
  }
  r.end();
  return r.events;
}
