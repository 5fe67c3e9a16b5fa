/* A full import into a real store: an archive made with
 * xva_meta_build_vm and the writer, fed in odd pieces, becomes a new
 * VM with new uuids, its VBDs, VIF, network and VDIs in the default SR,
 * images equal to the source bytes; nothing staged remains.  Also the
 * errors before and at ova.xml: unknown SR, incompatible version, and
 * no space (SR_FULL through RLIMIT_FSIZE). */
#include <signal.h>
#include <sys/resource.h>

#include "xport-test.h"

#define NDISKS 3

int
main (void)
{
  static const uint64_t sizes[NDISKS] = { 3 * MiB + 512, 1 * MiB,
                                          2 * MiB + 4096 };
  char dir[1024], srdir[4096], sr_uuid[XVA_STORE_UUID_LEN + 1], code[64];
  char sr_ref[XVA_STORE_REF_MAX + 1];
  unsigned char *data[NDISKS];
  struct Xva_store *s;
  struct xva_value *tree, *refs = NULL, *vm = NULL, *src_vm, *src_vif;
  struct Xva_import_opts o;
  struct buf a = { NULL, 0, 0 };
  const char *vm_ref;
  unsigned i;
  int staging, st;

  s = xt_store (dir, sizeof dir);
  xt_sr_dir (s, srdir, sizeof srdir, sr_uuid);
  CHECK (Xva_store_default_sr (s, NULL, sr_ref) == XVA_OK);
  for (i = 0; i < NDISKS; i++) {
    data[i] = malloc ((size_t) sizes[i]);
    xt_fill (data[i], sizes[i], i + 1);
  }
  tree = xt_tree ("basic vm", sizes, NDISKS, 1);
  CHECK (tree != NULL);
  src_vm = xva_value_copy (xt_object (tree, "VM"));
  src_vif = xva_value_copy (xt_object (tree, "VIF"));
  CHECK (xt_archive (tree, data, sizes, NDISKS, &a) == XVA_OK);

  memset (&o, 0, sizeof o);
  st = xt_import (s, &o, a.p, a.n, &refs, code, sizeof code);
  CHECK_MSG (st == XVA_OK, code);
  CHECK (xva_value_len (refs) == 1);
  vm_ref = xva_value_string (xva_value_at (refs, 0));
  vm = xt_get (s, vm_ref);
  CHECK (vm != NULL);
  if (vm) {
    const struct xva_value *vbds = xva_value_get (vm, "VBDs");
    const struct xva_value *oc = xva_value_get (vm, "other_config");
    struct xva_value *vif, *net;

    CHECK (strcmp (xt_str (vm, "name_label"), "basic vm") == 0);
    CHECK (strcmp (xt_str (vm, "uuid"), xt_str (src_vm, "uuid")) != 0);
    CHECK (Xva_store_uuid_valid (xt_str (vm, "uuid")));
    CHECK (strcmp (xt_str (vm, "power_state"), "Halted") == 0);
    CHECK (xt_int (vm, "version") == 0);
    CHECK (xt_bool (vm, "is_default_template") == 0);
    CHECK (xva_value_len (xva_value_get (vm, "current_operations")) == 0);
    CHECK (Xva_store_uuid_valid (xt_str (oc, "mac_seed")));
    CHECK (strcmp (xt_str (oc, "mac_seed"),
                   xt_str (xva_value_get (src_vm, "other_config"), "mac_seed"))
           != 0);
    CHECK (xt_str (vm, "generation_id")[0] != '\0');
    CHECK (strcmp (xt_str (vm, "metrics"), "OpaqueRef:NULL") == 0);
    CHECK (xva_value_len (vbds) == NDISKS);
    for (i = 0; i < xva_value_len (vbds); i++) {
      struct xva_value *vbd = xt_get (s, xva_value_string (xva_value_at (vbds,
                                                                         i)));
      struct xva_value *vdi = vbd ? xt_get (s, xt_str (vbd, "VDI")) : NULL;
      unsigned idx = 99;

      CHECK (vbd != NULL && vdi != NULL);
      if (vbd == NULL || vdi == NULL) {
        xva_value_free (vbd);
        continue;
      }
      CHECK (strcmp (xt_str (vbd, "VM"), vm_ref) == 0);
      CHECK (strcmp (xt_str (vbd, "device"), "") == 0);
      CHECK (xt_bool (vbd, "currently_attached") == 0);
      CHECK (strcmp (xt_str (vdi, "SR"), sr_ref) == 0);
      CHECK (strcmp (xt_str (vdi, "location"), xt_str (vdi, "uuid")) == 0);
      CHECK (xva_value_len (xva_value_get (vdi, "VBDs")) == 1);
      CHECK (strcmp (xva_value_string (
                       xva_value_at (xva_value_get (vdi, "VBDs"), 0)),
                     xva_value_string (xva_value_at (vbds, i)))
             == 0);
      CHECK (xva_value_get_string (xva_value_get (vdi, "sm_config"),
                                   "import_task")
             != NULL);
      CHECK (sscanf (xt_str (vdi, "name_label"), "disk %u", &idx) == 1
             && idx < NDISKS);
      if (idx < NDISKS) {
        CHECK (xt_int (vdi, "virtual_size") == (int64_t) sizes[idx]);
        CHECK (xt_image_is (s, xt_str (vbd, "VDI"), data[idx], sizes[idx]));
      }
      xva_value_free (vbd);
      xva_value_free (vdi);
    }
    CHECK (xva_value_len (xva_value_get (vm, "VIFs")) == 1);
    vif = xt_get (s,
                  xva_value_string (xva_value_at (xva_value_get (vm, "VIFs"),
                                                  0)));
    CHECK (vif != NULL);
    net = vif ? xt_get (s, xt_str (vif, "network")) : NULL;
    CHECK (net != NULL);
    if (vif) {
      CHECK (strcmp (xt_str (vif, "MAC"), xt_str (src_vif, "MAC")) != 0);
      CHECK (strlen (xt_str (vif, "MAC")) == 17);
      CHECK (strcmp (xt_str (vif, "VM"), vm_ref) == 0);
    }
    if (net) {
      CHECK (strcmp (xt_str (net, "bridge"), "xenbr0") == 0);
      CHECK (xva_value_len (xva_value_get (net, "VIFs")) == 1);
    }
    xva_value_free (vif);
    xva_value_free (net);
  }
  CHECK (xt_count (s, "VM") == 1);
  CHECK (xt_count (s, "VDI") == NDISKS);
  CHECK (xt_count (s, "network") == 1);
  /* three images, no staging directory */
  CHECK (xt_entries (srdir, &staging) == NDISKS);
  CHECK (staging == 0);
  CHECK (!Xva_store_busy (s, vm_ref));
  {
    struct xva_value *sr = xt_get (s, sr_ref);
    CHECK (sr && xva_value_len (xva_value_get (sr, "VDIs")) == NDISKS);
    xva_value_free (sr);
  }
  xva_value_free (vm);
  xva_value_free (refs);
  refs = NULL;

  /* A second import: another VM, the same network (matched by name). */
  st = xt_import (s, &o, a.p, a.n, &refs, code, sizeof code);
  CHECK_MSG (st == XVA_OK, code);
  CHECK (xt_count (s, "VM") == 2);
  CHECK (xt_count (s, "network") == 1);
  CHECK (xt_count (s, "VDI") == 2 * NDISKS);
  xva_value_free (refs);
  refs = NULL;

  /* Unknown SR: HANDLE_INVALID, 404, before any byte. */
  {
    struct Xva_import *im = NULL;
    char err[512];

    o.sr_ref = "OpaqueRef:no-such-sr";
    st = Xva_import_new (s, &o, &im, err, sizeof err);
    CHECK (st == XVA_ENOTFOUND);
    CHECK (im != NULL);
    CHECK (im && Xva_import_http_status (im) == 404);
    CHECK (im
           && strcmp (xva_value_string (xva_value_at (Xva_import_error (im),
                                                      0)),
                      "HANDLE_INVALID")
                == 0);
    CHECK (strstr (err, "HANDLE_INVALID") != NULL);
    Xva_import_free (im);
    o.sr_ref = sr_ref;
  }

  /* An archive from a current host (xapi 24.x) imports. */
  {
    struct xva_value *t2 = xt_tree ("host", sizes, 1, 0);
    struct buf b = { NULL, 0, 0 };
    xva_value_set_int (xva_value_get (t2, "version"), "xapi_major", 24);
    xva_value_set_int (xva_value_get (t2, "version"), "xapi_minor", 39);
    CHECK (xt_archive (t2, data, sizes, 1, &b) == XVA_OK);
    st = xt_import (s, &o, b.p, b.n, NULL, code, sizeof code);
    CHECK (st == XVA_OK);
    CHECK (xt_count (s, "VM") == 3);
    free (b.p);
  }

  /* An archive from a newer xapi than any known. */
  {
    struct xva_value *t2 = xt_tree ("newer", sizes, 1, 0);
    struct buf b = { NULL, 0, 0 };
    xva_value_set_int (xva_value_get (t2, "version"), "xapi_major", 100);
    CHECK (xt_archive (t2, data, sizes, 1, &b) == XVA_OK);
    st = xt_import (s, &o, b.p, b.n, NULL, code, sizeof code);
    CHECK (st == XVA_EVERSION);
    CHECK (strcmp (code, "IMPORT_INCOMPATIBLE_VERSION") == 0);
    CHECK (xt_count (s, "VM") == 3);
    CHECK (xt_entries (srdir, &staging) == 2 * NDISKS + 1 && staging == 0);
    free (b.p);
  }

  /* No space: images larger than the file size limit. */
  {
    struct rlimit old, lim;
    struct Xva_import *im = NULL;
    char err[512];

    signal (SIGXFSZ, SIG_IGN);
    getrlimit (RLIMIT_FSIZE, &old);
    lim = old;
    lim.rlim_cur = 2 * MiB;
    CHECK (setrlimit (RLIMIT_FSIZE, &lim) == 0);
    st = Xva_import_new (s, &o, &im, err, sizeof err);
    CHECK (st == XVA_OK);
    if (st == XVA_OK)
      st = xt_feed (im, a.p, a.n);
    CHECK (st == XVA_ENOSPC);
    CHECK (Xva_import_http_status (im) == 507);
    CHECK (strcmp (xva_value_string (xva_value_at (Xva_import_error (im), 0)),
                   "SR_FULL")
           == 0);
    CHECK (xva_value_len (Xva_import_error (im)) == 3);
    {
      char want[32];
      snprintf (want, sizeof want, "%llu",
                (unsigned long long) (sizes[0] + sizes[1] + sizes[2]));
      CHECK (strcmp (xva_value_string (xva_value_at (Xva_import_error (im),
                                                     1)),
                     want)
             == 0);
    }
    Xva_import_free (im);
    setrlimit (RLIMIT_FSIZE, &old);
    CHECK (xt_count (s, "VM") == 3);
    CHECK (xt_entries (srdir, &staging) == 2 * NDISKS + 1 && staging == 0);
  }

  xva_value_free (src_vm);
  xva_value_free (src_vif);
  for (i = 0; i < NDISKS; i++)
    free (data[i]);
  free (a.p);
  Xva_store_close (s);
  test_rmtree (dir);
  HARNESS_DONE ();
}
