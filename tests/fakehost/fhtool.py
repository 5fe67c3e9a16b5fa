#!/usr/bin/env python3
"""Helpers of the fakehost-*.sh tests (Python 3 stdlib only).

  fhtool.py rpc URL METHOD [ARG...]
      One XML-RPC call.  An ARG starting with `json:` is decoded as JSON,
      any other is a string.  On success prints the value (a string as
      is, anything else as JSON) and exits 0; on failure prints the
      ErrorDescription joined by spaces and exits 1.
  fhtool.py wait-task URL SESSION TASK [SECONDS]
      Waits until the task is no longer pending; prints its status.
  fhtool.py log LOG EXPR
      Evaluates EXPR with L = the stand-in's log entries (a list of
      dicts), R = the /import and /export* requests, C = the RPC calls;
      prints the value.
  fhtool.py check LOG EXPR
      Exits 0 when EXPR (as for log) is true; else prints the last
      requests to stderr and exits 1.
  fhtool.py corrupt IN OUT
      Copies the archive IN to OUT with one byte of its first disk
      chunk flipped (the tar headers stay valid).
  fhtool.py early200 URL PATH FILE
      PUT FILE to PATH (with its Content-Length) the way a careful
      client does: sends the headers only and requires the complete
      response headers (200 and task-id) within 10 s, before any byte
      of the body; then sends the body and reads until the host closes.
      Prints the task-id.
  fhtool.py fakelen URL PATH FILE
      PUT FILE with the xen-api npm client's fake Content-Length (1 PiB),
      ends its side of the connection after the last byte and reads the
      response until the host closes; prints the task-id.
  fhtool.py expect URL PATH FILE
      Sends the headers of a PUT with `Expect: 100-continue` and prints
      the status line that comes first (a real host: 200, never 100).
"""

import json
import os
import socket
import sys
import time
import urllib.parse
import xmlrpc.client

sys.dont_write_bytecode = True       # nothing written into the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def jsonable(v):
    if isinstance(v, xmlrpc.client.DateTime):
        return v.value
    if isinstance(v, dict):
        return {k: jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [jsonable(x) for x in v]
    return v


def show(v):
    if isinstance(v, str):
        print(v)
    else:
        print(json.dumps(jsonable(v), sort_keys=True))


def call(url, method, args):
    proxy = xmlrpc.client.ServerProxy(url.rstrip('/') + '/')
    fn = proxy
    for part in method.split('.'):
        fn = getattr(fn, part)
    return fn(*args)


def cmd_rpc(url, method, *args):
    conv = [json.loads(a[5:]) if a.startswith('json:') else a for a in args]
    r = call(url, method, conv)
    if r.get('Status') == 'Success':
        show(r.get('Value'))
        return 0
    print(' '.join(str(x) for x in r.get('ErrorDescription', [])))
    return 1


def cmd_wait_task(url, sid, task, seconds='60'):
    end = time.monotonic() + float(seconds)
    while True:
        r = call(url, 'task.get_status', [sid, task])
        if r.get('Status') != 'Success':
            print(' '.join(r.get('ErrorDescription', [])))
            return 1
        if r['Value'] != 'pending' or time.monotonic() > end:
            print(r['Value'])
            return 0
        time.sleep(0.1)


def entries(path):
    out = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line:
                out.append(json.loads(line))
    return out


def env(path):
    L = entries(path)
    R = [e for e in L if e.get('path', '').startswith(('/import',
                                                       '/export'))]
    C = [e for e in L if 'rpc' in e]
    return {'L': L, 'R': R, 'C': C, 'FAKE': 1125899906842624,
            'os': os, 'len': len, 'any': any, 'all': all}


def cmd_log(path, expr):
    show(eval(expr, env(path)))
    return 0


def cmd_check(path, expr):
    e = env(path)
    if eval(expr, e):
        return 0
    print('check failed: %s' % expr, file=sys.stderr)
    for x in e['R'][-4:]:
        print('  ' + json.dumps(x, sort_keys=True), file=sys.stderr)
    return 1


def cmd_corrupt(src, dst):
    with open(src, 'rb') as f:
        data = bytearray(f.read())
    p = 0
    while p + 512 <= len(data):
        name = bytes(data[p:p + 100]).split(b'\0', 1)[0].decode()
        size = int(bytes(data[p + 124:p + 136]).split(b'\0', 1)[0] or b'0', 8)
        if name.startswith('Ref:') and '.' not in name and size > 0:
            data[p + 512 + size // 2] ^= 0x5a
            with open(dst, 'wb') as f:
                f.write(data)
            return 0
        p += 512 + (size + 511) // 512 * 512
    print('no disk chunk in %s' % src, file=sys.stderr)
    return 1


def _connect(url):
    u = urllib.parse.urlsplit(url)
    return socket.create_connection((u.hostname, u.port or 80), timeout=30), \
        '%s:%d' % (u.hostname, u.port or 80)


def _read_headers(s, seconds):
    s.settimeout(seconds)
    buf = b''
    while b'\r\n\r\n' not in buf:
        b = s.recv(4096)
        if not b:
            break
        buf += b
    return buf


def cmd_early200(url, path, fname):
    s, host = _connect(url)
    size = os.path.getsize(fname)
    s.sendall(('PUT %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n\r\n'
               % (path, host, size)).encode())
    try:
        head = _read_headers(s, 10)
    except socket.timeout:
        print('no response headers within 10 s of the request headers',
              file=sys.stderr)
        return 1
    lines = head.split(b'\r\n\r\n', 1)[0].decode('latin-1').split('\r\n')
    if not lines[0].startswith('HTTP/1.1 200'):
        print('first status line: %r' % lines[0], file=sys.stderr)
        return 1
    task = [ln.split(':', 1)[1].strip() for ln in lines[1:]
            if ln.lower().startswith('task-id:')]
    if not task:
        print('no task-id header: %r' % lines, file=sys.stderr)
        return 1
    s.settimeout(60)
    with open(fname, 'rb') as f:
        while True:
            b = f.read(65536)
            if not b:
                break
            s.sendall(b)
    try:
        while s.recv(65536):
            pass
    except OSError:
        pass
    s.close()
    print(task[0])
    return 0


def cmd_fakelen(url, path, fname):
    s, host = _connect(url)
    s.sendall(('PUT %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n\r\n'
               % (path, host, 1125899906842624)).encode())
    with open(fname, 'rb') as f:
        while True:
            b = f.read(65536)
            if not b:
                break
            s.sendall(b)
    s.shutdown(socket.SHUT_WR)
    s.settimeout(60)
    head = b''
    try:
        while True:
            b = s.recv(65536)
            if not b:
                break
            head += b
    except OSError:
        pass
    s.close()
    for ln in head.split(b'\r\n\r\n', 1)[0].decode('latin-1').split('\r\n'):
        if ln.lower().startswith('task-id:'):
            print(ln.split(':', 1)[1].strip())
            return 0
    print('no task-id in %r' % head[:300], file=sys.stderr)
    return 1


def cmd_expect(url, path, fname):
    s, host = _connect(url)
    size = os.path.getsize(fname)
    s.sendall(('PUT %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n'
               'Expect: 100-continue\r\n\r\n' % (path, host, size)).encode())
    try:
        head = _read_headers(s, 10)
    except socket.timeout:
        print('(nothing within 10 s)')
        return 0
    print(head.split(b'\r\n', 1)[0].decode('latin-1'))
    with open(fname, 'rb') as f:
        try:
            s.sendall(f.read())
        except OSError:
            pass
    try:
        s.settimeout(30)
        while s.recv(65536):
            pass
    except OSError:
        pass
    return 0


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    cmd, args = sys.argv[1], sys.argv[2:]
    fn = {'rpc': cmd_rpc, 'wait-task': cmd_wait_task, 'log': cmd_log,
          'check': cmd_check, 'corrupt': cmd_corrupt,
          'early200': cmd_early200, 'fakelen': cmd_fakelen, 'expect': cmd_expect}.get(cmd)
    if fn is None:
        print(__doc__, file=sys.stderr)
        return 2
    return fn(*args)


if __name__ == '__main__':
    sys.exit(main())
