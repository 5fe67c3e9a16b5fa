#!/usr/bin/env python3
"""Authentication checks of `xva serve` for harden-auth.sh (stdlib only).

  authprobe.py rpc URL PASSWORD
      every RPC method that system.listMethods gives, in JSON-RPC
      (POST /jsonrpc) and in XML-RPC (POST /, /RPC2, /xmlrpc, /export,
      /import and any other path, in turn), called without a session, with a bogus one, with a
      logged-out one, with a session of another form, and with a good
      password in HTTP Basic (which RPC ignores): each must fail, with
      SESSION_INVALID once the parameter count is right, and change
      nothing (tasks, VMs, the default SR).  Prints one line per method.
  authprobe.py http URL PASSWORD VM XVA META
      the HTTP handlers /export, /export_metadata, /import and
      /import_metadata with no credentials, bogus and logged-out
      sessions (query and cookie), a wrong, an empty and an unknown
      user's Basic password: each 401 with WWW-Authenticate and a given
      task failed with SESSION_*; then with good credentials (the
      control).
  authprobe.py timing URL PASSWORD N
      N failed logins one after the other and one good one; prints
      "bad_total=S bad_min=S good=S".

Exit 0 when every check passed; each failure is printed as "FAIL: ...".
"""

import base64
import http.client
import json
import sys
import time
import urllib.parse
import xmlrpc.client

FAILS = []
WANT = {}       # method -> parameter count, as the server said
XML_PATHS = ['/', '/RPC2', '/xmlrpc', '/export', '/import', '/any/path']


def fail(msg):
    FAILS.append(msg)
    print('FAIL: ' + msg)


class Conn:
    def __init__(self, url):
        u = urllib.parse.urlsplit(url)
        self.host, self.port = u.hostname, u.port
        self.url = url

    def request(self, method, path, body=None, headers=None):
        c = http.client.HTTPConnection(self.host, self.port, timeout=60)
        try:
            c.request(method, path, body=body, headers=headers or {})
            r = c.getresponse()
            data = r.read()
            return r.status, dict((k.lower(), v) for k, v in
                                  r.getheaders()), data
        finally:
            c.close()

    def jsonrpc(self, method, params, headers=None):
        body = json.dumps({'jsonrpc': '2.0', 'method': method,
                           'params': params, 'id': 0}).encode()
        h = {'Content-Type': 'application/json'}
        h.update(headers or {})
        st, _, data = self.request('POST', '/jsonrpc', body, h)
        if st != 200:
            return {'transport': st}
        return json.loads(data)

    def xmlrpc(self, method, params, headers=None):
        body = xmlrpc.client.dumps(tuple(params), method).encode()
        h = {'Content-Type': 'text/xml'}
        h.update(headers or {})
        # Every POST path but /jsonrpc is XML-RPC: take them in turn.
        self.nxml = getattr(self, 'nxml', 0) + 1
        path = XML_PATHS[self.nxml % len(XML_PATHS)]
        st, _, data = self.request('POST', path, body, h)
        if st != 200:
            return {'transport': st}
        v = xmlrpc.client.loads(data)[0][0]
        return v

    def call(self, method, *params):
        r = self.jsonrpc(method, list(params))
        if 'error' in r:
            raise RuntimeError('%s: %s' % (method, r['error']))
        return r['result']


def json_error(r):
    """[code, params...] of a JSON-RPC 2.0 reply, or None on success."""
    if 'result' in r and 'error' not in r:
        return None
    e = r.get('error')
    if isinstance(e, dict):
        return [e.get('message')] + list(e.get('data') or [])
    return ['TRANSPORT_%s' % r.get('transport')]


def xml_error(r):
    if isinstance(r, dict) and r.get('Status') == 'Success':
        return None
    if isinstance(r, dict) and 'ErrorDescription' in r:
        return list(r['ErrorDescription'])
    return ['TRANSPORT_%s' % (r.get('transport') if isinstance(r, dict)
                              else r)]


def state(c, sid):
    return (len(c.call('task.get_all', sid)), len(c.call('VM.get_all', sid)),
            c.call('pool.get_default_SR', sid,
                   c.call('pool.get_all', sid)[0]))


def refused(c, form, method, session, extra_headers=None):
    """Calls method with session first and padding up to the count the
    server wants; returns the final error (None if it succeeded)."""
    call = c.jsonrpc if form == 'json' else c.xmlrpc
    err_of = json_error if form == 'json' else xml_error
    params = [] if session is None else [session]
    want = WANT.get(method)
    if want is not None and session is not None and want > 0:
        params = [session] + ['OpaqueRef:NULL'] * (want - 1)
    for _ in range(6):
        r = call(method, params, extra_headers)
        err = err_of(r)
        if err is None or err[0] != 'MESSAGE_PARAMETER_COUNT_MISMATCH':
            return err, len(params)
        want = int(err[2])
        WANT[method] = want
        if want == len(params) or want == 0:
            return err, len(params)
        params = (params + ['OpaqueRef:NULL'] * want)[:want]
        if session is not None:
            params[0] = session
        elif want > 0:
            # No session at all: the first parameter is an empty string.
            params[0] = ''
    return err, len(params)


def rpc(url, pw):
    c = Conn(url)
    methods = c.call('system.listMethods')
    if len(methods) < 40:
        fail('system.listMethods lists only %d methods' % len(methods))
    good = c.call('session.login_with_password', 'root', pw)
    dead = c.call('session.login_with_password', 'root', pw)
    c.call('session.logout', dead)
    before = state(c, good)
    open_ = ('system.listMethods', 'session.login_with_password')
    basic = {'Authorization': 'Basic ' +
             base64.b64encode(('root:' + pw).encode()).decode()}
    sessions = [('none', None), ('empty', ''),
                ('bogus', 'OpaqueRef:00000000-0000-4000-8000-000000000000'),
                ('logged-out', dead), ('not-a-ref', '../../etc/passwd'),
                ('long', 'OpaqueRef:' + 'a' * 5000),
                ('prefix', good[:-1]), ('case', good.upper())]
    checked = 0
    for m in methods:
        if m in open_:
            continue
        for form in ('json', 'xml'):
            for label, s in sessions:
                err, n = refused(c, form, m, s)
                if err is None:
                    fail('%s %s with a %s session succeeded' % (form, m,
                                                                 label))
                elif (s is not None and n > 0
                      and err[0] != 'SESSION_INVALID'):
                    fail('%s %s with a %s session: %s (want '
                         'SESSION_INVALID)' % (form, m, label, err))
            err, _ = refused(c, form, m, 'OpaqueRef:bogus', basic)
            if err is None or err[0] != 'SESSION_INVALID':
                fail('%s %s: Basic credentials stood in for a session: %s'
                     % (form, m, err))
        checked += 1
        print('refused without credentials: %s' % m)
    after = state(c, good)
    if before != after:
        fail('refused calls changed the state: %s -> %s' % (before, after))
    # The control: a good session gets past authentication.
    for m in methods:
        if m in open_ or m == 'session.logout':
            continue
        err, _ = refused(c, 'json', m, good)
        if err is not None and err[0] == 'SESSION_INVALID':
            fail('%s with a good session: %s' % (m, err))
    # The open ones: listMethods needs nothing; a bad login fails.
    for form in ('json', 'xml'):
        call = c.jsonrpc if form == 'json' else c.xmlrpc
        err_of = json_error if form == 'json' else xml_error
        err = err_of(call('session.login_with_password', ['root', pw + 'x']))
        if err is None or err[0] != 'SESSION_AUTHENTICATION_FAILED':
            fail('%s login with a wrong password: %s' % (form, err))
        err = err_of(call('session.login_with_password', ['root']))
        if err is None:
            fail('%s login without a password succeeded' % form)
    print('methods checked: %d of %d' % (checked, len(methods)))
    c.call('session.logout', good)
    return 0


def handlers_check(url, pw, vm, xva, meta):
    c = Conn(url)
    good = c.call('session.login_with_password', 'root', pw)
    dead = c.call('session.login_with_password', 'root', pw)
    c.call('session.logout', dead)
    with open(xva, 'rb') as f:
        xva_body = f.read()
    with open(meta, 'rb') as f:
        meta_body = f.read()

    def basic(user, password):
        return {'Authorization': 'Basic ' + base64.b64encode(
            ('%s:%s' % (user, password)).encode()).decode()}

    handlers = [('GET', '/export?ref=' + vm, None),
                ('GET', '/export_metadata?ref=' + vm, None),
                ('PUT', '/import', xva_body),
                ('PUT', '/import_metadata?dry_run=true', meta_body)]
    creds = [('none', '', {}),
             ('bogus session', 'session_id=OpaqueRef:bogus', {}),
             ('logged-out session', 'session_id=' + dead, {}),
             ('bogus cookie', '', {'Cookie': 'session_id=OpaqueRef:bogus'}),
             ('logged-out cookie', '', {'Cookie': 'session_id=' + dead}),
             ('wrong password', '', basic('root', pw + 'x')),
             ('empty password', '', basic('root', '')),
             ('unknown user', '', basic('nobody', pw)),
             ('bad cookie, good Basic', '',
              dict(basic('root', pw), Cookie='session_id=OpaqueRef:bogus')),
             ('broken Basic', '', {'Authorization': 'Basic !!!!'})]
    vms0 = len(c.call('VM.get_all', good))
    for meth, path, body in handlers:
        for label, q, h in creds:
            task = c.call('task.create', good, 'auth probe', '')
            p = path + ('&' if '?' in path else '?') + 'task_id=' + task
            if q:
                p += '&' + q
            st, hdrs, data = c.request(meth, p, body, h)
            if st != 401:
                fail('%s %s with %s: status %d' % (meth, path, label, st))
            elif 'basic realm="xva"' not in hdrs.get('www-authenticate',
                                                     '').lower():
                fail('%s %s with %s: 401 without WWW-Authenticate' %
                     (meth, path, label))
            if len(data) > 200 or data.startswith(b'ova.xml'):
                fail('%s %s with %s: a body of %d bytes' % (meth, path,
                                                             label,
                                                             len(data)))
            for _ in range(100):
                status = c.call('task.get_status', good, task)
                if status != 'pending':
                    break
                time.sleep(0.05)
            ei = c.call('task.get_error_info', good, task)
            if status != 'failure' or not ei or \
               not ei[0].startswith('SESSION_'):
                fail('%s %s with %s: task %s %s' % (meth, path, label,
                                                    status, ei))
        print('refused without credentials: %s %s' % (meth, path))
    if len(c.call('VM.get_all', good)) != vms0:
        fail('a refused import made a VM')
    # The control: the same with good credentials.
    for meth, path, body in handlers:
        for label, q, h in [('session', 'session_id=' + good, {}),
                            ('cookie', '', {'Cookie': 'session_id=' + good}),
                            ('Basic', '', basic('root', pw))]:
            p = path + ('&' if '?' in path else '?') + q
            st, _, _ = c.request(meth, p, body, h)
            if st != 200:
                fail('%s %s with a good %s: status %d' % (meth, path, label,
                                                          st))
    c.call('session.logout', good)
    return 0


def timing(url, pw, n):
    """n rounds of a failed login then a good one, so that both see the
    same load on the machine; prints the failed logins' total time, the
    median of (failed - good) over the rounds and the slowest good one."""
    c = Conn(url)
    bad, gaps, goods = [], [], []
    for i in range(int(n)):
        user = 'root' if i % 2 == 0 else 'nobody%d' % i
        t0 = time.monotonic()
        r = c.jsonrpc('session.login_with_password', [user, pw + 'x'])
        bad.append(time.monotonic() - t0)
        if json_error(r) is None:
            fail('a bad login succeeded')
        t0 = time.monotonic()
        sid = c.call('session.login_with_password', 'root', pw)
        goods.append(time.monotonic() - t0)
        c.call('session.logout', sid)
        gaps.append(bad[-1] - goods[-1])
    gaps.sort()
    print('bad_total=%.3f gap_median=%.3f good_max=%.3f' % (
        sum(bad), gaps[len(gaps) // 2], max(goods)))
    return 0


def main():
    cmds = {"rpc": rpc, "http": handlers_check, "timing": timing}
    if len(sys.argv) < 2 or sys.argv[1] not in cmds:
        print(__doc__, file=sys.stderr)
        return 2
    cmds[sys.argv[1]](*sys.argv[2:])
    return 1 if FAILS else 0


if __name__ == '__main__':
    sys.exit(main())
