/* The store's handle, connections, transactions and records. */
#include "store/store-priv.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/* The calling thread's last message, and the store whose transaction it
 * holds (one at a time). */
static _Thread_local char tls_err[1024];
static _Thread_local const struct Xva_store *tls_txn_owner;

#define BUSY_TIMEOUT_MS 30000

static const char schema_sql[] =
  "CREATE TABLE IF NOT EXISTS objects ("
  " ref TEXT PRIMARY KEY,"
  " class TEXT NOT NULL,"
  " uuid TEXT,"
  " name_label TEXT,"
  " record TEXT NOT NULL);"
  "CREATE INDEX IF NOT EXISTS objects_class ON objects (class);"
  "CREATE INDEX IF NOT EXISTS objects_uuid ON objects (uuid);"
  "CREATE INDEX IF NOT EXISTS objects_class_name"
  " ON objects (class, name_label);"
  "CREATE TABLE IF NOT EXISTS users ("
  " name TEXT PRIMARY KEY,"
  " salt BLOB,"
  " hash BLOB,"
  " iterations INTEGER);"
  "CREATE TABLE IF NOT EXISTS meta ("
  " key TEXT PRIMARY KEY,"
  " value TEXT);";

int
Xva_store_error (int status, const char *fmt, ...)
{
  va_list ap;

  va_start (ap, fmt);
  vsnprintf (tls_err, sizeof tls_err, fmt, ap);
  va_end (ap);
  return status;
}

int
Xva_store_sqlite_error (sqlite3 *db, int rc, const char *fn, const char *what)
{
  int status;

  switch (rc & 0xff) {
  case SQLITE_NOMEM:
    status = XVA_ENOMEM;
    break;
  case SQLITE_FULL:
    status = XVA_ENOSPC;
    break;
  case SQLITE_CONSTRAINT:
    status = XVA_EEXIST;
    break;
  case SQLITE_TOOBIG:
    status = XVA_ELIMIT;
    break;
  default:
    status = XVA_EIO;
    break;
  }
  return Xva_store_error (status, "%s: %s: %s", fn, what,
                          db ? sqlite3_errmsg (db) : sqlite3_errstr (rc));
}

const char *
Xva_store_errmsg (const struct Xva_store *s)
{
  (void) s;
  return tls_err;
}

const char *
Xva_store_dir (const struct Xva_store *s)
{
  return s ? s->dir : NULL;
}

/* Runs sql (no results expected). */
static int
exec (sqlite3 *db, const char *sql, const char *fn)
{
  char *msg = NULL;
  int rc, r;

  rc = sqlite3_exec (db, sql, NULL, NULL, &msg);
  if (rc == SQLITE_OK)
    return XVA_OK;
  r = Xva_store_error (rc == SQLITE_FULL ? XVA_ENOSPC : XVA_EIO, "%s: %s: %s",
                       fn, sql, msg ? msg : sqlite3_errstr (rc));
  sqlite3_free (msg);
  return r;
}

/* Opens one connection with the settings every connection needs. */
static int
open_conn (const char *path, int reader, sqlite3 **out, const char *fn)
{
  sqlite3 *db = NULL;
  sqlite3_stmt *st = NULL;
  const unsigned char *mode;
  int rc, r;

  rc = sqlite3_open_v2 (path, &db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE
                          | SQLITE_OPEN_NOMUTEX,
                        NULL);
  if (rc != SQLITE_OK) {
    r = Xva_store_sqlite_error (db, rc, fn, path);
    goto fail;
  }
  sqlite3_extended_result_codes (db, 1);
  sqlite3_busy_timeout (db, BUSY_TIMEOUT_MS);
  /* WAL: readers never wait for the writer.  synchronous=FULL: a
   * commit is on disk when COMMIT returns, even after a power cut. */
  rc = sqlite3_prepare_v2 (db, "PRAGMA journal_mode=WAL", -1, &st, NULL);
  if (rc != SQLITE_OK) {
    r = Xva_store_sqlite_error (db, rc, fn, "journal_mode");
    goto fail;
  }
  rc = sqlite3_step (st);
  mode = rc == SQLITE_ROW ? sqlite3_column_text (st, 0) : NULL;
  if (mode == NULL || strcmp ((const char *) mode, "wal") != 0) {
    r = Xva_store_error (XVA_EIO, "%s: %s: cannot use WAL mode (%s)", fn, path,
                         mode ? (const char *) mode : sqlite3_errmsg (db));
    goto fail;
  }
  sqlite3_finalize (st);
  st = NULL;
  r = exec (db, "PRAGMA synchronous=FULL", fn);
  if (r < 0)
    goto fail;
  if (reader) {
    r = exec (db, "PRAGMA query_only=ON", fn);
    if (r < 0)
      goto fail;
  }
  *out = db;
  return XVA_OK;

fail:
  sqlite3_finalize (st);
  sqlite3_close_v2 (db);
  return r;
}

/* Creates the tables, or checks the schema version of existing ones. */
static int
setup_schema (sqlite3 *db, const char *fn)
{
  sqlite3_stmt *st = NULL;
  char sql[128];
  int rc, r;

  r = exec (db, "BEGIN IMMEDIATE", fn);
  if (r < 0)
    return r;
  r = exec (db, schema_sql, fn);
  if (r < 0)
    goto rollback;
  rc = sqlite3_prepare_v2 (db,
                           "SELECT value FROM meta"
                           " WHERE key = 'schema_version'",
                           -1, &st, NULL);
  if (rc != SQLITE_OK) {
    r = Xva_store_sqlite_error (db, rc, fn, "schema_version");
    goto rollback;
  }
  rc = sqlite3_step (st);
  if (rc == SQLITE_ROW) {
    const char *v = (const char *) sqlite3_column_text (st, 0);
    char *end = NULL;
    long long n;

    errno = 0;
    n = v ? strtoll (v, &end, 10) : 0;
    if (v == NULL || errno != 0 || end == v || *end != '\0' || n < 1) {
      r = Xva_store_error (XVA_EIO, "%s: bad schema_version '%s'", fn,
                           v ? v : "(null)");
      goto rollback;
    }
    if (n > XVA_STORE_SCHEMA_VERSION) {
      r = Xva_store_error (XVA_EVERSION,
                           "%s: schema version %lld is newer than %d", fn, n,
                           XVA_STORE_SCHEMA_VERSION);
      goto rollback;
    }
  }
  else if (rc == SQLITE_DONE) {
    sqlite3_finalize (st);
    st = NULL;
    snprintf (sql, sizeof sql,
              "INSERT INTO meta (key, value)"
              " VALUES ('schema_version', '%d')",
              XVA_STORE_SCHEMA_VERSION);
    r = exec (db, sql, fn);
    if (r < 0)
      goto rollback;
  }
  else {
    r = Xva_store_sqlite_error (db, rc, fn, "schema_version");
    goto rollback;
  }
  sqlite3_finalize (st);
  st = NULL;
  return exec (db, "COMMIT", fn);

rollback:
  sqlite3_finalize (st);
  sqlite3_exec (db, "ROLLBACK", NULL, NULL, NULL);
  return r;
}

/* mkdir that accepts an existing directory (or a link to one). */
static int
ensure_dir (const char *path)
{
  if (mkdir (path, 0700) == 0)
    return 0;
  return errno == EEXIST ? Xva_store_is_dir (path, 1) : -1;
}

int
Xva_store_open (const char *dir, struct Xva_store **out, char *err,
                size_t errlen)
{
  static const char fn[] = "Xva_store_open";
  struct Xva_store *s = NULL;
  char path[PATH_MAX];
  size_t dlen;
  int fd, r;

  tls_err[0] = '\0';
  if (out)
    *out = NULL;
  if (dir == NULL || out == NULL || dir[0] == '\0') {
    r = Xva_store_error (XVA_EINVAL, "%s: no directory given", fn);
    goto fail;
  }
  dlen = strlen (dir);
  if (dlen > PATH_MAX - 128) {
    r = Xva_store_error (XVA_ELIMIT, "%s: directory name too long", fn);
    goto fail;
  }
  if (sqlite3_threadsafe () == 0) {
    r = Xva_store_error (XVA_EIO, "%s: SQLite is built without threads", fn);
    goto fail;
  }
  s = calloc (1, sizeof *s);
  if (s == NULL) {
    r = Xva_store_error (XVA_ENOMEM, "%s: out of memory", fn);
    goto fail;
  }
  s->lock_fd = -1;
  s->dir = malloc (dlen + 1);
  if (s->dir == NULL) {
    r = Xva_store_error (XVA_ENOMEM, "%s: out of memory", fn);
    goto fail_free;
  }
  memcpy (s->dir, dir, dlen + 1);
  if (pthread_mutex_init (&s->wlock, NULL) != 0) {
    free (s->dir);
    r = Xva_store_error (XVA_ENOMEM, "%s: mutex", fn);
    goto fail_free;
  }
  if (pthread_mutex_init (&s->plock, NULL) != 0) {
    pthread_mutex_destroy (&s->wlock);
    free (s->dir);
    r = Xva_store_error (XVA_ENOMEM, "%s: mutex", fn);
    goto fail_free;
  }
  if (pthread_cond_init (&s->pcond, NULL) != 0) {
    pthread_mutex_destroy (&s->plock);
    pthread_mutex_destroy (&s->wlock);
    free (s->dir);
    r = Xva_store_error (XVA_ENOMEM, "%s: condition variable", fn);
    goto fail_free;
  }
  /* From here on Xva_store_close undoes everything. */

  if (ensure_dir (dir) == -1) {
    r = Xva_store_error (XVA_EIO, "%s: %s: %s", fn, dir, strerror (errno));
    goto fail_close;
  }
  r = Xva_store_path (path, sizeof path, fn, "%s/xva.lock", dir);
  if (r < 0)
    goto fail_close;
  s->lock_fd = open (path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (s->lock_fd == -1) {
    r = Xva_store_error (XVA_EIO, "%s: %s: %s", fn, path, strerror (errno));
    goto fail_close;
  }
  if (flock (s->lock_fd, LOCK_EX | LOCK_NB) == -1) {
    r = Xva_store_error (errno == EWOULDBLOCK ? XVA_ESTATE : XVA_EIO,
                         "%s: %s: %s", fn, dir,
                         errno == EWOULDBLOCK
                           ? "data directory in use by another process"
                           : strerror (errno));
    goto fail_close;
  }
  r = Xva_store_path (path, sizeof path, fn, "%s/sr", dir);
  if (r < 0)
    goto fail_close;
  if (ensure_dir (path) == -1) {
    r = Xva_store_error (XVA_EIO, "%s: %s: %s", fn, path, strerror (errno));
    goto fail_close;
  }
  r = Xva_store_path (path, sizeof path, fn, "%s/xva.db", dir);
  if (r < 0)
    goto fail_close;
  /* SQLite would make the file with the umask's mode; make it private
   * first (its -wal and -shm files copy its mode). */
  fd = open (path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd == -1) {
    r = Xva_store_error (XVA_EIO, "%s: %s: %s", fn, path, strerror (errno));
    goto fail_close;
  }
  close (fd);
  if (Xva_store_fsync_dir (dir) == -1) {
    r = Xva_store_error (XVA_EIO, "%s: fsync %s: %s", fn, dir,
                         strerror (errno));
    goto fail_close;
  }
  r = open_conn (path, 0, &s->wdb, fn);
  if (r < 0)
    goto fail_close;
  r = setup_schema (s->wdb, fn);
  if (r < 0)
    goto fail_close;
  r = Xva_store_sweep (s, NULL, NULL, &s->last_sweep);
  if (r < 0)
    goto fail_close;
  *out = s;
  tls_err[0] = '\0';
  return XVA_OK;

fail_free:
  free (s);
  goto fail;
fail_close:
  if (err && errlen > 0)
    snprintf (err, errlen, "%s", tls_err);
  Xva_store_close (s);
  return r;
fail:
  if (err && errlen > 0)
    snprintf (err, errlen, "%s", tls_err);
  return r;
}

void
Xva_store_close (struct Xva_store *s)
{
  unsigned i;

  if (s == NULL)
    return;
  for (i = 0; i < XVA_STORE_READERS; i++)
    sqlite3_close_v2 (s->readers[i]);
  sqlite3_close_v2 (s->wdb);
  if (s->lock_fd != -1)
    close (s->lock_fd); /* releases the flock */
  pthread_cond_destroy (&s->pcond);
  pthread_mutex_destroy (&s->plock);
  pthread_mutex_destroy (&s->wlock);
  free (s->dir);
  free (s);
}

void
Xva_store_last_sweep (const struct Xva_store *s,
                      struct Xva_store_sweep_report *report)
{
  if (report == NULL)
    return;
  if (s == NULL) {
    memset (report, 0, sizeof *report);
    return;
  }
  *report = s->last_sweep;
}

/* ---- Transactions ---------------------------------------------------- */

int
Xva_store_begin (struct Xva_store *s, struct Xva_store_txn **out)
{
  static const char fn[] = "Xva_store_begin";
  struct Xva_store_txn *t;
  int r;

  if (out)
    *out = NULL;
  if (s == NULL || out == NULL)
    return Xva_store_error (XVA_EINVAL, "%s: no store", fn);
  if (tls_txn_owner != NULL)
    return Xva_store_error (XVA_ESTATE,
                            "%s: this thread already holds a transaction", fn);
  t = malloc (sizeof *t);
  if (t == NULL)
    return Xva_store_error (XVA_ENOMEM, "%s: out of memory", fn);
  t->s = s;
  t->failed = XVA_OK;
  pthread_mutex_lock (&s->wlock);
  r = exec (s->wdb, "BEGIN IMMEDIATE", fn);
  if (r < 0) {
    pthread_mutex_unlock (&s->wlock);
    free (t);
    return r;
  }
  tls_txn_owner = s;
  *out = t;
  return XVA_OK;
}

static void
txn_end (struct Xva_store_txn *t)
{
  tls_txn_owner = NULL;
  pthread_mutex_unlock (&t->s->wlock);
  free (t);
}

int
Xva_store_commit (struct Xva_store_txn *t)
{
  static const char fn[] = "Xva_store_commit";
  int r;

  if (t == NULL)
    return Xva_store_error (XVA_EINVAL, "%s: no transaction", fn);
  if (t->failed < 0)
    r = Xva_store_error (t->failed, "%s: the transaction failed earlier", fn);
  else
    r = exec (t->s->wdb, "COMMIT", fn);
  if (r < 0 && !sqlite3_get_autocommit (t->s->wdb))
    sqlite3_exec (t->s->wdb, "ROLLBACK", NULL, NULL, NULL);
  txn_end (t);
  return r;
}

void
Xva_store_rollback (struct Xva_store_txn *t)
{
  if (t == NULL)
    return;
  if (!sqlite3_get_autocommit (t->s->wdb))
    sqlite3_exec (t->s->wdb, "ROLLBACK", NULL, NULL, NULL);
  txn_end (t);
}

/* ---- Connections ----------------------------------------------------- */

static int
reader_get (struct Xva_store *s, struct Xva_store_conn *c, const char *fn)
{
  char path[PATH_MAX];
  sqlite3 *db = NULL;
  unsigned i;
  int r;

  pthread_mutex_lock (&s->plock);
  for (;;) {
    for (i = 0; i < s->nreaders; i++)
      if (!s->rbusy[i]) {
        s->rbusy[i] = 1;
        c->db = s->readers[i];
        c->reader = (int) i;
        pthread_mutex_unlock (&s->plock);
        return XVA_OK;
      }
    if (s->nreaders < XVA_STORE_READERS)
      break;
    pthread_cond_wait (&s->pcond, &s->plock);
  }
  /* Open one more, holding the pool's lock (opening is quick). */
  r = Xva_store_path (path, sizeof path, fn, "%s/xva.db", s->dir);
  if (r == XVA_OK)
    r = open_conn (path, 1, &db, fn);
  if (r == XVA_OK) {
    i = s->nreaders++;
    s->readers[i] = db;
    s->rbusy[i] = 1;
    c->db = db;
    c->reader = (int) i;
  }
  pthread_mutex_unlock (&s->plock);
  return r;
}

int
Xva_store_conn_get (struct Xva_store *s, struct Xva_store_txn *t, int write,
                    struct Xva_store_conn *c, const char *fn)
{
  int r;

  c->db = NULL;
  c->reader = -1;
  c->own = NULL;
  c->txn = NULL;
  tls_err[0] = '\0';
  if (s == NULL)
    return Xva_store_error (XVA_EINVAL, "%s: no store", fn);
  if (t != NULL) {
    if (t->s != s)
      return Xva_store_error (XVA_EINVAL, "%s: transaction of another store",
                              fn);
    if (t->failed < 0)
      return Xva_store_error (t->failed, "%s: the transaction failed earlier",
                              fn);
    c->db = s->wdb;
    c->txn = t;
    return XVA_OK;
  }
  if (!write)
    return reader_get (s, c, fn);
  if (tls_txn_owner != NULL)
    return Xva_store_error (XVA_ESTATE,
                            "%s: a write outside the transaction this "
                            "thread holds",
                            fn);
  r = Xva_store_begin (s, &c->own);
  if (r < 0)
    return r;
  c->db = s->wdb;
  return XVA_OK;
}

int
Xva_store_conn_put (struct Xva_store *s, struct Xva_store_conn *c, int status)
{
  if (c->reader >= 0) {
    pthread_mutex_lock (&s->plock);
    s->rbusy[c->reader] = 0;
    pthread_cond_signal (&s->pcond);
    pthread_mutex_unlock (&s->plock);
    c->reader = -1;
  }
  else if (c->own != NULL) {
    if (status == XVA_OK)
      status = Xva_store_commit (c->own);
    else
      Xva_store_rollback (c->own);
    c->own = NULL;
  }
  else if (c->txn != NULL && sqlite3_get_autocommit (s->wdb)) {
    /* SQLite rolled the transaction back (disk full, I/O error): what
     * follows must not run outside it, one statement at a time. */
    c->txn->failed = status < 0 ? status : XVA_EIO;
    if (status == XVA_OK)
      status = Xva_store_error (XVA_EIO, "transaction ended by SQLite");
    c->txn = NULL;
  }
  c->db = NULL;
  return status;
}

/* ---- Argument checks ------------------------------------------------- */

int
Xva_store_check_class (const char *cls, const char *fn)
{
  size_t i;

  if (cls == NULL || cls[0] == '\0')
    return Xva_store_error (XVA_EINVAL, "%s: no class given", fn);
  for (i = 0; cls[i] != '\0'; i++) {
    unsigned char ch = (unsigned char) cls[i];
    if (i >= XVA_STORE_CLASS_MAX)
      return Xva_store_error (XVA_ELIMIT, "%s: class name too long", fn);
    if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')
          || (ch >= '0' && ch <= '9') || ch == '_'))
      return Xva_store_error (XVA_EINVAL, "%s: bad class name '%.64s'", fn,
                              cls);
  }
  return XVA_OK;
}

/* A non-empty string of at most max bytes without control bytes. */
static int
check_text (const char *v, size_t max, const char *what, const char *fn)
{
  size_t i;

  if (v == NULL || v[0] == '\0')
    return Xva_store_error (XVA_EINVAL, "%s: no %s given", fn, what);
  for (i = 0; v[i] != '\0'; i++) {
    if (i >= max)
      return Xva_store_error (XVA_ELIMIT, "%s: %s longer than %zu bytes", fn,
                              what, max);
    if ((unsigned char) v[i] < 0x20 || v[i] == 0x7f)
      return Xva_store_error (XVA_EINVAL, "%s: control byte in %s", fn, what);
  }
  return XVA_OK;
}

int
Xva_store_check_ref (const char *ref, const char *fn)
{
  return check_text (ref, XVA_STORE_REF_MAX, "ref", fn);
}

/* ---- Records --------------------------------------------------------- */

static int
prepare (sqlite3 *db, const char *sql, sqlite3_stmt **st, const char *fn)
{
  int rc = sqlite3_prepare_v2 (db, sql, -1, st, NULL);
  if (rc != SQLITE_OK) {
    *st = NULL;
    return Xva_store_sqlite_error (db, rc, fn, "prepare");
  }
  return XVA_OK;
}

/* Binds a text parameter (copied by SQLite). */
static int
bind_text (sqlite3 *db, sqlite3_stmt *st, int i, const char *v, const char *fn)
{
  int rc = v ? sqlite3_bind_text (st, i, v, -1, SQLITE_TRANSIENT)
             : sqlite3_bind_null (st, i);
  if (rc != SQLITE_OK)
    return Xva_store_sqlite_error (db, rc, fn, "bind");
  return XVA_OK;
}

/* Ends a statement of stmt_begin: finalizes st and gives the
 * connection back.  Returns the final status (Xva_store_conn_put). */
static int
stmt_end (struct Xva_store *s, struct Xva_store_conn *c, sqlite3_stmt *st,
          int status)
{
  sqlite3_finalize (st);
  return Xva_store_conn_put (s, c, status);
}

/* Starts a call's statement: borrows a connection (Xva_store_conn_get),
 * prepares sql into *st and binds the n text parameters args (a NULL one
 * as SQL NULL).  XVA_OK (end with stmt_end), or the status with the
 * connection given back. */
static int
stmt_begin (struct Xva_store *s, struct Xva_store_txn *t, int write,
            const char *sql, const char *const *args, int n,
            struct Xva_store_conn *c, sqlite3_stmt **st, const char *fn)
{
  int i, r;

  *st = NULL;
  r = Xva_store_conn_get (s, t, write, c, fn);
  if (r < 0)
    return r;
  r = prepare (c->db, sql, st, fn);
  for (i = 0; r == XVA_OK && i < n; i++)
    r = bind_text (c->db, *st, i + 1, args[i], fn);
  if (r < 0) {
    stmt_end (s, c, *st, r);
    *st = NULL;
    return r;
  }
  return XVA_OK;
}

/* Parses the record text of column col. */
static int
parse_record (sqlite3_stmt *st, int col, const char *ref,
              struct xva_value **out, const char *fn)
{
  struct xva_limits lim;
  const char *text = (const char *) sqlite3_column_text (st, col);
  int n = sqlite3_column_bytes (st, col);
  char msg[256];
  int r;

  *out = NULL;
  if (text == NULL || n <= 0)
    return Xva_store_error (XVA_EIO, "%s: %s: empty record", fn, ref);
  xva_limits_init (&lim);
  lim.max_bytes = XVA_STORE_RECORD_MAX;
  msg[0] = '\0';
  r = xva_value_from_xml (text, (size_t) n, &lim, out, msg, sizeof msg);
  if (r < 0)
    return Xva_store_error (r == XVA_ENOMEM ? r : XVA_EIO,
                            "%s: %s: stored record unreadable: %s", fn, ref,
                            msg);
  return XVA_OK;
}

/* Copies column col (a class name) into cls_out. */
static void
copy_class (sqlite3_stmt *st, int col, char *cls_out)
{
  const char *v = (const char *) sqlite3_column_text (st, col);
  snprintf (cls_out, XVA_STORE_CLASS_MAX + 1, "%s", v ? v : "");
}

int
Xva_store_get (struct Xva_store *s, struct Xva_store_txn *t, const char *ref,
               char *cls_out, struct xva_value **rec)
{
  static const char fn[] = "Xva_store_get";
  struct Xva_store_conn c;
  sqlite3_stmt *st;
  int rc, r;

  if (rec)
    *rec = NULL;
  r = Xva_store_check_ref (ref, fn);
  if (r < 0)
    return r;
  r = stmt_begin (s, t, 0,
                  rec ? "SELECT class, record FROM objects WHERE ref = ?1"
                      : "SELECT class FROM objects WHERE ref = ?1",
                  &ref, 1, &c, &st, fn);
  if (r < 0)
    return r;
  rc = sqlite3_step (st);
  if (rc == SQLITE_DONE) {
    r = Xva_store_error (XVA_ENOTFOUND, "%s: no object %s", fn, ref);
    goto out;
  }
  if (rc != SQLITE_ROW) {
    r = Xva_store_sqlite_error (c.db, rc, fn, ref);
    goto out;
  }
  if (cls_out)
    copy_class (st, 0, cls_out);
  if (rec)
    r = parse_record (st, 1, ref, rec, fn);

out:
  return stmt_end (s, &c, st, r);
}

int
Xva_store_find_uuid (struct Xva_store *s, struct Xva_store_txn *t,
                     const char *cls, const char *uuid, char *ref_out,
                     char *cls_out)
{
  static const char fn[] = "Xva_store_find_uuid";
  struct Xva_store_conn c;
  sqlite3_stmt *st;
  const char *v, *args[2];
  int rc, r;

  if (ref_out)
    ref_out[0] = '\0';
  if (cls && (r = Xva_store_check_class (cls, fn)) < 0)
    return r;
  r = check_text (uuid, XVA_STORE_UUID_MAX, "uuid", fn);
  if (r < 0)
    return r;
  args[0] = uuid;
  args[1] = cls;
  r = stmt_begin (s, t, 0,
                  cls ? "SELECT ref, class FROM objects"
                        " WHERE uuid = ?1 AND class = ?2"
                        " ORDER BY rowid LIMIT 1"
                      : "SELECT ref, class FROM objects WHERE uuid = ?1"
                        " ORDER BY rowid LIMIT 1",
                  args, cls ? 2 : 1, &c, &st, fn);
  if (r < 0)
    return r;
  rc = sqlite3_step (st);
  if (rc == SQLITE_DONE) {
    r = Xva_store_error (XVA_ENOTFOUND, "%s: no %s with uuid %s", fn,
                         cls ? cls : "object", uuid);
    goto out;
  }
  if (rc != SQLITE_ROW) {
    r = Xva_store_sqlite_error (c.db, rc, fn, uuid);
    goto out;
  }
  v = (const char *) sqlite3_column_text (st, 0);
  if (ref_out)
    snprintf (ref_out, XVA_STORE_REF_MAX + 1, "%s", v ? v : "");
  if (cls_out)
    copy_class (st, 1, cls_out);

out:
  return stmt_end (s, &c, st, r);
}

void
Xva_store_list_free (struct Xva_store_list *l)
{
  size_t i;

  if (l == NULL)
    return;
  for (i = 0; i < l->n; i++) {
    if (l->refs)
      free (l->refs[i]);
    if (l->recs)
      xva_value_free (l->recs[i]);
  }
  free (l->refs);
  free (l->recs);
  memset (l, 0, sizeof *l);
}

/* Collects the rows (ref[, record]) of a prepared statement. */
static int
collect (sqlite3 *db, sqlite3_stmt *st, int with_records,
         struct Xva_store_list *out, const char *fn)
{
  size_t cap = 0;
  int rc, r;

  for (;;) {
    const char *ref;
    size_t len;

    rc = sqlite3_step (st);
    if (rc == SQLITE_DONE)
      return XVA_OK;
    if (rc != SQLITE_ROW)
      return Xva_store_sqlite_error (db, rc, fn, "list");
    if (out->n == cap) {
      size_t ncap = cap ? cap * 2 : 16;
      char **nrefs;

      if (ncap > SIZE_MAX / sizeof (void *))
        return Xva_store_error (XVA_ENOMEM, "%s: out of memory", fn);
      nrefs = realloc (out->refs, ncap * sizeof *nrefs);
      if (nrefs == NULL)
        return Xva_store_error (XVA_ENOMEM, "%s: out of memory", fn);
      out->refs = nrefs;
      if (with_records) {
        struct xva_value **nrecs = realloc (out->recs, ncap * sizeof *nrecs);
        if (nrecs == NULL)
          return Xva_store_error (XVA_ENOMEM, "%s: out of memory", fn);
        out->recs = nrecs;
      }
      cap = ncap;
    }
    ref = (const char *) sqlite3_column_text (st, 0);
    if (ref == NULL)
      ref = "";
    len = strlen (ref);
    out->refs[out->n] = malloc (len + 1);
    if (out->refs[out->n] == NULL)
      return Xva_store_error (XVA_ENOMEM, "%s: out of memory", fn);
    memcpy (out->refs[out->n], ref, len + 1);
    if (with_records) {
      r = parse_record (st, 1, ref, &out->recs[out->n], fn);
      if (r < 0) {
        free (out->refs[out->n]);
        return r;
      }
    }
    out->n++;
  }
}

static int
list_query (struct Xva_store *s, struct Xva_store_txn *t, const char *cls,
            const char *name, int with_records, struct Xva_store_list *out,
            const char *fn)
{
  struct Xva_store_conn c;
  sqlite3_stmt *st;
  const char *sql, *args[2];
  int r;

  if (out == NULL)
    return Xva_store_error (XVA_EINVAL, "%s: no result given", fn);
  memset (out, 0, sizeof *out);
  r = Xva_store_check_class (cls, fn);
  if (r < 0)
    return r;
  if (name && strlen (name) > XVA_STORE_NAME_MAX)
    return Xva_store_error (XVA_ELIMIT, "%s: name longer than %d bytes", fn,
                            XVA_STORE_NAME_MAX);
  if (name)
    sql = with_records ? "SELECT ref, record FROM objects WHERE class = ?1"
                         " AND name_label = ?2 ORDER BY rowid"
                       : "SELECT ref FROM objects WHERE class = ?1"
                         " AND name_label = ?2 ORDER BY rowid";
  else
    sql = with_records
            ? "SELECT ref, record FROM objects WHERE class = ?1 ORDER BY rowid"
            : "SELECT ref FROM objects WHERE class = ?1 ORDER BY rowid";
  args[0] = cls;
  args[1] = name;
  r = stmt_begin (s, t, 0, sql, args, name ? 2 : 1, &c, &st, fn);
  if (r < 0)
    return r;
  r = collect (c.db, st, with_records, out, fn);
  r = stmt_end (s, &c, st, r);
  if (r < 0)
    Xva_store_list_free (out);
  return r;
}

int
Xva_store_list (struct Xva_store *s, struct Xva_store_txn *t, const char *cls,
                int with_records, struct Xva_store_list *out)
{
  return list_query (s, t, cls, NULL, with_records, out, "Xva_store_list");
}

int
Xva_store_by_name (struct Xva_store *s, struct Xva_store_txn *t,
                   const char *cls, const char *name, int with_records,
                   struct Xva_store_list *out)
{
  if (name == NULL) {
    if (out)
      memset (out, 0, sizeof *out);
    return Xva_store_error (XVA_EINVAL, "Xva_store_by_name: no name given");
  }
  return list_query (s, t, cls, name, with_records, out, "Xva_store_by_name");
}

int
Xva_store_count (struct Xva_store *s, struct Xva_store_txn *t, const char *cls,
                 size_t *n)
{
  static const char fn[] = "Xva_store_count";
  struct Xva_store_conn c;
  sqlite3_stmt *st;
  sqlite3_int64 v;
  int rc, r;

  if (n == NULL)
    return Xva_store_error (XVA_EINVAL, "%s: no result given", fn);
  *n = 0;
  r = Xva_store_check_class (cls, fn);
  if (r < 0)
    return r;
  r = stmt_begin (s, t, 0, "SELECT count(*) FROM objects WHERE class = ?1",
                  &cls, 1, &c, &st, fn);
  if (r < 0)
    return r;
  rc = sqlite3_step (st);
  if (rc != SQLITE_ROW)
    r = Xva_store_sqlite_error (c.db, rc, fn, cls);
  else {
    v = sqlite3_column_int64 (st, 0);
    *n = v > 0 ? (size_t) v : 0;
  }
  return stmt_end (s, &c, st, r);
}

int
Xva_store_put (struct Xva_store *s, struct Xva_store_txn *t, const char *ref,
               const char *cls, const struct xva_value *rec)
{
  static const char fn[] = "Xva_store_put";
  struct Xva_store_conn c;
  sqlite3_stmt *st;
  const char *uuid, *name, *args[4];
  char *xml = NULL;
  size_t len = 0;
  int rc, r;

  r = Xva_store_check_ref (ref, fn);
  if (r < 0)
    return r;
  r = Xva_store_check_class (cls, fn);
  if (r < 0)
    return r;
  if (rec == NULL || xva_value_type (rec) != XVA_TYPE_STRUCT)
    return Xva_store_error (XVA_EINVAL, "%s: %s: record is not a struct", fn,
                            ref);
  uuid = xva_value_get_string (rec, "uuid");
  name = xva_value_get_string (rec, "name_label");
  if (uuid && strlen (uuid) > XVA_STORE_UUID_MAX)
    return Xva_store_error (XVA_ELIMIT, "%s: %s: uuid longer than %d bytes",
                            fn, ref, XVA_STORE_UUID_MAX);
  if (name && strlen (name) > XVA_STORE_NAME_MAX)
    return Xva_store_error (XVA_ELIMIT,
                            "%s: %s: name_label longer than %d bytes", fn, ref,
                            XVA_STORE_NAME_MAX);
  r = xva_value_to_xml (rec, &xml, &len);
  if (r < 0)
    return Xva_store_error (r, "%s: %s: cannot encode the record", fn, ref);
  if (len > XVA_STORE_RECORD_MAX) {
    free (xml);
    return Xva_store_error (XVA_ELIMIT,
                            "%s: %s: record of %zu bytes exceeds %zu", fn, ref,
                            len, XVA_STORE_RECORD_MAX);
  }
  args[0] = ref;
  args[1] = cls;
  args[2] = uuid;
  args[3] = name;
  /* An upsert keeps the rowid, so listings keep insertion order. */
  r = stmt_begin (s, t, 1,
                  "INSERT INTO objects (ref, class, uuid, name_label, record)"
                  " VALUES (?1, ?2, ?3, ?4, ?5)"
                  " ON CONFLICT (ref) DO UPDATE SET uuid = excluded.uuid,"
                  " name_label = excluded.name_label, record = excluded.record"
                  " WHERE objects.class = excluded.class",
                  args, 4, &c, &st, fn);
  if (r < 0) {
    free (xml);
    return r;
  }
  rc = sqlite3_bind_text (st, 5, xml, (int) len, SQLITE_STATIC);
  if (rc != SQLITE_OK)
    r = Xva_store_sqlite_error (c.db, rc, fn, "bind");
  else if ((rc = sqlite3_step (st)) != SQLITE_DONE)
    r = Xva_store_sqlite_error (c.db, rc, fn, ref);
  else if (sqlite3_changes (c.db) == 0)
    r = Xva_store_error (XVA_EEXIST, "%s: %s exists with another class", fn,
                         ref);
  r = stmt_end (s, &c, st, r);
  free (xml);
  return r;
}

int
Xva_store_delete (struct Xva_store *s, struct Xva_store_txn *t,
                  const char *ref)
{
  static const char fn[] = "Xva_store_delete";
  struct Xva_store_conn c;
  sqlite3_stmt *st;
  int rc, r;

  r = Xva_store_check_ref (ref, fn);
  if (r < 0)
    return r;
  r = stmt_begin (s, t, 1, "DELETE FROM objects WHERE ref = ?1", &ref, 1, &c,
                  &st, fn);
  if (r < 0)
    return r;
  rc = sqlite3_step (st);
  if (rc != SQLITE_DONE)
    r = Xva_store_sqlite_error (c.db, rc, fn, ref);
  else if (sqlite3_changes (c.db) == 0)
    r = Xva_store_error (XVA_ENOTFOUND, "%s: no object %s", fn, ref);
  return stmt_end (s, &c, st, r);
}

/* ---- Meta ------------------------------------------------------------ */

int
Xva_store_initialised (struct Xva_store *s)
{
  static const char fn[] = "Xva_store_initialised";
  struct Xva_store_conn c;
  sqlite3_stmt *st;
  int rc, r;

  r = stmt_begin (s, NULL, 0, "SELECT 1 FROM meta WHERE key = 'initialised'",
                  NULL, 0, &c, &st, fn);
  if (r < 0)
    return r;
  rc = sqlite3_step (st);
  if (rc == SQLITE_ROW)
    r = 1;
  else if (rc == SQLITE_DONE)
    r = 0;
  else
    r = Xva_store_sqlite_error (c.db, rc, fn, "meta");
  stmt_end (s, &c, st, XVA_OK); /* a reader: nothing to fail */
  return r;
}

int
Xva_store_mark_initialised (struct Xva_store *s, struct Xva_store_txn *t)
{
  static const char fn[] = "Xva_store_init";
  struct Xva_store_conn c;
  int r;

  r = Xva_store_conn_get (s, t, 1, &c, fn);
  if (r < 0)
    return r;
  r = exec (c.db,
            "INSERT INTO meta (key, value)"
            " VALUES ('initialised', '1')",
            fn);
  return Xva_store_conn_put (s, &c, r);
}
