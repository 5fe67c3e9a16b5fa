/* Parallel gzip: independent members of BLOCK bytes of input. */
#include "format/pgzip.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "format/compress.h"

#define BLOCK ((size_t) 1 << 20)

enum bstate { B_FREE, B_FILLING, B_QUEUED, B_BUSY, B_DONE };

struct block {
  enum bstate state;
  unsigned char *raw;
  size_t raw_len;
  unsigned char *out;
  size_t out_len, out_pos;
  int failed;
};

struct Xva_pgzip {
  int level;
  struct block *b;
  unsigned nb, head, count;      /* ring: count blocks from head */
  size_t out_cap;
  int any;                       /* a member was started */
  pthread_t *workers;
  unsigned nworkers;
  pthread_mutex_t lock;
  pthread_cond_t work, done;
  int stop;
};

/* Compresses one block into a whole gzip member. */
static void
compress_block (int level, struct block *b, size_t cap)
{
  z_stream zs;

  memset (&zs, 0, sizeof zs);
  b->failed = 1;
  if (deflateInit2 (&zs, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY)
      != Z_OK)
    return;
  zs.next_in = b->raw;
  zs.avail_in = (uInt) b->raw_len;
  zs.next_out = b->out;
  zs.avail_out = (uInt) cap;
  if (deflate (&zs, Z_FINISH) == Z_STREAM_END) {
    b->out_len = cap - zs.avail_out;
    b->out_pos = 0;
    b->failed = 0;
  }
  deflateEnd (&zs);
}

static struct block *
queued (struct Xva_pgzip *p)
{
  unsigned i;

  for (i = 0; i < p->count; i++) {
    struct block *b = &p->b[(p->head + i) % p->nb];
    if (b->state == B_QUEUED)
      return b;
  }
  return NULL;
}

static void *
worker_main (void *arg)
{
  struct Xva_pgzip *p = arg;

  pthread_mutex_lock (&p->lock);
  for (;;) {
    struct block *b = NULL;

    while (!p->stop && !(b = queued (p)))
      pthread_cond_wait (&p->work, &p->lock);
    if (p->stop)
      break;
    b->state = B_BUSY;
    pthread_mutex_unlock (&p->lock);
    compress_block (p->level, b, p->out_cap);
    pthread_mutex_lock (&p->lock);
    b->state = B_DONE;
    pthread_cond_broadcast (&p->done);
  }
  pthread_mutex_unlock (&p->lock);
  return NULL;
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
  pthread_mutex_init (&p->lock, NULL);
  pthread_cond_init (&p->work, NULL);
  pthread_cond_init (&p->done, NULL);
  p->b = calloc (p->nb, sizeof *p->b);
  if (!p->b)
    goto fail;
  for (i = 0; i < p->nb; i++) {
    p->b[i].raw = malloc (BLOCK);
    p->b[i].out = malloc (p->out_cap);
    if (!p->b[i].raw || !p->b[i].out)
      goto fail;
  }
  p->workers = calloc (threads, sizeof *p->workers);
  if (!p->workers)
    goto fail;
  for (i = 0; i + 1 < threads; i++) {
    if (pthread_create (&p->workers[i], NULL, worker_main, p) != 0)
      goto fail;
    p->nworkers++;
  }
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
  pthread_mutex_lock (&p->lock);
  p->stop = 1;
  pthread_cond_broadcast (&p->work);
  pthread_mutex_unlock (&p->lock);
  for (i = 0; i < p->nworkers; i++)
    pthread_join (p->workers[i], NULL);
  free (p->workers);
  if (p->b)
    for (i = 0; i < p->nb; i++) {
      free (p->b[i].raw);
      free (p->b[i].out);
    }
  free (p->b);
  pthread_mutex_destroy (&p->lock);
  pthread_cond_destroy (&p->work);
  pthread_cond_destroy (&p->done);
  free (p);
}

/* Waits for the head block, compressing queued blocks meanwhile.
 * Called with the lock held. */
static void
wait_head (struct Xva_pgzip *p)
{
  struct block *h = &p->b[p->head];

  while (h->state != B_DONE) {
    struct block *b = queued (p);

    if (!b) {
      pthread_cond_wait (&p->done, &p->lock);
      continue;
    }
    b->state = B_BUSY;
    pthread_mutex_unlock (&p->lock);
    compress_block (p->level, b, p->out_cap);
    pthread_mutex_lock (&p->lock);
    b->state = B_DONE;
  }
}

/* The block being filled, or NULL when every block is taken. */
static struct block *
filling (struct Xva_pgzip *p)
{
  struct block *b;

  if (p->count > 0) {
    b = &p->b[(p->head + p->count - 1) % p->nb];
    if (b->state == B_FILLING)
      return b;
  }
  if (p->count == p->nb)
    return NULL;
  b = &p->b[(p->head + p->count) % p->nb];
  b->state = B_FILLING;
  b->raw_len = 0;
  p->count++;
  return b;
}

static void
submit (struct Xva_pgzip *p, struct block *b)
{
  b->state = B_QUEUED;
  p->any = 1;
  pthread_cond_signal (&p->work);
}

int
Xva_pgzip_run (struct Xva_pgzip *p, struct xva_in *in, struct xva_out *out,
               int mode)
{
  int r = 1;

  pthread_mutex_lock (&p->lock);
  for (;;) {
    struct block *h = p->count ? &p->b[p->head] : NULL;
    struct block *f;

    /* Hand out finished members in order. */
    if (h && h->state == B_DONE) {
      size_t n = h->out_len - h->out_pos;

      if (h->failed) {
        r = XVA_ECOMPRESS;
        break;
      }
      if (n > out->size - out->pos)
        n = out->size - out->pos;
      memcpy ((unsigned char *) out->dst + out->pos, h->out + h->out_pos, n);
      out->pos += n;
      h->out_pos += n;
      if (h->out_pos == h->out_len) {
        h->state = B_FREE;
        p->head = (p->head + 1) % p->nb;
        p->count--;
        continue;
      }
    }
    if (out->pos == out->size) {
      r = 0;
      break;
    }
    if (in->pos < in->size) {
      size_t n;

      f = filling (p);
      if (!f) {
        wait_head (p);
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
      break;
    /* FLUSH and END: every byte taken so far goes out now. */
    if (p->count) {
      f = &p->b[(p->head + p->count - 1) % p->nb];
      if (f->state == B_FILLING) {
        if (f->raw_len == 0 && p->any) {
          f->state = B_FREE;       /* nothing in it */
          p->count--;
          continue;
        }
        submit (p, f);
      }
      wait_head (p);
      continue;
    }
    if (mode == XVA_Z_END && !p->any) {
      /* An empty stream is still one gzip member. */
      f = filling (p);
      submit (p, f);
      continue;
    }
    break;
  }
  pthread_mutex_unlock (&p->lock);
  return r;
}
