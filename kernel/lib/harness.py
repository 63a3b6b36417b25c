"""Host driver of the dmsnap kernel recipe: run many jobs in ONE QEMU boot.

A job is a dict:
  id            kebab-case id (also the folder name in the guest's /out)
  originSectors size of the origin device in sectors
  origin        bytes of the origin image, or None for the ORIGIN pattern
  cowSectors    size of the COW device in sectors
  cow           bytes of the COW image, or None for all zeros (a new COW)
  steps         list of step dicts (kernel/README.md, "Jobs"):
                {"op": "activate", "mode": "P"|"PO", "chunkSize": n}
                {"op": "write", "to": "origin"|"snap", "sector": s,
                 "sectors": n, "tag": "WR1", "io": sectors-per-write}
                {"op": "record"}
                {"op": "deactivate"}

All origin and COW images are laid out in one sparse raw "data" disk at
64 KiB-aligned offsets; the guest makes dm-linear slices over it (LVM does the
same: its volumes are linear mappings). A second small "io" disk carries a tar
with the generated jobs.sh in and a tar of the text results out.

run_jobs() returns {id: result}; result has the final COW and origin bytes,
the parsed records and the job log. Progress goes to stderr.
"""

import io
import json
import os
import re
import shlex
import subprocess
import sys
import tarfile
import tempfile
import time

from pattern import origin_image, SECTOR

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # kernel/
ROOT = os.path.dirname(HERE)
KERNEL_IDS = ("6.1", "6.12", "6.1+fix", "6.12+fix")
ALIGN = 64 * 1024
IO_DISK_BYTES = 32 * 1024 * 1024
STATS = {"boots": 0, "bootSeconds": 0.0}


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def cache_dir():
    """Where build-initramfs.sh keeps the initramfs of the chosen kernel (the same rule)."""
    return os.path.join(ROOT, ".cache", "kernel", "initramfs", os.environ.get("DMSNAP_INITRAMFS_TAG") or "default")


class UsageError(Exception):
    """A kernel id that names no kernel: the caller prints it and exits 2."""


def kernel_id_problem(kid):
    """None when kid names a kernel of the matrix (or a folder holding one), else what is wrong."""
    if kid in KERNEL_IDS:
        return None
    if os.path.isdir(kid):
        has_vmlinuz = any(n.startswith("vmlinuz") for n in os.listdir(kid))
        mods = os.path.join(kid, "lib", "modules")
        if has_vmlinuz and os.path.isdir(mods) and os.listdir(mods):
            return None
        return "the folder %s holds no vmlinuz* beside lib/modules/<release>/" % kid
    return "no kernel %r" % kid


def use_kernel_option(kid, prog):
    """A command's --kernel ID: use_kernel(kid) when given. Returns None, or
    the exit code 2 after printing the UNKNOWN_KERNEL line as `prog: ...`."""
    if not kid:
        return None
    try:
        use_kernel(kid)
    except UsageError as e:
        print("%s: %s" % (prog, e), file=sys.stderr)
        return 2
    return None


def use_kernel(kid):
    """Boot kernel `kid` from now on in this process and its children: resolve it
    through kernel/kernels.sh (fetching or building what it needs) into the
    DMSNAP_* variables build-initramfs.sh and boot() read. Raises UsageError
    (UNKNOWN_KERNEL) for an id that names no kernel."""
    if kid not in KERNEL_IDS and os.path.isdir(kid):
        kid = os.path.abspath(kid)  # a folder: the same cache tag from any working directory
    problem = kernel_id_problem(kid)
    if problem:
        raise UsageError("UNKNOWN_KERNEL: %s; give 6.1, 6.12, 6.1+fix, 6.12+fix or a folder holding vmlinuz* and lib/modules/<release>/ (kernel/README.md)" % problem)
    out = subprocess.run(["bash", os.path.join(HERE, "kernels.sh"), "env", kid], check=True,
                         stdout=subprocess.PIPE, text=True).stdout
    for line in out.splitlines():
        k, _, v = line.partition("=")
        os.environ[k] = v


def ensure_built():
    subprocess.run(["bash", os.path.join(HERE, "build-initramfs.sh")], check=True,
                   stdout=sys.stderr)
    cache = cache_dir()
    kver = open(os.path.join(cache, "kernel-version")).read().strip()
    return kver, open(os.path.join(cache, "vmlinuz")).read().strip(), os.path.join(cache, "initramfs.cpio.gz")


def write_job_disk(io_path, script):
    """The "io" disk: a tar holding jobs.sh (the guest's script), padded to
    IO_DISK_BYTES so the guest can write its result tar over it."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as t:
        ti = tarfile.TarInfo("jobs.sh")
        ti.size = len(script)
        ti.mode = 0o644
        t.addfile(ti, io.BytesIO(script))
    with open(io_path, "wb") as f:
        f.write(buf.getvalue())
        f.truncate(IO_DISK_BYTES)


def read_job_disk(io_path, res_dir, work):
    """The guest's result tar from the "io" disk, extracted into res_dir;
    raises when the guest did not complete its script."""
    os.makedirs(res_dir, exist_ok=True)
    with tarfile.open(io_path, mode="r:") as t:
        if "./complete" not in t.getnames():
            raise RuntimeError("guest did not complete; see %s/console.log" % work)
        t.extractall(res_dir)


def kernel_identity(res_dir):
    """Which kernel answered, as the guest saw it: uname -r, the matrix id,
    `dmsetup targets` and the dm-snapshot module (origin and sha256)."""
    return {
        "kernel": _read(os.path.join(res_dir, "kernel-version"), "").strip(),
        "kernelId": os.environ.get("DMSNAP_KERNEL_ID") or None,
        "dmTargets": [l for l in (_read(os.path.join(res_dir, "dm-targets")) or "").splitlines() if l.strip()],
        "dmSnapshot": {
            # kernels.sh names the origin; unset, the recipe boots the installed Debian kernel
            "origin": os.environ.get("DMSNAP_MODULE_ORIGIN") or "debian",
            "sha256": (_read(os.path.join(res_dir, "dm-snapshot.sha256")) or "").strip() or None,
        },
    }


def _align(n):
    return (n + ALIGN - 1) // ALIGN * ALIGN


def _step_lines(job):
    out = []
    activated = False
    for st in job["steps"]:
        op = st["op"]
        if op == "activate":
            assert st["mode"] in ("P", "PO"), st
            out.append("activate %s %d" % (st["mode"], int(st["chunkSize"])))
            activated = True
        elif op == "write":
            dev = {"origin": "base", "snap": "snap"}[st["to"]]
            args = [dev, str(st["sector"]), str(st["sectors"]), st.get("tag", "WR")]
            if st.get("io"):
                args.append(str(st["io"]))
            assert re.fullmatch(r"[A-Za-z0-9_-]{1,6}", args[3]), st
            out.append("w " + " ".join(args))
        elif op == "record":
            out.append("record")
        elif op == "deactivate":
            out.append("deactivate")
            activated = False
        else:
            raise ValueError("unknown step %r in job %s" % (st, job["id"]))
    return out


def _read(path, default=None):
    try:
        with open(path, "r", errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return default


def _parse_record(d):
    rec = {"create": (_read(os.path.join(d, "create"), "") or "").strip() or None}
    status_rc = _read(os.path.join(d, "status.rc"))
    rec["statusLine"] = None
    if status_rc is not None and status_rc.strip() == "0":
        rec["statusLine"] = _read(os.path.join(d, "status")).strip()
    rec["statusAfterRead"] = (_read(os.path.join(d, "status-after-read")) or "").strip() or None
    rec["snapTable"] = (_read(os.path.join(d, "snap-table")) or "").strip() or None
    rec["table"] = (_read(os.path.join(d, "table")) or "").strip() or None
    sha_rc = _read(os.path.join(d, "sha.rc"))
    rec["sha256"] = None
    rec["readError"] = None
    if sha_rc is not None:
        if sha_rc.strip() == "0":
            rec["sha256"] = _read(os.path.join(d, "sha")).split()[0]
        else:
            err = (_read(os.path.join(d, "sha.err")) or "").strip()
            dd = (_read(os.path.join(d, "dd.err")) or "").strip()
            rec["readError"] = (err + ("\n" + dd if dd else "")).strip() or "read failed"
    rec["dmesg"] = [l for l in (_read(os.path.join(d, "dmesg")) or "").splitlines() if l.strip()]
    after = [l for l in (_read(os.path.join(d, "dmesg-after-read")) or "").splitlines() if l.strip()]
    rec["readDmesg"] = after[len(rec["dmesg"]):] if after[:len(rec["dmesg"])] == rec["dmesg"] else after
    return rec


def accel_args():
    """TCG by default (CI machines may lack KVM). DMSNAP_ACCEL=kvm asks for KVM
    when /dev/kvm is usable and falls back to TCG otherwise."""
    if os.environ.get("DMSNAP_ACCEL") == "kvm" and os.access("/dev/kvm", os.R_OK | os.W_OK):
        return ["-accel", "kvm", "-accel", "tcg"]
    return ["-accel", "tcg"]


def boot(drives, work, n_jobs, memory_mib=384, timeout=1800):
    """Boots the guest once with the given (image path, serial) virtio disks and
    waits for it to power off. Progress lines go to stderr."""
    kver, vmlinuz, initrd = ensure_built()
    cmd = ["qemu-system-x86_64"] + accel_args() + ["-nographic", "-no-reboot",
           "-m", str(memory_mib), "-smp", "1", "-nic", "none",
           "-kernel", vmlinuz, "-initrd", initrd,
           # no_timer_check: under TCG on a loaded host 6.12 sometimes panics in its IO-APIC timer check
           "-append", "console=ttyS0 quiet loglevel=3 printk.time=0 panic=-1 no_timer_check"]
    for path, serial in drives:
        cmd += ["-drive", "file=%s,format=raw,if=none,id=%s,cache=writeback" % (path, serial),
                "-device", "virtio-blk-pci,drive=%s,serial=%s" % (serial, serial)]
    log("kernel: booting QEMU once for %d job(s) (kernel %s; work dir %s)" % (n_jobs, kver, work))
    t0 = time.monotonic()
    console = open(os.path.join(work, "console.log"), "wb")
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT)
    done_jobs = 0
    try:
        for raw in iter(p.stdout.readline, b""):
            console.write(raw)
            line = raw.decode(errors="replace").rstrip()
            if "[dmsnap]" in line:
                line = line[line.index("[dmsnap]"):]
            if line.startswith("[dmsnap] job "):
                done_jobs += 1
                log("  [%6.1fs] %d/%d %s" % (time.monotonic() - t0, done_jobs, n_jobs, line[13:]))
            elif line.startswith("[dmsnap]") or "Kernel panic" in line or "BUG" in line:
                log("  [%6.1fs] %s" % (time.monotonic() - t0, line))
            if time.monotonic() - t0 > timeout:
                p.kill()
                raise RuntimeError("QEMU run exceeded %ds" % timeout)
        p.wait()
    finally:
        console.close()
        if p.poll() is None:
            p.kill()
    elapsed = time.monotonic() - t0
    STATS["boots"] += 1
    STATS["bootSeconds"] += elapsed
    log("kernel: QEMU exited (rc=%s) after %.1fs" % (p.returncode, elapsed))
    return elapsed


def run_jobs(jobs, keep_dir=None, memory_mib=384, timeout=1800):
    ids = [j["id"] for j in jobs]
    assert len(set(ids)) == len(ids), "duplicate job ids"
    work = keep_dir or tempfile.mkdtemp(prefix="dmsnap-kernel-")
    os.makedirs(work, exist_ok=True)
    data_path = os.path.join(work, "data.img")
    io_path = os.path.join(work, "io.img")

    # --- lay out the data disk
    layout = {}
    pos = ALIGN
    for j in jobs:
        osz = j["originSectors"] * SECTOR
        csz = j["cowSectors"] * SECTOR
        layout[j["id"]] = (pos, osz, pos + _align(osz), csz)
        pos += _align(osz) + _align(csz)
    total = pos + ALIGN
    with open(data_path, "wb") as f:
        f.truncate(total)
        for j in jobs:
            ostart, osz, cstart, csz = layout[j["id"]]
            origin = j.get("origin")
            if origin is None:
                origin = origin_image(j["originSectors"])
            assert len(origin) == osz, (j["id"], len(origin), osz)
            f.seek(ostart)
            f.write(origin)
            cow = j.get("cow")
            if cow is not None:
                assert len(cow) == csz, (j["id"], len(cow), csz)
                f.seek(cstart)
                f.write(cow)

    # --- the job script
    lines = ["# generated by kernel/lib/harness.py"]
    for j in jobs:
        ostart, osz, cstart, csz = layout[j["id"]]
        assert re.fullmatch(r"[a-z0-9][a-z0-9.~-]*", j["id"]), j["id"]
        lines.append("job_begin %s %d %d %d %d" % (j["id"], ostart // SECTOR, osz // SECTOR,
                                                 cstart // SECTOR, csz // SECTOR))
        lines.extend("  " + l for l in _step_lines(j))
        lines.append("job_end")
    script = ("\n".join(lines) + "\n").encode()
    with open(os.path.join(work, "jobs.sh"), "wb") as f:
        f.write(script)
    write_job_disk(io_path, script)

    # --- boot once
    boot([(io_path, "io"), (data_path, "data")], work, len(jobs), memory_mib=memory_mib, timeout=timeout)

    # --- results
    res_dir = os.path.join(work, "out")
    read_job_disk(io_path, res_dir, work)
    identity = kernel_identity(res_dir)
    guest_kver = identity["kernel"]
    results = {}
    with open(data_path, "rb") as f:
        for j in jobs:
            ostart, osz, cstart, csz = layout[j["id"]]
            f.seek(ostart)
            origin = f.read(osz)
            f.seek(cstart)
            cow = f.read(csz)
            jd = os.path.join(res_dir, j["id"])
            recs = []
            k = 1
            while os.path.isdir(os.path.join(jd, "rec%d" % k)):
                recs.append(_parse_record(os.path.join(jd, "rec%d" % k)))
                k += 1
            results[j["id"]] = {
                "id": j["id"], "kernel": guest_kver, "identity": identity, "cow": cow, "origin": origin,
                "records": recs, "log": _read(os.path.join(jd, "log"), ""),
                "dmesgAll": [l for l in (_read(os.path.join(jd, "dmesg-all")) or "").splitlines() if l.strip()],
                "complete": os.path.exists(os.path.join(jd, "done")),
            }
    if keep_dir is None:
        for name in ("data.img", "io.img"):
            os.unlink(os.path.join(work, name))
    return results
