/* Transfers that break half-way are retried: every third part upload
 * and range download is cut off after half its bytes (config
 * fault_every), and the data still arrives whole.  Also the sizes at
 * the edges: empty, one byte, exactly one part, one part plus one. */
#include "s3-test.h"

static int
put (const struct Xva_s3_config *cfg, const char *bucket, const char *key,
     const unsigned char *data, size_t size, unsigned *parts,
     unsigned *retries)
{
  struct Xva_s3_upload *u;
  struct Xva_s3_err err;
  int status;

  u = Xva_s3_upload_new (cfg, bucket, key, NULL, 0, size, &status, &err);
  CHECK_MSG (u != NULL, err.msg);
  if (u == NULL)
    return status;
  status = Xva_s3_upload_write (u, data, size);
  if (status == XVA_OK)
    status = Xva_s3_upload_complete (u);
  CHECK_MSG (status == XVA_OK, Xva_s3_upload_errmsg (u));
  *parts = Xva_s3_upload_parts (u);
  *retries = Xva_s3_upload_retries (u);
  Xva_s3_upload_free (u);
  return status;
}

static int
get_compare (const struct Xva_s3_config *cfg, const char *bucket,
             const char *key, const unsigned char *want, size_t size,
             unsigned *retries)
{
  struct Xva_s3_download *d;
  struct Xva_s3_err err;
  unsigned char *buf = malloc (size + 1);
  size_t pos = 0, n;
  int status;

  d = Xva_s3_download_new (cfg, bucket, key, &status, &err);
  CHECK_MSG (d != NULL, err.msg);
  if (d == NULL || buf == NULL) {
    free (buf);
    return 0;
  }
  while ((status = Xva_s3_download_read (d, buf + pos, size + 1 - pos, &n))
         == XVA_OK)
    pos += n;
  CHECK_MSG (status == XVA_EOF, Xva_s3_download_errmsg (d));
  *retries = Xva_s3_download_retries (d);
  Xva_s3_download_free (d);
  n = pos == size && memcmp (buf, want, size) == 0;
  free (buf);
  return (int) n;
}

int
main (void)
{
  struct s3_test t;
  struct Xva_s3_config cfg;
  struct Xva_s3_err err;
  size_t sizes[] = { 0, 1, XVA_S3_PART_DEFAULT, XVA_S3_PART_DEFAULT + 1 };
  size_t big = (size_t) 30 << 20, i;
  unsigned char *data = malloc (big);
  unsigned parts = 0, retries = 0;
  char key[512];

  s3_test_init (&t, "retry");
  if (data == NULL)
    return 1;
  s3_test_fill (data, big, 99);

  /* Faults on every third transfer. */
  cfg = t.cfg;
  cfg.fault_every = 3;
  cfg.range_size = (size_t) 4 << 20;
  s3_test_key (&t, "faulty.xva", key, sizeof key);
  CHECK (put (&cfg, t.bucket, key, data, big, &parts, &retries) == XVA_OK);
  fprintf (stderr, "upload with faults: %u parts, %u retries\n", parts,
           retries);
  CHECK (parts == 4);
  CHECK (retries >= 1);
  CHECK (get_compare (&cfg, t.bucket, key, data, big, &retries));
  fprintf (stderr, "download with faults: %u retries\n", retries);
  CHECK (retries >= 2);
  CHECK (Xva_s3_delete (&t.cfg, t.bucket, key, &err) == XVA_OK);

  /* Every transfer fails and one retry is allowed: the upload fails
   * cleanly, with nothing left behind. */
  cfg = t.cfg;
  cfg.fault_every = 1;
  cfg.retries = 1;
  {
    struct Xva_s3_upload *u;
    struct Xva_s3_pending_list *l = NULL;
    int status;
    s3_test_key (&t, "hopeless.xva", key, sizeof key);
    u = Xva_s3_upload_new (&cfg, t.bucket, key, NULL, 0, 0, &status, &err);
    CHECK (u != NULL);
    if (u != NULL) {
      status = Xva_s3_upload_write (u, data, big);
      if (status == XVA_OK)
        status = Xva_s3_upload_complete (u);
      fprintf (stderr, "expected failure: %s\n", Xva_s3_upload_errmsg (u));
      CHECK (status == XVA_ENET);
      CHECK (strstr (Xva_s3_upload_errmsg (u), "part") != NULL);
      CHECK (strstr (Xva_s3_upload_errmsg (u), "after 2 tries") != NULL);
      Xva_s3_upload_free (u);
    }
    status = Xva_s3_list_uploads (&t.cfg, t.bucket, t.prefix, &l, &err);
    CHECK_MSG (status == XVA_OK && l != NULL && l->n == 0, err.msg);
    Xva_s3_pending_free (l);
  }

  /* Edge sizes, without faults; every other one with unsigned
   * payloads. */
  for (i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    char name[64];
    cfg = t.cfg;
    cfg.unsigned_payload = (int) (i & 1);
    snprintf (name, sizeof name, "edge-%zu", sizes[i]);
    s3_test_key (&t, name, key, sizeof key);
    CHECK (put (&cfg, t.bucket, key, data, sizes[i], &parts, &retries)
           == XVA_OK);
    CHECK (parts
           == (sizes[i] > XVA_S3_PART_DEFAULT    ? 2
               : sizes[i] == XVA_S3_PART_DEFAULT ? 1
                                                 : 0));
    CHECK (get_compare (&t.cfg, t.bucket, key, data, sizes[i], &retries));
    CHECK (Xva_s3_delete (&t.cfg, t.bucket, key, &err) == XVA_OK);
  }

  free (data);
  HARNESS_DONE ();
}
