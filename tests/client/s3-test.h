/* Shared set-up of the S3 tests: the endpoint comes from the env file
 * that tests/s3/ceph.sh writes, named by XVA_S3_ENV.  Without it the
 * tests skip (exit 77). */
#ifndef XVA_TESTS_S3_TEST_H
#define XVA_TESTS_S3_TEST_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "client/s3.h"
#include "harness.h"

struct s3_test {
  struct Xva_s3_config cfg;
  char endpoint[256];
  char vhost_endpoint[256]; /* for virtual-hosted style, or "" */
  char tls_endpoint[256];   /* https://..., or "" */
  char ca_file[512];        /* the TLS endpoint's certificate */
  char region[64];
  char access[256];
  char secret[256];
  char bucket[64];
  char prefix[128]; /* unique per run: "t-<name>-<pid>-<time>/" */
};

static inline void
s3_test_copy (char *dst, size_t size, const char *v)
{
  size_t n = strlen (v);
  while (n > 0 && (v[n - 1] == '\n' || v[n - 1] == '\r'))
    n--;
  if (n >= size)
    n = size - 1;
  memcpy (dst, v, n);
  dst[n] = '\0';
}

/* Loads the env file or exits 77. */
static inline void
s3_test_init (struct s3_test *t, const char *name)
{
  const char *path = getenv ("XVA_S3_ENV");
  char line[512];
  FILE *f;

  if (path == NULL || *path == '\0') {
    fprintf (stderr,
             "SKIP: XVA_S3_ENV is not set (tests/cli/s3.sh sets "
             "it after starting a Ceph cluster)\n");
    exit (77);
  }
  memset (t, 0, sizeof *t);
  f = fopen (path, "r");
  if (f == NULL) {
    fprintf (stderr, "cannot open %s\n", path);
    exit (1);
  }
  while (fgets (line, sizeof line, f) != NULL) {
    char *eq = strchr (line, '=');
    if (eq == NULL)
      continue;
    *eq = '\0';
    if (strcmp (line, "XVA_S3_ENDPOINT") == 0)
      s3_test_copy (t->endpoint, sizeof t->endpoint, eq + 1);
    else if (strcmp (line, "XVA_S3_VHOST_ENDPOINT") == 0)
      s3_test_copy (t->vhost_endpoint, sizeof t->vhost_endpoint, eq + 1);
    else if (strcmp (line, "XVA_S3_TLS_ENDPOINT") == 0)
      s3_test_copy (t->tls_endpoint, sizeof t->tls_endpoint, eq + 1);
    else if (strcmp (line, "XVA_S3_CA_FILE") == 0)
      s3_test_copy (t->ca_file, sizeof t->ca_file, eq + 1);
    else if (strcmp (line, "XVA_S3_REGION") == 0)
      s3_test_copy (t->region, sizeof t->region, eq + 1);
    else if (strcmp (line, "XVA_S3_ACCESS_KEY") == 0)
      s3_test_copy (t->access, sizeof t->access, eq + 1);
    else if (strcmp (line, "XVA_S3_SECRET_KEY") == 0)
      s3_test_copy (t->secret, sizeof t->secret, eq + 1);
    else if (strcmp (line, "XVA_S3_BUCKET") == 0)
      s3_test_copy (t->bucket, sizeof t->bucket, eq + 1);
  }
  fclose (f);
  if (!t->endpoint[0] || !t->access[0] || !t->secret[0] || !t->bucket[0]) {
    fprintf (stderr, "%s lacks endpoint, keys or bucket\n", path);
    exit (1);
  }
  Xva_s3_config_init (&t->cfg);
  t->cfg.endpoint = t->endpoint;
  t->cfg.region = t->region[0] ? t->region : NULL;
  t->cfg.access_key = t->access;
  t->cfg.secret_key = t->secret;
  /* Benchmark knobs. */
  if (getenv ("XVA_S3_UNSIGNED") != NULL)
    t->cfg.unsigned_payload = strcmp (getenv ("XVA_S3_UNSIGNED"), "1") == 0;
  if (getenv ("XVA_S3_PARALLEL") != NULL)
    t->cfg.parallel = (unsigned) strtoul (getenv ("XVA_S3_PARALLEL"), NULL,
                                          10);
  snprintf (t->prefix, sizeof t->prefix, "t-%s-%ld-%ld/", name,
            (long) getpid (), (long) time (NULL));
}

/* key = prefix + name */
static inline void
s3_test_key (const struct s3_test *t, const char *name, char *key, size_t size)
{
  snprintf (key, size, "%s%s", t->prefix, name);
}

/* Deterministic pseudo-random bytes (xorshift), different per seed. */
static inline void
s3_test_fill (unsigned char *buf, size_t n, uint64_t seed)
{
  uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
  size_t i;

  for (i = 0; i < n; i++) {
    if ((i & 7) == 0) {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
    }
    buf[i] = (unsigned char) (x >> ((i & 7) * 8));
  }
}

/* Pseudo-random bytes addressed by position: buf[i] is byte off + i of
 * an endless stream that depends on seed only, so data can be made and
 * checked piecewise without holding all of it. */
static inline void
s3_test_fill_at (unsigned char *buf, uint64_t off, size_t n, uint64_t seed)
{
  size_t i = 0;

  while (i < n) {
    uint64_t p = off + i, z = seed + (p >> 3) * 0x9E3779B97F4A7C15ull;
    unsigned b;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    for (b = (unsigned) (p & 7); b < 8 && i < n; b++, i++)
      buf[i] = (unsigned char) (z >> (b * 8));
  }
}

static inline double
s3_test_now (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

#endif
