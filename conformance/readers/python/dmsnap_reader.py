#!/usr/bin/env python3
"""Independent reader for Linux device-mapper persistent snapshot COW images.

Written from docs/format.md and docs/dump-json.md ALONE (no other file of the
repository was read), as a test that the specification is complete.
Standard library only, Python >= 3.9.

Usage:
    dmsnap_reader.py dump   [--chunk-size N] <cow>
    dmsnap_reader.py export [--chunk-size N] <origin> <cow>

dump:   one JSON object on stdout (the `dmsnap dump --json` object), exit 0;
        a refusal prints {"error": {...}} on stdout, exit 1; a bad option or an
        I/O error prints an error object with code BAD_OPTION / IO_<errno> on
        stdout, exit 2 (dump-json.md, "Exit codes").  Argument-parser errors
        are plain text on stderr, exit 2.
export: the snapshot view (origin size) as raw bytes on stdout, exit 0; any
        error is an error object on stderr (stdout stays clean), exit 1 for the
        image, exit 2 for usage / I/O.
--chunk-size is the table chunk size; it only matters for a blank COW.
"""
import errno
import json
import os
import re
import struct
import sys

SECTOR = 512
MAGIC = 0x70416E53  # "SnAp"
MAX_CHUNK_SIZE = 0x7FFFFFFF >> 9  # INT_MAX >> 9 = 4194303
LIMIT_2_53 = 1 << 53
DEFAULT_TABLE_CS = 32  # max(32, L/512) with L = 512
COPY_BLOCK = 1 << 20  # bounded-memory unit for all bulk reads


class Refusal(Exception):
    """The kernel would not activate the image (or dmsnap cannot represent it)."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code, self.message = code, message


class IOProblem(Exception):
    def __init__(self, code, message):
        super().__init__(message)
        self.code, self.message = code, message


def io_problem(exc, what):
    name = errno.errorcode.get(exc.errno or 0, "EIO")
    return IOProblem("IO_" + name, "cannot %s: %s" % (what, exc.strerror or exc))


def pread_exact(fd, length, offset):
    """Read exactly `length` bytes at `offset` (caller has checked the size)."""
    parts, done = [], 0
    while done < length:
        b = os.pread(fd, length - done, offset + done)
        if not b:
            raise OSError(errno.EIO, "short read at byte %d" % (offset + done))
        parts.append(b)
        done += len(b)
    return b"".join(parts)


def chunk_size_problem(cs, lbs=SECTOR):
    """The chunk size check of format.md (Activation); None when acceptable."""
    if cs < 1 or cs & (cs - 1):
        return "is not a power of two"
    if cs % (lbs // SECTOR):
        return "is not a multiple of the logical block size"
    if cs > MAX_CHUNK_SIZE:
        return "is too high (above 4194303)"
    return None


def activate(fd, dev_bytes, table_cs=0):
    """format.md, Activation steps 1..8. Returns the dump object (a dict)."""
    if dev_bytes < SECTOR:  # step 1
        raise Refusal("TRUNCATED", "device is %d bytes, smaller than the "
                      "512-byte header sector" % dev_bytes)
    magic, valid, version, hcs = struct.unpack("<4I", pread_exact(fd, 16, 0))
    header = {"magic": magic, "valid": valid, "version": version, "chunkSize": hcs}

    if magic == 0:  # step 2: blank COW; the kernel would initialise it
        cs = table_cs if table_cs else DEFAULT_TABLE_CS
        why = chunk_size_problem(cs)
        if why:
            raise Refusal("INVALID_CHUNK_SIZE", "table chunk size %d %s" % (cs, why))
        if dev_bytes // (cs * SECTOR) < 2:
            raise Refusal("TRUNCATED", "blank COW of %d bytes cannot hold the "
                          "header and area 0 at chunk size %d" % (dev_bytes, cs))
        return result(header, "new", cs, [], 0, 2, dev_bytes)
    if magic != MAGIC:  # step 3
        raise Refusal("BAD_MAGIC", "header magic is 0x%08x, not 0x70416e53 "
                      "(\"SnAp\") or 0 (blank)" % magic)
    cs = hcs  # step 4: the on-disk chunk size overrides the table's
    why = chunk_size_problem(cs)
    if why:
        raise Refusal("INVALID_CHUNK_SIZE", "on-disk chunk size %d %s" % (cs, why))
    if version != 1:  # step 5
        raise Refusal("UNSUPPORTED_VERSION", "snapshot disk version %d; "
                      "only version 1 exists" % version)
    if valid == 0:  # step 6: invalidated; no area is read
        return result(header, "invalid", cs, [], 0, 2, dev_bytes)

    exceptions, current_area, top = read_areas(fd, dev_bytes, cs)  # step 7
    next_free = max(2, top + 1)  # step 8
    if next_free % (32 * cs + 1) == 1:
        next_free += 1
    return result(header, "valid", cs, exceptions, current_area, next_free, dev_bytes)


def read_areas(fd, dev_bytes, cs):
    """Step 7: areas 0, 1, ... up to the first entry with new_chunk == 0."""
    E = 32 * cs
    chunk_bytes = cs * SECTOR
    chunks = dev_bytes // chunk_bytes
    exceptions, top, a = [], -1, 0
    while True:
        loc = 1 + (E + 1) * a  # area_location(a)
        if loc + 1 > chunks:
            raise Refusal("TRUNCATED", "the kernel must read area %d at chunk %d, "
                          "which is not wholly inside the %d-byte device "
                          "(%d whole chunks)" % (a, loc, dev_bytes, chunks))
        base = loc * chunk_bytes
        i = 0
        # read the area in bounded pieces (an area is up to 1 GiB)
        for off in range(0, chunk_bytes, COPY_BLOCK):
            block = pread_exact(fd, min(COPY_BLOCK, chunk_bytes - off), base + off)
            for old, new in struct.iter_unpack("<QQ", block):
                if new == 0:
                    return exceptions, a, top  # the terminator: current index i
                if old >= LIMIT_2_53 or new >= LIMIT_2_53:
                    raise Refusal("CHUNK_NUMBER_TOO_LARGE", "area %d entry %d = "
                                  "(%d, %d): a chunk number >= 2^53 (the kernel "
                                  "would activate this)" % (a, i, old, new))
                exceptions.append((old, new))
                if new > top:
                    top = new
                i += 1
        a += 1  # area full (i == E): the next area must be read


def result(header, state, cs, exceptions, current_area, next_free, dev_bytes):
    usage = {"totalSectors": dev_bytes // SECTOR,
             "allocatedSectors": next_free * cs,
             "metadataSectors": (current_area + 2) * cs}
    status = ("Invalid" if state == "invalid" else "%d/%d %d" % (
        usage["allocatedSectors"], usage["totalSectors"], usage["metadataSectors"]))
    return {"header": header, "state": state, "chunkSize": cs,
            "exceptionsPerArea": 32 * cs,
            "exceptions": [[o, n] for o, n in exceptions],
            "nextFree": next_free, "usage": usage, "currentArea": current_area,
            "deviceBytes": dev_bytes, "status": status}


def open_sized(path):
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError as e:
        raise io_problem(e, "open %s" % path)
    try:
        return fd, os.lseek(fd, 0, os.SEEK_END)  # works for block devices too
    except OSError as e:
        os.close(fd)
        raise io_problem(e, "size %s" % path)


def dump_cow(path, table_cs=0):
    fd, size = open_sized(path)
    try:
        return activate(fd, size, table_cs)
    except OSError as e:
        raise io_problem(e, "read %s" % path)
    finally:
        os.close(fd)


def copy_range(fd, offset, length, out):
    """Stream `length` bytes from `fd` at `offset` to `out` in bounded pieces."""
    end = offset + length
    while offset < end:
        n = min(COPY_BLOCK, end - offset)
        out.write(pread_exact(fd, n, offset))
        offset += n


def export_view(origin_path, cow_path, out, table_cs=0):
    """Write the snapshot view: origin size; chunk c from COW chunk new_chunk
    when an exception maps c (the first entry wins on duplicates, per docs/format.md), else origin."""
    cfd, cow_size = open_sized(cow_path)
    try:
        try:
            d = activate(cfd, cow_size, table_cs)
        except OSError as e:
            raise io_problem(e, "read %s" % cow_path)
        if d["state"] == "invalid":
            raise Refusal("SNAPSHOT_INVALID", "the snapshot was invalidated "
                          "(valid = 0): the kernel fails every read of it")
        ofd, origin_size = open_sized(origin_path)
        try:
            chunk_bytes = d["chunkSize"] * SECTOR
            cow_chunks = cow_size // chunk_bytes
            n_chunks = -(-origin_size // chunk_bytes)
            mapping = {}
            for old, new in d["exceptions"]:
                if old < n_chunks:
                    mapping.setdefault(old, new)  # the first entry wins (docs/format.md)
            for old, new in mapping.items():  # check before writing anything
                if new >= cow_chunks:
                    raise Refusal("IO_EIO", "origin chunk %d maps to COW chunk %d, "
                                  "past the device's %d whole chunks: the kernel's "
                                  "read of it fails" % (old, new, cow_chunks))
            for c in range(n_chunks):
                start = c * chunk_bytes
                length = min(chunk_bytes, origin_size - start)
                if c in mapping:
                    copy_range(cfd, mapping[c] * chunk_bytes, length, out)
                else:
                    copy_range(ofd, start, length, out)
        except OSError as e:
            raise io_problem(e, "read %s or %s" % (origin_path, cow_path))
        finally:
            os.close(ofd)
    finally:
        os.close(cfd)


def error_json(code, message):
    return json.dumps({"error": {"code": code, "message": message}},
                      separators=(",", ":"))


USAGE = ("usage: dmsnap_reader.py dump [--chunk-size N] <cow>\n"
         "       dmsnap_reader.py export [--chunk-size N] <origin> <cow>\n")


def main(argv):
    if not argv or argv[0] not in ("dump", "export"):
        sys.stderr.write(USAGE)
        return 2
    cmd, args, cs_text = argv[0], [], None
    rest = iter(argv[1:])
    for a in rest:
        if a == "--chunk-size":
            cs_text = next(rest, None)
            if cs_text is None:
                sys.stderr.write("--chunk-size needs a value\n" + USAGE)
                return 2
        elif a.startswith("--chunk-size="):
            cs_text = a.split("=", 1)[1]
        elif a.startswith("-") and a != "-":
            sys.stderr.write("unknown option %s\n%s" % (a, USAGE))
            return 2
        else:
            args.append(a)
    if len(args) != (1 if cmd == "dump" else 2):
        sys.stderr.write(USAGE)
        return 2
    err = sys.stdout if cmd == "dump" else sys.stderr  # export: stdout is binary
    table_cs = 0
    if cs_text is not None:
        if not re.fullmatch(r"[0-9]+", cs_text):
            print(error_json("BAD_OPTION", "--chunk-size takes a whole number of "
                             "512-byte sectors, got %r" % cs_text), file=err)
            return 2
        table_cs = int(cs_text)
    try:
        if cmd == "dump":
            obj = dump_cow(args[0], table_cs)
            sys.stdout.write(json.dumps(obj, separators=(",", ":")) + "\n")
        else:
            out = sys.stdout.buffer
            export_view(args[0], args[1], out, table_cs)
            out.flush()
        return 0
    except Refusal as r:
        print(error_json(r.code, r.message), file=err)
        return 1
    except IOProblem as p:
        print(error_json(p.code, p.message), file=err)
        return 2
    except BrokenPipeError:
        return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
