/* An ordered pool: jobs are submitted in order, run on worker threads
 * (or on the caller's thread while it waits), and taken back in the
 * order they were submitted.  The writer reads and hashes chunks with
 * it, the reader checks them. */
#ifndef XVA_FORMAT_POOL_H
#define XVA_FORMAT_POOL_H

#include <stddef.h>

struct Xva_pool;

/* run(ctx, job) does one job; it runs without the pool's lock, on any
 * thread.  threads: the threads that run jobs, this one included (0:
 * one per core; 1: jobs run inline in Xva_pool_head).  capacity: jobs
 * in flight at most.  NULL when out of memory or threads fail. */
struct Xva_pool *Xva_pool_new (unsigned threads, size_t capacity,
                               void (*run) (void *ctx, void *job), void *ctx);
/* The threads a pool of `threads` runs: 0 becomes one per online core,
 * and 64 at most. */
unsigned Xva_pool_threads (unsigned threads);
/* Stops the workers (jobs still queued are not run).  NULL is fine. */
void Xva_pool_free (struct Xva_pool *p);

/* Jobs in flight (submitted and not yet popped), and the capacity. */
size_t Xva_pool_count (const struct Xva_pool *p);
size_t Xva_pool_capacity (const struct Xva_pool *p);
/* Queues job (the pool must not be full). */
void Xva_pool_submit (struct Xva_pool *p, void *job);
/* The oldest job once it has run (running queued jobs on this thread
 * while waiting), or NULL when none is in flight. */
void *Xva_pool_head (struct Xva_pool *p);
/* The oldest job if it has already run, else NULL (does not wait). */
void *Xva_pool_head_ready (struct Xva_pool *p);
/* Forgets the oldest job (after Xva_pool_head returned it). */
void Xva_pool_pop (struct Xva_pool *p);

#endif
