/* Listing: a prefix selects exactly its keys, pages are followed with
 * continuation tokens (small pages here), max_keys bounds the result,
 * metadata comes with Xva_s3_list_fetch_info, and pending uploads are
 * listed across pages too. */
#include "s3-test.h"

#define NOBJ 23

int
main (void)
{
  struct s3_test t;
  struct Xva_s3_config cfg;
  struct Xva_s3_err err;
  struct Xva_s3_list *list = NULL;
  struct Xva_s3_pending_list *pl = NULL;
  struct Xva_s3_upload *ups[3];
  char key[512], prefix[300], val[32];
  unsigned char data[3000];
  size_t i;
  int status;

  s3_test_init (&t, "list");
  s3_test_fill (data, sizeof data, 5);
  cfg = t.cfg;
  cfg.list_page = 5;

  /* NOBJ objects under a/, sizes 100+i, metadata idx=i; two outside. */
  for (i = 0; i < NOBJ + 2; i++) {
    struct Xva_s3_upload *u;
    struct Xva_s3_pair m = { "idx", val };
    char name[64];
    snprintf (name, sizeof name, i < NOBJ ? "a/obj-%02zu" : "b/other-%zu", i);
    snprintf (val, sizeof val, "%zu", i);
    s3_test_key (&t, name, key, sizeof key);
    u = Xva_s3_upload_new (&t.cfg, t.bucket, key, &m, 1, 0, &status, &err);
    CHECK_MSG (u != NULL, err.msg);
    if (u == NULL)
      return 1;
    CHECK (Xva_s3_upload_write (u, data, 100 + i) == XVA_OK);
    status = Xva_s3_upload_complete (u);
    CHECK_MSG (status == XVA_OK, Xva_s3_upload_errmsg (u));
    Xva_s3_upload_free (u);
  }

  snprintf (prefix, sizeof prefix, "%sa/", t.prefix);
  status = Xva_s3_list (&cfg, t.bucket, prefix, 0, &list, &err);
  CHECK_MSG (status == XVA_OK, err.msg);
  if (list != NULL) {
    CHECK (list->n == NOBJ);
    for (i = 0; i < list->n && i < NOBJ; i++) {
      char want[512];
      snprintf (want, sizeof want, "%sa/obj-%02zu", t.prefix, i);
      CHECK (strcmp (list->v[i].key, want) == 0);
      CHECK (list->v[i].size == 100 + i);
      CHECK (list->v[i].etag[0] == '"');
      CHECK (list->v[i].have_info == 0);
    }
    /* One object goes away between listing and HEAD: it is dropped. */
    CHECK (Xva_s3_delete (&t.cfg, t.bucket, list->v[3].key, &err) == XVA_OK);
    status = Xva_s3_list_fetch_info (&cfg, t.bucket, list, &err);
    CHECK_MSG (status == XVA_OK, err.msg);
    CHECK (list->n == NOBJ - 1);
    for (i = 0; i < list->n; i++) {
      const char *v = Xva_s3_info_meta (&list->v[i].info, "idx");
      size_t want = i < 3 ? i : i + 1;
      CHECK (list->v[i].have_info);
      CHECK (v != NULL && (size_t) strtoul (v, NULL, 10) == want);
    }
    Xva_s3_list_free (list);
    list = NULL;
  }

  /* The whole run's prefix: NOBJ - 1 + 2 keys. */
  status = Xva_s3_list (&cfg, t.bucket, t.prefix, 0, &list, &err);
  CHECK_MSG (status == XVA_OK && list != NULL && list->n == NOBJ + 1, err.msg);
  Xva_s3_list_free (list);
  list = NULL;

  /* A bound on the number of keys. */
  status = Xva_s3_list (&cfg, t.bucket, t.prefix, 7, &list, &err);
  CHECK (status == XVA_ELIMIT && list == NULL);
  CHECK (strstr (err.msg, "more than 7 keys") != NULL);

  /* A prefix that matches nothing. */
  snprintf (prefix, sizeof prefix, "%szzz", t.prefix);
  status = Xva_s3_list (&cfg, t.bucket, prefix, 0, &list, &err);
  CHECK_MSG (status == XVA_OK && list != NULL && list->n == 0, err.msg);
  Xva_s3_list_free (list);
  list = NULL;

  /* Pending uploads over several pages (page size 2). */
  cfg.list_page = 2;
  for (i = 0; i < 3; i++) {
    char name[64];
    snprintf (name, sizeof name, "pending-%zu", i);
    s3_test_key (&t, name, key, sizeof key);
    ups[i] = Xva_s3_upload_new (&t.cfg, t.bucket, key, NULL, 0, 0, &status,
                                &err);
    CHECK_MSG (ups[i] != NULL, err.msg);
    if (ups[i] == NULL)
      return 1;
    {
      size_t left = XVA_S3_PART_DEFAULT;
      while (left > 0 && status == XVA_OK) {
        size_t n = left < sizeof data ? left : sizeof data;
        status = Xva_s3_upload_write (ups[i], data, n);
        left -= n;
      }
    }
    CHECK (status == XVA_OK && Xva_s3_upload_id (ups[i])[0] != '\0');
  }
  status = Xva_s3_list_uploads (&cfg, t.bucket, t.prefix, &pl, &err);
  CHECK_MSG (status == XVA_OK && pl != NULL, err.msg);
  if (pl != NULL) {
    CHECK (pl->n == 3);
    for (i = 0; i < pl->n && i < 3; i++) {
      CHECK (strstr (pl->v[i].key, "pending-") != NULL);
      CHECK (strcmp (pl->v[i].upload_id, Xva_s3_upload_id (ups[i])) == 0);
      CHECK (pl->v[i].initiated[0] != '\0');
    }
  }
  Xva_s3_pending_free (pl);
  pl = NULL;
  for (i = 0; i < 3; i++) {
    CHECK (Xva_s3_upload_abort (ups[i]) == XVA_OK);
    Xva_s3_upload_free (ups[i]);
  }
  status = Xva_s3_list_uploads (&cfg, t.bucket, t.prefix, &pl, &err);
  CHECK_MSG (status == XVA_OK && pl != NULL && pl->n == 0, err.msg);
  Xva_s3_pending_free (pl);

  /* Clean up. */
  status = Xva_s3_list (&cfg, t.bucket, t.prefix, 0, &list, &err);
  for (i = 0; list != NULL && i < list->n; i++)
    CHECK (Xva_s3_delete (&t.cfg, t.bucket, list->v[i].key, &err) == XVA_OK);
  Xva_s3_list_free (list);

  HARNESS_DONE ();
}
