#!/usr/bin/env python3
"""Named byte mutations of kernel-made COW images (the damaged-* cases).

Each mutation takes the COW of a kernel-made case (conformance/cases/<source>/
cow.img.gz), changes a few bytes (or the length), and is then shown to the
real kernel by damaged.py. Offsets follow the documented format: chunk 0 is
the header {magic, valid, version, chunk_size} (u32 LE each); area a is chunk
1 + (E + 1) * a with E = chunk_size * 512 / 16 entries {old_chunk, new_chunk}
(u64 LE each).

  python3 conformance/kernel/mutate.py --list
  python3 conformance/kernel/mutate.py OUTDIR      # write <name>.cow.img for inspection
"""
import sys as _sys
_sys.dont_write_bytecode = True
import os
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from cases import CASES, gunzip  # noqa: E402  (puts the oracle's kernel/lib on the path)
from pattern import pattern, SECTOR  # noqa: E402

MAGIC = 0x70416E53


def u32(cow, off, v):
    struct.pack_into("<I", cow, off, v)


def entry_off(cs, area, idx):
    per = cs * SECTOR // 16
    return (1 + (per + 1) * area) * cs * SECTOR + 16 * idx


def set_entry(cow, cs, area, idx, old=None, new=None):
    off = entry_off(cs, area, idx)
    o, n = struct.unpack_from("<QQ", cow, off)
    struct.pack_into("<QQ", cow, off, o if old is None else old, n if new is None else new)


def fill_chunk(cow, cs, chunk, tag):
    cow[chunk * cs * SECTOR:(chunk + 1) * cs * SECTOR] = pattern(tag, chunk * cs, cs)


# Source cases (all 1-sector chunks unless named otherwise):
O = "kernel-origin-writes-1s"   # area 0 = {0,2} {5,3} {17,4}, COW 64 sectors, origin 64
F = "kernel-one-full-area-1s"   # area 0 full (32 entries), area 1 (chunk 34) zero, COW 48
M = "kernel-multi-area-1s"      # 70 entries: areas 0,1 full, area 2 has 6; COW 96
M2 = "kernel-multi-area-2s"     # 2-sector chunks, area 0 full (64), area 1 has 6; COW 160
C8 = "kernel-chunk-8s"          # 8-sector chunks, 3 entries, COW 64
I8 = "kernel-invalidated-8s"    # 8-sector chunks, valid=0 after overflow, 3 entries


def m(name, source, description, tags=(), table=None):
    """`table`: (mode, chunk size) of the table the kernel is shown the image
    with, when it is not the source case's."""
    def deco(fn):
        MUTATIONS.append({"name": name, "source": source, "description": description,
                          "tags": list(tags), "fn": fn,
                          **({"table": {"mode": table[0], "chunkSize": table[1]}} if table else {})})
        return fn
    return deco


MUTATIONS = []


@m("bad-magic", O, "Header magic replaced by 0xdeadbeef (neither SnAp nor 0).", ["header", "magic"])
def _(c):
    u32(c, 0, 0xDEADBEEF)


@m("magic-zero-used", O, "Header magic set to 0 on a COW that holds exceptions: the kernel treats it as a new COW (and writes a fresh header).", ["header", "magic", "new-cow"])
def _(c):
    u32(c, 0, 0)


@m("version-2", O, "Header version set to 2.", ["header", "version"])
def _(c):
    u32(c, 8, 2)


@m("version-0", O, "Header version set to 0.", ["header", "version"])
def _(c):
    u32(c, 8, 0)


@m("chunk-size-0", O, "Header chunk_size set to 0 (crashed the 2009 kernel).", ["header", "chunk-size"])
def _(c):
    u32(c, 12, 0)


@m("chunk-size-3", O, "Header chunk_size set to 3 (not a power of two).", ["header", "chunk-size"])
def _(c):
    u32(c, 12, 3)


@m("chunk-size-larger-than-device", O, "Header chunk_size set to 128 sectors on a 64-sector COW (a power of two, larger than the whole device).", ["header", "chunk-size", "truncated"])
def _(c):
    u32(c, 12, 128)


@m("chunk-size-over-int-max", O, "Header chunk_size set to 2^22 sectors (power of two, above INT_MAX >> 9).", ["header", "chunk-size"])
def _(c):
    u32(c, 12, 1 << 22)


@m("chunk-size-2-on-1s-image", O, "Header chunk_size changed from 1 to 2 on a 1-sector-chunk image: the kernel reinterprets the layout (area 0 becomes sectors 2-3, which hold data).", ["header", "chunk-size", "chunk-mismatch"])
def _(c):
    u32(c, 12, 2)


@m("valid-2", O, "Header valid word set to 2 (neither 0 nor 1).", ["header", "valid"])
def _(c):
    u32(c, 4, 2)


@m("valid-0", O, "Header valid word set to 0: an invalidated snapshot with intact exceptions.", ["header", "valid", "invalid"])
def _(c):
    u32(c, 4, 0)


@m("race-area-in-header", O, "2009 race, as it happened: chunk 0 holds a copy of the area-0 buffer (exception entries). The first entry is {0, 2}, so magic reads 0 and the kernel sees a new COW.", ["header", "race-2009", "new-cow"])
def _(c):
    c[0:SECTOR] = c[SECTOR:2 * SECTOR]


@m("race-entry-header", O, "2009 race: the header's first 16 bytes are an exception entry {old_chunk: 5, new_chunk: 3}: magic 5 is wrong.", ["header", "race-2009", "magic"])
def _(c):
    c[0:SECTOR] = bytes(SECTOR)
    struct.pack_into("<QQ", c, 0, 5, 3)


@m("race-chunk-size-zero", O, "2009 race variant: magic, valid and version intact, chunk_size bytes 0, and the rest of the header chunk holds exception entries ({5,3}, {17,4}).", ["header", "race-2009", "chunk-size"])
def _(c):
    u32(c, 12, 0)
    struct.pack_into("<QQQQ", c, 16, 5, 3, 17, 4)


@m("truncated-before-area1", M, "Multi-area image cut to 34 sectors: area 0 and its data are complete, area 1 (chunk 34) is missing.", ["truncated", "multi-area"])
def _(c):
    del c[34 * SECTOR:]


@m("truncated-mid-area1-data", M, "Multi-area image cut to 50 sectors: area 1 is present and full, most of its data chunks and area 2 are missing.", ["truncated", "multi-area"])
def _(c):
    del c[50 * SECTOR:]


@m("truncated-inside-area1-2s", M2, "2-sector-chunk multi-area image cut to 133 sectors: the device ends in the middle of area 1 (chunk 66 = sectors 132-133).", ["truncated", "multi-area", "chunk-2"])
def _(c):
    del c[133 * SECTOR:]


@m("new-chunk-beyond-device", O, "Second entry {5, 3} becomes {5, 1000}: new_chunk far beyond the 64-chunk COW.", ["entry", "new-chunk"])
def _(c):
    set_entry(c, 1, 0, 1, new=1000)


@m("new-chunk-high-bits", O, "Second entry's new_chunk set to 2^32 + 3.", ["entry", "new-chunk", "high-bits"])
def _(c):
    set_entry(c, 1, 0, 1, new=(1 << 32) + 3)


@m("new-chunk-area0", O, "Second entry {5, 3} becomes {5, 1}: new_chunk points at area 0 itself.", ["entry", "new-chunk", "metadata-chunk"])
def _(c):
    set_entry(c, 1, 0, 1, new=1)


@m("new-chunk-area1", M, "Area 0 entry 3 gets new_chunk 34, which is metadata area 1.", ["entry", "new-chunk", "metadata-chunk", "multi-area"])
def _(c):
    set_entry(c, 1, 0, 3, new=34)


@m("duplicate-old-chunk", O, "Third entry {17, 4} becomes {5, 4}: origin chunk 5 is mapped twice, to COW chunk 3 (holding ORIGIN sector 5) and to COW chunk 4 (holding ORIGIN sector 17). The snapshot sha256 tells which one the kernel serves.", ["entry", "duplicate"])
def _(c):
    set_entry(c, 1, 0, 2, old=5)


@m("duplicate-old-chunk-in-run", O, "Entries become {0, 2}, {1, 3}, {1, 4}: the first two form a consecutive run (origin 0-1 -> COW 2-3), then origin chunk 1 is mapped again, to COW chunk 4 (holding ORIGIN sector 17).", ["entry", "duplicate"])
def _(c):
    set_entry(c, 1, 0, 1, old=1)
    set_entry(c, 1, 0, 2, old=1)


@m("duplicate-old-chunk-across-areas", M, "Multi-area image: the last entry of area 2 ({5, 73}) becomes {64, 73}, duplicating area 0's first entry {64, 2}. COW chunk 2 holds ORIGIN sector 64, chunk 73 holds ORIGIN sector 5.", ["entry", "duplicate", "multi-area"])
def _(c):
    set_entry(c, 1, 2, 5, old=64)


@m("duplicate-new-chunk", O, "Third entry {17, 4} becomes {17, 3}: two origin chunks share COW chunk 3.", ["entry", "duplicate"])
def _(c):
    set_entry(c, 1, 0, 2, new=3)


@m("terminator-nonzero-old", O, "Second entry becomes {99, 0}: new_chunk 0 ends the list even with a non-zero old_chunk, so only {0, 2} is loaded.", ["entry", "terminator"])
def _(c):
    set_entry(c, 1, 0, 1, old=99, new=0)


@m("stale-after-terminator", O, "Entries 4 and 5 (after the zero terminator at index 3) hold {9, 6} and {10, 7}; chunks 6 and 7 hold STALE data. A reader must stop at the terminator.", ["entry", "stale", "terminator"])
def _(c):
    set_entry(c, 1, 0, 4, old=9, new=6)
    set_entry(c, 1, 0, 5, old=10, new=7)
    fill_chunk(c, 1, 6, "STALE")
    fill_chunk(c, 1, 7, "STALE")


@m("stale-next-area", F, "Area 0 is full and area 1 (chunk 34), which should be the zeroed terminator, holds stale entries {40, 35}, {41, 36}; chunks 35 and 36 hold STALE data. The format says a reader goes on into area 1 and loads them.", ["entry", "stale", "full-area"])
def _(c):
    set_entry(c, 1, 1, 0, old=40, new=35)
    set_entry(c, 1, 1, 1, old=41, new=36)
    fill_chunk(c, 1, 35, "STALE")
    fill_chunk(c, 1, 36, "STALE")


@m("hand-flipped-2011", I8, "The 2011 mailing-list recovery: an invalidated 8-sector-chunk snapshot (header 53 6e 41 70 00 00 00 00 01 00 00 00 08 00 00 00) with the valid word flipped back to 1 by hand.", ["header", "valid", "history-2011"])
def _(c):
    u32(c, 4, 1)


@m("header-2011-as-posted", C8, "The exact header bytes from the 2011 post (53 6e 41 70 00 00 00 00 01 00 00 00 08 00 00 00: valid 0, 8-sector chunks) put on a healthy 8-sector-chunk image.", ["header", "valid", "history-2011", "invalid"])
def _(c):
    c[0:16] = bytes.fromhex("536e4170 00000000 01000000 08000000".replace(" ", ""))


@m("old-chunk-beyond-origin", O, "Third entry {17, 4} becomes {1000, 4}: old_chunk beyond the 64-chunk origin.", ["entry", "old-chunk"])
def _(c):
    set_entry(c, 1, 0, 2, old=1000)


@m("old-chunk-high-bit53", O, "Second entry {5, 3} becomes {2^53 + 5, 3}: old_chunk with high bits set (beyond exact JS numbers).", ["entry", "old-chunk", "high-bits"])
def _(c):
    set_entry(c, 1, 0, 1, old=(1 << 53) + 5)


@m("old-chunk-high-bit63", O, "Second entry {5, 3} becomes {2^63 + 5, 3}: old_chunk with the top bit set.", ["entry", "old-chunk", "high-bits"])
def _(c):
    set_entry(c, 1, 0, 1, old=(1 << 63) + 5)


# Issue 13: boundaries a reader gets wrong, as kernel-judged mutations.
K16 = "kernel-chunk-16s"        # 16-sector chunks, 3 entries, COW 128


@m("old-chunk-2pow52-8s", C8, "Second entry's old_chunk set to 2^52 + 5: with 4 KiB chunks its byte offset overflows 64 bits, but the chunk number is valid.", ["entry", "old-chunk", "high-bits", "chunk-8"])
def _(c):
    set_entry(c, 8, 0, 1, old=(1 << 52) + 5)


@m("old-chunk-2pow51-16s", K16, "First entry's old_chunk set to 2^51 + 3: times 8 KiB it overflows 64 bits.", ["entry", "old-chunk", "high-bits", "chunk-16"])
def _(c):
    set_entry(c, 16, 0, 0, old=(1 << 51) + 3)


@m("old-chunk-2pow53-minus-1-8s", C8, "Third entry's old_chunk set to 2^53 - 1, the largest chunk number dmsnap accepts.", ["entry", "old-chunk", "high-bits", "boundary", "chunk-8"])
def _(c):
    set_entry(c, 8, 0, 2, old=(1 << 53) - 1)


@m("old-chunk-2pow53-8s", C8, "First entry's old_chunk set to exactly 2^53.", ["entry", "old-chunk", "high-bits", "boundary", "chunk-8"])
def _(c):
    set_entry(c, 8, 0, 0, old=1 << 53)


@m("sectors-over-2pow53-8s", C8, "Second entry's new_chunk set to 2^50 + 1: a valid chunk number, but next_free * 8 sectors is above 2^53.", ["entry", "new-chunk", "high-bits", "usage", "chunk-8"])
def _(c):
    set_entry(c, 8, 0, 1, new=(1 << 50) + 1)


@m("sectors-over-2pow53-16s", K16, "First entry's new_chunk set to 2^49 + 1: next_free * 16 sectors is above 2^53.", ["entry", "new-chunk", "high-bits", "usage", "chunk-16"])
def _(c):
    set_entry(c, 16, 0, 0, new=(1 << 49) + 1)


@m("terminator-nonzero-old-8s", C8, "old_chunk 77 written into the terminator entry (entry 3): new_chunk 0 still ends the list.", ["entry", "terminator", "chunk-8"])
def _(c):
    set_entry(c, 8, 0, 3, old=77)


@m("valid-empty-8s", C8, "Area 0 zeroed: a valid snapshot with no exceptions (next_free 2, not highest + 1).", ["entry", "next-free", "chunk-8"])
def _(c):
    c[4096:8192] = bytes(4096)


@m("partial-trailing-chunk-8s", C8, "Three more sectors at the end: a partial trailing chunk of an 8-sector-chunk device.", ["device-size", "chunk-8"])
def _(c):
    c.extend(bytes(3 * SECTOR))


@m("valid-ffffffff", O, "Header valid word set to 0xffffffff: any non-zero value means valid.", ["header", "valid"])
def _(c):
    u32(c, 4, 0xFFFFFFFF)


@m("version-0-and-chunk-size-0", O, "Header version 0 AND chunk size 0: the chunk size is checked before the version.", ["header", "version", "chunk-size", "order"])
def _(c):
    u32(c, 8, 0)
    u32(c, 12, 0)


@m("bad-magic-and-chunk-size-0", O, "Header magic 0x12345678 AND chunk size 0: the magic is checked first.", ["header", "magic", "chunk-size", "order"])
def _(c):
    u32(c, 0, 0x12345678)
    u32(c, 12, 0)


@m("chunk-size-2pow23-invalid", O, "An invalidated header (valid = 0) with chunk size 2^23: a power of two above 4194303, refused even though no area is read.", ["header", "chunk-size", "invalid"])
def _(c):
    u32(c, 4, 0)
    u32(c, 12, 1 << 23)


@m("version-2-and-huge-entry", O, "Version 2 and an entry with old_chunk 2^60: the version refusal comes first (entries are read only in step 7).", ["header", "version", "order", "high-bits"])
def _(c):
    u32(c, 8, 2)
    set_entry(c, 1, 0, 0, old=1 << 60)


# The table's chunk size (issue 13): checked before the device is read, the
# size of the header read, the chunk size of a blank COW.
IV1 = "kernel-invalidated-1s"   # 1-sector chunks, valid=0, COW 8 sectors
POS = "kernel-overflow-po-snap-1s"  # 1-sector chunks, valid, COW 8 sectors


@m("table-3-existing", O, "An unchanged valid COW (header chunk size 1) under a table with chunk size 3: the table is refused before the device is read.", ["table", "chunk-size"], table=("P", 3))
def _(c):
    pass


@m("table-too-high-existing", O, "An unchanged valid COW under a table with chunk size 2^23 (a power of two above 4194303).", ["table", "chunk-size"], table=("P", 1 << 23))
def _(c):
    pass


@m("table-larger-than-device-invalid", IV1, "An invalidated 4 KiB COW under a table with chunk size 16 (8 KiB): the header read of one table chunk fails, though no area would be read.", ["table", "truncated", "invalid"], table=("P", 16))
def _(c):
    pass


@m("table-larger-than-device-valid", POS, "A valid 4 KiB COW under a table with chunk size 32 (16 KiB): the header read fails.", ["table", "truncated"], table=("PO", 32))
def _(c):
    pass


@m("table-smaller-than-header-2s", M2, "A valid COW with 2-sector chunks under a table with chunk size 1: the header's chunk size wins.", ["table", "chunk-size", "multi-area", "chunk-2"], table=("P", 1))
def _(c):
    pass


@m("blank-stale-header-2s", C8, "Magic zeroed on an 8-sector-chunk COW: a blank COW whose stale words say valid 1, version 1, chunk size 8, under a table with chunk size 2.", ["new-cow", "header", "chunk-size", "chunk-2"], table=("P", 2))
def _(c):
    u32(c, 0, 0)


@m("blank-stale-header-default", C8, "Magic zeroed on an 8-sector-chunk COW (stale chunk size 8) under a table with chunk size 0: the default 32 applies.", ["new-cow", "header", "chunk-size", "chunk-default"], table=("P", 0))
def _(c):
    u32(c, 0, 0)


@m("blank-table-3", O, "An all-zero COW under a table with chunk size 3.", ["new-cow", "chunk-size", "table"], table=("P", 3))
def _(c):
    c[:] = bytes(len(c))


@m("blank-one-chunk-8s", C8, "An all-zero COW of one 8-sector chunk under a table with chunk size 8: area 0 cannot be written.", ["new-cow", "truncated", "chunk-8"], table=("P", 8))
def _(c):
    c[:] = bytes(4096)


def source_cow(source):
    return gunzip(os.path.join(CASES, source, "cow.img.gz"))


def apply(mut):
    c = bytearray(source_cow(mut["source"]))
    mut["fn"](c)
    return bytes(c)


def main():
    if len(sys.argv) == 2 and sys.argv[1] == "--list":
        for mu in MUTATIONS:
            print("%-32s %-28s %s" % (mu["name"], mu["source"], mu["description"]))
        return
    if len(sys.argv) != 2:
        print(__doc__)
        sys.exit(2)
    os.makedirs(sys.argv[1], exist_ok=True)
    for mu in MUTATIONS:
        with open(os.path.join(sys.argv[1], mu["name"] + ".cow.img"), "wb") as f:
            f.write(apply(mu))


if __name__ == "__main__":
    main()
