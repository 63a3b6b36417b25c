import { describe, expect, it } from "vitest";
import fc from "fast-check";
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

describe("sizes are parsed exactly (issue #20 item 12)", () => {
  it.each([
    ["4.1MB", 4_100_000],
    ["4.1kB", 4100],
    ["0.001MB", 1000],
    ["1.25K", 1280],
    ["9007199254740991", Number.MAX_SAFE_INTEGER],
    ["000.5K", 512],
    ["1.50000000000000000000000000MiB", 1.5 * 2 ** 20],
  ])("parses %j as %d bytes", (text, bytes) => {
    expect(parseSizeBytes(text)).toBe(bytes);
  });

  it.each(["1.000000000000000000001K", "9007199254740992", "8PiB", "0.1", "1.0000001MB", "."])("refuses %j", (text) => {
    expect(parseSizeBytes(text)).toBeNull();
  });

  // Units as powers: [text, power of 2, power of 10]. B / factor is a finite decimal, written out digit by digit.
  const UNITS: Array<[string, number, number]> = [["", 0, 0], ["B", 0, 0], ["s", 9, 0], ["K", 10, 0], ["KiB", 10, 0], ["M", 20, 0], ["GiB", 30, 0], ["T", 40, 0], ["P", 50, 0], ["kB", 0, 3], ["MB", 0, 6], ["GB", 0, 9], ["TB", 0, 12], ["PB", 0, 15]];
  /** B / (2^two * 10^ten) as exact decimal text: B * 5^two / 10^(two + ten). */
  const decimalOf = (bytes: bigint, two: number, ten: number): { text: string; places: number } => {
    const places = two + ten;
    const digits = (bytes * 5n ** BigInt(two)).toString().padStart(places + 1, "0");
    return { text: places === 0 ? digits : `${digits.slice(0, digits.length - places)}.${digits.slice(digits.length - places)}`, places };
  };

  it("property: any whole number of bytes written as an exact decimal in any unit parses back to it; one more digit makes it not whole", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), fc.constantFrom(...UNITS), fc.nat(3), fc.nat(3), (bytes, [unit, two, ten], lead, trail) => {
        const { text, places } = decimalOf(BigInt(bytes), two, ten);
        const padded = `${"0".repeat(lead)}${text}${places > 0 ? "0".repeat(trail) : ""}`;
        expect(parseSizeBytes(`${padded}${unit}`)).toBe(bytes);
        // A 1 in the decimal place after both the text's and the unit's: never a whole number of bytes.
        const extra = Math.max(places, ten) + 1;
        const [int, frac = ""] = text.split(".");
        expect(parseSizeBytes(`${int}.${frac.padEnd(extra - 1, "0")}1${unit}`)).toBeNull();
      }),
      { numRuns: 2000 },
    );
  });
});
