/* The writer: which chunks it writes (first and last always, zero
 * chunks and holes never), keep-alive entries when the source is slow,
 * compression, and that the reader takes all of it back. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <xva/xva.h>

#include "harness.h"

#define MIB ((uint64_t) 1024 * 1024)

struct mem {
  unsigned ndisks;
  unsigned char *disk[2];
  uint64_t size[2];
  unsigned preads;
  unsigned delay_us;
  int holes; /* report everything but [3 MiB, 4 MiB) as hole */
};

static int
mem_pread (void *opaque, unsigned disk, void *buf, size_t n, uint64_t off)
{
  struct mem *m = opaque;

  if (disk >= m->ndisks || off + n > m->size[disk])
    abort ();
  memcpy (buf, m->disk[disk] + off, n);
  m->preads++;
  if (m->delay_us)
    usleep (m->delay_us);
  return 0;
}

static int
mem_extent (void *opaque, unsigned disk, uint64_t off, uint64_t *start,
            uint64_t *end)
{
  struct mem *m = opaque;

  (void) disk;
  if (off < 3 * MIB) {
    *start = 3 * MIB;
    *end = 4 * MIB;
  }
  else if (off < 4 * MIB) {
    *start = off;
    *end = 4 * MIB;
  }
  else
    *start = *end = m->size[disk];
  return 0;
}

struct back {
  unsigned char *disk[2];
  uint64_t size[2];
  unsigned writes;
};

static int
back_pwrite (void *opaque, unsigned disk, const void *buf, size_t n,
             uint64_t off)
{
  struct back *b = opaque;

  if (disk > 1 || off + n > b->size[disk])
    abort ();
  memcpy (b->disk[disk] + off, buf, n);
  b->writes++;
  return 0;
}

/* Writes an archive of the disks in m and reads it back; returns the
 * reader's stats through st and the number of sink writes. */
static unsigned
roundtrip (struct mem *m, const struct xva_writer_opts *wo,
           struct xva_reader_stats *st, size_t *archive_len)
{
  uint64_t sizes[2] = { m->size[0], m->size[1] };
  struct xva_vm_spec spec = { "w", NULL, MIB, 1, m->ndisks, sizes, NULL, 0 };
  struct xva_writer_disk wd[2];
  struct xva_source_io sio = { mem_pread, m->holes ? mem_extent : NULL, m,
                               NULL };
  struct xva_sink_io kio = { 0 };
  struct xva_reader_opts ro;
  struct xva_value *root;
  struct xva_meta *meta;
  struct xva_writer *w;
  struct xva_reader *r;
  struct back b;
  char *xml;
  size_t xlen, total = 0;
  unsigned i;
  int status, rc;

  root = xva_meta_build_vm (&spec, &status);
  if (!root || xva_value_to_xml (root, &xml, &xlen) != XVA_OK
      || xva_meta_from_value (root, &meta, NULL, 0) != XVA_OK)
    abort ();
  /* The i-th VDI built is disk i: match stream order back to it. */
  for (i = 0; i < m->ndisks; i++) {
    const struct xva_disk *d = xva_meta_disk (meta, i);
    wd[i].id = d->id;
    wd[i].size = d->virtual_size;
  }
  if (m->ndisks == 2 && strcmp (wd[0].id, wd[1].id) > 0)
    abort ();
  w = xva_writer_new (xml, xlen, wd, m->ndisks, wo, sio, &status);
  CHECK (w != NULL);
  xva_reader_opts_init (&ro);
  memset (&b, 0, sizeof b);
  for (i = 0; i < m->ndisks; i++) {
    b.disk[i] = calloc (1, m->size[i] ? m->size[i] : 1);
    b.size[i] = m->size[i];
  }
  kio.pwrite = back_pwrite;
  kio.opaque = &b;
  r = xva_reader_new (&ro, kio, &status);
  CHECK (r != NULL);
  for (;;) {
    const void *p;
    size_t n;
    struct xva_in in;

    rc = xva_writer_next (w, &p, &n);
    if (rc == XVA_EOF)
      break;
    CHECK_MSG (rc == XVA_OK, xva_writer_errmsg (w));
    if (rc != XVA_OK)
      break;
    total += n;
    in.src = p;
    in.size = n;
    in.pos = 0;
    rc = xva_reader_feed (r, &in);
    CHECK_MSG (rc == XVA_OK || rc == XVA_EOF, xva_reader_errmsg (r));
  }
  CHECK_MSG (xva_reader_finish (r) == XVA_OK, xva_reader_errmsg (r));
  xva_reader_stats (r, st);
  for (i = 0; i < m->ndisks; i++) {
    CHECK (m->size[i] == 0 || memcmp (b.disk[i], m->disk[i], m->size[i]) == 0);
    free (b.disk[i]);
  }
  *archive_len = total;
  xva_reader_free (r);
  xva_writer_free (w);
  xva_meta_free (meta);
  free (xml);
  return b.writes;
}

int
main (void)
{
  struct xva_writer_opts wo;
  struct xva_reader_stats st;
  struct mem m;
  size_t alen, plain_len;
  unsigned writes;
  int c;

  memset (&m, 0, sizeof m);
  m.ndisks = 1;
  m.size[0] = 5 * MIB + 4096;
  m.disk[0] = calloc (1, m.size[0]);
  memset (m.disk[0] + 3 * MIB + 100, 0x5a, 5000);

  /* Chunks 0 (first), 3 (data) and 5 (last) are written. */
  xva_writer_opts_init (&wo);
  writes = roundtrip (&m, &wo, &st, &plain_len);
  CHECK (st.chunks == 3);
  CHECK (st.keepalives == 0);
  CHECK (st.checksum_kinds == 1u << XVA_CHECKSUM_XXHASH);
  CHECK (writes == 3);
  CHECK (m.preads == 6);
  CHECK (plain_len % 512 == 0);

  /* Holes are not read at all. */
  m.preads = 0;
  m.holes = 1;
  writes = roundtrip (&m, &wo, &st, &alen);
  CHECK (st.chunks == 3);
  CHECK (m.preads == 3);
  CHECK (alen == plain_len);
  m.holes = 0;

  /* SHA-1 and both compressions. */
  wo.checksum = XVA_CHECKSUM_SHA1;
  for (c = XVA_COMPRESS_NONE; c <= XVA_COMPRESS_ZSTD; c++) {
    wo.compress = c;
    roundtrip (&m, &wo, &st, &alen);
    CHECK (st.compress == c);
    CHECK (st.checksum_kinds == 1u << XVA_CHECKSUM_SHA1);
    if (c != XVA_COMPRESS_NONE)
      CHECK (alen < plain_len / 4);
  }

  /* A slow source gets keep-alive entries; the data still lands right,
   * with and without compression. */
  xva_writer_opts_init (&wo);
  wo.keepalive_ms = 5;
  wo.threads = 1; /* no read-ahead: every read is waited for */
  m.delay_us = 20000;
  for (c = XVA_COMPRESS_NONE; c <= XVA_COMPRESS_ZSTD; c++) {
    wo.compress = c;
    roundtrip (&m, &wo, &st, &alen);
    CHECK (st.keepalives >= 2);
    CHECK (st.chunks == 3 + st.keepalives);
  }
  m.delay_us = 0;

  /* Two disks, one empty. */
  m.ndisks = 2;
  m.size[1] = 0;
  m.disk[1] = NULL;
  xva_writer_opts_init (&wo);
  roundtrip (&m, &wo, &st, &alen);
  CHECK (st.chunks == 3);

  /* The first disk in the stream is shorter than a chunk: readers then
   * step over skipped chunks by its length, so nothing may be skipped
   * (regression: the second disk came back with its data misplaced). */
  m.ndisks = 2;
  m.size[1] = m.size[0];
  m.disk[1] = m.disk[0];
  m.size[0] = 4096;
  m.disk[0] = calloc (1, 4096);
  m.disk[0][7] = 1;
  roundtrip (&m, &wo, &st, &alen);
  CHECK (st.chunks == 1 + 6);
  free (m.disk[0]);
  m.disk[0] = m.disk[1];

  /* Short last chunks followed by more data, compressed: a short chunk
   * fits whole in the reader's decompression buffer, which is refilled
   * before the chunk is checked (regression: checksum mismatches on
   * the second disk). */
  free (m.disk[0]);
  m.ndisks = 2;
  for (c = 0; c < 2; c++) {
    size_t k;
    m.size[c] = MIB + 4096;
    m.disk[c] = malloc (m.size[c]);
    for (k = 0; k < m.size[c]; k++)
      m.disk[c][k] = (unsigned char) (k * 7 + (size_t) c * 13 + (k >> 12));
  }
  xva_writer_opts_init (&wo);
  for (c = XVA_COMPRESS_GZIP; c <= XVA_COMPRESS_ZSTD; c++) {
    wo.compress = c;
    roundtrip (&m, &wo, &st, &alen);
    CHECK (st.mismatches == 0);
    CHECK (st.chunks == 4);
  }
  free (m.disk[1]);

  free (m.disk[0]);
  HARNESS_DONE ();
}
