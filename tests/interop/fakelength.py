#!/usr/bin/env python3
"""An upload the way the xen-api npm client makes one when it does not
know the size: PUT with Content-Length 1125899906842624 (1 PiB), the
bytes, then it waits for the response headers and only then closes.
Standard library only; plain HTTP or TLS.

  fakelength.py URL PATH FILE MODE [CAFILE]

URL is http[s]://HOST:PORT; PATH the request path and query.  MODE:

  hold-end   send FILE but its last 68 KiB (the end of the last disk and
             the archive's end marker), check that no answer comes
             within 1.5 s, send the rest, then expect the answer
  whole      send FILE, then expect the answer
  fail       send FILE (a bad archive), expect the answer; print the
             line "waiting" and wait for a line on stdin before closing
             (the caller checks the task meanwhile)

The answer must come within 20 s: status 200, a task-id header, no
Content-Length (the body ends with the connection) and
"Connection: close".  Prints "task-id: REF" and exits 0, or prints why
and exits 1.
"""

import socket
import ssl
import sys
import time
import urllib.parse

FAKE = 1125899906842624
HOLD = 68 * 1024


def connect(url, cafile):
    u = urllib.parse.urlsplit(url)
    s = socket.create_connection((u.hostname, u.port), timeout=30)
    if u.scheme == 'https':
        ctx = ssl.create_default_context(cafile=cafile)
        s = ctx.wrap_socket(s, server_hostname=u.hostname)
    return s, '%s:%s' % (u.hostname, u.port)


def read_head(s, timeout):
    """The response head (up to the blank line), or None at timeout."""
    s.settimeout(timeout)
    data = b''
    try:
        while b'\r\n\r\n' not in data:
            b = s.recv(4096)
            if not b:
                break
            data += b
    except (socket.timeout, ssl.SSLError, TimeoutError):
        if not data:
            return None
    return data


def main():
    url, path, fname, mode = sys.argv[1:5]
    cafile = sys.argv[5] if len(sys.argv) > 5 else None
    data = open(fname, 'rb').read()
    s, host = connect(url, cafile)
    s.sendall(('PUT %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n'
               'Connection: close\r\n\r\n' % (path, host, FAKE)).encode())
    if mode == 'hold-end':
        s.sendall(data[:-HOLD])
        early = read_head(s, 1.5)
        if early:
            print('an answer before the archive ended: %r' % early[:80])
            return 1
        s.sendall(data[-HOLD:])
    else:
        s.sendall(data)
    head = read_head(s, 20)
    if not head:
        print('no answer within 20 s of the last byte')
        return 1
    lines = head.split(b'\r\n\r\n', 1)[0].decode('latin-1').split('\r\n')
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(':')
        headers[k.strip().lower()] = v.strip()
    if not lines[0].startswith('HTTP/1.1 200 '):
        print('status line %r' % lines[0])
        return 1
    if 'content-length' in headers or 'transfer-encoding' in headers:
        print('the answer has a length: %r' % headers)
        return 1
    if headers.get('connection', '').lower() != 'close':
        print('no Connection: close: %r' % headers)
        return 1
    if not headers.get('task-id', '').startswith('OpaqueRef:'):
        print('no task-id: %r' % headers)
        return 1
    print('task-id: %s' % headers['task-id'])
    if mode == 'fail':
        print('waiting')
        sys.stdout.flush()
        sys.stdin.readline()
    time.sleep(0.2)
    s.close()
    return 0


if __name__ == '__main__':
    sys.exit(main())
