/* Xva_store_check: a test of its own, and the checker that the
 * harden-*.sh scripts run on a server's data directory.
 *
 *   test-harden-check
 *       (as a CTest test) makes a data directory, breaks it in each way
 *       the check knows (a half VM, a missing image, an orphan image, a
 *       staging directory left, a damaged database page) and checks
 *       that each is found, and that a sound directory has no problem.
 *   test-harden-check check DIR [--clean] [--password PW]
 *       opens DIR with the store API (which sweeps leftovers, as a
 *       server start does), runs Xva_store_check and prints a summary
 *       line; exit 1 on any problem.  --clean: the open's sweep must
 *       have found nothing either.  --password PW: PW must appear in
 *       none of the database files, and every user's hash must be a
 *       32-byte PBKDF2 output of at least XVA_STORE_PBKDF2_ITERATIONS
 *       rounds.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "harness.h"
#include "store/store.h"

/* ---- Helpers ------------------------------------------------------------ */

static int
rm_one (const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
  (void) sb;
  (void) flag;
  (void) ftw;
  return remove (path);
}

static void
rmtree (const char *path)
{
  nftw (path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static int
write_file (const char *path, const void *data, size_t n)
{
  FILE *f = fopen (path, "wb");

  if (f == NULL)
    return -1;
  if (n > 0 && fwrite (data, 1, n, f) != n) {
    fclose (f);
    return -1;
  }
  return fclose (f) == 0 ? 0 : -1;
}

/* The whole file (malloc'd, *n bytes), or NULL (a missing file gives
 * an empty buffer). */
static unsigned char *
read_file (const char *path, size_t *n)
{
  unsigned char *buf = NULL, *nb;
  size_t cap = 0, len = 0;
  ssize_t got;
  int fd = open (path, O_RDONLY | O_CLOEXEC);

  *n = 0;
  if (fd < 0)
    return errno == ENOENT ? calloc (1, 1) : NULL;
  for (;;) {
    if (len == cap) {
      cap = cap ? cap * 2 : 65536;
      nb = realloc (buf, cap);
      if (nb == NULL)
        goto fail;
      buf = nb;
    }
    got = read (fd, buf + len, cap - len);
    if (got < 0 && errno == EINTR)
      continue;
    if (got < 0)
      goto fail;
    if (got == 0)
      break;
    len += (size_t) got;
  }
  close (fd);
  *n = len;
  return buf;
fail:
  free (buf);
  close (fd);
  return NULL;
}

static struct xva_value *
record (const char *uuid, const char *name)
{
  struct xva_value *v = xva_value_new_struct ();

  if (v == NULL)
    return NULL;
  if (xva_value_set_string (v, "uuid", uuid) < 0
      || xva_value_set_string (v, "name_label", name) < 0) {
    xva_value_free (v);
    return NULL;
  }
  return v;
}

/* A VM with one VBD naming one VDI (location = its uuid) in sr_ref,
 * and one VIF; refs of the VM, VBD and VDI out, the VDI's uuid out. */
static int
put_vm (struct Xva_store *s, const char *sr_ref, char *vm, char *vbd,
        char *vdi, char *vdi_uuid)
{
  char u[XVA_STORE_UUID_LEN + 1], vif[XVA_STORE_REF_MAX + 1];
  struct xva_value *rv = NULL, *rb = NULL, *rd = NULL, *rf = NULL, *a;
  int r = -1;

  if (Xva_store_new_ref (vm) < 0 || Xva_store_new_ref (vbd) < 0
      || Xva_store_new_ref (vdi) < 0 || Xva_store_new_ref (vif) < 0
      || Xva_store_new_uuid (vdi_uuid) < 0 || Xva_store_new_uuid (u) < 0)
    return -1;
  rv = record (u, "vm");
  rb = record (u, "vbd");
  rd = record (vdi_uuid, "vdi");
  rf = record (u, "vif");
  if (rv == NULL || rb == NULL || rd == NULL || rf == NULL)
    goto out;
  a = xva_value_new_array ();
  if (xva_value_append (a, xva_value_new_string (vbd)) < 0
      || xva_value_set (rv, "VBDs", a) < 0)
    goto out;
  a = xva_value_new_array ();
  if (xva_value_append (a, xva_value_new_string (vif)) < 0
      || xva_value_set (rv, "VIFs", a) < 0)
    goto out;
  if (xva_value_set_string (rb, "VM", vm) < 0
      || xva_value_set_string (rb, "VDI", vdi) < 0
      || xva_value_set_string (rd, "SR", sr_ref) < 0
      || xva_value_set_string (rd, "location", vdi_uuid) < 0
      || xva_value_set_string (rf, "VM", vm) < 0)
    goto out;
  if (Xva_store_put (s, NULL, vdi, "VDI", rd) != XVA_OK
      || Xva_store_put (s, NULL, vbd, "VBD", rb) != XVA_OK
      || Xva_store_put (s, NULL, vif, "VIF", rf) != XVA_OK
      || Xva_store_put (s, NULL, vm, "VM", rv) != XVA_OK)
    goto out;
  r = 0;
out:
  xva_value_free (rv);
  xva_value_free (rb);
  xva_value_free (rd);
  xva_value_free (rf);
  return r;
}

static int
check_dir (struct Xva_store *s, struct Xva_store_check_report *rep)
{
  int r = Xva_store_check (s, rep);

  if (r != XVA_OK)
    fprintf (stderr, "Xva_store_check: %s\n", Xva_store_errmsg (s));
  return r;
}

/* ---- The checker -------------------------------------------------------- */

/* Bytes of pw in none of the database files. */
static int
password_absent (const char *dir, const char *pw)
{
  static const char *const names[] = { "xva.db", "xva.db-wal", "xva.db-shm",
                                       "xva.db-journal" };
  char path[PATH_MAX + 32];
  unsigned char *buf;
  size_t i, n;
  int ok = 1;

  for (i = 0; i < sizeof names / sizeof names[0]; i++) {
    snprintf (path, sizeof path, "%s/%s", dir, names[i]);
    buf = read_file (path, &n);
    if (buf == NULL) {
      fprintf (stderr, "%s: %s\n", path, strerror (errno));
      return 0;
    }
    if (n > 0 && memmem (buf, n, pw, strlen (pw)) != NULL) {
      fprintf (stderr, "%s holds the password in clear\n", path);
      ok = 0;
    }
    free (buf);
  }
  return ok;
}

/* Every user's hash: 32 bytes, salt 16, iterations >= the default,
 * not the password. */
static int
hashes_sound (const char *dir, const char *pw)
{
  char path[PATH_MAX + 16];
  sqlite3 *db = NULL;
  sqlite3_stmt *st = NULL;
  int rows = 0, ok = 1, rc;

  snprintf (path, sizeof path, "%s/xva.db", dir);
  if (sqlite3_open_v2 (path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK
      || sqlite3_prepare_v2 (db,
                             "SELECT name, salt, hash, iterations"
                             " FROM users",
                             -1, &st, NULL)
           != SQLITE_OK) {
    fprintf (stderr, "%s: %s\n", path, sqlite3_errmsg (db));
    sqlite3_close (db);
    return 0;
  }
  while ((rc = sqlite3_step (st)) == SQLITE_ROW) {
    const unsigned char *name = sqlite3_column_text (st, 0);
    const void *hash = sqlite3_column_blob (st, 2);
    int hn = sqlite3_column_bytes (st, 2);

    rows++;
    if (sqlite3_column_type (st, 2) != SQLITE_BLOB || hn != 32
        || sqlite3_column_bytes (st, 1) != 16
        || sqlite3_column_int64 (st, 3) < XVA_STORE_PBKDF2_ITERATIONS
        || (hash != NULL && (size_t) hn >= strlen (pw)
            && memmem (hash, (size_t) hn, pw, strlen (pw)) != NULL)) {
      fprintf (stderr, "user %s: not a salted PBKDF2 hash of %d rounds\n",
               name ? (const char *) name : "?", XVA_STORE_PBKDF2_ITERATIONS);
      ok = 0;
    }
  }
  if (rc != SQLITE_DONE || rows == 0) {
    fprintf (stderr, "%s: users: %s\n", path,
             rows == 0 ? "no user" : sqlite3_errmsg (db));
    ok = 0;
  }
  sqlite3_finalize (st);
  sqlite3_close (db);
  return ok;
}

static int
checker (int argc, char **argv)
{
  struct Xva_store_sweep_report sw;
  struct Xva_store_check_report rep;
  struct Xva_store *s = NULL;
  const char *dir = argv[2], *pw = NULL;
  char err[512];
  int i, clean = 0, bad = 0;

  for (i = 3; i < argc; i++) {
    if (strcmp (argv[i], "--clean") == 0)
      clean = 1;
    else if (strcmp (argv[i], "--password") == 0 && i + 1 < argc)
      pw = argv[++i];
    else {
      fprintf (stderr, "unknown argument %s\n", argv[i]);
      return 2;
    }
  }
  if (Xva_store_open (dir, &s, err, sizeof err) != XVA_OK) {
    fprintf (stderr, "open %s: %s\n", dir, err);
    return 1;
  }
  Xva_store_last_sweep (s, &sw);
  if (check_dir (s, &rep) != XVA_OK) {
    Xva_store_close (s);
    return 1;
  }
  Xva_store_close (s);
  printf ("check: vms=%u vdis=%u images=%u problems=%u swept=%u+%u\n", rep.vms,
          rep.vdis, rep.images, rep.problems, sw.staging_dirs,
          sw.orphan_images);
  if (rep.problems != 0) {
    fprintf (stderr, "%s\n", rep.problems_text);
    bad = 1;
  }
  if (clean
      && (sw.staging_dirs != 0 || sw.orphan_images != 0 || sw.failures != 0)) {
    fprintf (stderr,
             "the open swept %u staging directories and %u "
             "orphan images (%u failures): the server's sweep had left "
             "them\n",
             sw.staging_dirs, sw.orphan_images, sw.failures);
    bad = 1;
  }
  if (pw != NULL && (!password_absent (dir, pw) || !hashes_sound (dir, pw)))
    bad = 1;
  return bad;
}

/* ---- The self-test ------------------------------------------------------ */

static int
open_store (const char *dir, struct Xva_store **s)
{
  char err[512];

  if (Xva_store_open (dir, s, err, sizeof err) != XVA_OK) {
    fprintf (stderr, "open %s: %s\n", dir, err);
    return -1;
  }
  return 0;
}

/* Overwrites the b-tree page header of the last page of the database
 * (closed: the WAL is checkpointed). */
static int
damage_last_page (const char *dir)
{
  char path[PATH_MAX + 16];
  unsigned char junk[64];
  struct stat sb;
  off_t at;
  int fd, r = -1;

  snprintf (path, sizeof path, "%s/xva.db", dir);
  fd = open (path, O_RDWR | O_CLOEXEC);
  if (fd < 0 || fstat (fd, &sb) != 0 || sb.st_size < 3 * 4096)
    goto out;
  memset (junk, 0xA5, sizeof junk);
  at = (sb.st_size / 4096 - 1) * 4096;
  if (pwrite (fd, junk, sizeof junk, at) == (ssize_t) sizeof junk
      && fsync (fd) == 0)
    r = 0;
out:
  if (fd >= 0)
    close (fd);
  return r;
}

static int
self_test (void)
{
  char base[1024], dir[1100], path[PATH_MAX * 2];
  char sr_ref[XVA_STORE_REF_MAX + 1], sr_uuid[XVA_STORE_UUID_LEN + 1];
  char vm[XVA_STORE_REF_MAX + 1], vbd[XVA_STORE_REF_MAX + 1];
  char vdi[XVA_STORE_REF_MAX + 1], vdi_uuid[XVA_STORE_UUID_LEN + 1];
  char u[XVA_STORE_UUID_LEN + 1], filler[64];
  struct Xva_store_check_report rep;
  struct Xva_store_sweep_report sw;
  struct Xva_store *s = NULL;
  struct xva_value *rec = NULL;
  const char *tmp = getenv ("TMPDIR");
  int i;

  snprintf (base, sizeof base, "%s/xva-check-XXXXXX",
            tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
  if (mkdtemp (base) == NULL) {
    perror ("mkdtemp");
    return 1;
  }
  snprintf (dir, sizeof dir, "%s/data", base);
  if (open_store (dir, &s) < 0)
    goto done;
  CHECK (Xva_store_init (s, "check-test-secret") == XVA_OK);
  CHECK (Xva_store_default_sr (s, NULL, sr_ref) == XVA_OK);
  CHECK (Xva_store_get (s, NULL, sr_ref, NULL, &rec) == XVA_OK);
  snprintf (sr_uuid, sizeof sr_uuid, "%s",
            xva_value_get_string (rec, "uuid")
              ? xva_value_get_string (rec, "uuid")
              : "");
  xva_value_free (rec);

  /* A fresh directory is sound. */
  CHECK (check_dir (s, &rep) == XVA_OK);
  CHECK (rep.problems == 0 && rep.vms == 0);

  /* A whole VM with its image: sound. */
  CHECK (put_vm (s, sr_ref, vm, vbd, vdi, vdi_uuid) == 0);
  CHECK (Xva_store_vdi_path (s, sr_uuid, vdi_uuid, path, sizeof path)
         == XVA_OK);
  CHECK (write_file (path, "disk", 4) == 0);
  CHECK (check_dir (s, &rep) == XVA_OK);
  CHECK_MSG (rep.problems == 0 && rep.vms == 1 && rep.vdis == 1
               && rep.images == 1,
             rep.problems_text);

  /* Its image gone. */
  CHECK (unlink (path) == 0);
  CHECK (check_dir (s, &rep) == XVA_OK);
  CHECK_MSG (rep.missing_images == 1 && rep.problems == 1, rep.problems_text);
  CHECK (write_file (path, "disk", 4) == 0);

  /* Half a VM: its VBD gone, then its VDI gone. */
  CHECK (Xva_store_get (s, NULL, vbd, NULL, &rec) == XVA_OK);
  CHECK (Xva_store_delete (s, NULL, vbd) == XVA_OK);
  CHECK (check_dir (s, &rep) == XVA_OK);
  CHECK_MSG (rep.problems == 1 && strstr (rep.problems_text, "missing"),
             rep.problems_text);
  CHECK (Xva_store_put (s, NULL, vbd, "VBD", rec) == XVA_OK);
  xva_value_free (rec);
  CHECK (Xva_store_get (s, NULL, vdi, NULL, &rec) == XVA_OK);
  CHECK (Xva_store_delete (s, NULL, vdi) == XVA_OK);
  CHECK (check_dir (s, &rep) == XVA_OK);
  /* The VBD's VDI is missing and the image is now an orphan. */
  CHECK_MSG (rep.problems == 2 && rep.orphan_images == 1, rep.problems_text);
  CHECK (Xva_store_put (s, NULL, vdi, "VDI", rec) == XVA_OK);
  xva_value_free (rec);
  /* A VBD of no VM. */
  CHECK (Xva_store_get (s, NULL, vm, NULL, &rec) == XVA_OK);
  CHECK (Xva_store_delete (s, NULL, vm) == XVA_OK);
  CHECK (check_dir (s, &rep) == XVA_OK);
  CHECK_MSG (rep.problems == 2, rep.problems_text); /* VBD and VIF */
  CHECK (Xva_store_put (s, NULL, vm, "VM", rec) == XVA_OK);
  xva_value_free (rec);
  CHECK (check_dir (s, &rep) == XVA_OK);
  CHECK_MSG (rep.problems == 0, rep.problems_text);

  /* An orphan image and a staging directory. */
  CHECK (Xva_store_new_uuid (u) == XVA_OK);
  CHECK (Xva_store_vdi_path (s, sr_uuid, u, path, sizeof path) == XVA_OK);
  CHECK (write_file (path, "orphan", 6) == 0);
  CHECK (Xva_store_staging_dir (s, sr_uuid, u, path, sizeof path) == XVA_OK);
  CHECK (check_dir (s, &rep) == XVA_OK);
  CHECK_MSG (rep.orphan_images == 1 && rep.staging_dirs == 1
               && rep.problems == 2,
             rep.problems_text);

  /* Reopening sweeps both away. */
  Xva_store_close (s);
  s = NULL;
  if (open_store (dir, &s) < 0)
    goto done;
  Xva_store_last_sweep (s, &sw);
  CHECK (sw.orphan_images == 1 && sw.staging_dirs == 1);
  CHECK (check_dir (s, &rep) == XVA_OK);
  CHECK_MSG (rep.problems == 0 && rep.vms == 1, rep.problems_text);

  /* Enough records for several pages, then a damaged page. */
  for (i = 0; i < 200; i++) {
    char ref[XVA_STORE_REF_MAX + 1];

    CHECK (Xva_store_new_ref (ref) == XVA_OK);
    CHECK (Xva_store_new_uuid (u) == XVA_OK);
    snprintf (filler, sizeof filler, "filler %d", i);
    rec = record (u, filler);
    CHECK (rec != NULL
           && Xva_store_put (s, NULL, ref, "host_metrics", rec) == XVA_OK);
    xva_value_free (rec);
  }
  Xva_store_close (s);
  s = NULL;
  CHECK (damage_last_page (dir) == 0);
  {
    char err[512];

    /* Either the open notices, or the check must. */
    if (Xva_store_open (dir, &s, err, sizeof err) == XVA_OK) {
      int r = Xva_store_check (s, &rep);

      CHECK_MSG (r != XVA_OK || rep.problems > 0, "damage not found");
      if (r == XVA_OK)
        printf ("damaged page found: %.200s\n", rep.problems_text);
      else
        printf ("damaged page: %s\n", Xva_store_errmsg (s));
    }
    else
      printf ("damaged page refused at open: %s\n", err);
  }

done:
  Xva_store_close (s);
  rmtree (base);
  HARNESS_DONE ();
}

int
main (int argc, char **argv)
{
  if (argc >= 3 && strcmp (argv[1], "check") == 0)
    return checker (argc, argv);
  if (argc != 1) {
    fprintf (stderr, "usage: %s [check DIR [--clean] [--password PW]]\n",
             argv[0]);
    return 2;
  }
  return self_test ();
}
