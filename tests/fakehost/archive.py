"""XVA archive reading for the stand-in host (Python 3 stdlib only).

Reads an archive the way the reference importer does (xva-format.md
sections 1-5): the compression is detected from the first block (a tar
header named `ova.xml` means plain tar, `28 B5 2F FD` zstd, anything else
gzip), the tar headers are checked (V7, ustar, GNU and pax), `ova.xml`
comes first and is one XML-RPC value, and then every streamed disk is
read in byte-wise order of its id with the position rule, each data entry
followed by its `.xxhash` (XXH64, 16 uppercase hex digits) or `.checksum`
(SHA-1, 40 lowercase hex digits) entry, which is verified when
`export_vsn` > 0.  Failures raise XapiError with the code the reference
puts on the task (IMPORT_ERROR, IMPORT_ERROR_PREMATURE_EOF,
IMPORT_INCOMPATIBLE_VERSION).

The decoded tar is kept (ova.xml and the disk entries) so that the host
can send it back out as an export.
"""

import hashlib
import os
import re
import subprocess
import sys
import threading
import time
import xmlrpc.client
import zlib

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                '..', 'gen'))
from xvagen import xxh64  # noqa: E402  (pure-Python XXH64)

BLOCK = 512
ZERO_BLOCK = bytes(BLOCK)
MIB = 1 << 20
ZSTD_MAGIC = b'\x28\xb5\x2f\xfd'


class XapiError(Exception):
    """A XenAPI error: code and parameters (the task's error_info)."""

    def __init__(self, code, *params):
        super().__init__(code)
        self.desc = [str(code)] + [str(p) for p in params]

    def __str__(self):
        return ' '.join(self.desc)


class Cancelled(Exception):
    pass


def invalid(msg):
    return XapiError('IMPORT_ERROR', msg)


# ---------------------------------------------------------------------------
# Byte sources.

class Source:
    """Pull reader over a read(n) function; counts what it delivered.

    read(n) returns up to n bytes, b'' only at the end.  An optional
    check() is called between reads (cancellation)."""

    def __init__(self, read_fn, check=None):
        self._read = read_fn
        self._buf = b''
        self.eof = False
        self.delivered = 0
        self.check = check

    def _fill(self, n):
        if len(self._buf) >= n or self.eof:
            return
        parts = [self._buf]
        have = len(self._buf)
        while have < n:
            if self.check:
                self.check()
            b = self._read(65536)
            if not b:
                self.eof = True
                break
            parts.append(b)
            have += len(b)
        self._buf = b''.join(parts)

    def peek(self, n):
        self._fill(n)
        return self._buf[:n]

    def read(self, n):
        self._fill(n)
        out, self._buf = self._buf[:n], self._buf[n:]
        self.delivered += len(out)
        return out

    def read_some(self, n):
        """What is at hand, at least one byte unless at the end."""
        if not self._buf:
            self._fill(1)
        out, self._buf = self._buf[:n], self._buf[n:]
        self.delivered += len(out)
        return out

    def read_exact(self, n, what):
        out = self.read(n)
        if len(out) != n:
            raise XapiError('IMPORT_ERROR_PREMATURE_EOF',
                            'end of input in %s' % what)
        return out


class GzipSource:
    """Decompresses gzip (any number of members) from a Source."""

    def __init__(self, src):
        self.src = src
        self.d = zlib.decompressobj(31)
        self.started = False

    def __call__(self, n):
        while True:
            raw = self.src.read_some(65536)
            if not raw:
                if self.d.unused_data:
                    raw, self.d = self.d.unused_data, zlib.decompressobj(31)
                else:
                    if self.started and not self.d.eof:
                        raise XapiError('IMPORT_ERROR_PREMATURE_EOF',
                                        'gzip stream cut short')
                    return b''
            try:
                out = self.d.decompress(raw)
                while self.d.eof and self.d.unused_data:
                    rest = self.d.unused_data
                    self.d = zlib.decompressobj(31)
                    out += self.d.decompress(rest)
            except zlib.error as e:
                raise XapiError('IMPORT_ERROR',
                                'Failed to decompress the input: %s' % e)
            self.started = True
            if out:
                return out


class ProcessSource:
    """Decompresses through a command (zstd -dc) fed from a Source."""

    def __init__(self, src, argv):
        self.src = src
        try:
            self.p = subprocess.Popen(argv, stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE,
                                      stderr=subprocess.DEVNULL)
        except OSError as e:
            raise XapiError('IMPORT_ERROR', 'cannot run %s: %s' % (argv[0], e))
        self.err = None
        self.t = threading.Thread(target=self._feed, daemon=True)
        self.t.start()

    def _feed(self):
        try:
            while True:
                b = self.src.read_some(65536)
                if not b:
                    break
                self.p.stdin.write(b)
                self.p.stdin.flush()
        except XapiError as e:
            self.err = e
        except Exception as e:  # broken pipe: the reader stopped
            self.err = XapiError('IMPORT_ERROR', str(e))
        finally:
            try:
                self.p.stdin.close()
            except OSError:
                pass

    def __call__(self, n):
        b = self.p.stdout.read1(n) if hasattr(self.p.stdout, 'read1') \
            else self.p.stdout.read(n)
        if not b:
            rc = self.p.wait()
            if self.err is not None and not isinstance(self.err, XapiError):
                raise self.err
            if rc != 0:
                raise XapiError('IMPORT_ERROR',
                                'zstd failed to decompress the input')
        return b

    def close(self):
        try:
            self.p.kill()
        except OSError:
            pass
        self.p.wait()


# ---------------------------------------------------------------------------
# Tar.

def _num(field):
    if field and field[0] & 0x80:            # base-256
        v = field[0] & 0x7f
        for c in field[1:]:
            v = (v << 8) | c
        return v
    s = field.split(b'\0', 1)[0].strip(b' ')
    if not s:
        return 0
    if not re.fullmatch(rb'[0-7]+', s):
        raise invalid('Invalid XVA file: bad tar number %r' % s)
    return int(s, 8)


def header_ok(block):
    """True when block is a tar header with a right checksum."""
    if len(block) != BLOCK or block == ZERO_BLOCK:
        return False
    try:
        stored = _num(block[148:156])
    except XapiError:
        return False
    total = sum(block[:148]) + 8 * 32 + sum(block[156:])
    return stored == total


def _name(block):
    name = block[0:100].split(b'\0', 1)[0]
    if block[257:263] == b'ustar\0':
        prefix = block[345:500].split(b'\0', 1)[0]
        if prefix:
            name = prefix + b'/' + name
    return name.decode('utf-8', 'replace')


def _pax(data):
    out = {}
    p = 0
    while p < len(data):
        sp = data.find(b' ', p)
        if sp < 0:
            break
        try:
            n = int(data[p:sp])
        except ValueError:
            raise invalid('Invalid XVA file: bad pax record')
        rec = data[sp + 1:p + n - 1]
        k, _, v = rec.partition(b'=')
        out[k.decode()] = v.decode('utf-8', 'replace')
        p += n
    return out


def _pad(n):
    return (BLOCK - n % BLOCK) % BLOCK


class TarReader:
    """Entries of a tar stream; every byte read is kept in self.kept
    when keep is true."""

    def __init__(self, src, keep):
        self.src = src
        self.kept = bytearray() if keep else None
        self.end_marker = False

    def _read(self, n, what):
        b = self.src.read_exact(n, what)
        if self.kept is not None:
            self.kept += b
        return b

    def next(self, what):
        """(name, size) of the next file entry, None at the end marker or
        at the end of the input (at_eof tells which)."""
        longname = None
        pax = {}
        while True:
            first = self.src.peek(1)
            if not first:
                return None
            block = self._read(BLOCK, what)
            if block == ZERO_BLOCK:
                second = self.src.read(BLOCK)
                if self.kept is not None:
                    self.kept += second
                if second == ZERO_BLOCK:
                    self.end_marker = True
                return None
            if not header_ok(block):
                raise invalid('Invalid XVA file: bad tar header (%s)' % what)
            size = _num(block[124:136])
            tf = block[156:157]
            if tf in (b'x', b'g', b'L', b'K'):
                data = self._read(size + _pad(size), what)[:size]
                if tf == b'x':
                    pax = _pax(data)
                elif tf == b'L':
                    longname = data.split(b'\0', 1)[0].decode('utf-8',
                                                              'replace')
                continue
            name = pax.get('path') or longname or _name(block)
            if 'size' in pax:
                size = int(pax['size'])
            if tf not in (b'\0', b'0', b'7'):
                raise invalid('Invalid XVA file: entry %s of type %r'
                              % (name, tf))
            return name, size

    def data(self, size, what, pad=True):
        b = self._read(size, what)
        if pad and _pad(size):
            self._read(_pad(size), what)
        return b


# ---------------------------------------------------------------------------
# ova.xml

def parse_ova(text):
    """The header struct of ova.xml (bytes)."""
    s = text.decode('utf-8', 'replace').lstrip()
    if s.startswith('<?xml'):
        s = s[s.index('?>') + 2:].lstrip()
    if s.startswith('<!DOCTYPE'):
        s = s[s.index('>') + 1:].lstrip()
    if s.startswith('<appliance'):
        raise XapiError('IMPORT_ERROR', 'legacy <appliance> archives are '
                        'not supported')
    try:
        (value,), _ = xmlrpc.client.loads(
            '<methodResponse><params><param>%s</param></params>'
            '</methodResponse>' % s, use_builtin_types=False)
    except Exception as e:
        raise XapiError('IMPORT_ERROR', 'ova.xml is not an XML-RPC value: %s'
                        % e)
    if not isinstance(value, dict) or 'version' not in value \
            or 'objects' not in value:
        raise XapiError('IMPORT_ERROR', 'ova.xml: no version or objects')
    return value


def as_int(v, what):
    try:
        return int(str(v))
    except ValueError:
        raise XapiError('IMPORT_ERROR', 'ova.xml: %s is not an integer: %r'
                        % (what, v))


def as_bool(v):
    if isinstance(v, bool):
        return v
    return str(v).strip().lower() in ('1', 'true')


class Ova:
    """The objects of ova.xml, by id and class."""

    def __init__(self, text):
        self.text = bytes(text)
        hdr = parse_ova(self.text)
        ver = hdr['version']
        if not isinstance(ver, dict):
            raise XapiError('IMPORT_ERROR', 'ova.xml: version not a struct')
        for k in ('hostname', 'date', 'product_version', 'product_brand',
                  'build_number', 'xapi_major', 'xapi_minor'):
            if k not in ver:
                raise XapiError('IMPORT_ERROR',
                                'Field %s not present in rpc' % k)
        self.version = ver
        self.xapi = (as_int(ver['xapi_major'], 'xapi_major'),
                     as_int(ver['xapi_minor'], 'xapi_minor'))
        self.vsn = as_int(ver.get('export_vsn', 0), 'export_vsn')
        self.objects = {}
        self.by_class = {}
        for o in hdr['objects']:
            try:
                cls, oid, snap = o['class'], o['id'], o['snapshot']
            except (TypeError, KeyError):
                raise XapiError('IMPORT_ERROR', 'ova.xml: bad object')
            self.objects[oid] = (cls, snap)
            self.by_class.setdefault(cls, []).append((oid, snap))

    def get(self, oid, cls):
        o = self.objects.get(oid)
        if o is None or o[0] != cls:
            return None
        return o[1]

    def vms(self):
        return self.by_class.get('VM', [])

    def streamed_disks(self):
        """{vdi id: virtual_size} of the disks the stream carries."""
        out = {}
        for _, vbd in self.by_class.get('VBD', []):
            if str(vbd.get('type', 'Disk')) == 'CD':
                continue
            vdi_id = vbd.get('VDI')
            vdi = self.get(vdi_id, 'VDI')
            if vdi is None:
                continue
            sr = self.get(vdi.get('SR'), 'SR')
            if sr is not None and str(sr.get('content_type', '')) == 'iso':
                continue
            out[vdi_id] = as_int(vdi.get('virtual_size', 0), 'virtual_size')
        for vid, vdi in self.by_class.get('VDI', []):
            if str(vdi.get('type', '')) == 'suspend':
                out[vid] = as_int(vdi.get('virtual_size', 0), 'virtual_size')
        return out


# ---------------------------------------------------------------------------
# The whole archive.

def checksum_of(ext, data):
    if ext == '.xxhash':
        if data == bytes(len(data)):
            return _zero_xxh(len(data))
        return '%016X' % xxh64(data)
    return hashlib.sha1(data).hexdigest()


_zero_cache = {}


def _zero_xxh(n):
    if n not in _zero_cache:
        _zero_cache[n] = '%016X' % xxh64(bytes(n))
    return _zero_cache[n]


class Archive:
    """The result of read_archive."""

    def __init__(self):
        self.compression = 'none'
        self.ova = None
        self.ova_text = b''
        self.disk_bytes = b''      # the decoded tar after ova.xml's entry
        self.disks = {}            # vdi id -> virtual_size
        self.entries = 0
        self.mismatches = []
        self.end_marker = False
        self.trailing = False


def read_archive(src, force=False, metadata_only=False, keep=True,
                 host_version=(99, 99), on_progress=None, limit=None):
    """Reads and checks one archive from the Source src."""
    a = Archive()
    first = src.peek(BLOCK)
    if not first:
        raise XapiError('IMPORT_ERROR_PREMATURE_EOF', 'empty input')
    proc = None
    if header_ok(first) and _name(first) == 'ova.xml':
        inner = src
    elif first.startswith(ZSTD_MAGIC):
        a.compression = 'zstd'
        proc = ProcessSource(src, ['zstd', '-dc', '-q'])
        inner = Source(proc, src.check)
    else:
        a.compression = 'gzip'
        inner = Source(GzipSource(src), src.check)
    try:
        _read_tar(a, inner, force, metadata_only, keep, host_version,
                  on_progress, limit)
    finally:
        if proc is not None:
            proc.close()
    return a


def _read_tar(a, src, force, metadata_only, keep, host_version, on_progress,
              limit):
    tar = TarReader(src, keep)
    e = tar.next('the first entry')
    if e is None or e[0] != 'ova.xml':
        raise invalid('Invalid XVA file: the first entry is %s, not ova.xml'
                      % (e[0] if e else 'missing'))
    if e[1] > 64 * MIB:
        raise invalid('ova.xml too large')
    a.ova_text = tar.data(e[1], 'ova.xml')
    a.ova = Ova(a.ova_text)
    if a.ova.xapi > tuple(host_version):
        raise XapiError('IMPORT_INCOMPATIBLE_VERSION')
    ova_end = len(tar.kept) if keep else 0
    a.disks = {} if metadata_only else a.ova.streamed_disks()
    total = sum(a.disks.values()) or 1
    done_before = 0
    chunk_len = None                  # L: global, from the first data entry
    for vdi_id in sorted(a.disks, key=lambda s: s.encode()):
        vsize = a.disks[vdi_id]
        prefix = vdi_id + '/'
        pos, prev, prev_s = 0, -1, None
        while pos < vsize:
            e = tar.next('disk %s' % vdi_id)
            if e is None:
                raise XapiError('IMPORT_ERROR_PREMATURE_EOF',
                                'disk %s ends at %d of %d bytes'
                                % (vdi_id, pos, vsize))
            name, size = e
            if not name.startswith(prefix):
                raise invalid('Invalid XVA file: expected an entry of %s, '
                              'found %s' % (vdi_id, name))
            suffix = name[len(prefix):]
            if not re.fullmatch(r'[0-9]+', suffix) or \
                    (prev_s is not None and suffix <= prev_s):
                raise invalid('Invalid XVA file: entry %s out of order' % name)
            # The reference reads the checksum header before it skips the
            # data's padding: a data entry must be whole blocks.
            if size % BLOCK:
                raise invalid('Invalid XVA file: data entry %s of %d bytes '
                              '(not a multiple of 512)' % (name, size))
            if limit is not None and (len(tar.kept or b'') + size > limit):
                raise XapiError('SR_FULL', str(size), str(limit))
            data = tar.data(size, name)
            counter = int(suffix)
            if chunk_len is None:
                chunk_len = size
            pos += (counter - prev - 1) * chunk_len
            if pos + size > vsize:
                raise invalid('Invalid XVA file: %s goes past the disk\'s '
                              'size %d' % (name, vsize))
            pos += size
            a.entries += 1
            ce = tar.next('the checksum of %s' % name)
            if ce is None:
                raise XapiError('IMPORT_ERROR_PREMATURE_EOF',
                                'no checksum entry after %s' % name)
            cname, csize = ce
            base, ext = os.path.splitext(cname)
            if ext not in ('.xxhash', '.checksum'):
                raise invalid('Found unsupported checksum file %s' % cname)
            if base != name:
                raise invalid('Invalid XVA file: checksum entry %s after %s'
                              % (cname, name))
            if csize > 4096:
                raise invalid('checksum entry %s too large' % cname)
            stored = tar.data(csize, cname).decode('ascii', 'replace')
            if a.ova.vsn > 0:
                got = checksum_of(ext, data)
                if stored != got:
                    if not force:
                        raise invalid('Block %s checksum failed: original = '
                                      '%s; recomputed = %s'
                                      % (name, stored, got))
                    a.mismatches.append(name)
            prev, prev_s = counter, suffix
            if on_progress:
                on_progress((done_before + pos) / total)
        done_before += vsize
    disks_end = len(tar.kept) if keep else 0
    # The end: two zero blocks, or the end of the input.
    e = tar.next('the end marker')
    if e is not None:
        a.trailing = True
    a.end_marker = tar.end_marker
    if keep:
        a.disk_bytes = bytes(tar.kept[ova_end:disks_end])


# ---------------------------------------------------------------------------
# Writing (exports).

def v7_header(name, size, mtime):
    h = bytearray(BLOCK)
    n = name.encode()
    h[0:len(n)] = n
    h[100:108] = b'0000400\0'
    h[108:116] = b'0000000\0'
    h[116:124] = b'0000000\0'
    h[124:136] = b'%011o\0' % size
    h[136:148] = b'%011o\0' % mtime
    h[148:156] = b' ' * 8
    h[148:156] = b'%07o\0' % sum(h)
    return bytes(h)


def build_tar(ova_text, disk_bytes):
    """An archive: ova.xml, the disk entries, two zero blocks."""
    return b''.join([v7_header('ova.xml', len(ova_text), int(time.time())),
                     ova_text, bytes(_pad(len(ova_text))), disk_bytes,
                     bytes(2 * BLOCK)])


def file_source(path):
    f = open(path, 'rb')
    return Source(f.read), f
