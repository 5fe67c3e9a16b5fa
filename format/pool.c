/* An ordered pool of worker threads. */
#include "format/pool.h"

#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

enum jstate { J_QUEUED, J_BUSY, J_DONE };

struct entry {
  void *job;
  enum jstate state;
};

struct Xva_pool {
  void (*run) (void *ctx, void *job);
  void *ctx;
  struct entry *ring;
  size_t cap, head, count;
  pthread_t *workers;
  unsigned nworkers;
  pthread_mutex_t lock;
  pthread_cond_t work, done;
  int stop;
};

/* The oldest queued entry, or NULL.  Called with the lock held. */
static struct entry *
next_queued (struct Xva_pool *p)
{
  size_t i;

  for (i = 0; i < p->count; i++) {
    struct entry *e = &p->ring[(p->head + i) % p->cap];
    if (e->state == J_QUEUED)
      return e;
  }
  return NULL;
}

/* Runs e without the lock.  Called with the lock held. */
static void
run_entry (struct Xva_pool *p, struct entry *e)
{
  e->state = J_BUSY;
  if (p->nworkers)
    pthread_mutex_unlock (&p->lock);
  p->run (p->ctx, e->job);
  if (p->nworkers)
    pthread_mutex_lock (&p->lock);
  e->state = J_DONE;
}

static void *
worker_main (void *arg)
{
  struct Xva_pool *p = arg;

  pthread_mutex_lock (&p->lock);
  for (;;) {
    struct entry *e = NULL;

    while (!p->stop && !(e = next_queued (p)))
      pthread_cond_wait (&p->work, &p->lock);
    if (p->stop)
      break;
    run_entry (p, e);
    pthread_cond_broadcast (&p->done);
  }
  pthread_mutex_unlock (&p->lock);
  return NULL;
}

unsigned
Xva_pool_threads (unsigned threads)
{
  if (threads == 0) {
    long n = sysconf (_SC_NPROCESSORS_ONLN);
    threads = n > 0 ? (unsigned) n : 1;
  }
  return threads > 64 ? 64 : threads;
}

struct Xva_pool *
Xva_pool_new (unsigned threads, size_t capacity,
              void (*run) (void *ctx, void *job), void *ctx)
{
  struct Xva_pool *p;
  unsigned i;

  threads = Xva_pool_threads (threads);
  if (capacity == 0)
    capacity = 1;
  p = calloc (1, sizeof *p);
  if (!p)
    return NULL;
  p->run = run;
  p->ctx = ctx;
  p->cap = capacity;
  p->ring = calloc (capacity, sizeof *p->ring);
  p->workers = calloc (threads, sizeof *p->workers);
  if (!p->ring || !p->workers || pthread_mutex_init (&p->lock, NULL) != 0) {
    free (p->ring);
    free (p->workers);
    free (p);
    return NULL;
  }
  pthread_cond_init (&p->work, NULL);
  pthread_cond_init (&p->done, NULL);
  /* This thread runs jobs too while it waits: threads - 1 workers. */
  for (i = 0; i + 1 < threads; i++) {
    if (pthread_create (&p->workers[i], NULL, worker_main, p) != 0) {
      Xva_pool_free (p);
      return NULL;
    }
    p->nworkers++;
  }
  return p;
}

void
Xva_pool_free (struct Xva_pool *p)
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
  pthread_mutex_destroy (&p->lock);
  pthread_cond_destroy (&p->work);
  pthread_cond_destroy (&p->done);
  free (p->workers);
  free (p->ring);
  free (p);
}

size_t
Xva_pool_count (const struct Xva_pool *p)
{
  return p->count;
}

size_t
Xva_pool_capacity (const struct Xva_pool *p)
{
  return p->cap;
}

void
Xva_pool_submit (struct Xva_pool *p, void *job)
{
  struct entry *e;

  pthread_mutex_lock (&p->lock);
  e = &p->ring[(p->head + p->count) % p->cap];
  e->job = job;
  e->state = J_QUEUED;
  p->count++;
  pthread_cond_signal (&p->work);
  pthread_mutex_unlock (&p->lock);
}

void *
Xva_pool_head (struct Xva_pool *p)
{
  struct entry *h;

  pthread_mutex_lock (&p->lock);
  if (p->count == 0) {
    pthread_mutex_unlock (&p->lock);
    return NULL;
  }
  h = &p->ring[p->head];
  while (h->state != J_DONE) {
    struct entry *e = next_queued (p);

    if (e)
      run_entry (p, e);
    else
      pthread_cond_wait (&p->done, &p->lock);
  }
  pthread_mutex_unlock (&p->lock);
  return h->job;
}

void *
Xva_pool_head_ready (struct Xva_pool *p)
{
  void *job = NULL;

  pthread_mutex_lock (&p->lock);
  if (p->count > 0 && p->ring[p->head].state == J_DONE)
    job = p->ring[p->head].job;
  pthread_mutex_unlock (&p->lock);
  return job;
}

void
Xva_pool_pop (struct Xva_pool *p)
{
  pthread_mutex_lock (&p->lock);
  if (p->count > 0) {
    p->head = (p->head + 1) % p->cap;
    p->count--;
  }
  pthread_mutex_unlock (&p->lock);
}
