"""The host side of the oracle without booting: the job disk, the kernel's
identity as the guest records it, kernel ids (python3 -m unittest discover -s kernel/lib)."""
import io
import os
import tarfile
import tempfile
import unittest
from unittest import mock

import harness


class JobDisk(unittest.TestCase):
    def test_the_guest_finds_jobs_sh_in_a_tar_padded_to_the_io_disk(self):
        with tempfile.TemporaryDirectory() as d:
            p = os.path.join(d, "io.img")
            harness.write_job_disk(p, b"job_begin x\n")
            self.assertEqual(os.path.getsize(p), 32 * 1024 * 1024)
            with tarfile.open(p, mode="r:") as t:
                self.assertEqual(t.getnames(), ["jobs.sh"])
                self.assertEqual(t.extractfile("jobs.sh").read(), b"job_begin x\n")

    def _result_disk(self, d, names):
        p = os.path.join(d, "io.img")
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as t:
            for name, data in names.items():
                ti = tarfile.TarInfo(name)
                ti.size = len(data)
                t.addfile(ti, io.BytesIO(data))
        with open(p, "wb") as f:
            f.write(buf.getvalue())
        return p

    def test_an_unfinished_guest_is_an_error_naming_the_console_log(self):
        with tempfile.TemporaryDirectory() as d:
            p = self._result_disk(d, {"./kernel-version": b"6.1.0-57-amd64\n"})
            with self.assertRaisesRegex(RuntimeError, "guest did not complete; see /w/console.log"):
                harness.read_job_disk(p, os.path.join(d, "out"), "/w")

    def test_identity_is_what_the_guest_wrote(self):
        with tempfile.TemporaryDirectory() as d:
            p = self._result_disk(d, {"./complete": b"done\n", "./kernel-version": b"6.12.118+deb12-amd64\n",
                                      "./dm-targets": b"snapshot-merge   v1.16.0\nsnapshot         v1.16.0\n",
                                      "./dm-snapshot.sha256": b"ab12\n"})
            out = os.path.join(d, "out")
            harness.read_job_disk(p, out, d)
            with mock.patch.dict(os.environ, {"DMSNAP_KERNEL_ID": "6.12+fix", "DMSNAP_MODULE_ORIGIN": "built here"}):
                ident = harness.kernel_identity(out)
            self.assertEqual(ident, {"kernel": "6.12.118+deb12-amd64", "kernelId": "6.12+fix",
                                     "dmTargets": ["snapshot-merge   v1.16.0", "snapshot         v1.16.0"],
                                     "dmSnapshot": {"origin": "built here", "sha256": "ab12"}})


class KernelIds(unittest.TestCase):
    def test_the_matrix_ids_and_nothing_else(self):
        for kid in ("6.1", "6.12", "6.1+fix", "6.12+fix"):
            self.assertIsNone(harness.kernel_id_problem(kid))
        self.assertEqual(harness.kernel_id_problem("nosuch"), "no kernel 'nosuch'")

    def test_use_kernel_refuses_before_running_anything(self):
        with mock.patch.object(harness.subprocess, "run") as run:
            with self.assertRaisesRegex(harness.UsageError, r"^UNKNOWN_KERNEL: no kernel 'nosuch'; give 6\.1, "):
                harness.use_kernel("nosuch")
            run.assert_not_called()


if __name__ == "__main__":
    unittest.main()
