/**
 * TLC over kernel logs mapped to the model (model.ts): one TLC run (one JVM)
 * for every log and every mutant, with spec/kernel/KernelTrace.tla in the
 * place of spec/trace/TraceDmSnapStore.tla in the trace helper's batch module
 * (spec/lib/traces.mjs), so the kernel logs and the engine's traces are
 * checked by the same trace spec.
 */
import { spawn } from "node:child_process";
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import type { ModelLog } from "./model.js";

export interface TlcResult {
  /** Events each log got through (accepted when equal to its length). */
  reached: number[];
  seconds: number;
  finished: boolean;
  raw: string;
}

type Traces = {
  batchModule(logs: ModelLog[], decl: { variables: string[]; constants: string[] }): { tla: string; cfg: string };
  declarations(text: string): { variables: string[]; constants: string[] };
};
type Tools = {
  findJava(): { java: string };
  findTlc(log: (s: string) => void): Promise<{ jar: string }>;
};

export async function checkKernelLogs(root: string, logs: ModelLog[], say: (s: string) => void = () => {}): Promise<TlcResult> {
  const spec = join(root, "spec");
  const traces = (await import(pathToFileURL(join(spec, "lib/traces.mjs")).href)) as Traces;
  const tools = (await import(pathToFileURL(join(spec, "lib/tools.mjs")).href)) as Tools;
  const { java } = tools.findJava();
  const { jar } = await tools.findTlc(say);
  const dir = mkdtempSync(join(tmpdir(), "dmsnap-kernel-tlc-"));
  try {
    const model = readFileSync(join(spec, "DmSnapStore.tla"), "utf8");
    copyFileSync(join(spec, "DmSnapStore.tla"), join(dir, "DmSnapStore.tla"));
    copyFileSync(join(spec, "trace/TraceDmSnapStore.tla"), join(dir, "TraceDmSnapStore.tla"));
    copyFileSync(join(spec, "kernel/KernelTrace.tla"), join(dir, "KernelTrace.tla"));
    const decl = traces.declarations(model);
    const unmapped = decl.constants.filter((c) => !["STALE", "HDR_INVALID", "HDR_VALID"].includes(c) && !(c in (logs[0]?.constants ?? {})));
    if (unmapped.length > 0) {
      throw new Error(`spec/DmSnapStore.tla declares ${unmapped.join(", ")}, which kernel/src/model.ts does not map to the kernel's logs: give each the kernel's value there (Linux 6.1 writes the invalidated header as a plain write, and releases origin writes after the commit)`);
    }
    const batch = traces.batchModule(logs, decl);
    // KernelTrace's own constant: the COW's size in chunks (the model's NAreas rounds it up to whole areas)
    const tla = batch.tla
      .replace(/^T(\d+) == INSTANCE TraceDmSnapStore WITH /gm, (_, id: string) => `T${id} == INSTANCE KernelTrace WITH CowChunks <- ${Number(logs[Number(id) - 1]!.constants.CowChunks)}, `)
      .replace(/!TraceNext\b/g, "!KernelNext");
    if (/INSTANCE TraceDmSnapStore/.test(tla)) throw new Error("spec/lib/traces.mjs: the batch module's INSTANCE lines changed; update kernel/src/tlc.ts");
    if (!tla.includes("!KernelNext")) throw new Error("spec/lib/traces.mjs: the batch module no longer names TraceNext; update kernel/src/tlc.ts");
    writeFileSync(join(dir, "TraceBatch.tla"), tla);
    writeFileSync(join(dir, "TraceBatch.cfg"), batch.cfg);
    const args = ["-XX:+UseParallelGC", "-Xmx1g", `-Djava.io.tmpdir=${dir}`, "-cp", jar, "tlc2.TLC", "-tool", "-deadlock", "-workers", "1", "-metadir", join(dir, "states"), "-config", "TraceBatch.cfg", "TraceBatch.tla"];
    const t0 = Date.now();
    const raw = await new Promise<string>((resolve, reject) => {
      const child = spawn(java, args, { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
      const chunks: Buffer[] = [];
      child.stdout.on("data", (b: Buffer) => chunks.push(b));
      child.stderr.on("data", (b: Buffer) => chunks.push(b));
      child.on("error", reject);
      child.on("close", () => resolve(Buffer.concat(chunks).toString("utf8")));
    });
    const reached = new Array<number>(logs.length).fill(0);
    for (const m of raw.matchAll(/<<"trace-pos", (\d+), (\d+), (\d+)>>/g)) {
      const i = Number(m[1]) - 1;
      reached[i] = Math.max(reached[i] ?? 0, Number(m[2]));
    }
    return { reached, seconds: (Date.now() - t0) / 1000, finished: /Model checking completed|No error has been found/.test(raw), raw };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

