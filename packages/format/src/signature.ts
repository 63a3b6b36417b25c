/**
 * What a device that is not a snapshot COW most likely holds, from the
 * signatures of common formats near its start. Only for messages: when a
 * COW's magic is not "SnAp", or is 0 over bytes that are not zero, saying
 * "this looks like an ext4 file system" tells a user they named the wrong
 * file far better than a hex word does. Pure: bytes in, a name out.
 */

/** How many bytes from the device's start `sniffSignature` looks at (a 64 KiB swap page is the farthest). */
export const SIGNATURE_BYTES = 65536;

export interface Signature {
  /** What the bytes look like ("an ext2/3/4 file system"). */
  name: string;
  /** Where the signature was found, in bytes from the device's start. */
  offset: number;
  /** The signature itself, as a person would search for it ("superblock magic 0xEF53"). */
  evidence: string;
  /** For a compressed file, the command that decompresses it ("gunzip"); null otherwise. */
  decompress: string | null;
}

const ascii = (s: string): number[] => [...s].map((c) => c.charCodeAt(0));

function at(head: Uint8Array, offset: number, bytes: readonly number[]): boolean {
  if (offset + bytes.length > head.length) return false;
  for (let i = 0; i < bytes.length; i++) if (head[offset + i] !== bytes[i]) return false;
  return true;
}

interface Rule {
  name: string;
  offsets: readonly number[];
  bytes: readonly number[];
  evidence: string;
  decompress?: string;
}

/** Most specific first: a GPT disk also carries a protective MBR's 0x55AA. */
const RULES: readonly Rule[] = [
  { name: "a gzip-compressed file", offsets: [0], bytes: [0x1f, 0x8b], evidence: "gzip magic 1f 8b", decompress: "gunzip" },
  { name: "an xz-compressed file", offsets: [0], bytes: [0xfd, ...ascii("7zXZ"), 0x00], evidence: "xz magic fd 37 7a 58 5a 00", decompress: "unxz" },
  { name: "a zstd-compressed file", offsets: [0], bytes: [0x28, 0xb5, 0x2f, 0xfd], evidence: "zstd magic 28 b5 2f fd", decompress: "unzstd" },
  { name: "a bzip2-compressed file", offsets: [0], bytes: ascii("BZh"), evidence: "bzip2 magic \"BZh\"", decompress: "bunzip2" },
  { name: "an XFS file system", offsets: [0], bytes: ascii("XFSB"), evidence: "superblock magic \"XFSB\"" },
  { name: "a LUKS encrypted volume", offsets: [0], bytes: [...ascii("LUKS"), 0xba, 0xbe], evidence: "LUKS header \"LUKS\\xba\\xbe\"" },
  // lvm2 puts its label in one of the first four sectors (the second by default).
  { name: "an LVM2 physical volume", offsets: [512, 0, 1024, 1536], bytes: ascii("LABELONE"), evidence: "LVM2 label \"LABELONE\"" },
  // The superblock starts at byte 1024; its magic is 56 bytes in, stored little-endian.
  { name: "an ext2/3/4 file system", offsets: [1080], bytes: [0x53, 0xef], evidence: "superblock magic 0xEF53" },
  // The swap signature ends its first page, whatever the page size.
  { name: "a swap area", offsets: [4086, 8182, 16374, 65526], bytes: ascii("SWAPSPACE2"), evidence: "swap signature \"SWAPSPACE2\"" },
  { name: "a swap area", offsets: [4086, 8182, 16374, 65526], bytes: ascii("SWAP-SPACE"), evidence: "swap signature \"SWAP-SPACE\"" },
  { name: "a disk with a GPT partition table", offsets: [512], bytes: ascii("EFI PART"), evidence: "GPT header \"EFI PART\"" },
  { name: "a disk with an MBR partition table (or a boot sector)", offsets: [510], bytes: [0x55, 0xaa], evidence: "boot signature 0x55AA" },
];

/**
 * The first signature found in `head`, the first bytes of a device (up to
 * SIGNATURE_BYTES; fewer are fine: a signature past the end is not found).
 */
export function sniffSignature(head: Uint8Array): Signature | null {
  for (const r of RULES) {
    for (const offset of r.offsets) {
      if (at(head, offset, r.bytes)) return { name: r.name, offset, evidence: r.evidence, decompress: r.decompress ?? null };
    }
  }
  return null;
}

/**
 * The header's first four bytes as text, in the order they are stored, each
 * printable ASCII byte as itself and any other as \xNN: the magic "SnAp" reads
 * "SnAp", /etc/passwd "root", a PNG "\x89PNG".
 */
export function magicText(head: Uint8Array): string {
  let s = "";
  for (let i = 0; i < 4 && i < head.length; i++) {
    const b = head[i]!;
    s += b >= 0x20 && b < 0x7f && b !== 0x5c && b !== 0x22 ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, "0")}`;
  }
  return `"${s}"`;
}
