import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { SECTION, slug } from "./docs.js";

describe("links into docs/format.md", () => {
  it("slugs headings as GitHub does", () => {
    expect(slug("Chunk 0: the header")).toBe("chunk-0-the-header");
    expect(slug("The end of the list (terminator rule)")).toBe("the-end-of-the-list-terminator-rule");
    expect(slug("Chunk numbers of 2^53 and above")).toBe("chunk-numbers-of-253-and-above");
  });

  it("every section a label links to is a heading of the format document", () => {
    const md = readFileSync(new URL("../../../docs/format.md", import.meta.url), "utf8");
    const anchors = new Set([...md.matchAll(/^#{1,6} (.+)$/gm)].map((m) => slug(m[1]!)));
    for (const [name, anchor] of Object.entries(SECTION)) expect(anchors.has(anchor), `${name} -> #${anchor}`).toBe(true);
  });
});
