"""Writing case folders under conformance/cases/ (the contract with the case
assembler; see ../README.md "Output contract"). Importing it also puts the
kernel oracle's python modules (kernel/lib: harness, activation, pattern) on
the path: the cases use the oracle, never the other way round."""
import json
import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
CASES = os.path.join(REPO, "conformance", "cases")
sys.path.insert(0, os.path.join(REPO, "kernel", "lib"))
from activation import split_status, activation_of  # noqa: E402,F401  (re-exported for golden.py)


def gz(data: bytes) -> bytes:
    return subprocess.run(["gzip", "-n", "-9", "-c"], input=data, stdout=subprocess.PIPE,
                          check=True).stdout


def gunzip(path: str) -> bytes:
    return subprocess.run(["gzip", "-d", "-c", path], stdout=subprocess.PIPE, check=True).stdout


def write_case(case_id, meta, cow: bytes, origin: bytes = None, extra_files=None):
    d = os.path.join(CASES, case_id)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "cow.img.gz"), "wb") as f:
        f.write(gz(cow))
    if origin is not None:
        with open(os.path.join(d, "origin.img.gz"), "wb") as f:
            f.write(gz(origin))
    elif os.path.exists(os.path.join(d, "origin.img.gz")):
        os.unlink(os.path.join(d, "origin.img.gz"))
    for name, data in (extra_files or {}).items():
        with open(os.path.join(d, name), "wb") as f:
            f.write(gz(data))
    with open(os.path.join(d, "kernel.json"), "w") as f:
        f.write(json.dumps(meta, indent=2) + "\n")
    return d


# The kernel reader's answer, as every kernel.json records it.
KERNEL_ANSWER = ("activation", "status", "statusLine", "kernelTable", "dmesg",
                 "snapshotSha256", "readError", "readDmesg")


def kernel_answer(r):
    """The fields of a kernel reader result that a kernel.json keeps."""
    return {k: r[k] for k in KERNEL_ANSWER}
