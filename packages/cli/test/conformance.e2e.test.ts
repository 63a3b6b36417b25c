/**
 * The CLI's tools on the conformance suite's images (kernel-made, and damaged
 * from kernel-made ones): check agrees with each case, no reading command
 * changes its input, and repair recovers every 2009-race image.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { bytesReader, decodeCow } from "@dmsnap/format";
import { dmsnap, sha, tempDir, untouched } from "./helpers.js";

const json = (text: string): any => JSON.parse(text);


describe("kernel-made and damaged conformance images", () => {
  const casesDir = new URL("../../../conformance/cases/", import.meta.url).pathname;
  const cases = existsSync(casesDir) ? readdirSync(casesDir).filter((c) => existsSync(join(casesDir, c, "cow.img.gz"))) : [];
  const cdir = tempDir();

  it.runIf(cases.length > 0)("check agrees with each case's expected outcome; no command changes an input", () => {
    for (const c of cases) {
      const meta = json(readFileSync(join(casesDir, c, "case.json"), "utf8"));
      const cow = join(cdir, `${c}.img`);
      writeFileSync(cow, gunzipSync(readFileSync(join(casesDir, c, "cow.img.gz"))));
      const table = meta.table?.chunkSize ? ["--chunk-size", String(meta.table.chunkSize)] : [];
      const r = untouched([cow], "check", cow, "--json", ...table);
      expect(r.stdout, `${c}: exit ${r.status}, stderr ${r.stderr}`).not.toBe("");
      const j = json(r.stdout);
      if (meta.expected.outcome === "refused") {
        expect(r.status, c).toBe(1);
        expect(j.findings[0].code, c).toBe(meta.expected.error?.code ?? meta.expected.error);
      } else {
        expect(j.state, c).toBe(meta.expected.state);
        // Long lists live in a (gzipped) file beside case.json.
        const file = meta.expected.exceptionsFile ? readFileSync(join(casesDir, c, meta.expected.exceptionsFile)) : null;
        const listed = file ? json((meta.expected.exceptionsFile.endsWith(".gz") ? gunzipSync(file) : file).toString("utf8")) : meta.expected.exceptions;
        expect(j.exceptions, c).toBe(meta.expected.state === "valid" ? listed.length : 0);
        if (c.startsWith("kernel-") && meta.expected.state === "valid") expect(r.status, `${c} ${r.stdout}`).toBe(0);
      }
      // The other reading commands on every damaged case and a sample of the kernel-made ones (each run is a process).
      const more = c.startsWith("damaged-race") || ["damaged-bad-magic", "damaged-chunk-size-0", "damaged-duplicate-new-chunk", "damaged-new-chunk-high-bits", "damaged-stale-after-terminator", "damaged-truncated-inside-area1-2s", "damaged-valid-0", "damaged-old-chunk-high-bit63", "kernel-multi-area-2s", "kernel-invalidated-8s", "kernel-partial-last-chunk-8s", "kernel-overflow-po-snap-1s"].includes(c);
      const reads = more ? [["usage", cow], ["dump", cow, "--lossless"], ["map", cow, "--svg", join(cdir, `${c}.svg`)]] : [];
      for (const args of reads) {
        const x = untouched([cow], ...args, ...table);
        expect(x.status, `${c} ${args[0]}`).toBeLessThan(2);
      }
    }
    // Several hundred processes: at a load of 14 on 2 cores this took over 60 s.
  }, 300_000);

  it.runIf(cases.some((c) => c.startsWith("damaged-race")))("repair recovers the exceptions of every kernel-made 2009-race image", () => {
    for (const c of cases.filter((x) => x.startsWith("damaged-race"))) {
      const meta = json(readFileSync(join(casesDir, c, "case.json"), "utf8"));
      const from = json(readFileSync(join(casesDir, meta.provenance.from, "case.json"), "utf8"));
      const cow = join(cdir, `${c}.img`);
      writeFileSync(cow, gunzipSync(readFileSync(join(casesDir, c, "cow.img.gz"))));
      const out = join(cdir, `${c}.fixed.img`);
      const r = untouched([cow], "repair", cow, "--output", out, "--json");
      expect(r.status, c).toBe(0);
      const img = decodeCow(bytesReader(readFileSync(out)));
      expect(img.exceptions.toPairs(), c).toEqual(from.expected.exceptions);
    }
  });
});
