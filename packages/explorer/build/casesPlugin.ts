/**
 * Copies the conformance cases into dist/cases/ as built-in examples: each
 * case's gzipped COW as it is in the repository (the page gunzips it), and
 * one index.json with each case's description and expectation.
 */
import { readdirSync, readFileSync, existsSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { gunzipSync } from "node:zlib";
import type { Plugin } from "vite";

const CASES = fileURLToPath(new URL("../../../conformance/cases/", import.meta.url));

interface CaseJson {
  id: string;
  description: string;
  provenance: { kind: string };
  files: { cow: string };
  table?: { chunkSize?: number };
  expected: { outcome: string; state?: string; error?: { code: string }; exceptions?: unknown[]; exceptionsFile?: string; status?: string | null };
}

export function casesPlugin(): Plugin {
  return {
    name: "dmsnap-cases",
    apply: "build",
    generateBundle() {
      const index: unknown[] = [];
      const emitted = new Set<string>();
      for (const id of readdirSync(CASES).sort()) {
        const file = join(CASES, id, "case.json");
        if (!existsSync(file)) continue;
        const c = JSON.parse(readFileSync(file, "utf8")) as CaseJson;
        const cowPath = resolve(dirname(file), c.files.cow);
        const cow = relative(CASES, cowPath).split("\\").join("/");
        if (!emitted.has(cow)) {
          this.emitFile({ type: "asset", fileName: `cases/${cow}`, source: readFileSync(cowPath) });
          emitted.add(cow);
        }
        const e = c.expected;
        let count: number | null = null;
        if (e.outcome === "accepted") {
          if (e.exceptions) count = e.exceptions.length;
          else if (e.exceptionsFile) count = (JSON.parse(gunzipSync(readFileSync(join(CASES, id, e.exceptionsFile))).toString()) as unknown[]).length;
        }
        index.push({
          id: c.id,
          description: c.description,
          provenance: c.provenance.kind,
          cow,
          ...(c.table?.chunkSize === undefined ? {} : { tableChunkSize: c.table.chunkSize }),
          expect: { state: e.outcome === "refused" ? e.error!.code : e.state, count, status: e.status ?? null },
        });
      }
      this.emitFile({ type: "asset", fileName: "cases/index.json", source: JSON.stringify(index) });
    },
  };
}
