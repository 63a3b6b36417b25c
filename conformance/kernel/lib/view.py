"""A small independent model of how a snapshot reads, used only to
cross-check the kernel's answers (which duplicate entry wins, does the
kernel's sha256 match the documented format). Not the project's codec.
"""
import hashlib
import struct

SECTOR = 512
MAGIC = 0x70416E53


def header(cow: bytes):
    if len(cow) < 16:
        return None
    magic, valid, version, cs = struct.unpack_from("<IIII", cow, 0)
    return {"magic": magic, "valid": valid, "version": version, "chunkSize": cs}


def exceptions(cow: bytes, cs: int):
    """Entries as the documented reader loads them, in order: [(old, new), ...]."""
    csb = cs * SECTOR
    per = csb // 16
    out = []
    area = 0
    while True:
        off = (1 + (per + 1) * area) * csb
        if off + csb > len(cow):
            break
        full = True
        for i in range(per):
            old, new = struct.unpack_from("<QQ", cow, off + 16 * i)
            if new == 0:
                full = False
                break
            out.append((old, new))
        if not full:
            break
        area += 1
    return out


def view(cow: bytes, origin: bytes, cs: int, policy="last"):
    csb = cs * SECTOR
    m = {}
    for old, new in exceptions(cow, cs):
        if policy == "first" and old in m:
            continue
        m[old] = new
    out = bytearray(origin)
    nchunks = (len(origin) + csb - 1) // csb
    for old, new in m.items():
        if old >= nchunks:
            continue
        a = old * csb
        b = min(a + csb, len(origin))
        src = cow[new * csb:new * csb + (b - a)]
        if len(src) < b - a:
            return None  # would read past the COW end
        out[a:b] = src
    return bytes(out)


def view_sha(cow, origin, cs, policy="last"):
    v = view(cow, origin, cs, policy)
    return None if v is None else hashlib.sha256(v).hexdigest()
