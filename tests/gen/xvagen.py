#!/usr/bin/env python3
"""Generate XVA archives for tests, independently of the xva library.

By default the archive has the layout of the reference exporter (xapi):
`ova.xml` (one compact XML-RPC value, no declaration), then each disk in
byte-wise order of its VDI id as 1 MiB chunks `Ref:N/%08d` (all-zero
chunks skipped except the first and the last, a short last chunk), each
followed by its `.xxhash` entry, all with V7 tar headers (mode 0400, no
ustar magic, typeflag NUL), then exactly two 512-byte zero blocks.

Options reproduce what other writers produce (ustar / GNU / pax headers,
SHA-1 `.checksum` entries, keep-alive entries, a zero-padded full last
chunk, an omitted all-zero last chunk, an indented ova.xml with a
declaration, gzip or zstd compression, the legacy Zurich format) and a
few deliberate defects for negative tests.

Python 3 standard library only; zstd compression runs the `zstd` command.
"""

import argparse
import gzip
import hashlib
import os
import struct
import subprocess
import sys
import time
import uuid as uuidmod

MIB = 1 << 20
BLOCK = 512

# ---------------------------------------------------------------------------
# XXH64, seed 0 by default (pure Python; about 0.1 s per MiB).

_M64 = 0xFFFFFFFFFFFFFFFF
_P1 = 0x9E3779B185EBCA87
_P2 = 0xC2B2AE3D27D4EB4F
_P3 = 0x165667B19E3779F9
_P4 = 0x85EBCA77C2B2AE63
_P5 = 0x27D4EB2F165667C5


def xxh64(data, seed=0):
    """Returns XXH64 of data (bytes-like) as an int."""
    M, P1, P2, P3, P4, P5 = _M64, _P1, _P2, _P3, _P4, _P5
    data = memoryview(data).cast('B')
    n = len(data)
    p = 0
    if n >= 32:
        v1 = (seed + P1 + P2) & M
        v2 = (seed + P2) & M
        v3 = seed & M
        v4 = (seed - P1) & M
        nstripes = n // 32
        words = struct.unpack_from('<%dQ' % (nstripes * 4), data, 0)
        it = iter(words)
        for a, b, c, d in zip(it, it, it, it):
            v1 = (v1 + a * P2) & M
            v1 = (((v1 << 31) | (v1 >> 33)) * P1) & M
            v2 = (v2 + b * P2) & M
            v2 = (((v2 << 31) | (v2 >> 33)) * P1) & M
            v3 = (v3 + c * P2) & M
            v3 = (((v3 << 31) | (v3 >> 33)) * P1) & M
            v4 = (v4 + d * P2) & M
            v4 = (((v4 << 31) | (v4 >> 33)) * P1) & M
        h = (((v1 << 1) | (v1 >> 63)) + ((v2 << 7) | (v2 >> 57))
             + ((v3 << 12) | (v3 >> 52)) + ((v4 << 18) | (v4 >> 46))) & M
        for v in (v1, v2, v3, v4):
            v = (v * P2) & M
            v = ((((v << 31) | (v >> 33)) & M) * P1) & M
            h ^= v
            h = (h * P1 + P4) & M
        p = nstripes * 32
    else:
        h = (seed + P5) & M
    h = (h + n) & M
    while p + 8 <= n:
        (k,) = struct.unpack_from('<Q', data, p)
        k = (k * P2) & M
        k = ((((k << 31) | (k >> 33)) & M) * P1) & M
        h ^= k
        h = ((((h << 27) | (h >> 37)) & M) * P1 + P4) & M
        p += 8
    if p + 4 <= n:
        (k,) = struct.unpack_from('<I', data, p)
        h ^= (k * P1) & M
        h = ((((h << 23) | (h >> 41)) & M) * P2 + P3) & M
        p += 4
    while p < n:
        h ^= (data[p] * P5) & M
        h = ((((h << 11) | (h >> 53)) & M) * P1) & M
        p += 1
    h ^= h >> 33
    h = (h * P2) & M
    h ^= h >> 29
    h = (h * P3) & M
    h ^= h >> 32
    return h


_zero_sums = {}
# A directory remembering XXH64 of chunks seen before, keyed by their
# SHA-1 (--cache or $XVAGEN_CACHE): tests that reuse disks go faster.
_cache_dir = None


def cached_xxh64(data):
    if _cache_dir is None or len(data) < 65536:
        return xxh64(data)
    path = os.path.join(_cache_dir, hashlib.sha1(data).hexdigest() + '.xxh64')
    try:
        with open(path) as f:
            return int(f.read(), 16)
    except (OSError, ValueError):
        pass
    h = xxh64(data)
    tmp = '%s.%d' % (path, os.getpid())
    with open(tmp, 'w') as f:
        f.write('%016x' % h)
    os.replace(tmp, path)
    return h


def checksum_entry(kind, data):
    """(extension, content) of the checksum entry of data."""
    zero = len(data) > 0 and data == bytes(len(data))
    key = (kind, len(data))
    if zero and key in _zero_sums:
        return _zero_sums[key]
    if kind == 'xxhash':
        r = ('.xxhash', b'%016X' % cached_xxh64(data))
    elif kind == 'sha1':
        r = ('.checksum', hashlib.sha1(data).hexdigest().encode())
    else:
        raise ValueError(kind)
    if zero:
        _zero_sums[key] = r
    return r


SELF_TEST = [
    (b'', 'EF46DB3751D8E999', 'da39a3ee5e6b4b0d3255bfef95601890afd80709'),
    (bytes(MIB), '87D2A1B6E1163EF1',
     '3b71f43ff30f4b15b5cd85dd9e95ebc7e84eb5a3'),
    (b'A' * MIB, '25E9982AE4F7E71F', None),
]


def self_test():
    ok = True
    for data, want_xx, want_sha in SELF_TEST:
        _zero_sums.clear()
        got = checksum_entry('xxhash', data)[1].decode()
        if got != want_xx:
            print('xxh64(%d bytes): want %s got %s' % (len(data), want_xx,
                                                       got), file=sys.stderr)
            ok = False
        if want_sha is not None:
            got = checksum_entry('sha1', data)[1].decode()
            if got != want_sha:
                print('sha1(%d bytes): want %s got %s'
                      % (len(data), want_sha, got), file=sys.stderr)
                ok = False
    print('self-test: %s' % ('ok' if ok else 'FAILED'))
    return 0 if ok else 1


# ---------------------------------------------------------------------------
# Tar headers.

def _octal(value, width):
    """width-1 zero-padded octal digits and a NUL."""
    s = b'%0*o' % (width - 1, value)
    if len(s) > width - 1:
        raise ValueError('value %d does not fit in %d octal digits'
                         % (value, width - 1))
    return s + b'\0'


def _field(s, width):
    if isinstance(s, str):
        s = s.encode()
    if len(s) > width:
        raise ValueError('tar field too long: %r' % s)
    return s + b'\0' * (width - len(s))


def _header_block(name, size, mtime, mode, typeflag, magic, uname=b'',
                  gname=b'', classic_sum=False):
    h = bytearray(BLOCK)
    h[0:100] = _field(name, 100)
    h[100:108] = _octal(mode, 8)
    h[108:116] = _octal(0, 8)
    h[116:124] = _octal(0, 8)
    h[124:136] = _octal(size, 12)
    h[136:148] = _octal(mtime, 12)
    h[148:156] = b' ' * 8
    h[156:157] = typeflag
    if magic == 'ustar':
        h[257:263] = b'ustar\0'
        h[263:265] = b'00'
    elif magic == 'gnu':
        h[257:265] = b'ustar  \0'
    if magic is not None:
        h[265:297] = _field(uname, 32)
        h[297:329] = _field(gname, 32)
        if magic == 'ustar':
            h[329:337] = _octal(0, 8)
            h[337:345] = _octal(0, 8)
    total = sum(h)
    if classic_sum:
        # 6 digits, NUL, space: what most tar writers produce
        h[148:156] = b'%06o\0 ' % total
    else:
        # 7 digits and a NUL (ocaml-tar, the reference)
        h[148:156] = _octal(total, 8)
    return bytes(h)


def _pad(n):
    return b'\0' * ((BLOCK - n % BLOCK) % BLOCK)


def _pax_records(fields):
    out = b''
    for key, value in fields:
        rec = b' %s=%s\n' % (key.encode(), value.encode())
        # The length prefix counts itself.
        n = len(rec) + 1
        while len(str(n).encode()) + len(rec) != n:
            n = len(str(n).encode()) + len(rec)
        out += str(n).encode() + rec
    return out


class TarWriter:
    """Writes tar entries in one of the header styles to a file object."""

    def __init__(self, out, style, mode, uname='', gname=''):
        self.out = out
        self.style = style
        self.mode = mode
        self.uname = uname.encode()
        self.gname = gname.encode()
        self.pax_seq = 0

    def _blocks(self, name, size, mtime, typeflag=None):
        if self.style == 'v7':
            return _header_block(name, size, mtime, self.mode,
                                 typeflag or b'\0', None)
        if self.style == 'gnu':
            return _header_block(name, size, mtime, self.mode,
                                 typeflag or b'0', 'gnu', self.uname,
                                 self.gname, classic_sum=True)
        return _header_block(name, size, mtime, self.mode, typeflag or b'0',
                             'ustar', self.uname, self.gname,
                             classic_sum=True)

    def write_pax_global(self, fields):
        body = _pax_records(fields)
        self.out.write(self._blocks('pax_global_header', len(body), 0, b'g'))
        self.out.write(body + _pad(len(body)))

    def add(self, name, data, mtime):
        if self.style == 'pax':
            self.pax_seq += 1
            body = _pax_records([('path', name),
                                 ('mtime', '%d.%09d' % (mtime, self.pax_seq)),
                                 ('size', '%d' % len(data))])
            hname = 'PaxHeaders.%d/%s' % (os.getpid(), name)
            self.out.write(self._blocks(hname[:99], len(body), mtime, b'x'))
            self.out.write(body + _pad(len(body)))
        self.out.write(self._blocks(name, len(data), mtime))
        self.out.write(data)
        self.out.write(_pad(len(data)))

    def end(self, nblocks):
        self.out.write(b'\0' * (BLOCK * nblocks))


# ---------------------------------------------------------------------------
# XML-RPC values (as ocaml-rpc writes ova.xml).

class Date(str):
    """A dateTime.iso8601 value."""


class Double(float):
    pass


def _xml_escape(s):
    out = []
    for ch in s:
        o = ord(ch)
        if ch == '&':
            out.append('&amp;')
        elif ch == '<':
            out.append('&lt;')
        elif ch == '>':
            out.append('&gt;')
        elif ch == '"':
            out.append('&quot;')
        elif o < 0x20 and ch not in '\t\n\r':
            continue
        else:
            out.append(ch)
    return ''.join(out)


def to_xmlrpc(v, typed=False):
    """Compact form: no whitespace, ints and strings bare."""
    if isinstance(v, bool):
        return '<value><boolean>%d</boolean></value>' % int(v)
    if isinstance(v, int):
        if typed:
            return '<value><string>%d</string></value>' % v
        return '<value>%d</value>' % v
    if isinstance(v, float):
        return '<value><double>%.16g</double></value>' % v
    if isinstance(v, Date):
        return ('<value><dateTime.iso8601>%s</dateTime.iso8601></value>'
                % v)
    if isinstance(v, str):
        if typed:
            return '<value><string>%s</string></value>' % _xml_escape(v)
        return '<value>%s</value>' % _xml_escape(v)
    if isinstance(v, dict):
        return ('<value><struct>%s</struct></value>'
                % ''.join('<member><name>%s</name>%s</member>'
                          % (_xml_escape(k), to_xmlrpc(x, typed))
                          for k, x in v.items()))
    if isinstance(v, list):
        return ('<value><array><data>%s</data></array></value>'
                % ''.join(to_xmlrpc(x, typed) for x in v))
    raise TypeError(type(v))


def to_xmlrpc_indented(v, typed=False, depth=0):
    """Indented form, one element per line, as older writers do."""
    ind = '  ' * depth
    if isinstance(v, dict):
        lines = [ind + '<value>', ind + '  <struct>']
        for k, x in v.items():
            lines.append(ind + '    <member>')
            lines.append(ind + '      <name>%s</name>' % _xml_escape(k))
            lines.append(to_xmlrpc_indented(x, typed, depth + 3))
            lines.append(ind + '    </member>')
        lines += [ind + '  </struct>', ind + '</value>']
        return '\n'.join(lines)
    if isinstance(v, list):
        lines = [ind + '<value>', ind + '  <array>', ind + '    <data>']
        for x in v:
            lines.append(to_xmlrpc_indented(x, typed, depth + 3))
        lines += [ind + '    </data>', ind + '  </array>', ind + '</value>']
        return '\n'.join(lines)
    return ind + to_xmlrpc(v, typed)


# ---------------------------------------------------------------------------
# ova.xml records.

NULL = 'OpaqueRef:NULL'
EPOCH = Date('19700101T00:00:00Z')


def vm_record(a, vm_uuid, vbd_ids, vif_ids, metrics_id, null_id):
    mem = a.memory
    return {
        'uuid': vm_uuid,
        'allowed_operations': [],
        'current_operations': {},
        'name_label': a.vm_name,
        'name_description': a.vm_description,
        'power_state': 'Halted',
        'user_version': 1,
        'is_a_template': False,
        'is_default_template': False,
        'suspend_VDI': NULL,
        'resident_on': null_id,
        'scheduled_to_be_resident_on': NULL,
        'affinity': null_id,
        'memory_overhead': 0,
        'memory_target': mem,
        'memory_static_max': mem,
        'memory_dynamic_max': mem,
        'memory_dynamic_min': mem,
        'memory_static_min': min(mem, 16 * MIB),
        'VCPUs_params': {},
        'VCPUs_max': a.vcpus,
        'VCPUs_at_startup': a.vcpus,
        'actions_after_softreboot': 'soft_reboot',
        'actions_after_shutdown': 'destroy',
        'actions_after_reboot': 'restart',
        'actions_after_crash': 'restart',
        'consoles': [],
        'VIFs': vif_ids,
        'VBDs': vbd_ids,
        'VUSBs': [],
        'crash_dumps': [],
        'VTPMs': [],
        'PV_bootloader': '',
        'PV_kernel': '',
        'PV_ramdisk': '',
        'PV_args': '',
        'PV_bootloader_args': '',
        'PV_legacy_args': '',
        'HVM_boot_policy': 'BIOS order',
        'HVM_boot_params': {'order': 'cd'},
        'HVM_shadow_multiplier': Double(1.0),
        'platform': {'timeoffset': '0', 'device-model': 'qemu-upstream-compat',
                     'acpi': '1', 'apic': 'true', 'pae': 'true',
                     'viridian': 'true', 'nx': 'true'},
        'PCI_bus': '',
        'other_config': {'mac_seed': str(uuidmod.uuid4()),
                         'base_template_name': 'Other install media'},
        'domid': -1,
        'domarch': '',
        'last_boot_CPU_flags': {},
        'is_control_domain': False,
        'metrics': metrics_id,
        'guest_metrics': null_id,
        'last_booted_record': '',
        'recommendations': '',
        'xenstore_data': {},
        'ha_always_run': False,
        'ha_restart_priority': '',
        'is_a_snapshot': False,
        'snapshot_of': NULL,
        'snapshots': [],
        'snapshot_time': EPOCH,
        'transportable_snapshot_id': '',
        'blobs': {},
        'tags': [],
        'blocked_operations': {},
        'snapshot_info': {},
        'snapshot_metadata': '',
        'parent': NULL,
        'children': [],
        'bios_strings': {},
        'protection_policy': NULL,
        'is_snapshot_from_vmpp': False,
        'snapshot_schedule': NULL,
        'is_vmss_snapshot': False,
        'appliance': NULL,
        'start_delay': 0,
        'shutdown_delay': 0,
        'order': 0,
        'VGPUs': [],
        'attached_PCIs': [],
        'suspend_SR': NULL,
        'version': 0,
        'generation_id': '0:0',
        'hardware_platform_version': 0,
        'has_vendor_device': False,
        'requires_reboot': False,
        'reference_label': '',
        'domain_type': 'hvm',
        'NVRAM': {},
        'pending_guidances': [],
    }


def vm_metrics_record(a):
    return {
        'uuid': str(uuidmod.uuid4()),
        'memory_actual': 0,
        'VCPUs_number': 0,
        'VCPUs_utilisation': {},
        'VCPUs_CPU': {},
        'VCPUs_params': {},
        'VCPUs_flags': {},
        'state': [],
        'start_time': EPOCH,
        'install_time': EPOCH,
        'last_updated': EPOCH,
        'other_config': {},
        'hvm': False,
        'nested_virt': False,
        'nomigrate': False,
        'current_domain_type': 'unspecified',
    }


def vbd_record(vm_id, vdi_id, userdevice, vbd_type='Disk', mode='RW',
               empty=False):
    letters = 'abcdefghijklmnopqrstuvwxyz'
    n = int(userdevice)
    dev = 'xvd' + (letters[n] if n < 26 else 'a' + letters[n - 26])
    return {
        'uuid': str(uuidmod.uuid4()),
        'allowed_operations': [],
        'current_operations': {},
        'VM': vm_id,
        'VDI': vdi_id,
        'device': dev,
        'userdevice': userdevice,
        'bootable': userdevice == '0',
        'mode': mode,
        'type': vbd_type,
        'unpluggable': vbd_type == 'CD',
        'storage_lock': False,
        'empty': empty,
        'other_config': {'owner': 'true'} if vbd_type == 'Disk' else {},
        'currently_attached': False,
        'status_code': 0,
        'status_detail': '',
        'runtime_properties': {},
        'qos_algorithm_type': '',
        'qos_algorithm_params': {},
        'qos_supported_algorithms': [],
        'metrics': NULL,
    }


def vdi_record(vdi_uuid, name, size, sr_id, vbd_ids, vdi_type='user',
               read_only=False, location=None):
    return {
        'uuid': vdi_uuid,
        'name_label': name,
        'name_description': 'Created by xvagen',
        'allowed_operations': [],
        'current_operations': {},
        'SR': sr_id,
        'VBDs': vbd_ids,
        'crash_dumps': [],
        'virtual_size': size,
        'physical_utilisation': size,
        'type': vdi_type,
        'sharable': False,
        'read_only': read_only,
        'other_config': {},
        'storage_lock': False,
        'location': location or vdi_uuid,
        'managed': True,
        'missing': False,
        'parent': NULL,
        'xenstore_data': {},
        'sm_config': {'vdi_type': 'vhd'} if vdi_type == 'user' else {},
        'is_a_snapshot': False,
        'snapshot_of': NULL,
        'snapshots': [],
        'snapshot_time': EPOCH,
        'tags': [],
        'allow_caching': False,
        'on_boot': 'persist',
        'metadata_of_pool': NULL,
        'metadata_latest': False,
        'is_tools_iso': False,
        'cbt_enabled': False,
    }


def sr_record(name, vdi_ids, content_type='user', sr_type='ext'):
    return {
        'uuid': str(uuidmod.uuid4()),
        'name_label': name,
        'name_description': '',
        'allowed_operations': [],
        'current_operations': {},
        'VDIs': vdi_ids,
        'PBDs': [],
        'virtual_allocation': 0,
        'physical_utilisation': 0,
        'physical_size': 0,
        'type': sr_type,
        'content_type': content_type,
        'shared': False,
        'other_config': {},
        'tags': [],
        'sm_config': {},
        'blobs': {},
        'local_cache_enabled': False,
        'introduced_by': NULL,
        'clustered': False,
        'is_tools_sr': False,
    }


def network_record(vif_ids):
    return {
        'uuid': str(uuidmod.uuid4()),
        'name_label': 'Pool-wide network associated with eth0',
        'name_description': '',
        'allowed_operations': [],
        'current_operations': {},
        'VIFs': vif_ids,
        'PIFs': [],
        'MTU': 1500,
        'other_config': {},
        'bridge': 'xenbr0',
        'managed': True,
        'blobs': {},
        'tags': [],
        'default_locking_mode': 'unlocked',
        'assigned_ips': {},
        'purpose': [],
    }


def vif_record(vm_id, net_id, device):
    return {
        'uuid': str(uuidmod.uuid4()),
        'allowed_operations': [],
        'current_operations': {},
        'device': str(device),
        'network': net_id,
        'VM': vm_id,
        'MAC': '02:00:00:%02x:%02x:%02x' % (os.getpid() & 0xff,
                                             (device >> 8) & 0xff,
                                             device & 0xff),
        'MTU': 1500,
        'other_config': {},
        'currently_attached': False,
        'status_code': 0,
        'status_detail': '',
        'runtime_properties': {},
        'qos_algorithm_type': '',
        'qos_algorithm_params': {},
        'qos_supported_algorithms': [],
        'metrics': NULL,
        'MAC_autogenerated': True,
        'locking_mode': 'network_default',
        'ipv4_allowed': [],
        'ipv6_allowed': [],
        'ipv4_configuration_mode': 'None',
        'ipv4_addresses': [],
        'ipv4_gateway': '',
        'ipv6_configuration_mode': 'None',
        'ipv6_addresses': [],
        'ipv6_gateway': '',
    }


def build_ova(a, disks):
    """Sets disk['id'], ['uuid'], ['userdevice'] and returns the tree.

    Ids: the VM first_id, VDI i first_id+1+i, then the VBDs, the SR, the
    VM metrics, one id shared by the null references (an id that names
    no object, as the reference exporter gives them), VIFs, network and
    the ISO CD's objects."""
    n = a.first_id
    k = len(disks)
    vm_id = 'Ref:%d' % n
    vdi_ids = ['Ref:%d' % (n + 1 + i) for i in range(k)]
    vbd_ids = ['Ref:%d' % (n + 1 + k + i) for i in range(k)]
    nxt = n + 1 + 2 * k
    sr_id = 'Ref:%d' % nxt
    metrics_id = 'Ref:%d' % (nxt + 1)
    null_id = 'Ref:%d' % (nxt + 2) if a.null_refs else NULL
    nxt += 3
    vif_ids = []
    net_id = None
    if a.vifs:
        vif_ids = ['Ref:%d' % (nxt + i) for i in range(a.vifs)]
        nxt += a.vifs
        net_id = 'Ref:%d' % nxt
        nxt += 1
    cd = None
    if a.iso_cd:
        cd = {'vbd': 'Ref:%d' % nxt, 'vdi': 'Ref:%d' % (nxt + 1),
              'sr': 'Ref:%d' % (nxt + 2)}
        nxt += 3

    for i, d in enumerate(disks):
        d['id'] = vdi_ids[i]
        d['uuid'] = str(uuidmod.uuid4())
        d['userdevice'] = str(i)

    all_vbds = list(vbd_ids) + ([cd['vbd']] if cd else [])
    objects = []
    objects.append({'class': 'VM', 'id': vm_id,
                    'snapshot': vm_record(a, str(uuidmod.uuid4()), all_vbds,
                                          vif_ids, metrics_id, null_id)})
    objects.append({'class': 'VM_metrics', 'id': metrics_id,
                    'snapshot': vm_metrics_record(a)})
    for i, d in enumerate(disks):
        objects.append({'class': 'VBD', 'id': vbd_ids[i],
                        'snapshot': vbd_record(vm_id, d['id'],
                                               d['userdevice'])})
    if cd:
        objects.append({'class': 'VBD', 'id': cd['vbd'],
                        'snapshot': vbd_record(vm_id, cd['vdi'], str(k),
                                               'CD', 'RO')})
    for i, vif in enumerate(vif_ids):
        objects.append({'class': 'VIF', 'id': vif,
                        'snapshot': vif_record(vm_id, net_id, i)})
    if net_id:
        objects.append({'class': 'network', 'id': net_id,
                        'snapshot': network_record(vif_ids)})
    for i, d in enumerate(disks):
        objects.append({'class': 'VDI', 'id': d['id'],
                        'snapshot': vdi_record(d['uuid'], d['name'],
                                               d['declared_size'], sr_id,
                                               [vbd_ids[i]])})
    if cd:
        iso_uuid = str(uuidmod.uuid4())
        objects.append({'class': 'VDI', 'id': cd['vdi'],
                        'snapshot': vdi_record(iso_uuid, 'install.iso',
                                               700 * MIB, cd['sr'],
                                               [cd['vbd']], 'user', True,
                                               'install.iso')})
    objects.append({'class': 'SR', 'id': sr_id,
                    'snapshot': sr_record('Local storage', vdi_ids)})
    if cd:
        objects.append({'class': 'SR', 'id': cd['sr'],
                        'snapshot': sr_record('ISO library', [cd['vdi']],
                                              'iso', 'iso')})
    version = {
        'hostname': 'localhost',
        'date': a.build_date,
        'product_version': a.product_version,
        'product_brand': 'XCP-ng',
        'build_number': 'release/xvagen/1',
        'xapi_major': a.xapi_major,
        'xapi_minor': a.xapi_minor,
        'export_vsn': a.vsn,
    }
    return {'version': version, 'objects': objects}


# ---------------------------------------------------------------------------
# Disks and the chunk plan.

def parse_size(s):
    s = s.strip()
    mult = 1
    suffixes = {'K': 1 << 10, 'M': 1 << 20, 'G': 1 << 30, 'T': 1 << 40}
    if s and s[-1].upper() in suffixes:
        mult = suffixes[s[-1].upper()]
        s = s[:-1]
    try:
        v = int(s, 0)
    except ValueError:
        raise argparse.ArgumentTypeError('bad size: %r' % s)
    if v < 0:
        raise argparse.ArgumentTypeError('negative size')
    return v * mult


class DiskArg(argparse.Action):
    """--disk PATH and --disk-size N append to one ordered list."""

    def __call__(self, parser, ns, value, option_string=None):
        lst = getattr(ns, 'disks', None) or []
        if option_string == '--disk':
            lst.append(('file', value))
        else:
            lst.append(('zero', parse_size(value)))
        ns.disks = lst


def read_at(d, off, n):
    """n bytes of disk d at off; zeros past the source's end."""
    if n <= 0:
        return b''
    data = b''
    if d['path'] is not None and off < d['src_size']:
        with open(d['path'], 'rb') as f:
            f.seek(off)
            data = f.read(min(n, d['src_size'] - off))
    if len(data) < n:
        data += bytes(n - len(data))
    return data


def bad_sum(text, upper):
    """text with every hex digit replaced by the next one."""
    out = ''.join('%x' % ((int(chr(c), 16) + 1) % 16) for c in text)
    return (out.upper() if upper else out).encode()


def is_zero(b):
    return b == bytes(len(b))


def disk_plan(a, d):
    """The (counter, offset, length) data entries of disk d."""
    size = d['data_size']
    nchunks = (size + MIB - 1) // MIB
    plan = []
    counter = 0
    for j in range(nchunks):
        first = j == 0
        last = j == nchunks - 1
        if j in a.keepalive_after and not first and not last:
            plan.append((counter, j * MIB, 0))
            counter += 1
        off = j * MIB
        n = min(MIB, size - off)
        if a.full_last_chunk:
            n = MIB
        skippable = not first and not last and not a.no_skip_zeros
        omit_last = last and not first and a.omit_zero_last
        if (skippable or omit_last) and is_zero(read_at(d, off, n)):
            counter += 1
            continue
        plan.append((counter, off, n))
        counter += 1
    if a.extra_chunk and d['index'] == a.extra_chunk_disk:
        plan.append((counter, nchunks * MIB, -MIB))
    return plan


def chunk_bytes(d, off, n):
    if n < 0:
        # A chunk past the disk's end: bytes that are not zeros.
        return b'\x5a' * (-n)
    return read_at(d, off, n)


# ---------------------------------------------------------------------------
# Output.

class Output:
    """The archive file, optionally through gzip or the zstd command."""

    def __init__(self, path, compress, level):
        if path == '-':
            self.raw = sys.stdout.buffer
            self.close_raw = False
        else:
            self.raw = open(path, 'wb')
            self.close_raw = True
        self.proc = None
        self.gz = None
        if compress == 'gzip':
            self.gz = gzip.GzipFile(fileobj=self.raw, mode='wb',
                                    compresslevel=level or 6, mtime=0)
            self.f = self.gz
        elif compress == 'zstd':
            self.raw.flush()
            self.proc = subprocess.Popen(['zstd', '-q', '-c',
                                          '-%d' % (level or 3)],
                                         stdin=subprocess.PIPE,
                                         stdout=self.raw)
            self.f = self.proc.stdin
        else:
            self.f = self.raw
        self.bytes = 0

    def write(self, b):
        self.bytes += len(b)
        self.f.write(b)

    def close(self):
        if self.gz is not None:
            self.gz.close()
        if self.proc is not None:
            self.proc.stdin.close()
            if self.proc.wait() != 0:
                raise RuntimeError('zstd failed')
        self.raw.flush()
        if self.close_raw:
            self.raw.close()


def write_expected(a, disks):
    os.makedirs(a.expect_dir, exist_ok=True)
    for d in disks:
        path = os.path.join(a.expect_dir,
                            '%s-%s.img' % (d['userdevice'], d['name']))
        size = d['data_size']
        with open(path, 'wb') as f:
            off = 0
            while off < size:
                n = min(MIB, size - off)
                b = read_at(d, off, n)
                if not is_zero(b):
                    f.seek(off)
                    f.write(b)
                off += n
            f.truncate(size)


def write_legacy(a, disks, out):
    """A Zurich/Geneva archive: <appliance version="0.1"> and gzipped
    pieces per disk, without checksums."""
    vbds = []
    vdis = []
    devs = 'abcdefghijklmnopqrstuvwxyz'
    for i, d in enumerate(disks):
        dev = 'sd' + devs[i % 26]
        d['dir'] = 'disk%d' % i
        vbds.append('    <vbd device="%s" function="%s" mode="w" vdi="vdi_%s"/>'
                    % (dev, 'root' if i == 0 else 'data', dev))
        vdis.append('  <vdi name="vdi_%s" size="%d" source="file://%s" '
                    'type="dir-gzipped-chunks" variety="system"/>'
                    % (dev, d['data_size'], d['dir']))
    xml = '\n'.join(
        ['<?xml version="1.0" ?>',
         '<appliance version="0.1">',
         '  <vm name="vm">',
         '    <label>%s</label>' % _xml_escape(a.vm_name),
         '    <shortdesc>%s</shortdesc>' % _xml_escape(a.vm_description),
         '    <config mem_set="%d" vcpus="%d"/>' % (a.memory, a.vcpus),
         '    <hacks is_hvm="true" kernel_boot_cmdline=""/>']
        + vbds + ['  </vm>'] + vdis + ['</appliance>', '']).encode()
    tw = TarWriter(out, a.header, a.mode)
    tw.add('ova.xml', xml, a.mtime)
    piece = 1000000000
    for d in disks:
        off = 0
        k = 0
        while True:
            n = min(piece, d['data_size'] - off)
            raw = read_at(d, off, n)
            tw.add('%s/chunk%09d.gz' % (d['dir'], k),
                   gzip.compress(raw, mtime=0), a.chunk_mtime)
            off += n
            k += 1
            if off >= d['data_size']:
                break
    tw.end(a.end_blocks)


def main(argv=None):
    p = argparse.ArgumentParser(
        prog='xvagen.py', allow_abbrev=False,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=__doc__,
        epilog='Sizes take K, M, G, T (binary) suffixes.  Disk options '
        'keep their order; disk i gets userdevice i, VDI id Ref:<first-id '
        '+ 1 + i> and name disk<i> (see --disk-name).  Entry indices of '
        '--swap-chunks and --bad-checksum count data entries across the '
        'whole stream from 0.')
    g = p.add_argument_group('archive')
    g.add_argument('-o', '--output', help='archive to write ("-": stdout)')
    g.add_argument('--disk', action=DiskArg, metavar='PATH',
                   help='a disk image (repeatable)')
    g.add_argument('--disk-size', action=DiskArg, metavar='N',
                   help='a zero-filled disk of N bytes (repeatable)')
    g.add_argument('--disk-name', action='append', default=[],
                   metavar='NAME', help='VDI name_label of the next disk '
                   'in order (repeatable)')
    g.add_argument('--checksum', choices=['xxhash', 'sha1', 'mixed'],
                   default='xxhash',
                   help='checksum entries: .xxhash, .checksum, or '
                   'alternating (default xxhash)')
    g.add_argument('--header', choices=['v7', 'ustar', 'gnu', 'pax'],
                   default='v7', help='tar header style (default v7, as '
                   'the reference)')
    g.add_argument('--pax-global', action='store_true',
                   help='with --header pax: start with a global pax header')
    g.add_argument('--mode', type=lambda s: int(s, 8), default=0o400,
                   help='entry mode, octal (default 0400)')
    g.add_argument('--mtime', type=int, default=None,
                   help='mtime of ova.xml (default now)')
    g.add_argument('--chunk-mtime', type=int, default=0,
                   help='mtime of the disk entries (default 0)')
    g.add_argument('--compress', choices=['none', 'gzip', 'zstd'],
                   default='none', help='compress the whole stream')
    g.add_argument('--level', type=int, default=0,
                   help='compression level (default gzip 6, zstd 3)')
    g.add_argument('--end-blocks', type=int, default=2,
                   help='zero blocks at the end (default 2)')
    g.add_argument('--no-end-blocks', dest='end_blocks', action='store_const',
                   const=0, help='no zero blocks at the end')
    g.add_argument('--metadata-only', action='store_true',
                   help='ova.xml and the end blocks only (as '
                   '/export_metadata)')
    g.add_argument('--legacy', action='store_true',
                   help='a Zurich <appliance version="0.1"> archive')

    g = p.add_argument_group('chunks')
    g.add_argument('--keepalive-after', type=int, action='append',
                   default=[], metavar='K',
                   help='a zero-length keep-alive entry and its checksum '
                   'before chunk K of each disk (K neither first nor last; '
                   'repeatable)')
    g.add_argument('--full-last-chunk', action='store_true',
                   help='Xen Orchestra style: the last chunk is zero-padded '
                   'to 1 MiB and virtual_size rounded up')
    g.add_argument('--omit-zero-last', action='store_true',
                   help='vorteil style: leave out an all-zero last chunk')
    g.add_argument('--no-skip-zeros', action='store_true',
                   help='write all-zero chunks too')

    g = p.add_argument_group('ova.xml')
    g.add_argument('--indent', action='store_true',
                   help='indented ova.xml with an XML declaration')
    g.add_argument('--typed', action='store_true',
                   help='<string> tags, and integers as strings (the XenAPI '
                   'wire form)')
    g.add_argument('--first-id', type=int, default=0, metavar='N',
                   help='the VM is Ref:N, disk i Ref:N+1+i (default 0)')
    g.add_argument('--vsn', type=int, default=2,
                   help='export_vsn (default 2; below 2 adds a checksum '
                   'table entry, 0 also drops the inline checksums)')
    g.add_argument('--xapi-version', default='1.20', metavar='MAJ.MIN',
                   help='xapi_major.xapi_minor (default 1.20)')
    g.add_argument('--vm-name', default='xvagen vm')
    g.add_argument('--vm-description', default='made by xvagen.py')
    g.add_argument('--memory', type=parse_size, default=256 * MIB)
    g.add_argument('--vcpus', type=int, default=1)
    g.add_argument('--vifs', type=int, default=0, help='VIFs on one network')
    g.add_argument('--iso-cd', action='store_true',
                   help='add a CD VBD whose VDI is in an ISO SR (not '
                   'streamed)')
    g.add_argument('--no-null-refs', dest='null_refs', action='store_false',
                   help='write OpaqueRef:NULL instead of an id naming no '
                   'object for null references')
    g.add_argument('--ova-xml', metavar='FILE',
                   help='use this file as ova.xml, verbatim')

    g = p.add_argument_group('defects (for negative tests)')
    g.add_argument('--declare-size', action='append', default=[],
                   metavar='I=N', help='declare virtual_size N for disk I '
                   'in ova.xml; the data stays that of the disk')
    g.add_argument('--swap-chunks', metavar='I,J',
                   help='swap data entries I and J (with their checksums)')
    g.add_argument('--extra-chunk', action='store_true',
                   help='add a 1 MiB chunk past the end of a disk')
    g.add_argument('--extra-chunk-disk', type=int, default=0, metavar='I',
                   help='the disk for --extra-chunk (default 0)')
    g.add_argument('--bad-checksum', type=int, action='append', default=[],
                   metavar='I', help='a wrong checksum for data entry I')

    g = p.add_argument_group('other outputs')
    g.add_argument('--expect-dir', metavar='DIR',
                   help='write each disk as extraction should give it: '
                   'DIR/<userdevice>-<name>.img')
    g.add_argument('--manifest', metavar='FILE',
                   help='write the entry names in order, one per line')
    g.add_argument('--xxh64', nargs='+', metavar='FILE',
                   help='print XXH64 of each file as xxhsum -H64 does, '
                   'and exit')
    g.add_argument('--cache', metavar='DIR',
                   default=os.environ.get('XVAGEN_CACHE'),
                   help='remember chunk hashes in DIR (default '
                   '$XVAGEN_CACHE; none when unset)')
    g.add_argument('--self-test', action='store_true',
                   help='check the hashes against known vectors, and exit')
    a = p.parse_args(argv)

    global _cache_dir
    if a.self_test:
        return self_test()
    if a.xxh64:
        for path in a.xxh64:
            with open(path, 'rb') as f:
                print('%016x  %s' % (xxh64(f.read()), path))
        return 0
    if a.cache:
        os.makedirs(a.cache, exist_ok=True)
        _cache_dir = a.cache
    if not a.output:
        p.error('-o OUT is required')
    disks_arg = getattr(a, 'disks', None) or []
    if a.ova_xml is None and not disks_arg and not a.metadata_only:
        p.error('no disks: give --disk or --disk-size (or --metadata-only)')
    try:
        maj, mnr = a.xapi_version.split('.')
        a.xapi_major, a.xapi_minor = int(maj), int(mnr)
    except ValueError:
        p.error('bad --xapi-version')
    if a.mtime is None:
        a.mtime = int(time.time())
    a.keepalive_after = set(a.keepalive_after)
    a.build_date = '2024-06-01'
    a.product_version = '8.3.0'

    disks = []
    for i, (kind, v) in enumerate(disks_arg):
        d = {'index': i}
        if kind == 'file':
            d['path'] = v
            d['src_size'] = os.path.getsize(v)
        else:
            d['path'] = None
            d['src_size'] = 0
            d['size'] = v
        size = d['src_size'] if kind == 'file' else v
        if a.full_last_chunk:
            size = (size + MIB - 1) // MIB * MIB
        d['data_size'] = size
        d['declared_size'] = size
        d['name'] = a.disk_name[i] if i < len(a.disk_name) else 'disk%d' % i
        disks.append(d)
    for spec in a.declare_size:
        try:
            i, n = spec.split('=')
            disks[int(i)]['declared_size'] = parse_size(n)
        except (ValueError, IndexError, argparse.ArgumentTypeError):
            p.error('bad --declare-size %r' % spec)

    out = Output(a.output, a.compress, a.level)
    try:
        if a.legacy:
            write_legacy(a, disks, out)
            if a.expect_dir:
                for i, d in enumerate(disks):
                    d['userdevice'] = str(i)
                write_expected(a, disks)
            return 0
        tree = build_ova(a, disks)
        if a.ova_xml:
            with open(a.ova_xml, 'rb') as f:
                xml = f.read()
        elif a.indent:
            xml = ('<?xml version="1.0" encoding="UTF-8"?>\n'
                   + to_xmlrpc_indented(tree, a.typed) + '\n').encode()
        else:
            xml = to_xmlrpc(tree, a.typed).encode()

        tw = TarWriter(out, a.header, a.mode,
                       'root' if a.header != 'v7' else '',
                       'root' if a.header != 'v7' else '')
        names = []
        if a.header == 'pax' and a.pax_global:
            tw.write_pax_global([('comment', 'made by xvagen')])
        tw.add('ova.xml', xml, a.mtime)
        names.append('ova.xml')

        entries = []
        if not a.metadata_only:
            for d in sorted(disks, key=lambda d: d['id'].encode()):
                for counter, off, n in disk_plan(a, d):
                    entries.append((d, counter, off, n))
        if a.swap_chunks:
            i, j = (int(x) for x in a.swap_chunks.split(','))
            entries[i], entries[j] = entries[j], entries[i]

        table = {}
        for idx, (d, counter, off, n) in enumerate(entries):
            name = '%s/%08d' % (d['id'], counter)
            data = chunk_bytes(d, off, n)
            tw.add(name, data, a.chunk_mtime)
            names.append(name)
            kind = a.checksum
            if kind == 'mixed':
                kind = 'xxhash' if idx % 2 == 0 else 'sha1'
            ext, sumtext = checksum_entry(kind, data)
            if idx in a.bad_checksum:
                sumtext = bad_sum(sumtext, kind == 'xxhash')
            if a.vsn < 2:
                table[name] = hashlib.sha1(data).hexdigest()
            if a.vsn > 0:
                tw.add(name + ext, sumtext, a.chunk_mtime)
                names.append(name + ext)
        if a.vsn < 2 and not a.metadata_only:
            body = to_xmlrpc(table).encode()
            tw.add('checksum.xml', body, a.chunk_mtime)
            names.append('checksum.xml')
        tw.end(a.end_blocks)
        if a.manifest:
            with open(a.manifest, 'w') as f:
                f.write(''.join(n + '\n' for n in names))
        if a.expect_dir:
            write_expected(a, disks)
    finally:
        out.close()
    return 0


if __name__ == '__main__':
    sys.exit(main())
