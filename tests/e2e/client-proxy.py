#!/usr/bin/env python3
"""Proxies in front of `xva serve` for the client tests (stdlib only).

  client-proxy.py raw UPSTREAM_PORT [--log FILE] [--rate BYTES_PER_S]
                     [--early-200] [--redirect-put]
      forwards bytes both ways unchanged; logs the head (request line
      and headers) of the first request of each connection to FILE;
      with --rate, sends the server's bytes to the client at most that
      fast (so that a test can kill the server mid-transfer)
      with --early-200, answers every PUT "200 OK" as soon as its head
      is in (as a real host does) and drops the server's own answer;
      with --redirect-put, answers the first PUT "302" to this proxy
      with the same path and query, before reading its body
  client-proxy.py http10 UPSTREAM_PORT [--flip OFFSET] [--cut OFFSET]
      answers GET /export* as a real host does (HTTP/1.0, no length,
      the body ends when the connection closes), flipping the bits of
      the body byte at OFFSET, or ending the body cleanly after OFFSET
      bytes; every other request is passed through

Listens on 127.0.0.1 on a free port, prints "port N" and serves until
killed.  A connection idle for 120 s is dropped.
"""

import http.client
import socket
import socketserver
import struct
import sys
import threading
import time

UP = 0
LOG = None
RATE = 0
FLIP = None
CUT = None
EARLY = False
REDIRECT = False
REDIRECTED = False
MYPORT = 0
LOCK = threading.Lock()


def reset(sock):
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                        struct.pack('ii', 1, 0))
    except OSError:
        pass


class Raw(socketserver.BaseRequestHandler):
    def handle(self):
        global REDIRECTED
        self.request.settimeout(120)
        # The head of the first request, to log it or answer it early.
        first = b''
        try:
            while b'\r\n\r\n' not in first and len(first) < 65536:
                d = self.request.recv(1 << 16)
                if not d:
                    break
                first += d
        except OSError:
            return
        line = first.split(b'\r\n', 1)[0].decode('latin-1')
        is_put = line.startswith('PUT ')
        if is_put and REDIRECT:
            with LOCK:
                go = not REDIRECTED
                REDIRECTED = True
            if go:
                path = line.split(' ')[1]
                self.request.sendall(
                    ('HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:%d%s'
                     '\r\nContent-Length: 0\r\nConnection: close\r\n\r\n'
                     % (MYPORT, path)).encode('latin-1'))
                if LOG is not None:
                    with LOCK, open(LOG, 'ab') as f:
                        f.write(b'REDIRECTED ' + line.encode('latin-1') +
                                b'\r\n\r\n')
                time.sleep(0.5)
                return
        early = is_put and EARLY
        if early:
            self.request.sendall(b'HTTP/1.1 200 OK\r\nConnection: close\r\n'
                                 b'content-type: application/octet-stream'
                                 b'\r\n\r\n')
        try:
            up = socket.create_connection(('127.0.0.1', UP), timeout=120)
        except OSError:
            reset(self.request)
            return

        def client_to_server():
            head = first
            logged = LOG is None
            try:
                if not logged and b'\r\n\r\n' in head:
                    with LOCK, open(LOG, 'ab') as f:
                        f.write(head.split(b'\r\n\r\n')[0] + b'\r\n\r\n')
                    logged = True
                up.sendall(first)
                while True:
                    d = self.request.recv(1 << 16)
                    if not d:
                        break
                    if not logged:
                        head += d
                        if b'\r\n\r\n' in head:
                            with LOCK, open(LOG, 'ab') as f:
                                f.write(head.split(b'\r\n\r\n')[0] +
                                        b'\r\n\r\n')
                            logged = True
                    up.sendall(d)
            except OSError:
                pass
            try:
                up.shutdown(socket.SHUT_WR)
            except OSError:
                pass

        t = threading.Thread(target=client_to_server, daemon=True)
        t.start()
        broken = False
        try:
            while True:
                d = up.recv(1 << 16)
                if not d:
                    break
                if early:
                    continue
                self.request.sendall(d)
                if RATE:
                    time.sleep(len(d) / RATE)
        except OSError:
            broken = True
        if broken:
            reset(self.request)
        t.join(timeout=5)
        up.close()


class Http10(socketserver.StreamRequestHandler):
    timeout = 120

    def handle(self):
        line = self.rfile.readline(65536)
        if not line:
            return
        method, path, _ = line.decode('latin-1').split(' ', 2)
        headers = {}
        while True:
            h = self.rfile.readline(65536).decode('latin-1')
            if h in ('\r\n', '\n', ''):
                break
            k, v = h.split(':', 1)
            headers[k.strip().lower()] = v.strip()
        body = None
        if 'content-length' in headers:
            body = self.rfile.read(int(headers['content-length']))
        fwd = {k: v for k, v in headers.items()
               if k not in ('connection', 'content-length', 'host',
                            'expect', 'transfer-encoding')}
        conn = http.client.HTTPConnection('127.0.0.1', UP, timeout=120)
        conn.request(method, path, body=body, headers=fwd)
        resp = conn.getresponse()
        out = self.wfile
        if (method == 'GET' and path.startswith('/export')
                and resp.status == 200):
            out.write(b'HTTP/1.0 200 OK\r\n')
            for k, v in resp.getheaders():
                if k.lower() not in ('transfer-encoding', 'content-length',
                                     'connection'):
                    out.write(('%s: %s\r\n' % (k, v)).encode('latin-1'))
            out.write(b'Connection: close\r\n\r\n')
            pos = 0
            while True:
                d = resp.read(1 << 16)
                if not d:
                    break
                if FLIP is not None and pos <= FLIP < pos + len(d):
                    d = bytearray(d)
                    d[FLIP - pos] ^= 0xff
                    d = bytes(d)
                if CUT is not None and pos + len(d) >= CUT:
                    out.write(d[:CUT - pos])
                    break
                out.write(d)
                pos += len(d)
            out.flush()
            conn.close()
            return
        data = resp.read()
        out.write(('HTTP/1.1 %d %s\r\n' % (resp.status, resp.reason))
                  .encode('latin-1'))
        for k, v in resp.getheaders():
            if k.lower() not in ('transfer-encoding', 'content-length',
                                 'connection'):
                out.write(('%s: %s\r\n' % (k, v)).encode('latin-1'))
        out.write(('Content-Length: %d\r\nConnection: close\r\n\r\n'
                   % len(data)).encode('latin-1'))
        out.write(data)
        out.flush()
        conn.close()


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


def main():
    global UP, LOG, RATE, FLIP, CUT, EARLY, REDIRECT, MYPORT
    mode = sys.argv[1]
    UP = int(sys.argv[2])
    args = sys.argv[3:]
    flags = {'--early-200', '--redirect-put'}
    while args:
        opt = args.pop(0)
        if opt in flags:
            EARLY = EARLY or opt == '--early-200'
            REDIRECT = REDIRECT or opt == '--redirect-put'
            continue
        val = args.pop(0)
        if opt == '--log':
            LOG = val
        elif opt == '--rate':
            RATE = int(val)
        elif opt == '--flip':
            FLIP = int(val)
        elif opt == '--cut':
            CUT = int(val)
        else:
            sys.exit('unknown option ' + opt)
    handler = Raw if mode == 'raw' else Http10
    srv = Server(('127.0.0.1', 0), handler)
    MYPORT = srv.server_address[1]
    print('port %d' % srv.server_address[1], flush=True)
    srv.serve_forever()


if __name__ == '__main__':
    main()
