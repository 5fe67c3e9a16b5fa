/* The busy set: holds are counted per (store, ref), an exclusive hold
 * is refused while any hold exists, releases of unheld refs do
 * nothing, and many threads holding and releasing at once leave the
 * count exact. */
#include <pthread.h>

#include "xport-test.h"

#define THREADS 4
#define ROUNDS 20000

static struct Xva_store *s1;

static void *
worker (void *arg)
{
  long bad = 0;
  int i;

  (void) arg;
  for (i = 0; i < ROUNDS; i++) {
    if (Xva_store_busy_acquire (s1, "OpaqueRef:shared") != XVA_OK)
      bad++;
    if (!Xva_store_busy (s1, "OpaqueRef:shared"))
      bad++;
    Xva_store_busy_release (s1, "OpaqueRef:shared");
  }
  return (void *) bad;
}

int
main (void)
{
  char d1[1024], d2[1024], err[512], ref[XVA_STORE_REF_MAX + 2];
  struct Xva_store *s2 = NULL;
  pthread_t th[THREADS];
  int i;

  test_tmpdir (d1, sizeof d1);
  test_tmpdir (d2, sizeof d2);
  CHECK (Xva_store_open (d1, &s1, err, sizeof err) == XVA_OK);
  CHECK (Xva_store_open (d2, &s2, err, sizeof err) == XVA_OK);
  if (s1 == NULL || s2 == NULL)
    return 1;

  CHECK (!Xva_store_busy (s1, "OpaqueRef:a"));
  CHECK (Xva_store_busy_acquire (s1, "OpaqueRef:a") == XVA_OK);
  CHECK (Xva_store_busy_acquire (s1, "OpaqueRef:a") == XVA_OK);
  CHECK (Xva_store_busy_count (s1, "OpaqueRef:a") == 2);
  CHECK (Xva_store_busy (s1, "OpaqueRef:a"));
  CHECK (!Xva_store_busy (s2, "OpaqueRef:a")); /* another store */
  CHECK (!Xva_store_busy (s1, "OpaqueRef:b"));
  CHECK (Xva_store_busy_try (s1, "OpaqueRef:a") == XVA_EEXIST);
  CHECK (Xva_store_busy_count (s1, "OpaqueRef:a") == 2);
  CHECK (Xva_store_busy_try (s2, "OpaqueRef:a") == XVA_OK);
  CHECK (Xva_store_busy_try (s2, "OpaqueRef:a") == XVA_EEXIST);
  Xva_store_busy_release (s2, "OpaqueRef:a");
  CHECK (!Xva_store_busy (s2, "OpaqueRef:a"));
  Xva_store_busy_release (s1, "OpaqueRef:a");
  CHECK (Xva_store_busy_count (s1, "OpaqueRef:a") == 1);
  Xva_store_busy_release (s1, "OpaqueRef:a");
  CHECK (!Xva_store_busy (s1, "OpaqueRef:a"));
  Xva_store_busy_release (s1, "OpaqueRef:a"); /* not held: nothing */
  CHECK (Xva_store_busy_count (s1, "OpaqueRef:a") == 0);
  CHECK (Xva_store_busy_try (s1, "OpaqueRef:a") == XVA_OK);
  Xva_store_busy_release (s1, "OpaqueRef:a");

  /* bad arguments */
  CHECK (Xva_store_busy_acquire (NULL, "OpaqueRef:a") == XVA_EINVAL);
  CHECK (Xva_store_busy_acquire (s1, NULL) == XVA_EINVAL);
  CHECK (Xva_store_busy_acquire (s1, "") == XVA_EINVAL);
  memset (ref, 'x', sizeof ref - 1);
  ref[sizeof ref - 1] = '\0';
  CHECK (Xva_store_busy_acquire (s1, ref) == XVA_ELIMIT);
  CHECK (!Xva_store_busy (NULL, NULL));

  /* threads */
  CHECK (Xva_store_busy_acquire (s1, "OpaqueRef:shared") == XVA_OK);
  for (i = 0; i < THREADS; i++)
    pthread_create (&th[i], NULL, worker, NULL);
  for (i = 0; i < THREADS; i++) {
    void *bad = NULL;
    pthread_join (th[i], &bad);
    CHECK (bad == NULL);
  }
  CHECK (Xva_store_busy_count (s1, "OpaqueRef:shared") == 1);
  Xva_store_busy_release (s1, "OpaqueRef:shared");
  CHECK (!Xva_store_busy (s1, "OpaqueRef:shared"));

  Xva_store_close (s1);
  Xva_store_close (s2);
  test_rmtree (d1);
  test_rmtree (d2);
  HARNESS_DONE ();
}
