#!/usr/bin/env python3
"""Measure xva against the machine's own limits.

Every figure is a ratio of two measurements taken in the same run on the
same files: the machine is shared and noisy, so each command runs several
times and the median counts.  Speed ratios are "reference time / xva
time" (1.0: as fast as the reference; higher is faster).  The table goes
to stdout and to bench/results.json.

  bench/run.py XVA_BINARY [--smoke] [--size MiB] [--repeat N] [--work DIR]
"""

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

MIB = 1024 * 1024


TIME = "/usr/bin/time"


def run_once(argv, stdin=None, stdout=None, env=None):
    """Runs argv; returns (seconds, peak RSS in KiB).  The peak comes from
    GNU time: a forked child's own rusage would count the parent's pages
    from before exec."""
    wrap = [TIME, "-f", "XVA-BENCH-RSS %M"] if os.path.exists(TIME) else []
    t0 = time.monotonic()
    with open(os.devnull, "wb") as null:
        p = subprocess.run(wrap + argv, stdin=stdin or subprocess.DEVNULL,
                           stdout=stdout or null, stderr=subprocess.PIPE,
                           env=env)
    dt = time.monotonic() - t0
    err = p.stderr.decode(errors="replace")
    if p.returncode != 0:
        raise RuntimeError("%s failed (%d): %s" % (" ".join(argv),
                                                   p.returncode, err[-500:]))
    rss = 0
    for line in err.splitlines():
        if line.startswith("XVA-BENCH-RSS "):
            rss = int(line.split()[1])
    return dt, rss


def measure(argv, repeat, prepare=None, **kw):
    """Median seconds and max peak RSS of repeat runs."""
    times, rss = [], 0
    for _ in range(repeat):
        if prepare:
            prepare()
        dt, m = run_once(argv, **kw)
        times.append(dt)
        rss = max(rss, m)
    return statistics.median(times), rss


def make_random(path, size):
    with open(path, "wb") as f:
        left = size
        while left:
            n = min(left, 16 * MIB)
            f.write(os.urandom(n))
            left -= n


def make_os_like(path, size):
    """A disk image holding OS-like data: a tar of /usr, cut to size."""
    with open(path, "wb") as f:
        p = subprocess.Popen(["tar", "cf", "-", "--ignore-failed-read",
                              "/usr/lib", "/usr/share", "/usr/bin"],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        left = size
        while left:
            b = p.stdout.read(min(left, 4 * MIB))
            if not b:
                break
            f.write(b)
            left -= len(b)
        p.kill()
        p.wait()
        if left:
            f.truncate(size)


def cached(path):
    """Reads a file once so that every command starts from page cache."""
    with open(path, "rb") as f:
        while f.read(16 * MIB):
            pass


def start_server(xva, work):
    data = os.path.join(work, "srv-data")
    shutil.rmtree(data, ignore_errors=True)
    pw = os.path.join(work, "pw")
    with open(pw, "w") as f:
        f.write("bench-password\n")
    p = subprocess.Popen([xva, "serve", "--data", data, "--listen",
                          "127.0.0.1:0", "--password-file", pw],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                         text=True)
    line = p.stdout.readline().strip()
    if "listening on" not in line:
        p.kill()
        raise RuntimeError("xva serve did not start: %r" % line)
    return p, line.split()[-1]


def rpc(url, method, params):
    body = json.dumps({"jsonrpc": "2.0", "method": method, "params": params,
                       "id": 1})
    r = subprocess.run(["curl", "-sSf", "-H", "Content-Type: application/json",
                        "-d", body, url + "/jsonrpc"], capture_output=True,
                       text=True, check=True)
    return json.loads(r.stdout)["result"]


def http_floor(work, path):
    """Builds and starts bench/httpfloor.c: libmicrohttpd serving a file
    from the page cache, the transport's own limit.  None if it cannot."""
    exe = os.path.join(work, "httpfloor")
    src = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                       "httpfloor.c")
    if subprocess.run(["cc", "-O2", "-o", exe, src, "-lmicrohttpd"],
                      stderr=subprocess.DEVNULL).returncode != 0:
        return None, None
    p = subprocess.Popen([exe, path], stdout=subprocess.PIPE, text=True)
    line = p.stdout.readline().strip()
    if "listening on" not in line:
        p.kill()
        return None, None
    return p, line.split()[-1]


def peak_kib(pid):
    """VmHWM of a running process (KiB), 0 if unknown."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def bench_http(xva, srv, url, disk, arch, out, clean, work, a, row):
    """Item 6, and what bounds it: the transport alone (libmicrohttpd
    to curl from memory) and the disk's durable write speed.  Transfers
    use a session, as XenAPI clients do after one login (Basic
    credentials on every request would time the password KDF too)."""
    pack_t, _ = measure([xva, "pack", "-o", "/dev/null", disk], a.repeat)
    sess = rpc(url, "session.login_with_password",
               ["root", "bench-password"])
    q = "session_id=" + sess
    run_once(["curl", "-sSf", "-T", arch, "-o", "/dev/null",
              url + "/import?" + q])
    vm = rpc(url, "VM.get_all", [sess])[0]
    exp_t, _ = measure(["curl", "-sSf", "-o", "/dev/null",
                        url + "/export?ref=" + vm + "&" + q], a.repeat)
    row("6a", "HTTP export (curl -o /dev/null) / local pack", pack_t, exp_t,
        peak_kib(srv.pid))
    ex_t, _ = measure([xva, "extract", "--sync", "-q", "-C", out, arch],
                      a.repeat, prepare=clean)
    imp_t, _ = measure(["curl", "-sSf", "-T", arch, "-o", "/dev/null",
                        url + "/import?" + q], a.repeat)
    row("6b", "HTTP import (curl -T) / local extract --sync", ex_t, imp_t,
        peak_kib(srv.pid))
    fl, furl = http_floor(work, arch)
    if fl:
        try:
            f_t, _ = measure(["curl", "-sSf", "-o", "/dev/null", furl],
                             a.repeat)
            row("L6a", "limit: libmicrohttpd->curl of the archive / export",
                f_t, exp_t, 0)
        finally:
            fl.kill()
            fl.wait()
    dd = os.path.join(work, "dd.raw")
    d_t, _ = measure(["dd", "if=" + disk, "of=" + dd, "bs=4M",
                      "conv=fsync", "status=none"], a.repeat,
                     prepare=lambda: os.path.exists(dd) and os.unlink(dd))
    os.unlink(dd)
    row("L6b", "limit: dd conv=fsync of the disk / HTTP import", d_t, imp_t,
        0)
    clean()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("xva")
    ap.add_argument("--smoke", action="store_true",
                    help="small files, one run each (for CI)")
    ap.add_argument("--size", type=int, default=1024, help="MiB (1024)")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--work", default=None)
    ap.add_argument("--out", default=os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "results.json"))
    a = ap.parse_args()
    if a.smoke:
        a.size, a.repeat = 32, 1
    xva = os.path.abspath(a.xva)
    size = a.size * MIB
    work = a.work or tempfile.mkdtemp(prefix="xva-bench.")
    os.makedirs(work, exist_ok=True)
    rows = []

    def row(item, what, ref_t, xva_t, rss, kind="speed"):
        ratio = ref_t / xva_t if kind == "speed" else xva_t / ref_t
        rows.append({"item": item, "what": what, "kind": kind,
                     "ratio": round(ratio, 3), "reference_s": round(ref_t, 4),
                     "xva_s": round(xva_t, 4), "peak_rss_mib":
                     round(rss / 1024.0, 1)})
        print("%-3s %-52s %6.2f   (ref %.3fs, xva %.3fs, %.1f MiB)" % (
            item, what, ratio, ref_t, xva_t, rss / 1024.0), flush=True)

    try:
        disk = os.path.join(work, "random.raw")
        make_random(disk, size)
        cached(disk)
        arch = os.path.join(work, "random.xva")
        out = os.path.join(work, "out")

        print("xva bench: %d MiB, median of %d runs, %d cores" % (
            a.size, a.repeat, os.cpu_count()), flush=True)
        cat_t, _ = measure(["cat", disk], a.repeat)
        t, m = measure([xva, "pack", "-o", "/dev/null", disk], a.repeat)
        row("1", "pack (xxhash) / cat of the disk", cat_t, t, m)

        sha_t, _ = measure(["openssl", "sha1", disk], a.repeat)
        t, m = measure([xva, "pack", "--checksum", "sha1", "-o", "/dev/null",
                        disk], a.repeat)
        row("2", "pack --checksum sha1 / openssl sha1", sha_t, t, m)

        run_once([xva, "pack", "-o", arch, disk])
        cached(arch)
        cat_a, _ = measure(["cat", arch], a.repeat)
        t, m = measure([xva, "verify", "-q", arch], a.repeat)
        row("3", "verify / cat of the archive", cat_a, t, m)

        def clean():
            shutil.rmtree(out, ignore_errors=True)
            if os.path.exists(out + ".cp"):
                os.unlink(out + ".cp")
        cp_t, _ = measure(["cp", disk, out + ".cp"], a.repeat, prepare=clean)
        t, m = measure([xva, "extract", "-q", "-C", out, arch], a.repeat,
                       prepare=clean)
        row("4", "extract / cp of the raw disk", cp_t, t, m)
        clean()

        osd = os.path.join(work, "os.raw")
        make_os_like(osd, size)
        cached(osd)
        z_t, _ = measure(["zstd", "-1", "-T1", "-q", "-c", osd], a.repeat)
        t, m = measure([xva, "pack", "--compress", "zstd", "-o", "/dev/null",
                        osd], a.repeat)
        row("5a", "pack --compress zstd / zstd -1 -T1 (OS-like data)",
            z_t, t, m)
        g_t, _ = measure(["gzip", "-1", "-c", osd], max(1, a.repeat // 2))
        t, m = measure([xva, "pack", "--compress", "gzip", "-o", "/dev/null",
                        osd], max(1, a.repeat // 2))
        row("5b", "pack --compress gzip / gzip -1 (OS-like data)", g_t, t, m)
        os.unlink(osd)

        srv = None
        try:
            srv, url = start_server(xva, work)
        except (RuntimeError, OSError) as e:
            print("6   (skipped: %s)" % e)
        if srv:
            try:
                bench_http(xva, srv, url, disk, arch, out, clean, work, a,
                           row)
            finally:
                srv.send_signal(signal.SIGTERM)
                srv.wait(timeout=30)

        dense = os.path.join(work, "dense.raw")
        small = max(size // 4, MIB)
        make_random(dense, small)
        sparse = os.path.join(work, "sparse.raw")
        with open(sparse, "wb") as f:
            f.truncate(64 * size)
            with open(dense, "rb") as d:
                step = (64 * size) // 8
                part = small // 8
                for i in range(8):
                    f.seek(i * step + 12345 * 4096 % step)
                    f.write(d.read(part))
        cached(dense)
        cached(sparse)
        d_t, _ = measure([xva, "pack", "-o", "/dev/null", dense], a.repeat)
        t, m = measure([xva, "pack", "-o", "/dev/null", sparse], a.repeat)
        row("7", "pack of a %d GiB sparse disk holding %d MiB / dense"
            % (64 * size // (1024 * MIB), small // MIB), d_t, t, m,
            kind="time")
        print("8   peak resident memory: %.1f MiB at most" %
              max(r["peak_rss_mib"] for r in rows))
        with open(a.out, "w") as f:
            json.dump({"size_mib": a.size, "repeat": a.repeat,
                       "cores": os.cpu_count(), "rows": rows}, f, indent=1)
        print("written: %s" % a.out)
    finally:
        if not a.work:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
