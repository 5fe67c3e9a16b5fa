#!/usr/bin/env python3
"""`xva serve` against Python's standard XML-RPC client (xmlrpc.client),
the way XenAPI.py talks to a host: POST / with XenAPI's
{Status, Value | ErrorDescription} results.

  python-xmlrpc.py URL PASSWORD VM_NAME

URL is http://127.0.0.1:PORT; VM_NAME names a VM that exists.  Exits 0
when every check passes, 1 (with the failures listed) otherwise.
"""

import sys
import time
import xmlrpc.client

FAILURES = []


def check(cond, what):
    if not cond:
        FAILURES.append(what)
        print('FAIL: %s' % what, file=sys.stderr)
    return cond


def value(result, what):
    """The Value of a Success result (None after a recorded failure)."""
    if check(isinstance(result, dict) and result.get('Status') == 'Success'
             and 'Value' in result, '%s: not a success: %r' % (what, result)):
        return result['Value']
    return None


def failure(result, code, what):
    """Checks that result is a Failure with code; returns its params."""
    ok = (isinstance(result, dict) and result.get('Status') == 'Failure'
          and isinstance(result.get('ErrorDescription'), list)
          and result['ErrorDescription'][:1] == [code])
    check(ok, '%s: want Failure %s, got %r' % (what, code, result))
    return result['ErrorDescription'][1:] if ok else []


def main():
    url, password, vm_name = sys.argv[1:4]
    # XenAPI.py posts to the root path; ServerProxy's default is /RPC2.
    server = xmlrpc.client.ServerProxy(url + '/', allow_none=True)

    methods = value(server.system.listMethods(), 'system.listMethods')
    check(isinstance(methods, list) and 'VM.get_all_records' in methods
          and 'task.create' in methods, 'system.listMethods: %r' % methods)

    failure(server.session.login_with_password('root', 'wrong-' + password),
            'SESSION_AUTHENTICATION_FAILED', 'login with a wrong password')
    session = value(server.session.login_with_password(
        'root', password, '1.0', 'python-xmlrpc-test'), 'login')
    if session is None:
        return 1
    check(session.startswith('OpaqueRef:'), 'session ref %r' % session)

    # VM.get_all_records: a struct of refs to records.
    vms = value(server.VM.get_all_records(session), 'VM.get_all_records')
    mine = [(ref, rec) for ref, rec in (vms or {}).items()
            if rec.get('name_label') == vm_name]
    if check(len(mine) == 1,
             'one VM named %r among %d' % (vm_name, len(vms or {}))):
        ref, rec = mine[0]
        check(ref.startswith('OpaqueRef:'), 'VM ref %r' % ref)
        check(rec.get('power_state') == 'Halted', 'power_state %r'
              % rec.get('power_state'))
        check(rec.get('is_a_template') is False, 'is_a_template %r'
              % rec.get('is_a_template'))
        check(isinstance(rec.get('VBDs'), list) and len(rec['VBDs']) >= 1,
              'VBDs %r' % rec.get('VBDs'))
        check(isinstance(rec.get('other_config'), dict), 'other_config')
        # Integers may come as ints or as strings: either way, a number.
        check(int(rec.get('memory_static_max')) > 0, 'memory_static_max %r'
              % rec.get('memory_static_max'))
        check(value(server.VM.get_record(session, ref), 'VM.get_record')
              == rec, 'VM.get_record differs from get_all_records')
        check(value(server.VM.get_by_uuid(session, rec['uuid']),
                    'VM.get_by_uuid') == ref, 'VM.get_by_uuid')
    refs = value(server.VM.get_all(session), 'VM.get_all')
    check(sorted(refs or []) == sorted((vms or {}).keys()),
          'VM.get_all and VM.get_all_records disagree')

    # A task: create, read, cancel, destroy.
    task = value(server.task.create(session, 'py-label', 'py-description'),
                 'task.create')
    if check(isinstance(task, str) and task.startswith('OpaqueRef:'),
             'task ref %r' % task):
        rec = value(server.task.get_record(session, task), 'task.get_record')
        if rec is not None:
            check(rec.get('name_label') == 'py-label', 'task name_label %r'
                  % rec.get('name_label'))
            check(rec.get('name_description') == 'py-description',
                  'task name_description')
            check(rec.get('status') == 'pending', 'task status %r'
                  % rec.get('status'))
            check(isinstance(rec.get('progress'), float),
                  'task progress %r' % rec.get('progress'))
            check(isinstance(rec.get('created'), xmlrpc.client.DateTime),
                  'task created %r (want an XML-RPC date)'
                  % rec.get('created'))
            check(rec.get('error_info') == [], 'task error_info')
        check(value(server.task.get_status(session, task), 'get_status')
              == 'pending', 'task.get_status')
        value(server.task.cancel(session, task), 'task.cancel')
        status = None
        for _ in range(100):
            status = value(server.task.get_status(session, task), 'status')
            if status not in ('pending', 'cancelling'):
                break
            time.sleep(0.1)
        check(status == 'cancelled', 'status after task.cancel: %r' % status)
        value(server.task.destroy(session, task), 'task.destroy')
        params = failure(server.task.get_record(session, task),
                         'HANDLE_INVALID', 'a destroyed task')
        check(params == ['task', task], 'HANDLE_INVALID params %r' % params)

    # Errors: bad session, unknown method, parameter count.
    params = failure(server.VM.get_all('OpaqueRef:no-such-session'),
                     'SESSION_INVALID', 'a bad session')
    check(params == ['OpaqueRef:no-such-session'],
          'SESSION_INVALID params %r' % params)
    params = failure(server.VM.frobnicate(session), 'MESSAGE_METHOD_UNKNOWN',
                     'an unknown method')
    check(params == ['VM.frobnicate'], 'MESSAGE_METHOD_UNKNOWN params %r'
          % params)
    failure(server.VM.get_record(session), 'MESSAGE_PARAMETER_COUNT_MISMATCH',
            'a missing parameter')

    # The other POST paths speak the same.
    for path in ('/RPC2', '/xmlrpc'):
        other = xmlrpc.client.ServerProxy(url + path)
        check(value(other.VM.get_all(session), path) == refs,
              'VM.get_all over %s' % path)

    # Logout ends the session.
    value(server.session.logout(session), 'session.logout')
    failure(server.VM.get_all(session), 'SESSION_INVALID',
            'the session after logout')

    if FAILURES:
        print('%d check(s) failed' % len(FAILURES), file=sys.stderr)
        return 1
    print('python-xmlrpc: OK')
    return 0


if __name__ == '__main__':
    sys.exit(main())
