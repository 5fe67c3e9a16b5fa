/* Parallel gzip: independent members of BLOCK bytes of input. */
#include "format/pgzip.h"

#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "format/compress.h"
#include "format/pool.h"

#define BLOCK ((size_t) 1 << 20)

struct block {
  unsigned char *raw;
  size_t raw_len;
  unsigned char *out;
  size_t out_len, out_pos;
  int failed;
};

struct Xva_pgzip {
  int level;
  struct block *b;
  unsigned nb, head, count; /* ring: count blocks from head */
  int filling;              /* the last block takes input */
  size_t out_cap;
  int any; /* a member was started */
  struct Xva_pool *pool;
};

/* Compresses one block into a whole gzip member. */
static void
compress_block (void *ctx, void *job)
{
  struct Xva_pgzip *p = ctx;
  struct block *b = job;
  z_stream zs;

  memset (&zs, 0, sizeof zs);
  b->failed = 1;
  if (deflateInit2 (&zs, p->level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY)
      != Z_OK)
    return;
  zs.next_in = b->raw;
  zs.avail_in = (uInt) b->raw_len;
  zs.next_out = b->out;
  zs.avail_out = (uInt) p->out_cap;
  if (deflate (&zs, Z_FINISH) == Z_STREAM_END) {
    b->out_len = p->out_cap - zs.avail_out;
    b->out_pos = 0;
    b->failed = 0;
  }
  deflateEnd (&zs);
}

struct Xva_pgzip *
Xva_pgzip_new (int level, unsigned threads, int *status)
{
  struct Xva_pgzip *p = calloc (1, sizeof *p);
  unsigned i;

  *status = XVA_ENOMEM;
  if (!p)
    return NULL;
  p->level = level;
  p->nb = 2 * threads + 2;
  p->out_cap = compressBound ((uLong) BLOCK) + 64;
  p->b = calloc (p->nb, sizeof *p->b);
  if (!p->b)
    goto fail;
  for (i = 0; i < p->nb; i++) {
    p->b[i].raw = malloc (BLOCK);
    p->b[i].out = malloc (p->out_cap);
    if (!p->b[i].raw || !p->b[i].out)
      goto fail;
  }
  p->pool = Xva_pool_new (threads, p->nb, compress_block, p);
  if (!p->pool)
    goto fail;
  *status = XVA_OK;
  return p;

fail:
  Xva_pgzip_free (p);
  return NULL;
}

void
Xva_pgzip_free (struct Xva_pgzip *p)
{
  unsigned i;

  if (!p)
    return;
  Xva_pool_free (p->pool);
  if (p->b)
    for (i = 0; i < p->nb; i++) {
      free (p->b[i].raw);
      free (p->b[i].out);
    }
  free (p->b);
  free (p);
}

/* The block taking input, or NULL when every block is in flight. */
static struct block *
filling (struct Xva_pgzip *p)
{
  struct block *b;

  if (p->filling)
    return &p->b[(p->head + p->count - 1) % p->nb];
  if (p->count == p->nb)
    return NULL;
  b = &p->b[(p->head + p->count) % p->nb];
  b->raw_len = 0;
  p->count++;
  p->filling = 1;
  return b;
}

static void
submit (struct Xva_pgzip *p, struct block *b)
{
  p->filling = 0;
  p->any = 1;
  Xva_pool_submit (p->pool, b);
}

/* The oldest block in flight once compressed (waiting for it), or NULL
 * when only the filling block (or nothing) is there. */
static struct block *
head_done (struct Xva_pgzip *p, int wait)
{
  if (p->count == 0 || (p->count == 1 && p->filling))
    return NULL;
  return wait ? Xva_pool_head (p->pool) : Xva_pool_head_ready (p->pool);
}

int
Xva_pgzip_run (struct Xva_pgzip *p, struct xva_in *in, struct xva_out *out,
               int mode)
{
  for (;;) {
    struct block *h = head_done (p, 0), *f;

    /* Hand out finished members in order. */
    if (h) {
      size_t n = h->out_len - h->out_pos;

      if (h->failed)
        return XVA_ECOMPRESS;
      if (n > out->size - out->pos)
        n = out->size - out->pos;
      memcpy ((unsigned char *) out->dst + out->pos, h->out + h->out_pos, n);
      out->pos += n;
      h->out_pos += n;
      if (h->out_pos == h->out_len) {
        Xva_pool_pop (p->pool);
        p->head = (p->head + 1) % p->nb;
        p->count--;
        continue;
      }
    }
    if (out->pos == out->size)
      return 0;
    if (in->pos < in->size) {
      size_t n;

      f = filling (p);
      if (!f) {
        head_done (p, 1);
        continue;
      }
      n = BLOCK - f->raw_len;
      if (n > in->size - in->pos)
        n = in->size - in->pos;
      memcpy (f->raw + f->raw_len, (const unsigned char *) in->src + in->pos,
              n);
      f->raw_len += n;
      in->pos += n;
      if (f->raw_len == BLOCK)
        submit (p, f);
      continue;
    }
    if (mode == XVA_Z_CONTINUE)
      return 1;
    /* FLUSH and END: every byte taken so far goes out now; an empty
     * stream is still one gzip member. */
    if (p->filling) {
      f = &p->b[(p->head + p->count - 1) % p->nb];
      if (f->raw_len > 0 || (mode == XVA_Z_END && !p->any))
        submit (p, f);
      else {
        p->filling = 0;
        p->count--;
      }
      continue;
    }
    if (p->count) {
      head_done (p, 1);
      continue;
    }
    if (mode == XVA_Z_END && !p->any) {
      submit (p, filling (p));
      continue;
    }
    return 1;
  }
}
