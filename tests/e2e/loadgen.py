#!/usr/bin/env python3
"""Load generator for `xva serve` on loopback (stdlib only).

  loadgen.py --url URL --password PW --pid PID --archive XVA
             [--transfers N] [--rpc-rate R] [--duration S] [--warmup S]
             [--max-rss-growth MIB] [--max-fd-growth N] [--no-rss-check]

N transfer threads (half exports of VMs imported first, half imports
of ARCHIVE each followed by VM.destroy of the new VM) and RPC calls at
R per second (VM.get_all_records, VM.get_record, task.get_all,
pool.get_all_records, host.get_all_records, SR.get_all, event.inject
and VM.get_power_state in turn), for S seconds, after a warm-up: bursts
of concurrent calls that fill the server's bounded caches (the pool of
database connections, the event ring), then the same load.  The server's open file descriptors (/proc/PID/fd) and VmRSS are
read when it is idle after the warm-up and again after the run.

Prints the figures: requests, failures, RPC latency p50 / p99 / max and
the rate reached, transfers and bytes, fd and RSS at start and end.
Exit 0 when no request failed, the fd count did not grow by more than
--max-fd-growth (default 4) and the RSS by no more than
--max-rss-growth MiB (default 20; not checked with --no-rss-check).
Every loop is bounded by --duration; nothing goes to another host.
"""

import argparse
import http.client
import json
import os
import queue
import sys
import threading
import time
import urllib.parse

TASKS_KEPT = 1000       # completed tasks the server keeps (srv-priv.h)


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.lat = []
        self.rpc = 0
        self.exports = 0
        self.imports = 0
        self.bytes = 0
        self.failures = []

    def fail(self, what):
        with self.lock:
            self.failures.append(what)
            if len(self.failures) <= 10:
                print('failure: %s' % what, file=sys.stderr)


class Client:
    def __init__(self, url):
        u = urllib.parse.urlsplit(url)
        self.host, self.port = u.hostname, u.port
        self.conn = None

    def _conn(self, fresh=False):
        if fresh or self.conn is None:
            if self.conn is not None:
                self.conn.close()
            self.conn = http.client.HTTPConnection(self.host, self.port,
                                                   timeout=120)
        return self.conn

    def rpc(self, method, *params):
        body = json.dumps({'jsonrpc': '2.0', 'method': method,
                           'params': list(params), 'id': 0})
        for attempt in (0, 1):
            c = self._conn(fresh=attempt > 0)
            try:
                c.request('POST', '/jsonrpc', body,
                          {'Content-Type': 'application/json'})
                r = c.getresponse()
                data = r.read()
                break
            except (http.client.RemoteDisconnected, BrokenPipeError,
                    ConnectionResetError):
                # A kept-alive connection the server closed (idle): one
                # retry on a fresh one, as any client does.
                if attempt:
                    raise
        if r.status != 200:
            raise RuntimeError('%s: HTTP %d' % (method, r.status))
        j = json.loads(data)
        if 'error' in j:
            raise RuntimeError('%s: %s' % (method, j['error']))
        return j['result']

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def proc_fds(pid):
    return len(os.listdir('/proc/%d/fd' % pid))


def proc_rss_kb(pid):
    with open('/proc/%d/status' % pid) as f:
        for line in f:
            if line.startswith('VmRSS:'):
                return int(line.split()[1])
    return -1


def export_once(url, sid, vm, st):
    u = urllib.parse.urlsplit(url)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=120)
    try:
        c.request('GET', '/export?session_id=%s&ref=%s' % (sid, vm))
        r = c.getresponse()
        if r.status != 200:
            r.read()
            raise RuntimeError('export: HTTP %d' % r.status)
        n = 0
        tail = b''
        while True:
            b = r.read(1 << 16)
            if not b:
                break
            n += len(b)
            tail = (tail + b)[-1024:]
        # A complete archive ends with the two zero blocks of tar.
        if n < 1024 or tail != b'\0' * 1024:
            raise RuntimeError('export: %d bytes, no end marker' % n)
        with st.lock:
            st.exports += 1
            st.bytes += n
    finally:
        c.close()


def import_once(url, sid, body, cl, st):
    u = urllib.parse.urlsplit(url)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=120)
    try:
        c.request('PUT', '/import?session_id=%s' % sid, body,
                  {'Content-Length': str(len(body))})
        r = c.getresponse()
        r.read()
        task = r.getheader('task-id')
        if r.status != 200 or not task:
            raise RuntimeError('import: HTTP %d' % r.status)
    finally:
        c.close()
    if cl.rpc('task.get_status', sid, task) != 'success':
        raise RuntimeError('import: task %s' % cl.rpc('task.get_status', sid,
                                                      task))
    res = cl.rpc('task.get_result', sid, task)
    start = res.find('OpaqueRef:')
    vm = res[start:res.find('<', start)]
    cl.rpc('VM.destroy', sid, vm)
    cl.rpc('task.destroy', sid, task)
    with st.lock:
        st.imports += 1
        st.bytes += len(body)


def transfer_worker(i, url, sid, vms, body, stop, st):
    cl = Client(url)
    k = 0
    while not stop.is_set():
        try:
            if i % 2 == 0:
                export_once(url, sid, vms[(i // 2 + k) % len(vms)], st)
            else:
                import_once(url, sid, body, cl, st)
        except Exception as e:           # every failure is counted
            st.fail('transfer %d: %s' % (i, e))
            time.sleep(0.2)
        k += 1
    cl.close()


def rpc_worker(url, sid, vms, q, st):
    cl = Client(url)
    n = 0
    while True:
        item = q.get()
        if item is None:
            break
        calls = [('VM.get_all_records', sid),
                 ('VM.get_record', sid, vms[n % len(vms)]),
                 ('task.get_all', sid),
                 ('pool.get_all_records', sid),
                 ('host.get_all_records', sid),
                 ('SR.get_all', sid),
                 ('event.inject', sid, 'VM', vms[n % len(vms)]),
                 ('VM.get_power_state', sid, vms[n % len(vms)])]
        call = calls[n % len(calls)]
        n += 1
        t0 = time.monotonic()
        try:
            cl.rpc(*call)
            dt = time.monotonic() - t0
            with st.lock:
                st.rpc += 1
                st.lat.append(dt)
        except Exception as e:
            st.fail('rpc %s: %s' % (call[0], e))
            cl.close()
    cl.close()


def run_phase(a, sid, vms, body, duration, st):
    stop = threading.Event()
    q = queue.Queue()
    nrpc = max(4, min(32, a.rpc_rate // 20))
    rw = [threading.Thread(target=rpc_worker, args=(a.url, sid, vms, q, st))
          for _ in range(nrpc)]
    tw = [threading.Thread(target=transfer_worker,
                           args=(i, a.url, sid, vms, body, stop, st))
          for i in range(a.transfers)]
    for t in rw + tw:
        t.start()
    t0 = time.monotonic()
    total = int(a.rpc_rate * duration)
    for i in range(total):
        due = t0 + i / a.rpc_rate
        d = due - time.monotonic()
        if d > 0:
            time.sleep(d)
        q.put(due)
    rest = t0 + duration - time.monotonic()
    if rest > 0:
        time.sleep(rest)
    stop.set()
    for _ in rw:
        q.put(None)
    for t in rw + tw:
        t.join(300)
    return time.monotonic() - t0


def prefill(url, sid, vms, st):
    """Brings the server's bounded caches to their steady state, so that
    what grows afterwards is a leak: concurrent reads open every pooled
    database connection, injected events fill the event ring up to its
    bound in bytes, and completed tasks reach the number kept.  SQLite's
    page caches (2 MiB per connection) fill only as the load goes on:
    hence a warm-up of the same load, as long as the run."""
    def burst(k):
        cl = Client(url)
        try:
            for j in range(125):
                if j % 5 == 0:
                    cl.rpc('VM.get_all_records', sid)
                else:
                    cl.rpc('event.inject', sid, 'VM', vms[(k + j) % len(vms)])
        except Exception as e:
            st.fail('prefill: %s' % e)
        cl.close()

    def tasks(k):
        cl = Client(url)
        try:
            for j in range(TASKS_KEPT // 16 + 8):
                t = cl.rpc('task.create', sid, 'prefill %d.%d' % (k, j), '')
                cl.rpc('task.set_status', sid, t, 'success')
        except Exception as e:
            st.fail('prefill: %s' % e)
        cl.close()

    for fn in (burst, tasks):
        ts = [threading.Thread(target=fn, args=(k,)) for k in range(16)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(300)


def pct(xs, p):
    if not xs:
        return float('nan')
    xs = sorted(xs)
    k = min(len(xs) - 1, int(round(p / 100.0 * (len(xs) - 1))))
    return xs[k]


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--url', required=True)
    p.add_argument('--password', required=True)
    p.add_argument('--pid', type=int, required=True)
    p.add_argument('--archive', required=True)
    p.add_argument('--transfers', type=int, default=10)
    p.add_argument('--rpc-rate', type=int, default=200)
    p.add_argument('--duration', type=float, default=10)
    p.add_argument('--warmup', type=float, default=None,
                   help='seconds of warm-up load (default: as long as '
                   'the run, 60 at most: SQLite\'s page caches fill '
                   'slowly)')
    p.add_argument('--max-rss-growth', type=float, default=20)
    p.add_argument('--max-fd-growth', type=int, default=4)
    p.add_argument('--no-rss-check', action='store_true')
    a = p.parse_args()
    if a.warmup is None:
        a.warmup = max(5.0, min(a.duration, 60.0))
    with open(a.archive, 'rb') as f:
        body = f.read()

    cl = Client(a.url)
    sid = cl.rpc('session.login_with_password', 'root', a.password)
    # Two VMs to export, imported first.
    vms = []
    warm = Stats()
    for _ in range(2):
        u = urllib.parse.urlsplit(a.url)
        c = http.client.HTTPConnection(u.hostname, u.port, timeout=120)
        c.request('PUT', '/import?session_id=%s' % sid, body)
        r = c.getresponse()
        r.read()
        task = r.getheader('task-id')
        c.close()
        res = cl.rpc('task.get_result', sid, task)
        s = res.find('OpaqueRef:')
        vms.append(res[s:res.find('<', s)])

    print('load: %d transfers, %d RPC/s, %.0f s (warm-up %.0f s)'
          % (a.transfers, a.rpc_rate, a.duration, a.warmup))
    prefill(a.url, sid, vms, warm)
    run_phase(a, sid, vms, body, a.warmup, warm)
    time.sleep(1.5)
    fd0, rss0 = proc_fds(a.pid), proc_rss_kb(a.pid)

    st = Stats()
    elapsed = run_phase(a, sid, vms, body, a.duration, st)
    time.sleep(1.5)
    fd1, rss1 = proc_fds(a.pid), proc_rss_kb(a.pid)
    cl.rpc('session.logout', sid)
    cl.close()

    nreq = st.rpc + st.exports + st.imports
    print('requests: %d (rpc %d, exports %d, imports %d), failures %d '
          '(warm-up failures %d)' % (nreq, st.rpc, st.exports, st.imports,
                                     len(st.failures), len(warm.failures)))
    print('rpc latency: p50 %.1f ms, p99 %.1f ms, max %.1f ms; '
          '%.0f RPC/s reached' % (pct(st.lat, 50) * 1000,
                                  pct(st.lat, 99) * 1000,
                                  max(st.lat or [0]) * 1000,
                                  st.rpc / elapsed))
    print('transfers: %.1f MiB moved, %.1f MiB/s' % (
        st.bytes / 1048576.0, st.bytes / 1048576.0 / elapsed))
    print('fd: start %d, end %d' % (fd0, fd1))
    print('rss: start %d KiB, end %d KiB (%+.1f MiB)' % (
        rss0, rss1, (rss1 - rss0) / 1024.0))
    bad = 0
    if st.failures or warm.failures:
        print('FAIL: %d failed requests' % (len(st.failures)
                                             + len(warm.failures)))
        bad = 1
    if st.rpc < a.rpc_rate * a.duration * 0.5:
        print('FAIL: only %d RPC calls of %d' % (st.rpc,
                                                 a.rpc_rate * a.duration))
        bad = 1
    if st.exports == 0 or st.imports == 0:
        print('FAIL: no export or no import completed')
        bad = 1
    if fd1 - fd0 > a.max_fd_growth:
        print('FAIL: file descriptors grew from %d to %d' % (fd0, fd1))
        bad = 1
    if not a.no_rss_check and (rss1 - rss0) / 1024.0 > a.max_rss_growth:
        print('FAIL: RSS grew by %.1f MiB (bound %.0f)' % (
            (rss1 - rss0) / 1024.0, a.max_rss_growth))
        bad = 1
    return bad


if __name__ == '__main__':
    sys.exit(main())
