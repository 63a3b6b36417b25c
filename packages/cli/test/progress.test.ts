import { describe, expect, it } from "vitest";
import { etaText, makeProgress } from "../src/util/progress.js";

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

  it("the bar's ETA is the run's average rate (fake clock), steady under bursts", () => {
    const s = sink(true);
    let t = 0;
    const p = makeProgress("auto", { stream: s.stream, now: () => t });
    p.start("export", 1000, "bytes");
    t = 2000;
    p.update(500);
    p.stop();
    // 500 of 1000 bytes in 2 s: 2 s left.
    expect(s.text()).toMatch(/ETA 2s/);
    // Bursts: nothing for 3 s, then a jump, as an export between write-backs. From 10 s on,
    // the ETAs of a 100 s run at a steady average stay within 40-130 s for the first half
    // (no 0 s, no minutes-long swings).
    const etas: number[] = [];
    for (let sec = 10; sec <= 50; sec++) {
      const done = Math.floor(sec / 4) * 4 * 10; // 40 units every 4 s: 10 a second on average
      const text = etaText(sec * 1000, done, 1000);
      if (text !== "…") etas.push(/^(\d+)m(\d+)s$/.test(text) ? Number(RegExp.$1) * 60 + Number(RegExp.$2) : Number(text.replace("s", "")));
    }
    expect(etas.length).toBe(41);
    expect(Math.min(...etas)).toBeGreaterThanOrEqual(40);
    expect(Math.max(...etas)).toBeLessThanOrEqual(130);
    expect(etaText(500, 1, 10)).toBe("…");
    expect(etaText(3_600_000, 1, 3)).toBe("2h00m");
  });
});
