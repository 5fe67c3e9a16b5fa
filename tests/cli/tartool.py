#!/usr/bin/env python3
"""Independent tar and XVA checks for the script tests (stdlib only).

  tartool.py list ARCHIVE            entries: header offset, data offset,
                                     size, name (uncompressed tar only)
  tartool.py check-ref ARCHIVE       every header is in the reference
                                     (xapi / ocaml-tar V7) form and the
                                     archive ends in exactly two zero blocks
  tartool.py ova-json ARCHIVE        ova.xml decoded from XML-RPC to JSON;
                                     also checks it is compact (no
                                     declaration, no whitespace between tags)
  tartool.py expect-chunks IMAGE     the counters of the chunks a writer
                                     that skips all-zero chunks (except the
                                     first and last) writes, one per line
  tartool.py reassemble ARCHIVE ID SIZE OUT
                                     rebuilds disk ID from its entries with
                                     the position rule
  tartool.py sparse-cmp FILE1 FILE2  compares two (sparse) files by reading
                                     only the data extents of either
  tartool.py flip ARCHIVE OFFSET [BIT]
                                     flips one bit in place
  tartool.py rename ARCHIVE INDEX NAME
                                     renames entry INDEX (from 0) and fixes
                                     the header checksum
"""

import json
import os
import sys
import xml.etree.ElementTree as ET

BLOCK = 512
MIB = 1 << 20


def parse_octal(field):
    s = field.rstrip(b'\0 ').lstrip(b' ')
    return int(s, 8) if s else 0


def entries(data):
    """(list of entries, offset just past the last entry)."""
    out = []
    off = 0
    while off + BLOCK <= len(data):
        h = data[off:off + BLOCK]
        if h == bytes(BLOCK):
            break
        name = h[0:100].split(b'\0', 1)[0].decode('utf-8', 'replace')
        size = parse_octal(h[124:136])
        out.append({'hoff': off, 'doff': off + BLOCK, 'size': size,
                    'name': name, 'header': h})
        off += BLOCK + (size + BLOCK - 1) // BLOCK * BLOCK
    return out, off


def read(path):
    with open(path, 'rb') as f:
        return f.read()


def cmd_list(path):
    ents, _ = entries(read(path))
    for e in ents:
        print('%d %d %d %s' % (e['hoff'], e['doff'], e['size'], e['name']))
    return 0


def cmd_check_ref(path):
    data = read(path)
    ents, end = entries(data)
    errs = []
    if not ents or ents[0]['name'] != 'ova.xml':
        errs.append('first entry is not ova.xml')
    for i, e in enumerate(ents):
        h = e['header']
        where = 'entry %d (%s)' % (i, e['name'])
        if h[0:100] != e['name'].encode() + bytes(100 - len(e['name'])):
            errs.append('%s: name not NUL-padded' % where)
        if h[100:108] != b'0000400\0':
            errs.append('%s: mode field %r' % (where, h[100:108]))
        if h[108:116] != b'0000000\0' or h[116:124] != b'0000000\0':
            errs.append('%s: uid/gid %r %r' % (where, h[108:116],
                                                h[116:124]))
        if not (all(48 <= c <= 55 for c in h[124:135]) and h[135] == 0):
            errs.append('%s: size field %r' % (where, h[124:136]))
        if not (all(48 <= c <= 55 for c in h[136:147]) and h[147] == 0):
            errs.append('%s: mtime field %r' % (where, h[136:148]))
        if not (all(48 <= c <= 55 for c in h[148:155]) and h[155] == 0):
            errs.append('%s: checksum field %r (want 7 octal digits, NUL)'
                        % (where, h[148:156]))
        else:
            want = sum(h[:148]) + 8 * 32 + sum(h[156:])
            if int(h[148:155], 8) != want:
                errs.append('%s: header checksum %s, computed %o'
                            % (where, h[148:155].decode(), want))
        if h[156] != 0:
            errs.append('%s: typeflag %r (want NUL)' % (where, h[156:157]))
        if h[157:BLOCK] != bytes(BLOCK - 157):
            errs.append('%s: linkname/magic/uname/gname/dev/prefix not all '
                        'zero (magic %r)' % (where, h[257:265]))
        mtime = parse_octal(h[136:148])
        if i > 0 and mtime != 0:
            errs.append('%s: mtime %d (want 0)' % (where, mtime))
        if e['name'].endswith('/'):
            errs.append('%s: a directory entry' % where)
        pad_end = e['doff'] + (e['size'] + BLOCK - 1) // BLOCK * BLOCK
        if data[e['doff'] + e['size']:pad_end] != \
                bytes(pad_end - e['doff'] - e['size']):
            errs.append('%s: padding not zero' % where)
    if len(data) % BLOCK:
        errs.append('size %d is not a multiple of 512' % len(data))
    if len(data) != end + 2 * BLOCK:
        errs.append('%d bytes after the last entry (want exactly 1024)'
                    % (len(data) - end))
    elif data[end:] != bytes(2 * BLOCK):
        errs.append('the end blocks are not zero')
    for m in errs:
        print(m, file=sys.stderr)
    return 1 if errs else 0


def decode_value(v):
    """An XML-RPC <value> element to Python."""
    kids = list(v)
    if not kids:
        return v.text or ''
    k = kids[0]
    t = k.tag
    if t in ('string',):
        return k.text or ''
    if t in ('int', 'i4', 'i8'):
        return int(k.text)
    if t == 'boolean':
        return k.text.strip() == '1'
    if t == 'double':
        return float(k.text)
    if t == 'dateTime.iso8601':
        return {'__date__': k.text}
    if t == 'struct':
        out = {}
        for m in k.findall('member'):
            out[m.find('name').text or ''] = decode_value(m.find('value'))
        return out
    if t == 'array':
        return [decode_value(x) for x in k.find('data').findall('value')]
    if t == 'nil':
        return None
    raise ValueError('unknown XML-RPC type %s' % t)


def cmd_ova_json(path):
    data = read(path)
    ents, _ = entries(data)
    if not ents or ents[0]['name'] != 'ova.xml':
        print('no ova.xml first', file=sys.stderr)
        return 1
    e = ents[0]
    xml = data[e['doff']:e['doff'] + e['size']]
    errs = []
    if xml.startswith(b'<?xml'):
        errs.append('ova.xml has an XML declaration')
    if not xml.startswith(b'<value>'):
        errs.append('ova.xml does not start with <value>')
    if b'>\n' in xml or b'> <' in xml or b'>\t' in xml:
        errs.append('ova.xml has whitespace between tags')
    try:
        root = ET.fromstring(xml)
        tree = decode_value(root)
    except (ET.ParseError, ValueError, AttributeError) as ex:
        errs.append('ova.xml does not parse: %s' % ex)
        tree = None
    for m in errs:
        print(m, file=sys.stderr)
    if tree is not None:
        json.dump(tree, sys.stdout)
        print()
    return 1 if errs else 0


def cmd_expect_chunks(path):
    data = read(path)
    n = (len(data) + MIB - 1) // MIB
    zero = bytes(MIB)
    for j in range(n):
        c = data[j * MIB:(j + 1) * MIB]
        if j == 0 or j == n - 1 or c != zero[:len(c)]:
            print('%08d' % j)
    return 0


def cmd_reassemble(path, disk_id, size, out):
    """The importer's position rule: start at 0 with previous counter -1;
    for each data entry, skip (counter - previous - 1) * L where L is the
    first data entry's length, write the entry, advance by its length;
    stop at the virtual size."""
    data = read(path)
    ents, _ = entries(data)
    size = int(size)
    img = bytearray(size)
    prefix = disk_id + '/'
    pos = 0
    prev = -1
    L = None
    for e in ents:
        name = e['name']
        if not name.startswith(prefix):
            continue
        rest = name[len(prefix):]
        if not (len(rest) == 8 and rest.isdigit()):
            continue
        counter = int(rest)
        if L is None:
            L = e['size']
        pos += (counter - prev - 1) * L
        chunk = data[e['doff']:e['doff'] + e['size']]
        if pos + len(chunk) > size:
            print('%s goes past the end (%d + %d > %d)'
                  % (name, pos, len(chunk), size), file=sys.stderr)
            return 1
        img[pos:pos + len(chunk)] = chunk
        pos += len(chunk)
        prev = counter
        if pos >= size:
            break
    with open(out, 'wb') as f:
        f.write(img)
    return 0


def data_extents(fd, size):
    out = []
    off = 0
    while off < size:
        try:
            start = os.lseek(fd, off, os.SEEK_DATA)
        except OSError:
            break
        end = os.lseek(fd, start, os.SEEK_HOLE)
        out.append((start, min(end, size)))
        off = end
    return out


def cmd_sparse_cmp(a, b):
    fa = os.open(a, os.O_RDONLY)
    fb = os.open(b, os.O_RDONLY)
    sa = os.fstat(fa).st_size
    sb = os.fstat(fb).st_size
    if sa != sb:
        print('%s: %d bytes, %s: %d bytes' % (a, sa, b, sb), file=sys.stderr)
        return 1
    # Outside the union of both files' data extents both read as zeros.
    for start, end in sorted(data_extents(fa, sa) + data_extents(fb, sb)):
        off = start
        while off < end:
            n = min(MIB, end - off)
            if os.pread(fa, n, off) != os.pread(fb, n, off):
                print('%s and %s differ in [%d, %d)' % (a, b, off, off + n),
                      file=sys.stderr)
                return 1
            off += n
    return 0


def cmd_flip(path, offset, bit='0'):
    with open(path, 'r+b') as f:
        f.seek(int(offset))
        b = f.read(1)
        if not b:
            print('offset past the end', file=sys.stderr)
            return 1
        f.seek(int(offset))
        f.write(bytes([b[0] ^ (1 << int(bit))]))
    return 0


def cmd_rename(path, index, name):
    data = bytearray(read(path))
    ents, _ = entries(bytes(data))
    e = ents[int(index)]
    h = bytearray(e['header'])
    nb = name.encode()
    h[0:100] = nb + bytes(100 - len(nb))
    old = h[148:156]
    h[148:156] = b' ' * 8
    s = sum(h)
    if old[6:8] == b'\0 ':
        h[148:156] = b'%06o\0 ' % s
    else:
        h[148:156] = b'%07o\0' % s
    data[e['hoff']:e['hoff'] + BLOCK] = h
    with open(path, 'wb') as f:
        f.write(data)
    return 0


def main(argv):
    cmds = {'list': cmd_list, 'check-ref': cmd_check_ref,
            'ova-json': cmd_ova_json, 'expect-chunks': cmd_expect_chunks,
            'reassemble': cmd_reassemble, 'flip': cmd_flip,
            'sparse-cmp': cmd_sparse_cmp,
            'rename': cmd_rename}
    if len(argv) < 2 or argv[1] not in cmds:
        print(__doc__, file=sys.stderr)
        return 2
    return cmds[argv[1]](*argv[2:])


if __name__ == '__main__':
    sys.exit(main(sys.argv))
