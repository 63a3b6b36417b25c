/**
 * Every section of the format specification is exercised by conformance
 * cases: this table maps each `##` heading of docs/format.md to case tags, and
 * fails when a section has no case, or when a new section appears without an
 * entry here (so the table cannot silently fall behind the spec).
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const root = fileURLToPath(new URL("../..", import.meta.url));
const casesDir = join(root, "conformance", "cases");

/** Section of docs/format.md → the tags (any of which) its cases carry; null: nothing a reader can be tested on. */
const SECTIONS: Record<string, string[] | null> = {
  "Units": ["chunk-1", "chunk-2", "chunk-8", "chunk-16", "chunk-32"],
  "Chunk 0: the header": ["header", "magic", "version", "valid", "padding"],
  "Exceptions per area": ["full-area", "multi-area"],
  "Layout of the device": ["multi-area", "metadata-chunk"],
  "Exception entries": ["entry", "high-bits", "endianness"],
  "The end of the list (terminator rule)": ["terminator", "stale", "full-area"],
  "Activation (reading a COW device)": ["new-cow", "invalid", "truncated", "order", "chunk-mismatch"],
  "What a reader must not do": ["duplicate", "new-chunk"],
  "What a reader reports": ["golden"],
  "Allocation": ["next-free-skip", "batched-commit", "reload"],
  "Committing exceptions": ["batched-commit", "batch", "origin-write", "snapshot-write"],
  "Invalidation": ["overflow", "invalid"],
  "Usage and status": ["golden", "overflow"],
  "Snapshot view": ["partial-last-chunk", "partial-chunk", "duplicate", "snapshot-write"],
  // Merge changes the origin; its rules are tested by the store's merge and crash suites, not by a reader.
  "Merging": null,
  "Chunk numbers of 2^53 and above": ["high-bits", "boundary"],
  // Our tools' model (dump --lossless, restore, repair), not the kernel's format: tested by format's losslessDump.test.ts and store's restore.test.ts.
  "The metadata model": null,
  // The kernel answers "new" whatever chunks 0 and 1 hold: the cases show that answer (a raced header, stale header words); dmsnap's warning is tested in packages/format/src/blank.test.ts.
  "Blank: what magic 0 does not prove": ["new-cow", "race-2009"],
  "Error codes": ["magic", "version", "chunk-size", "truncated", "high-bits"],
  // The checker's findings are exercised by `dmsnap check` over every case (packages/cli/test/conformance.e2e.test.ts).
  "Checker findings": ["damaged"],
  "Known history": ["race-2009", "history-2011", "next-free-skip", "duplicate"],
  "Worked example": ["multi-area"],
};

function caseTags(): Map<string, string[]> {
  const byTag = new Map<string, string[]>();
  for (const id of readdirSync(casesDir)) {
    let c: { tags?: string[] };
    try {
      c = JSON.parse(readFileSync(join(casesDir, id, "case.json"), "utf8"));
    } catch {
      continue;
    }
    for (const t of c.tags ?? []) byTag.set(t, [...(byTag.get(t) ?? []), id]);
  }
  return byTag;
}

describe("the conformance cases cover the format specification", () => {
  const headings = [...readFileSync(join(root, "docs", "format.md"), "utf8").matchAll(/^## (.+)$/gm)].map((m) => m[1]!.trim());
  const tags = caseTags();

  it("has an entry for every section of docs/format.md", () => {
    expect(headings.length).toBeGreaterThan(10);
    expect(headings.filter((h) => !(h in SECTIONS))).toEqual([]);
  });

  it.each(Object.entries(SECTIONS).filter(([, t]) => t !== null))("covers '%s' with at least one case per listed tag", (_section, wanted) => {
    const missing = (wanted as string[]).filter((t) => (tags.get(t) ?? []).length === 0);
    expect(missing).toEqual([]);
  });
});
