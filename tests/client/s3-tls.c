/* HTTPS: verified against the CA file the server's certificate came
 * from; refused (XVA_ENET) against the system store; accepted unverified
 * only when insecure is set.  A two-part upload and a download go over
 * TLS byte for byte. */
#include "s3-test.h"

int
main (void)
{
  struct s3_test t;
  struct Xva_s3_config cfg;
  struct Xva_s3_err err;
  struct Xva_s3_info info;
  struct Xva_s3_upload *u;
  struct Xva_s3_download *d;
  char key[512];
  size_t size = XVA_S3_PART_DEFAULT + 4097, pos = 0, n;
  unsigned char *data = malloc (size), *back = malloc (size + 1);
  int status;

  s3_test_init (&t, "tls");
  if (t.tls_endpoint[0] == '\0') {
    fprintf (stderr, "SKIP: the cluster has no HTTPS endpoint\n");
    return 77;
  }
  if (data == NULL || back == NULL)
    return 1;
  s3_test_fill (data, size, 3);
  s3_test_key (&t, "tls.xva", key, sizeof key);
  memset (&info, 0, sizeof info);
  cfg = t.cfg;
  cfg.endpoint = t.tls_endpoint;

  /* System CA store: the self-signed certificate is refused, at once
   * (no retries: they cannot help). */
  {
    double t0 = s3_test_now ();
    status = Xva_s3_head (&cfg, t.bucket, key, &info, &err);
    fprintf (stderr, "unverified peer: %s\n", err.msg);
    CHECK (s3_test_now () - t0 < 2.0); /* 4 retries: > 3.7 s */
  }
  CHECK (status == XVA_ENET && err.permanent);
  CHECK (strstr (err.msg, "certificate") != NULL
         || strstr (err.msg, "SSL") != NULL);

  /* insecure: accepted (the key does not exist yet). */
  cfg.insecure = 1;
  status = Xva_s3_head (&cfg, t.bucket, key, &info, &err);
  CHECK_MSG (status == XVA_ENOTFOUND, err.msg);

  /* The CA file: verified, and data goes through. */
  cfg.insecure = 0;
  cfg.ca_file = t.ca_file;
  cfg.retries = 0;
  u = Xva_s3_upload_new (&cfg, t.bucket, key, NULL, 0, 0, &status, &err);
  CHECK_MSG (u != NULL, err.msg);
  if (u != NULL) {
    status = Xva_s3_upload_write (u, data, size);
    if (status == XVA_OK)
      status = Xva_s3_upload_complete (u);
    CHECK_MSG (status == XVA_OK, Xva_s3_upload_errmsg (u));
    CHECK (Xva_s3_upload_parts (u) == 2);
    Xva_s3_upload_free (u);
  }
  d = Xva_s3_download_new (&cfg, t.bucket, key, &status, &err);
  CHECK_MSG (d != NULL, err.msg);
  if (d != NULL) {
    while ((status = Xva_s3_download_read (d, back + pos, size + 1 - pos, &n))
           == XVA_OK)
      pos += n;
    CHECK_MSG (status == XVA_EOF, Xva_s3_download_errmsg (d));
    CHECK (pos == size && memcmp (back, data, size) == 0);
    Xva_s3_download_free (d);
  }
  CHECK_MSG (Xva_s3_delete (&cfg, t.bucket, key, &err) == XVA_OK, err.msg);

  /* A CA file that does not exist. */
  cfg.ca_file = "/nonexistent/ca.pem";
  status = Xva_s3_head (&cfg, t.bucket, key, &info, &err);
  fprintf (stderr, "missing CA file: %s\n", err.msg);
  CHECK (status == XVA_ENET);

  free (data);
  free (back);
  HARNESS_DONE ();
}
