/* Records: put, get, list, find by uuid and by name, delete; fields
 * survive; transactions commit all or nothing; bounds are enforced. */
#include <limits.h>

#include "store-test.h"

#define U1 "11111111-2222-4333-8444-555555555555"
#define U2 "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"
#define U3 "0badcafe-0000-4000-8000-000000000003"

/* A record with fields of every kind. */
static struct xva_value *
rich_record (void)
{
  struct xva_value *v = test_record (U1, "vm one", "x <&> \"y\"");
  struct xva_value *oc = xva_value_new_struct ();
  struct xva_value *arr = xva_value_new_array ();

  if (v == NULL || oc == NULL || arr == NULL)
    goto fail;
  if (xva_value_set_string (oc, "key", "value") < 0
      || xva_value_set_bool (oc, "flag", 1) < 0
      || xva_value_append (arr, xva_value_new_string ("OpaqueRef:a")) < 0
      || xva_value_append (arr, xva_value_new_string ("OpaqueRef:b")) < 0
      || xva_value_set (v, "other_config", oc) < 0
      || xva_value_set (v, "VBDs", arr) < 0
      || xva_value_set_bool (v, "is_a_template", 0) < 0
      || xva_value_set_int (v, "memory_static_max", 4294967296LL) < 0
      || xva_value_set (v, "snapshot_time",
                        xva_value_new_date ("19700101T00:00:00Z"))
           < 0
      || xva_value_set (v, "empty_map", xva_value_new_struct ()) < 0
      || xva_value_set (v, "empty_set", xva_value_new_array ()) < 0)
    goto fail_v;
  return v;

fail:
  xva_value_free (oc);
  xva_value_free (arr);
fail_v:
  xva_value_free (v);
  return NULL;
}

/* The same compact XML-RPC text: every field survived. */
static int
same_value (const struct xva_value *a, const struct xva_value *b)
{
  char *xa = NULL, *xb = NULL;
  size_t la = 0, lb = 0;
  int same;

  if (xva_value_to_xml (a, &xa, &la) != XVA_OK
      || xva_value_to_xml (b, &xb, &lb) != XVA_OK) {
    free (xa);
    free (xb);
    return 0;
  }
  same = la == lb && memcmp (xa, xb, la) == 0;
  free (xa);
  free (xb);
  return same;
}

int
main (void)
{
  char dir[1024], err[512], ref[XVA_STORE_REF_MAX + 1];
  char cls[XVA_STORE_CLASS_MAX + 1];
  struct Xva_store *s = NULL;
  struct Xva_store_txn *t = NULL;
  struct Xva_store_list l;
  struct xva_value *rich, *got = NULL, *r2, *r3;
  size_t n = 0;
  int i;

  test_tmpdir (dir, sizeof dir);
  CHECK_RC (Xva_store_open (dir, &s, err, sizeof err), XVA_OK);
  if (s == NULL) {
    fprintf (stderr, "open: %s\n", err);
    return 1;
  }
  rich = rich_record ();
  r2 = test_record (U2, "vm two", NULL);
  r3 = test_record (U3, "vm one", NULL); /* same name as rich */
  CHECK (rich && r2 && r3);
  if (!(rich && r2 && r3))
    return 1;

  /* put / get */
  CHECK_RC (Xva_store_put (s, NULL, "OpaqueRef:1", "VM", rich), XVA_OK);
  CHECK_RC (Xva_store_put (s, NULL, "OpaqueRef:2", "VM", r2), XVA_OK);
  CHECK_RC (Xva_store_put (s, NULL, "OpaqueRef:3", "VM", r3), XVA_OK);
  CHECK_RC (Xva_store_get (s, NULL, "OpaqueRef:1", cls, &got), XVA_OK);
  CHECK (strcmp (cls, "VM") == 0);
  CHECK (got != NULL && same_value (got, rich));
  xva_value_free (got);
  got = NULL;
  CHECK_RC (Xva_store_get (s, NULL, "OpaqueRef:1", NULL, NULL), XVA_OK);
  CHECK_RC (Xva_store_get (s, NULL, "OpaqueRef:none", cls, &got),
            XVA_ENOTFOUND);
  CHECK (got == NULL);

  /* by uuid, with and without class */
  CHECK_RC (Xva_store_find_uuid (s, NULL, "VM", U2, ref, cls), XVA_OK);
  CHECK (strcmp (ref, "OpaqueRef:2") == 0 && strcmp (cls, "VM") == 0);
  CHECK_RC (Xva_store_find_uuid (s, NULL, NULL, U1, ref, NULL), XVA_OK);
  CHECK (strcmp (ref, "OpaqueRef:1") == 0);
  CHECK_RC (Xva_store_find_uuid (s, NULL, "VDI", U1, ref, NULL),
            XVA_ENOTFOUND);

  /* list keeps insertion order */
  CHECK_RC (Xva_store_list (s, NULL, "VM", 0, &l), XVA_OK);
  CHECK (l.n == 3 && l.recs == NULL);
  if (l.n == 3)
    CHECK (strcmp (l.refs[0], "OpaqueRef:1") == 0
           && strcmp (l.refs[1], "OpaqueRef:2") == 0
           && strcmp (l.refs[2], "OpaqueRef:3") == 0);
  Xva_store_list_free (&l);
  CHECK_RC (Xva_store_list (s, NULL, "VDI", 1, &l), XVA_OK);
  CHECK (l.n == 0);
  Xva_store_list_free (&l);
  CHECK_RC (Xva_store_count (s, NULL, "VM", &n), XVA_OK);
  CHECK (n == 3);

  /* by name */
  CHECK_RC (Xva_store_by_name (s, NULL, "VM", "vm one", 1, &l), XVA_OK);
  CHECK (l.n == 2 && l.recs != NULL);
  if (l.n == 2 && l.recs) {
    CHECK (strcmp (l.refs[0], "OpaqueRef:1") == 0);
    CHECK (strcmp (l.refs[1], "OpaqueRef:3") == 0);
    CHECK (same_value (l.recs[1], r3));
  }
  Xva_store_list_free (&l);
  CHECK_RC (Xva_store_by_name (s, NULL, "SR", "vm one", 0, &l), XVA_OK);
  CHECK (l.n == 0);
  Xva_store_list_free (&l);

  /* replace: the columns follow the record, order is kept */
  CHECK (xva_value_set_string (r2, "name_label", "renamed") == 0);
  CHECK (xva_value_set_string (r2, "uuid", U3) == 0);
  CHECK_RC (Xva_store_put (s, NULL, "OpaqueRef:2", "VM", r2), XVA_OK);
  CHECK_RC (Xva_store_by_name (s, NULL, "VM", "vm two", 0, &l), XVA_OK);
  CHECK (l.n == 0);
  Xva_store_list_free (&l);
  CHECK_RC (Xva_store_by_name (s, NULL, "VM", "renamed", 0, &l), XVA_OK);
  CHECK (l.n == 1);
  Xva_store_list_free (&l);
  CHECK_RC (Xva_store_find_uuid (s, NULL, "VM", U2, ref, NULL), XVA_ENOTFOUND);
  CHECK_RC (Xva_store_list (s, NULL, "VM", 0, &l), XVA_OK);
  CHECK (l.n == 3 && strcmp (l.refs[1], "OpaqueRef:2") == 0);
  Xva_store_list_free (&l);
  /* a ref keeps its class */
  CHECK_RC (Xva_store_put (s, NULL, "OpaqueRef:2", "VDI", r2), XVA_EEXIST);
  CHECK_RC (Xva_store_get (s, NULL, "OpaqueRef:2", cls, NULL), XVA_OK);
  CHECK (strcmp (cls, "VM") == 0);

  /* delete */
  CHECK_RC (Xva_store_delete (s, NULL, "OpaqueRef:3"), XVA_OK);
  CHECK_RC (Xva_store_delete (s, NULL, "OpaqueRef:3"), XVA_ENOTFOUND);
  CHECK_RC (Xva_store_get (s, NULL, "OpaqueRef:3", NULL, NULL), XVA_ENOTFOUND);

  /* a rolled-back transaction leaves nothing */
  CHECK_RC (Xva_store_begin (s, &t), XVA_OK);
  for (i = 0; i < 50; i++) {
    char r[64];
    snprintf (r, sizeof r, "OpaqueRef:rb-%d", i);
    CHECK_RC (Xva_store_put (s, t, r, "VBD", r2), XVA_OK);
  }
  CHECK_RC (Xva_store_delete (s, t, "OpaqueRef:1"), XVA_OK);
  /* the transaction sees its writes, others do not yet */
  CHECK_RC (Xva_store_count (s, t, "VBD", &n), XVA_OK);
  CHECK (n == 50);
  CHECK_RC (Xva_store_count (s, NULL, "VBD", &n), XVA_OK);
  CHECK (n == 0);
  CHECK_RC (Xva_store_get (s, t, "OpaqueRef:1", NULL, NULL), XVA_ENOTFOUND);
  CHECK_RC (Xva_store_get (s, NULL, "OpaqueRef:1", NULL, NULL), XVA_OK);
  /* a write outside the held transaction is refused, not a deadlock */
  CHECK_RC (Xva_store_put (s, NULL, "OpaqueRef:x", "VM", r2), XVA_ESTATE);
  Xva_store_rollback (t);
  t = NULL;
  CHECK_RC (Xva_store_count (s, NULL, "VBD", &n), XVA_OK);
  CHECK (n == 0);
  CHECK_RC (Xva_store_get (s, NULL, "OpaqueRef:1", NULL, NULL), XVA_OK);
  CHECK_RC (Xva_store_get (s, NULL, "OpaqueRef:x", NULL, NULL), XVA_ENOTFOUND);

  /* a committed one keeps everything */
  CHECK_RC (Xva_store_begin (s, &t), XVA_OK);
  for (i = 0; i < 50; i++) {
    char r[64];
    snprintf (r, sizeof r, "OpaqueRef:c-%d", i);
    CHECK_RC (Xva_store_put (s, t, r, "VBD", r2), XVA_OK);
  }
  CHECK_RC (Xva_store_commit (t), XVA_OK);
  t = NULL;
  CHECK_RC (Xva_store_count (s, NULL, "VBD", &n), XVA_OK);
  CHECK (n == 50);

  /* bad arguments and bounds */
  {
    char longref[XVA_STORE_REF_MAX + 16];
    struct xva_value *big;
    char *text;
    size_t len = XVA_STORE_RECORD_MAX + 1;

    memset (longref, 'r', sizeof longref - 1);
    longref[sizeof longref - 1] = '\0';
    CHECK_RC (Xva_store_put (s, NULL, longref, "VM", r2), XVA_ELIMIT);
    CHECK_RC (Xva_store_put (s, NULL, "OpaqueRef:z", "V/M", r2), XVA_EINVAL);
    CHECK_RC (Xva_store_put (s, NULL, "", "VM", r2), XVA_EINVAL);
    CHECK_RC (Xva_store_put (s, NULL, "OpaqueRef:z", "VM", NULL), XVA_EINVAL);
    big = xva_value_new_string ("not a struct");
    CHECK_RC (Xva_store_put (s, NULL, "OpaqueRef:z", "VM", big), XVA_EINVAL);
    xva_value_free (big);

    /* a record over 64 MiB */
    text = malloc (len + 1);
    big = test_record (U1, "big", NULL);
    CHECK (text != NULL && big != NULL);
    if (text && big) {
      memset (text, 'a', len);
      text[len] = '\0';
      CHECK (xva_value_set_string (big, "blob", text) == 0);
      CHECK_RC (Xva_store_put (s, NULL, "OpaqueRef:big", "VM", big),
                XVA_ELIMIT);
      CHECK_RC (Xva_store_get (s, NULL, "OpaqueRef:big", NULL, NULL),
                XVA_ENOTFOUND);
    }
    free (text);
    xva_value_free (big);

    /* a long name_label is refused */
    big = test_record (U1, NULL, NULL);
    text = malloc (XVA_STORE_NAME_MAX + 2);
    if (big && text) {
      memset (text, 'n', XVA_STORE_NAME_MAX + 1);
      text[XVA_STORE_NAME_MAX + 1] = '\0';
      CHECK (xva_value_set_string (big, "name_label", text) == 0);
      CHECK_RC (Xva_store_put (s, NULL, "OpaqueRef:long", "VM", big),
                XVA_ELIMIT);
    }
    free (text);
    xva_value_free (big);
  }

  /* everything is still there after a reopen */
  Xva_store_close (s);
  s = NULL;
  CHECK_RC (Xva_store_open (dir, &s, err, sizeof err), XVA_OK);
  if (s) {
    CHECK_RC (Xva_store_get (s, NULL, "OpaqueRef:1", cls, &got), XVA_OK);
    CHECK (got != NULL && same_value (got, rich));
    xva_value_free (got);
    CHECK_RC (Xva_store_count (s, NULL, "VBD", &n), XVA_OK);
    CHECK (n == 50);
    Xva_store_close (s);
  }

  xva_value_free (rich);
  xva_value_free (r2);
  xva_value_free (r3);
  test_rmtree (dir);
  HARNESS_DONE ();
}
