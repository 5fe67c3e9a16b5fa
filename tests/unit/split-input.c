/* The reader takes an archive in pieces of any size: 1, 7, 512, 513 and
 * random bytes, for every compression and checksum kind, and gives back
 * the disks exactly.  An archive cut short ends in XVA_ETRUNCATED; a
 * flipped byte in chunk data gives XVA_ECHECKSUM before the sink sees
 * the chunk.  Public API only. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xva/xva.h>

#include "harness.h"

#define MIB ((uint64_t) 1024 * 1024)
#define NDISKS 3

/* Deterministic pseudo-random bytes (xorshift64*). */
static uint64_t rng_state = 0x9E3779B97F4A7C15u;

static uint64_t
rng (void)
{
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return rng_state * 0x2545F4914F6CDD1Du;
}

static void
fill_random (unsigned char *p, size_t n)
{
  size_t i;

  for (i = 0; i < n; i++)
    p[i] = (unsigned char) (rng () >> 56);
}

/* The disks of one VM, in userdevice order. */
struct disks {
  unsigned char *data[NDISKS];
  uint64_t size[NDISKS];
};

static int
src_pread (void *opaque, unsigned disk, void *buf, size_t n, uint64_t off)
{
  struct disks *d = opaque;

  if (disk >= NDISKS || off > d->size[disk] || n > d->size[disk] - off) {
    fprintf (stderr, "pread out of range: disk %u off %llu n %zu\n", disk,
             (unsigned long long) off, n);
    abort ();
  }
  memcpy (buf, d->data[disk] + off, n);
  return 0;
}

/* An archive in memory. */
struct buf {
  unsigned char *p;
  size_t len;
  size_t cap;
};

static void
buf_append (struct buf *b, const void *p, size_t n)
{
  if (b->len + n > b->cap) {
    size_t cap = b->cap ? b->cap : 65536;
    while (cap < b->len + n)
      cap *= 2;
    b->p = realloc (b->p, cap);
    if (b->p == NULL)
      abort ();
    b->cap = cap;
  }
  memcpy (b->p + b->len, p, n);
  b->len += n;
}

/* The ova.xml of a VM with these disks, and the writer's disk list in
 * userdevice order (ids point into *meta). */
static char *
build_meta (const struct disks *d, struct xva_meta **meta, size_t *len,
            struct xva_writer_disk *wd)
{
  struct xva_vm_spec spec;
  struct xva_value *root;
  char *xml = NULL;
  unsigned i, k;
  int status = 0;

  memset (&spec, 0, sizeof spec);
  spec.name = "split input";
  spec.memory = 256 * MIB;
  spec.vcpus = 2;
  spec.ndisks = NDISKS;
  spec.disk_sizes = d->size;
  root = xva_meta_build_vm (&spec, &status);
  CHECK (root != NULL);
  if (root == NULL)
    return NULL;
  CHECK (xva_value_to_xml (root, &xml, len) == XVA_OK);
  CHECK (xva_meta_from_value (root, meta, NULL, 0) == XVA_OK);
  CHECK (xva_meta_ndisks (*meta) == NDISKS);
  for (k = 0; k < xva_meta_ndisks (*meta); k++) {
    const struct xva_disk *dk = xva_meta_disk (*meta, k);
    i = (unsigned) strtoul (dk->userdevice, NULL, 10);
    CHECK (i < NDISKS);
    if (i >= NDISKS)
      continue;
    wd[i].id = dk->id;
    wd[i].size = dk->virtual_size;
    CHECK (dk->virtual_size == d->size[i]);
  }
  return xml;
}

/* Writes the archive into memory with xva_writer_step. */
static int
write_archive (struct disks *d, int checksum, int compress, struct buf *out)
{
  struct xva_writer_disk wd[NDISKS];
  struct xva_writer_opts wo;
  struct xva_source_io io = { src_pread, NULL, NULL, NULL };
  struct xva_meta *meta = NULL;
  struct xva_writer *w;
  unsigned char tmp[70000];
  size_t xlen = 0;
  char *xml;
  int status = 0, rc, ok = 0;

  io.opaque = d;
  memset (wd, 0, sizeof wd);
  xml = build_meta (d, &meta, &xlen, wd);
  if (xml == NULL)
    return -1;
  xva_writer_opts_init (&wo);
  wo.checksum = checksum;
  wo.compress = compress;
  wo.keepalive_ms = UINT32_MAX;
  w = xva_writer_new (xml, xlen, wd, NDISKS, &wo, io, &status);
  CHECK (w != NULL);
  if (w == NULL)
    goto out;
  for (;;) {
    /* Odd output sizes too. */
    struct xva_out o = { tmp, 1 + (size_t) (rng () % sizeof tmp), 0 };
    rc = xva_writer_step (w, &o);
    buf_append (out, tmp, o.pos);
    if (rc == XVA_EOF)
      break;
    CHECK_MSG (rc == XVA_OK, xva_writer_errmsg (w));
    if (rc != XVA_OK)
      goto out;
  }
  ok = 1;
out:
  xva_writer_free (w);
  xva_meta_free (meta);
  free (xml);
  return ok ? 0 : -1;
}

/* The sink: disks in memory, indexed by userdevice. */
struct sink {
  unsigned char *data[NDISKS];
  uint64_t size[NDISKS];
  unsigned map[NDISKS]; /* reader disk index -> userdevice */
  int begun;
  int bad;
};

static int
sink_begin (void *opaque, const struct xva_meta *m)
{
  struct sink *s = opaque;
  unsigned k;

  s->begun++;
  if (xva_meta_ndisks (m) != NDISKS) {
    s->bad = 1;
    return 0;
  }
  for (k = 0; k < NDISKS; k++) {
    const struct xva_disk *dk = xva_meta_disk (m, k);
    unsigned long i = strtoul (dk->userdevice, NULL, 10);
    if (i >= NDISKS || dk->virtual_size != s->size[i])
      s->bad = 1;
    else
      s->map[k] = (unsigned) i;
  }
  return 0;
}

static int
sink_pwrite (void *opaque, unsigned disk, const void *buf, size_t n,
             uint64_t off)
{
  struct sink *s = opaque;
  unsigned i;

  if (!s->begun || disk >= NDISKS) {
    s->bad = 1;
    return 0;
  }
  i = s->map[disk];
  if (off > s->size[i] || n > s->size[i] - off) {
    s->bad = 1;
    return 0;
  }
  memcpy (s->data[i] + off, buf, n);
  return 0;
}

static void
sink_init (struct sink *s, const struct disks *d)
{
  unsigned i;

  memset (s, 0, sizeof *s);
  for (i = 0; i < NDISKS; i++) {
    s->size[i] = d->size[i];
    s->data[i] = calloc (1, d->size[i] ? d->size[i] : 1);
    if (s->data[i] == NULL)
      abort ();
  }
}

static void
sink_fini (struct sink *s)
{
  unsigned i;

  for (i = 0; i < NDISKS; i++)
    free (s->data[i]);
}

enum { SLICE_RANDOM = 0 };

/* Feeds a[0..len) in slices of `slice` bytes (SLICE_RANDOM: random
 * sizes) to a new reader; returns the first error status from feed, or
 * else the status of finish.  *sink gets the disks. */
static int
read_archive (const unsigned char *a, size_t len, size_t slice,
              const struct disks *d, struct sink *s,
              struct xva_reader_stats *st, char *msg, size_t msglen)
{
  struct xva_reader_opts ro;
  struct xva_sink_io io;
  struct xva_reader *r;
  size_t pos = 0;
  int status = 0, rc = XVA_OK, eof = 0;

  sink_init (s, d);
  memset (&io, 0, sizeof io);
  io.begin = sink_begin;
  io.pwrite = sink_pwrite;
  io.opaque = s;
  xva_reader_opts_init (&ro);
  r = xva_reader_new (&ro, io, &status);
  CHECK (r != NULL);
  if (r == NULL)
    return status;
  while (pos < len) {
    size_t n = slice;
    struct xva_in in;

    if (slice == SLICE_RANDOM)
      n = (rng () & 3) ? 1 + (size_t) (rng () % 1024)
                       : 1 + (size_t) (rng () % 200000);
    if (n > len - pos)
      n = len - pos;
    in.src = a + pos;
    in.size = n;
    in.pos = 0;
    rc = xva_reader_feed (r, &in);
    if (rc < 0)
      break;
    CHECK (in.pos <= in.size);
    if (rc == XVA_OK)
      CHECK (in.pos == in.size);
    pos += in.pos;
    if (rc == XVA_EOF) {
      eof = 1;
      break;
    }
  }
  if (rc >= 0) {
    rc = xva_reader_finish (r);
    if (eof)
      CHECK (rc == XVA_OK);
  }
  snprintf (msg, msglen, "%s",
            xva_reader_errmsg (r) ? xva_reader_errmsg (r) : "");
  xva_reader_stats (r, st);
  xva_reader_free (r);
  return rc;
}

static int
disks_equal (const struct sink *s, const struct disks *d)
{
  unsigned i;

  for (i = 0; i < NDISKS; i++)
    if (d->size[i] && memcmp (s->data[i], d->data[i], d->size[i]) != 0)
      return 0;
  return 1;
}

/* The data offset of entry `name` in an uncompressed tar, or -1. */
static long
tar_find (const unsigned char *a, size_t len, const char *name)
{
  size_t off = 0;

  while (off + 512 <= len) {
    const unsigned char *h = a + off;
    char field[13];
    unsigned long long size;

    if (h[0] == 0)
      return -1;
    memcpy (field, h + 124, 12);
    field[12] = 0;
    size = strtoull (field, NULL, 8);
    if (strncmp ((const char *) h, name, 100) == 0)
      return (long) (off + 512);
    off += 512 + (size_t) ((size + 511) / 512 * 512);
  }
  return -1;
}

static void
make_disks (struct disks *d, int small)
{
  unsigned i;

  if (small) {
    d->size[0] = 0;
    d->size[1] = 4096;
    d->size[2] = 8192 + 512;
  }
  else {
    d->size[0] = 0;
    d->size[1] = MIB + MIB / 2;
    d->size[2] = 2 * MIB + 512;
  }
  for (i = 0; i < NDISKS; i++) {
    d->data[i] = calloc (1, d->size[i] ? d->size[i] : 1);
    if (d->data[i] == NULL)
      abort ();
  }
  if (small) {
    fill_random (d->data[1], d->size[1]);
    fill_random (d->data[2] + 512, d->size[2] - 1024);
  }
  else {
    /* Disk 1: chunk 0 all zero (written: it is the first), then data
     * with a zero stretch.  Disk 2: chunk 1 all zero (skipped). */
    fill_random (d->data[1] + MIB, MIB / 2);
    memset (d->data[1] + MIB + 4096, 0, 65536);
    fill_random (d->data[2], MIB);
    fill_random (d->data[2] + 2 * MIB, 512);
  }
}

int
main (void)
{
  static const size_t slices[] = { 7, 512, 513, SLICE_RANDOM };
  struct disks big, small;
  int compress, checksum;
  char msg[1024];
  size_t k;

  make_disks (&big, 0);
  make_disks (&small, 1);

  for (compress = XVA_COMPRESS_NONE; compress <= XVA_COMPRESS_ZSTD; compress++)
    for (checksum = XVA_CHECKSUM_XXHASH; checksum <= XVA_CHECKSUM_SHA1;
         checksum++) {
      struct buf ab = { 0 }, as = { 0 };
      struct xva_reader_stats st;
      struct sink s;
      int rc;

      fprintf (stderr, "compress %s checksum %s\n",
               xva_compress_name (compress), xva_checksum_name (checksum));
      if (write_archive (&big, checksum, compress, &ab) != 0
          || write_archive (&small, checksum, compress, &as) != 0) {
        CHECK_MSG (0, "write_archive");
        free (ab.p);
        free (as.p);
        continue;
      }

      /* The small archive byte by byte, then in 7-byte slices. */
      rc = read_archive (as.p, as.len, 1, &small, &s, &st, msg, sizeof msg);
      CHECK_MSG (rc == XVA_OK, msg);
      CHECK (!s.bad && s.begun == 1);
      CHECK (disks_equal (&s, &small));
      CHECK (st.compress == compress);
      CHECK (st.checksum_kinds == 1u << checksum);
      CHECK (st.complete);
      sink_fini (&s);

      for (k = 0; k < sizeof slices / sizeof slices[0]; k++) {
        rc = read_archive (ab.p, ab.len, slices[k], &big, &s, &st, msg,
                           sizeof msg);
        CHECK_MSG (rc == XVA_OK, msg);
        if (rc != XVA_OK)
          fprintf (stderr, "  slices of %zu\n", slices[k]);
        CHECK (!s.bad && s.begun == 1);
        CHECK (disks_equal (&s, &big));
        CHECK (st.compress == compress);
        CHECK (st.checksum_kinds == 1u << checksum);
        /* Disk 1: chunks 0 and 1; disk 2: chunks 0 and 2. */
        CHECK (st.chunks == 4);
        CHECK (st.keepalives == 0);
        CHECK (!st.metadata_only);
        CHECK (st.complete);
        sink_fini (&s);
      }

      /* Cut short: the reader wants more. */
      {
        size_t cuts[4];
        size_t c;

        cuts[0] = 100;
        cuts[1] = ab.len / 3;
        cuts[2] = ab.len / 2;
        /* Uncompressed: the start of the last checksum entry's header
         * (entry 512 + data 512, then the two end blocks). */
        cuts[3] = compress == XVA_COMPRESS_NONE ? ab.len - 2048
                                                : ab.len * 9 / 10;
        for (c = 0; c < 4; c++) {
          rc = read_archive (ab.p, cuts[c], 513, &big, &s, &st, msg,
                             sizeof msg);
          CHECK_MSG (rc == XVA_ETRUNCATED, msg);
          if (rc != XVA_ETRUNCATED)
            fprintf (stderr, "  cut at %zu of %zu: %s\n", cuts[c], ab.len,
                     xva_status_name (rc));
          sink_fini (&s);
        }
        rc = read_archive (as.p, as.len / 2, 1, &small, &s, &st, msg,
                           sizeof msg);
        CHECK_MSG (rc == XVA_ETRUNCATED, msg);
        sink_fini (&s);
      }

      /* A flipped byte in chunk 0 of disk 2 (uncompressed archives). */
      if (compress == XVA_COMPRESS_NONE) {
        struct xva_meta *meta = NULL;
        struct xva_writer_disk wd[NDISKS];
        char name[128];
        size_t xlen;
        char *xml;
        long off;

        memset (wd, 0, sizeof wd);
        xml = build_meta (&big, &meta, &xlen, wd);
        /* The id of userdevice 2 is the same in every archive built by
         * xva_meta_build_vm for these disks. */
        snprintf (name, sizeof name, "%s/00000000", wd[2].id ? wd[2].id : "?");
        off = tar_find (ab.p, ab.len, name);
        CHECK (off > 0);
        if (off > 0) {
          unsigned char *copy = malloc (ab.len);
          size_t i;
          int clean = 1;

          if (copy == NULL)
            abort ();
          memcpy (copy, ab.p, ab.len);
          copy[off + 100] ^= 0x20;
          for (k = 0; k < sizeof slices / sizeof slices[0]; k++) {
            rc = read_archive (copy, ab.len, slices[k], &big, &s, &st, msg,
                               sizeof msg);
            CHECK_MSG (rc == XVA_ECHECKSUM, msg);
            if (rc == XVA_ECHECKSUM)
              CHECK (strstr (msg, name) != NULL);
            /* The sink never saw the bad chunk. */
            for (i = 0; i < MIB; i++)
              if (s.data[2][i] != 0)
                clean = 0;
            sink_fini (&s);
          }
          CHECK (clean);
          free (copy);
        }
        xva_meta_free (meta);
        free (xml);
      }
      free (ab.p);
      free (as.p);
    }

  for (k = 0; k < NDISKS; k++) {
    free (big.data[k]);
    free (small.data[k]);
  }
  HARNESS_DONE ();
}
