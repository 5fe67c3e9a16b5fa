/* An aborted upload leaves no object and no pending multipart upload;
 * so does an upload freed without complete, and one whose completion
 * fails. */
#include "s3-test.h"

/* 1 if some pending upload of bucket is for key. */
static int
pending_for (const struct s3_test *t, const char *key, int *status)
{
  struct Xva_s3_pending_list *l = NULL;
  struct Xva_s3_err err;
  size_t i;
  int found = 0;

  *status = Xva_s3_list_uploads (&t->cfg, t->bucket, t->prefix, &l, &err);
  CHECK_MSG (*status == XVA_OK, err.msg);
  for (i = 0; l != NULL && i < l->n; i++)
    if (strcmp (l->v[i].key, key) == 0)
      found = 1;
  Xva_s3_pending_free (l);
  return found;
}

static int
object_exists (const struct s3_test *t, const char *key)
{
  struct Xva_s3_info info;
  struct Xva_s3_err err;
  int status;

  memset (&info, 0, sizeof info);
  status = Xva_s3_head (&t->cfg, t->bucket, key, &info, &err);
  Xva_s3_info_clear (&info);
  CHECK_MSG (status == XVA_OK || status == XVA_ENOTFOUND, err.msg);
  return status == XVA_OK;
}

/* Starts an upload of 3 full parts plus a bit (so parts are in flight). */
static struct Xva_s3_upload *
start (const struct s3_test *t, const char *key, unsigned char *data,
       size_t size)
{
  struct Xva_s3_upload *u;
  struct Xva_s3_err err;
  int status;

  u = Xva_s3_upload_new (&t->cfg, t->bucket, key, NULL, 0, 0, &status, &err);
  CHECK_MSG (u != NULL, err.msg);
  if (u == NULL)
    return NULL;
  status = Xva_s3_upload_write (u, data, size);
  CHECK_MSG (status == XVA_OK, Xva_s3_upload_errmsg (u));
  CHECK (Xva_s3_upload_parts (u) == 3);
  CHECK (Xva_s3_upload_id (u)[0] != '\0');
  return u;
}

int
main (void)
{
  struct s3_test t;
  struct Xva_s3_upload *u;
  struct Xva_s3_pending_list *l = NULL;
  struct Xva_s3_err err;
  char key[512];
  size_t size = (size_t) 3 * XVA_S3_PART_DEFAULT + 100;
  unsigned char *data = malloc (size);
  int status;

  s3_test_init (&t, "abort");
  if (data == NULL)
    return 1;
  s3_test_fill (data, size, 7);

  /* 1. Explicit abort while parts are in flight. */
  s3_test_key (&t, "aborted.xva", key, sizeof key);
  u = start (&t, key, data, size);
  if (u != NULL) {
    CHECK (pending_for (&t, key, &status));
    status = Xva_s3_upload_abort (u);
    CHECK_MSG (status == XVA_OK, Xva_s3_upload_errmsg (u));
    CHECK (Xva_s3_upload_abort (u) == XVA_OK); /* idempotent */
    CHECK (Xva_s3_upload_write (u, data, 10) == XVA_ESTATE);
    CHECK (Xva_s3_upload_complete (u) == XVA_ESTATE);
    Xva_s3_upload_free (u);
  }
  CHECK (!pending_for (&t, key, &status) && status == XVA_OK);
  CHECK (!object_exists (&t, key));

  /* 2. Freed without complete: aborted too. */
  s3_test_key (&t, "dropped.xva", key, sizeof key);
  u = start (&t, key, data, size);
  Xva_s3_upload_free (u);
  CHECK (!pending_for (&t, key, &status) && status == XVA_OK);
  CHECK (!object_exists (&t, key));

  /* 3. A multipart upload that vanishes before completion (aborted
   * behind the handle's back): complete fails with XVA_ENOTFOUND, and
   * nothing is left. */
  s3_test_key (&t, "vanished.xva", key, sizeof key);
  u = start (&t, key, data, size);
  if (u != NULL) {
    status = Xva_s3_abort_pending (&t.cfg, t.bucket, key, Xva_s3_upload_id (u),
                                   &err);
    CHECK_MSG (status == XVA_OK, err.msg);
    status = Xva_s3_upload_complete (u);
    CHECK (status == XVA_ENOTFOUND);
    fprintf (stderr, "expected failure: %s\n", Xva_s3_upload_errmsg (u));
    CHECK (strstr (Xva_s3_upload_errmsg (u), "NoSuchUpload") != NULL);
    CHECK (Xva_s3_upload_abort (u) == XVA_OK);
    Xva_s3_upload_free (u);
  }
  CHECK (!pending_for (&t, key, &status) && status == XVA_OK);
  CHECK (!object_exists (&t, key));

  /* Nothing at all pending under this run's prefix. */
  status = Xva_s3_list_uploads (&t.cfg, t.bucket, t.prefix, &l, &err);
  CHECK_MSG (status == XVA_OK && l != NULL && l->n == 0, err.msg);
  Xva_s3_pending_free (l);

  free (data);
  HARNESS_DONE ();
}
