/* The busy set (see busy.h): a small hash table of (store, ref) with a
 * hold count, behind one process-wide mutex. */
#include "store/busy.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define BUCKETS 256

struct entry {
  struct entry *next;
  const struct Xva_store *s;
  unsigned holds;
  char ref[];
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct entry *table[BUCKETS];
static size_t nentries;

/* FNV-1a over the ref and the handle's address. */
static size_t
bucket (const struct Xva_store *s, const char *ref)
{
  uint64_t h = 1469598103934665603ULL;
  uintptr_t p = (uintptr_t) s;
  size_t i;

  for (i = 0; ref[i]; i++) {
    h ^= (unsigned char) ref[i];
    h *= 1099511628211ULL;
  }
  for (i = 0; i < sizeof p; i++) {
    h ^= (uint64_t) (p & 0xff);
    h *= 1099511628211ULL;
    p >>= 8;
  }
  return (size_t) (h % BUCKETS);
}

static int
check (const struct Xva_store *s, const char *ref)
{
  size_t n;

  if (s == NULL || ref == NULL || ref[0] == '\0')
    return XVA_EINVAL;
  n = strnlen (ref, XVA_STORE_REF_MAX + 1);
  if (n > XVA_STORE_REF_MAX)
    return XVA_ELIMIT;
  return XVA_OK;
}

/* The entry of (s, ref) in bucket b, or NULL; *prevp (may be NULL) the
 * link that points at it.  Called with the lock held. */
static struct entry *
find (const struct Xva_store *s, const char *ref, size_t b,
      struct entry ***prevp)
{
  struct entry **pp = &table[b];

  while (*pp) {
    if ((*pp)->s == s && strcmp ((*pp)->ref, ref) == 0) {
      if (prevp)
        *prevp = pp;
      return *pp;
    }
    pp = &(*pp)->next;
  }
  return NULL;
}

/* Adds a hold; exclusive: only when there is none yet. */
static int
hold (struct Xva_store *s, const char *ref, int exclusive)
{
  struct entry *e;
  size_t b, n;
  int r = XVA_OK;

  r = check (s, ref);
  if (r < 0)
    return r;
  n = strlen (ref);
  b = bucket (s, ref);
  pthread_mutex_lock (&lock);
  e = find (s, ref, b, NULL);
  if (e) {
    if (exclusive)
      r = XVA_EEXIST;
    else if (e->holds == UINT32_MAX)
      r = XVA_ELIMIT;
    else
      e->holds++;
    goto out;
  }
  if (nentries >= XVA_STORE_BUSY_MAX) {
    r = XVA_ELIMIT;
    goto out;
  }
  e = malloc (sizeof *e + n + 1);
  if (e == NULL) {
    r = XVA_ENOMEM;
    goto out;
  }
  e->s = s;
  e->holds = 1;
  memcpy (e->ref, ref, n + 1);
  e->next = table[b];
  table[b] = e;
  nentries++;
out:
  pthread_mutex_unlock (&lock);
  return r;
}

int
Xva_store_busy_acquire (struct Xva_store *s, const char *ref)
{
  return hold (s, ref, 0);
}

int
Xva_store_busy_try (struct Xva_store *s, const char *ref)
{
  return hold (s, ref, 1);
}

void
Xva_store_busy_release (struct Xva_store *s, const char *ref)
{
  struct entry *e, **pp = NULL;
  size_t b;

  if (check (s, ref) < 0)
    return;
  b = bucket (s, ref);
  pthread_mutex_lock (&lock);
  e = find (s, ref, b, &pp);
  if (e && --e->holds == 0) {
    *pp = e->next;
    nentries--;
    free (e);
  }
  pthread_mutex_unlock (&lock);
}

unsigned
Xva_store_busy_count (struct Xva_store *s, const char *ref)
{
  struct entry *e;
  unsigned n = 0;

  if (check (s, ref) < 0)
    return 0;
  pthread_mutex_lock (&lock);
  e = find (s, ref, bucket (s, ref), NULL);
  if (e)
    n = e->holds;
  pthread_mutex_unlock (&lock);
  return n;
}

int
Xva_store_busy (struct Xva_store *s, const char *ref)
{
  return Xva_store_busy_count (s, ref) > 0;
}
