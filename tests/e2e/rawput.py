#!/usr/bin/env python3
"""Raw HTTP uploads that curl does not make (stdlib only).

  rawput.py fake-length HOST PORT PATH FILE
      PUT with the xen-api client's fake Content-Length (1 PiB), the
      bytes of FILE, then the connection closed without reading the
      response; prints nothing
  rawput.py fake-length-reset HOST PORT PATH FILE
      the same, but the connection is reset (RST) a moment after the
      last byte instead of closed
  rawput.py probe HOST PORT PATH LENGTH
      PUT with Content-Length LENGTH and no body; prints the status line
      of the response, which must come within 10 s
"""

import socket
import struct
import sys
import time

FAKE = 1125899906842624


def connect(host, port):
    s = socket.create_connection((host, int(port)), timeout=30)
    return s


def fake_length(host, port, path, fname, reset=False):
    s = connect(host, port)
    s.sendall(('PUT %s HTTP/1.1\r\nHost: %s:%s\r\nContent-Length: %d\r\n'
               '\r\n' % (path, host, port, FAKE)).encode())
    with open(fname, 'rb') as f:
        while True:
            b = f.read(1 << 16)
            if not b:
                break
            s.sendall(b)
    if reset:
        time.sleep(1)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                     struct.pack('ii', 1, 0))
    s.close()
    return 0


def probe(host, port, path, length):
    s = connect(host, port)
    s.settimeout(10)
    s.sendall(('PUT %s HTTP/1.1\r\nHost: %s:%s\r\nContent-Length: %s\r\n'
               '\r\n' % (path, host, port, length)).encode())
    data = b''
    while b'\r\n' not in data:
        b = s.recv(4096)
        if not b:
            break
        data += b
    s.close()
    print(data.split(b'\r\n', 1)[0].decode('latin-1'))
    return 0


def main():
    if sys.argv[1] == 'fake-length':
        return fake_length(*sys.argv[2:6])
    if sys.argv[1] == 'fake-length-reset':
        return fake_length(*sys.argv[2:6], reset=True)
    if sys.argv[1] == 'probe':
        return probe(*sys.argv[2:6])
    return 2


if __name__ == '__main__':
    sys.exit(main())
