/* The archive reader: a push parser.  Input of any piece size goes
 * through compression detection, gzip or zstd, tar framing and the XVA
 * rules (ova.xml first, then each disk's chunks in order, each checked
 * against its checksum before its bytes reach the sink). */
#include <xva/xva.h>

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "format/compress.h"
#include "format/internal.h"
#include "format/pool.h"
#include "format/tar.h"

#define ZBUF_SIZE ((size_t) 256 * 1024)
#define PAX_MAX ((uint64_t) 1 << 20)
#define SUM_MAX 64
#define TABLE_MAX ((uint64_t) 64 << 20)
#define KEEPALIVE_MAX 4000000u

enum tstate { T_HEADER, T_DATA, T_PAD };
enum ekind { E_XML, E_CHUNK, E_SUM, E_PAX, E_GPAX, E_LONGNAME, E_SKIP };
enum xstate { X_OVA, X_DATA, X_SUM, X_END, X_DONE };

/* A chunk to check and write: hashed on a worker, then checked and
 * written on the feeding thread, in archive order. */
struct rjob {
  const unsigned char *data;
  size_t len;
  int kind;
  char hex[XVA_CHECKSUM_HEX_MAX + 1];
  char sum[SUM_MAX + 1];
  size_t sum_len;
  char name[XVA_ID_MAX + 32];
  unsigned disk;
  uint64_t off;
  size_t wlen;
  unsigned char *own; /* a buffer of the reader's, given back after */
  size_t own_cap;
};

struct dstate {
  uint64_t pos;  /* the position rule's running position */
  uint64_t prev; /* previous counter + 1 (0: none yet) */
  char last_suffix[16];
  uint64_t keepalives;
  struct xva_disk_stats st;
};

struct xva_reader {
  int fatal;
  char err[1024];
  struct xva_reader_opts o;
  struct xva_sink_io io;

  /* Compression detection and decompression. */
  unsigned char det[XVA_TAR_BLOCK];
  size_t det_len;
  int detected;
  struct Xva_zin *z;
  unsigned char *zbuf;

  /* Tar framing. */
  enum tstate ts;
  unsigned char hdr[XVA_TAR_BLOCK];
  size_t hdr_len;
  struct Xva_tar_entry ent;
  enum ekind kind;
  uint64_t data_left;
  size_t pad_left;
  uint64_t tar_off;   /* bytes of tar stream consumed */
  uint64_t entry_off; /* where the current entry's header starts */
  char next_name[XVA_TAR_NAME_MAX + 1];
  int have_next_name;
  uint64_t next_size;
  int have_next_size;

  /* Entry data. */
  char *xml;
  size_t xml_len, xml_cap;
  unsigned char *chunk;
  size_t chunk_len, chunk_cap;
  char sum[SUM_MAX + 1];
  size_t sum_len;
  char *aux;
  size_t aux_len, aux_cap;

  /* XVA state. */
  enum xstate xs;
  struct xva_meta *meta;
  unsigned ndisks;
  unsigned cur;
  struct dstate *ds;
  uint64_t L;
  int have_L;
  char cur_name[XVA_TAR_NAME_MAX + 1];
  uint64_t cur_off;  /* where the pending chunk goes */
  uint64_t cur_room; /* bytes of the disk left at cur_off */
  int table_seen;
  int in_place; /* tar_feed's input outlives the chunks in it */

  /* Chunks being hashed (a ring in the pool's order) and the buffers
   * that chunks of the ordinary path may be gathered in. */
  struct Xva_pool *pool;
  struct rjob *jobs;
  size_t njobs, jhead;
  unsigned char **spare;
  size_t *spare_cap;
  size_t nspare;

  struct xva_reader_stats st;
};

static int set_error (struct xva_reader *r, int status, const char *fmt, ...)
  XVA_PRINTF (3, 4);

static int
set_error (struct xva_reader *r, int status, const char *fmt, ...)
{
  va_list ap;
  int n;

  n = snprintf (r->err, sizeof r->err, "xva_reader: ");
  va_start (ap, fmt);
  vsnprintf (r->err + n, sizeof r->err - (size_t) n, fmt, ap);
  va_end (ap);
  r->fatal = status;
  return status;
}

static void notice (struct xva_reader *r, int status, const char *fmt, ...)
  XVA_PRINTF (3, 4);

static void
notice (struct xva_reader *r, int status, const char *fmt, ...)
{
  char msg[1024];
  va_list ap;

  if (!r->io.notice)
    return;
  va_start (ap, fmt);
  vsnprintf (msg, sizeof msg, fmt, ap);
  va_end (ap);
  r->io.notice (r->io.opaque, status, msg);
}

void
xva_reader_opts_init (struct xva_reader_opts *o)
{
  memset (o, 0, sizeof *o);
  xva_limits_init (&o->limits);
  o->mode = XVA_READ_FULL;
  o->max_disks = 1024;
  o->max_disk_size = (uint64_t) 64 << 40;
  o->max_chunk = (uint64_t) 16 << 20;
}

struct xva_reader *
xva_reader_new (const struct xva_reader_opts *o, struct xva_sink_io io,
                int *status)
{
  struct xva_reader *r = calloc (1, sizeof *r);

  if (!r) {
    if (io.free)
      io.free (io.opaque);
    *status = XVA_ENOMEM;
    return NULL;
  }
  r->io = io;
  xva_reader_opts_init (&r->o);
  if (o) {
    struct xva_limits def = r->o.limits;

    r->o = *o;
    if (!r->o.limits.max_bytes)
      r->o.limits.max_bytes = def.max_bytes;
    if (!r->o.limits.max_depth)
      r->o.limits.max_depth = def.max_depth;
    if (!r->o.limits.max_nodes)
      r->o.limits.max_nodes = def.max_nodes;
    if (!r->o.limits.max_string)
      r->o.limits.max_string = def.max_string;
    if (!r->o.max_disks)
      r->o.max_disks = 1024;
    if (!r->o.max_disk_size)
      r->o.max_disk_size = (uint64_t) 64 << 40;
    if (!r->o.max_chunk)
      r->o.max_chunk = (uint64_t) 16 << 20;
  }
  if (r->o.mode < XVA_READ_FULL || r->o.mode > XVA_READ_ANY
      || r->o.max_chunk > ((uint64_t) 1 << 30)) {
    xva_reader_free (r);
    *status = XVA_EINVAL;
    return NULL;
  }
  r->xs = X_OVA;
  r->ts = T_HEADER;
  *status = XVA_OK;
  return r;
}

void
xva_reader_free (struct xva_reader *r)
{
  if (!r)
    return;
  Xva_pool_free (r->pool);
  if (r->jobs) {
    size_t i;
    for (i = 0; i < r->njobs; i++)
      free (r->jobs[i].own);
  }
  if (r->spare) {
    size_t i;
    for (i = 0; i < r->nspare; i++)
      free (r->spare[i]);
  }
  free (r->jobs);
  free (r->spare);
  free (r->spare_cap);
  if (r->io.free)
    r->io.free (r->io.opaque);
  Xva_zin_free (r->z);
  xva_meta_free (r->meta);
  free (r->zbuf);
  free (r->xml);
  free (r->chunk);
  free (r->aux);
  free (r->ds);
  free (r);
}

const char *
xva_reader_errmsg (const struct xva_reader *r)
{
  if (!r)
    return "xva_reader: no handle";
  return r->err[0] ? r->err : "xva_reader: no error";
}

const struct xva_meta *
xva_reader_meta (const struct xva_reader *r)
{
  return r ? r->meta : NULL;
}

void
xva_reader_stats (const struct xva_reader *r, struct xva_reader_stats *s)
{
  if (r && s)
    *s = r->st;
}

int
xva_reader_disk_stats (const struct xva_reader *r, unsigned disk,
                       struct xva_disk_stats *s)
{
  if (!r || !s || !r->ds || disk >= r->ndisks)
    return -1;
  *s = r->ds[disk].st;
  return 0;
}

void
xva_reader_progress (const struct xva_reader *r, struct xva_progress *p)
{
  unsigned i;

  if (!r || !p)
    return;
  memset (p, 0, sizeof *p);
  p->bytes = r->st.bytes_in;
  p->chunks = r->st.chunks;
  for (i = 0; i < r->ndisks; i++) {
    const struct xva_disk *d = xva_meta_disk (r->meta, i);
    p->total += d->virtual_size;
    p->done += r->ds[i].st.position;
  }
}

/* Maps a sink failure (errno) to a status and message. */
static int
sink_error (struct xva_reader *r, const char *what)
{
  int e = errno;
  int st = XVA_EIO;

  if (e == ENOSPC || e == EFBIG || e == EDQUOT)
    st = XVA_ENOSPC;
  else if (e == ECANCELED)
    st = XVA_ECANCELLED;
  else if (e == ENOMEM)
    st = XVA_ENOMEM;
  return set_error (r, st, "%s: %s", what, strerror (e ? e : EIO));
}

/* Grows *buf to hold need bytes. */
static int
reserve (void **buf, size_t *cap, size_t need)
{
  void *p;
  size_t n;

  if (need <= *cap)
    return 0;
  n = *cap ? *cap : 4096;
  while (n < need)
    n = n > SIZE_MAX / 2 ? need : n * 2;
  p = realloc (*buf, n);
  if (!p)
    return -1;
  *buf = p;
  *cap = n;
  return 0;
}

/* The next disk index at or after i with data, or ndisks. */
static unsigned
next_nonempty (const struct xva_reader *r, unsigned i)
{
  while (i < r->ndisks && xva_meta_disk (r->meta, i)->virtual_size == 0) {
    r->ds[i].st.complete = 1;
    i++;
  }
  return i;
}

static void
set_current (struct xva_reader *r, unsigned i)
{
  r->cur = next_nonempty (r, i);
  r->xs = r->cur < r->ndisks ? X_DATA : X_END;
}

static int
end_of_archive (struct xva_reader *r)
{
  r->xs = X_DONE;
  r->st.complete = 1;
  return XVA_EOF;
}

/* ova.xml is complete: parse it, check the disks, tell the sink. */
static int
got_ova (struct xva_reader *r)
{
  char err[512] = "";
  unsigned i;
  int st;

  st = xva_meta_parse (r->xml, r->xml_len, &r->o.limits, &r->meta, err,
                       sizeof err);
  if (st != XVA_OK)
    return set_error (r, st, "ova.xml: %s", err[0] ? err : xva_strerror (st));
  free (r->xml);
  r->xml = NULL;
  r->xml_len = r->xml_cap = 0;
  r->ndisks = xva_meta_ndisks (r->meta);
  if (r->ndisks > r->o.max_disks)
    return set_error (r, XVA_ELIMIT,
                      "ova.xml: %u disks, more than the "
                      "limit of %u",
                      r->ndisks, r->o.max_disks);
  for (i = 0; i < r->ndisks; i++) {
    const struct xva_disk *d = xva_meta_disk (r->meta, i);
    if (d->virtual_size > r->o.max_disk_size)
      return set_error (r, XVA_ELIMIT,
                        "ova.xml: disk %s has virtual_size %" PRIu64
                        ", more than the limit of %" PRIu64,
                        d->id, d->virtual_size, r->o.max_disk_size);
  }
  if (r->ndisks) {
    r->ds = calloc (r->ndisks, sizeof *r->ds);
    if (!r->ds)
      return set_error (r, XVA_ENOMEM, "out of memory");
  }
  if (r->io.begin) {
    errno = 0;
    if (r->io.begin (r->io.opaque, r->meta) == -1)
      return sink_error (r, "sink: begin");
  }
  if (r->o.mode == XVA_READ_METADATA) {
    r->st.metadata_only = 1;
    return end_of_archive (r);
  }
  set_current (r, 0);
  return XVA_OK;
}

static int
has_suffix (const char *s, const char *suf)
{
  size_t a = strlen (s), b = strlen (suf);
  return a >= b && memcmp (s + a - b, suf, b) == 0;
}

/* Does name start with "<id>/"? */
static int
in_disk (const char *name, const char *id)
{
  size_t n = strlen (id);
  return strncmp (name, id, n) == 0 && name[n] == '/';
}

/* Can the disk of s end here, the rest being zeros?  Some writers leave
 * out an all-zero last chunk: that leaves the disk's data ending on a
 * chunk boundary.  A disk whose data ends anywhere else is cut short. */
static int
tail_omitted (const struct xva_reader *r, const struct dstate *s)
{
  return s->st.chunks > 0 && r->L > 0 && s->pos % r->L == 0;
}

/* A data entry's header: check its name and place it (the position
 * rule, xva-format.md 2.1). */
static int
data_header (struct xva_reader *r)
{
  const struct xva_disk *d = xva_meta_disk (r->meta, r->cur);
  struct dstate *s = &r->ds[r->cur];
  const char *name = r->ent.name, *suffix;
  uint64_t counter = 0, gap, pos, len = r->ent.size;
  size_t i, slen;

  if (!in_disk (name, d->id)) {
    unsigned next = next_nonempty (r, r->cur + 1);

    if (next < r->ndisks && tail_omitted (r, s)
        && in_disk (name, xva_meta_disk (r->meta, next)->id)) {
      notice (r, XVA_OK,
              "disk %s ends at offset %" PRIu64 " of %" PRIu64
              "; the rest is taken as zeros",
              d->id, s->pos, d->virtual_size);
      s->st.complete = 1;
      set_current (r, next);
      return data_header (r);
    }
    return set_error (r, XVA_EFORMAT,
                      "entry '%s' at archive byte %" PRIu64
                      " where a chunk of disk %s was expected",
                      name, r->entry_off, d->id);
  }
  suffix = name + strlen (d->id) + 1;
  slen = strlen (suffix);
  for (i = 0; i < slen; i++)
    if (suffix[i] < '0' || suffix[i] > '9')
      break;
  if (i != slen || slen == 0 || slen >= sizeof s->last_suffix) {
    if (has_suffix (name, ".xxhash") || has_suffix (name, ".checksum"))
      return set_error (r, XVA_EFORMAT,
                        "checksum entry '%s' at archive "
                        "byte %" PRIu64 " follows no data entry",
                        name, r->entry_off);
    return set_error (r, XVA_EFORMAT,
                      "entry '%s' at archive byte %" PRIu64
                      " is not named <disk>/<8-digit counter>",
                      name, r->entry_off);
  }
  for (i = 0; i < slen; i++)
    counter = counter * 10 + (uint64_t) (suffix[i] - '0');
  if (counter > XVA_COUNTER_MAX)
    return set_error (r, XVA_ELIMIT, "chunk '%s': counter beyond %u", name,
                      XVA_COUNTER_MAX);
  if (s->prev > 0
      && (counter < s->prev || strcmp (suffix, s->last_suffix) <= 0))
    return set_error (r, XVA_EFORMAT,
                      "chunk '%s' at archive byte %" PRIu64
                      " is out of order: it follows %s/%s",
                      name, r->entry_off, d->id, s->last_suffix);
  if (len > r->o.max_chunk)
    return set_error (r, XVA_ELIMIT,
                      "chunk '%s' holds %" PRIu64
                      " bytes, "
                      "more than the limit of %" PRIu64,
                      name, len, r->o.max_chunk);
  if (!r->have_L) {
    r->L = len;
    r->have_L = 1;
  }
  gap = counter - s->prev;
  if (gap > 0 && r->L == 0)
    return set_error (r, XVA_EFORMAT,
                      "chunk '%s' skips chunks but the "
                      "archive's first chunk is empty",
                      name);
  pos = s->pos + gap * r->L;
  if (pos > d->virtual_size || (len > 0 && pos >= d->virtual_size))
    return set_error (r, XVA_EFORMAT,
                      "chunk '%s' at disk offset %" PRIu64
                      " is past the end of disk %s (virtual_size %" PRIu64 ")",
                      name, pos, d->id, d->virtual_size);
  if (len == 0 && ++s->keepalives > KEEPALIVE_MAX)
    return set_error (r, XVA_ELIMIT,
                      "disk %s: more than %u keep-alive "
                      "entries",
                      d->id, KEEPALIVE_MAX);
  s->pos = pos;
  s->st.position = pos;
  s->prev = counter + 1;
  memcpy (s->last_suffix, suffix, slen + 1);
  memcpy (r->cur_name, name, strlen (name) + 1);
  r->cur_off = pos;
  r->cur_room = d->virtual_size - pos;
  if (len > r->chunk_cap) {
    /* Page-aligned: the kernel copies to and from it much faster. */
    size_t cap = len < XVA_CHUNK_SIZE ? XVA_CHUNK_SIZE : (size_t) len;
    void *p = aligned_alloc (4096, (cap + 4095) & ~(size_t) 4095);

    if (!p)
      return set_error (r, XVA_ENOMEM, "out of memory for chunk '%s'", name);
    free (r->chunk);
    r->chunk = p;
    r->chunk_cap = cap;
  }
  r->chunk_len = 0;
  r->kind = E_CHUNK;
  return XVA_OK;
}

static void
hash_job (void *ctx, void *job)
{
  struct rjob *j = job;

  (void) ctx;
  xva_checksum_hex (j->kind, j->data, j->len, j->hex);
}

static int
start_pool (struct xva_reader *r)
{
  unsigned threads = Xva_pool_threads (r->o.threads);
  size_t cap;

  cap = threads > 1 ? 2 * (size_t) threads + 2 : 1;
  r->jobs = calloc (cap, sizeof *r->jobs);
  r->spare = calloc (cap + 1, sizeof *r->spare);
  r->spare_cap = calloc (cap + 1, sizeof *r->spare_cap);
  if (!r->jobs || !r->spare || !r->spare_cap)
    return set_error (r, XVA_ENOMEM, "out of memory");
  r->njobs = cap;
  r->pool = Xva_pool_new (threads, cap, hash_job, r);
  if (!r->pool)
    return set_error (r, XVA_ENOMEM, "cannot start the worker threads");
  return XVA_OK;
}

/* Gives a chunk buffer back for reuse. */
static void
give_back (struct xva_reader *r, struct rjob *j)
{
  if (!j->own)
    return;
  r->spare[r->nspare] = j->own;
  r->spare_cap[r->nspare] = j->own_cap;
  r->nspare++;
  j->own = NULL;
}

/* Checks a hashed chunk against its checksum entry and writes it. */
static int
complete_job (struct xva_reader *r, struct rjob *j)
{
  size_t n = strlen (j->hex);

  if (n != j->sum_len || memcmp (j->hex, j->sum, n) != 0) {
    char shown[SUM_MAX + 1];
    size_t i;

    for (i = 0; i < j->sum_len; i++)
      shown[i] = (j->sum[i] >= 0x20 && j->sum[i] < 0x7f) ? j->sum[i] : '?';
    shown[j->sum_len] = '\0';
    if (!r->o.force)
      return set_error (r, XVA_ECHECKSUM,
                        "%s: checksum mismatch at disk "
                        "offset %" PRIu64
                        ": the archive says '%s', the "
                        "data hashes to %s (%s)",
                        j->name, j->off, shown, j->hex,
                        xva_checksum_name (j->kind));
    r->st.mismatches++;
    notice (r, XVA_ECHECKSUM,
            "%s: checksum mismatch at disk offset %" PRIu64
            ": the archive says '%s', the data hashes to %s (%s)",
            j->name, j->off, shown, j->hex, xva_checksum_name (j->kind));
  }
  if (j->wlen > 0 && r->io.pwrite) {
    errno = 0;
    if (r->io.pwrite (r->io.opaque, j->disk, j->data, j->wlen, j->off) == -1) {
      char what[XVA_ID_MAX + 96];
      snprintf (what, sizeof what, "writing %s at disk offset %" PRIu64,
                j->name, j->off);
      return sink_error (r, what);
    }
  }
  return XVA_OK;
}

/* Completes hashed chunks in order: all of them when wait is set, else
 * those already hashed.  After a failure the rest are dropped. */
static int
drain (struct xva_reader *r, int wait)
{
  struct rjob *j;
  int first = r->fatal, st = XVA_OK;
  char msg[sizeof r->err];

  if (!r->pool)
    return first;
  /* Chunks queued before a failure of the parser are still checked and
   * written (a later failure is reported, not theirs). */
  if (first < 0)
    memcpy (msg, r->err, sizeof msg);
  while ((j = wait || first < 0 ? Xva_pool_head (r->pool)
                                : Xva_pool_head_ready (r->pool))) {
    if (st == XVA_OK)
      st = complete_job (r, j);
    give_back (r, j);
    Xva_pool_pop (r->pool);
    r->jhead = (r->jhead + 1) % r->njobs;
  }
  if (first < 0) {
    memcpy (r->err, msg, sizeof msg);
    r->fatal = first;
    return first;
  }
  return st;
}

/* The checksum entry after a chunk: queue the check and the write, and
 * account for the chunk's place. */
static int
got_sum (struct xva_reader *r, const unsigned char *data)
{
  const struct xva_disk *d = xva_meta_disk (r->meta, r->cur);
  struct dstate *s = &r->ds[r->cur];
  int kind = has_suffix (r->ent.name, ".xxhash") ? XVA_CHECKSUM_XXHASH
                                                 : XVA_CHECKSUM_SHA1;
  size_t len = r->chunk_len, wlen = len;
  struct rjob *j;
  int st;

  r->st.checksum_kinds |= 1u << kind;
  s->st.checksum_kinds |= 1u << kind;
  if (wlen > r->cur_room) {
    /* A last chunk padded past the disk's end: only zeros may hang
     * over. */
    if (!xva_is_zero (data + r->cur_room, wlen - (size_t) r->cur_room))
      return set_error (r, XVA_EFORMAT,
                        "chunk '%s' at disk offset %" PRIu64
                        " runs past the end of disk %s "
                        "(virtual_size %" PRIu64 ")",
                        r->cur_name, r->cur_off, d->id, d->virtual_size);
    wlen = (size_t) r->cur_room;
  }
  if (!r->pool && (st = start_pool (r)) < 0)
    return st;
  if (Xva_pool_count (r->pool) == r->njobs) {
    /* Full: the oldest chunk must be done before another goes in. */
    struct rjob *h = Xva_pool_head (r->pool);

    st = complete_job (r, h);
    give_back (r, h);
    Xva_pool_pop (r->pool);
    r->jhead = (r->jhead + 1) % r->njobs;
    if (st < 0)
      return st;
  }
  j = &r->jobs[(r->jhead + Xva_pool_count (r->pool)) % r->njobs];
  j->data = data;
  j->len = len;
  j->kind = kind;
  memcpy (j->sum, r->sum, r->sum_len);
  j->sum_len = r->sum_len;
  {
    /* A data entry's name is its disk id, '/' and at most 15 digits. */
    size_t nl = strnlen (r->cur_name, sizeof j->name - 1);
    memcpy (j->name, r->cur_name, nl);
    j->name[nl] = '\0';
  }
  j->disk = r->cur;
  j->off = r->cur_off;
  j->wlen = wlen;
  j->own = NULL;
  if (data == r->chunk) {
    /* The job keeps the buffer; the next chunk gets another. */
    j->own = r->chunk;
    j->own_cap = r->chunk_cap;
    r->chunk = NULL;
    r->chunk_cap = 0;
    if (r->nspare > 0) {
      r->nspare--;
      r->chunk = r->spare[r->nspare];
      r->chunk_cap = r->spare_cap[r->nspare];
    }
  }
  Xva_pool_submit (r->pool, j);

  s->st.chunks++;
  s->st.data_bytes += len;
  r->st.data_bytes += len;
  s->pos = r->cur_off + wlen;
  s->st.position = s->pos;
  if (s->pos >= d->virtual_size) {
    s->st.complete = 1;
    set_current (r, r->cur + 1);
  }
  else
    r->xs = X_DATA;
  return drain (r, 0);
}

/* A regular entry's header: decide what it is. */
static int
entry_header (struct xva_reader *r)
{
  const char *name = r->ent.name;

  switch (r->xs) {
  case X_OVA:
    if (strcmp (name, "ova.xml") != 0)
      return set_error (r, XVA_EFORMAT,
                        "the first entry is '%s', not "
                        "ova.xml: not an XVA archive",
                        name);
    if (r->ent.size > r->o.limits.max_bytes)
      return set_error (r, XVA_ELIMIT,
                        "ova.xml holds %" PRIu64
                        " bytes, "
                        "more than the limit of %zu",
                        r->ent.size, r->o.limits.max_bytes);
    if (reserve ((void **) &r->xml, &r->xml_cap, (size_t) r->ent.size + 1))
      return set_error (r, XVA_ENOMEM, "out of memory for ova.xml");
    r->xml_len = 0;
    r->kind = E_XML;
    return XVA_OK;
  case X_DATA:
    return data_header (r);
  case X_SUM: {
    size_t n = strlen (r->cur_name);

    if (strncmp (name, r->cur_name, n) != 0
        || (strcmp (name + n, ".xxhash") != 0
            && strcmp (name + n, ".checksum") != 0)) {
      if (strncmp (name, r->cur_name, n) == 0 && name[n] == '.')
        return set_error (r, XVA_EFORMAT,
                          "found unsupported checksum "
                          "file '%s'",
                          name);
      return set_error (r, XVA_EFORMAT,
                        "entry '%s' at archive byte %" PRIu64
                        " where the checksum of '%s' was expected",
                        name, r->entry_off, r->cur_name);
    }
    if (r->ent.size > SUM_MAX)
      return set_error (r, XVA_EFORMAT,
                        "checksum entry '%s' holds %" PRIu64 " bytes", name,
                        r->ent.size);
    r->sum_len = 0;
    r->kind = E_SUM;
    return XVA_OK;
  }
  case X_END:
    if (xva_meta_export_vsn (r->meta) < 2 && !r->table_seen
        && r->ent.size <= TABLE_MAX) {
      /* Versions before 2 end with a checksum table; the inline
       * checksums were already checked. */
      r->table_seen = 1;
      r->kind = E_SKIP;
      return XVA_OK;
    }
    return set_error (r, XVA_EFORMAT,
                      "unexpected entry '%s' at archive "
                      "byte %" PRIu64 " after the last disk",
                      name, r->entry_off);
  case X_DONE:
  default:
    return set_error (r, XVA_ESTATE, "entry after the end of the archive");
  }
}

/* An all-zero header block: the end marker. */
static int
zero_block (struct xva_reader *r)
{
  if (r->have_next_name || r->have_next_size)
    return set_error (r, XVA_EFORMAT,
                      "end marker right after an extended "
                      "header at archive byte %" PRIu64,
                      r->entry_off);
  switch (r->xs) {
  case X_OVA:
    return set_error (r, XVA_EFORMAT,
                      "the archive ends before ova.xml: "
                      "not an XVA archive");
  case X_END:
    return end_of_archive (r);
  case X_DATA: {
    const struct xva_disk *d = xva_meta_disk (r->meta, r->cur);
    struct dstate *s = &r->ds[r->cur];
    unsigned next = next_nonempty (r, r->cur + 1);

    if (r->st.chunks == 0 && r->o.mode == XVA_READ_ANY) {
      r->st.metadata_only = 1;
      return end_of_archive (r);
    }
    if (tail_omitted (r, s) && next >= r->ndisks) {
      notice (r, XVA_OK,
              "disk %s ends at offset %" PRIu64 " of %" PRIu64
              "; the rest is taken as zeros",
              d->id, s->pos, d->virtual_size);
      s->st.complete = 1;
      return end_of_archive (r);
    }
    if (r->st.chunks == 0)
      return set_error (r, XVA_EFORMAT,
                        "the archive holds only metadata: "
                        "no data for disk %s",
                        d->id);
    return set_error (r, XVA_EFORMAT,
                      "end marker at archive byte %" PRIu64
                      " before disk %s has any data",
                      r->entry_off, d->id);
  }
  case X_SUM:
    return set_error (r, XVA_EFORMAT,
                      "end marker at archive byte %" PRIu64
                      " where the checksum of '%s' was expected",
                      r->entry_off, r->cur_name);
  case X_DONE:
  default:
    return end_of_archive (r);
  }
}

static int
got_header (struct xva_reader *r)
{
  char err[256];
  int st;

  st = Xva_tar_parse (r->hdr, &r->ent, err, sizeof err);
  if (st == XVA_TAR_HEADER_ZERO)
    return zero_block (r);
  if (st != XVA_TAR_HEADER_OK) {
    if (r->xs == X_OVA && r->entry_off == 0)
      return set_error (r, XVA_EFORMAT, "not an XVA archive: %s", err);
    return set_error (r, XVA_EFORMAT,
                      "bad tar header at archive byte %" PRIu64 ": %s",
                      r->entry_off, err);
  }
  r->data_left = r->ent.size;
  switch (r->ent.type) {
  case 'x':
  case 'g':
  case 'L':
  case 'K':
    if (r->ent.size > PAX_MAX)
      return set_error (r, XVA_ELIMIT,
                        "extended tar header of %" PRIu64
                        " bytes at archive byte %" PRIu64,
                        r->ent.size, r->entry_off);
    if (reserve ((void **) &r->aux, &r->aux_cap, (size_t) r->ent.size + 1))
      return set_error (r, XVA_ENOMEM, "out of memory");
    r->aux_len = 0;
    r->kind = r->ent.type == 'x'   ? E_PAX
              : r->ent.type == 'L' ? E_LONGNAME
                                   : E_GPAX;
    return XVA_OK;
  case '0':
  case '7':
    break;
  default:
    return set_error (r, XVA_EFORMAT,
                      "unexpected tar entry '%s' of type "
                      "'%c' at archive byte %" PRIu64,
                      r->ent.name, r->ent.type, r->entry_off);
  }
  if (r->have_next_name) {
    memcpy (r->ent.name, r->next_name, strlen (r->next_name) + 1);
    r->have_next_name = 0;
  }
  if (r->have_next_size) {
    r->ent.size = r->next_size;
    r->data_left = r->next_size;
    r->have_next_size = 0;
  }
  return entry_header (r);
}

/* An entry's data and padding are consumed. */
static int
entry_done (struct xva_reader *r)
{
  char err[256];

  switch (r->kind) {
  case E_XML:
    return got_ova (r);
  case E_CHUNK:
    if (r->chunk_len == 0)
      r->st.keepalives++;
    r->st.chunks++;
    r->xs = X_SUM;
    return XVA_OK;
  case E_SUM:
    return got_sum (r, r->chunk);
  case E_PAX:
    if (Xva_tar_pax (r->aux, r->aux_len, r->next_name, sizeof r->next_name,
                     &r->have_next_name, &r->next_size, &r->have_next_size,
                     err, sizeof err)
        == -1)
      return set_error (r, XVA_EFORMAT, "at archive byte %" PRIu64 ": %s",
                        r->entry_off, err);
    return XVA_OK;
  case E_LONGNAME: {
    size_t n = strnlen (r->aux, r->aux_len);
    if (n > XVA_TAR_NAME_MAX)
      return set_error (r, XVA_ELIMIT, "long name too long");
    memcpy (r->next_name, r->aux, n);
    r->next_name[n] = '\0';
    r->have_next_name = 1;
    return XVA_OK;
  }
  case E_GPAX:
  case E_SKIP:
  default:
    return XVA_OK;
  }
}

/* Takes n bytes of an entry's data. */
static void
take_data (struct xva_reader *r, const unsigned char *p, size_t n)
{
  switch (r->kind) {
  case E_XML:
    memcpy (r->xml + r->xml_len, p, n);
    r->xml_len += n;
    r->xml[r->xml_len] = '\0';
    break;
  case E_CHUNK:
    memcpy (r->chunk + r->chunk_len, p, n);
    r->chunk_len += n;
    break;
  case E_SUM:
    memcpy (r->sum + r->sum_len, p, n);
    r->sum_len += n;
    break;
  case E_PAX:
  case E_GPAX:
  case E_LONGNAME:
    memcpy (r->aux + r->aux_len, p, n);
    r->aux_len += n;
    r->aux[r->aux_len] = '\0';
    break;
  case E_SKIP:
  default:
    break;
  }
}

/* The fast path: when a whole chunk, its padding and its checksum
 * entry are in the input at p, check and write the chunk from there
 * without copying it.  Returns 1 and the bytes used in *used, 0 to take
 * the ordinary path, or an error. */
static int
chunk_in_place (struct xva_reader *r, const unsigned char *p, size_t n,
                size_t *used)
{
  uint64_t len = r->data_left;
  size_t pad = r->pad_left, at;
  struct Xva_tar_entry sum;
  char err[256];
  int st;

  if (r->have_next_name || r->have_next_size
      || len + pad + 2 * XVA_TAR_BLOCK > n)
    return 0;
  at = (size_t) len + pad;
  if (Xva_tar_parse (p + at, &sum, err, sizeof err) != XVA_TAR_HEADER_OK
      || (sum.type != '0' && sum.type != '7') || sum.size > SUM_MAX)
    return 0;
  /* The chunk entry is done. */
  if (len == 0)
    r->st.keepalives++;
  r->st.chunks++;
  r->xs = X_SUM;
  r->chunk_len = (size_t) len;
  /* The checksum entry. */
  r->entry_off = r->tar_off + at;
  r->ent = sum;
  st = entry_header (r);
  if (st != XVA_OK)
    return st;
  memcpy (r->sum, p + at + XVA_TAR_BLOCK, (size_t) sum.size);
  r->sum_len = (size_t) sum.size;
  st = got_sum (r, p);
  r->chunk_len = 0;
  if (st != XVA_OK)
    return st;
  r->ts = T_HEADER;
  *used = at + XVA_TAR_BLOCK + (size_t) sum.size + Xva_tar_pad (sum.size);
  return 1;
}

/* Feeds tar bytes.  Sets *used; returns XVA_OK, XVA_EOF or an error. */
static int
tar_feed (struct xva_reader *r, const unsigned char *p, size_t n, size_t *used)
{
  size_t i = 0;
  int st = XVA_OK;

  while (i < n && st == XVA_OK) {
    size_t k;

    switch (r->ts) {
    case T_HEADER:
      if (r->hdr_len == 0)
        r->entry_off = r->tar_off + i;
      k = XVA_TAR_BLOCK - r->hdr_len;
      if (k > n - i)
        k = n - i;
      memcpy (r->hdr + r->hdr_len, p + i, k);
      r->hdr_len += k;
      i += k;
      if (r->hdr_len < XVA_TAR_BLOCK)
        break;
      r->hdr_len = 0;
      st = got_header (r);
      if (st != XVA_OK)
        break;
      r->ts = T_DATA;
      r->pad_left = Xva_tar_pad (r->ent.size);
      if (r->data_left == 0) {
        r->ts = T_PAD;
        if (r->pad_left == 0) {
          r->ts = T_HEADER;
          st = entry_done (r);
        }
      }
      break;
    case T_DATA:
      if (r->kind == E_CHUNK && r->chunk_len == 0 && r->in_place) {
        int fast = chunk_in_place (r, p + i, n - i, &k);
        if (fast < 0) {
          st = fast;
          break;
        }
        if (fast) {
          i += k;
          break;
        }
      }
      k = n - i;
      if (k > r->data_left)
        k = (size_t) r->data_left;
      take_data (r, p + i, k);
      r->data_left -= k;
      i += k;
      if (r->data_left == 0) {
        r->ts = T_PAD;
        if (r->pad_left == 0) {
          r->ts = T_HEADER;
          st = entry_done (r);
        }
      }
      break;
    case T_PAD:
      k = n - i;
      if (k > r->pad_left)
        k = r->pad_left;
      r->pad_left -= k;
      i += k;
      if (r->pad_left == 0) {
        r->ts = T_HEADER;
        st = entry_done (r);
      }
      break;
    }
  }
  r->tar_off += i;
  r->st.bytes_tar += i;
  *used = i;
  return st;
}

static int
looks_like_html (const unsigned char *p, size_t n)
{
  size_t i = 0;

  if (n >= 3 && p[0] == 0xef && p[1] == 0xbb && p[2] == 0xbf)
    i = 3;
  while (i < n
         && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\n'))
    i++;
  if (n - i >= 5
      && (strncasecmp ((const char *) p + i, "<!doc", 5) == 0
          || strncasecmp ((const char *) p + i, "<html", 5) == 0
          || strncasecmp ((const char *) p + i, "<head", 5) == 0))
    return 1;
  return 0;
}

/* Decides the compression from the first bytes, as xapi does: a tar
 * header named ova.xml, else zstd magic, else gzip. Returns 1 when
 * decided, 0 when more bytes are needed (and final is 0), or < 0. */
static int
detect (struct xva_reader *r, int final)
{
  const unsigned char *p = r->det;
  size_t n = r->det_len;
  int st;

  if (n >= 4 && p[0] == 0x28 && p[1] == 0xb5 && p[2] == 0x2f && p[3] == 0xfd)
    r->st.compress = XVA_COMPRESS_ZSTD;
  else if (n >= 2 && p[0] == 0x1f && p[1] == 0x8b)
    r->st.compress = XVA_COMPRESS_GZIP;
  else if (n < XVA_TAR_BLOCK && !final)
    return 0;
  else if (n == XVA_TAR_BLOCK) {
    struct Xva_tar_entry e;
    char err[256];

    if (Xva_tar_parse (p, &e, err, sizeof err) == XVA_TAR_HEADER_OK) {
      if (strcmp (e.name, "ova.xml") != 0 && e.type != 'x' && e.type != 'g'
          && e.type != 'L')
        return set_error (r, XVA_EFORMAT,
                          "not an XVA archive: a tar "
                          "archive whose first entry is '%s', not ova.xml",
                          e.name);
      r->st.compress = XVA_COMPRESS_NONE;
    }
    else if (looks_like_html (p, n))
      return set_error (r, XVA_EFORMAT,
                        "not an XVA archive: the input is "
                        "an HTML page (a failed download?)");
    else
      return set_error (r, XVA_EFORMAT,
                        "not an XVA archive: no tar "
                        "header, gzip or zstd signature at the start");
  }
  else if (n == 0)
    return set_error (r, XVA_ETRUNCATED, "the input is empty");
  else if (looks_like_html (p, n))
    return set_error (r, XVA_EFORMAT,
                      "not an XVA archive: the input is "
                      "an HTML page (a failed download?)");
  else
    return set_error (r, XVA_ETRUNCATED,
                      "not an XVA archive: only %zu "
                      "bytes of input",
                      n);
  if (r->st.compress != XVA_COMPRESS_NONE) {
    r->z = Xva_zin_new (r->st.compress, &st);
    if (!r->z)
      return set_error (r, st, "cannot start decompression");
    r->zbuf = malloc (ZBUF_SIZE);
    if (!r->zbuf)
      return set_error (r, XVA_ENOMEM, "out of memory");
  }
  r->detected = 1;
  return 1;
}

/* Feeds archive bytes (maybe compressed) after detection. */
static int
pipe_feed (struct xva_reader *r, struct xva_in *in)
{
  size_t used;
  int st, zst;

  if (!r->z) {
    /* The caller's buffer stays valid until the feed returns, after
     * every chunk in it is done: chunks may be checked in place. */
    r->in_place = 1;
    st = tar_feed (r, (const unsigned char *) in->src + in->pos,
                   in->size - in->pos, &used);
    r->in_place = 0;
    in->pos += used;
    return st;
  }
  while (in->pos < in->size) {
    struct xva_out out = { r->zbuf, ZBUF_SIZE, 0 };
    char err[256] = "";

    zst = Xva_zin_run (r->z, in, &out, err, sizeof err);
    /* What came out before any damage is archive data, which may hold
     * the archive's end (the rest is then not part of it): the outcome
     * must not depend on how the input was cut into pieces. */
    if (out.pos > 0) {
      st = tar_feed (r, r->zbuf, out.pos, &used);
      if (st != XVA_OK)
        return st;
    }
    if (zst < 0) {
      if (r->xs == X_OVA && r->tar_off == 0 && out.pos == 0)
        return set_error (r, zst, "not an XVA archive: %s", err);
      return set_error (r, zst,
                        "at compressed byte %" PRIu64
                        " (archive "
                        "byte %" PRIu64 "): %s",
                        r->st.bytes_in + in->pos, r->tar_off, err);
    }
  }
  return XVA_OK;
}

int
xva_reader_feed (struct xva_reader *r, struct xva_in *in)
{
  size_t start;
  int st = XVA_OK;

  if (!r || !in || in->pos > in->size)
    return XVA_EINVAL;
  if (r->fatal)
    return r->fatal;
  if (r->xs == X_DONE)
    return XVA_EOF;
  start = in->pos;
  if (!r->detected) {
    size_t k = XVA_TAR_BLOCK - r->det_len;

    if (k > in->size - in->pos)
      k = in->size - in->pos;
    memcpy (r->det + r->det_len, (const char *) in->src + in->pos, k);
    r->det_len += k;
    in->pos += k;
    st = detect (r, 0);
    if (st == 0) {
      r->st.bytes_in += in->pos - start;
      return XVA_OK;
    }
    if (st < 0)
      return st;
    {
      struct xva_in d = { r->det, r->det_len, 0 };
      st = pipe_feed (r, &d);
    }
  }
  if (st == XVA_OK)
    st = pipe_feed (r, in);
  r->st.bytes_in += in->pos - start;
  /* Chunks may point into in: every one is done before returning. */
  {
    int d = drain (r, 1);
    if (d < 0 && st >= 0)
      st = d;
  }
  return st;
}

int
xva_reader_finish (struct xva_reader *r)
{
  const char *where;
  char buf[XVA_TAR_NAME_MAX + 128];

  if (!r)
    return XVA_EINVAL;
  if (r->fatal)
    return r->fatal;
  if (drain (r, 1) < 0)
    return r->fatal;
  if (r->xs == X_DONE)
    return XVA_OK;
  if (!r->detected) {
    int st = detect (r, 1);
    if (st < 0)
      return st;
    {
      struct xva_in d = { r->det, r->det_len, 0 };
      st = pipe_feed (r, &d);
    }
    if (st == XVA_EOF)
      return XVA_OK;
    if (st < 0)
      return st;
  }
  if (r->xs == X_END && r->ts == T_HEADER && r->hdr_len == 0
      && !r->o.require_end) {
    /* Every disk is complete; xapi never reads the end marker. */
    r->xs = X_DONE;
    r->st.complete = 1;
    return XVA_OK;
  }
  if (r->ts != T_HEADER || r->hdr_len != 0) {
    snprintf (buf, sizeof buf,
              "inside entry '%s' (header at archive byte %" PRIu64 ")",
              r->ts == T_HEADER ? "(header)" : r->ent.name, r->entry_off);
    where = buf;
  }
  else if (r->xs == X_OVA)
    where = "before ova.xml";
  else if (r->xs == X_SUM) {
    snprintf (buf, sizeof buf, "before the checksum of '%s'", r->cur_name);
    where = buf;
  }
  else if (r->xs == X_DATA) {
    const struct xva_disk *d = xva_meta_disk (r->meta, r->cur);
    snprintf (buf, sizeof buf,
              "before disk %s was complete (offset %" PRIu64 " of %" PRIu64
              ")",
              d->id, r->ds[r->cur].pos, d->virtual_size);
    where = buf;
  }
  else
    where =
      "before the end marker (every disk is complete, but an "
      "archive ends with two zero blocks)";
  return set_error (r, XVA_ETRUNCATED,
                    "the archive is truncated: the input "
                    "ended after %" PRIu64 " bytes (archive byte %" PRIu64
                    "), %s%s",
                    r->st.bytes_in, r->tar_off, where,
                    r->z && !Xva_zin_at_boundary (r->z)
                      ? "; the compressed stream is cut short"
                      : "");
}
