/* restore=true: the VM, VBD and VIF uuids, the MACs and the mac_seed
 * are kept, the VDIs get new uuids; an existing VM with the same uuid
 * is replaced in the commit (its VBDs, VIFs, VDIs and images go) and
 * the new one gets its version + 1.  Refused: an archive that is not
 * newer, a VM that is not halted (skipped with force), a mac_seed that
 * another VM has.  The replaced VM is busy while the import runs. */
#include "xport-test.h"

static const uint64_t sizes[1] = { 1 * MiB + 8192 };
static unsigned char *data[1];
static struct xva_value *master;

/* An archive of the master tree with VM version v (and, when uuid is
 * not NULL, that VM uuid). */
static void
archive (int64_t v, const char *uuid, struct buf *out)
{
  struct xva_value *t = xva_value_copy (master);
  struct xva_value *vm = xt_object (t, "VM");

  xva_value_set_int (vm, "version", v);
  if (uuid)
    xva_value_set_string (vm, "uuid", uuid);
  out->n = 0;
  if (xt_archive (t, data, sizes, 1, out) != XVA_OK) {
    fprintf (stderr, "archive failed\n");
    exit (1);
  }
}

/* The only VM's ref (into ref) and record; exits unless exactly one. */
static struct xva_value *
the_vm (struct Xva_store *s, char *ref)
{
  struct Xva_store_list l;
  struct xva_value *v;

  if (Xva_store_list (s, NULL, "VM", 1, &l) != XVA_OK || l.n != 1) {
    fprintf (stderr, "not one VM\n");
    exit (1);
  }
  snprintf (ref, XVA_STORE_REF_MAX + 1, "%s", l.refs[0]);
  v = xva_value_copy (l.recs[0]);
  Xva_store_list_free (&l);
  return v;
}

int
main (void)
{
  char dir[1024], srdir[4096], err[512], code[64];
  char ref1[XVA_STORE_REF_MAX + 1], ref2[XVA_STORE_REF_MAX + 1];
  char sr_ref[XVA_STORE_REF_MAX + 1], seed[XVA_STORE_UUID_LEN + 1];
  struct Xva_store *s;
  struct xva_value *vm1, *vm2, *vbd1 = NULL, *vif1 = NULL, *refs = NULL;
  const struct xva_value *src_vm, *src_vif, *src_vbd, *src_vdi;
  struct Xva_import_opts o;
  struct Xva_import *im;
  struct buf a = { NULL, 0, 0 };
  char old_vdi[XVA_STORE_REF_MAX + 1], old_img[4200];
  int staging, st;

  s = xt_store (dir, sizeof dir);
  xt_sr_dir (s, srdir, sizeof srdir, NULL);
  CHECK (Xva_store_default_sr (s, NULL, sr_ref) == XVA_OK);
  data[0] = malloc ((size_t) sizes[0]);
  xt_fill (data[0], sizes[0], 5);
  master = xt_tree ("restore vm", sizes, 1, 1);
  Xva_store_new_uuid (seed);
  xva_value_set_string (xva_value_get (xt_object (master, "VM"),
                                       "other_config"),
                        "mac_seed", seed);
  src_vm = xt_object (master, "VM");
  src_vif = xt_object (master, "VIF");
  src_vbd = xt_object (master, "VBD");
  src_vdi = xt_object (master, "VDI");
  memset (&o, 0, sizeof o);
  o.restore = 1;

  /* Into an empty store: uuids, MAC and mac_seed kept, version 0. */
  archive (3, NULL, &a);
  st = xt_import (s, &o, a.p, a.n, &refs, code, sizeof code);
  CHECK_MSG (st == XVA_OK, code);
  xva_value_free (refs);
  refs = NULL;
  vm1 = the_vm (s, ref1);
  CHECK (strcmp (xt_str (vm1, "uuid"), xt_str (src_vm, "uuid")) == 0);
  CHECK (xt_int (vm1, "version") == 0);
  CHECK (strcmp (xt_str (xva_value_get (vm1, "other_config"), "mac_seed"),
                 seed)
         == 0);
  vbd1 = xt_get (s,
                 xva_value_string (xva_value_at (xva_value_get (vm1, "VBDs"),
                                                 0)));
  vif1 = xt_get (s,
                 xva_value_string (xva_value_at (xva_value_get (vm1, "VIFs"),
                                                 0)));
  CHECK (vbd1 && vif1);
  CHECK (strcmp (xt_str (vbd1, "uuid"), xt_str (src_vbd, "uuid")) == 0);
  CHECK (strcmp (xt_str (vif1, "uuid"), xt_str (src_vif, "uuid")) == 0);
  CHECK (strcmp (xt_str (vif1, "MAC"), xt_str (src_vif, "MAC")) == 0);
  snprintf (old_vdi, sizeof old_vdi, "%s", xt_str (vbd1, "VDI"));
  {
    struct xva_value *vdi = xt_get (s, old_vdi);
    CHECK (vdi != NULL);
    CHECK (strcmp (xt_str (vdi, "uuid"), xt_str (src_vdi, "uuid")) != 0);
    snprintf (old_img, sizeof old_img, "%s/%s.img", srdir,
              xt_str (vdi, "uuid"));
    xva_value_free (vdi);
  }
  CHECK (test_exists (old_img));
  CHECK (xt_image_is (s, old_vdi, data[0], sizes[0]));

  /* Over the existing VM (version 0 < 3): replaced, version 1.  The VM
   * being replaced is busy while the import runs. */
  CHECK (Xva_import_new (s, &o, &im, err, sizeof err) == XVA_OK);
  CHECK (xt_feed (im, a.p, a.n / 2) == XVA_OK);
  CHECK (Xva_store_busy (s, ref1));
  CHECK (xt_feed (im, a.p + a.n / 2, a.n - a.n / 2) == XVA_OK);
  st = Xva_import_finish (im, &refs);
  CHECK_MSG (st == XVA_OK, Xva_import_errmsg (im));
  Xva_import_free (im);
  CHECK (!Xva_store_busy (s, ref1));
  vm2 = the_vm (s, ref2);
  CHECK (xva_value_len (refs) == 1
         && strcmp (xva_value_string (xva_value_at (refs, 0)), ref2) == 0);
  xva_value_free (refs);
  refs = NULL;
  CHECK (strcmp (ref1, ref2) != 0);
  CHECK (xt_get (s, ref1) == NULL);
  CHECK (strcmp (xt_str (vm2, "uuid"), xt_str (src_vm, "uuid")) == 0);
  CHECK (xt_int (vm2, "version") == 1);
  CHECK (xt_count (s, "VM") == 1);
  CHECK (xt_count (s, "VBD") == 1);
  CHECK (xt_count (s, "VIF") == 1);
  CHECK (xt_count (s, "VDI") == 1);
  CHECK (xt_count (s, "network") == 1);
  CHECK (Xva_store_get (s, NULL, old_vdi, NULL, NULL) == XVA_ENOTFOUND);
  CHECK (!test_exists (old_img));
  CHECK (xt_entries (srdir, &staging) == 1 && staging == 0);
  {
    struct xva_value *vbd = xt_get (
      s, xva_value_string (xva_value_at (xva_value_get (vm2, "VBDs"), 0)));
    struct xva_value *vif = xt_get (
      s, xva_value_string (xva_value_at (xva_value_get (vm2, "VIFs"), 0)));
    struct xva_value *sr = xt_get (s, sr_ref);
    struct xva_value *net = vif ? xt_get (s, xt_str (vif, "network")) : NULL;

    CHECK (vbd && strcmp (xt_str (vbd, "uuid"), xt_str (vbd1, "uuid")) == 0);
    CHECK (vif && strcmp (xt_str (vif, "MAC"), xt_str (vif1, "MAC")) == 0);
    CHECK (vbd && xt_image_is (s, xt_str (vbd, "VDI"), data[0], sizes[0]));
    /* back references follow: one VDI in the SR, one VIF on the net */
    CHECK (sr && xva_value_len (xva_value_get (sr, "VDIs")) == 1);
    CHECK (sr && vbd
           && strcmp (xva_value_string (
                        xva_value_at (xva_value_get (sr, "VDIs"), 0)),
                      xt_str (vbd, "VDI"))
                == 0);
    CHECK (net && xva_value_len (xva_value_get (net, "VIFs")) == 1);
    xva_value_free (vbd);
    xva_value_free (vif);
    xva_value_free (sr);
    xva_value_free (net);
  }

  /* Not newer (1 <= 1): refused, nothing changes; force goes on. */
  archive (1, NULL, &a);
  st = xt_import (s, &o, a.p, a.n, NULL, code, sizeof code);
  CHECK (st < 0);
  CHECK (strcmp (code, "VM_TO_IMPORT_IS_NOT_NEWER_VERSION") == 0);
  {
    char r[XVA_STORE_REF_MAX + 1];
    struct xva_value *v = the_vm (s, r);
    CHECK (strcmp (r, ref2) == 0 && xt_int (v, "version") == 1);
    xva_value_free (v);
  }
  CHECK (xt_entries (srdir, &staging) == 1 && staging == 0);
  o.force = 1;
  st = xt_import (s, &o, a.p, a.n, NULL, code, sizeof code);
  CHECK_MSG (st == XVA_OK, code);
  o.force = 0;
  xva_value_free (vm2);
  vm2 = the_vm (s, ref2);
  CHECK (xt_int (vm2, "version") == 2);
  CHECK (xt_entries (srdir, &staging) == 1 && staging == 0);

  /* Not halted: refused; with force the VM is skipped. */
  xva_value_set_string (vm2, "power_state", "Running");
  CHECK (Xva_store_put (s, NULL, ref2, "VM", vm2) == XVA_OK);
  archive (9, NULL, &a);
  CHECK (Xva_import_new (s, &o, &im, err, sizeof err) == XVA_OK);
  st = xt_feed (im, a.p, a.n);
  if (st == XVA_OK)
    st = Xva_import_finish (im, NULL);
  CHECK (st == XVA_ESTATE);
  CHECK (Xva_import_http_status (im) == 409);
  CHECK (strcmp (xva_value_string (xva_value_at (Xva_import_error (im), 0)),
                 "VM_BAD_POWER_STATE")
         == 0);
  Xva_import_free (im);
  o.force = 1;
  st = xt_import (s, &o, a.p, a.n, &refs, code, sizeof code);
  CHECK_MSG (st == XVA_OK, code);
  CHECK (refs && xva_value_len (refs) == 0);
  xva_value_free (refs);
  refs = NULL;
  o.force = 0;
  CHECK (xt_count (s, "VM") == 1);
  CHECK (xt_count (s, "VDI") == 1);
  CHECK (xt_entries (srdir, &staging) == 1 && staging == 0);
  xva_value_set_string (vm2, "power_state", "Halted");
  CHECK (Xva_store_put (s, NULL, ref2, "VM", vm2) == XVA_OK);

  /* Another VM uuid with the same mac_seed. */
  {
    char u[XVA_STORE_UUID_LEN + 1];
    Xva_store_new_uuid (u);
    archive (1, u, &a);
    st = xt_import (s, &o, a.p, a.n, NULL, code, sizeof code);
    CHECK (st < 0);
    CHECK (strcmp (code, "DUPLICATE_MAC_SEED") == 0);
    CHECK (xt_count (s, "VM") == 1);
  }

  /* Without restore: a second VM with new uuids. */
  o.restore = 0;
  st = xt_import (s, &o, a.p, a.n, NULL, code, sizeof code);
  CHECK_MSG (st == XVA_OK, code);
  CHECK (xt_count (s, "VM") == 2);
  CHECK (xt_count (s, "VIF") == 2);

  xva_value_free (vm1);
  xva_value_free (vm2);
  xva_value_free (vbd1);
  xva_value_free (vif1);
  xva_value_free (master);
  free (data[0]);
  free (a.p);
  Xva_store_close (s);
  test_rmtree (dir);
  HARNESS_DONE ();
}
