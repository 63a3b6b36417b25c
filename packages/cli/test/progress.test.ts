import { describe, expect, it } from "vitest";
import { makeProgress } from "../src/util/progress.js";

function sink(isTTY: boolean): { stream: NodeJS.WriteStream; text: () => string } {
  let out = "";
  const stream = { isTTY, write: (s: string) => ((out += s), true), columns: 80, on() {}, removeListener() {}, cursorTo() {}, clearLine() {}, moveCursor() {} } as unknown as NodeJS.WriteStream;
  return { stream, text: () => out };
}

describe("progress", () => {
  it("json mode: a start line, throttled updates, and a final line with done = total", () => {
    const s = sink(false);
    let t = 0;
    const p = makeProgress("json", { stream: s.stream, now: () => t });
    p.start("restore", 10, "areas");
    for (let i = 1; i <= 10; i++) {
      t += 40;
      p.update(i);
    }
    p.stop();
    const lines = s.text().trim().split("\n").map((l) => JSON.parse(l));
    expect(lines[0]).toEqual({ progress: { op: "restore", done: 0, total: 10, unit: "areas" } });
    expect(lines.at(-1)).toEqual({ progress: { op: "restore", done: 10, total: 10, unit: "areas" } });
    expect(lines.length).toBeLessThan(8); // throttled to one per 100 ms
  });

  it("auto mode is silent when stderr is not a terminal; none is always silent", () => {
    for (const [mode, tty] of [["auto", false], ["none", true]] as const) {
      const s = sink(tty);
      const p = makeProgress(mode, { stream: s.stream, now: () => 5000 });
      p.start("check", 100, "areas");
      p.update(50);
      p.stop();
      expect(s.text()).toBe("");
    }
  });

  it("auto mode on a terminal draws a bar only after a second", () => {
    const s = sink(true);
    let t = 0;
    const p = makeProgress("auto", { stream: s.stream, now: () => t });
    p.start("copy", 100, "bytes");
    p.update(10);
    expect(s.text()).toBe("");
    t = 1500;
    p.update(60);
    p.stop();
    expect(s.text()).toMatch(/copy/);
  });
});
