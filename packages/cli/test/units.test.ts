import { describe, expect, it } from "vitest";
import { parseSectors, parseSize } from "../src/util/options.js";
import { formatBytes, parseSizeBytes } from "../src/util/units.js";

describe("sizes with units", () => {
  it.each([
    ["512", 512],
    ["8s", 4096],
    ["8S", 4096],
    ["4096B", 4096],
    ["4KiB", 4096],
    ["4K", 4096],
    ["4k", 4096],
    ["1GiB", 2 ** 30],
    ["1g", 2 ** 30],
    ["1.5MiB", 1.5 * 2 ** 20],
    ["0.5K", 512],
    ["1MB", 1e6],
    ["2kB", 2000],
    [" 10 GiB ", 10 * 2 ** 30],
    ["1TiB", 2 ** 40],
  ])("parses %j as %d bytes", (text, bytes) => {
    expect(parseSizeBytes(text)).toBe(bytes);
  });

  it.each(["", "abc", "4XB", "-1", "1.5", "0.3s", "4 KiBs", "1e3", "99999999PiB"])("refuses %j", (text) => {
    expect(parseSizeBytes(text)).toBeNull();
  });

  it("parseSize names the option, the input and the accepted forms", () => {
    expect(() => parseSize("lots", "--origin-size")).toThrow(/--origin-size.*KiB.*'lots'/);
  });

  it("parseSectors: bare numbers are sectors, sizes must be whole sectors", () => {
    expect(parseSectors("8", "--chunk-size")).toBe(8);
    expect(parseSectors("4KiB", "--chunk-size")).toBe(8);
    expect(parseSectors("16s", "--chunk-size")).toBe(16);
    expect(() => parseSectors("100B", "--chunk-size")).toThrow(/whole number of 512-byte sectors/);
    expect(() => parseSectors("abc", "--chunk-size")).toThrow(/BAD_OPTION|sectors/);
  });

  it("round-trips printed sizes of whole units", () => {
    expect(formatBytes(4096)).toBe("4.00 KiB");
    expect(parseSizeBytes(formatBytes(4096).replace(" ", ""))).toBe(4096);
  });
});
