"""Writing case folders under conformance/cases/ (the contract with the case
assembler; see ../README.md "Output contract")."""
import json
import os
import subprocess

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
CASES = os.path.join(REPO, "conformance", "cases")


def gz(data: bytes) -> bytes:
    return subprocess.run(["gzip", "-n", "-9", "-c"], input=data, stdout=subprocess.PIPE,
                          check=True).stdout


def gunzip(path: str) -> bytes:
    return subprocess.run(["gzip", "-d", "-c", path], stdout=subprocess.PIPE, check=True).stdout


def split_status(line):
    """'0 64 snapshot 6/64 2' -> '6/64 2' (the part after the target name)."""
    if line is None:
        return None
    parts = line.split(None, 3)
    if len(parts) >= 3 and parts[2] == "snapshot":
        return parts[3] if len(parts) > 3 else ""
    return line


def activation_of(rec):
    if rec is None or rec.get("create") != "accepted":
        return "refused"
    if split_status(rec.get("statusLine")) == "Invalid":
        return "invalid"
    return "accepted"


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
