/* A process killed with SIGKILL in the middle of writing leaves a
 * database that passes integrity_check and holds each transaction
 * whole or not at all; a commit that was reported is kept. */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <time.h>

#include "store-test.h"

#define BATCH 200

static void
child_fail (const char *what)
{
  fprintf (stderr, "child: %s: %s\n", what, Xva_store_errmsg (NULL));
  _exit (3);
}

/* Phase 1: commits `before` records, then starts a transaction that
 * never ends, telling the parent once it is well under way. */
static void
child_open_txn (const char *dir, int wfd)
{
  struct Xva_store *s = NULL;
  struct Xva_store_txn *t = NULL;
  char err[256], ref[64];
  int i;

  if (Xva_store_open (dir, &s, err, sizeof err) != XVA_OK)
    child_fail (err);
  for (i = 0; i < 20; i++) {
    struct xva_value *rec = test_record (NULL, "before", NULL);
    snprintf (ref, sizeof ref, "OpaqueRef:before-%d", i);
    if (rec == NULL || Xva_store_put (s, NULL, ref, "Before", rec) != XVA_OK)
      child_fail ("put before");
    xva_value_free (rec);
  }
  if (Xva_store_begin (s, &t) != XVA_OK)
    child_fail ("begin");
  for (i = 0;; i++) {
    struct xva_value *rec = test_record (NULL, "open", "x");
    snprintf (ref, sizeof ref, "OpaqueRef:open-%d", i);
    if (rec == NULL || Xva_store_put (s, t, ref, "Open", rec) != XVA_OK)
      child_fail ("put");
    xva_value_free (rec);
    if (i == 2000 && write (wfd, &i, sizeof i) != (ssize_t) sizeof i)
      child_fail ("write");
  }
}

/* Phase 2: batches of BATCH records, one transaction each, each
 * reported to the parent after its commit. */
static void
child_batches (const char *dir, int wfd)
{
  struct Xva_store *s = NULL;
  char err[256], ref[64], name[64];
  int k, i;

  if (Xva_store_open (dir, &s, err, sizeof err) != XVA_OK)
    child_fail (err);
  for (k = 0;; k++) {
    struct Xva_store_txn *t = NULL;

    snprintf (name, sizeof name, "batch-%d", k);
    if (Xva_store_begin (s, &t) != XVA_OK)
      child_fail ("begin");
    for (i = 0; i < BATCH; i++) {
      struct xva_value *rec = test_record (NULL, name, "payload");
      snprintf (ref, sizeof ref, "OpaqueRef:b%d-%d", k, i);
      if (rec == NULL || Xva_store_put (s, t, ref, "Batch", rec) != XVA_OK)
        child_fail ("put");
      xva_value_free (rec);
    }
    if (Xva_store_commit (t) != XVA_OK)
      child_fail ("commit");
    if (write (wfd, &k, sizeof k) != (ssize_t) sizeof k)
      child_fail ("write");
  }
}

/* Forks a child running fn; kills it with SIGKILL delay_us after its
 * first report.  Returns the last number it reported, -1 if none, or
 * -2 when the child died on its own. */
static int
run_and_kill (const char *dir, void (*fn) (const char *, int),
              unsigned delay_us)
{
  int fds[2], status = 0, last = -1, v;
  pid_t pid;
  ssize_t n;

  if (pipe (fds) == -1) {
    perror ("pipe");
    exit (1);
  }
  pid = fork ();
  if (pid == -1) {
    perror ("fork");
    exit (1);
  }
  if (pid == 0) {
    close (fds[0]);
    fn (dir, fds[1]);
    _exit (0);
  }
  close (fds[1]);
  n = read (fds[0], &v, sizeof v);
  if (n == (ssize_t) sizeof v) {
    last = v;
    if (delay_us)
      usleep (delay_us);
    kill (pid, SIGKILL);
  }
  while ((n = read (fds[0], &v, sizeof v)) == (ssize_t) sizeof v)
    last = v;
  close (fds[0]);
  while (waitpid (pid, &status, 0) == -1 && errno == EINTR)
    ;
  if (!(WIFSIGNALED (status) && WTERMSIG (status) == SIGKILL)) {
    fprintf (stderr, "child ended by itself (status %d)\n", status);
    return -2;
  }
  return last;
}

/* PRAGMA integrity_check on the database file says "ok". */
static int
integrity_ok (const char *dir)
{
  char path[PATH_MAX];
  sqlite3 *db = NULL;
  sqlite3_stmt *st = NULL;
  int ok = 0;

  snprintf (path, sizeof path, "%s/xva.db", dir);
  if (sqlite3_open_v2 (path, &db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK
      && sqlite3_prepare_v2 (db, "PRAGMA integrity_check", -1, &st, NULL)
           == SQLITE_OK
      && sqlite3_step (st) == SQLITE_ROW) {
    const unsigned char *v = sqlite3_column_text (st, 0);
    ok = v != NULL && strcmp ((const char *) v, "ok") == 0;
    if (!ok)
      fprintf (stderr, "integrity_check: %s\n", v ? (const char *) v : "");
  }
  sqlite3_finalize (st);
  sqlite3_close (db);
  return ok;
}

int
main (void)
{
  char dir[1024], err[512], name[64];
  struct Xva_store *s = NULL;
  struct Xva_store_list l;
  unsigned seed = (unsigned) time (NULL) ^ (unsigned) getpid ();
  size_t n = 0, total;
  int round, last, k;

  fprintf (stderr, "seed %u\n", seed);
  srand (seed);
  test_tmpdir (dir, sizeof dir);

  /* Killed inside a transaction: none of it exists. */
  last = run_and_kill (dir, child_open_txn, 20000);
  CHECK (last == 2000);
  CHECK (integrity_ok (dir));
  CHECK_RC (Xva_store_open (dir, &s, err, sizeof err), XVA_OK);
  if (s == NULL) {
    fprintf (stderr, "reopen: %s\n", err);
    return 1;
  }
  CHECK_RC (Xva_store_count (s, NULL, "Open", &n), XVA_OK);
  CHECK (n == 0);
  CHECK_RC (Xva_store_count (s, NULL, "Before", &n), XVA_OK);
  CHECK (n == 20);
  Xva_store_close (s);
  s = NULL;
  CHECK (integrity_ok (dir));

  /* Killed at random moments among commits: every batch whole or
   * absent, and the last reported commit is there. */
  for (round = 0; round < 6; round++) {
    unsigned delay = (unsigned) (rand () % 120000);

    last = run_and_kill (dir, child_batches, delay);
    fprintf (stderr,
             "round %d: killed %u us after the first commit, "
             "%d reported\n",
             round, delay, last + 1);
    CHECK (last >= 0);
    CHECK (integrity_ok (dir));
    CHECK_RC (Xva_store_open (dir, &s, err, sizeof err), XVA_OK);
    if (s == NULL) {
      fprintf (stderr, "reopen: %s\n", err);
      return 1;
    }
    total = 0;
    for (k = 0; k <= last + 1; k++) {
      snprintf (name, sizeof name, "batch-%d", k);
      CHECK_RC (Xva_store_by_name (s, NULL, "Batch", name, 0, &l), XVA_OK);
      CHECK_MSG (l.n == 0 || l.n == BATCH, name);
      if (k <= last)
        CHECK_MSG (l.n == BATCH, name);
      total += l.n;
      Xva_store_list_free (&l);
    }
    CHECK_RC (Xva_store_count (s, NULL, "Batch", &n), XVA_OK);
    CHECK (n == total);
    /* Start the next round from an empty class. */
    CHECK_RC (Xva_store_list (s, NULL, "Batch", 0, &l), XVA_OK);
    {
      struct Xva_store_txn *t = NULL;
      size_t i;

      CHECK_RC (Xva_store_begin (s, &t), XVA_OK);
      for (i = 0; t && i < l.n; i++)
        CHECK_RC (Xva_store_delete (s, t, l.refs[i]), XVA_OK);
      if (t)
        CHECK_RC (Xva_store_commit (t), XVA_OK);
    }
    Xva_store_list_free (&l);
    Xva_store_close (s);
    s = NULL;
  }

  test_rmtree (dir);
  HARNESS_DONE ();
}
