#!/usr/bin/env python3
"""Hostile HTTP clients for the harden-hostile test (stdlib only).

Each prints one line that the test checks; all have time limits.

  hostile.py idle HOST PORT LIMIT
      connects and sends nothing; prints the seconds until the server
      closed the connection, or "open" after LIMIT seconds
  hostile.py slow HOST PORT INTERVAL LIMIT
      sends the headers of a request one byte every INTERVAL seconds;
      prints the seconds until the server cut the connection, or "open"
      after LIMIT seconds
  hostile.py header HOST PORT SIZE
      a GET /export with one header of SIZE bytes; prints the status
      line of the reply, or "closed" when the connection was closed
      without a reply
  hostile.py cap HOST PORT N
      opens N connections that each send half a request line (the server
      holds them), then one more that sends a whole request: prints
      "refused" (closed without a reply) or "queued <status line>" (a
      reply came after the N were closed); then closes all and prints
      "after <status line>" for a new request
  hostile.py pib HOST PORT METHOD PATH MIB
      METHOD PATH with Content-Length 1 PiB and MIB MiB of zeros as the
      body (fewer if the server stops reading); prints the status line,
      or "closed", and the MiB sent
  hostile.py chunked HOST PORT PATH SIZEHEX
      a chunked POST whose first chunk declares SIZEHEX bytes, followed
      by 1 MiB of data and the end of the upload; prints the status
      line or "closed"
  hostile.py method HOST PORT METHOD PATH [METHOD PATH...]
      a bodiless request for each pair; prints "METHOD PATH " and the
      status line or "closed", one a line
  hostile.py flood HOST PORT N
      N connections at once, each a whole request; prints
      "replies=R closed=C errors=E" once all have ended (30 s each at
      most)
"""

import socket
import sys
import threading
import time

PIB = 1125899906842624


def connect(host, port, timeout=30):
    return socket.create_connection((host, int(port)), timeout=timeout)


def status_line(s, limit=30):
    """The first line of the reply, or 'closed'."""
    s.settimeout(limit)
    data = b''
    try:
        while b'\r\n' not in data:
            b = s.recv(4096)
            if not b:
                break
            data += b
    except (ConnectionResetError, BrokenPipeError, socket.timeout):
        pass
    if b'\r\n' not in data:
        return 'closed'
    return data.split(b'\r\n', 1)[0].decode('latin-1')


def closed_after(s, limit):
    """Seconds until s is closed by the peer, or None after limit."""
    t0 = time.monotonic()
    s.settimeout(0.2)
    while time.monotonic() - t0 < limit:
        try:
            b = s.recv(4096)
            if not b:
                return time.monotonic() - t0
        except socket.timeout:
            continue
        except (ConnectionResetError, BrokenPipeError):
            return time.monotonic() - t0
    return None


def idle(host, port, limit):
    s = connect(host, port)
    t = closed_after(s, float(limit))
    print('open' if t is None else '%.1f' % t)
    return 0


def slow(host, port, interval, limit):
    req = ('GET /export?uuid=x HTTP/1.1\r\nHost: %s\r\n' % host).encode()
    req += b'X-Slow: ' + b'a' * 200 + b'\r\n\r\n'
    s = connect(host, port)
    t0 = time.monotonic()
    for i in range(len(req)):
        if time.monotonic() - t0 > float(limit):
            print('open')
            return 0
        try:
            s.send(req[i:i + 1])
        except (ConnectionResetError, BrokenPipeError):
            print('%.1f' % (time.monotonic() - t0))
            return 0
        s.settimeout(float(interval))
        try:
            b = s.recv(4096)
            if not b:
                print('%.1f' % (time.monotonic() - t0))
                return 0
            # A reply before the headers ended: not expected.
            print('reply %s' % b.split(b'\r\n', 1)[0].decode('latin-1'))
            return 0
        except socket.timeout:
            pass
        except (ConnectionResetError, BrokenPipeError):
            print('%.1f' % (time.monotonic() - t0))
            return 0
    print('sent all')
    return 0


def header(host, port, size):
    s = connect(host, port)
    req = ('GET /export?uuid=x HTTP/1.1\r\nHost: %s\r\n' % host).encode()
    req += b'X-Big: ' + b'b' * int(size) + b'\r\n\r\n'
    try:
        s.sendall(req)
    except (ConnectionResetError, BrokenPipeError):
        pass
    print(status_line(s))
    return 0


def request(host, port, path='/export?uuid=x'):
    return ('GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n'
            % (path, host)).encode()


def cap(host, port, n):
    held = []
    for _ in range(int(n)):
        s = connect(host, port)
        s.sendall(b'GET /exp')
        held.append(s)
    time.sleep(0.5)
    extra = connect(host, port)
    try:
        extra.sendall(request(host, port))
    except (ConnectionResetError, BrokenPipeError):
        pass
    # A refused connection is closed at once; a queued one waits for a
    # free slot, which comes when the held ones close.
    extra.settimeout(1.5)
    data = b''
    try:
        data = extra.recv(4096)
    except socket.timeout:
        data = None
    except (ConnectionResetError, BrokenPipeError):
        data = b''
    if data is None:
        for s in held:
            s.close()
        held = []
        print('queued %s' % status_line(extra))
    elif data == b'':
        print('refused')
    else:
        print('served %s' % data.split(b'\r\n', 1)[0].decode('latin-1'))
    extra.close()
    for s in held:
        s.close()
    time.sleep(0.5)
    s = connect(host, port)
    s.sendall(request(host, port))
    print('after %s' % status_line(s))
    return 0


def pib(host, port, method, path, mib):
    s = connect(host, port)
    s.sendall(('%s %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n\r\n'
               % (method, path, host, PIB)).encode())
    zeros = b'\0' * (1 << 20)
    sent = 0
    s.settimeout(10)
    try:
        for _ in range(int(mib)):
            s.sendall(zeros)
            sent += 1
    except (ConnectionResetError, BrokenPipeError, socket.timeout):
        pass
    try:
        s.shutdown(socket.SHUT_WR)
    except OSError:
        pass
    print('%s sent=%d' % (status_line(s), sent))
    return 0


def chunked(host, port, path, sizehex):
    s = connect(host, port)
    s.sendall(('POST %s HTTP/1.1\r\nHost: %s\r\nTransfer-Encoding: chunked'
               '\r\nContent-Type: application/json\r\n\r\n%s\r\n'
               % (path, host, sizehex)).encode())
    try:
        s.sendall(b'{' * (1 << 20))
        s.shutdown(socket.SHUT_WR)
    except (ConnectionResetError, BrokenPipeError):
        pass
    print(status_line(s, 10))
    return 0


def method(host, port, *pairs):
    for i in range(0, len(pairs) - 1, 2):
        meth, path = pairs[i], pairs[i + 1]
        s = connect(host, port)
        s.sendall(('%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close'
                   '\r\n\r\n' % (meth, path, host)).encode())
        print('%s %s %s' % (meth, path, status_line(s)))
        s.close()
    return 0


def flood(host, port, n):
    res = []
    lock = threading.Lock()

    def one():
        try:
            s = connect(host, port)
            try:
                s.sendall(request(host, port))
            except (ConnectionResetError, BrokenPipeError):
                pass
            r = status_line(s)
            s.close()
        except OSError as e:
            r = 'error %s' % e
        with lock:
            res.append(r)

    ts = [threading.Thread(target=one) for _ in range(int(n))]
    for t in ts:
        t.start()
    for t in ts:
        t.join(60)
    replies = sum(1 for r in res if r.startswith('HTTP/'))
    closed = sum(1 for r in res if r == 'closed')
    print('replies=%d closed=%d errors=%d' % (replies, closed,
                                              len(res) - replies - closed))
    return 0


def main():
    cmds = {'idle': idle, 'slow': slow, 'header': header, 'cap': cap,
            'pib': pib, 'chunked': chunked, 'method': method,
            'flood': flood}
    if len(sys.argv) < 2 or sys.argv[1] not in cmds:
        print(__doc__, file=sys.stderr)
        return 2
    return cmds[sys.argv[1]](*sys.argv[2:])


if __name__ == '__main__':
    sys.exit(main())
