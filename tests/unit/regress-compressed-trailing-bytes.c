/* Regression: bytes after the end of a compressed archive.
 *
 * The reader decompressed a whole buffer before the tar layer saw any
 * of it; when the input held the end of the gzip or zstd stream and
 * then anything else (zero padding, junk), decompression failed first
 * and the archive was refused (XVA_ECOMPRESS), although its end marker
 * had come out intact.  Fed in pieces that happened to stop at the end
 * of the compressed stream, the same bytes were accepted: the outcome
 * depended on how the input was cut (found by tests/fuzz/reader.c,
 * which reads each input both in pieces and at once).  Bytes that come
 * out before a decompression error now reach the tar layer first; the
 * rest after the archive's end is not part of it, as with plain tar. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xva/xva.h>

#include "harness.h"

#define DISK 4096

static unsigned char disk[DISK];

static int
src_pread (void *opaque, unsigned d, void *buf, size_t n, uint64_t off)
{
  (void) opaque;
  (void) d;
  memcpy (buf, disk + off, n);
  return 0;
}

struct sink {
  unsigned char got[DISK];
  int bad;
};

static int
sink_pwrite (void *opaque, unsigned d, const void *buf, size_t n, uint64_t off)
{
  struct sink *s = opaque;

  if (d != 0 || off > DISK || n > DISK - off)
    s->bad = 1;
  else
    memcpy (s->got + off, buf, n);
  return 0;
}

/* A one-disk archive, compressed; *len its length.  The buffer has room
 * for `extra` more bytes. */
static unsigned char *
make_archive (int compress, size_t extra, size_t *len)
{
  struct xva_vm_spec spec;
  struct xva_value *root;
  struct xva_meta *meta = NULL;
  struct xva_writer_disk wd;
  struct xva_writer_opts wo;
  struct xva_source_io io = { src_pread, NULL, NULL, NULL };
  struct xva_writer *w = NULL;
  uint64_t size = DISK;
  unsigned char *a = NULL;
  size_t cap = 0, xlen = 0;
  char *xml = NULL;
  int st = 0, rc;

  *len = 0;
  memset (&spec, 0, sizeof spec);
  spec.name = "trailing";
  spec.memory = 1 << 28;
  spec.vcpus = 1;
  spec.ndisks = 1;
  spec.disk_sizes = &size;
  root = xva_meta_build_vm (&spec, &st);
  if (!root || xva_value_to_xml (root, &xml, &xlen) != XVA_OK
      || xva_meta_from_value (root, &meta, NULL, 0) != XVA_OK)
    goto out;
  wd.id = xva_meta_disk (meta, 0)->id;
  wd.size = DISK;
  xva_writer_opts_init (&wo);
  wo.compress = compress;
  wo.threads = 1;
  wo.mtime = 0;
  w = xva_writer_new (xml, xlen, &wd, 1, &wo, io, &st);
  if (!w)
    goto out;
  for (;;) {
    struct xva_out o;

    if (cap - *len < 4096 + extra) {
      cap = cap ? 2 * cap : 65536;
      a = realloc (a, cap);
      if (!a)
        abort ();
    }
    o.dst = a + *len;
    o.size = cap - *len - extra;
    o.pos = 0;
    rc = xva_writer_step (w, &o);
    *len += o.pos;
    if (rc != XVA_OK)
      break;
  }
  CHECK_MSG (rc == XVA_EOF, xva_writer_errmsg (w));
out:
  xva_writer_free (w);
  xva_meta_free (meta);
  free (xml);
  return a;
}

/* Reads a[0..len) in pieces of `piece` bytes (0: at once). */
static int
read_archive (const unsigned char *a, size_t len, size_t piece, struct sink *s,
              char *msg, size_t msglen)
{
  struct xva_sink_io io;
  struct xva_reader_opts o;
  struct xva_reader *r;
  size_t pos = 0;
  int st = 0, rc = XVA_OK;

  memset (s, 0, sizeof *s);
  memset (&io, 0, sizeof io);
  io.pwrite = sink_pwrite;
  io.opaque = s;
  xva_reader_opts_init (&o);
  o.threads = 1;
  r = xva_reader_new (&o, io, &st);
  if (!r)
    return st;
  while (pos < len) {
    size_t n = piece && piece < len - pos ? piece : len - pos;
    struct xva_in in = { a + pos, n, 0 };

    rc = xva_reader_feed (r, &in);
    pos += in.pos;
    if (rc != XVA_OK)
      break;
  }
  if (rc >= 0)
    rc = xva_reader_finish (r);
  snprintf (msg, msglen, "%s", xva_reader_errmsg (r));
  xva_reader_free (r);
  return rc;
}

int
main (void)
{
  static const char junk[] = "JUNK after the archive\n";
  static const size_t pieces[] = { 0, 1, 512, 4099 };
  int compress, kind;
  size_t i;

  for (i = 0; i < DISK; i++)
    disk[i] = (unsigned char) (i * 7 + 1);
  for (compress = XVA_COMPRESS_GZIP; compress <= XVA_COMPRESS_ZSTD; compress++)
    for (kind = 0; kind < 3; kind++) {
      size_t len = 0, extra = kind == 0   ? 0
                              : kind == 1 ? 1024
                                          : sizeof junk - 1;
      unsigned char *a = make_archive (compress, extra, &len);
      size_t p;

      CHECK (a != NULL && len > 0);
      if (!a)
        continue;
      if (kind == 1)
        memset (a + len, 0, extra);
      else if (kind == 2)
        memcpy (a + len, junk, extra);
      len += extra;
      for (p = 0; p < sizeof pieces / sizeof pieces[0]; p++) {
        struct sink s;
        char msg[1024];
        int rc = read_archive (a, len, pieces[p], &s, msg, sizeof msg);

        if (rc != XVA_OK)
          fprintf (stderr, "%s + %s, pieces of %zu: %s\n",
                   xva_compress_name (compress),
                   kind == 0   ? "nothing"
                   : kind == 1 ? "zeros"
                               : "junk",
                   pieces[p], msg);
        CHECK (rc == XVA_OK);
        CHECK (!s.bad && memcmp (s.got, disk, DISK) == 0);
      }
      free (a);
    }
  HARNESS_DONE ();
}
