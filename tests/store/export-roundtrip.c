/* Export over the store and the round trip: a VM imported from an
 * archive is exported (ova.xml checked: class order, Ref:N ids with the
 * VM lowest, every rewritten reference an exported id or null,
 * /export's changes), the export is imported again and its images
 * equal the source bytes, twice over.  Also: the busy set holds the VM
 * while an export is open (a restore over it is refused), a running VM
 * is refused, an unknown ref is not found, metadata exports carry no
 * disks and honour excluded device types, a suspended VM keeps its
 * suspend image with preserve_power_state. */
#include "xport-test.h"

#define NDISKS 5

static const char *const order[] = {
  "host",    "VM",  "VM_metrics", "VM_guest_metrics", "VBD", "VIF",
  "network", "VDI", "SR",
};

static int
class_rank (const char *cls)
{
  size_t i;

  for (i = 0; i < sizeof order / sizeof order[0]; i++)
    if (strcmp (order[i], cls) == 0)
      return (int) i;
  return -1;
}

static int
copy_root (void *opaque, const struct xva_meta *m)
{
  struct xva_value **root = opaque;

  *root = xva_value_copy (xva_meta_root (m));
  return *root ? 0 : -1;
}

/* Reads archive a; returns its ova.xml tree (NULL on failure) and the
 * number of streamed disks and data bytes. */
static struct xva_value *
read_archive (const struct buf *a, int mode, unsigned *ndisks,
              uint64_t *data_bytes)
{
  struct xva_value *root = NULL;
  struct xva_reader_opts ro;
  struct xva_reader_stats rs;
  struct xva_sink_io io;
  struct xva_reader *r;
  struct xva_in in = { a->p, a->n, 0 };
  int st;

  xva_reader_opts_init (&ro);
  ro.mode = mode;
  memset (&io, 0, sizeof io);
  io.begin = copy_root;
  io.opaque = &root;
  r = xva_reader_new (&ro, io, &st);
  if (r == NULL)
    return NULL;
  st = xva_reader_feed (r, &in);
  if (st >= 0)
    st = xva_reader_finish (r);
  if (st != XVA_OK) {
    fprintf (stderr, "read_archive: %s\n", xva_reader_errmsg (r));
    xva_value_free (root);
    root = NULL;
  }
  xva_reader_stats (r, &rs);
  if (ndisks)
    *ndisks = xva_reader_meta (r) ? xva_meta_ndisks (xva_reader_meta (r)) : 0;
  if (data_bytes)
    *data_bytes = rs.data_bytes;
  xva_reader_free (r);
  return root;
}

/* The class of the object with id, or NULL. */
static const char *
class_of (const struct xva_value *root, const char *id)
{
  const struct xva_value *objs = xva_value_get (root, "objects");
  size_t i;

  for (i = 0; i < xva_value_len (objs); i++) {
    const struct xva_value *o = xva_value_at (objs, i);
    if (strcmp (xt_str (o, "id"), id) == 0)
      return xt_str (o, "class");
  }
  return NULL;
}

/* A reference: null, or the id of an object of class cls. */
static int
ref_ok (const struct xva_value *root, const char *ref, const char *cls)
{
  const char *c;

  if (ref == NULL)
    return 0;
  if (strcmp (ref, "OpaqueRef:NULL") == 0)
    return 1;
  c = class_of (root, ref);
  return c && strcmp (c, cls) == 0;
}

static int
set_ok (const struct xva_value *root, const struct xva_value *set,
        const char *cls)
{
  size_t i;

  if (xva_value_type (set) != XVA_TYPE_ARRAY)
    return 0;
  for (i = 0; i < xva_value_len (set); i++) {
    const char *r = xva_value_string (xva_value_at (set, i));
    if (r == NULL || strcmp (r, "OpaqueRef:NULL") == 0
        || !ref_ok (root, r, cls))
      return 0;
  }
  return 1;
}

/* Checks the ova.xml of an export of one VM with nvbd VBDs, nvif VIFs. */
static void
check_ova (const struct xva_value *root, size_t nvbd, size_t nvif)
{
  const struct xva_value *objs = xva_value_get (root, "objects");
  const struct xva_value *ver = xva_value_get (root, "version");
  struct xva_value *ours = xva_meta_version_new ();
  unsigned long long vm_id = 0, min_id = (unsigned long long) -1;
  int last = -1, vms = 0;
  size_t i, nvbds = 0, nvifs = 0, nvdis = 0;

  CHECK (xt_int (ver, "xapi_major") == xt_int (ours, "xapi_major"));
  CHECK (xt_int (ver, "xapi_minor") == xt_int (ours, "xapi_minor"));
  CHECK (xt_int (ver, "export_vsn") == 2);
  xva_value_free (ours);
  for (i = 0; i < xva_value_len (objs); i++) {
    const struct xva_value *o = xva_value_at (objs, i);
    const struct xva_value *r = xva_value_get (o, "snapshot");
    const char *cls = xt_str (o, "class");
    unsigned long long n = 0;
    int rank = class_rank (cls);

    CHECK (rank >= last);
    last = rank;
    CHECK (sscanf (xt_str (o, "id"), "Ref:%llu", &n) == 1);
    if (n < min_id)
      min_id = n;
    CHECK (xva_value_len (xva_value_get (r, "current_operations")) == 0);
    CHECK (xva_value_len (xva_value_get (r, "allowed_operations")) == 0);
    if (strcmp (cls, "VM") == 0) {
      vms++;
      vm_id = n;
      CHECK (strcmp (xt_str (r, "power_state"), "Halted") == 0);
      CHECK (xt_bool (r, "is_a_snapshot") == 0);
      CHECK (set_ok (root, xva_value_get (r, "VBDs"), "VBD"));
      CHECK (set_ok (root, xva_value_get (r, "VIFs"), "VIF"));
      CHECK (xva_value_len (xva_value_get (r, "VBDs")) == nvbd);
      CHECK (xva_value_len (xva_value_get (r, "VIFs")) == nvif);
      CHECK (set_ok (root, xva_value_get (r, "snapshots"), "VM"));
      CHECK (xva_value_len (xva_value_get (r, "snapshots")) == 0);
      CHECK (strcmp (xt_str (r, "suspend_VDI"), "OpaqueRef:NULL") == 0);
      CHECK (strcmp (xt_str (r, "parent"), "OpaqueRef:NULL") == 0);
      CHECK (strcmp (xt_str (r, "snapshot_of"), "OpaqueRef:NULL") == 0);
      CHECK (strcmp (xt_str (r, "protection_policy"), "OpaqueRef:NULL") == 0);
      CHECK (ref_ok (root, xt_str (r, "metrics"), "VM_metrics"));
      CHECK (ref_ok (root, xt_str (r, "resident_on"), "host"));
      CHECK (xva_value_len (xva_value_get (r, "consoles")) == 0);
      CHECK (xva_value_len (xva_value_get (r, "blobs")) == 0);
    }
    else if (strcmp (cls, "VBD") == 0) {
      nvbds++;
      CHECK (ref_ok (root, xt_str (r, "VM"), "VM")
             && strcmp (xt_str (r, "VM"), "OpaqueRef:NULL") != 0);
      CHECK (ref_ok (root, xt_str (r, "VDI"), "VDI")
             && strcmp (xt_str (r, "VDI"), "OpaqueRef:NULL") != 0);
      CHECK (xt_bool (r, "currently_attached") == 0);
      CHECK (strcmp (xt_str (r, "metrics"), "OpaqueRef:NULL") == 0);
    }
    else if (strcmp (cls, "VIF") == 0) {
      nvifs++;
      CHECK (ref_ok (root, xt_str (r, "VM"), "VM"));
      CHECK (ref_ok (root, xt_str (r, "network"), "network")
             && strcmp (xt_str (r, "network"), "OpaqueRef:NULL") != 0);
      CHECK (xt_bool (r, "currently_attached") == 0);
    }
    else if (strcmp (cls, "network") == 0)
      CHECK (set_ok (root, xva_value_get (r, "VIFs"), "VIF"));
    else if (strcmp (cls, "VDI") == 0) {
      nvdis++;
      CHECK (ref_ok (root, xt_str (r, "SR"), "SR")
             && strcmp (xt_str (r, "SR"), "OpaqueRef:NULL") != 0);
      CHECK (set_ok (root, xva_value_get (r, "VBDs"), "VBD"));
      CHECK (xva_value_len (xva_value_get (r, "VBDs")) == 1);
    }
    else if (strcmp (cls, "SR") == 0)
      CHECK (set_ok (root, xva_value_get (r, "VDIs"), "VDI"));
  }
  CHECK (vms == 1);
  CHECK (vm_id == min_id);
  CHECK (nvbds == nvbd && nvifs == nvif && nvdis == nvbd);
}

/* Each VDI of VM vm_ref holds the source bytes of its "disk <i>". */
static void
check_images (struct Xva_store *s, const char *vm_ref, unsigned char **data,
              const uint64_t *sizes)
{
  struct xva_value *vm = xt_get (s, vm_ref);
  const struct xva_value *vbds = xva_value_get (vm, "VBDs");
  unsigned seen = 0;
  size_t i;

  CHECK (xva_value_len (vbds) == NDISKS);
  for (i = 0; i < xva_value_len (vbds); i++) {
    struct xva_value *vbd = xt_get (s,
                                    xva_value_string (xva_value_at (vbds, i)));
    struct xva_value *vdi = vbd ? xt_get (s, xt_str (vbd, "VDI")) : NULL;
    unsigned idx = 99;

    if (vdi && sscanf (xt_str (vdi, "name_label"), "disk %u", &idx) == 1
        && idx < NDISKS) {
      CHECK (xt_image_is (s, xt_str (vbd, "VDI"), data[idx], sizes[idx]));
      seen |= 1u << idx;
    }
    xva_value_free (vbd);
    xva_value_free (vdi);
  }
  CHECK (seen == (1u << NDISKS) - 1);
  xva_value_free (vm);
}

/* Exports vm_ref fully, checks, imports the export; the new VM's ref. */
static char *
round_trip (struct Xva_store *s, const char *vm_ref, const char *name,
            unsigned char **data, const uint64_t *sizes)
{
  struct Xva_export_opts eo;
  struct Xva_export *e = NULL;
  struct Xva_import_opts io;
  struct xva_value *root, *refs = NULL, *vm;
  struct buf out = { NULL, 0, 0 };
  char err[512], code[64], *ret = NULL;
  unsigned nd = 0;
  int st;

  Xva_export_opts_init (&eo);
  eo.w.compress = XVA_COMPRESS_ZSTD;
  st = Xva_export_new (s, vm_ref, &eo, &e, err, sizeof err);
  CHECK_MSG (st == XVA_OK, err);
  if (st != XVA_OK)
    return NULL;
  vm = xt_get (s, vm_ref);
  CHECK (strcmp (Xva_export_vm_uuid (e), xt_str (vm, "uuid")) == 0);
  CHECK (strcmp (Xva_export_filename (e), name) == 0);
  xva_value_free (vm);
  CHECK (Xva_store_busy (s, vm_ref));
  CHECK (xt_drain (e, &out) == XVA_OK);
  Xva_export_free (e);
  CHECK (!Xva_store_busy (s, vm_ref));
  if (getenv ("XT_DUMP")) { /* for a look with `xva inspect` */
    FILE *f = fopen (getenv ("XT_DUMP"), "wb");
    if (f) {
      fwrite (out.p, 1, out.n, f);
      fclose (f);
    }
  }

  root = read_archive (&out, XVA_READ_FULL, &nd, NULL);
  CHECK (root != NULL);
  CHECK (nd == NDISKS);
  if (root)
    check_ova (root, NDISKS, 2);
  xva_value_free (root);

  memset (&io, 0, sizeof io);
  st = xt_import (s, &io, out.p, out.n, &refs, code, sizeof code);
  CHECK_MSG (st == XVA_OK, code);
  if (st == XVA_OK && xva_value_len (refs) == 1) {
    ret = strdup (xva_value_string (xva_value_at (refs, 0)));
    check_images (s, ret, data, sizes);
  }
  xva_value_free (refs);
  free (out.p);
  return ret;
}

/* Gives the VM the state of a used one: a suspended power state (no
 * image), operations, consoles, blobs, a protection policy, attached
 * devices with metrics, a snapshot parent; /export must clear all of
 * it. */
static void
dirty (struct Xva_store *s, const char *vm_ref)
{
  struct xva_value *vm = xt_get (s, vm_ref), *ops, *set, *blobs;
  const char *sets[] = { "VBDs", "VIFs" };
  size_t i, k;

  ops = xva_value_new_struct ();
  xva_value_set_string (ops, "OpaqueRef:op", "clean_shutdown");
  xva_value_set (vm, "current_operations", ops);
  set = xva_value_new_array ();
  xva_value_append (set, xva_value_new_string ("clean_shutdown"));
  xva_value_set (vm, "allowed_operations", set);
  set = xva_value_new_array ();
  xva_value_append (set, xva_value_new_string ("OpaqueRef:console"));
  xva_value_set (vm, "consoles", set);
  blobs = xva_value_new_struct ();
  xva_value_set_string (blobs, "b", "OpaqueRef:blob");
  xva_value_set (vm, "blobs", blobs);
  xva_value_set_string (vm, "power_state", "Suspended");
  xva_value_set_string (vm, "protection_policy", "OpaqueRef:pp");
  xva_value_set_string (vm, "parent", vm_ref);
  xva_value_set_string (vm, "resident_on", "OpaqueRef:elsewhere");
  CHECK (Xva_store_put (s, NULL, vm_ref, "VM", vm) == XVA_OK);
  for (k = 0; k < 2; k++) {
    set = xva_value_get (vm, sets[k]);
    for (i = 0; i < xva_value_len (set); i++) {
      const char *r = xva_value_string (xva_value_at (set, i));
      struct xva_value *d = xt_get (s, r);
      xva_value_set_bool (d, "currently_attached", 1);
      xva_value_set_string (d, "metrics", "OpaqueRef:metrics");
      CHECK (Xva_store_put (s, NULL, r, k ? "VIF" : "VBD", d) == XVA_OK);
      xva_value_free (d);
    }
  }
  xva_value_free (vm);
}

/* A suspended VM: with preserve_power_state its suspend image is
 * streamed and the import keeps the VM suspended over a new copy of
 * it; without, the VM arrives halted and the image stays behind. */
static void
suspended (struct Xva_store *s, const char *vm_ref)
{
  static const uint64_t ssize = 2 * MiB;
  char ref[XVA_STORE_REF_MAX + 1], uuid[XVA_STORE_UUID_LEN + 1], path[4096];
  char err[512], code[64];
  struct xva_value *vm = xt_get (s, vm_ref), *vbd, *vdi, *refs = NULL;
  struct Xva_export_opts eo;
  struct Xva_export *e = NULL;
  struct Xva_import_opts io;
  struct xva_value *sr;
  unsigned char *img = malloc ((size_t) ssize);
  size_t nvdi;
  int pass, fd;

  xt_fill (img, ssize, 77);
  vbd = xt_get (s, xva_value_string (xva_value_at (xva_value_get (vm, "VBDs"),
                                                   0)));
  vdi = xt_get (s, xt_str (vbd, "VDI"));
  sr = xt_get (s, xt_str (vdi, "SR"));
  Xva_store_new_ref (ref);
  Xva_store_new_uuid (uuid);
  xva_value_set_string (vdi, "uuid", uuid);
  xva_value_set_string (vdi, "location", uuid);
  xva_value_set_string (vdi, "name_label", "suspend image");
  xva_value_set_string (vdi, "type", "suspend");
  xva_value_set_int (vdi, "virtual_size", (int64_t) ssize);
  xva_value_set (vdi, "VBDs", xva_value_new_array ());
  CHECK (Xva_store_put (s, NULL, ref, "VDI", vdi) == XVA_OK);
  Xva_store_vdi_path (s, xt_str (sr, "uuid"), uuid, path, sizeof path);
  fd = open (path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  CHECK (fd >= 0 && write (fd, img, (size_t) ssize) == (ssize_t) ssize);
  close (fd);
  xva_value_set_string (vm, "power_state", "Suspended");
  xva_value_set_string (vm, "suspend_VDI", ref);
  CHECK (Xva_store_put (s, NULL, vm_ref, "VM", vm) == XVA_OK);

  for (pass = 0; pass < 2; pass++) {
    struct buf out = { NULL, 0, 0 };
    int st;

    Xva_export_opts_init (&eo);
    eo.preserve_power_state = pass == 0;
    st = Xva_export_new (s, vm_ref, &eo, &e, err, sizeof err);
    CHECK_MSG (st == XVA_OK, err);
    if (st != XVA_OK)
      break;
    CHECK (xt_drain (e, &out) == XVA_OK);
    Xva_export_free (e);
    nvdi = xt_count (s, "VDI");
    memset (&io, 0, sizeof io);
    st = xt_import (s, &io, out.p, out.n, &refs, code, sizeof code);
    CHECK_MSG (st == XVA_OK, code);
    if (st == XVA_OK && xva_value_len (refs) == 1) {
      struct xva_value *nvm = xt_get (s, xva_value_string (xva_value_at (refs,
                                                                         0)));
      if (pass == 0) {
        CHECK (strcmp (xt_str (nvm, "power_state"), "Suspended") == 0);
        CHECK (strcmp (xt_str (nvm, "suspend_VDI"), ref) != 0);
        CHECK (xt_image_is (s, xt_str (nvm, "suspend_VDI"), img, ssize));
        CHECK (xt_count (s, "VDI") == nvdi + NDISKS + 1);
      }
      else {
        CHECK (strcmp (xt_str (nvm, "power_state"), "Halted") == 0);
        CHECK (strcmp (xt_str (nvm, "suspend_VDI"), "OpaqueRef:NULL") == 0);
        CHECK (xt_count (s, "VDI") == nvdi + NDISKS);
      }
      xva_value_free (nvm);
    }
    xva_value_free (refs);
    refs = NULL;
    free (out.p);
  }
  xva_value_set_string (vm, "power_state", "Halted");
  xva_value_set_string (vm, "suspend_VDI", "OpaqueRef:NULL");
  CHECK (Xva_store_put (s, NULL, vm_ref, "VM", vm) == XVA_OK);
  xva_value_free (vm);
  xva_value_free (vbd);
  xva_value_free (vdi);
  xva_value_free (sr);
  free (img);
}

int
main (void)
{
  static const uint64_t sizes[NDISKS] = { 2 * MiB + 512, 1 * MiB, 4096,
                                          3 * MiB, 1 * MiB + 65536 };
  char dir[1024], err[512], code[64];
  unsigned char *data[NDISKS];
  struct Xva_store *s;
  struct xva_value *tree, *refs = NULL, *vm;
  struct Xva_import_opts io;
  struct Xva_export_opts eo;
  struct Xva_export *e = NULL;
  struct buf a = { NULL, 0, 0 };
  char *vm1 = NULL, *vm2 = NULL, *vm3 = NULL;
  unsigned i;
  int st;

  s = xt_store (dir, sizeof dir);
  for (i = 0; i < NDISKS; i++) {
    data[i] = malloc ((size_t) sizes[i]);
    xt_fill (data[i], sizes[i], 10 + i);
  }
  tree = xt_tree ("rt/vm:1", sizes, NDISKS, 2);
  CHECK (xt_archive (tree, data, sizes, NDISKS, &a) == XVA_OK);
  memset (&io, 0, sizeof io);
  st = xt_import (s, &io, a.p, a.n, &refs, code, sizeof code);
  CHECK_MSG (st == XVA_OK, code);
  if (st != XVA_OK)
    return 1;
  vm1 = strdup (xva_value_string (xva_value_at (refs, 0)));
  xva_value_free (refs);
  refs = NULL;
  check_images (s, vm1, data, sizes);
  dirty (s, vm1);

  /* Round trips: the ids run on from export to export. */
  vm2 = round_trip (s, vm1, "rt_vm_1.xva", data, sizes);
  CHECK (vm2 != NULL);
  if (vm2)
    vm3 = round_trip (s, vm2, "rt_vm_1.xva", data, sizes);
  CHECK (vm3 != NULL);
  CHECK (xt_count (s, "VM") == 3);
  CHECK (xt_count (s, "VDI") == 3 * NDISKS);
  CHECK (xt_count (s, "network") == 1);

  /* The busy set: a restore over a VM being exported is refused. */
  vm = xt_get (s, vm1);
  xva_value_set_string (vm, "power_state", "Halted");
  CHECK (Xva_store_put (s, NULL, vm1, "VM", vm) == XVA_OK);
  xva_value_free (vm);
  Xva_export_opts_init (&eo);
  st = Xva_export_new (s, vm1, &eo, &e, err, sizeof err);
  CHECK_MSG (st == XVA_OK, err);
  CHECK (Xva_store_busy (s, vm1));
  {
    struct Xva_export *e2 = NULL;
    CHECK (Xva_export_new (s, vm1, &eo, &e2, err, sizeof err) == XVA_OK);
    CHECK (Xva_store_busy_count (s, vm1) == 2);
    Xva_export_free (e2);
    CHECK (Xva_store_busy_count (s, vm1) == 1);
  }
  {
    struct buf out = { NULL, 0, 0 };
    CHECK (xt_drain (e, &out) == XVA_OK);
    memset (&io, 0, sizeof io);
    io.restore = 1;
    io.force = 1;
    st = xt_import (s, &io, out.p, out.n, NULL, code, sizeof code);
    CHECK (st < 0);
    CHECK (strcmp (code, "OTHER_OPERATION_IN_PROGRESS") == 0);
    CHECK (xt_count (s, "VM") == 3);
    free (out.p);
  }
  Xva_export_free (e);
  e = NULL;
  CHECK (!Xva_store_busy (s, vm1));

  /* A running VM cannot be exported; the VM is released again. */
  vm = xt_get (s, vm1);
  xva_value_set_string (vm, "power_state", "Running");
  CHECK (Xva_store_put (s, NULL, vm1, "VM", vm) == XVA_OK);
  st = Xva_export_new (s, vm1, &eo, &e, err, sizeof err);
  CHECK (st == XVA_ESTATE);
  CHECK (e == NULL);
  CHECK (strstr (err, "VM_BAD_POWER_STATE") != NULL);
  CHECK (!Xva_store_busy (s, vm1));
  /* ... but its metadata can. */
  eo.metadata_only = 1;
  st = Xva_export_new (s, vm1, &eo, &e, err, sizeof err);
  CHECK_MSG (st == XVA_OK, err);
  if (st == XVA_OK) {
    struct buf out = { NULL, 0, 0 };
    struct xva_value *root;
    uint64_t bytes = 99;
    unsigned nd = 99;

    CHECK (xt_drain (e, &out) == XVA_OK);
    root = read_archive (&out, XVA_READ_METADATA, &nd, &bytes);
    CHECK (root != NULL);
    CHECK (bytes == 0);
    /* the power state is kept in metadata */
    CHECK (strcmp (xt_str (xt_object (root, "VM"), "power_state"), "Running")
           == 0);
    xva_value_free (root);
    free (out.p);
    Xva_export_free (e);
    e = NULL;
  }
  xva_value_set_string (vm, "power_state", "Halted");
  CHECK (Xva_store_put (s, NULL, vm1, "VM", vm) == XVA_OK);
  xva_value_free (vm);

  /* Excluded VIFs. */
  eo.excluded = XVA_EXCLUDE_VIF;
  st = Xva_export_new (s, vm1, &eo, &e, err, sizeof err);
  CHECK_MSG (st == XVA_OK, err);
  if (st == XVA_OK) {
    struct buf out = { NULL, 0, 0 };
    struct xva_value *root;

    CHECK (xt_drain (e, &out) == XVA_OK);
    root = read_archive (&out, XVA_READ_METADATA, NULL, NULL);
    CHECK (root != NULL);
    if (root) {
      CHECK (xt_object (root, "VIF") == NULL);
      CHECK (xt_object (root, "network") == NULL);
      CHECK (xva_value_len (xva_value_get (xt_object (root, "VM"), "VIFs"))
             == 0);
      CHECK (xt_object (root, "VBD") != NULL);
    }
    xva_value_free (root);
    free (out.p);
    Xva_export_free (e);
    e = NULL;
  }

  suspended (s, vm1);

  /* Unknown VM. */
  eo.excluded = 0;
  st = Xva_export_new (s, "OpaqueRef:none", &eo, &e, err, sizeof err);
  CHECK (st == XVA_ENOTFOUND && e == NULL);
  CHECK (strstr (err, "HANDLE_INVALID") != NULL);
  CHECK (!Xva_store_busy (s, "OpaqueRef:none"));
  /* A ref of another class is not a VM. */
  {
    struct xva_value *vmr = xt_get (s, vm1);
    const char *vbd =
      xva_value_string (xva_value_at (xva_value_get (vmr, "VBDs"), 0));
    st = Xva_export_new (s, vbd, &eo, &e, err, sizeof err);
    CHECK (st == XVA_ENOTFOUND && e == NULL);
    xva_value_free (vmr);
  }

  free (vm1);
  free (vm2);
  free (vm3);
  for (i = 0; i < NDISKS; i++)
    free (data[i]);
  free (a.p);
  Xva_store_close (s);
  test_rmtree (dir);
  HARNESS_DONE ();
}
