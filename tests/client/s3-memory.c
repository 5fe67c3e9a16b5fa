/* Memory stays bounded whatever the object's size: a 256 MiB object
 * (XVA_S3_SIZE_MIB to change it) is uploaded from data made on the fly
 * and downloaded and checked piecewise, and the process's peak resident
 * size stays far below the object's size.  Prints the throughput. */
#include <sys/resource.h>

#include "s3-test.h"

#define CHUNK ((size_t) 1 << 20)

static long
peak_rss_mib (void)
{
  struct rusage ru;

  if (getrusage (RUSAGE_SELF, &ru) != 0)
    return -1;
  return ru.ru_maxrss / 1024;
}

int
main (void)
{
  struct s3_test t;
  struct Xva_s3_err err;
  struct Xva_s3_upload *u;
  struct Xva_s3_download *d;
  const char *env = getenv ("XVA_S3_SIZE_MIB");
  uint64_t size = (uint64_t) (env ? strtoul (env, NULL, 10) : 256) << 20;
  unsigned char *buf = malloc (CHUNK), *want = malloc (CHUNK);
  uint64_t pos;
  char key[512];
  double t0, up = 0, down = 0;
  long before, after;
  int status, same = 1;
  size_t n;

  s3_test_init (&t, "memory");
  if (buf == NULL || want == NULL)
    return 1;
  if (size == 0)
    size = (uint64_t) 256 << 20;
  size += 777;
  s3_test_key (&t, "big.xva", key, sizeof key);
  before = peak_rss_mib ();

  t0 = s3_test_now ();
  u = Xva_s3_upload_new (&t.cfg, t.bucket, key, NULL, 0, 0, &status, &err);
  CHECK_MSG (u != NULL, err.msg);
  if (u == NULL)
    return 1;
  for (pos = 0; pos < size; pos += n) {
    n = size - pos < CHUNK ? (size_t) (size - pos) : CHUNK;
    s3_test_fill_at (buf, pos, n, 1234);
    status = Xva_s3_upload_write (u, buf, n);
    CHECK_MSG (status == XVA_OK, Xva_s3_upload_errmsg (u));
    if (status != XVA_OK)
      break;
  }
  status = Xva_s3_upload_complete (u);
  CHECK_MSG (status == XVA_OK, Xva_s3_upload_errmsg (u));
  up = s3_test_now () - t0;
  Xva_s3_upload_free (u);

  t0 = s3_test_now ();
  d = Xva_s3_download_new (&t.cfg, t.bucket, key, &status, &err);
  CHECK_MSG (d != NULL, err.msg);
  pos = 0;
  while (d != NULL
         && (status = Xva_s3_download_read (d, buf, CHUNK, &n)) == XVA_OK) {
    s3_test_fill_at (want, pos, n, 1234);
    if (same && memcmp (buf, want, n) != 0) {
      fprintf (stderr, "mismatch near %llu\n", (unsigned long long) pos);
      same = 0;
    }
    pos += n;
  }
  if (d != NULL) {
    CHECK_MSG (status == XVA_EOF, Xva_s3_download_errmsg (d));
    Xva_s3_download_free (d);
  }
  down = s3_test_now () - t0;
  CHECK (same && pos == size);
  CHECK (Xva_s3_delete (&t.cfg, t.bucket, key, &err) == XVA_OK);

  after = peak_rss_mib ();
  fprintf (stderr,
           "%llu MiB: upload %.1f MiB/s, download %.1f MiB/s; "
           "peak RSS %ld MiB (%ld before)\n",
           (unsigned long long) (size >> 20), (double) size / 1048576.0 / up,
           (double) size / 1048576.0 / down, after, before);
  /* Default config: 5 part buffers and 5 ranges of 8 MiB, plus libcurl's
   * and the program's own: well under 160 MiB for any object size. */
  CHECK (after < 160);
  free (buf);
  free (want);
  HARNESS_DONE ();
}
