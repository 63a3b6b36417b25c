"""Tests for dmsnap_reader.py. Every image is built by hand with `struct`,
following docs/format.md; expected outputs come from the examples in
docs/format.md and docs/dump-json.md. Run: python3 -m pytest -q (or unittest)."""
import json
import os
import struct
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
READER = os.path.join(HERE, "dmsnap_reader.py")
MAGIC = 0x70416E53


def header(valid=1, version=1, cs=8, magic=MAGIC):
    return struct.pack("<4I", magic, valid, version, cs)


def area_loc(a, cs):
    return 1 + (32 * cs + 1) * a


def image(cs, device_chunks, areas, valid=1, version=1, magic=MAGIC, hcs=None):
    """areas: list of lists of (old, new); each area is written at its location."""
    cb = cs * 512
    img = bytearray(device_chunks * cb)
    img[0:16] = header(valid, version, cs if hcs is None else hcs, magic)
    for a, entries in enumerate(areas):
        base = area_loc(a, cs) * cb
        for i, (old, new) in enumerate(entries):
            img[base + 16 * i: base + 16 * i + 16] = struct.pack("<QQ", old, new)
    return bytes(img)


def worked_example():
    """format.md worked example: cs 1, 128 chunks, 34 exceptions in two areas."""
    area0 = [(4096 + i, 2 + i) for i in range(32)]
    area1 = [(4128, 35), (4129, 36)]
    img = bytearray(image(1, 128, [area0, area1]))
    for old, new in area0 + area1:  # data chunks hold "origin N " repeated
        text = ("origin %d " % old).encode()
        img[new * 512:(new + 1) * 512] = (text * 100)[:512]
    return bytes(img)


class ReaderTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()

    def tearDown(self):
        self.tmp.cleanup()

    def file(self, name, data):
        path = os.path.join(self.tmp.name, name)
        with open(path, "wb") as f:
            f.write(data)
        return path

    def run_reader(self, *args):
        return subprocess.run([sys.executable, READER] + list(args),
                              capture_output=True)

    def dump(self, data, *opts, code=0):
        p = self.run_reader("dump", *opts, self.file("cow.img", data))
        self.assertEqual(p.returncode, code, p.stdout + p.stderr)
        self.assertEqual(p.stdout.count(b"\n"), 1)
        return json.loads(p.stdout)

    def refused(self, data, *opts):
        return self.dump(data, *opts, code=1)["error"]["code"]

    # ---- dump: the documented examples, byte for byte -------------------
    def test_worked_example(self):
        expected = ('{"header":{"magic":1883336275,"valid":1,"version":1,"chunkSize":1},'
                    '"state":"valid","chunkSize":1,"exceptionsPerArea":32,"exceptions":['
                    + ",".join("[%d,%d]" % (4096 + i, 2 + i) for i in range(32))
                    + ',[4128,35],[4129,36]],"nextFree":37,"usage":{"totalSectors":128,'
                    '"allocatedSectors":37,"metadataSectors":3},"currentArea":1,'
                    '"deviceBytes":65536,"status":"37/128 3"}\n')
        p = self.run_reader("dump", self.file("w.img", worked_example()))
        self.assertEqual(p.returncode, 0)
        self.assertEqual(p.stdout.decode(), expected)

    def test_small_example(self):
        d = self.dump(image(8, 16, [[(10, 2), (11, 3), (7, 4), (500, 9)]]))
        self.assertEqual(d["exceptions"], [[10, 2], [11, 3], [7, 4], [500, 9]])
        self.assertEqual(d["nextFree"], 10)
        self.assertEqual(d["usage"], {"totalSectors": 128, "allocatedSectors": 80,
                                      "metadataSectors": 16})
        self.assertEqual(d["status"], "80/128 16")

    def test_invalid_header(self):
        d = self.dump(image(8, 16, [[(10, 2), (11, 3)]], valid=0))
        self.assertEqual((d["state"], d["exceptions"], d["nextFree"], d["status"]),
                         ("invalid", [], 2, "Invalid"))
        self.assertEqual(d["usage"], {"totalSectors": 128, "allocatedSectors": 16,
                                      "metadataSectors": 16})
        self.assertEqual(d["header"]["valid"], 0)

    def test_blank(self):
        d = self.dump(bytes(65536))
        self.assertEqual((d["state"], d["chunkSize"], d["exceptionsPerArea"]),
                         ("new", 32, 1024))
        self.assertEqual(d["header"], {"magic": 0, "valid": 0, "version": 0,
                                       "chunkSize": 0})
        self.assertEqual(d["status"], "64/128 64")
        self.assertEqual(self.dump(bytes(65536), "--chunk-size", "16")["status"],
                         "32/128 32")
        self.assertEqual(self.refused(bytes(65536), "--chunk-size", "3"),
                         "INVALID_CHUNK_SIZE")
        self.assertEqual(self.refused(bytes(32 * 512 + 511)), "TRUNCATED")
        # the blank header's other words are reported as stored
        self.assertEqual(self.dump(struct.pack("<4I", 0, 7, 8, 9) + bytes(65520))
                         ["header"]["chunkSize"], 9)

    def test_bad_option(self):
        self.assertEqual(self.dump(bytes(65536), "--chunk-size", "x", code=2)
                         ["error"]["code"], "BAD_OPTION")

    def test_chunk_size_grammar(self):
        # dump-json.md, "--chunk-size": digits only; leading zeros; the last one wins
        for bad in ("-8", "8.0", "", "0x8", " 8"):
            self.assertEqual(self.dump(bytes(65536), "--chunk-size", bad, code=2)
                             ["error"]["code"], "BAD_OPTION", bad)
        self.assertEqual(self.dump(bytes(65536), "--chunk-size=008")["chunkSize"], 8)
        self.assertEqual(self.dump(bytes(65536), "--chunk-size", "3", "--chunk-size", "16")["chunkSize"], 16)
        # too large to be a chunk size: the chunk size check, not a usage error
        self.assertEqual(self.refused(bytes(65536), "--chunk-size", "9999999999"), "INVALID_CHUNK_SIZE")

    def test_bad_option_before_io_error(self):
        p = self.run_reader("dump", "--chunk-size", "x", os.path.join(self.tmp.name, "missing"))
        self.assertEqual((p.returncode, json.loads(p.stdout)["error"]["code"]), (2, "BAD_OPTION"))
        p = self.run_reader("dump", os.path.join(self.tmp.name, "missing"))
        self.assertEqual((p.returncode, json.loads(p.stdout)["error"]["code"]), (2, "IO_ENOENT"))

    def test_table_chunk_size_for_an_existing_cow(self):
        good = image(8, 16, [[(10, 2)]])
        # checked before the device is read, even a 16-byte one (format.md step 1)
        self.assertEqual(self.refused(good, "--chunk-size", "3"), "INVALID_CHUNK_SIZE")
        self.assertEqual(self.refused(good[:16], "--chunk-size", "3"), "INVALID_CHUNK_SIZE")
        self.assertEqual(self.refused(good[:16], "--chunk-size", "1"), "TRUNCATED")
        # the header is read as one table chunk: 16 chunks of 4 KiB < one 128 KiB chunk
        self.assertEqual(self.refused(good, "--chunk-size", "256"), "TRUNCATED")
        # a smaller table chunk size: the header's wins
        self.assertEqual(self.dump(good, "--chunk-size", "2")["chunkSize"], 8)

    # ---- refusals, and their order ---------------------------------------
    def test_refusals(self):
        good = image(8, 16, [[(10, 2)]])
        self.assertEqual(self.refused(image(8, 16, [], magic=0x12345678)), "BAD_MAGIC")
        self.assertEqual(self.refused(image(8, 16, [[(10, 2)]], hcs=0)),
                         "INVALID_CHUNK_SIZE")
        self.assertEqual(self.refused(image(8, 16, [], hcs=12)), "INVALID_CHUNK_SIZE")
        self.assertEqual(self.refused(image(8, 16, [], version=2)),
                         "UNSUPPORTED_VERSION")
        # chunk size is checked before the version; magic before both
        self.assertEqual(self.refused(image(8, 16, [], version=2, hcs=0)),
                         "INVALID_CHUNK_SIZE")
        self.assertEqual(self.refused(image(8, 16, [], magic=1, hcs=0)), "BAD_MAGIC")
        self.assertEqual(self.refused(good[:511]), "TRUNCATED")
        self.assertEqual(self.refused(b""), "TRUNCATED")
        # valid header, but area 0 (chunk 1) not wholly inside the device
        self.assertEqual(self.refused(good[:2 * 4096 - 1]), "TRUNCATED")

    def test_truncated_after_full_area(self):
        """dump-json.md trunc.img: area 0 full, cut to 34 chunks."""
        self.assertEqual(self.refused(worked_example()[:34 * 512]), "TRUNCATED")
        self.assertEqual(self.dump(worked_example()[:35 * 512])["nextFree"], 37)

    def test_chunk_number_too_large(self):
        big = 1 << 53
        self.assertEqual(self.refused(image(8, 16, [[(1, 2), (big, 3)]])),
                         "CHUNK_NUMBER_TOO_LARGE")
        self.assertEqual(self.refused(image(8, 16, [[(1, big)]])),
                         "CHUNK_NUMBER_TOO_LARGE")
        # below 2^53 it is loaded; after the terminator it is never read
        d = self.dump(image(8, 16, [[(big - 1, 3), (0, 0), (big, big)]]))
        self.assertEqual(d["exceptions"], [[big - 1, 3]])
        self.assertEqual(d["nextFree"], 4)

    # ---- what a reader must not do ---------------------------------------
    def test_no_extra_checks(self):
        d = self.dump(image(1, 40, [[(5, 2), (5, 2), (7, 1000), (9, 34)]],
                            valid=0xFFFFFFFF))
        self.assertEqual(d["state"], "valid")
        self.assertEqual(d["header"]["valid"], 0xFFFFFFFF)
        self.assertEqual(d["exceptions"], [[5, 2], [5, 2], [7, 1000], [9, 34]])
        self.assertEqual(d["nextFree"], 1001)
        # stale bytes after the terminator and header padding are ignored
        img = bytearray(image(1, 40, [[(5, 2), (0, 0), (6, 3)]]))
        img[100] = 0xAA
        self.assertEqual(self.dump(bytes(img))["exceptions"], [[5, 2]])

    def test_next_free_skips_metadata(self):
        d = self.dump(image(1, 40, [[(0, 33)]]))  # 34 is area 1
        self.assertEqual((d["nextFree"], d["currentArea"]), (35, 0))

    def test_list_ends_at_area_boundary(self):
        img = image(1, 40, [[(i, 2 + i) for i in range(32)]])
        d = self.dump(img)
        self.assertEqual((d["currentArea"], d["nextFree"], len(d["exceptions"])),
                         (1, 35, 32))
        self.assertEqual(d["usage"]["metadataSectors"], 3)

    def test_missing_file(self):
        p = self.run_reader("dump", os.path.join(self.tmp.name, "nope.img"))
        self.assertEqual(p.returncode, 2)
        self.assertEqual(json.loads(p.stdout)["error"]["code"], "IO_ENOENT")
        self.assertEqual(self.run_reader("dump").returncode, 2)

    # ---- export ----------------------------------------------------------
    def export(self, origin, cow, code=0):
        p = self.run_reader("export", self.file("origin.img", origin),
                            self.file("cow.img", cow))
        self.assertEqual(p.returncode, code, p.stderr)
        return p

    def test_export_worked_example(self):
        origin = bytes((i * 7) % 251 for i in range(4200 * 512 + 100))
        out = self.export(origin, worked_example()).stdout
        self.assertEqual(len(out), len(origin))
        expected = bytearray(origin)
        for c in range(4096, 4130):
            expected[c * 512:(c + 1) * 512] = (("origin %d " % c).encode() * 100)[:512]
        self.assertEqual(out, bytes(expected))

    def test_export_partial_last_chunk_and_duplicates(self):
        cs = 8
        cow = bytearray(image(cs, 16, [[(1, 2), (1, 3), (2, 4)]]))
        for n in (2, 3, 4):
            cow[n * 4096:(n + 1) * 4096] = bytes([n]) * 4096
        origin = b"\xee" * (2 * 4096 + 1000)  # chunk 2 is partial
        out = self.export(origin, bytes(cow)).stdout
        # origin chunk 1 is mapped twice: the first entry (COW chunk 2) wins
        self.assertEqual(out, b"\xee" * 4096 + b"\x02" * 4096 + b"\x04" * 1000)

    def test_export_errors(self):
        # refusals: one error object on stdout, nothing else (docs/conformance.md, export)
        p = self.export(bytes(4096), image(8, 16, [[(0, 2)]], valid=0), code=1)
        self.assertEqual(json.loads(p.stdout)["error"]["code"], "SNAPSHOT_INVALID")
        p = self.export(bytes(4096), image(8, 16, [], magic=5), code=1)
        self.assertEqual(json.loads(p.stdout)["error"]["code"], "BAD_MAGIC")
        p = self.export(bytes(4096), image(8, 16, [[(0, 99)]]), code=1)
        self.assertEqual(json.loads(p.stdout)["error"]["code"], "NEW_CHUNK_BEYOND_DEVICE")
        # a partial trailing COW chunk (16 whole chunks + 1000 bytes): it serves the
        # origin's last chunk when the visible part (1000 bytes) fits, else no view
        cow = bytearray(image(8, 16, [[(1, 16)]])) + b"\x07" * 1000
        self.assertEqual(self.export(b"\xee" * (4096 + 1000), bytes(cow)).stdout, b"\xee" * 4096 + b"\x07" * 1000)
        p = self.export(b"\xee" * (4096 + 1001), bytes(cow), code=1)
        self.assertEqual(json.loads(p.stdout)["error"]["code"], "NEW_CHUNK_BEYOND_DEVICE")
        # both missing: the origin is opened first (IO_ENOENT names it), before the chunk size check
        r = subprocess.run([sys.executable, READER, "export", "/nonexistent-origin", "/nonexistent-cow", "--chunk-size", "3"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 2)
        self.assertEqual(json.loads(r.stdout)["error"]["code"], "IO_ENOENT")
        self.assertIn("nonexistent-origin", json.loads(r.stdout)["error"]["message"])
        # a blank COW: the snapshot view is the origin
        self.assertEqual(self.export(b"abc" * 5000, bytes(65536)).stdout, b"abc" * 5000)


if __name__ == "__main__":
    unittest.main()
