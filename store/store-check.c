/* Consistency check of a data directory: SQLite's own integrity check,
 * then the invariants the import and VM.destroy keep between the
 * records and the disk images. */
#include "store/store-priv.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define NULL_REF "OpaqueRef:NULL"
#define STAGING_PREFIX ".import-"

static void problem (struct Xva_store_check_report *rep, const char *fmt, ...)
  XVA_STORE_PRINTF (2, 3);

static void
problem (struct Xva_store_check_report *rep, const char *fmt, ...)
{
  size_t n = strlen (rep->problems_text);
  va_list ap;

  rep->problems++;
  if (n + 2 >= sizeof rep->problems_text)
    return;
  if (n > 0)
    rep->problems_text[n++] = '\n';
  va_start (ap, fmt);
  vsnprintf (rep->problems_text + n, sizeof rep->problems_text - n, fmt, ap);
  va_end (ap);
}

static int
is_null_ref (const char *r)
{
  return r == NULL || r[0] == '\0' || strcmp (r, NULL_REF) == 0;
}

/* PRAGMA integrity_check on a pooled reader: every row it gives that is
 * not "ok" is a problem. */
static int
check_sqlite (struct Xva_store *s, struct Xva_store_check_report *rep)
{
  static const char fn[] = "Xva_store_check";
  struct Xva_store_conn c;
  sqlite3_stmt *st = NULL;
  int rc, r;

  r = Xva_store_conn_get (s, NULL, 0, &c, fn);
  if (r < 0)
    return r;
  rc = sqlite3_prepare_v2 (c.db, "PRAGMA integrity_check", -1, &st, NULL);
  while (rc == SQLITE_OK && (rc = sqlite3_step (st)) == SQLITE_ROW) {
    const unsigned char *t = sqlite3_column_text (st, 0);

    if (t == NULL || strcmp ((const char *) t, "ok") != 0)
      problem (rep, "sqlite: %.200s", t ? (const char *) t : "(null)");
    rc = SQLITE_OK;
  }
  if (rc != SQLITE_DONE)
    r = Xva_store_sqlite_error (c.db, rc, fn, "integrity_check");
  sqlite3_finalize (st);
  return Xva_store_conn_put (s, &c, r);
}

/* Index of ref in l, or -1. */
static long
find_ref (const struct Xva_store_list *l, const char *ref)
{
  size_t i;

  for (i = 0; ref != NULL && i < l->n; i++)
    if (strcmp (l->refs[i], ref) == 0)
      return (long) i;
  return -1;
}

/* The image name (uuid) of VDI record v: its location, else its uuid,
 * as the export reads it. */
static const char *
vdi_image (const struct xva_value *v)
{
  const char *loc = xva_value_get_string (v, "location");

  if (Xva_store_uuid_valid (loc))
    return loc;
  loc = xva_value_get_string (v, "uuid");
  return Xva_store_uuid_valid (loc) ? loc : NULL;
}

struct lists {
  struct Xva_store_list vm, vbd, vdi, vif, sr;
};

/* Every VM whole: its VBDs and VIFs exist and point back at it, and the
 * VDIs of its VBDs exist.  No VBD or VIF of a missing VM. */
static void
check_graph (struct lists *L, struct Xva_store_check_report *rep)
{
  size_t i, j;

  for (i = 0; i < L->vm.n; i++) {
    const char *vm = L->vm.refs[i];
    const struct xva_value *a = xva_value_get (L->vm.recs[i], "VBDs");

    for (j = 0; j < xva_value_len (a); j++) {
      const char *vbd = xva_value_string (xva_value_at (a, j));
      long k = find_ref (&L->vbd, vbd);
      const char *owner, *vdi;

      if (k < 0) {
        problem (rep, "VM %s: VBD %s missing", vm, vbd ? vbd : "(null)");
        continue;
      }
      owner = xva_value_get_string (L->vbd.recs[k], "VM");
      if (owner == NULL || strcmp (owner, vm) != 0)
        problem (rep, "VBD %s: in VM %s's VBDs but its VM is %s", vbd, vm,
                 owner ? owner : "(none)");
      vdi = xva_value_get_string (L->vbd.recs[k], "VDI");
      if (!is_null_ref (vdi) && find_ref (&L->vdi, vdi) < 0)
        problem (rep, "VBD %s of VM %s: VDI %s missing", vbd, vm, vdi);
    }
    a = xva_value_get (L->vm.recs[i], "VIFs");
    for (j = 0; j < xva_value_len (a); j++) {
      const char *vif = xva_value_string (xva_value_at (a, j));

      if (find_ref (&L->vif, vif) < 0)
        problem (rep, "VM %s: VIF %s missing", vm, vif ? vif : "(null)");
    }
  }
  for (i = 0; i < L->vbd.n; i++) {
    const char *vm = xva_value_get_string (L->vbd.recs[i], "VM");

    if (find_ref (&L->vm, vm) < 0)
      problem (rep, "VBD %s: VM %s missing", L->vbd.refs[i],
               vm ? vm : "(none)");
  }
  for (i = 0; i < L->vif.n; i++) {
    const char *vm = xva_value_get_string (L->vif.recs[i], "VM");

    if (find_ref (&L->vm, vm) < 0)
      problem (rep, "VIF %s: VM %s missing", L->vif.refs[i],
               vm ? vm : "(none)");
  }
}

/* Whether some VDI record of SR sr_ref has image uuid. */
static int
image_named (const struct lists *L, const char *sr_ref, const char *uuid)
{
  size_t i;

  for (i = 0; i < L->vdi.n; i++) {
    const char *img = vdi_image (L->vdi.recs[i]);
    const char *sr = xva_value_get_string (L->vdi.recs[i], "SR");

    if (img != NULL && sr != NULL && strcmp (sr, sr_ref) == 0
        && strcmp (img, uuid) == 0)
      return 1;
  }
  return 0;
}

/* One SR directory: no staging left, no image that no VDI names, and
 * every VDI of the SR has its image. */
static int
check_sr_dir (struct Xva_store *s, const struct lists *L, size_t si,
              struct Xva_store_check_report *rep)
{
  static const char fn[] = "Xva_store_check";
  const char *sr_ref = L->sr.refs[si];
  const char *sr_uuid = xva_value_get_string (L->sr.recs[si], "uuid");
  char dir[PATH_MAX], path[PATH_MAX], uuid[XVA_STORE_UUID_LEN + 1];
  struct dirent *de;
  struct stat sb;
  DIR *d;
  size_t i;
  int r;

  r = Xva_store_sr_dir (s, sr_uuid, dir, sizeof dir);
  if (r < 0) {
    problem (rep, "SR %s: bad uuid '%.64s'", sr_ref,
             sr_uuid ? sr_uuid : "(none)");
    return XVA_OK;
  }
  d = opendir (dir);
  if (d == NULL) {
    if (errno != ENOENT)
      return Xva_store_error (XVA_EIO, "%s: %s: %s", fn, dir,
                              strerror (errno));
    problem (rep, "SR %s: directory %s missing", sr_ref, dir);
    return XVA_OK;
  }
  while ((de = readdir (d)) != NULL) {
    if (strncmp (de->d_name, STAGING_PREFIX, sizeof STAGING_PREFIX - 1) == 0) {
      rep->staging_dirs++;
      problem (rep, "staging left: %s/%s", dir, de->d_name);
    }
    else if (Xva_store_image_name (de->d_name, uuid)) {
      rep->images++;
      if (!image_named (L, sr_ref, uuid)) {
        rep->orphan_images++;
        problem (rep, "orphan image: %s/%s", dir, de->d_name);
      }
    }
  }
  closedir (d);
  for (i = 0; i < L->vdi.n; i++) {
    const char *sr = xva_value_get_string (L->vdi.recs[i], "SR");
    const char *img = vdi_image (L->vdi.recs[i]);

    if (sr == NULL || strcmp (sr, sr_ref) != 0)
      continue;
    if (img == NULL
        || Xva_store_vdi_path (s, sr_uuid, img, path, sizeof path) < 0) {
      problem (rep, "VDI %s: no image name", L->vdi.refs[i]);
      continue;
    }
    if (stat (path, &sb) != 0 || !S_ISREG (sb.st_mode)) {
      rep->missing_images++;
      problem (rep, "VDI %s: image %s missing", L->vdi.refs[i], path);
    }
  }
  return XVA_OK;
}

int
Xva_store_check (struct Xva_store *s, struct Xva_store_check_report *rep)
{
  static const char fn[] = "Xva_store_check";
  static const char *const cls[] = { "VM", "VBD", "VDI", "VIF", "SR" };
  struct lists L;
  struct Xva_store_list *ls[5];
  size_t i;
  int r;

  if (rep == NULL || s == NULL)
    return Xva_store_error (XVA_EINVAL, "%s: no store or report", fn);
  memset (rep, 0, sizeof *rep);
  memset (&L, 0, sizeof L);
  ls[0] = &L.vm;
  ls[1] = &L.vbd;
  ls[2] = &L.vdi;
  ls[3] = &L.vif;
  ls[4] = &L.sr;
  r = check_sqlite (s, rep);
  if (r < 0)
    goto out;
  for (i = 0; i < 5; i++) {
    r = Xva_store_list (s, NULL, cls[i], 1, ls[i]);
    if (r < 0)
      goto out;
  }
  rep->vms = (unsigned) L.vm.n;
  rep->vdis = (unsigned) L.vdi.n;
  check_graph (&L, rep);
  for (i = 0; i < L.vdi.n; i++) {
    const char *sr = xva_value_get_string (L.vdi.recs[i], "SR");

    if (find_ref (&L.sr, sr) < 0)
      problem (rep, "VDI %s: SR %s missing", L.vdi.refs[i],
               sr ? sr : "(none)");
  }
  for (i = 0; i < L.sr.n; i++) {
    r = check_sr_dir (s, &L, i, rep);
    if (r < 0)
      goto out;
  }
  r = XVA_OK;

out:
  for (i = 0; i < 5; i++)
    Xva_store_list_free (ls[i]);
  return r;
}
