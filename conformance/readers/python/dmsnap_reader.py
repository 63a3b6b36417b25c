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
export: the snapshot view (origin size) as raw bytes on stdout, exit 0; a
        refusal is an error object on stdout (nothing else is written), exit 1
        (the dump refusal code, or SNAPSHOT_INVALID), exit 2 for usage / I/O.
batch:  dmsnap_reader.py batch <requests.json> <answers.json> answers every
        request of the conformance runner's batch protocol in one process.
--chunk-size is the table chunk size: checked before anything is read, the
        size of the header read, and the chunk size of a blank COW.

DMSNAP_MUTANT=<name> switches on one deliberate bug (mutants.json lists them):
the conformance suite is measured by how many of these it catches
(pnpm conformance:mutants). Without it the reader is the plain one.
"""
import errno
import hashlib
import io
import json
import os
import re
import signal
import struct
import sys

SECTOR = 512
MAGIC = 0x70416E53  # "SnAp"
MAX_CHUNK_SIZE = 0x7FFFFFFF >> 9  # INT_MAX >> 9 = 4194303
LIMIT_2_53 = 1 << 53
DEFAULT_TABLE_CS = 32  # max(32, L/512) with L = 512
COPY_BLOCK = 1 << 20  # bounded-memory unit for all bulk reads

MUTANT = os.environ.get("DMSNAP_MUTANT", "")


def M(name):
    """True when the deliberate bug `name` is switched on (mutants.json)."""
    return MUTANT == name


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
    if M("no-chunk-size-check"):
        return None
    if M("chunk-size-zero-passes"):
        if cs & (cs - 1):
            return "is not a power of two"
    elif not M("chunk-size-no-power-of-two") and (cs < 1 or cs & (cs - 1)):
        return "is not a power of two"
    if M("chunk-size-no-power-of-two") and cs < 1:
        return "is zero"
    if cs % (lbs // SECTOR):
        return "is not a multiple of the logical block size"
    if cs > MAX_CHUNK_SIZE and not M("chunk-size-no-maximum"):
        return "is too high (above 4194303)"
    return None


def table_check(dev_bytes, table_cs, blank):
    """Step 1: the kernel checks the table's chunk size when it parses the
    table, then reads the header as one chunk of that size."""
    if table_cs == 0:
        return
    if M("no-table-check") or (M("table-check-blank-only") and not blank):
        return
    why = chunk_size_problem(table_cs)
    if why:
        raise Refusal("INVALID_CHUNK_SIZE", "table chunk size %d %s" % (table_cs, why))
    if dev_bytes < table_cs * SECTOR and not M("no-table-header-read-check"):
        raise Refusal("TRUNCATED", "the header is read as one %d-sector chunk "
                      "(the table's), but the device is %d bytes" % (table_cs, dev_bytes))


def read_header(fd, dev_bytes):
    if M("header-short-read-padded") and dev_bytes < SECTOR:
        return struct.unpack("<4I", os.pread(fd, 16, 0).ljust(16, b"\0"))
    return struct.unpack("<4I", pread_exact(fd, 16, 0))


def activate(fd, dev_bytes, table_cs=0):
    """format.md, Activation steps 1..8. Returns the dump object (a dict)."""
    if M("table-zero-refused") and table_cs == 0 and TABLE_GIVEN[0]:
        raise Refusal("INVALID_CHUNK_SIZE", "table chunk size 0")
    if M("size-before-table-check"):
        if dev_bytes < SECTOR:
            raise Refusal("TRUNCATED", "device is %d bytes" % dev_bytes)
    blank = M("table-check-blank-only") and dev_bytes >= 16 and read_header(fd, dev_bytes)[0] == 0
    table_check(dev_bytes, table_cs, blank)  # step 1
    min_bytes = 16 if M("header-needs-16-bytes") else SECTOR
    if dev_bytes < min_bytes and not (M("header-short-read-padded") and dev_bytes > 0):
        raise Refusal("TRUNCATED", "device is %d bytes, smaller than the "
                      "512-byte header sector" % dev_bytes)
    magic, valid, version, hcs = read_header(fd, dev_bytes)
    header = {"magic": magic, "valid": valid, "version": version, "chunkSize": hcs}

    if magic != MAGIC and magic != 0 and M("bad-magic-as-blank"):
        magic = 0
    if magic == 0:  # step 2: blank COW; the kernel would initialise it
        if M("refuse-blank"):
            raise Refusal("BAD_MAGIC", "magic 0")
        cs = table_cs if table_cs else (16 if M("blank-default-16") else DEFAULT_TABLE_CS)
        if M("blank-uses-header-chunk-size") and hcs:
            cs = hcs
        why = chunk_size_problem(cs)
        if why:
            raise Refusal("INVALID_CHUNK_SIZE", "table chunk size %d %s" % (cs, why))
        if dev_bytes // (cs * SECTOR) < (1 if M("blank-needs-one-chunk") else 2):
            raise Refusal("TRUNCATED", "blank COW of %d bytes cannot hold the "
                          "header and area 0 at chunk size %d" % (dev_bytes, cs))
        return result(header, "new", cs, [], 0, 2, dev_bytes)
    if M("chunk-size-before-magic"):
        why = chunk_size_problem(hcs)
        if why:
            raise Refusal("INVALID_CHUNK_SIZE", "on-disk chunk size %d %s" % (hcs, why))
    if magic != MAGIC:  # step 3
        raise Refusal("BAD_MAGIC", "header magic is 0x%08x, not 0x70416e53 "
                      "(\"SnAp\") or 0 (blank)" % magic)
    cs = hcs  # step 4: the on-disk chunk size overrides the table's
    if M("table-overrides-header") and table_cs:
        cs = table_cs
    if M("version-before-chunk-size") and version != 1:
        raise Refusal("UNSUPPORTED_VERSION", "version %d" % version)
    why = chunk_size_problem(cs)
    if why:
        raise Refusal("INVALID_CHUNK_SIZE", "on-disk chunk size %d %s" % (cs, why))
    if version != 1:  # step 5
        raise Refusal("UNSUPPORTED_VERSION", "snapshot disk version %d; "
                      "only version 1 exists" % version)
    if valid != 1 and valid != 0 and M("valid-must-be-1"):
        valid = 0
    if valid != 1 and valid != 0 and M("valid-not-1-refused"):
        raise Refusal("BAD_MAGIC", "valid word %d is neither 0 nor 1" % valid)
    if valid == 0 and M("refuse-invalid"):
        raise Refusal("BAD_MAGIC", "the snapshot was invalidated")
    if valid == 0 and not M("load-invalid"):  # step 6: invalidated; no area is read
        return result(header, "invalid", cs, [], 0, 2, dev_bytes)

    exceptions, current_area, top = read_areas(fd, dev_bytes, cs)  # step 7
    if M("next-free-from-last-entry") and exceptions:
        top = exceptions[-1][1]
    if M("next-free-from-position"):
        top = 1 + (32 * cs + 1) * current_area + CURRENT_INDEX[0]
    next_free = top + 1 if M("next-free-no-minimum") else max(2, top + (0 if M("next-free-is-max") else 1))  # step 8
    skip_at = 0 if M("next-free-skip-off-by-one") else 1
    if next_free % (32 * cs + 1) == skip_at and not M("next-free-no-metadata-skip"):
        next_free += 1
    if next_free * cs > LIMIT_2_53 - 1 and not M("sectors-over-2-53-accepted"):
        raise Refusal("CHUNK_NUMBER_TOO_LARGE", "next_free %d * chunk size %d "
                      "sectors is 2^53 or more" % (next_free, cs))
    if M("dedupe-exceptions"):
        seen, kept = set(), []
        for o, n in exceptions:
            if o not in seen:
                seen.add(o)
                kept.append((o, n))
        exceptions = kept
    return result(header, "invalid" if valid == 0 else "valid", cs, exceptions, current_area, next_free, dev_bytes)


def area_location(a, E):
    if M("area-stride-no-skip"):
        return 1 + a  # entries read straight through from chunk 1
    if M("area-stride-E"):
        return 1 + E * a
    if M("area-stride-E-plus-2"):
        return 1 + (E + 2) * a
    if M("every-other-area"):
        return 1 + (E + 1) * 2 * a  # 2003: only every other area read
    return 1 + (E + 1) * a


CURRENT_INDEX = [0]
TABLE_GIVEN = [False]


def read_areas(fd, dev_bytes, cs):
    """Step 7: areas 0, 1, ... up to the first entry with new_chunk == 0."""
    E = 32 * cs
    chunk_bytes = cs * SECTOR
    chunks = dev_bytes // chunk_bytes
    exceptions, top, a = [], -1, 0
    per_area = E - 1 if M("area-full-at-E-minus-1") else E + 1 if M("area-reads-E-plus-1") else E
    size_areas = chunks // (E + 1)  # the mutant's area count from the device size
    while True:
        loc = area_location(a, E)
        if M("area-cap-1000") and a >= 1000:
            return exceptions, a, top
        if M("areas-from-device-size") and a >= size_areas:
            return exceptions, a, top
        end_needed = loc + 1 if not M("truncated-check-off-by-one") else loc
        if M("truncated-byte-based"):
            inside = loc * chunk_bytes + 16 <= dev_bytes
        else:
            inside = end_needed <= chunks
        if not inside:
            if M("stop-at-device-end"):
                return exceptions, a, top
            raise Refusal("TRUNCATED", "the kernel must read area %d at chunk %d, "
                          "which is not wholly inside the %d-byte device "
                          "(%d whole chunks)" % (a, loc, dev_bytes, chunks))
        base = loc * chunk_bytes
        i, area_exc, ended = 0, [], False
        want = per_area * 16
        if M("truncated-byte-based"):
            want = min(want, dev_bytes - base)
        # read the area in bounded pieces (an area is up to 1 GiB)
        for off in range(0, want, COPY_BLOCK):
            n = min(COPY_BLOCK, want - off)
            block = pread_exact(fd, n - n % 16, base + off)
            for old, new in struct.iter_unpack("<QQ", block):
                if M("new-chunk-32-bit"):
                    new &= 0xFFFFFFFF
                if M("old-chunk-32-bit"):
                    old &= 0xFFFFFFFF
                if M("old-new-swapped"):
                    old, new = new, old
                end = new == 0
                if M("terminator-needs-old-zero"):
                    end = new == 0 and old == 0
                if M("terminator-on-old-zero"):
                    end = new == 0 or old == 0
                if end:
                    ended = True
                    if M("skip-zero-entries"):
                        continue  # reads on past the terminator
                    break
                limit = LIMIT_2_53 - 1 if M("limit-2-53-off-by-one") else LIMIT_2_53
                if (old >= limit or new >= limit) and not (
                        M("limit-2-53-allows-equal") and max(old, new) == LIMIT_2_53):
                    raise Refusal("CHUNK_NUMBER_TOO_LARGE", "area %d entry %d = "
                                  "(%d, %d): a chunk number >= 2^53 (the kernel "
                                  "would activate this)" % (a, i, old, new))
                if M("byte-offset-overflow-refused") and old * chunk_bytes >= 1 << 64:
                    raise Refusal("CHUNK_NUMBER_TOO_LARGE", "old_chunk %d times %d "
                                  "bytes overflows 64 bits" % (old, chunk_bytes))
                i += 1
                if M("drop-new-chunk-beyond-device") and new >= chunks:
                    continue
                if M("drop-new-chunk-on-metadata") and (new - 1) % (E + 1) == 0:
                    continue
                area_exc.append((old, new))
            if ended and not M("skip-zero-entries"):
                break
        full = not ended and want == per_area * 16
        if M("last-area-dropped") and not full:
            area_exc = []  # 2014: the partial last area was not kept after reload
        for o, n in area_exc:
            exceptions.append((o, n))
            if n > top:
                top = n
        if not full:
            CURRENT_INDEX[0] = i
            if M("current-area-stays-on-full") and i == 0 and a > 0:
                return exceptions, a - 1, top
            return exceptions, a, top
        if M("no-next-area"):
            return exceptions, a, top
        a += 1  # area full (i == E): the next area must be read


def result(header, state, cs, exceptions, current_area, next_free, dev_bytes):
    total = dev_bytes // SECTOR
    if M("total-whole-chunks"):
        total = dev_bytes // (cs * SECTOR) * cs
    if M("total-rounded-up"):
        total = -(-dev_bytes // SECTOR)
    usage = {"totalSectors": total,
             "allocatedSectors": next_free * cs,
             "metadataSectors": (current_area + (1 if M("metadata-sectors-off-by-one") else 2)) * cs}
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
    when an exception maps c (the first entry wins on duplicates, per docs/format.md), else origin.
    The origin is opened first, then the COW, as the kernel opens the table's devices;
    the chunk size checks come after both (docs/conformance.md, export)."""
    ofd, origin_size = open_sized(origin_path)
    try:
        cfd, cow_size = open_sized(cow_path)
    except BaseException:
        os.close(ofd)
        raise
    try:
        try:
            d = activate(cfd, cow_size, table_cs)
        except OSError as e:
            raise io_problem(e, "read %s" % cow_path)
        except Refusal:
            if not M("export-ignores-refusal"):
                raise
            d = None
        if d is not None and d["state"] == "new" and M("export-refuses-new"):
            raise Refusal("BAD_MAGIC", "a blank COW has no snapshot")
        if d is not None and d["state"] == "invalid" and not M("export-invalid-serves-origin"):
            raise Refusal("SNAPSHOT_INVALID", "the snapshot was invalidated "
                          "(valid = 0): the kernel fails every read of it")
        if d is None or d["state"] == "invalid":
            d = {"chunkSize": 1, "exceptions": []}  # the mutants serve the origin
        try:
            chunk_bytes = d["chunkSize"] * SECTOR
            cow_chunks = cow_size // chunk_bytes
            n_chunks = -(-origin_size // chunk_bytes)
            mapping = {}
            for old, new in d["exceptions"]:
                if old < n_chunks:
                    if M("later-duplicate-wins"):
                        mapping[old] = new
                    else:
                        mapping.setdefault(old, new)  # the first entry wins (docs/format.md)
            for old, new in mapping.items():  # check before writing anything
                # the bytes of the view this chunk serves (the origin's last chunk
                # may be partial) must all lie inside the COW device
                need = min(chunk_bytes, origin_size - old * chunk_bytes)
                if new * chunk_bytes + need > cow_size:
                    raise Refusal("NEW_CHUNK_BEYOND_DEVICE", "origin chunk %d maps to COW chunk %d, "
                                  "past the end of the %d-byte device: the kernel's "
                                  "read of it fails" % (old, new, cow_size))
            for c in range(n_chunks):
                start = c * chunk_bytes
                length = min(chunk_bytes, origin_size - start)
                if M("export-whole-last-chunk"):
                    length = chunk_bytes
                if c in mapping:
                    copy_range(cfd, mapping[c] * chunk_bytes, length, out)
                else:
                    copy_range(ofd, start, min(length, origin_size - start), out)
                    out.write(b"\0" * (length - min(length, origin_size - start)))
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
         "       dmsnap_reader.py export [--chunk-size N] <origin> <cow>\n"
         "       dmsnap_reader.py batch <requests.json> <answers.json>\n")


def main(argv, stdout=None, stderr=None):
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    if argv and argv[0] == "batch" and len(argv) == 3:
        return batch(argv[1], argv[2])
    if not argv or argv[0] not in ("dump", "export"):
        stderr.write(USAGE)
        return 2
    cmd, args, cs_text = argv[0], [], None
    rest = iter(argv[1:])
    for a in rest:
        if a == "--chunk-size":
            cs_text = next(rest, None)
            if cs_text is None:
                stderr.write("--chunk-size needs a value\n" + USAGE)
                return 2
        elif a.startswith("--chunk-size="):
            cs_text = a.split("=", 1)[1]
        elif a.startswith("-") and a != "-":
            stderr.write("unknown option %s\n%s" % (a, USAGE))
            return 2
        else:
            args.append(a)
    if len(args) != (1 if cmd == "dump" else 2):
        stderr.write(USAGE)
        return 2
    table_cs = 0
    TABLE_GIVEN[0] = cs_text is not None
    if cs_text is not None:
        if not re.fullmatch(r"[0-9]+", cs_text):
            stdout.write(error_json("BAD_OPTION", "--chunk-size takes a whole number of "
                                    "512-byte sectors, got %r" % cs_text) + "\n")
            return 2
        table_cs = int(cs_text)
    try:
        if cmd == "dump":
            obj = dump_cow(args[0], table_cs)
            stdout.write(json.dumps(obj, separators=(",", ":")) + "\n")
        else:
            out = stdout.buffer
            export_view(args[0], args[1], out, table_cs)
            out.flush()
        return 0
    except Refusal as r:  # nothing was written to stdout yet (export checks first)
        stdout.write(error_json(r.code, r.message) + "\n")
        return 1
    except IOProblem as p:
        stdout.write(error_json(p.code, p.message) + "\n")
        return 2
    except BrokenPipeError:
        return 2


class Capture(io.TextIOBase):
    """A stdout for one in-process request: text for dump, bytes hashed for export."""

    def __init__(self):
        self.text, self.hash, self.head = [], hashlib.sha256(), bytearray()
        self.buffer = self

    def write(self, x):
        if isinstance(x, str):
            self.text.append(x)
            x = x.encode()
        self.hash.update(x)
        if len(self.head) < 4096:
            self.head += x[:4096 - len(self.head)]
        return len(x)

    def flush(self):
        pass


class Timeout(Exception):
    pass


def on_alarm(signum, frame):
    raise Timeout()


def batch(requests_path, answers_path, seconds=20):
    """The runner's batch protocol (docs/conformance.md, "Batch readers"): every
    request answered in this one process, as the process protocol would."""
    with open(requests_path) as f:
        data = json.load(f)
    answers = []
    signal.signal(signal.SIGALRM, on_alarm)
    for q in data["requests"]:
        argv = [q["op"]]
        if "chunkSize" in q:
            argv += ["--chunk-size", str(q["chunkSize"])]
        argv += [q["origin"], q["cow"]] if q["op"] == "export" else [q["cow"]]
        out, err = Capture(), io.StringIO()
        a = {"id": q["id"], "op": q["op"]}
        signal.alarm(seconds)
        try:
            a["exitCode"] = main(argv, out, err)
        except Timeout:
            a.update(exitCode=None, problem="no answer within %d s" % seconds)
        except Exception as e:  # a crash of the reader is an answer too
            a.update(exitCode=None, problem="crashed: %s: %s" % (type(e).__name__, e))
        finally:
            signal.alarm(0)
        if a["exitCode"] is not None:
            if q["op"] == "dump" or a["exitCode"] != 0:
                text = "".join(out.text) if q["op"] == "dump" else out.head.decode("utf8", "replace")
                try:
                    a["output"] = json.loads(text) if text.strip() else None
                except ValueError:
                    a.update(exitCode=None, problem="stdout is not JSON: %r" % text[:100])
            else:
                a["sha256"] = out.hash.hexdigest()
        answers.append(a)
    with open(answers_path, "w") as f:
        json.dump({"answers": answers}, f)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
