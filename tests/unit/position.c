/* The chunk position rule (xva-format.md 2.1 and 2.3): gaps are zeros,
 * keep-alive entries advance the counter and not the offset, and the
 * first entry's length is the step for every gap. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <xva/xva.h>

#include "format/tar.h"
#include "harness.h"

#define MIB (1024 * 1024)

struct buf {
  unsigned char *p;
  size_t len, cap;
};

static void
put (struct buf *b, const void *p, size_t n)
{
  if (b->len + n > b->cap) {
    b->cap = (b->len + n) * 2;
    b->p = realloc (b->p, b->cap);
    if (!b->p)
      abort ();
  }
  memcpy (b->p + b->len, p, n);
  b->len += n;
}

static void
entry (struct buf *b, const char *name, const void *data, size_t n)
{
  unsigned char h[512], zero[512] = { 0 };

  if (Xva_tar_header (h, name, n, 0) != 0)
    abort ();
  put (b, h, 512);
  put (b, data, n);
  put (b, zero, Xva_tar_pad (n));
}

static void
chunk (struct buf *b, const char *name, const void *data, size_t n)
{
  char sum[64], hex[41];

  entry (b, name, data, n);
  xva_checksum_hex (XVA_CHECKSUM_XXHASH, data, n, hex);
  snprintf (sum, sizeof sum, "%s.xxhash", name);
  entry (b, sum, hex, 16);
}

struct sink {
  unsigned char *disk;
  uint64_t size;
  unsigned writes;
};

static int
sink_pwrite (void *opaque, unsigned disk, const void *buf, size_t n,
             uint64_t off)
{
  struct sink *s = opaque;

  if (disk != 0 || off + n > s->size)
    abort ();
  memcpy (s->disk + off, buf, n);
  s->writes++;
  return 0;
}

int
main (void)
{
  uint64_t size = 5 * MIB;
  struct xva_vm_spec spec = { "pos", NULL, MIB, 1, 1, &size, NULL, 0 };
  struct xva_value *root;
  struct xva_meta *m;
  struct xva_reader_opts o;
  struct xva_sink_io io = { 0 };
  struct xva_reader *r;
  struct xva_reader_stats st;
  struct buf b = { 0 };
  struct sink s;
  unsigned char *a, *want;
  char *xml, name[64];
  const char *id;
  size_t xlen;
  int status, rc;

  root = xva_meta_build_vm (&spec, &status);
  CHECK (root != NULL);
  if (!root)
    return 1;
  CHECK (xva_value_to_xml (root, &xml, &xlen) == XVA_OK);
  CHECK (xva_meta_from_value (root, &m, NULL, 0) == XVA_OK);
  id = xva_meta_disk (m, 0)->id;

  a = malloc (MIB);
  want = calloc (1, size);
  s.disk = calloc (1, size);
  s.size = size;
  s.writes = 0;
  entry (&b, "ova.xml", xml, xlen);
  memset (a, 'a', MIB);
  snprintf (name, sizeof name, "%s/00000000", id);
  chunk (&b, name, a, MIB);
  memcpy (want, a, MIB);
  /* keep-alive: counter 1, no data, offset stays at 1 MiB */
  snprintf (name, sizeof name, "%s/00000001", id);
  chunk (&b, name, "", 0);
  memset (a, 'b', MIB);
  snprintf (name, sizeof name, "%s/00000002", id);
  chunk (&b, name, a, MIB);
  memcpy (want + MIB, a, MIB);
  /* counters 3 and 4 skipped: 2 MiB of zeros; 5 goes at 4 MiB */
  memset (a, 'c', MIB);
  snprintf (name, sizeof name, "%s/00000005", id);
  chunk (&b, name, a, MIB);
  memcpy (want + 4 * MIB, a, MIB);
  memset (a, 0, 1024);
  put (&b, a, 1024);

  xva_reader_opts_init (&o);
  io.pwrite = sink_pwrite;
  io.opaque = &s;
  r = xva_reader_new (&o, io, &status);
  CHECK (r != NULL);
  {
    struct xva_in in = { b.p, b.len, 0 };
    rc = xva_reader_feed (r, &in);
    CHECK_MSG (rc == XVA_EOF, xva_reader_errmsg (r));
  }
  CHECK_MSG (xva_reader_finish (r) == XVA_OK, xva_reader_errmsg (r));
  xva_reader_stats (r, &st);
  CHECK (st.keepalives == 1);
  CHECK (st.chunks == 4);
  CHECK (st.complete);
  CHECK (memcmp (s.disk, want, size) == 0);
  CHECK (s.writes == 3);
  xva_reader_free (r);

  /* Out of order counters are refused. */
  b.len = 0;
  entry (&b, "ova.xml", xml, xlen);
  memset (a, 'a', MIB);
  snprintf (name, sizeof name, "%s/00000002", id);
  chunk (&b, name, a, MIB);
  snprintf (name, sizeof name, "%s/00000001", id);
  chunk (&b, name, a, MIB);
  r = xva_reader_new (&o, (struct xva_sink_io) { 0 }, &status);
  {
    struct xva_in in = { b.p, b.len, 0 };
    rc = xva_reader_feed (r, &in);
    CHECK (rc == XVA_EFORMAT);
    CHECK_MSG (strstr (xva_reader_errmsg (r), "out of order") != NULL,
               xva_reader_errmsg (r));
  }
  xva_reader_free (r);

  /* A chunk past the disk's end is refused before it is written. */
  b.len = 0;
  entry (&b, "ova.xml", xml, xlen);
  snprintf (name, sizeof name, "%s/00000000", id);
  chunk (&b, name, a, MIB);
  snprintf (name, sizeof name, "%s/00000005", id);
  chunk (&b, name, a, MIB);
  s.writes = 0;
  io.opaque = &s;
  r = xva_reader_new (&o, io, &status);
  {
    struct xva_in in = { b.p, b.len, 0 };
    rc = xva_reader_feed (r, &in);
    CHECK (rc == XVA_EFORMAT);
    CHECK_MSG (strstr (xva_reader_errmsg (r), "past the end") != NULL,
               xva_reader_errmsg (r));
  }
  CHECK (s.writes == 1);
  xva_reader_free (r);

  xva_meta_free (m);
  free (xml);
  free (a);
  free (want);
  free (s.disk);
  free (b.p);
  HARNESS_DONE ();
}
