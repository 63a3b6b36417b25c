/** Signatures from hand-made bytes: each placed where its format puts it (offsets from the formats' own documentation). */
import { describe, expect, it } from "vitest";
import { magicText, sniffSignature, SIGNATURE_BYTES } from "./signature.js";

const put = (bytes: Uint8Array, at: number, what: string | number[]): Uint8Array => {
  bytes.set(typeof what === "string" ? [...what].map((c) => c.charCodeAt(0)) : what, at);
  return bytes;
};
const image = (at: number, what: string | number[], size = SIGNATURE_BYTES): Uint8Array => put(new Uint8Array(size), at, what);

describe("sniffSignature", () => {
  it.each([
    ["ext2/3/4", 1080, [0x53, 0xef], "an ext2/3/4 file system"],
    ["XFS", 0, "XFSB", "an XFS file system"],
    ["LVM2 label in sector 1", 512, "LABELONE", "an LVM2 physical volume"],
    ["LVM2 label in sector 3", 1536, "LABELONE", "an LVM2 physical volume"],
    ["swap, 4 KiB pages", 4086, "SWAPSPACE2", "a swap area"],
    ["swap, 64 KiB pages", 65526, "SWAPSPACE2", "a swap area"],
    ["old swap", 4086, "SWAP-SPACE", "a swap area"],
    ["MBR", 510, [0x55, 0xaa], "a disk with an MBR partition table (or a boot sector)"],
    ["gzip", 0, [0x1f, 0x8b, 0x08], "a gzip-compressed file"],
    ["xz", 0, [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00], "an xz-compressed file"],
    ["zstd", 0, [0x28, 0xb5, 0x2f, 0xfd], "a zstd-compressed file"],
    ["LUKS", 0, [0x4c, 0x55, 0x4b, 0x53, 0xba, 0xbe], "a LUKS encrypted volume"],
  ] as const)("%s at byte %i", (_label, at, what, name) => {
    const sig = sniffSignature(image(at, what as string | number[]));
    expect(sig).toMatchObject({ name, offset: at });
  });

  it("a GPT disk is named as GPT although its protective MBR ends with 0x55AA too", () => {
    const b = image(510, [0x55, 0xaa]);
    put(b, 512, "EFI PART");
    expect(sniffSignature(b)).toMatchObject({ name: "a disk with a GPT partition table", offset: 512 });
  });

  it("only compressed files carry a decompress command", () => {
    expect(sniffSignature(image(0, [0x1f, 0x8b]))?.decompress).toBe("gunzip");
    expect(sniffSignature(image(1080, [0x53, 0xef]))?.decompress).toBeNull();
  });

  it("zeros, a SnAp header, a signature one byte off, or a head too short to hold it: nothing", () => {
    expect(sniffSignature(new Uint8Array(SIGNATURE_BYTES))).toBeNull();
    expect(sniffSignature(image(0, "SnAp"))).toBeNull();
    expect(sniffSignature(image(1081, [0x53, 0xef]))).toBeNull();
    expect(sniffSignature(image(1080, [0x53, 0xef]).subarray(0, 1081))).toBeNull();
    expect(sniffSignature(new Uint8Array(0))).toBeNull();
  });
});

describe("magicText", () => {
  it("shows the first four bytes as stored, non-printable ones as \\xNN", () => {
    expect(magicText(image(0, "SnAp", 16))).toBe('"SnAp"');
    expect(magicText(image(0, "root:x:0", 16))).toBe('"root"');
    expect(magicText(image(0, [0x89, 0x50, 0x4e, 0x47], 16))).toBe('"\\x89PNG"');
    expect(magicText(image(0, [0x22, 0x5c, 0x00, 0x41], 16))).toBe('"\\x22\\x5c\\x00A"');
  });
});
