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

  it("counts each kind of chunk where the layout puts it (hand-counted, two areas in use)", () => {
    // 1-sector chunks, 80 chunks: header 0, areas at 1, 34 and 67; exceptions in
    // chunks 2..33 and 35..42, next_free 43: 40 used, 36 free data chunks.
    const newChunks = Uint32Array.from([...Array.from({ length: 32 }, (_, i) => 2 + i), ...Array.from({ length: 8 }, (_, i) => 35 + i)]);
    const r = renderMap({ title: "t", subtitle: "s", chunkSize: 1, deviceBytes: 80 * 512, nextFree: 43, newChunks, count: 40, problemChunks: [], undrawable: 0, headerIsProblem: false });
    expect(r.counts).toEqual({ free: 36, used: 40, metadata: 3, leaked: 0, header: 1, problem: 0 });
  });
});
