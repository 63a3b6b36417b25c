"""Deterministic sector content shared by the host side of the kernel recipe.

Every 512-byte sector is 32 records of 16 bytes: TAG left-justified and
space-padded to 6 bytes, one space, the absolute sector number as 8 lowercase
hex digits, and a newline. guest/pwrite-direct.c writes the same pattern.
Origin images use the tag "ORIGIN", so `strings` or `xxd` show which origin
sector a snapshot block came from.
"""

SECTOR = 512


def sector_bytes(tag: str, sector: int) -> bytes:
    rec = (tag[:6].ljust(6) + " " + format(sector & 0xFFFFFFFF, "08x") + "\n").encode("ascii")
    assert len(rec) == 16
    return rec * (SECTOR // 16)


def pattern(tag: str, first_sector: int, count: int) -> bytes:
    return b"".join(sector_bytes(tag, first_sector + i) for i in range(count))


def origin_image(sectors: int) -> bytes:
    return pattern("ORIGIN", 0, sectors)
