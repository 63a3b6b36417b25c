#!/usr/bin/env python3
"""The baseline of the dump --json target (issue #15): the straightforward
reader a reader author writes from docs/format.md. Reads the header, walks
the metadata areas, unpacks one entry at a time, builds a list and dumps it
as JSON to stdout. Deliberately naive: no validation beyond the magic, no
streaming. Usage: naive_reader.py COW"""
import json
import struct
import sys


def main(path):
    with open(path, "rb") as f:
        magic, valid, version, chunk_size = struct.unpack("<IIII", f.read(16))
        if magic != 0x70416E53:
            json.dump({"state": "new"}, sys.stdout)
            return
        chunk_bytes = chunk_size * 512
        per_area = chunk_bytes // 16
        exceptions = []
        area = 0
        while True:
            f.seek((1 + area * (per_area + 1)) * chunk_bytes)
            data = f.read(chunk_bytes)
            if len(data) < chunk_bytes:
                break
            full = True
            for i in range(per_area):
                old, new = struct.unpack_from("<QQ", data, i * 16)
                if new == 0:
                    full = False
                    break
                exceptions.append([old, new])
            if not full:
                break
            area += 1
        state = "valid" if valid else "invalid"
        json.dump(
            {
                "header": {"magic": magic, "valid": valid, "version": version, "chunkSize": chunk_size},
                "state": state,
                "chunkSize": chunk_size,
                "exceptions": exceptions if valid else [],
            },
            sys.stdout,
        )
        sys.stdout.write("\n")


if __name__ == "__main__":
    main(sys.argv[1])
