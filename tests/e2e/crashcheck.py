#!/usr/bin/env python3
"""Consistency of a running `xva serve` after a crash, through its own
API and its data directory (for harden-crash.sh; stdlib only).

  crashcheck.py URL PASSWORD DATA

Checks: every VM whole (its VBDs and VIFs exist and name it, the VDIs
of its VBDs exist), no VBD or VIF of a missing VM, every VDI's SR
exists and holds its image DATA/sr/<sr uuid>/<location>.img, every
image in an SR directory belongs to a VDI of that SR, no `.import-*`
staging directory anywhere, no task still pending.  Prints one line
"vm <name_label>" per VM; exit 1 (with "FAIL: ..." lines) on any
problem.
"""

import http.client
import json
import os
import re
import sys
import urllib.parse

UUID = re.compile(r'^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-'
                  r'[0-9a-f]{12}$')
FAILS = []


def fail(msg):
    FAILS.append(msg)
    print('FAIL: ' + msg)


def call(url, method, *params):
    u = urllib.parse.urlsplit(url)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
    body = json.dumps({'jsonrpc': '2.0', 'method': method,
                       'params': list(params), 'id': 0})
    c.request('POST', '/jsonrpc', body, {'Content-Type': 'application/json'})
    r = json.loads(c.getresponse().read())
    c.close()
    if 'error' in r:
        raise RuntimeError('%s: %s' % (method, r['error']))
    return r['result']


def main():
    url, pw, data = sys.argv[1:4]
    sid = call(url, 'session.login_with_password', 'root', pw)
    recs = {}
    for cls in ('VM', 'VBD', 'VDI', 'VIF', 'SR', 'task'):
        recs[cls] = call(url, cls + '.get_all_records', sid)
    vms, vbds, vdis = recs['VM'], recs['VBD'], recs['VDI']
    vifs, srs = recs['VIF'], recs['SR']
    for ref, vm in vms.items():
        for vbd in vm.get('VBDs', []):
            if vbd not in vbds:
                fail('VM %s: VBD %s missing' % (vm.get('name_label'), vbd))
                continue
            if vbds[vbd].get('VM') != ref:
                fail('VBD %s names VM %s, not %s' % (vbd, vbds[vbd].get('VM'),
                                                      ref))
            vdi = vbds[vbd].get('VDI', 'OpaqueRef:NULL')
            if vdi not in ('', 'OpaqueRef:NULL') and vdi not in vdis:
                fail('VM %s: VDI %s missing' % (vm.get('name_label'), vdi))
        for vif in vm.get('VIFs', []):
            if vif not in vifs:
                fail('VM %s: VIF %s missing' % (vm.get('name_label'), vif))
    for ref, vbd in vbds.items():
        if vbd.get('VM') not in vms:
            fail('VBD %s of a missing VM %s' % (ref, vbd.get('VM')))
    for ref, vif in vifs.items():
        if vif.get('VM') not in vms:
            fail('VIF %s of a missing VM %s' % (ref, vif.get('VM')))
    wanted = set()
    for ref, vdi in vdis.items():
        sr = srs.get(vdi.get('SR'))
        if sr is None:
            fail('VDI %s: SR %s missing' % (ref, vdi.get('SR')))
            continue
        loc = vdi.get('location', '')
        if not UUID.match(loc):
            loc = vdi.get('uuid', '')
        path = os.path.join(data, 'sr', sr['uuid'], loc + '.img')
        wanted.add(path)
        if not os.path.isfile(path):
            fail('VDI %s: image %s missing' % (ref, path))
    root = os.path.join(data, 'sr')
    for d in sorted(os.listdir(root)):
        for name in sorted(os.listdir(os.path.join(root, d))):
            path = os.path.join(root, d, name)
            if name.startswith('.import-'):
                fail('staging left: %s' % path)
            elif name.endswith('.img') and path not in wanted:
                fail('orphan image: %s' % path)
    for ref, t in recs['task'].items():
        if t.get('status') in ('pending', 'cancelling'):
            fail('task %s (%s) still %s' % (ref, t.get('name_label'),
                                            t.get('status')))
    for vm in sorted(v.get('name_label', '') for v in vms.values()):
        print('vm %s' % vm)
    call(url, 'session.logout', sid)
    return 1 if FAILS else 0


if __name__ == '__main__':
    sys.exit(main())
