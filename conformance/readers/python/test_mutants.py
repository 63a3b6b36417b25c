"""No dead mutants: each deliberate bug of mutants.json changes what the reader
answers for its witness case (dump output, exit code, or export bytes), compared
with the plain reader. Whether the suite's expectations catch it is measured by
pnpm conformance:mutants; this test only shows the switch does something."""
import gzip
import io
import json
import os
import tempfile
import unittest

import dmsnap_reader as reader

HERE = os.path.dirname(os.path.abspath(__file__))
CASES = os.path.join(HERE, "..", "..", "cases")
MUTANTS = json.load(open(os.path.join(HERE, "mutants.json")))["mutants"]


def unpack(case_dir, name, tmp):
    src = os.path.join(case_dir, name)
    out = os.path.join(tmp, os.path.basename(name).replace(".gz", "") + str(hash(src)))
    with open(out, "wb") as f:
        f.write(gzip.open(src).read() if src.endswith(".gz") else open(src, "rb").read())
    return out


def answers(mutant, case_id, tmp):
    """(exit, stdout) of dump and of export for one case, with `mutant` switched on."""
    d = os.path.join(CASES, case_id)
    c = json.load(open(os.path.join(d, "case.json")))
    cow = unpack(d, c["files"]["cow"], tmp)
    table = ["--chunk-size", str(c["table"]["chunkSize"])]
    runs = [["dump"] + table + [cow]]
    if "origin" in c["files"]:
        runs.append(["export"] + table + [unpack(d, c["files"]["origin"], tmp), cow])
    reader.MUTANT = mutant
    try:
        out = []
        for argv in runs:
            cap = reader.Capture()
            try:
                code = reader.main(argv, cap, io.StringIO())
            except Exception as e:  # a crash is a changed answer too
                code = "crash %s" % type(e).__name__
            out.append((code, cap.hash.hexdigest()))
        return out
    finally:
        reader.MUTANT = ""


class NoDeadMutants(unittest.TestCase):
    def test_every_mutant_changes_its_witness_answer(self):
        self.assertGreaterEqual(len(MUTANTS), 40)
        with tempfile.TemporaryDirectory() as tmp:
            for m in MUTANTS:
                with self.subTest(mutant=m["name"], witness=m["witness"]):
                    plain = answers("", m["witness"], tmp)
                    self.assertNotEqual(answers(m["name"], m["witness"], tmp), plain)

    def test_every_switch_in_the_reader_is_listed(self):
        src = open(os.path.join(HERE, "dmsnap_reader.py")).read()
        import re
        used = set(re.findall(r'\bM\("([A-Za-z0-9-]+)"\)', src))
        self.assertEqual(used, {m["name"] for m in MUTANTS})


if __name__ == "__main__":
    unittest.main()
