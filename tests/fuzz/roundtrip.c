/* libFuzzer: writer then reader.  The input chooses up to three disks
 * (sizes from empty to a few MiB, which 64 KiB stretches hold data),
 * the checksum kind, the compression, keep-alive entries, worker
 * threads, a source with or without extents, and how the archive is
 * taken out and fed back in.  The reader must give back the disks
 * exactly. */
#include <stdint.h>
#include <string.h>

#include <xva/xva.h>

#include "fuzz.h"

#define MIB ((uint64_t) 1 << 20)
#define SEG ((uint64_t) 64 << 10)
#define MAX_DISKS 3
#define MAX_TOTAL (3 * MIB)
#define XVA_TAR_BLOCK_SIZE 512

struct layout {
  unsigned ndisks;
  uint64_t size[MAX_DISKS];
  unsigned char pattern[MAX_DISKS]; /* see seg_has_data */
  unsigned char *data[MAX_DISKS];
  int exact_extents;
};

/* The pattern's low 4 bits say which chunks (by index mod 4) hold
 * data, its high 4 bits which 64 KiB segments of those (mod 4). */
static int
seg_has_data (const struct layout *l, unsigned d, uint64_t seg)
{
  uint64_t chunk = seg * SEG / MIB;

  return ((l->pattern[d] >> (chunk % 4)) & 1)
         && ((l->pattern[d] >> (4 + seg % 4)) & 1);
}

static int
src_pread (void *opaque, unsigned disk, void *buf, size_t n, uint64_t off)
{
  struct layout *l = opaque;

  FUZZ_CHECK (disk < l->ndisks);
  FUZZ_CHECK (n > 0 && off <= l->size[disk] && n <= l->size[disk] - off);
  memcpy (buf, l->data[disk] + off, n);
  return 0;
}

/* Exact: the runs of segments with data.  Otherwise: all data. */
static int
src_extent (void *opaque, unsigned disk, uint64_t off, uint64_t *start,
            uint64_t *end)
{
  struct layout *l = opaque;
  uint64_t size, seg;

  FUZZ_CHECK (disk < l->ndisks);
  size = l->size[disk];
  FUZZ_CHECK (off < size);
  if (!l->exact_extents) {
    *start = off;
    *end = size;
    return 0;
  }
  seg = off / SEG;
  while (seg * SEG < size && !seg_has_data (l, disk, seg))
    seg++;
  if (seg * SEG >= size) {
    *start = *end = size;
    return 0;
  }
  *start = seg * SEG > off ? seg * SEG : off;
  while (seg * SEG < size && seg_has_data (l, disk, seg))
    seg++;
  *end = seg * SEG < size ? seg * SEG : size;
  return 0;
}

/* The reader's side: disks by userdevice. */
struct sink {
  const struct layout *l;
  unsigned char *data[MAX_DISKS];
  unsigned map[MAX_DISKS];
  int begun;
};

static int
sink_begin (void *opaque, const struct xva_meta *m)
{
  struct sink *s = opaque;
  unsigned k;

  FUZZ_CHECK (!s->begun);
  s->begun = 1;
  FUZZ_CHECK (xva_meta_ndisks (m) == s->l->ndisks);
  for (k = 0; k < s->l->ndisks; k++) {
    const struct xva_disk *d = xva_meta_disk (m, k);
    unsigned long i = strtoul (d->userdevice, NULL, 10);
    FUZZ_CHECK (i < s->l->ndisks);
    FUZZ_CHECK (d->virtual_size == s->l->size[i]);
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

  FUZZ_CHECK (s->begun && disk < s->l->ndisks);
  i = s->map[disk];
  FUZZ_CHECK (n > 0 && off <= s->l->size[i] && n <= s->l->size[i] - off);
  memcpy (s->data[i] + off, buf, n);
  return 0;
}

static void
sink_notice (void *opaque, int status, const char *msg)
{
  (void) opaque;
  fprintf (stderr, "notice %s: %s\n", xva_status_name (status), msg);
  abort (); /* nothing to warn about here */
}

/* Reads the input's choices. */
static size_t
take (const uint8_t **p, size_t *n)
{
  size_t v = 0;

  if (*n) {
    v = **p;
    (*p)++;
    (*n)--;
  }
  return v;
}

static void
make_layout (struct layout *l, const uint8_t **p, size_t *n, uint64_t *rng)
{
  uint64_t total = 0;
  unsigned d;

  l->ndisks = 1 + (unsigned) (take (p, n) % MAX_DISKS);
  for (d = 0; d < l->ndisks; d++) {
    unsigned v = (unsigned) take (p, n) << 8;
    uint64_t size, i;

    v |= (unsigned) take (p, n);
    switch (v >> 14) {
    case 0:
    case 1:
      size = v & 0x7fff; /* < 32 KiB */
      break;
    case 2:
      size = MIB * (1 + ((v >> 12) & 1)) + (v & 0xfff) * 128 + (v & 7);
      break;
    default:
      size = MIB * (1 + (v & 3)); /* whole MiB */
      break;
    }
    if (total + size > MAX_TOTAL)
      size = v & 0x3fff;
    total += size;
    l->size[d] = size;
    l->pattern[d] = (unsigned char) take (p, n);
    l->data[d] = calloc (1, size ? size : 1);
    FUZZ_CHECK (l->data[d] != NULL);
    /* Segments with data get bytes in a random part of them. */
    for (i = 0; i * SEG < size; i++) {
      uint64_t a, b, x, y, j;

      if (!seg_has_data (l, d, i))
        continue;
      x = fuzz_rng (rng);
      a = i * SEG + (x & 1 ? 0 : (x >> 1) % SEG);
      y = fuzz_rng (rng);
      b = a + 1 + (y & 1 ? SEG : (y >> 1) % SEG);
      if (b > (i + 1) * SEG)
        b = (i + 1) * SEG;
      if (b > size)
        b = size;
      for (j = a; j < b; j += 8) {
        uint64_t r = fuzz_rng (rng) | 1;
        memcpy (l->data[d] + j, &r, b - j < 8 ? (size_t) (b - j) : 8);
      }
    }
  }
}

/* Builds ova.xml and the writer's disk list (ids into *meta). */
static char *
make_meta (const struct layout *l, struct xva_meta **meta, size_t *len,
           struct xva_writer_disk *wd)
{
  struct xva_vm_spec spec;
  struct xva_value *root;
  char *xml = NULL;
  unsigned k;
  int status = 0;

  memset (&spec, 0, sizeof spec);
  spec.name = "fuzz";
  spec.memory = 256 * MIB;
  spec.vcpus = 1;
  spec.ndisks = l->ndisks;
  spec.disk_sizes = l->size;
  root = xva_meta_build_vm (&spec, &status);
  FUZZ_CHECK (root != NULL);
  FUZZ_CHECK (xva_value_to_xml (root, &xml, len) == XVA_OK);
  FUZZ_CHECK (xva_meta_from_value (root, meta, NULL, 0) == XVA_OK);
  FUZZ_CHECK (xva_meta_ndisks (*meta) == l->ndisks);
  for (k = 0; k < l->ndisks; k++) {
    const struct xva_disk *d = xva_meta_disk (*meta, k);
    unsigned long i = strtoul (d->userdevice, NULL, 10);
    FUZZ_CHECK (i < l->ndisks);
    wd[i].id = d->id;
    wd[i].size = d->virtual_size;
  }
  return xml;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  const uint8_t *p = data;
  size_t n = size;
  uint64_t rng = fuzz_hash (FUZZ_HASH_INIT, data, size);
  struct layout l;
  struct xva_writer_disk wd[MAX_DISKS];
  struct xva_writer_opts wo;
  struct xva_source_io src;
  struct xva_reader_opts ro;
  struct xva_sink_io sio;
  struct xva_reader_stats rs;
  struct xva_progress prog;
  struct xva_meta *meta = NULL;
  struct xva_writer *w;
  struct xva_reader *r;
  struct fz_buf arc = { NULL, 0, 0 };
  struct sink s;
  unsigned char tmp[70000];
  unsigned opts, feedopts, d;
  size_t xlen = 0, pos;
  char *xml;
  int status = 0, rc, use_next;

  memset (&l, 0, sizeof l);
  memset (wd, 0, sizeof wd);
  opts = (unsigned) take (&p, &n);
  feedopts = (unsigned) take (&p, &n);
  make_layout (&l, &p, &n, &rng);
  l.exact_extents = (opts >> 7) & 1;
  xml = make_meta (&l, &meta, &xlen, wd);

  xva_writer_opts_init (&wo);
  wo.checksum = (int) (opts & 1);
  wo.compress = (int) (((opts >> 1) & 3) % 3);
  wo.keepalive_ms = (opts >> 3) & 1 ? 1 : UINT32_MAX;
  wo.threads = 1 + ((opts >> 4) & 1);
  wo.mtime = 0;
  use_next = (opts >> 5) & 1;
  memset (&src, 0, sizeof src);
  src.pread = src_pread;
  src.extent = (opts >> 6) & 1 ? src_extent : NULL;
  src.opaque = &l;
  w = xva_writer_new (xml, xlen, wd, l.ndisks, &wo, src, &status);
  FUZZ_CHECK (w != NULL && status == XVA_OK);
  for (;;) {
    if (use_next) {
      const void *b;
      size_t blen;

      rc = xva_writer_next (w, &b, &blen);
      if (rc == XVA_OK) {
        FUZZ_CHECK (blen > 0);
        fz_put (&arc, b, blen);
      }
    }
    else {
      struct xva_out o = { tmp, 1 + (size_t) (fuzz_rng (&rng) % sizeof tmp),
                           0 };
      rc = xva_writer_step (w, &o);
      FUZZ_CHECK (o.pos <= o.size);
      if (rc == XVA_OK)
        FUZZ_CHECK (o.pos == o.size);
      fz_put (&arc, tmp, o.pos);
    }
    if (rc != XVA_OK)
      break;
  }
  if (rc != XVA_EOF)
    fprintf (stderr, "writer: %s\n", xva_writer_errmsg (w));
  FUZZ_CHECK (rc == XVA_EOF);
  xva_writer_progress (w, &prog);
  FUZZ_CHECK (prog.done == prog.total);
  FUZZ_CHECK (prog.bytes == arc.len || wo.compress != XVA_COMPRESS_NONE);
  xva_writer_free (w);

  /* Read it back. */
  memset (&s, 0, sizeof s);
  s.l = &l;
  for (d = 0; d < l.ndisks; d++) {
    s.data[d] = calloc (1, l.size[d] ? l.size[d] : 1);
    FUZZ_CHECK (s.data[d] != NULL);
  }
  memset (&sio, 0, sizeof sio);
  sio.begin = sink_begin;
  sio.pwrite = sink_pwrite;
  sio.notice = sink_notice;
  sio.opaque = &s;
  xva_reader_opts_init (&ro);
  ro.mode = feedopts & 1 ? XVA_READ_ANY : XVA_READ_FULL;
  ro.threads = 1;
  r = xva_reader_new (&ro, sio, &status);
  FUZZ_CHECK (r != NULL);
  rc = XVA_OK;
  for (pos = 0; pos < arc.len;) {
    struct xva_in in;
    uint64_t x = fuzz_rng (&rng);
    size_t k = (feedopts & 2)
                 ? arc.len - pos
                 : 1 + (size_t) ((x >> 2) % ((x & 3) ? 2000 : 300000));

    if (k > arc.len - pos)
      k = arc.len - pos;
    in.src = arc.p + pos;
    in.size = k;
    in.pos = 0;
    rc = xva_reader_feed (r, &in);
    pos += in.pos;
    if (rc != XVA_OK)
      break;
  }
  if (rc < 0)
    fprintf (stderr, "reader: %s\n", xva_reader_errmsg (r));
  FUZZ_CHECK (rc == XVA_EOF);
  /* The archive ends where the writer stopped, or one block before:
   * the first zero block of the end marker ends it. */
  FUZZ_CHECK (wo.compress != XVA_COMPRESS_NONE || pos == arc.len
              || pos + XVA_TAR_BLOCK_SIZE == arc.len);
  FUZZ_CHECK (xva_reader_finish (r) == XVA_OK);
  xva_reader_stats (r, &rs);
  FUZZ_CHECK (rs.complete && rs.compress == wo.compress);
  FUZZ_CHECK (rs.mismatches == 0);
  FUZZ_CHECK (rs.checksum_kinds == 0
              || rs.checksum_kinds == (1u << wo.checksum));
  for (d = 0; d < l.ndisks; d++) {
    struct xva_disk_stats ds;
    FUZZ_CHECK (xva_reader_disk_stats (r, d, &ds) == 0);
    FUZZ_CHECK (ds.complete);
    if (l.size[d] && memcmp (s.data[d], l.data[d], l.size[d]) != 0) {
      fprintf (stderr, "disk %u (%llu bytes) differs\n", d,
               (unsigned long long) l.size[d]);
      abort ();
    }
  }
  xva_reader_free (r);

  for (d = 0; d < l.ndisks; d++) {
    free (s.data[d]);
    free (l.data[d]);
  }
  free (arc.p);
  free (xml);
  xva_meta_free (meta);
  return 0;
}
