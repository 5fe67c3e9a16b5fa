"""The XenAPI calls of the stand-in host (tests/fakehost/fakehost.py):
what xva's client and the tests need of session, pool, host, VM, VBD, VDI,
VIF, SR, network, task and event, answered from the shared State.

dispatch(state, method, params) gives the XML-RPC result struct:
{Status: Success, Value} or {Status: Failure, ErrorDescription}.
"""

import time

from archive import XapiError

NULL = 'OpaqueRef:NULL'

METHODS = {}


def rpc(name, nargs, session=True):
    def deco(fn):
        METHODS[name] = (nargs, session, fn)
        return fn
    return deco


def _get(table, ref, cls):
    v = table.get(ref)
    if v is None:
        raise XapiError('HANDLE_INVALID', cls, ref)
    return v


def _by_uuid(table, u, cls, key=lambda x: x['uuid']):
    for r, x in table.items():
        if key(x) == u:
            return r
    raise XapiError('UUID_INVALID', cls, u)


def _tables(st):
    return {'VM': (st.vms, lambda x: x['record']),
            'VBD': (st.vbds, None), 'VDI': (st.vdis, None),
            'VIF': (st.vifs, None), 'SR': (st.srs, None),
            'network': (st.networks, None)}


def _record(st, cls, ref):
    table, get = _tables(st)[cls]
    x = _get(table, ref, cls)
    return dict(get(x) if get else x)


def _install_class(cls):
    def get_all(st, s):
        return list(_tables(st)[cls][0])

    def get_all_records(st, s):
        return {r: _record(st, cls, r) for r in _tables(st)[cls][0]}

    def get_record(st, s, ref):
        return _record(st, cls, ref)

    def get_by_uuid(st, s, u):
        table, get = _tables(st)[cls]
        return _by_uuid(table, u, cls,
                        (lambda x: get(x)['uuid']) if get else
                        (lambda x: x['uuid']))

    def get_uuid(st, s, ref):
        return _record(st, cls, ref)['uuid']

    def get_by_name_label(st, s, name):
        return [r for r in _tables(st)[cls][0]
                if _record(st, cls, r).get('name_label') == name]

    def get_name_label(st, s, ref):
        return _record(st, cls, ref).get('name_label', '')

    for n, fn, k in (('get_all', get_all, 1),
                     ('get_all_records', get_all_records, 1),
                     ('get_record', get_record, 2),
                     ('get_by_uuid', get_by_uuid, 2),
                     ('get_uuid', get_uuid, 2),
                     ('get_by_name_label', get_by_name_label, 2),
                     ('get_name_label', get_name_label, 2)):
        METHODS['%s.%s' % (cls, n)] = (k, True, fn)


for _c in ('VM', 'VBD', 'VDI', 'VIF', 'SR', 'network'):
    _install_class(_c)


@rpc('system.listMethods', 0, session=False)
def _list_methods(st):
    return sorted(METHODS)


@rpc('session.login_with_password', 2, session=False)
def _login(st, user, password, *rest):
    return st.login(user, password)


@rpc('session.logout', 1, session=False)
def _logout(st, s):
    st.logout(s)
    return ''


@rpc('pool.get_all', 1)
def _pool_all(st, s):
    return [st.pool_ref]


def _pool_record(st):
    return {'uuid': st.pool_uuid, 'name_label': 'fakehost pool',
            'name_description': '', 'master': st.host_ref,
            'default_SR': st.default_sr, 'other_config': {}}


@rpc('pool.get_all_records', 1)
def _pool_all_records(st, s):
    return {st.pool_ref: _pool_record(st)}


@rpc('pool.get_record', 2)
def _pool_record_rpc(st, s, ref):
    if ref != st.pool_ref:
        raise XapiError('HANDLE_INVALID', 'pool', ref)
    return _pool_record(st)


@rpc('pool.get_default_SR', 2)
def _pool_default_sr(st, s, ref):
    if ref != st.pool_ref:
        raise XapiError('HANDLE_INVALID', 'pool', ref)
    return st.default_sr


@rpc('pool.get_master', 2)
def _pool_master(st, s, ref):
    return st.host_ref


def _hosts(st):
    out = {st.host_ref: {'uuid': st.host_uuid, 'name_label': 'master',
                         'address': '127.0.0.1',
                         'API_version_major': '2', 'API_version_minor': '21',
                         'software_version': {}, 'other_config': {}}}
    if st.opts.member:
        out[st.member_ref] = {'uuid': st.member_uuid, 'name_label': 'member',
                              'address': '127.0.0.1',
                              'API_version_major': '2',
                              'API_version_minor': '21',
                              'software_version': {}, 'other_config': {}}
    return out


@rpc('host.get_all', 1)
def _host_all(st, s):
    return list(_hosts(st))


@rpc('host.get_all_records', 1)
def _host_all_records(st, s):
    return _hosts(st)


@rpc('host.get_record', 2)
def _host_record(st, s, ref):
    h = _hosts(st)
    if ref not in h:
        raise XapiError('HANDLE_INVALID', 'host', ref)
    return h[ref]


@rpc('VM.get_power_state', 2)
def _vm_power(st, s, ref):
    return _get(st.vms, ref, 'VM')['record']['power_state']


@rpc('VM.get_VBDs', 2)
def _vm_vbds(st, s, ref):
    return list(_get(st.vms, ref, 'VM')['record']['VBDs'])


@rpc('VM.get_VIFs', 2)
def _vm_vifs(st, s, ref):
    return list(_get(st.vms, ref, 'VM')['record']['VIFs'])


@rpc('VM.destroy', 2)
def _vm_destroy(st, s, ref):
    if not st.destroy_vm(ref):
        raise XapiError('HANDLE_INVALID', 'VM', ref)
    return ''


@rpc('VDI.get_virtual_size', 2)
def _vdi_size(st, s, ref):
    return str(_get(st.vdis, ref, 'VDI')['virtual_size'])


@rpc('task.create', 3)
def _task_create(st, s, label, desc):
    return st.task_create(label, desc).ref


@rpc('task.get_all', 1)
def _task_all(st, s):
    with st.lock:
        return list(st.tasks)


@rpc('task.get_all_records', 1)
def _task_all_records(st, s):
    with st.lock:
        return {r: t.record() for r, t in st.tasks.items()}


@rpc('task.get_by_uuid', 2)
def _task_by_uuid(st, s, u):
    with st.lock:
        for r, t in st.tasks.items():
            if t.uuid == u:
                return r
    raise XapiError('UUID_INVALID', 'task', u)


def _task_field(field):
    def fn(st, s, ref):
        with st.lock:
            return st.task(ref).record()[field]
    return fn


for _f in ('record', 'status', 'progress', 'result', 'error_info', 'uuid',
           'name_label', 'other_config', 'created', 'finished'):
    if _f == 'record':
        METHODS['task.get_record'] = (
            2, True, lambda st, s, ref: st.task(ref).record())
    else:
        METHODS['task.get_' + _f] = (2, True, _task_field(_f))


@rpc('task.destroy', 2)
def _task_destroy(st, s, ref):
    with st.lock:
        st.task(ref)
        del st.tasks[ref]
    st.event('task', ref, 'del')
    return ''


@rpc('task.cancel', 2)
def _task_cancel(st, s, ref):
    t = st.task(ref)
    with st.lock:
        if t.status != 'pending':
            raise XapiError('OPERATION_NOT_ALLOWED',
                            'task %s is %s' % (ref, t.status))
        t.cancel_requested = True
        adopted = t.cancellable
    if not adopted:
        # Nothing runs it: it is cancelled at once.
        st.finish(t, 'cancelled', error=['TASK_CANCELLED', ref])
    st.event('task', ref, 'mod')
    return ''


@rpc('task.set_status', 3)
def _task_set_status(st, s, ref, status):
    t = st.task(ref)
    with st.lock:
        t.status = status
    st.event('task', ref, 'mod')
    return ''


@rpc('task.set_progress', 3)
def _task_set_progress(st, s, ref, value):
    t = st.task(ref)
    with st.lock:
        t.progress = float(value)
    st.event('task', ref, 'mod')
    return ''


@rpc('event.inject', 3)
def _event_inject(st, s, cls, ref):
    st.event(cls, ref, 'mod')
    with st.lock:
        return str(st.event_id)


def _snapshot(st, cls, ref):
    try:
        if cls == 'task':
            return st.task(ref).record()
        if cls == 'pool':
            return _pool_record(st)
        return _record(st, cls, ref)
    except XapiError:
        return None


@rpc('event.from', 4)
def _event_from(st, s, classes, token, timeout):
    classes = [c.lower() for c in classes]

    def want(c):
        return '*' in classes or c.lower() in classes
    deadline = time.monotonic() + min(float(timeout), 60.0)
    out = []
    with st.cond:
        if token in ('', None):
            cur = st.event_id
            for c in ('task', 'VM', 'SR', 'pool'):
                if not want(c):
                    continue
                refs = (list(st.tasks) if c == 'task' else [st.pool_ref]
                        if c == 'pool' else list(_tables(st)[c][0]))
                for r in refs:
                    out.append({'id': str(cur), 'class': c, 'ref': r,
                                'operation': 'add',
                                'snapshot': _snapshot(st, c, r)})
        else:
            try:
                since = int(token)
            except ValueError:
                raise XapiError('EVENT_FROM_TOKEN_PARSE_FAILURE', token)
            while True:
                evs = [e for e in st.events if e[0] > since and want(e[1])]
                cur = st.event_id
                if evs or time.monotonic() >= deadline:
                    break
                st.cond.wait(max(0.0, deadline - time.monotonic()))
            for eid, c, r, op in evs:
                e = {'id': str(eid), 'class': c, 'ref': r, 'operation': op}
                snap = _snapshot(st, c, r) if op != 'del' else None
                if snap is not None:
                    e['snapshot'] = snap
                out.append(e)
        counts = {'task': str(len(st.tasks)), 'VM': str(len(st.vms))}
    return {'events': out, 'valid_ref_counts': counts, 'token': str(cur)}


def dispatch(st, method, params):
    """{Status, Value} or {Status, ErrorDescription}."""
    try:
        m = METHODS.get(method)
        if m is None:
            raise XapiError('MESSAGE_METHOD_UNKNOWN', method)
        nargs, needs_session, fn = m
        extra_ok = method == 'session.login_with_password'
        if len(params) < nargs or (len(params) > nargs and not extra_ok) \
                or (extra_ok and len(params) > 4):
            raise XapiError('MESSAGE_PARAMETER_COUNT_MISMATCH', method,
                            nargs, len(params))
        if needs_session:
            st.check(params[0])
        return {'Status': 'Success', 'Value': fn(st, *params)}
    except XapiError as e:
        return {'Status': 'Failure', 'ErrorDescription': e.desc}
