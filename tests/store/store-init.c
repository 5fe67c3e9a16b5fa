/* A fresh data directory gets a pool, a host, a default SR with its
 * directory and the user root; reopening keeps them; passwords are
 * checked against salted hashes only. */
#include <limits.h>
#include <sqlite3.h>

#include "store-test.h"

static const char password[] = "correct horse battery staple";

/* The one object of class cls: its ref and record. */
static struct xva_value *
only (struct Xva_store *s, const char *cls, char *ref)
{
  struct Xva_store_list l;
  struct xva_value *rec = NULL;

  CHECK_RC (Xva_store_list (s, NULL, cls, 1, &l), XVA_OK);
  CHECK (l.n == 1);
  if (l.n == 1) {
    snprintf (ref, XVA_STORE_REF_MAX + 1, "%s", l.refs[0]);
    rec = l.recs[0];
    l.recs[0] = NULL;
  }
  Xva_store_list_free (&l);
  return rec;
}

static int
field_is (const struct xva_value *rec, const char *key, const char *want)
{
  const char *v = xva_value_get_string (rec, key);
  return v != NULL && strcmp (v, want) == 0;
}

static int
int_field_is (const struct xva_value *rec, const char *key, int64_t want)
{
  int64_t v;
  return xva_value_get_int (xva_value_get (rec, key), &v) == 0 && v == want;
}

/* Reads root's row straight from the database file. */
static void
check_stored_hash (const char *dir)
{
  char path[PATH_MAX];
  sqlite3 *db = NULL;
  sqlite3_stmt *st = NULL;

  snprintf (path, sizeof path, "%s/xva.db", dir);
  CHECK (sqlite3_open_v2 (path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK);
  CHECK (sqlite3_prepare_v2 (db,
                             "SELECT salt, hash, iterations FROM users"
                             " WHERE name = 'root'",
                             -1, &st, NULL)
         == SQLITE_OK);
  CHECK (sqlite3_step (st) == SQLITE_ROW);
  if (sqlite3_column_type (st, 1) == SQLITE_BLOB) {
    const void *hash = sqlite3_column_blob (st, 1);
    int n = sqlite3_column_bytes (st, 1);

    CHECK (n == 32);
    CHECK (sqlite3_column_bytes (st, 0) == 16);
    CHECK (sqlite3_column_int64 (st, 2) >= 100000);
    CHECK (memmem (hash, (size_t) n, password, 8) == NULL);
  }
  else
    CHECK_MSG (0, "hash column is a blob");
  sqlite3_finalize (st);
  st = NULL;
  /* The clear password appears in no table. */
  CHECK (sqlite3_prepare_v2 (db,
                             "SELECT count(*) FROM objects"
                             " WHERE instr(record, ?1) > 0",
                             -1, &st, NULL)
         == SQLITE_OK);
  sqlite3_bind_text (st, 1, password, -1, SQLITE_STATIC);
  CHECK (sqlite3_step (st) == SQLITE_ROW);
  CHECK (sqlite3_column_int (st, 0) == 0);
  sqlite3_finalize (st);
  sqlite3_close (db);
}

int
main (void)
{
  char dir[1024], sub[1100], path[PATH_MAX + 64], err[512];
  char pool_ref[XVA_STORE_REF_MAX + 1], host_ref[XVA_STORE_REF_MAX + 1];
  char sr_ref[XVA_STORE_REF_MAX + 1], ref2[XVA_STORE_REF_MAX + 1];
  char def[XVA_STORE_REF_MAX + 1], sr_uuid[XVA_STORE_UUID_LEN + 1];
  struct xva_value *pool, *host, *sr, *sv;
  struct Xva_store *s = NULL, *s2 = NULL;
  struct stat sb;

  test_tmpdir (dir, sizeof dir);
  snprintf (sub, sizeof sub, "%s/data", dir);

  CHECK_RC (Xva_store_open (sub, &s, err, sizeof err), XVA_OK);
  if (s == NULL) {
    fprintf (stderr, "open: %s\n", err);
    return 1;
  }
  /* The directory is private. */
  CHECK (stat (sub, &sb) == 0 && (sb.st_mode & 0777) == 0700);
  snprintf (path, sizeof path, "%s/xva.db", sub);
  CHECK (stat (path, &sb) == 0 && (sb.st_mode & 0077) == 0);
  CHECK (Xva_store_initialised (s) == 0);

  /* A second handle on the same directory is refused. */
  CHECK_RC (Xva_store_open (sub, &s2, err, sizeof err), XVA_ESTATE);
  CHECK (s2 == NULL);

  /* No built-in password. */
  CHECK_RC (Xva_store_init (s, NULL), XVA_EINVAL);
  CHECK_RC (Xva_store_init (s, ""), XVA_EINVAL);
  CHECK (Xva_store_initialised (s) == 0);
  CHECK_RC (Xva_store_init (s, password), XVA_OK);
  CHECK (Xva_store_initialised (s) == 1);
  CHECK_RC (Xva_store_init (s, password), XVA_EEXIST);

  pool = only (s, "pool", pool_ref);
  host = only (s, "host", host_ref);
  sr = only (s, "SR", sr_ref);
  CHECK (pool && host && sr);
  if (pool && host && sr) {
    CHECK (strncmp (pool_ref, "OpaqueRef:", 10) == 0
           && Xva_store_uuid_valid (pool_ref + 10));
    CHECK (Xva_store_uuid_valid (xva_value_get_string (pool, "uuid")));
    CHECK (field_is (pool, "name_label", ""));
    CHECK (field_is (pool, "master", host_ref));
    CHECK (field_is (pool, "default_SR", sr_ref));
    CHECK (field_is (pool, "suspend_image_SR", sr_ref));
    CHECK (field_is (pool, "crash_dump_SR", sr_ref));
    CHECK (xva_value_type (xva_value_get (pool, "other_config"))
           == XVA_TYPE_STRUCT);

    CHECK (field_is (host, "address", "127.0.0.1"));
    CHECK (int_field_is (host, "API_version_major", 2));
    CHECK (int_field_is (host, "API_version_minor", 21));
    sv = xva_value_get (host, "software_version");
    CHECK (field_is (sv, "product_brand", "xva"));
    CHECK (field_is (sv, "xapi", "1.1"));
    {
      int en = 0;
      CHECK (xva_value_get_bool (xva_value_get (host, "enabled"), &en) == 0
             && en == 1);
    }
    CHECK (xva_value_get_string (host, "hostname") != NULL);

    CHECK (field_is (sr, "name_label", "Local storage"));
    CHECK (field_is (sr, "type", "ext"));
    CHECK (field_is (sr, "content_type", "user"));
    {
      int shared = 1;
      int64_t size = 0;
      CHECK (xva_value_get_bool (xva_value_get (sr, "shared"), &shared) == 0
             && shared == 0);
      CHECK (xva_value_get_int (xva_value_get (sr, "physical_size"), &size)
               == 0
             && size > 0);
    }
    CHECK (xva_value_type (xva_value_get (sr, "VDIs")) == XVA_TYPE_ARRAY);
    snprintf (sr_uuid, sizeof sr_uuid, "%s",
              xva_value_get_string (sr, "uuid")
                ? xva_value_get_string (sr, "uuid")
                : "");
    CHECK_RC (Xva_store_sr_dir (s, sr_uuid, path, sizeof path), XVA_OK);
    CHECK (stat (path, &sb) == 0 && S_ISDIR (sb.st_mode));
  }
  CHECK_RC (Xva_store_default_sr (s, NULL, def), XVA_OK);
  CHECK (strcmp (def, sr_ref) == 0);

  /* Passwords. */
  CHECK_RC (Xva_store_check_password (s, "root", password), XVA_OK);
  CHECK_RC (Xva_store_check_password (s, "root", "wrong"), XVA_EAUTH);
  CHECK_RC (Xva_store_check_password (s, "root", ""), XVA_EAUTH);
  CHECK_RC (Xva_store_check_password (s, "nobody", password), XVA_EAUTH);
  check_stored_hash (sub);

  Xva_store_close (s);
  s = NULL;

  /* Reopen: the same objects, no second initialisation. */
  CHECK_RC (Xva_store_open (sub, &s, err, sizeof err), XVA_OK);
  if (s == NULL) {
    fprintf (stderr, "reopen: %s\n", err);
    return 1;
  }
  CHECK (Xva_store_initialised (s) == 1);
  {
    struct xva_value *p2 = only (s, "pool", ref2);
    CHECK (strcmp (ref2, pool_ref) == 0);
    xva_value_free (p2);
    p2 = only (s, "host", ref2);
    CHECK (strcmp (ref2, host_ref) == 0);
    xva_value_free (p2);
    p2 = only (s, "SR", ref2);
    CHECK (strcmp (ref2, sr_ref) == 0);
    xva_value_free (p2);
  }
  CHECK_RC (Xva_store_init (s, "other"), XVA_EEXIST);
  CHECK_RC (Xva_store_check_password (s, "root", password), XVA_OK);

  /* Changing a password; a second user. */
  CHECK_RC (Xva_store_set_password (s, "root", "new secret"), XVA_OK);
  CHECK_RC (Xva_store_check_password (s, "root", password), XVA_EAUTH);
  CHECK_RC (Xva_store_check_password (s, "root", "new secret"), XVA_OK);
  CHECK_RC (Xva_store_set_password (s, "alice", "a"), XVA_OK);
  CHECK_RC (Xva_store_check_password (s, "alice", "a"), XVA_OK);
  CHECK_RC (Xva_store_check_password (s, "alice", "new secret"), XVA_EAUTH);
  CHECK_RC (Xva_store_set_password (s, "alice", ""), XVA_EINVAL);
  CHECK_RC (Xva_store_set_password (s, "", "x"), XVA_EINVAL);

  /* A new SR: record and directory. */
  {
    char ref[XVA_STORE_REF_MAX + 1], uuid[XVA_STORE_UUID_LEN + 1];
    struct xva_value *rec = NULL;
    char cls[XVA_STORE_CLASS_MAX + 1];

    CHECK_RC (Xva_store_sr_create (s, "second", ref, uuid), XVA_OK);
    CHECK_RC (Xva_store_get (s, NULL, ref, cls, &rec), XVA_OK);
    CHECK (strcmp (cls, "SR") == 0);
    CHECK (field_is (rec, "name_label", "second"));
    CHECK (field_is (rec, "uuid", uuid));
    xva_value_free (rec);
    CHECK_RC (Xva_store_sr_dir (s, uuid, path, sizeof path), XVA_OK);
    CHECK (stat (path, &sb) == 0 && S_ISDIR (sb.st_mode));
  }

  xva_value_free (pool);
  xva_value_free (host);
  xva_value_free (sr);
  Xva_store_close (s);
  test_rmtree (dir);
  HARNESS_DONE ();
}
