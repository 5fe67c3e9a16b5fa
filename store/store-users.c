/* Users and their passwords: PBKDF2-HMAC-SHA256 with a random salt. */
#include "store/store-priv.h"

#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#define SALT_LEN 16
#define HASH_LEN 32
#define ITERATIONS_MAX 10000000

static int
check_user (const char *user, const char *password, const char *fn)
{
  size_t i;

  if (user == NULL || user[0] == '\0')
    return Xva_store_error (XVA_EINVAL, "%s: no user name given", fn);
  for (i = 0; user[i] != '\0'; i++) {
    if (i >= XVA_STORE_USER_MAX)
      return Xva_store_error (XVA_ELIMIT, "%s: user name too long", fn);
    if ((unsigned char) user[i] < 0x20 || user[i] == 0x7f)
      return Xva_store_error (XVA_EINVAL, "%s: control byte in user name", fn);
  }
  if (password == NULL || password[0] == '\0')
    return Xva_store_error (XVA_EINVAL, "%s: empty password for %s", fn, user);
  if (strnlen (password, XVA_STORE_PASSWORD_MAX + 1) > XVA_STORE_PASSWORD_MAX)
    return Xva_store_error (XVA_ELIMIT, "%s: password too long", fn);
  return XVA_OK;
}

static int
derive (const char *password, const unsigned char *salt, int iterations,
        unsigned char *out, const char *fn)
{
  if (PKCS5_PBKDF2_HMAC (password, (int) strlen (password), salt, SALT_LEN,
                         iterations, EVP_sha256 (), HASH_LEN, out)
      != 1)
    return Xva_store_error (XVA_EIO, "%s: PBKDF2 failed", fn);
  return XVA_OK;
}

int
Xva_store_password_put (struct Xva_store *s, struct Xva_store_txn *t,
                        const char *user, const char *password)
{
  static const char fn[] = "Xva_store_set_password";
  unsigned char salt[SALT_LEN], hash[HASH_LEN];
  struct Xva_store_conn c;
  sqlite3_stmt *st = NULL;
  int rc, r;

  r = check_user (user, password, fn);
  if (r < 0)
    return r;
  r = Xva_store_random (salt, sizeof salt);
  if (r < 0)
    return r;
  /* Hash before taking the write connection: it takes a while. */
  r = derive (password, salt, XVA_STORE_PBKDF2_ITERATIONS, hash, fn);
  if (r < 0)
    return r;
  r = Xva_store_conn_get (s, t, 1, &c, fn);
  if (r < 0)
    goto out_clean;
  rc = sqlite3_prepare_v2 (c.db,
                           "INSERT INTO users (name, salt, hash, iterations)"
                           " VALUES (?1, ?2, ?3, ?4)"
                           " ON CONFLICT (name) DO UPDATE SET"
                           " salt = excluded.salt, hash = excluded.hash,"
                           " iterations = excluded.iterations",
                           -1, &st, NULL);
  if (rc == SQLITE_OK)
    rc = sqlite3_bind_text (st, 1, user, -1, SQLITE_TRANSIENT);
  if (rc == SQLITE_OK)
    rc = sqlite3_bind_blob (st, 2, salt, SALT_LEN, SQLITE_TRANSIENT);
  if (rc == SQLITE_OK)
    rc = sqlite3_bind_blob (st, 3, hash, HASH_LEN, SQLITE_TRANSIENT);
  if (rc == SQLITE_OK)
    rc = sqlite3_bind_int (st, 4, XVA_STORE_PBKDF2_ITERATIONS);
  if (rc == SQLITE_OK) {
    rc = sqlite3_step (st);
    if (rc == SQLITE_DONE)
      rc = SQLITE_OK;
  }
  if (rc != SQLITE_OK)
    r = Xva_store_sqlite_error (c.db, rc, fn, user);
  sqlite3_finalize (st);
  r = Xva_store_conn_put (s, &c, r);

out_clean:
  OPENSSL_cleanse (hash, sizeof hash);
  return r;
}

int
Xva_store_set_password (struct Xva_store *s, const char *user,
                        const char *password)
{
  return Xva_store_password_put (s, NULL, user, password);
}

int
Xva_store_check_password (struct Xva_store *s, const char *user,
                          const char *password)
{
  static const char fn[] = "Xva_store_check_password";
  unsigned char salt[SALT_LEN], want[HASH_LEN], got[HASH_LEN];
  struct Xva_store_conn c;
  sqlite3_stmt *st = NULL;
  int iterations = XVA_STORE_PBKDF2_ITERATIONS;
  int found = 0, rc, r;

  r = check_user (user, password, fn);
  if (r == XVA_EINVAL || r == XVA_ELIMIT)
    return Xva_store_error (XVA_EAUTH, "%s: authentication failed", fn);
  memset (salt, 0, sizeof salt);
  memset (want, 0, sizeof want);
  r = Xva_store_conn_get (s, NULL, 0, &c, fn);
  if (r < 0)
    return r;
  rc = sqlite3_prepare_v2 (c.db,
                           "SELECT salt, hash, iterations FROM users"
                           " WHERE name = ?1",
                           -1, &st, NULL);
  if (rc == SQLITE_OK)
    rc = sqlite3_bind_text (st, 1, user, -1, SQLITE_TRANSIENT);
  if (rc == SQLITE_OK) {
    rc = sqlite3_step (st);
    if (rc == SQLITE_ROW) {
      const void *sv = sqlite3_column_blob (st, 0);
      int sn = sqlite3_column_bytes (st, 0);
      const void *hv = sqlite3_column_blob (st, 1);
      int hn = sqlite3_column_bytes (st, 1);
      sqlite3_int64 it = sqlite3_column_int64 (st, 2);

      if (sv && hv && sn == SALT_LEN && hn == HASH_LEN && it >= 1
          && it <= ITERATIONS_MAX) {
        memcpy (salt, sv, SALT_LEN);
        memcpy (want, hv, HASH_LEN);
        iterations = (int) it;
        found = 1;
      }
      rc = SQLITE_OK;
    }
    else if (rc == SQLITE_DONE)
      rc = SQLITE_OK;
  }
  if (rc != SQLITE_OK)
    r = Xva_store_sqlite_error (c.db, rc, fn, user);
  sqlite3_finalize (st);
  Xva_store_conn_put (s, &c, r);
  if (r < 0)
    return r;
  /* Derive even for an unknown user, so that timing does not tell. */
  r = derive (password, salt, iterations, got, fn);
  if (r < 0)
    goto out;
  if (!found || CRYPTO_memcmp (got, want, HASH_LEN) != 0)
    r = Xva_store_error (XVA_EAUTH, "%s: authentication failed for %s", fn,
                         user);

out:
  OPENSSL_cleanse (got, sizeof got);
  OPENSSL_cleanse (want, sizeof want);
  return r;
}
