import { describe, expect, it } from "vitest";
import { renderMap } from "./mapSvg.js";

describe("map SVG", () => {
  it("is wide enough for a long title (SVG text does not wrap)", () => {
    const title = "x".repeat(150);
    const r = renderMap({ title, subtitle: "s", chunkSize: 1, deviceBytes: 40 * 512, nextFree: 2, newChunks: new Uint32Array(0), count: 0, problemChunks: [], undrawable: 0, headerIsProblem: false });
    const width = Number(/<svg[^>]* width="(\d+)"/.exec(r.svg)![1]);
    // 150 characters of 16 px bold text need well over the 640 px minimum.
    expect(width).toBeGreaterThanOrEqual(150 * 9);
    expect(r.svg).toContain(title);
  });
});
