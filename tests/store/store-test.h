/* Helpers of the store tests: a scratch directory and small records. */
#ifndef XVA_TESTS_STORE_TEST_H
#define XVA_TESTS_STORE_TEST_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "store/store.h"

/* CHECK that a store call returned want, printing the store's message. */
#define CHECK_RC(call, want)                                                  \
  do {                                                                        \
    int check_rc_ = (call);                                                   \
    if (check_rc_ != (want)) {                                                \
      fprintf (stderr, "%s:%d: CHECK failed: %s == %s (got %d: %s)\n",        \
               __FILE__, __LINE__, #call, #want, check_rc_,                   \
               Xva_store_errmsg (NULL));                                      \
      harness_failures++;                                                     \
    }                                                                         \
  } while (0)

/* A new empty directory under $TMPDIR (or /tmp); exits on failure. */
static inline void
test_tmpdir (char *buf, size_t len)
{
  const char *base = getenv ("TMPDIR");

  if (base == NULL || base[0] == '\0')
    base = "/tmp";
  snprintf (buf, len, "%s/xva-store-XXXXXX", base);
  if (mkdtemp (buf) == NULL) {
    perror ("mkdtemp");
    exit (1);
  }
}

static inline int
test_rm_one (const char *path, const struct stat *sb, int flag,
             struct FTW *ftw)
{
  (void) sb;
  (void) flag;
  (void) ftw;
  return remove (path);
}

/* rm -rf path. */
static inline void
test_rmtree (const char *path)
{
  nftw (path, test_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static inline int
test_exists (const char *path)
{
  struct stat sb;
  return lstat (path, &sb) == 0;
}

/* Creates (or truncates) path with n bytes of 'x'.  0 or -1. */
static inline int
test_write_file (const char *path, size_t n)
{
  FILE *f = fopen (path, "wb");
  size_t i;

  if (f == NULL)
    return -1;
  for (i = 0; i < n; i++)
    if (fputc ('x', f) == EOF) {
      fclose (f);
      return -1;
    }
  return fclose (f) == 0 ? 0 : -1;
}

/* A record {uuid, name_label, extra}; NULL on out of memory. */
static inline struct xva_value *
test_record (const char *uuid, const char *name, const char *extra)
{
  struct xva_value *v = xva_value_new_struct ();

  if (v == NULL)
    return NULL;
  if ((uuid && xva_value_set_string (v, "uuid", uuid) < 0)
      || (name && xva_value_set_string (v, "name_label", name) < 0)
      || (extra && xva_value_set_string (v, "extra", extra) < 0)) {
    xva_value_free (v);
    return NULL;
  }
  return v;
}

#endif
