#!/usr/bin/env python3
"""A per-entry Python reader, the dump --json comparison a Python author
would write from docs/format.md: reads the header, walks the metadata areas,
unpacks one entry at a time, builds a list and serialises it once with
json.dumps (the C encoder: json.dump to a stream would go through the
pure-Python encoder, ten times slower, the weak baseline of issue #15).
No validation beyond the magic, no streaming. Usage: naive_reader.py COW"""
import json
import struct
import sys


def main(path):
    with open(path, "rb") as f:
        magic, valid, version, chunk_size = struct.unpack("<IIII", f.read(16))
        if magic != 0x70416E53:
            sys.stdout.write(json.dumps({"state": "new"}))
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
        out = json.dumps(
            {
                "header": {"magic": magic, "valid": valid, "version": version, "chunkSize": chunk_size},
                "state": state,
                "chunkSize": chunk_size,
                "exceptions": exceptions if valid else [],
            }
        )
        sys.stdout.write(out)
        sys.stdout.write("\n")


if __name__ == "__main__":
    main(sys.argv[1])
