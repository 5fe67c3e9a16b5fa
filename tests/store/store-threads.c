/* Many threads on one handle: puts, gets and transactions at once give
 * no error, and a read does not wait for another thread's open
 * transaction. */
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "store-test.h"

#define THREADS 4
#define ROUNDS 300

static struct Xva_store *store;
static atomic_int errors;

static void
fail (int id, const char *what, int rc)
{
  fprintf (stderr, "thread %d: %s: %d: %s\n", id, what, rc,
           Xva_store_errmsg (store));
  atomic_fetch_add (&errors, 1);
}

static void *
worker (void *arg)
{
  int id = (int) (intptr_t) arg;
  char ref[64], name[64], uuid[XVA_STORE_UUID_LEN + 1];
  char found[XVA_STORE_REF_MAX + 1];
  struct Xva_store_list l;
  int i, rc;

  for (i = 0; i < ROUNDS; i++) {
    struct xva_value *rec, *got = NULL;
    const char *v;

    snprintf (ref, sizeof ref, "OpaqueRef:t%d-%d", id, i);
    snprintf (name, sizeof name, "thread %d item %d", id, i);
    if (Xva_store_new_uuid (uuid) != XVA_OK) {
      fail (id, "uuid", -1);
      continue;
    }
    rec = test_record (uuid, name, ref);
    if (rec == NULL) {
      fail (id, "record", XVA_ENOMEM);
      continue;
    }
    if (i % 10 == 9) {
      /* a small transaction now and then */
      struct Xva_store_txn *t = NULL;

      rc = Xva_store_begin (store, &t);
      if (rc == XVA_OK)
        rc = Xva_store_put (store, t, ref, "VM", rec);
      if (rc == XVA_OK)
        rc = Xva_store_commit (t);
      else
        Xva_store_rollback (t);
    }
    else
      rc = Xva_store_put (store, NULL, ref, "VM", rec);
    xva_value_free (rec);
    if (rc != XVA_OK) {
      fail (id, "put", rc);
      continue;
    }
    rc = Xva_store_get (store, NULL, ref, NULL, &got);
    if (rc != XVA_OK) {
      fail (id, "get", rc);
      continue;
    }
    v = xva_value_get_string (got, "extra");
    if (v == NULL || strcmp (v, ref) != 0)
      fail (id, "get: wrong record", 0);
    xva_value_free (got);
    rc = Xva_store_find_uuid (store, NULL, "VM", uuid, found, NULL);
    if (rc != XVA_OK || strcmp (found, ref) != 0)
      fail (id, "find_uuid", rc);
    if (i % 50 == 0) {
      rc = Xva_store_list (store, NULL, "VM", 1, &l);
      if (rc != XVA_OK)
        fail (id, "list", rc);
      Xva_store_list_free (&l);
    }
  }
  return NULL;
}

/* Holds a transaction until told to finish. */
static pthread_mutex_t hold_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t hold_cond = PTHREAD_COND_INITIALIZER;
static int holding, release_it;

static void *
holder (void *arg)
{
  struct Xva_store_txn *t = NULL;
  struct xva_value *rec = test_record (NULL, "held", NULL);
  int rc;

  (void) arg;
  rc = Xva_store_begin (store, &t);
  if (rc == XVA_OK)
    rc = Xva_store_put (store, t, "OpaqueRef:held", "VM", rec);
  if (rc != XVA_OK)
    fail (99, "holder", rc);
  pthread_mutex_lock (&hold_lock);
  holding = 1;
  pthread_cond_broadcast (&hold_cond);
  while (!release_it)
    pthread_cond_wait (&hold_cond, &hold_lock);
  pthread_mutex_unlock (&hold_lock);
  if (t)
    rc = Xva_store_commit (t);
  if (rc != XVA_OK)
    fail (99, "holder commit", rc);
  xva_value_free (rec);
  return NULL;
}

static double
now (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

int
main (void)
{
  char dir[1024], err[512];
  pthread_t th[THREADS], h;
  size_t n = 0;
  double t0;
  int i;

  test_tmpdir (dir, sizeof dir);
  CHECK_RC (Xva_store_open (dir, &store, err, sizeof err), XVA_OK);
  if (store == NULL) {
    fprintf (stderr, "open: %s\n", err);
    return 1;
  }
  for (i = 0; i < THREADS; i++)
    CHECK (pthread_create (&th[i], NULL, worker, (void *) (intptr_t) i) == 0);
  for (i = 0; i < THREADS; i++)
    pthread_join (th[i], NULL);
  CHECK (atomic_load (&errors) == 0);
  CHECK_RC (Xva_store_count (store, NULL, "VM", &n), XVA_OK);
  CHECK (n == (size_t) THREADS * ROUNDS);

  /* A read while another thread holds a transaction returns at once
   * and sees the committed state only. */
  CHECK (pthread_create (&h, NULL, holder, NULL) == 0);
  pthread_mutex_lock (&hold_lock);
  while (!holding)
    pthread_cond_wait (&hold_cond, &hold_lock);
  pthread_mutex_unlock (&hold_lock);
  t0 = now ();
  CHECK_RC (Xva_store_get (store, NULL, "OpaqueRef:t0-0", NULL, NULL), XVA_OK);
  CHECK_RC (Xva_store_get (store, NULL, "OpaqueRef:held", NULL, NULL),
            XVA_ENOTFOUND);
  CHECK_RC (Xva_store_count (store, NULL, "VM", &n), XVA_OK);
  CHECK (now () - t0 < 2.0);
  pthread_mutex_lock (&hold_lock);
  release_it = 1;
  pthread_cond_broadcast (&hold_cond);
  pthread_mutex_unlock (&hold_lock);
  pthread_join (h, NULL);
  CHECK_RC (Xva_store_get (store, NULL, "OpaqueRef:held", NULL, NULL), XVA_OK);
  CHECK (atomic_load (&errors) == 0);

  Xva_store_close (store);
  test_rmtree (dir);
  HARNESS_DONE ();
}
