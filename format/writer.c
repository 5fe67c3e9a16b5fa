/* The archive writer: ova.xml, then each disk in 1 MiB chunks, each
 * followed by its checksum entry, then the two zero blocks; optionally
 * compressed as one stream. */
#include <xva/xva.h>

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "format/compress.h"
#include "format/internal.h"
#include "format/pool.h"
#include "format/tar.h"

#define CHUNK ((uint64_t) XVA_CHUNK_SIZE)
#define ZBUF_SIZE ((size_t) 1 << 20)
#define MAX_PIECES 4

enum wstate { W_OVA, W_DISKS, W_TRAILER, W_DONE, W_FATAL };

struct wdisk {
  char id[XVA_ID_MAX + 1];
  uint64_t size;
  unsigned index; /* index in the caller's array and for io */
};

struct slot {
  unsigned disk; /* index into the sorted disks */
  uint64_t off;
  size_t len;
  int keep; /* first or last chunk: written even if zero */
  int zero; /* all zero (only checked when !keep) */
  int err;  /* errno of a failed read, else 0 */
  char hex[XVA_CHECKSUM_HEX_MAX + 1];
  unsigned char *buf;
  const unsigned char *data; /* buf, or the mapped bytes */
  int mapped;
};

struct piece {
  const unsigned char *p;
  size_t len;
};

struct xva_writer {
  enum wstate state;
  int fatal;
  int mode; /* 0: not chosen; 1: step; 2: next */
  char err[512];
  struct xva_writer_opts o;
  struct xva_source_io io;
  Xva_writer_map_fn map;
  Xva_writer_unmap_fn unmap;
  void *map_opaque;
  char *xml;
  size_t xml_len;
  struct wdisk *disks;
  unsigned ndisks;

  /* Emitting: the disk being written and its keep-alives so far (a
   * chunk's counter is its offset / 1 MiB plus the keep-alives). */
  unsigned cur;
  uint64_t keepalives;
  struct timespec last_emit;

  /* Scheduling: the next chunk to hand to the pool. */
  unsigned sdisk;
  uint64_t soff;
  uint64_t ext_start, ext_end; /* cached data extent at or after soff */
  int ext_valid;
  /* Readers step over skipped chunks by the length of the stream's first
   * chunk: when that is short (the first disk is under 1 MiB), no chunk
   * of any disk may be skipped. */
  int no_skip;

  /* The pool: a ring of slots, each one chunk read, checked for zeros
   * and hashed on a worker (or on this thread while it waits). */
  struct slot *slots;
  unsigned nslots, head, tail, used;
  int held; /* the head slot's data is handed out */
  struct Xva_pool *pool;

  /* Raw archive pieces not yet handed out. */
  struct piece pieces[MAX_PIECES];
  unsigned npieces, ipiece;
  size_t ppos;
  int flush_after; /* flush the compressor after these pieces */
  unsigned char meta[4 * XVA_TAR_BLOCK];
  unsigned char zero[2 * XVA_TAR_BLOCK];

  /* Compression. */
  struct Xva_zout *z;
  unsigned char *zbuf;
  size_t zlen, zpos;
  int zended;

  struct xva_progress prog;
};

static int set_error (struct xva_writer *w, int status, const char *fmt, ...)
  XVA_PRINTF (3, 4);

static int
set_error (struct xva_writer *w, int status, const char *fmt, ...)
{
  va_list ap;
  int n;

  n = snprintf (w->err, sizeof w->err, "xva_writer: ");
  va_start (ap, fmt);
  vsnprintf (w->err + n, sizeof w->err - (size_t) n, fmt, ap);
  va_end (ap);
  w->fatal = status;
  w->state = W_FATAL;
  return status;
}

void
xva_writer_opts_init (struct xva_writer_opts *o)
{
  memset (o, 0, sizeof *o);
  o->checksum = XVA_CHECKSUM_XXHASH;
  o->compress = XVA_COMPRESS_NONE;
  o->keepalive_ms = 5000;
  o->mtime = -1;
}

static int
cmp_disk (const void *a, const void *b)
{
  const struct wdisk *x = a, *y = b;
  return strcmp (x->id, y->id);
}

struct xva_writer *
xva_writer_new (const char *ova_xml, size_t len,
                const struct xva_writer_disk *disks, unsigned ndisks,
                const struct xva_writer_opts *o, struct xva_source_io io,
                int *status)
{
  struct xva_writer *w;
  unsigned i;
  int r = XVA_ENOMEM;

  w = calloc (1, sizeof *w);
  if (!w)
    goto fail_io;
  w->io = io;
  if (o)
    w->o = *o;
  else
    xva_writer_opts_init (&w->o);
  if (w->o.keepalive_ms == 0)
    w->o.keepalive_ms = 5000;
  if (w->o.mtime < 0)
    w->o.mtime = (int64_t) time (NULL);
  r = XVA_EINVAL;
  if (!ova_xml || (ndisks > 0 && (!disks || !io.pread))
      || !xva_checksum_ext (w->o.checksum)
      || !xva_compress_name (w->o.compress) || ndisks > XVA_MAX_DISKS
      || len > XVA_XML_MAX)
    goto fail;
  r = XVA_ENOMEM;
  w->xml = malloc (len ? len : 1);
  if (!w->xml)
    goto fail;
  memcpy (w->xml, ova_xml, len);
  w->xml_len = len;
  if (ndisks) {
    w->disks = calloc (ndisks, sizeof *w->disks);
    if (!w->disks)
      goto fail;
  }
  for (i = 0; i < ndisks; i++) {
    size_t idlen = disks[i].id ? strlen (disks[i].id) : 0;

    r = XVA_EINVAL;
    if (idlen == 0 || idlen > XVA_ID_MAX || strchr (disks[i].id, '/')
        || disks[i].size > XVA_DISK_SIZE_MAX)
      goto fail;
    memcpy (w->disks[i].id, disks[i].id, idlen + 1);
    w->disks[i].size = disks[i].size;
    w->disks[i].index = i;
    w->prog.total += disks[i].size;
  }
  w->ndisks = ndisks;
  if (ndisks > 1)
    qsort (w->disks, ndisks, sizeof *w->disks, cmp_disk);
  for (i = 0; i < ndisks; i++)
    if (w->disks[i].size > 0) {
      w->no_skip = w->disks[i].size < CHUNK;
      break;
    }
  for (i = 1; i < ndisks; i++)
    if (strcmp (w->disks[i - 1].id, w->disks[i].id) == 0) {
      r = XVA_EINVAL;
      goto fail;
    }
  if (w->o.compress != XVA_COMPRESS_NONE) {
    w->z = Xva_zout_new (w->o.compress, w->o.level, w->o.threads, &r);
    if (!w->z)
      goto fail;
    r = XVA_ENOMEM;
    w->zbuf = malloc (ZBUF_SIZE);
    if (!w->zbuf)
      goto fail;
  }
  clock_gettime (CLOCK_MONOTONIC, &w->last_emit);
  w->state = W_OVA;
  *status = XVA_OK;
  return w;

fail:
  xva_writer_free (w);
  *status = r;
  return NULL;
fail_io:
  if (io.free)
    io.free (io.opaque);
  *status = r;
  return NULL;
}

void
xva_writer_free (struct xva_writer *w)
{
  if (!w)
    return;
  Xva_pool_free (w->pool);
  if (w->slots) {
    unsigned i;
    for (i = 0; i < w->nslots; i++)
      free (w->slots[i].buf);
    free (w->slots);
  }
  if (w->io.free)
    w->io.free (w->io.opaque);
  Xva_zout_free (w->z);
  free (w->zbuf);
  free (w->disks);
  free (w->xml);
  free (w);
}

const char *
xva_writer_errmsg (const struct xva_writer *w)
{
  if (!w)
    return "xva_writer: no handle";
  return w->err[0] ? w->err : "xva_writer: no error";
}

void
xva_writer_progress (const struct xva_writer *w, struct xva_progress *p)
{
  if (w && p)
    *p = w->prog;
}

static void
add_piece (struct xva_writer *w, const void *p, size_t len)
{
  if (len == 0)
    return;
  w->pieces[w->npieces].p = p;
  w->pieces[w->npieces].len = len;
  w->npieces++;
}

static double
since_ms (const struct timespec *t)
{
  struct timespec now;

  clock_gettime (CLOCK_MONOTONIC, &now);
  return (double) (now.tv_sec - t->tv_sec) * 1e3
         + (double) (now.tv_nsec - t->tv_nsec) / 1e6;
}

/* Queues a data entry of len bytes from buf (NULL for a keep-alive)
 * under counter, with its checksum entry (hex, NULL: computed here). */
static int
queue_chunk (struct xva_writer *w, const struct wdisk *d, uint64_t counter,
             const unsigned char *buf, size_t len, const char *hex)
{
  char name[XVA_ID_MAX + 32];
  char sumname[XVA_ID_MAX + 48];
  char own[XVA_CHECKSUM_HEX_MAX + 1];
  size_t hexlen;
  size_t pad = Xva_tar_pad (len);
  unsigned char *m = w->meta;

  if (!hex) {
    xva_checksum_hex (w->o.checksum, buf ? buf : w->zero, len, own);
    hex = own;
  }
  hexlen = strlen (hex);
  snprintf (name, sizeof name, "%s/%08" PRIu64, d->id, counter);
  snprintf (sumname, sizeof sumname, "%s%s", name,
            xva_checksum_ext (w->o.checksum));
  if (Xva_tar_header (m, name, len, 0) == -1
      || Xva_tar_header (m + XVA_TAR_BLOCK, sumname, hexlen, 0) == -1)
    return set_error (w, XVA_EINVAL, "entry name %s is too long", sumname);
  /* meta: [data header][checksum header][checksum data + padding] */
  memset (m + 2 * XVA_TAR_BLOCK, 0, XVA_TAR_BLOCK);
  memcpy (m + 2 * XVA_TAR_BLOCK, hex, hexlen);
  w->npieces = w->ipiece = 0;
  w->ppos = 0;
  add_piece (w, m, XVA_TAR_BLOCK);
  if (len) {
    add_piece (w, buf, len);
    add_piece (w, w->zero, pad);
  }
  add_piece (w, m + XVA_TAR_BLOCK, 2 * XVA_TAR_BLOCK);
  w->prog.chunks++;
  clock_gettime (CLOCK_MONOTONIC, &w->last_emit);
  return XVA_OK;
}

/* Reads, checks and hashes the chunk of one slot.  Runs on a worker
 * or on the caller's thread. */
static void
process_slot (void *ctx, void *job)
{
  struct xva_writer *w = ctx;
  struct slot *sl = job;
  const struct wdisk *d = &w->disks[sl->disk];

  sl->err = 0;
  sl->zero = 0;
  sl->mapped = 0;
  sl->data = NULL;
  if (w->map != NULL) {
    sl->data = w->map (w->map_opaque, d->index, sl->off, sl->len);
    sl->mapped = sl->data != NULL;
  }
  if (sl->data == NULL) {
    errno = 0;
    if (w->io.pread (w->io.opaque, d->index, sl->buf, sl->len, sl->off)
        == -1) {
      sl->err = errno ? errno : EIO;
      return;
    }
    sl->data = sl->buf;
  }
  if (!sl->keep && xva_is_zero (sl->data, sl->len)) {
    sl->zero = 1;
    return;
  }
  xva_checksum_hex (w->o.checksum, sl->data, sl->len, sl->hex);
}

static int
start_pool (struct xva_writer *w)
{
  unsigned threads = Xva_pool_threads (w->o.threads), i;

  w->nslots = threads > 1 ? 2 * threads + 2 : 1;
  w->slots = calloc (w->nslots, sizeof *w->slots);
  if (!w->slots)
    return set_error (w, XVA_ENOMEM, "out of memory");
  for (i = 0; i < w->nslots; i++) {
    w->slots[i].buf = aligned_alloc (4096, CHUNK);
    if (!w->slots[i].buf)
      return set_error (w, XVA_ENOMEM, "out of memory");
  }
  w->pool = Xva_pool_new (threads, w->nslots, process_slot, w);
  if (!w->pool)
    return set_error (w, XVA_ENOMEM, "cannot start the worker threads");
  return XVA_OK;
}

static int
io_error (struct xva_writer *w, const struct wdisk *d, int e, const char *what,
          uint64_t off)
{
  int st = (e == ECANCELED) ? XVA_ECANCELLED : XVA_EIO;

  return set_error (w, st, "%s disk %s at offset %" PRIu64 ": %s", what, d->id,
                    off, strerror (e));
}

/* The next disk index at or after i that has data. */
static unsigned
nonempty (const struct xva_writer *w, unsigned i)
{
  while (i < w->ndisks && w->disks[i].size == 0)
    i++;
  return i;
}

/* Hands the next chunk that is not in a hole to a free slot.  Returns XVA_OK, XVA_EOF
 * when every chunk is scheduled, or an error. */
static int
schedule_one (struct xva_writer *w)
{
  for (;;) {
    struct wdisk *d;
    struct slot *sl;
    uint64_t len, remaining;
    int keep;

    w->sdisk = nonempty (w, w->sdisk);
    if (w->sdisk >= w->ndisks)
      return XVA_EOF;
    d = &w->disks[w->sdisk];
    if (w->soff >= d->size) {
      w->sdisk++;
      w->soff = 0;
      w->ext_valid = 0;
      continue;
    }
    remaining = d->size - w->soff;
    len = remaining < CHUNK ? remaining : CHUNK;
    keep = w->soff == 0 || len == remaining || w->no_skip;

    if (!keep && w->io.extent) {
      if (!w->ext_valid || w->soff >= w->ext_end) {
        errno = 0;
        if (w->io.extent (w->io.opaque, d->index, w->soff, &w->ext_start,
                          &w->ext_end)
            == -1)
          return io_error (w, d, errno ? errno : EIO, "finding data in",
                           w->soff);
        if (w->ext_start < w->soff)
          w->ext_start = w->soff;
        if (w->ext_start > d->size)
          w->ext_start = d->size;
        if (w->ext_end > d->size)
          w->ext_end = d->size;
        w->ext_valid = 1;
      }
      if (w->soff + len <= w->ext_start) {
        /* A hole: skip to the chunk holding the next data, but never
         * past the last chunk, which is always written. */
        uint64_t last_off = ((d->size - 1) / CHUNK) * CHUNK;
        uint64_t target = (w->ext_start / CHUNK) * CHUNK;

        if (target > last_off)
          target = last_off;
        if (target <= w->soff)
          target = w->soff + CHUNK;
        w->prog.done += target - w->soff;
        w->soff = target;
        continue;
      }
    }
    sl = &w->slots[w->tail];
    sl->disk = w->sdisk;
    sl->off = w->soff;
    sl->len = (size_t) len;
    sl->keep = keep;
    w->tail = (w->tail + 1) % w->nslots;
    w->used++;
    w->soff += len;
    Xva_pool_submit (w->pool, sl);
    return XVA_OK;
  }
}

/* Frees the head slot. */
static void
release_head (struct xva_writer *w)
{
  struct slot *sl = &w->slots[w->head];

  if (sl->mapped && w->unmap != NULL)
    w->unmap (w->map_opaque, w->disks[sl->disk].index, sl->off, sl->len);
  sl->mapped = 0;
  Xva_pool_pop (w->pool);
  w->head = (w->head + 1) % w->nslots;
  w->used--;
  w->held = 0;
}

/* Fills free slots, then waits for the head slot.  Returns XVA_OK with
 * the head done, XVA_EOF when no chunk is left, or an error. */
static int
wait_head (struct xva_writer *w)
{
  int r = XVA_OK;

  while (w->used < w->nslots) {
    r = schedule_one (w);
    if (r != XVA_OK)
      break;
  }
  if (r < 0)
    return r;
  if (w->used == 0)
    return XVA_EOF;
  Xva_pool_head (w->pool);
  return XVA_OK;
}

/* Queues the next disk entry (or keep-alive).  Returns XVA_OK with
 * pieces queued, XVA_EOF when the disks are done, or an error. */
static int
produce_disk (struct xva_writer *w)
{
  if (w->held)
    release_head (w);
  for (;;) {
    struct slot *sl;
    const struct wdisk *d;
    uint64_t counter;
    int r;

    r = wait_head (w);
    if (r != XVA_OK)
      return r;
    sl = &w->slots[w->head];
    d = &w->disks[sl->disk];
    if (sl->disk != w->cur) {
      w->cur = sl->disk;
      w->keepalives = 0;
    }
    if (sl->err)
      return io_error (w, d, sl->err, "reading", sl->off);
    counter = sl->off / CHUNK + w->keepalives;
    if (!sl->keep && w->o.keepalive_ms != UINT32_MAX
        && since_ms (&w->last_emit) > (double) w->o.keepalive_ms) {
      /* A zero-length entry under this counter; the chunk then goes
       * out (or is skipped) under the next one. */
      w->keepalives++;
      w->flush_after = 1;
      return queue_chunk (w, d, counter, NULL, 0, NULL);
    }
    if (sl->zero) {
      w->prog.done += sl->len;
      release_head (w);
      continue;
    }
    w->prog.done += sl->len;
    w->held = 1;
    return queue_chunk (w, d, counter, sl->data, sl->len, sl->hex);
  }
}

/* Queues the next raw pieces.  Returns XVA_OK, XVA_EOF when nothing is
 * left, or an error. */
static int
produce (struct xva_writer *w)
{
  w->npieces = w->ipiece = 0;
  w->ppos = 0;
  switch (w->state) {
  case W_OVA:
    if (Xva_tar_header (w->meta, "ova.xml", w->xml_len, w->o.mtime) == -1)
      return set_error (w, XVA_EINVAL, "ova.xml is too large");
    add_piece (w, w->meta, XVA_TAR_BLOCK);
    add_piece (w, w->xml, w->xml_len);
    add_piece (w, w->zero, Xva_tar_pad (w->xml_len));
    w->state = W_DISKS;
    return start_pool (w);
  case W_DISKS: {
    int r = produce_disk (w);
    if (r != XVA_EOF)
      return r;
    w->state = W_TRAILER;
    return produce (w);
  }
  case W_TRAILER:
    add_piece (w, w->zero, 2 * XVA_TAR_BLOCK);
    w->state = W_DONE;
    return XVA_OK;
  case W_DONE:
    return XVA_EOF;
  case W_FATAL:
  default:
    return w->fatal ? w->fatal : XVA_ESTATE;
  }
}

/* The next raw (uncompressed) piece, or XVA_EOF. */
static int
raw_next (struct xva_writer *w, const unsigned char **p, size_t *len)
{
  while (w->ipiece >= w->npieces) {
    int r = produce (w);
    if (r != XVA_OK)
      return r;
  }
  *p = w->pieces[w->ipiece].p + w->ppos;
  *len = w->pieces[w->ipiece].len - w->ppos;
  return XVA_OK;
}

static void
raw_advance (struct xva_writer *w, size_t n)
{
  w->ppos += n;
  w->prog.bytes += n;
  if (w->ppos == w->pieces[w->ipiece].len) {
    w->ipiece++;
    w->ppos = 0;
  }
}

/* Fills zbuf with compressed output.  Returns XVA_OK with zlen > 0,
 * XVA_EOF when the compressed stream is finished, or an error. */
static int
fill_zbuf (struct xva_writer *w)
{
  struct xva_out out = { w->zbuf, ZBUF_SIZE, 0 };

  w->zpos = w->zlen = 0;
  while (out.pos < out.size) {
    const unsigned char *p;
    size_t len;
    int r, mode;

    if (w->zended)
      break;
    r = raw_next (w, &p, &len);
    if (r == XVA_EOF) {
      struct xva_in in = { "", 0, 0 };
      r = Xva_zout_run (w->z, &in, &out, XVA_Z_END);
      if (r < 0)
        return set_error (w, r, "compression failed");
      if (r == 1)
        w->zended = 1;
      continue;
    }
    if (r < 0)
      return r;
    {
      struct xva_in in = { p, len, 0 };
      int last_piece = w->ipiece + 1 == w->npieces;

      mode = (last_piece && w->flush_after) ? XVA_Z_FLUSH : XVA_Z_CONTINUE;
      r = Xva_zout_run (w->z, &in, &out, mode);
      if (r < 0)
        return set_error (w, r, "compression failed");
      if (in.pos)
        raw_advance (w, in.pos);
      if (r == 1 && mode == XVA_Z_FLUSH) {
        w->flush_after = 0;
        w->zlen = out.pos;
        return XVA_OK; /* hand the flushed bytes out now */
      }
    }
  }
  w->zlen = out.pos;
  if (w->zlen == 0 && w->zended)
    return XVA_EOF;
  return XVA_OK;
}

int
xva_writer_next (struct xva_writer *w, const void **buf, size_t *len)
{
  int r;

  if (!w || !buf || !len)
    return XVA_EINVAL;
  *buf = NULL;
  *len = 0;
  if (w->state == W_FATAL)
    return w->fatal;
  if (w->mode == 1)
    return set_error (w, XVA_ESTATE,
                      "xva_writer_next after "
                      "xva_writer_step");
  w->mode = 2;
  if (!w->z) {
    const unsigned char *p;
    size_t n;

    r = raw_next (w, &p, &n);
    if (r != XVA_OK)
      return r;
    raw_advance (w, n);
    *buf = p;
    *len = n;
    return XVA_OK;
  }
  do {
    r = fill_zbuf (w);
    if (r != XVA_OK)
      return r;
  } while (w->zlen == 0);
  *buf = w->zbuf;
  *len = w->zlen;
  w->zpos = w->zlen;
  return XVA_OK;
}

int
xva_writer_step (struct xva_writer *w, struct xva_out *out)
{
  if (!w || !out || out->pos > out->size)
    return XVA_EINVAL;
  if (w->state == W_FATAL)
    return w->fatal;
  if (w->mode == 2)
    return set_error (w, XVA_ESTATE,
                      "xva_writer_step after "
                      "xva_writer_next");
  w->mode = 1;
  while (out->pos < out->size) {
    const unsigned char *p;
    size_t n, room = out->size - out->pos;
    int r;

    if (!w->z) {
      r = raw_next (w, &p, &n);
      if (r != XVA_OK)
        return r;
      if (n > room)
        n = room;
      memcpy ((unsigned char *) out->dst + out->pos, p, n);
      out->pos += n;
      raw_advance (w, n);
      continue;
    }
    if (w->zpos == w->zlen) {
      r = fill_zbuf (w);
      if (r != XVA_OK)
        return r;
      continue;
    }
    n = w->zlen - w->zpos;
    if (n > room)
      n = room;
    memcpy ((unsigned char *) out->dst + out->pos, w->zbuf + w->zpos, n);
    out->pos += n;
    w->zpos += n;
  }
  return XVA_OK;
}

void
Xva_writer_set_map (struct xva_writer *w, Xva_writer_map_fn map,
                    Xva_writer_unmap_fn unmap, void *opaque)
{
  if (w == NULL || w->state != W_OVA || w->pool != NULL)
    return;
  w->map = map;
  w->unmap = unmap;
  w->map_opaque = opaque;
}
