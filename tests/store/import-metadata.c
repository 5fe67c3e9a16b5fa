/* Metadata export and import, the disaster-recovery flow: a metadata
 * export of every VM (default templates and control domains left out),
 * the VM records destroyed with their disks kept, a metadata import
 * with restore brings the VMs back with their uuids over the same VDIs.
 * A dry run creates nothing; a missing disk gives VDI_LOCATION_MISSING
 * naming it (skipped with force); a vdi: map wins over the location. */
#include "xport-test.h"

#define NA 2
#define NB 1

static struct Xva_store *s;

static char *
import_full (const char *name, const uint64_t *sizes, unsigned n,
             unsigned char **data)
{
  struct Xva_import_opts o;
  struct xva_value *refs = NULL;
  struct buf a = { NULL, 0, 0 };
  char code[64], *ref = NULL;

  memset (&o, 0, sizeof o);
  if (xt_archive (xt_tree (name, sizes, n, 1), data, sizes, n, &a) == XVA_OK
      && xt_import (s, &o, a.p, a.n, &refs, code, sizeof code) == XVA_OK
      && xva_value_len (refs) == 1)
    ref = strdup (xva_value_string (xva_value_at (refs, 0)));
  xva_value_free (refs);
  free (a.p);
  if (ref == NULL) {
    fprintf (stderr, "import of %s failed\n", name);
    exit (1);
  }
  return ref;
}

/* Removes VM ref with its VBDs and VIFs; the VDIs stay (their VBDs
 * emptied). */
static void
destroy_keep_disks (const char *ref)
{
  struct xva_value *vm = xt_get (s, ref);
  const struct xva_value *set;
  size_t i;

  CHECK (vm != NULL);
  set = xva_value_get (vm, "VBDs");
  for (i = 0; i < xva_value_len (set); i++) {
    const char *b = xva_value_string (xva_value_at (set, i));
    struct xva_value *vbd = xt_get (s, b);
    struct xva_value *vdi = vbd ? xt_get (s, xt_str (vbd, "VDI")) : NULL;
    if (vdi) {
      xva_value_set (vdi, "VBDs", xva_value_new_array ());
      CHECK (Xva_store_put (s, NULL, xt_str (vbd, "VDI"), "VDI", vdi)
             == XVA_OK);
    }
    CHECK (Xva_store_delete (s, NULL, b) == XVA_OK);
    xva_value_free (vbd);
    xva_value_free (vdi);
  }
  set = xva_value_get (vm, "VIFs");
  for (i = 0; i < xva_value_len (set); i++)
    CHECK (Xva_store_delete (s, NULL, xva_value_string (xva_value_at (set, i)))
           == XVA_OK);
  CHECK (Xva_store_delete (s, NULL, ref) == XVA_OK);
  xva_value_free (vm);
}

/* The VDI refs of VM ref's VBDs, in order, joined by spaces. */
static void
vdis_of (const char *ref, char *out, size_t len)
{
  struct xva_value *vm = xt_get (s, ref);
  const struct xva_value *set = xva_value_get (vm, "VBDs");
  size_t i, used = 0;

  out[0] = '\0';
  for (i = 0; i < xva_value_len (set); i++) {
    struct xva_value *vbd = xt_get (s,
                                    xva_value_string (xva_value_at (set, i)));
    int n = snprintf (out + used, len - used, "%s ", xt_str (vbd, "VDI"));
    if (n > 0 && (size_t) n < len - used)
      used += (size_t) n;
    xva_value_free (vbd);
  }
  xva_value_free (vm);
}

/* The VM with that uuid (its ref into out), or 0. */
static int
vm_by_uuid (const char *uuid, char *out)
{
  return Xva_store_find_uuid (s, NULL, "VM", uuid, out, NULL) == XVA_OK;
}

static void
put_special_vm (const char *flag)
{
  char ref[XVA_STORE_REF_MAX + 1], uuid[XVA_STORE_UUID_LEN + 1];
  struct xva_value *v = xva_value_new_struct ();

  Xva_store_new_ref (ref);
  Xva_store_new_uuid (uuid);
  xva_value_set_string (v, "uuid", uuid);
  xva_value_set_string (v, "name_label", flag);
  xva_value_set_string (v, "power_state", "Running");
  xva_value_set (v, "VBDs", xva_value_new_array ());
  xva_value_set (v, "VIFs", xva_value_new_array ());
  xva_value_set_bool (v, "is_default_template",
                      strcmp (flag, "template") == 0);
  xva_value_set_bool (v, "is_control_domain", strcmp (flag, "dom0") == 0);
  CHECK (Xva_store_put (s, NULL, ref, "VM", v) == XVA_OK);
  xva_value_free (v);
}

/* Metadata export of vm_ref (NULL: all). */
static void
export_md (const char *vm_ref, struct buf *out)
{
  struct Xva_export_opts eo;
  struct Xva_export *e = NULL;
  char err[512];
  int st;

  Xva_export_opts_init (&eo);
  eo.metadata_only = 1;
  eo.all = vm_ref == NULL;
  st = Xva_export_new (s, vm_ref, &eo, &e, err, sizeof err);
  CHECK_MSG (st == XVA_OK, err);
  if (st != XVA_OK)
    exit (1);
  if (vm_ref == NULL)
    CHECK (strcmp (Xva_export_vm_uuid (e), "") == 0);
  CHECK (xt_drain (e, out) == XVA_OK);
  Xva_export_free (e);
}

int
main (void)
{
  static const uint64_t sa[NA] = { 1 * MiB, 2 * MiB + 512 };
  static const uint64_t sb[NB] = { 1 * MiB + 4096 };
  char dir[1024], srdir[4096], code[64];
  char a_vdis[2048], b_vdis[2048], got[2048];
  char ref[XVA_STORE_REF_MAX + 1], a_uuid[64], b_uuid[64];
  char sr_ref[XVA_STORE_REF_MAX + 1];
  unsigned char *da[NA], *db[NB];
  struct xva_value *refs = NULL, *v;
  struct Xva_import_opts o;
  struct Xva_import *im = NULL;
  struct buf m = { NULL, 0, 0 };
  char *a_ref, *b_ref;
  size_t nvdi, nvm;
  unsigned i;
  int staging, st;

  s = xt_store (dir, sizeof dir);
  xt_sr_dir (s, srdir, sizeof srdir, NULL);
  CHECK (Xva_store_default_sr (s, NULL, sr_ref) == XVA_OK);
  for (i = 0; i < NA; i++) {
    da[i] = malloc ((size_t) sa[i]);
    xt_fill (da[i], sa[i], 40 + i);
  }
  db[0] = malloc ((size_t) sb[0]);
  xt_fill (db[0], sb[0], 50);
  a_ref = import_full ("vm a", sa, NA, da);
  b_ref = import_full ("vm b", sb, NB, db);
  v = xt_get (s, a_ref);
  snprintf (a_uuid, sizeof a_uuid, "%s", xt_str (v, "uuid"));
  xva_value_free (v);
  v = xt_get (s, b_ref);
  snprintf (b_uuid, sizeof b_uuid, "%s", xt_str (v, "uuid"));
  xva_value_free (v);
  vdis_of (a_ref, a_vdis, sizeof a_vdis);
  vdis_of (b_ref, b_vdis, sizeof b_vdis);
  put_special_vm ("template");
  put_special_vm ("dom0");

  export_md (NULL, &m);
  {
    /* two VMs in it, not the template and dom0 */
    struct Xva_import_opts d;
    memset (&d, 0, sizeof d);
    d.metadata_only = 1;
    d.dry_run = 1;
    nvm = xt_count (s, "VM");
    nvdi = xt_count (s, "VDI");
    st = xt_import (s, &d, m.p, m.n, &refs, code, sizeof code);
    CHECK_MSG (st == XVA_OK, code);
    CHECK (xva_value_len (refs) == 2);
    xva_value_free (refs);
    refs = NULL;
    CHECK (xt_count (s, "VM") == nvm); /* a dry run made nothing */
    CHECK (xt_count (s, "VBD") == NA + NB);
    CHECK (xt_count (s, "VIF") == 2);
    CHECK (xt_count (s, "VDI") == nvdi);
  }

  /* Disaster: the VM records are lost, the disks survive. */
  destroy_keep_disks (a_ref);
  destroy_keep_disks (b_ref);
  CHECK (xt_count (s, "VM") == 2); /* template and dom0 */
  CHECK (xt_count (s, "VBD") == 0);
  nvdi = xt_count (s, "VDI");

  memset (&o, 0, sizeof o);
  o.metadata_only = 1;
  o.restore = 1;
  /* dry run first: nothing made */
  o.dry_run = 1;
  CHECK (Xva_import_new (s, &o, &im, NULL, 0) == XVA_OK);
  st = xt_feed (im, m.p, m.n);
  if (st == XVA_OK)
    st = Xva_import_finish (im, &refs);
  CHECK_MSG (st == XVA_OK, Xva_import_errmsg (im));
  CHECK (xva_value_len (refs) == 2);
  CHECK (strstr (Xva_import_errmsg (im), "would create 2 VM") != NULL);
  Xva_import_free (im);
  xva_value_free (refs);
  refs = NULL;
  CHECK (xt_count (s, "VM") == 2 && xt_count (s, "VBD") == 0
         && xt_count (s, "VIF") == 0);
  o.dry_run = 0;

  st = xt_import (s, &o, m.p, m.n, &refs, code, sizeof code);
  CHECK_MSG (st == XVA_OK, code);
  CHECK (xva_value_len (refs) == 2);
  xva_value_free (refs);
  refs = NULL;
  CHECK (xt_count (s, "VM") == 4);
  CHECK (xt_count (s, "VDI") == nvdi);
  CHECK (xt_entries (srdir, &staging) == (int) nvdi && staging == 0);
  CHECK (vm_by_uuid (a_uuid, ref));
  vdis_of (ref, got, sizeof got);
  CHECK_MSG (strcmp (got, a_vdis) == 0, got);
  for (i = 0; i < NA; i++) {
    /* the same disks, untouched */
    struct xva_value *vm = xt_get (s, ref);
    struct xva_value *vbd = xt_get (
      s, xva_value_string (xva_value_at (xva_value_get (vm, "VBDs"), i)));
    struct xva_value *vdi = xt_get (s, xt_str (vbd, "VDI"));
    CHECK (xt_image_is (s, xt_str (vbd, "VDI"), da[i], sa[i]));
    CHECK (strcmp (xt_str (vbd, "VM"), ref) == 0);
    CHECK (xva_value_len (xva_value_get (vdi, "VBDs")) == 1);
    xva_value_free (vm);
    xva_value_free (vbd);
    xva_value_free (vdi);
  }
  CHECK (vm_by_uuid (b_uuid, ref));
  vdis_of (ref, got, sizeof got);
  CHECK (strcmp (got, b_vdis) == 0);
  free (a_ref);
  free (b_ref);
  CHECK (vm_by_uuid (a_uuid, ref));
  a_ref = strdup (ref);
  CHECK (vm_by_uuid (b_uuid, ref));
  b_ref = strdup (ref);

  /* A missing disk: VDI_LOCATION_MISSING names it. */
  destroy_keep_disks (a_ref);
  destroy_keep_disks (b_ref);
  {
    char vdi0[XVA_STORE_REF_MAX + 1], sr_uuid[64], loc[64];
    struct xva_value *vdi, *sr;
    const struct xva_value *e;

    sscanf (a_vdis, "%255s", vdi0);
    vdi = xt_get (s, vdi0);
    sr = xt_get (s, xt_str (vdi, "SR"));
    snprintf (loc, sizeof loc, "%s", xt_str (vdi, "location"));
    snprintf (sr_uuid, sizeof sr_uuid, "%s", xt_str (sr, "uuid"));
    CHECK (Xva_store_delete (s, NULL, vdi0) == XVA_OK);
    CHECK (Xva_store_vdi_remove (s, sr_uuid, loc) == XVA_OK);
    xva_value_free (vdi);
    xva_value_free (sr);
    nvdi--;

    CHECK (Xva_import_new (s, &o, &im, NULL, 0) == XVA_OK);
    st = xt_feed (im, m.p, m.n);
    if (st == XVA_OK)
      st = Xva_import_finish (im, NULL);
    CHECK (st == XVA_ENOTFOUND);
    e = Xva_import_error (im);
    CHECK (e && xva_value_len (e) == 3);
    CHECK (e
           && strcmp (xva_value_string (xva_value_at (e, 0)),
                      "VDI_LOCATION_MISSING")
                == 0);
    CHECK (e && strcmp (xva_value_string (xva_value_at (e, 1)), sr_ref) == 0);
    CHECK (e && strcmp (xva_value_string (xva_value_at (e, 2)), loc) == 0);
    CHECK (strstr (Xva_import_errmsg (im), loc) != NULL);
    Xva_import_free (im);
    CHECK (xt_count (s, "VM") == 2 && xt_count (s, "VBD") == 0);

    /* force: the VDI and its Disk VBD are skipped */
    o.force = 1;
    st = xt_import (s, &o, m.p, m.n, &refs, code, sizeof code);
    CHECK_MSG (st == XVA_OK, code);
    CHECK (xva_value_len (refs) == 2);
    xva_value_free (refs);
    refs = NULL;
    o.force = 0;
    CHECK (vm_by_uuid (a_uuid, ref));
    vdis_of (ref, got, sizeof got);
    CHECK (strcmp (got, a_vdis + strlen (vdi0) + 1) == 0);
    CHECK (xt_count (s, "VDI") == nvdi);
  }

  /* vdi: map: B's disk mapped to A's remaining disk. */
  {
    struct buf mb = { NULL, 0, 0 };
    struct Xva_vdi_map map;
    char a1[XVA_STORE_REF_MAX + 1], bv[XVA_STORE_REF_MAX + 1];
    struct xva_value *va, *vb;
    char new_ref[XVA_STORE_REF_MAX + 1];

    CHECK (vm_by_uuid (b_uuid, ref));
    export_md (ref, &mb);
    sscanf (a_vdis, "%*s %255s", a1);
    sscanf (b_vdis, "%255s", bv);
    va = xt_get (s, a1);
    vb = xt_get (s, bv);
    map.from = xt_str (vb, "uuid");
    map.to = xt_str (va, "uuid");
    memset (&o, 0, sizeof o);
    o.metadata_only = 1;
    o.vdi_map = &map;
    o.nvdi_map = 1;
    st = xt_import (s, &o, mb.p, mb.n, &refs, code, sizeof code);
    CHECK_MSG (st == XVA_OK, code);
    CHECK (xva_value_len (refs) == 1);
    if (xva_value_len (refs) == 1) {
      snprintf (new_ref, sizeof new_ref, "%s",
                xva_value_string (xva_value_at (refs, 0)));
      vdis_of (new_ref, got, sizeof got);
      CHECK (strncmp (got, a1, strlen (a1)) == 0);
      v = xt_get (s, new_ref);
      CHECK (strcmp (xt_str (v, "uuid"), b_uuid) != 0); /* no restore */
      xva_value_free (v);
    }
    xva_value_free (refs);
    refs = NULL;
    xva_value_free (va);
    xva_value_free (vb);
    free (mb.p);
  }

  free (a_ref);
  free (b_ref);
  for (i = 0; i < NA; i++)
    free (da[i]);
  free (db[0]);
  free (m.p);
  Xva_store_close (s);
  test_rmtree (dir);
  HARNESS_DONE ();
}
