/* libFuzzer: the chunk position rule (xva-format.md 2.1 and 2.3).  The
 * input is a recipe: up to 3 disks and their sizes, then a sequence of
 * data entries, each naming its disk (this one or the next), the step
 * of its counter (+1, a gap, a repeat), its length (the first entry's,
 * a keep-alive, any, up to or past the disk's end) and its bytes.  The
 * target builds the archive (ova.xml from xva_meta_build_vm, V7 tar,
 * xxhash or sha1 checksum entries, with or without the end marker),
 * reads it with the reader at once and in pieces, and checks the
 * outcome and every disk's bytes against a model of the rule written
 * here from the format description:
 *   - L is the length of the archive's first data entry;
 *   - a skipped counter moves the position by L (the gap reads as
 *     zeros and is never written);
 *   - a keep-alive (empty entry) moves the counter, not the position;
 *   - a chunk may hang past the disk's end only with zeros;
 *   - a disk whose data ends on a multiple of L may leave its tail out
 *     (the rest is zeros) when the next disk or the end marker comes. */
#include <stdint.h>
#include <string.h>

#include <xva/xva.h>

#include "format/internal.h"
#include "format/tar.h"
#include "fuzz.h"

#define MAX_DISKS 3
#define MAX_ENTRIES 48
#define SIZE_UNIT 4 /* disk sizes: 16 bits times this */

struct entry {
  unsigned disk;
  uint64_t counter;
  size_t len;
  unsigned char *data;
};

struct recipe {
  unsigned ndisks;
  uint64_t size[MAX_DISKS];
  int end_marker;
  int sha1;
  int mode;
  int pieces;
  struct entry e[MAX_ENTRIES];
  size_t n;
};

/* ---- The model -------------------------------------------------------- */

struct model {
  int ok;
  unsigned char *disk[MAX_DISKS];
  uint64_t pos[MAX_DISKS];
  uint64_t keepalives;
};

static unsigned
next_nonempty (const struct recipe *rc, unsigned i)
{
  while (i < rc->ndisks && rc->size[i] == 0)
    i++;
  return i;
}

static int
all_zero (const unsigned char *p, size_t n)
{
  return n == 0 || (p[0] == 0 && memcmp (p, p + 1, n - 1) == 0);
}

/* Runs the rule over the recipe: m->ok and the disks' expected bytes. */
static void
model_run (const struct recipe *rc, struct model *m)
{
  uint64_t prev[MAX_DISKS] = { 0 }, chunks[MAX_DISKS] = { 0 };
  uint64_t L = 0, all_chunks = 0;
  int have_L = 0;
  unsigned cur = next_nonempty (rc, 0);
  size_t i;

  m->ok = 0;
  m->keepalives = 0;
  for (i = 0; i < rc->n; i++) {
    const struct entry *e = &rc->e[i];
    uint64_t V, gap, pos, wlen;

    if (cur >= rc->ndisks)
      return; /* an entry after the last disk */
    if (e->disk != cur) {
      /* Another disk: only the next one, and only after a tail left
       * out on a chunk boundary. */
      if (!(chunks[cur] > 0 && L > 0 && m->pos[cur] % L == 0
            && e->disk == next_nonempty (rc, cur + 1)))
        return;
      cur = e->disk;
    }
    V = rc->size[cur];
    if (prev[cur] > 0 && e->counter < prev[cur])
      return; /* counters must rise */
    if (!have_L) {
      L = e->len;
      have_L = 1;
    }
    gap = e->counter - prev[cur];
    if (gap > 0 && L == 0)
      return;
    pos = m->pos[cur] + gap * L;
    if (pos > V || (e->len > 0 && pos >= V))
      return;
    all_chunks++;
    if (e->len == 0)
      m->keepalives++;
    wlen = e->len;
    if (wlen > V - pos) {
      if (!all_zero (e->data + (V - pos), e->len - (size_t) (V - pos)))
        return; /* only zeros may hang over */
      wlen = V - pos;
    }
    if (wlen > 0)
      memcpy (m->disk[cur] + pos, e->data, (size_t) wlen);
    m->pos[cur] = pos + wlen;
    prev[cur] = e->counter + 1;
    chunks[cur]++;
    if (m->pos[cur] >= V)
      cur = next_nonempty (rc, cur + 1);
  }
  if (cur >= rc->ndisks) {
    m->ok = 1; /* every disk complete: marker or not */
    return;
  }
  if (!rc->end_marker)
    return; /* truncated */
  if (all_chunks == 0) {
    m->ok = rc->mode == XVA_READ_ANY;
    return;
  }
  m->ok = chunks[cur] > 0 && L > 0 && m->pos[cur] % L == 0
          && next_nonempty (rc, cur + 1) >= rc->ndisks;
}

/* ---- The recipe from the input ---------------------------------------- */

static void
recipe_free (struct recipe *rc)
{
  size_t i;

  for (i = 0; i < rc->n; i++)
    free (rc->e[i].data);
  rc->n = 0;
}

/* 0, or -1 when the input is too short for a recipe. */
static int
recipe_parse (const uint8_t *data, size_t size, struct recipe *rc)
{
  static const unsigned steps[16] = { 1, 1, 1, 1, 1, 1, 1,  1,
                                      1, 0, 2, 2, 3, 5, 17, 1000 };
  uint64_t cnt[MAX_DISKS] = { 0 }, pos[MAX_DISKS] = { 0 };
  int started[MAX_DISKS] = { 0 };
  unsigned char pat[256];
  size_t step = 0, p;
  unsigned d = 0, i;

  memset (rc, 0, sizeof *rc);
  if (size < 1 + 2 * MAX_DISKS)
    return -1;
  rc->ndisks = 1 + (data[0] & 3) % MAX_DISKS;
  rc->end_marker = (data[0] & 4) != 0;
  rc->sha1 = (data[0] & 8) != 0;
  rc->mode = (data[0] & 16) != 0 ? XVA_READ_ANY : XVA_READ_FULL;
  rc->pieces = (data[0] & 32) != 0;
  for (i = 0; i < MAX_DISKS; i++)
    rc->size[i] = (((uint64_t) data[1 + 2 * i] << 8) | data[2 + 2 * i])
                  * SIZE_UNIT;
  for (p = 1 + 2 * MAX_DISKS; p + 4 <= size && rc->n < MAX_ENTRIES; p += 4) {
    const uint8_t *b = data + p;
    struct entry *e = &rc->e[rc->n];
    uint64_t room;
    size_t k;

    if ((b[0] & 3) == 3 && d + 1 < rc->ndisks)
      d++;
    /* The counter: the first of a disk from 0 (or a gap), then a step. */
    if (!started[d])
      cnt[d] = (b[0] >> 2) & 7 ? 0 : (b[0] >> 5);
    else
      cnt[d] += steps[(b[0] >> 2) & 15] * (b[0] & 0x40 ? 1u + b[3] : 1u);
    if (cnt[d] > XVA_COUNTER_MAX)
      cnt[d] = XVA_COUNTER_MAX;
    /* The length: from what this recipe has seen so far (the model
     * decides what the reader must make of it). */
    room = pos[d] < rc->size[d] ? rc->size[d] - pos[d] : 0;
    switch (b[1] & 7) {
    case 0:
    case 1:
    case 2:
      e->len = rc->n == 0 ? 512u * (1u + (b[2] & 15)) : step;
      break;
    case 3:
      e->len = 0; /* keep-alive */
      break;
    case 4:
      e->len = (size_t) b[2] * 16 + (b[3] & 15);
      break;
    case 5:
      e->len = (size_t) room; /* up to the end */
      break;
    default:
      e->len = (size_t) room + 1 + b[2]; /* past the end */
      break;
    }
    if (e->len > 8192 + 4096)
      e->len = 8192 + 4096;
    if (rc->n == 0)
      step = e->len;
    e->disk = d;
    e->counter = cnt[d];
    e->data = malloc (e->len + 1);
    if (e->data == NULL)
      abort ();
    /* A pattern of period 256 (copied: a byte loop here would cost
     * more than the reader). */
    for (k = 0; k < 256; k++)
      pat[k] = (b[1] & 0x80) ? 0 : (unsigned char) (b[2] + k * 7 + rc->n);
    for (k = 0; k < e->len; k += 256)
      memcpy (e->data + k, pat, e->len - k < 256 ? e->len - k : 256);
    if ((b[1] & 7) >= 6 && (b[1] & 0x40) && room < e->len)
      memset (e->data + room, 0, e->len - (size_t) room);
    started[d] = 1;
    pos[d] += (size_t) e->len;
    rc->n++;
  }
  return 0;
}

/* ---- The archive -------------------------------------------------------- */

static void
put_entry (struct fz_buf *b, const char *name, const void *data, size_t n)
{
  unsigned char h[XVA_TAR_BLOCK], zero[XVA_TAR_BLOCK] = { 0 };

  FUZZ_CHECK (Xva_tar_header (h, name, n, 0) == 0);
  fz_put (b, h, sizeof h);
  fz_put (b, data, n);
  fz_put (b, zero, Xva_tar_pad (n));
}

/* The last ova.xml made, for the next recipe with the same disks
 * (building it costs more than reading the archive). */
static struct {
  char *xml;
  size_t xlen;
  unsigned ndisks;
  uint64_t size[MAX_DISKS];
  char ids[MAX_DISKS][XVA_ID_MAX + 1];
} cache;

/* 0, or -1 when ova.xml cannot be made for these sizes. */
static int
build (const struct recipe *rc, struct fz_buf *b, char ids[][XVA_ID_MAX + 1])
{
  struct xva_vm_spec spec;
  struct xva_value *root;
  struct xva_meta *m = NULL;
  char *xml = NULL, name[XVA_ID_MAX + 32], hex[XVA_CHECKSUM_HEX_MAX + 1];
  size_t xlen = 0, i;
  int status = 0, kind = rc->sha1 ? XVA_CHECKSUM_SHA1 : XVA_CHECKSUM_XXHASH;

  if (cache.xml != NULL && cache.ndisks == rc->ndisks
      && memcmp (cache.size, rc->size, sizeof cache.size) == 0)
    goto have_xml;
  free (cache.xml);
  cache.xml = NULL;
  memset (&spec, 0, sizeof spec);
  spec.name = "position";
  spec.memory = 1 << 20;
  spec.vcpus = 1;
  spec.ndisks = rc->ndisks;
  spec.disk_sizes = rc->size;
  root = xva_meta_build_vm (&spec, &status);
  if (root == NULL)
    return -1;
  if (xva_value_to_xml (root, &xml, &xlen) != XVA_OK) {
    xva_value_free (root);
    return -1;
  }
  if (xva_meta_from_value (root, &m, NULL, 0) != XVA_OK) { /* takes root */
    free (xml);
    return -1;
  }
  FUZZ_CHECK (xva_meta_ndisks (m) == rc->ndisks);
  for (i = 0; i < rc->ndisks; i++) {
    FUZZ_CHECK (xva_meta_disk (m, (unsigned) i)->virtual_size == rc->size[i]);
    snprintf (cache.ids[i], sizeof cache.ids[i], "%s",
              xva_meta_disk (m, (unsigned) i)->id);
  }
  xva_meta_free (m);
  cache.xml = xml;
  cache.xlen = xlen;
  cache.ndisks = rc->ndisks;
  memcpy (cache.size, rc->size, sizeof cache.size);
have_xml:
  memcpy (ids, cache.ids, sizeof cache.ids);
  put_entry (b, "ova.xml", cache.xml, cache.xlen);
  for (i = 0; i < rc->n; i++) {
    const struct entry *e = &rc->e[i];

    snprintf (name, sizeof name, "%s/%08llu", ids[e->disk],
              (unsigned long long) e->counter);
    put_entry (b, name, e->data, e->len);
    xva_checksum_hex (kind, e->data, e->len, hex);
    snprintf (name, sizeof name, "%s/%08llu%s", ids[e->disk],
              (unsigned long long) e->counter,
              rc->sha1 ? ".checksum" : ".xxhash");
    put_entry (b, name, hex, strlen (hex));
  }
  if (rc->end_marker) {
    unsigned char zero[2 * XVA_TAR_BLOCK] = { 0 };
    fz_put (b, zero, sizeof zero);
  }
  return 0;
}

/* ---- The reader --------------------------------------------------------- */

struct sink {
  const struct recipe *rc;
  unsigned char *disk[MAX_DISKS];
  unsigned char *seen[MAX_DISKS]; /* bytes written, to catch overlaps */
  int begun;
};

static int
sink_begin (void *opaque, const struct xva_meta *m)
{
  struct sink *s = opaque;

  FUZZ_CHECK (!s->begun && xva_meta_ndisks (m) == s->rc->ndisks);
  s->begun = 1;
  return 0;
}

static int
sink_pwrite (void *opaque, unsigned disk, const void *buf, size_t n,
             uint64_t off)
{
  struct sink *s = opaque;

  FUZZ_CHECK (s->begun && disk < s->rc->ndisks && n > 0);
  FUZZ_CHECK (off <= s->rc->size[disk] && n <= s->rc->size[disk] - off);
  /* No byte of a disk is written twice. */
  FUZZ_CHECK (memchr (s->seen[disk] + off, 1, n) == NULL);
  memset (s->seen[disk] + off, 1, n);
  memcpy (s->disk[disk] + off, buf, n);
  return 0;
}

/* Reads the archive (in pieces drawn from *rng, or at once) and checks
 * the result against the model. */
static void
read_check (const struct recipe *rc, const struct model *m,
            const struct fz_buf *b, uint64_t *rng)
{
  struct xva_reader_opts o;
  struct xva_sink_io io;
  struct xva_reader_stats st;
  struct xva_reader *r;
  struct sink s;
  size_t pos = 0, i;
  int status = 0, rc_ = XVA_OK;

  memset (&s, 0, sizeof s);
  s.rc = rc;
  for (i = 0; i < rc->ndisks; i++) {
    s.disk[i] = calloc (1, (size_t) rc->size[i] + 1);
    s.seen[i] = calloc (1, (size_t) rc->size[i] + 1);
    FUZZ_CHECK (s.disk[i] != NULL && s.seen[i] != NULL);
  }
  memset (&io, 0, sizeof io);
  io.begin = sink_begin;
  io.pwrite = sink_pwrite;
  io.opaque = &s;
  xva_reader_opts_init (&o);
  o.mode = rc->mode;
  o.threads = 1;
  r = xva_reader_new (&o, io, &status);
  FUZZ_CHECK (r != NULL);
  while (pos < b->len) {
    struct xva_in in;
    size_t n = b->len - pos;

    if (rng != NULL) {
      uint64_t x = fuzz_rng (rng);
      n = 1 + (size_t) ((x >> 8) % ((x & 1) ? 700 : 9000));
      if (n > b->len - pos)
        n = b->len - pos;
    }
    in.src = b->p + pos;
    in.size = n;
    in.pos = 0;
    rc_ = xva_reader_feed (r, &in);
    pos += in.pos;
    if (rc_ != XVA_OK)
      break;
  }
  if (rc_ == XVA_OK || rc_ == XVA_EOF)
    rc_ = xva_reader_finish (r);
  if ((rc_ == XVA_OK) != m->ok) {
    fprintf (stderr, "reader: %s (%s); model: %s\n", xva_status_name (rc_),
             rc_ == XVA_OK ? "" : xva_reader_errmsg (r),
             m->ok ? "accepts" : "refuses");
    abort ();
  }
  if (m->ok) {
    xva_reader_stats (r, &st);
    FUZZ_CHECK (st.complete);
    FUZZ_CHECK (st.keepalives == m->keepalives);
    for (i = 0; i < rc->ndisks; i++) {
      if (memcmp (s.disk[i], m->disk[i], (size_t) rc->size[i]) != 0) {
        size_t k = 0;
        while (s.disk[i][k] == m->disk[i][k])
          k++;
        fprintf (stderr, "disk %zu differs from the model at offset %zu\n", i,
                 k);
        abort ();
      }
    }
  }
  xva_reader_free (r);
  for (i = 0; i < rc->ndisks; i++) {
    free (s.disk[i]);
    free (s.seen[i]);
  }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  char ids[MAX_DISKS][XVA_ID_MAX + 1];
  struct recipe rc;
  struct model m;
  struct fz_buf b = { 0 };
  uint64_t rng;
  size_t i;

  if (recipe_parse (data, size, &rc) < 0)
    return 0;
  memset (&m, 0, sizeof m);
  for (i = 0; i < rc.ndisks; i++) {
    m.disk[i] = calloc (1, (size_t) rc.size[i] + 1);
    FUZZ_CHECK (m.disk[i] != NULL);
  }
  if (build (&rc, &b, ids) == 0) {
    model_run (&rc, &m);
    rng = fuzz_hash (FUZZ_HASH_INIT, data, size);
    /* At once (chunks checked in place) or in pieces (gathered). */
    read_check (&rc, &m, &b, rc.pieces ? &rng : NULL);
  }
  for (i = 0; i < rc.ndisks; i++)
    free (m.disk[i]);
  free (b.p);
  recipe_free (&rc);
  return 0;
}
