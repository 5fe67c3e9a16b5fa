#!/usr/bin/env python3
"""A stand-in for a real XenServer / XCP-ng host, for testing xva's client.

It behaves as a real host does where that differs from `xva serve`
(http-api.md section 7, xva-format.md sections 3-6):

  * GET /export answers `HTTP/1.0 200 OK`, `Connection: close`, no
    Content-Length and no chunking: the body ends when the connection
    closes.  Task progress is written at most every --progress-interval
    seconds (10 by default); the task succeeds once the body is sent.
  * PUT /import refuses any Transfer-Encoding (403,
    IMPORT_ERROR_CANNOT_HANDLE_CHUNKED on the task), then answers
    `HTTP/1.1 200 OK`, `Connection: close` and `task-id` *before* it
    reads the body; the outcome is known only from the task.  The body
    is read up to its Content-Length (the 1 PiB fake length too: until
    the archive's own end or until the client closes) and checked
    (tar structure, every checksum).  `Expect: 100-continue` is never
    answered with 100.
  * With --member, a second listener is a pool member sharing all state;
    with --redirect, /export and /import on the first listener answer
    302 to the same path and query on the member.
  * XML-RPC on POST / for what the client needs (sessions, VM, SR, VDI,
    VBD, pool, host, task, event); sessions expire after
    --session-idle seconds idle; at most 200 live sessions.

VMs are kept in memory: each is its archive (ova.xml and the disk
entries, decoded), loaded from the ARCHIVE files on the command line or
imported; an export sends the stored archive back (with the VM's current
uuids).  Every request is written as one JSON line to --log, for the
tests to check (headers seen, bytes read, whether the archive ended with
its end marker, the task's outcome; never a password or a body).

Misbehaviour for tests: --cut-export N closes the export body after N
bytes, failing the task (--cut-task failure, the default) or marking it
successful anyway (--cut-task success); --finish-delay S closes the
export connection first and completes the task S seconds later;
--rate B limits transfers to B bytes/s.

Python 3 standard library only (zstd compression runs the `zstd`
command).  Prints `listening on http://127.0.0.1:PORT` (then the
member's) on stdout when ready; --port 0 picks free ports.
"""

import argparse
import base64
import collections
import gzip
import http.cookies
import http.server
import json
import os
import random
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid as uuidmod
import xmlrpc.client

sys.dont_write_bytecode = True       # nothing written into the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import archive  # noqa: E402
from archive import XapiError, Cancelled  # noqa: E402
from xvagen import to_xmlrpc, Date  # noqa: E402
from xapi_methods import dispatch, _by_uuid  # noqa: E402

FAKE_LENGTH = 1125899906842624          # the xen-api npm client's 1 PiB
MAX_SESSIONS = 200
NULL = 'OpaqueRef:NULL'
REF_ID = re.compile(r'Ref:[0-9]+')
EPOCH = '19700101T00:00:00Z'


def new_ref():
    return 'OpaqueRef:' + str(uuidmod.uuid4())


def new_uuid():
    return str(uuidmod.uuid4())


def now_date():
    return xmlrpc.client.DateTime(time.strftime('%Y%m%dT%H:%M:%SZ',
                                                time.gmtime()))


def array_result(refs):
    return ('<value><array><data>%s</data></array></value>'
            % ''.join('<value>%s</value>' % r for r in refs))


# ---------------------------------------------------------------------------
# State shared by both listeners.

class Task:
    def __init__(self, label, desc, host):
        self.ref = new_ref()
        self.uuid = new_uuid()
        self.label = label
        self.desc = desc
        self.status = 'pending'
        self.progress = 0.0
        self.result = ''
        self.error_info = []
        self.created = now_date()
        self.finished = xmlrpc.client.DateTime(EPOCH)
        self.other_config = {}
        self.cancel_requested = False
        self.cancellable = False
        self.host = host
        self.last_progress = 0.0

    def record(self):
        return {
            'uuid': self.uuid, 'name_label': self.label,
            'name_description': self.desc,
            'allowed_operations': (['cancel'] if self.cancellable
                                   and self.status == 'pending' else []),
            'current_operations': ({'x': 'cancel'} if self.cancel_requested
                                   else {}),
            'created': self.created, 'finished': self.finished,
            'status': self.status, 'resident_on': self.host,
            'progress': float(self.progress), 'type': '<none/>',
            'result': self.result, 'error_info': list(self.error_info),
            'other_config': dict(self.other_config), 'subtask_of': NULL,
            'subtasks': [], 'backtrace': '()',
        }


class State:
    def __init__(self, opts):
        self.opts = opts
        self.lock = threading.RLock()
        self.cond = threading.Condition(self.lock)
        self.sessions = collections.OrderedDict()   # ref -> [user, last]
        self.tasks = {}
        self.vms, self.vbds, self.vdis, self.vifs = {}, {}, {}, {}
        self.networks, self.srs = {}, {}
        self.events = []                 # (id, class, ref, operation)
        self.event_id = 0
        self.logins = self.logouts = 0
        self.logf = open(opts.log, 'a', buffering=1) if opts.log else None
        self.loglock = threading.Lock()
        self.host_ref = new_ref()
        self.host_uuid = new_uuid()
        self.member_ref = new_ref()
        self.member_uuid = new_uuid()
        self.pool_ref = new_ref()
        self.pool_uuid = new_uuid()
        self.sr_ref = new_ref()
        self.srs[self.sr_ref] = {
            'uuid': opts.sr_uuid or new_uuid(), 'name_label': 'Local storage',
            'name_description': '', 'content_type': 'user', 'type': 'ext',
            'shared': False, 'other_config': {}, 'sm_config': {}}
        self.iso_ref = new_ref()
        self.srs[self.iso_ref] = {
            'uuid': new_uuid(), 'name_label': 'ISOs',
            'name_description': '', 'content_type': 'iso', 'type': 'iso',
            'shared': True, 'other_config': {}, 'sm_config': {}}
        self.default_sr = NULL if opts.no_default_sr else self.sr_ref

    # -- logging ----------------------------------------------------------
    def log(self, entry):
        if self.logf is None:
            return
        with self.loglock:
            self.logf.write(json.dumps(entry, sort_keys=True) + '\n')

    # -- events -----------------------------------------------------------
    def event(self, cls, ref, op):
        with self.cond:
            self.event_id += 1
            self.events.append((self.event_id, cls, ref, op))
            if len(self.events) > 10000:
                del self.events[:1000]
            self.cond.notify_all()

    # -- sessions ---------------------------------------------------------
    def login(self, user, password):
        if user != self.opts.user or password != self.opts.password:
            raise XapiError('SESSION_AUTHENTICATION_FAILED', user,
                            'Authentication failure')
        ref = new_ref()
        with self.lock:
            self.logins += 1
            self.sessions[ref] = [user, time.monotonic()]
            while len(self.sessions) > MAX_SESSIONS:
                self.sessions.popitem(last=False)       # oldest by last use
        return ref

    def check(self, ref):
        with self.lock:
            s = self.sessions.get(ref)
            now = time.monotonic()
            if s is not None and self.opts.session_idle > 0 and \
                    now - s[1] > self.opts.session_idle:
                del self.sessions[ref]
                s = None
            if s is None:
                raise XapiError('SESSION_INVALID', ref)
            s[1] = now
            self.sessions.move_to_end(ref)

    def logout(self, ref):
        with self.lock:
            if self.sessions.pop(ref, None) is not None:
                self.logouts += 1

    # -- tasks ------------------------------------------------------------
    def task_create(self, label, desc):
        t = Task(label, desc, self.host_ref)
        with self.lock:
            self.tasks[t.ref] = t
            done = [r for r, x in self.tasks.items() if x.status != 'pending']
            for r in done[:max(0, len(done) - 1000)]:
                del self.tasks[r]
        self.event('task', t.ref, 'add')
        return t

    def task(self, ref):
        with self.lock:
            t = self.tasks.get(ref)
        if t is None:
            raise XapiError('HANDLE_INVALID', 'task', ref)
        return t

    def adopt(self, task_id, label):
        """The task named by task_id (progress 0), or a new one."""
        t = None
        if task_id:
            with self.lock:
                t = self.tasks.get(task_id)
        if t is None:
            t = self.task_create(label, '')
        with self.lock:
            t.progress = 0.0
            t.last_progress = time.monotonic()
            t.cancellable = True
        self.event('task', t.ref, 'mod')
        return t

    def progress(self, t, value):
        now = time.monotonic()
        with self.lock:
            if now - t.last_progress < self.opts.progress_interval:
                return
            t.progress = max(0.0, min(1.0, value))
            t.last_progress = now
        self.event('task', t.ref, 'mod')

    def finish(self, t, status, result='', error=None):
        with self.lock:
            if t.status != 'pending':
                return
            t.status = status
            if status == 'success':
                t.progress = 1.0
            t.result = result
            t.error_info = list(error or [])
            t.finished = now_date()
            t.cancellable = False
        self.event('task', t.ref, 'mod')

    def fail(self, t, desc):
        if t is None:
            return
        if desc and desc[0] == 'TASK_CANCELLED':
            self.finish(t, 'cancelled', error=desc)
        else:
            self.finish(t, 'failure', error=desc)

    # -- VMs ----------------------------------------------------------------
    def vm_by_uuid(self, u):
        with self.lock:
            for ref, vm in self.vms.items():
                if vm['uuid'] == u:
                    return ref
        return None

    def add_archive(self, a, sr_ref, keep_vm_uuids, keep_vdi_uuids,
                    metadata=None):
        """Creates the objects of archive a; returns the new VM refs
        (snapshots left out unless there is nothing else).

        metadata: None for a full import, else {ova VDI id: existing VDI
        ref or None (skipped)} for a metadata import."""
        ova = a.ova
        idmap = {}                       # ova id -> new ref
        umap = {}                        # old uuid -> new uuid
        with self.lock:
            for cls in ('VM', 'VBD', 'VIF', 'VDI', 'network', 'SR'):
                for oid, snap in ova.by_class.get(cls, []):
                    idmap[oid] = new_ref()
                    u = str(snap.get('uuid', ''))
                    if cls in ('VM', 'VBD', 'VIF') and not keep_vm_uuids:
                        umap[u] = new_uuid()
                    if cls == 'VDI' and not keep_vdi_uuids \
                            and metadata is None:
                        umap[u] = new_uuid()
            if keep_vm_uuids:
                for oid, snap in ova.vms():
                    old = self.vm_by_uuid(str(snap.get('uuid')))
                    if old is not None:
                        self.destroy_vm(old)
            # SRs map to the target SR, networks by name.
            for oid, snap in ova.by_class.get('SR', []):
                idmap[oid] = sr_ref
            for oid, snap in ova.by_class.get('network', []):
                name = str(snap.get('name_label', ''))
                found = [r for r, n in self.networks.items()
                         if n['name_label'] == name]
                if found:
                    idmap[oid] = found[0]
                else:
                    self.networks[idmap[oid]] = {
                        'uuid': new_uuid(), 'name_label': name,
                        'name_description': '', 'bridge': str(
                            snap.get('bridge', 'xenbr0')),
                        'VIFs': [], 'other_config': {}}
            if metadata is not None:
                for oid, target in metadata.items():
                    idmap[oid] = target or NULL
            text = a.ova_text
            for old, new in umap.items():
                if old:
                    text = text.replace(old.encode(), new.encode())

            def fix(v):
                if isinstance(v, str) and REF_ID.fullmatch(v):
                    return idmap.get(v, NULL)
                if isinstance(v, list):
                    return [x for x in (fix(i) for i in v) if x != NULL]
                if isinstance(v, dict):
                    return {k: fix(x) for k, x in v.items()}
                return v

            def newu(snap):
                u = str(snap.get('uuid', ''))
                return umap.get(u, u)

            if metadata is None:
                for oid, snap in ova.by_class.get('VDI', []):
                    sr = ova.get(snap.get('SR'), 'SR')
                    if sr is not None and str(sr.get('content_type')) == \
                            'iso':
                        idmap[oid] = NULL
                        continue
                    rec = fix(snap)
                    u = newu(snap)
                    rec.update(uuid=u, SR=sr_ref, location=u, VBDs=[],
                               virtual_size=str(snap.get('virtual_size',
                                                         '0')))
                    rec.setdefault('name_label', '')
                    rec.setdefault('type', 'user')
                    self.vdis[idmap[oid]] = rec
            out, snaps = [], []
            for oid, snap in ova.vms():
                ref = idmap[oid]
                rec = fix(snap)
                rec.update(uuid=newu(snap), power_state='Halted',
                           resident_on=NULL, VBDs=[], VIFs=[],
                           current_operations={}, allowed_operations=[
                               'export', 'destroy'])
                if not keep_vm_uuids:
                    rec['mac_seed'] = new_uuid()
                self.vms[ref] = {
                    'uuid': rec['uuid'],
                    'name_label': str(snap.get('name_label', '')),
                    'record': rec, 'ova_text': text,
                    'disk_bytes': a.disk_bytes if metadata is None else None,
                    'vdis': []}
                (snaps if archive.as_bool(snap.get('is_a_snapshot', False))
                 else out).append(ref)
            for oid, snap in ova.by_class.get('VBD', []):
                vm = idmap.get(snap.get('VM'))
                if vm not in self.vms:
                    continue
                vdi = idmap.get(snap.get('VDI'), NULL)
                if vdi not in self.vdis:
                    if str(snap.get('type')) != 'CD':
                        continue           # a disk whose VDI is missing
                    vdi = NULL
                rec = fix(snap)
                rec.update(uuid=newu(snap), VM=vm, VDI=vdi, device='',
                           currently_attached=False,
                           empty=(vdi == NULL))
                self.vbds[idmap[oid]] = rec
                self.vms[vm]['record']['VBDs'].append(idmap[oid])
                if vdi != NULL:
                    self.vdis[vdi]['VBDs'].append(idmap[oid])
                    self.vms[vm]['vdis'].append(vdi)
            for oid, snap in ova.by_class.get('VIF', []):
                vm = idmap.get(snap.get('VM'))
                if vm not in self.vms:
                    continue
                rec = fix(snap)
                mac = str(snap.get('MAC', ''))
                if not keep_vm_uuids or not mac:
                    mac = '02:%02x:%02x:%02x:%02x:%02x' % tuple(
                        random.randrange(256) for _ in range(5))
                rec.update(uuid=newu(snap), VM=vm, MAC=mac,
                           currently_attached=False)
                self.vifs[idmap[oid]] = rec
                self.vms[vm]['record']['VIFs'].append(idmap[oid])
            refs = out or snaps
        for r in refs:
            self.event('VM', r, 'add')
        return refs

    def destroy_vm(self, ref):
        with self.lock:
            vm = self.vms.pop(ref, None)
            if vm is None:
                return False
            for b in vm['record'].get('VBDs', []):
                vbd = self.vbds.pop(b, None)
                if vbd and vbd.get('VDI') in self.vdis:
                    vdi = self.vdis[vbd['VDI']]
                    if b in vdi['VBDs']:
                        vdi['VBDs'].remove(b)
                    if not vdi['VBDs'] and vm['disk_bytes'] is not None:
                        del self.vdis[vbd['VDI']]
            for v in vm['record'].get('VIFs', []):
                self.vifs.pop(v, None)
        self.event('VM', ref, 'del')
        return True


# ---------------------------------------------------------------------------
# HTTP.

class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    server_version = 'xapi/24.19'
    sys_version = ''

    # No 100 Continue, ever: a real host does not implement it.
    def handle_expect_100(self):
        return True

    def log_message(self, fmt, *args):
        if self.server.st.opts.verbose:
            sys.stderr.write('fakehost[%d]: %s\n'
                             % (self.server.server_address[1], fmt % args))

    @property
    def st(self):
        return self.server.st

    # -- helpers ----------------------------------------------------------
    def setup(self):
        super().setup()
        self.connection.settimeout(self.server.st.opts.io_timeout)

    def entry(self):
        hdrs = {}
        for k, v in self.headers.items():
            k = k.lower()
            if k == 'authorization':
                v = v.split(' ', 1)[0] + ' ...'
            if k == 'cookie':
                v = '...'
            hdrs[k] = v
        u = urllib.parse.urlsplit(self.path)
        self._logged = False
        return {'port': self.server.server_address[1],
                'role': self.server.role, 'method': self.command,
                'path': u.path, 'query': u.query, 'headers': hdrs,
                'version': self.request_version, 'time': time.time()}

    def log_once(self, e):
        if not self._logged:
            self._logged = True
            self.st.log(e)

    def complete(self, e, task, status, result='', error=None):
        """Completes the task, the log entry written first (so that a
        test that sees the task done finds the entry)."""
        if task is None:
            return
        e['task_status'] = status
        if error and 'error' not in e:
            e['error'] = error
        self.log_once(e)
        if status == 'success':
            self.st.finish(task, 'success', result)
        else:
            self.st.fail(task, error)

    def raw(self, status_line, headers, body=b''):
        out = [status_line]
        out += ['%s: %s' % kv for kv in headers]
        data = ('\r\n'.join(out) + '\r\n\r\n').encode('latin-1') + body
        self.wfile.write(data)
        self.wfile.flush()

    def error_response(self, code, reason, task, extra=()):
        body = ('<html><body><h1>HTTP %d %s</h1></body></html>'
                % (code, reason)).encode()
        hdrs = [('Connection', 'close'), ('Content-Length', len(body)),
                ('Content-Type', 'text/html')]
        if task is not None:
            hdrs.append(('task-id', task.ref))
        hdrs += list(extra)
        self.raw('HTTP/1.1 %d %s' % (code, reason), hdrs, body)
        self.close_connection = True

    def drain(self, limit=64 << 20, seconds=5.0):
        """Reads and drops what the client still sends (so that closing
        does not reset the connection under its feet)."""
        cl = self.headers.get('Content-Length')
        try:
            left = min(int(cl), limit) if cl is not None else limit
        except ValueError:
            left = limit
        if self.command != 'PUT' or left <= 0:
            return 0
        got = 0
        end = time.monotonic() + seconds
        try:
            self.connection.settimeout(0.5)
            while left > 0 and time.monotonic() < end:
                try:
                    b = self.rfile.read1(min(left, 65536))
                except socket.timeout:
                    continue
                if not b:
                    break
                got += len(b)
                left -= len(b)
        except OSError:
            pass
        return got

    def query(self):
        u = urllib.parse.urlsplit(self.path)
        return u.path.rstrip('/') or '/', u.query, dict(
            urllib.parse.parse_qsl(u.query, keep_blank_values=True))

    def cookie(self, name):
        c = http.cookies.SimpleCookie()
        try:
            c.load(self.headers.get('Cookie', ''))
        except http.cookies.CookieError:
            return None
        return c[name].value if name in c else None

    def auth(self, q):
        """(session, made here); raises XapiError."""
        sid = self.cookie('session_id') or q.get('session_id')
        if sid:
            self.st.check(sid)
            return sid, False
        a = self.headers.get('Authorization', '')
        if a.lower().startswith('basic '):
            try:
                user, _, pw = base64.b64decode(a[6:]).decode().partition(':')
            except (ValueError, UnicodeDecodeError):
                user, pw = '', ''
            return self.st.login(user, pw), True
        raise XapiError('SESSION_AUTHENTICATION_FAILED', '',
                        'no credentials given')

    def task_of(self, q):
        tid = self.cookie('task_id') or q.get('task_id')
        if not tid:
            return None
        with self.st.lock:
            return self.st.tasks.get(tid)

    def redirect(self, e, raw_query, path):
        port = self.server.member_port
        loc = 'http://127.0.0.1:%d%s%s' % (port, path,
                                           '?' + raw_query if raw_query
                                           else '')
        e['status'] = 302
        e['location'] = loc
        self.error_response(302, 'Found', None, [('Location', loc)])
        e['drained'] = self.drain()

    # -- XML-RPC ------------------------------------------------------------
    def do_POST(self):
        e = self.entry()
        try:
            if 'chunked' in self.headers.get('Transfer-Encoding', '').lower():
                body = self._read_chunked()
            else:
                body = self.rfile.read(int(self.headers.get(
                    'Content-Length', '0')))
            try:
                params, method = xmlrpc.client.loads(body,
                                                     use_builtin_types=False)
            except Exception as ex:
                e['status'] = 400
                e['error'] = 'bad XML-RPC: %s' % ex
                self.error_response(400, 'Bad Request', None)
                return
            res = dispatch(self.st, method, list(params))
            e['rpc'] = method
            e['ok'] = res['Status'] == 'Success'
            if not e['ok']:
                e['error'] = res['ErrorDescription']
            with self.st.lock:
                e['live_sessions'] = len(self.st.sessions)
                e['logins'] = self.st.logins
                e['logouts'] = self.st.logouts
            out = xmlrpc.client.dumps((res,), methodresponse=True,
                                      allow_none=False).encode()
            self.raw('HTTP/1.1 200 OK', [('Content-Type', 'text/xml'),
                                         ('Content-Length', len(out)),
                                         ('Connection', 'keep-alive')], out)
            e['status'] = 200
        finally:
            self.log_once(e)

    def _read_chunked(self):
        out = b''
        while True:
            n = int(self.rfile.readline().split(b';')[0].strip() or b'0', 16)
            if n == 0:
                while self.rfile.readline().strip():
                    pass
                return out
            out += self.rfile.read(n)
            self.rfile.readline()

    # -- exports --------------------------------------------------------------
    def do_GET(self):
        path, raw_q, q = self.query()
        e = self.entry()
        self.close_connection = True
        try:
            if path == '/export':
                self.export(e, q, raw_q, metadata=False)
            elif path == '/export_metadata':
                self.export(e, q, raw_q, metadata=True)
            else:
                e['status'] = 404
                self.error_response(404, 'Not Found', None)
        except (BrokenPipeError, ConnectionResetError, socket.timeout) as ex:
            e['error'] = 'connection: %s' % ex
        finally:
            self.log_once(e)

    def export(self, e, q, raw_q, metadata):
        st, opts = self.st, self.st.opts
        task = self.task_of(q)
        try:
            sid, temp = self.auth(q)
        except XapiError as ex:
            e['status'] = 401
            e['error'] = ex.desc
            self.complete(e, task, 'failure', error=ex.desc)
            self.error_response(401, 'Unauthorized', task, [
                ('WWW-Authenticate', 'Basic realm="xapi"')])
            return
        try:
            if not metadata and opts.redirect and self.server.role == \
                    'master':
                self.redirect(e, raw_q, '/export')
                return
            task = st.adopt(q.get('task_id') or self.cookie('task_id'),
                            'VM.export' if not metadata else
                            'VM.export_metadata')
            e['task'] = task.ref
            try:
                body, name = self.export_body(q, metadata)
            except XapiError as ex:
                e['status'] = 404 if ex.desc[0] in (
                    'HANDLE_INVALID', 'UUID_INVALID') else 500
                e['error'] = ex.desc
                self.complete(e, task, 'failure', error=ex.desc)
                self.error_response(e['status'], 'Not Found' if
                                    e['status'] == 404 else 'Error', task)
                return
            hdrs = [('Connection', 'close'),
                    ('Cache-Control', 'no-cache, no-store'),
                    ('task-id', task.ref),
                    ('Server', 'xapi/24.19'),
                    ('content-type', 'application/octet-stream'),
                    ('Content-Disposition',
                     'attachment; filename="export.xva"')]
            if metadata:
                hdrs.append(('Content-Length', len(body)))
            self.raw('HTTP/1.0 200 OK', hdrs)
            e['status'] = 200
            e['body_length'] = len(body)
            self.send_body(e, task, body, cut=None if metadata
                           else opts.cut_export)
        finally:
            if temp:
                st.logout(sid)

    def export_body(self, q, metadata):
        st = self.st
        ref = q.get('ref')
        with st.lock:
            if metadata and q.get('all') == 'true':
                vms = list(st.vms.values())
                return merge_ova(vms), 'all'
            if ref:
                vm = st.vms.get(ref)
                if vm is None:
                    raise XapiError('HANDLE_INVALID', 'VM', ref)
            elif q.get('uuid'):
                r = st.vm_by_uuid(q['uuid'])
                if r is None:
                    raise XapiError('UUID_INVALID', 'VM', q['uuid'])
                vm = st.vms[r]
            else:
                raise XapiError('HANDLE_INVALID', 'VM', NULL)
            if vm['record'].get('power_state') not in ('Halted',
                                                       'Suspended'):
                raise XapiError('VM_BAD_POWER_STATE', ref or q.get('uuid'),
                                'halted', vm['record']['power_state'])
        if metadata:
            return archive.build_tar(vm['ova_text'], b''), vm['name_label']
        if vm['disk_bytes'] is None:
            raise XapiError('VDI_MISSING', 'the disks of this VM were '
                            'imported as metadata only')
        data = archive.build_tar(vm['ova_text'], vm['disk_bytes'])
        how = q.get('use_compression', '')
        if how in ('true', 'gzip'):
            data = gzip.compress(data, 6, mtime=0)
        elif how == 'zstd':
            p = subprocess.run(['zstd', '-q', '-c'], input=data,
                               stdout=subprocess.PIPE)
            if p.returncode != 0:
                raise XapiError('INTERNAL_ERROR', 'zstd failed')
            data = p.stdout
        return data, vm['name_label']

    def send_body(self, e, task, body, cut):
        st, opts = self.st, self.st.opts
        sent = 0
        total = len(body)
        limit = total if cut is None else min(cut, total)
        t0 = time.monotonic()
        try:
            while sent < limit:
                if task.cancel_requested:
                    e['cancelled_at'] = sent
                    self.connection.shutdown(socket.SHUT_RDWR)
                    self.complete(e, task, 'cancelled',
                                  error=['TASK_CANCELLED', task.ref])
                    return
                n = min(65536, limit - sent)
                self.wfile.write(body[sent:sent + n])
                sent += n
                st.progress(task, sent / max(total, 1))
                if opts.rate:
                    ahead = sent / opts.rate - (time.monotonic() - t0)
                    if ahead > 0:
                        time.sleep(ahead)
        except (BrokenPipeError, ConnectionResetError, socket.timeout,
                OSError) as ex:
            e['bytes_out'] = sent
            e['error'] = 'client went away: %s' % ex
            self.complete(e, task, 'failure', error=['CLIENT_ERROR', str(ex)])
            return
        e['bytes_out'] = sent
        if sent < total:
            # Cut short on purpose.
            e['cut'] = sent
            self.log_once(e)
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            if opts.cut_task == 'success':
                self.complete(e, task, 'success')
            else:
                self.complete(e, task, 'failure',
                              error=['VDI_IO_ERROR', 'Device I/O errors'])
            return
        if opts.finish_delay > 0:
            self.log_once(e)
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            threading.Timer(opts.finish_delay, st.finish,
                            (task, 'success')).start()
        else:
            self.complete(e, task, 'success')

    # -- imports --------------------------------------------------------------
    def do_PUT(self):
        path, raw_q, q = self.query()
        e = self.entry()
        self.close_connection = True
        te = self.headers.get('Transfer-Encoding')
        cl = self.headers.get('Content-Length')
        e['chunked'] = te is not None
        e['expect'] = self.headers.get('Expect')
        e['content_length'] = cl
        try:
            if path == '/import':
                self.import_(e, q, raw_q, metadata=False)
            elif path == '/import_metadata':
                self.import_(e, q, raw_q, metadata=True)
            else:
                e['status'] = 404
                self.error_response(404, 'Not Found', None)
                self.drain()
        except (BrokenPipeError, ConnectionResetError, socket.timeout) as ex:
            e['error'] = 'connection: %s' % ex
        finally:
            self.log_once(e)

    def import_(self, e, q, raw_q, metadata):
        st, opts = self.st, self.st.opts
        task = self.task_of(q)
        try:
            sid, temp = self.auth(q)
        except XapiError as ex:
            e['status'] = 401
            e['error'] = ex.desc
            self.complete(e, task, 'failure', error=ex.desc)
            self.error_response(401, 'Unauthorized', task, [
                ('WWW-Authenticate', 'Basic realm="xapi"')])
            self.drain()
            return
        try:
            if not metadata and opts.redirect and self.server.role == \
                    'master':
                self.redirect(e, raw_q, '/import')
                return
            task = st.adopt(q.get('task_id') or self.cookie('task_id'),
                            'VM.import' if not metadata else
                            'VM.import_metadata')
            e['task'] = task.ref
            if not metadata and self.headers.get('Transfer-Encoding'):
                desc = ['IMPORT_ERROR_CANNOT_HANDLE_CHUNKED']
                e['status'] = 403
                e['error'] = desc
                self.complete(e, task, 'failure', error=desc)
                self.error_response(403, 'Forbidden', task)
                e['drained'] = self.drain()
                return
            try:
                sr = self.target_sr(q) if not metadata else st.sr_ref
            except XapiError as ex:
                e['status'] = 404 if ex.desc[0] != \
                    'SR_OPERATION_NOT_SUPPORTED' else 400
                e['error'] = ex.desc
                self.complete(e, task, 'failure', error=ex.desc)
                self.error_response(e['status'], 'Error', task)
                e['drained'] = self.drain()
                return
            self.raw('HTTP/1.1 200 OK', [
                ('Connection', 'close'),
                ('Cache-Control', 'no-cache, no-store'),
                ('task-id', task.ref),
                ('content-type', 'application/octet-stream')])
            e['status'] = 200
            self.receive(e, task, q, sr, metadata)
        finally:
            if temp:
                st.logout(sid)

    def target_sr(self, q):
        st = self.st
        with st.lock:
            if q.get('sr_id'):
                sr = q['sr_id']
                if sr not in st.srs:
                    raise XapiError('HANDLE_INVALID', 'SR', sr)
            elif q.get('sr_uuid'):
                sr = _by_uuid(st.srs, q['sr_uuid'], 'SR')
            else:
                sr = st.default_sr
                if sr == NULL:
                    raise XapiError('DEFAULT_SR_NOT_FOUND', NULL)
            if st.srs[sr]['content_type'] == 'iso':
                raise XapiError('SR_OPERATION_NOT_SUPPORTED', sr)
        return sr

    def receive(self, e, task, q, sr, metadata):
        st, opts = self.st, self.st.opts
        cl = self.headers.get('Content-Length')
        try:
            left = int(cl) if cl is not None else None
        except ValueError:
            left = None
        state = {'left': left, 'in': 0, 't0': time.monotonic()}

        def read_fn(n):
            if state['left'] is not None:
                if state['left'] <= 0:
                    return b''
                n = min(n, state['left'])
            try:
                b = self.rfile.read1(n)
            except socket.timeout:
                raise XapiError('IMPORT_ERROR', 'timed out reading the body')
            except (ConnectionResetError, OSError) as ex:
                raise XapiError('IMPORT_ERROR_PREMATURE_EOF',
                                'connection lost: %s' % ex)
            state['in'] += len(b)
            if state['left'] is not None:
                state['left'] -= len(b)
            if opts.rate:
                ahead = state['in'] / opts.rate - (time.monotonic() -
                                                   state['t0'])
                if ahead > 0:
                    time.sleep(ahead)
            return b

        def check():
            if task.cancel_requested:
                raise Cancelled()

        force = q.get('force') == 'true'
        restore = q.get('restore') == 'true'
        src = archive.Source(read_fn, check)
        try:
            a = archive.read_archive(
                src, force=force, metadata_only=metadata,
                host_version=opts.xapi_version,
                on_progress=lambda f: st.progress(task, f),
                limit=opts.max_size)
            e['end_marker'] = a.end_marker
            e['compression'] = a.compression
            e['entries'] = a.entries
            e['mismatches'] = a.mismatches
            e['trailing'] = a.trailing
            if metadata:
                refs = self.metadata_objects(a, q, force)
            else:
                refs = st.add_archive(a, sr, restore, False)
            if metadata and q.get('dry_run') == 'true':
                refs = []
            # The rest of an exact Content-Length is read (and dropped).
            if state['left'] and cl is not None and int(cl) != FAKE_LENGTH:
                e['drained'] = self.drain(limit=state['left'])
            e['bytes_in'] = state['in']
            e['complete'] = True
            e['result'] = refs
            self.complete(e, task, 'success', array_result(refs))
        except Cancelled:
            e['bytes_in'] = state['in']
            self.complete(e, task, 'cancelled',
                          error=['TASK_CANCELLED', task.ref])
        except XapiError as ex:
            e['bytes_in'] = state['in']
            self.complete(e, task, 'failure', error=ex.desc)

    def metadata_objects(self, a, q, force):
        """Creates the VMs of a metadata import over existing VDIs."""
        st = self.st
        vdi_map = {}
        for k, v in q.items():
            if k.startswith('vdi:'):
                vdi_map[k[4:]] = v
        found = {}
        with st.lock:
            for oid, vdi in a.ova.by_class.get('VDI', []):
                sr = a.ova.get(vdi.get('SR'), 'SR')
                if sr is not None and str(sr.get('content_type')) == 'iso':
                    found[oid] = None
                    continue
                target = None
                src_uuid = str(vdi.get('uuid', ''))
                if src_uuid in vdi_map:
                    try:
                        target = _by_uuid(st.vdis, vdi_map[src_uuid], 'VDI')
                    except XapiError:
                        target = None
                if target is None:
                    loc = str(vdi.get('location', ''))
                    for r, x in st.vdis.items():
                        if loc and x.get('location') == loc:
                            target = r
                            break
                if target is None:
                    mt = (vdi.get('other_config') or {}).get('maps_to')
                    if mt in st.vdis:
                        target = mt
                if target is None and not force:
                    raise XapiError('VDI_LOCATION_MISSING',
                                    st.sr_ref, str(vdi.get('location', '')))
                found[oid] = target
        if q.get('dry_run') == 'true':
            return []
        return st.add_archive(a, st.sr_ref, q.get('restore') == 'true',
                              True, metadata=found)


def merge_ova(vms):
    """export_metadata?all=true: one ova.xml with the objects of every VM
    (ids renumbered so that they do not clash)."""
    objects = []
    version = None
    seen = set()
    n = 0
    for vm in vms:
        key = id(vm['ova_text'])
        if key in seen:
            continue
        seen.add(key)
        hdr = archive.parse_ova(vm['ova_text'])
        version = version or hdr['version']
        ren = {}

        def fix(v):
            if isinstance(v, str) and REF_ID.fullmatch(v):
                return ren.setdefault(v, 'Ref:%d' % (n + len(ren)))
            if isinstance(v, list):
                return [fix(x) for x in v]
            if isinstance(v, dict):
                return {k: fix(x) for k, x in v.items()}
            return v
        for o in hdr['objects']:
            objects.append(fix(o))
        n += len(ren) + 1
    if version is None:
        version = {'hostname': 'localhost', 'date': '', 'product_version': '',
                   'product_brand': '', 'build_number': '',
                   'xapi_major': '24', 'xapi_minor': '19', 'export_vsn': '2'}
    text = to_xmlrpc(ocaml_values({'version': version, 'objects': objects}))
    return archive.build_tar(text.encode(), b'')


def ocaml_values(v):
    """Parsed XML-RPC values as xvagen.to_xmlrpc writes them (the
    reference's compact form)."""
    if isinstance(v, xmlrpc.client.DateTime):
        return Date(v.value)
    if isinstance(v, dict):
        return {k: ocaml_values(x) for k, x in v.items()}
    if isinstance(v, list):
        return [ocaml_values(x) for x in v]
    return v


# ---------------------------------------------------------------------------
# Listeners.

class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, addr, st, role):
        super().__init__(addr, Handler)
        self.st = st
        self.role = role
        self.member_port = None


def load(st, path):
    src, f = archive.file_source(path)
    try:
        a = archive.read_archive(src, host_version=(1 << 30, 0))
    finally:
        f.close()
    refs = st.add_archive(a, st.sr_ref, True, True)
    with st.lock:
        for r in refs:
            st.vms[r]['record']['power_state'] = st.opts.power_state
    return refs


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('archives', nargs='*', metavar='ARCHIVE',
                    help='XVA archives of the VMs the host starts with')
    ap.add_argument('--port', type=int, default=0)
    ap.add_argument('--member-port', type=int, default=0)
    ap.add_argument('--user', default='root')
    ap.add_argument('--password', default=None)
    ap.add_argument('--password-file', default=None)
    ap.add_argument('--session-idle', type=float, default=24 * 3600,
                    help='seconds idle before a session expires')
    ap.add_argument('--progress-interval', type=float, default=10.0)
    ap.add_argument('--member', action='store_true',
                    help='a second listener: a pool member, same state')
    ap.add_argument('--redirect', action='store_true',
                    help='/export and /import answer 302 to the member')
    ap.add_argument('--cut-export', type=int, default=None, metavar='N',
                    help='close every export body after N bytes')
    ap.add_argument('--cut-task', choices=('failure', 'success'),
                    default='failure')
    ap.add_argument('--finish-delay', type=float, default=0.0)
    ap.add_argument('--rate', type=float, default=0.0,
                    help='bytes/s for transfers (0: no limit)')
    ap.add_argument('--power-state', default='Halted',
                    choices=('Halted', 'Running', 'Paused', 'Suspended'),
                    help='of the VMs loaded from the command line (only '
                    'Halted and Suspended ones export)')
    ap.add_argument('--sr-uuid', default=None)
    ap.add_argument('--no-default-sr', action='store_true')
    ap.add_argument('--xapi-version', default='24.19',
                    help='MAJOR.MINOR checked against archives')
    ap.add_argument('--max-size', type=int, default=512 << 20)
    ap.add_argument('--io-timeout', type=float, default=60.0)
    ap.add_argument('--log', default=None, help='JSON lines, one a request')
    ap.add_argument('--verbose', action='store_true')
    opts = ap.parse_args(argv)
    if opts.password_file:
        with open(opts.password_file) as f:
            opts.password = f.readline().rstrip('\r\n')
    if opts.password is None:
        opts.password = os.environ.get('XVA_PASSWORD')
    if opts.password is None:
        ap.error('a password is needed (--password, --password-file or '
                 'XVA_PASSWORD)')
    if opts.redirect:
        opts.member = True
    mj, _, mn = opts.xapi_version.partition('.')
    opts.xapi_version = (int(mj), int(mn or 0))

    st = State(opts)
    for path in opts.archives:
        try:
            load(st, path)
        except XapiError as ex:
            print('fakehost: %s: %s' % (path, ex), file=sys.stderr)
            return 1
    servers = [Server(('127.0.0.1', opts.port), st, 'master')]
    if opts.member:
        servers.append(Server(('127.0.0.1', opts.member_port), st, 'member'))
        servers[0].member_port = servers[1].server_address[1]
    for s in servers:
        threading.Thread(target=s.serve_forever, daemon=True).start()
    for s in servers:
        print('listening on http://127.0.0.1:%d' % s.server_address[1])
    sys.stdout.flush()
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == '__main__':
    sys.exit(main())
