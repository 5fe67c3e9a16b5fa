/* The public object storage API without a server: addresses, options
 * from the environment, argument checks, error messages and statuses,
 * NULL-safe accessors.  (Transfers against a real server are tested by
 * tests/cli/s3-cli.sh.) */
#include <stdlib.h>
#include <string.h>

#include <xva/xva.h>

#include "harness.h"

static void
clear_env (void)
{
  static const char *const vars[] = {
    "XVA_S3_ENDPOINT",    "XVA_S3_REGION",         "AWS_REGION",
    "AWS_DEFAULT_REGION", "XVA_S3_ACCESS_KEY",     "AWS_ACCESS_KEY_ID",
    "XVA_S3_SECRET_KEY",  "AWS_SECRET_ACCESS_KEY", "XVA_S3_CA_FILE",
    "XVA_S3_INSECURE",    "XVA_S3_PATH_STYLE",
  };
  size_t i;

  for (i = 0; i < sizeof vars / sizeof vars[0]; i++)
    unsetenv (vars[i]);
}

static int
starts (const char *s, const char *prefix)
{
  return s != NULL && strncmp (s, prefix, strlen (prefix)) == 0;
}

int
main (void)
{
  struct xva_s3_opts o;
  struct xva_s3_listing *l = (struct xva_s3_listing *) &o;
  struct xva_s3_upload *u;
  struct xva_s3_download *d;
  struct xva_s3_upload_stats us;
  struct xva_s3_pair meta[1] = { { "vm-name", "web" } };
  char err[1200];
  size_t nread = 7;
  int status;

  /* Addresses. */
  CHECK (xva_s3_is_url ("s3://b/k") == 1);
  CHECK (xva_s3_is_url ("S3://b/k") == 0);
  CHECK (xva_s3_is_url ("/tmp/s3://x") == 0);
  CHECK (xva_s3_is_url (NULL) == 0);
  CHECK (xva_s3_url_check ("s3://backups/web/a.xva", 1, err, sizeof err)
         == XVA_OK);
  CHECK (xva_s3_url_check ("s3://backups", 0, err, sizeof err) == XVA_OK);
  CHECK (xva_s3_url_check ("s3://backups/", 1, err, sizeof err) == XVA_EINVAL);
  CHECK (starts (err, "xva_s3_url_check: "));
  CHECK (strstr (err, "names a bucket") != NULL);
  CHECK (xva_s3_url_check ("s3://Bad_Bucket/k", 1, err, sizeof err)
         == XVA_EINVAL);
  CHECK (strstr (err, "bucket") != NULL);
  CHECK (xva_s3_url_check ("s3://backups/a/../b", 1, err, sizeof err)
         == XVA_EINVAL);
  CHECK (xva_s3_url_check ("http://backups/k", 1, NULL, 0) == XVA_EINVAL);

  /* Options. */
  xva_s3_opts_init (&o);
  CHECK (o.endpoint == NULL && o.access_key == NULL && o.path_style == 1);
  CHECK (o.part_size == 0 && o.parallel == 0 && o.insecure == 0);
  clear_env ();
  CHECK (xva_s3_opts_from_env (&o) == XVA_EINVAL);
  CHECK (o.endpoint == NULL);
  setenv ("XVA_S3_ENDPOINT", "http://127.0.0.1:1", 1);
  setenv ("AWS_ACCESS_KEY_ID", "AKIATEST", 1);
  setenv ("AWS_SECRET_ACCESS_KEY", "secret", 1);
  setenv ("AWS_REGION", "eu-west-1", 1);
  CHECK (xva_s3_opts_from_env (&o) == XVA_OK);
  CHECK (o.endpoint != NULL && strcmp (o.endpoint, "http://127.0.0.1:1") == 0);
  CHECK (o.access_key != NULL && strcmp (o.access_key, "AKIATEST") == 0);
  CHECK (o.region != NULL && strcmp (o.region, "eu-west-1") == 0);
  /* XVA_S3_* wins over AWS_*. */
  setenv ("XVA_S3_ACCESS_KEY", "XVAKEY", 1);
  CHECK (xva_s3_opts_from_env (&o) == XVA_OK);
  CHECK (strcmp (o.access_key, "XVAKEY") == 0);

  o.retries = 1; /* a closed port fails fast */

  /* Constructors check their arguments and name themselves. */
  status = 0;
  CHECK (xva_s3_upload_new (&o, "s3://backups/", meta, 1, 0, &status, err,
                            sizeof err)
         == NULL);
  CHECK (status == XVA_EINVAL);
  CHECK (starts (err, "xva_s3_upload_new: "));
  o.part_size = 1 << 20; /* below the 5 MiB minimum */
  status = 0;
  CHECK (xva_s3_upload_new (&o, "s3://backups/a.xva", meta, 1, 0, &status, err,
                            sizeof err)
         == NULL);
  CHECK_MSG (status == XVA_EINVAL, err);
  CHECK (strstr (err, "part size") != NULL);
  o.part_size = 0;
  meta[0].name = "bad name";
  status = 0;
  CHECK (xva_s3_upload_new (&o, "s3://backups/a.xva", meta, 1, 0, &status, err,
                            sizeof err)
         == NULL);
  CHECK_MSG (status == XVA_EINVAL, err);
  meta[0].name = "vm-name";

  /* Nothing is sent before the first part: a closed port only fails at
   * completion, and then with a network error. */
  status = 0;
  u = xva_s3_upload_new (&o, "s3://backups/a.xva", meta, 1, 0, &status, err,
                         sizeof err);
  CHECK_MSG (u != NULL && status == XVA_OK, err);
  if (u != NULL) {
    CHECK (xva_s3_upload_write (u, "abc", 3) == XVA_OK);
    xva_s3_upload_stats (u, &us);
    CHECK (us.bytes == 3 && us.parts == 0);
    status = xva_s3_upload_complete (u);
    CHECK (status == XVA_ENET);
    CHECK_MSG (starts (xva_s3_upload_errmsg (u), "xva_s3_upload_complete: "),
               xva_s3_upload_errmsg (u));
    /* Poisoned. */
    CHECK (xva_s3_upload_write (u, "abc", 3) < 0);
    xva_s3_upload_free (u);
  }
  status = 0;
  d = xva_s3_download_new (&o, "s3://backups/a.xva", &status, err, sizeof err);
  CHECK (d == NULL);
  CHECK_MSG (status == XVA_ENET, err);
  CHECK (starts (err, "xva_s3_download_new: "));
  l = NULL;
  CHECK (xva_s3_list (&o, "s3://backups/p/", XVA_S3_LIST_META, &l, err,
                      sizeof err)
         == XVA_ENET);
  CHECK (l == NULL);
  CHECK (starts (err, "xva_s3_list: "));
  CHECK (xva_s3_bucket_check (&o, "s3://backups", err, sizeof err)
         == XVA_ENET);
  CHECK (xva_s3_delete (&o, "s3://backups", err, sizeof err) == XVA_EINVAL);
  CHECK (xva_s3_abort_pending (&o, "s3://backups/k", "", err, sizeof err)
         == XVA_EINVAL);

  /* NULL handles. */
  CHECK (xva_s3_listing_count (NULL) == 0);
  CHECK (xva_s3_listing_key (NULL, 0) == NULL);
  CHECK (xva_s3_listing_meta (NULL, 0, "date") == NULL);
  CHECK (xva_s3_listing_mtime (NULL, 0) == -1);
  CHECK (xva_s3_download_read (NULL, err, 1, &nread) == XVA_EINVAL);
  CHECK (nread == 0);
  CHECK (xva_s3_download_size (NULL) == 0);
  CHECK (xva_s3_download_meta (NULL, "date") == NULL);
  CHECK (xva_s3_upload_write (NULL, "a", 1) == XVA_EINVAL);
  CHECK (xva_s3_upload_errmsg (NULL) != NULL);
  CHECK (xva_s3_download_errmsg (NULL) != NULL);
  xva_s3_listing_free (NULL);
  xva_s3_upload_free (NULL);
  xva_s3_download_free (NULL);
  clear_env ();
  HARNESS_DONE ();
}
