/* ova.xml: xva_meta_build_vm's records, xva_meta_parse's checks, the
 * streamed disks (order, sizes, userdevices, CDs and ISO SRs left
 * out) and the legacy <appliance> format. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xva/xva.h>

#include "format/value.h"
#include "harness.h"

#define NDISKS 12
#define NVIFS 80

/* The object of a build_vm tree with that id. */
static struct xva_value *
object (struct xva_value *root, const char *id)
{
  struct xva_value *objs = xva_value_get (root, "objects");
  size_t i;

  for (i = 0; i < xva_value_len (objs); i++) {
    struct xva_value *o = xva_value_at (objs, i);
    const char *oid = xva_value_get_string (o, "id");
    if (oid && strcmp (oid, id) == 0)
      return o;
  }
  return NULL;
}

static struct xva_value *
snapshot (struct xva_value *root, const char *id)
{
  return xva_value_get (object (root, id), "snapshot");
}

/* Serialises root (taking it) and parses it as ova.xml. */
static int
reparse (struct xva_value *root, struct xva_meta **m, char *err, size_t errlen)
{
  char *xml = NULL;
  size_t len = 0;
  int r;

  *m = NULL;
  r = xva_value_to_xml (root, &xml, &len);
  xva_value_free (root);
  if (r != XVA_OK)
    return r;
  r = xva_meta_parse (xml, len, NULL, m, err, errlen);
  free (xml);
  return r;
}

static int
is_uuid (const char *s)
{
  size_t i;

  if (s == NULL || strlen (s) != 36)
    return 0;
  for (i = 0; i < 36; i++) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (s[i] != '-')
        return 0;
    }
    else if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
      return 0;
  }
  return s[14] == '4';
}

static void
test_build (void)
{
  uint64_t sizes[NDISKS];
  const char *names[NDISKS] = { NULL };
  struct xva_vm_spec spec;
  struct xva_value *root, *vm, *vbd, *vdi, *vif, *sr, *net, *objs;
  struct xva_meta *m = NULL;
  char err[256];
  unsigned i;
  int64_t x;
  double d;
  int st, b;

  for (i = 0; i < NDISKS; i++)
    sizes[i] = ((uint64_t) i + 1) * 1048576 + i;
  names[3] = "named disk";
  memset (&spec, 0, sizeof spec);
  spec.name = "test vm";
  spec.description = "a test";
  spec.memory = (uint64_t) 2 << 30;
  spec.vcpus = 4;
  spec.ndisks = NDISKS;
  spec.disk_sizes = sizes;
  spec.disk_names = names;
  spec.nvifs = NVIFS;
  root = xva_meta_build_vm (&spec, &st);
  CHECK (st == XVA_OK && root != NULL);
  if (root == NULL)
    return;

  /* version header */
  {
    const struct xva_value *v = xva_value_get (root, "version");
    CHECK (strcmp (xva_value_key_at (root, 0), "version") == 0);
    CHECK (strcmp (xva_value_key_at (root, 1), "objects") == 0);
    CHECK (strcmp (xva_value_get_string (v, "hostname"), "localhost") == 0);
    CHECK (strcmp (xva_value_get_string (v, "product_version"),
                   XVA_VERSION_STRING)
           == 0);
    CHECK (strcmp (xva_value_get_string (v, "product_brand"), "xva") == 0);
    CHECK (xva_value_get_string (v, "date") != NULL);
    CHECK (xva_value_get_string (v, "build_number") != NULL);
    CHECK (xva_value_type (xva_value_get (v, "xapi_major")) == XVA_TYPE_INT);
    CHECK (xva_value_get_int (xva_value_get (v, "xapi_major"), &x) == 0
           && x == 1);
    CHECK (xva_value_get_int (xva_value_get (v, "xapi_minor"), &x) == 0
           && x == 1);
    CHECK (xva_value_get_int (xva_value_get (v, "export_vsn"), &x) == 0
           && x == 2);
  }

  /* objects in xapi's order: VM, VBDs, VIFs, network, VDIs, SR */
  objs = xva_value_get (root, "objects");
  CHECK (xva_value_len (objs) == 1 + NDISKS + NVIFS + 1 + NDISKS + 1);
  CHECK (strcmp (xva_value_get_string (xva_value_at (objs, 0), "class"), "VM")
         == 0);
  CHECK (strcmp (xva_value_get_string (xva_value_at (objs, 0), "id"), "Ref:0")
         == 0);
  CHECK (strcmp (xva_value_get_string (xva_value_at (objs, 1), "class"), "VBD")
         == 0);
  CHECK (strcmp (xva_value_get_string (xva_value_at (objs, 1 + NDISKS),
                                       "class"),
                 "VIF")
         == 0);
  CHECK (strcmp (xva_value_get_string (xva_value_at (objs, 1 + NDISKS + NVIFS),
                                       "class"),
                 "network")
         == 0);
  CHECK (strcmp (xva_value_get_string (xva_value_at (objs, 2 + NDISKS + NVIFS),
                                       "class"),
                 "VDI")
         == 0);
  CHECK (strcmp (xva_value_get_string (xva_value_at (objs, 93), "id"),
                 "Ref:93")
         == 0);
  CHECK (strcmp (xva_value_get_string (xva_value_at (objs, 106), "class"),
                 "SR")
         == 0);

  vm = snapshot (root, "Ref:0");
  CHECK (is_uuid (xva_value_get_string (vm, "uuid")));
  CHECK (strcmp (xva_value_get_string (vm, "name_label"), "test vm") == 0);
  CHECK (strcmp (xva_value_get_string (vm, "name_description"), "a test")
         == 0);
  CHECK (strcmp (xva_value_get_string (vm, "power_state"), "Halted") == 0);
  CHECK (xva_value_get_int (xva_value_get (vm, "memory_static_max"), &x) == 0
         && x == (int64_t) 2 << 30);
  CHECK (xva_value_get_int (xva_value_get (vm, "VCPUs_max"), &x) == 0
         && x == 4);
  CHECK (xva_value_type (xva_value_get (vm, "HVM_shadow_multiplier"))
         == XVA_TYPE_DOUBLE);
  CHECK (xva_value_get_double (xva_value_get (vm, "HVM_shadow_multiplier"), &d)
           == 0
         && d == 1.0);
  CHECK (xva_value_type (xva_value_get (vm, "snapshot_time"))
         == XVA_TYPE_DATE);
  CHECK (strcmp (xva_value_get_string (vm, "suspend_VDI"), "OpaqueRef:NULL")
         == 0);
  CHECK (xva_value_len (xva_value_get (vm, "VBDs")) == NDISKS);
  CHECK (xva_value_len (xva_value_get (vm, "VIFs")) == NVIFS);
  CHECK (strcmp (xva_value_string (xva_value_at (xva_value_get (vm, "VBDs"),
                                                 0)),
                 "Ref:1")
         == 0);
  CHECK (strcmp (xva_value_get_string (xva_value_get (vm, "platform"),
                                       "device-model"),
                 "qemu-upstream-compat")
         == 0);
  CHECK (strcmp (xva_value_get_string (xva_value_get (vm, "HVM_boot_params"),
                                       "order"),
                 "cd")
         == 0);
  CHECK (xva_value_get_bool (xva_value_get (vm, "is_a_template"), &b) == 0
         && b == 0);
  CHECK (strcmp (xva_value_get_string (vm, "domain_type"), "hvm") == 0);

  vbd = snapshot (root, "Ref:1");
  CHECK (strcmp (xva_value_get_string (vbd, "device"), "xvda") == 0);
  CHECK (strcmp (xva_value_get_string (vbd, "userdevice"), "0") == 0);
  CHECK (strcmp (xva_value_get_string (vbd, "VM"), "Ref:0") == 0);
  CHECK (strcmp (xva_value_get_string (vbd, "VDI"), "Ref:94") == 0);
  CHECK (strcmp (xva_value_get_string (vbd, "mode"), "RW") == 0);
  CHECK (strcmp (xva_value_get_string (vbd, "type"), "Disk") == 0);
  CHECK (xva_value_get_bool (xva_value_get (vbd, "bootable"), &b) == 0
         && b == 1);
  CHECK (xva_value_get (xva_value_get (vbd, "other_config"), "owner") != NULL);
  vbd = snapshot (root, "Ref:12");
  CHECK (strcmp (xva_value_get_string (vbd, "device"), "xvdl") == 0);
  CHECK (strcmp (xva_value_get_string (vbd, "userdevice"), "11") == 0);
  CHECK (xva_value_get_bool (xva_value_get (vbd, "bootable"), &b) == 0
         && b == 0);

  vif = snapshot (root, "Ref:13");
  CHECK (strcmp (xva_value_get_string (vif, "network"), "Ref:93") == 0);
  CHECK (strcmp (xva_value_get_string (vif, "device"), "0") == 0);
  {
    const char *mac = xva_value_get_string (vif, "MAC");
    unsigned first = 0;
    CHECK (mac && strlen (mac) == 17 && sscanf (mac, "%2x", &first) == 1
           && (first & 3) == 2);
  }
  CHECK (xva_value_get_int (xva_value_get (vif, "MTU"), &x) == 0 && x == 1500);
  net = snapshot (root, "Ref:93");
  CHECK (xva_value_len (xva_value_get (net, "VIFs")) == NVIFS);
  CHECK (strcmp (xva_value_get_string (net, "bridge"), "xenbr0") == 0);

  vdi = snapshot (root, "Ref:94");
  CHECK (is_uuid (xva_value_get_string (vdi, "uuid")));
  CHECK (strcmp (xva_value_get_string (vdi, "location"),
                 xva_value_get_string (vdi, "uuid"))
         == 0);
  CHECK (strcmp (xva_value_get_string (vdi, "SR"), "Ref:106") == 0);
  CHECK (xva_value_get_int (xva_value_get (vdi, "virtual_size"), &x) == 0
         && x == (int64_t) sizes[0]);
  CHECK (strcmp (xva_value_get_string (snapshot (root, "Ref:97"),
                                       "name_label"),
                 "named disk")
         == 0);
  sr = snapshot (root, "Ref:106");
  CHECK (strcmp (xva_value_get_string (sr, "content_type"), "user") == 0);
  CHECK (xva_value_len (xva_value_get (sr, "VDIs")) == NDISKS);
  /* fresh uuids */
  CHECK (strcmp (xva_value_get_string (vm, "uuid"),
                 xva_value_get_string (vdi, "uuid"))
         != 0);

  /* parse it back as ova.xml */
  st = reparse (root, &m, err, sizeof err);
  CHECK_MSG (st == XVA_OK && m != NULL, err);
  if (m == NULL)
    return;
  CHECK (xva_meta_export_vsn (m) == 2);
  CHECK (xva_meta_nobjects (m) == 107);
  CHECK (strcmp (xva_meta_object_class (m, 0), "VM") == 0);
  CHECK (strcmp (xva_meta_object_id (m, 106), "Ref:106") == 0);
  CHECK (xva_meta_object_id (m, 107) == NULL);
  CHECK (xva_meta_object (m, 0) == xva_meta_find (m, "Ref:0"));
  CHECK (xva_meta_find (m, "Ref:999") == NULL);
  CHECK (xva_meta_find (m, "OpaqueRef:NULL") == NULL);
  CHECK (xva_value_get (xva_meta_root (m), "objects") != NULL);
  CHECK (xva_meta_version (m) == xva_value_get (xva_meta_root (m), "version"));
  CHECK (xva_meta_ndisks (m) == NDISKS);
  /* VDIs are Ref:94 .. Ref:105: byte-wise order puts Ref:100.. first */
  CHECK (strcmp (xva_meta_disk (m, 0)->id, "Ref:100") == 0);
  CHECK (strcmp (xva_meta_disk (m, 5)->id, "Ref:105") == 0);
  CHECK (strcmp (xva_meta_disk (m, 6)->id, "Ref:94") == 0);
  CHECK (strcmp (xva_meta_disk (m, NDISKS - 1)->id, "Ref:99") == 0);
  CHECK (xva_meta_disk (m, NDISKS) == NULL);
  for (i = 0; i < NDISKS; i++) {
    const struct xva_disk *dk = xva_meta_disk (m, i);
    unsigned k = i < 6 ? i + 6 : i - 6; /* the disk's index in spec */
    char ud[16];

    snprintf (ud, sizeof ud, "%u", k);
    if (i > 0)
      CHECK (strcmp (xva_meta_disk (m, i - 1)->id, dk->id) < 0);
    CHECK (dk->virtual_size == sizes[k]);
    CHECK (strcmp (dk->userdevice, ud) == 0);
    CHECK (strcmp (dk->type, "user") == 0);
    CHECK (is_uuid (dk->vdi_uuid));
    CHECK (dk->vdi == xva_meta_find (m, dk->id));
  }
  CHECK (strcmp (xva_meta_disk (m, 9)->name_label, "named disk") == 0);
  CHECK (strcmp (xva_meta_disk (m, 10)->name_label, "test vm disk 4") == 0);
  xva_meta_free (m);

  /* bad specs */
  spec.vcpus = 0;
  CHECK (xva_meta_build_vm (&spec, &st) == NULL && st == XVA_EINVAL);
  spec.vcpus = 1;
  sizes[2] = ((uint64_t) 1 << 50) + 1;
  CHECK (xva_meta_build_vm (&spec, &st) == NULL && st == XVA_EINVAL);
  CHECK (xva_meta_build_vm (NULL, &st) == NULL && st == XVA_EINVAL);

  /* no disks, no VIFs: the VM alone */
  spec.ndisks = 0;
  spec.nvifs = 0;
  root = xva_meta_build_vm (&spec, &st);
  CHECK (st == XVA_OK && xva_value_len (xva_value_get (root, "objects")) == 1);
  st = xva_meta_from_value (root, &m, err, sizeof err);
  CHECK_MSG (st == XVA_OK && xva_meta_ndisks (m) == 0, err);
  xva_meta_free (m);
}

/* A small tree: VM, two VBDs on one VDI, a CD VBD, a VDI on an ISO SR,
 * a suspend VDI, a null-ish VBD. */
static struct xva_value *
small_tree (void)
{
  static const uint64_t sizes[] = { 4096, 8192, 1 << 20 };
  struct xva_vm_spec spec;
  struct xva_value *root, *objs, *o, *s;
  int st;

  memset (&spec, 0, sizeof spec);
  spec.name = "small";
  spec.memory = 1 << 28;
  spec.vcpus = 1;
  spec.ndisks = 3;
  spec.disk_sizes = sizes;
  root = xva_meta_build_vm (&spec, &st);
  if (root == NULL)
    abort ();
  /* Ref:0 VM, Ref:1..3 VBDs, Ref:4..6 VDIs, Ref:7 SR */
  objs = xva_value_get (root, "objects");
  /* VBD Ref:2 is a CD: its VDI Ref:5 is not streamed */
  xva_value_set_string (snapshot (root, "Ref:2"), "type", "CD");
  /* VBD Ref:3 now uses VDI Ref:4 too: streamed once */
  xva_value_set_string (snapshot (root, "Ref:3"), "VDI", "Ref:4");
  /* VDI Ref:6 lives on an ISO SR; a VBD using it is not streamed */
  o = xva_value_new_struct ();
  xva_value_set_string (o, "class", "SR");
  xva_value_set_string (o, "id", "Ref:8");
  s = xva_value_new_struct ();
  xva_value_set_string (s, "content_type", "iso");
  xva_value_set (o, "snapshot", s);
  xva_value_append (objs, o);
  xva_value_set_string (snapshot (root, "Ref:6"), "SR", "Ref:8");
  o = xva_value_copy (object (root, "Ref:1"));
  xva_value_set_string (o, "id", "Ref:9");
  xva_value_set_string (xva_value_get (o, "snapshot"), "VDI", "Ref:6");
  xva_value_set_string (xva_value_get (o, "snapshot"), "userdevice", "3");
  xva_value_append (objs, o);
  /* a VBD naming no object, and one naming OpaqueRef:NULL */
  o = xva_value_copy (object (root, "Ref:1"));
  xva_value_set_string (o, "id", "Ref:10");
  xva_value_set_string (xva_value_get (o, "snapshot"), "VDI", "Ref:77");
  xva_value_append (objs, o);
  o = xva_value_copy (object (root, "Ref:1"));
  xva_value_set_string (o, "id", "Ref:11");
  xva_value_set_string (xva_value_get (o, "snapshot"), "VDI",
                        "OpaqueRef:NULL");
  xva_value_append (objs, o);
  /* a suspend VDI, with no VBD and no SR */
  o = xva_value_copy (object (root, "Ref:4"));
  xva_value_set_string (o, "id", "Ref:12");
  s = xva_value_get (o, "snapshot");
  xva_value_set_string (s, "type", "suspend");
  xva_value_set_string (s, "SR", "Ref:404");
  xva_value_set_string (s, "virtual_size", "123456"); /* a string int */
  xva_value_append (objs, o);
  return root;
}

static void
test_disks (void)
{
  struct xva_meta *m = NULL;
  char err[256];
  int st;

  st = reparse (small_tree (), &m, err, sizeof err);
  CHECK_MSG (st == XVA_OK, err);
  CHECK (xva_meta_ndisks (m) == 2);
  if (xva_meta_ndisks (m) == 2) {
    CHECK (strcmp (xva_meta_disk (m, 0)->id, "Ref:12") == 0);
    CHECK (xva_meta_disk (m, 0)->virtual_size == 123456);
    CHECK (strcmp (xva_meta_disk (m, 0)->type, "suspend") == 0);
    CHECK (strcmp (xva_meta_disk (m, 0)->userdevice, "") == 0);
    CHECK (strcmp (xva_meta_disk (m, 1)->id, "Ref:4") == 0);
    CHECK (xva_meta_disk (m, 1)->virtual_size == 4096);
    CHECK (strcmp (xva_meta_disk (m, 1)->userdevice, "0") == 0);
  }
  xva_meta_free (m);
}

/* Applies a change to a fresh small tree and expects status and a
 * message holding `word`. */
static void
expect_error (void (*change) (struct xva_value *), int status,
              const char *word, int line)
{
  struct xva_value *root = small_tree ();
  struct xva_meta *m = NULL;
  char err[256] = "";
  int st;

  change (root);
  st = xva_meta_from_value (root, &m, err, sizeof err);
  if (st != status || m != NULL || strstr (err, word) == NULL) {
    fprintf (stderr, "line %d: status %d (%s), message \"%s\"\n", line, st,
             xva_status_name (st), err);
    CHECK (0);
  }
}

static void
no_hostname (struct xva_value *r)
{
  xva_value_remove (xva_value_get (r, "version"), "hostname");
}

static void
no_xapi_minor (struct xva_value *r)
{
  xva_value_remove (xva_value_get (r, "version"), "xapi_minor");
}

static void
string_minor (struct xva_value *r)
{
  xva_value_set_string (xva_value_get (r, "version"), "xapi_minor", "x1");
}

static void
no_version (struct xva_value *r)
{
  xva_value_remove (r, "version");
}

static void
vsn_zero (struct xva_value *r)
{
  xva_value_remove (xva_value_get (r, "version"), "export_vsn");
}

static void
objects_not_array (struct xva_value *r)
{
  xva_value_set_string (r, "objects", "none");
}

static void
bad_id (struct xva_value *r)
{
  xva_value_set_string (object (r, "Ref:3"), "id", "Ref:3/x");
}

static void
bad_id2 (struct xva_value *r)
{
  xva_value_set_string (object (r, "Ref:3"), "id", "OpaqueRef:3");
}

static void
empty_id (struct xva_value *r)
{
  xva_value_set_string (object (r, "Ref:3"), "id", "Ref:");
}

static void
long_id (struct xva_value *r)
{
  char id[80];

  memset (id, '1', sizeof id - 1);
  memcpy (id, "Ref:", 4);
  id[sizeof id - 1] = '\0';
  xva_value_set_string (object (r, "Ref:3"), "id", id);
}

static void
dup_id (struct xva_value *r)
{
  xva_value_set_string (object (r, "Ref:3"), "id", "Ref:1");
}

static void
snap_string (struct xva_value *r)
{
  xva_value_set_string (object (r, "Ref:2"), "snapshot", "x");
}

static void
no_class (struct xva_value *r)
{
  xva_value_remove (object (r, "Ref:2"), "class");
}

static void
huge_disk (struct xva_value *r)
{
  xva_value_set_int (snapshot (r, "Ref:4"), "virtual_size",
                     ((int64_t) 1 << 50) + 1);
}

static void
negative_disk (struct xva_value *r)
{
  xva_value_set_int (snapshot (r, "Ref:4"), "virtual_size", -1);
}

static void
no_size (struct xva_value *r)
{
  xva_value_remove (snapshot (r, "Ref:4"), "virtual_size");
}

static void
test_errors (void)
{
  struct xva_meta *m = NULL;
  char err[256];
  int st;

  expect_error (no_hostname, XVA_EFORMAT, "hostname", __LINE__);
  expect_error (no_xapi_minor, XVA_EFORMAT, "xapi_minor", __LINE__);
  expect_error (string_minor, XVA_EFORMAT, "xapi_minor", __LINE__);
  expect_error (no_version, XVA_EFORMAT, "version", __LINE__);
  expect_error (vsn_zero, XVA_EVERSION, "export_vsn 0", __LINE__);
  expect_error (objects_not_array, XVA_EFORMAT, "objects", __LINE__);
  expect_error (bad_id, XVA_EFORMAT, "object 3", __LINE__);
  expect_error (bad_id2, XVA_EFORMAT, "OpaqueRef:3", __LINE__);
  expect_error (empty_id, XVA_EFORMAT, "id", __LINE__);
  expect_error (long_id, XVA_EFORMAT, "id", __LINE__);
  expect_error (dup_id, XVA_EFORMAT, "same id Ref:1", __LINE__);
  expect_error (snap_string, XVA_EFORMAT, "object 2 (Ref:2): `snapshot`",
                __LINE__);
  expect_error (no_class, XVA_EFORMAT, "`class` is missing", __LINE__);
  expect_error (huge_disk, XVA_ELIMIT, "virtual_size", __LINE__);
  expect_error (negative_disk, XVA_ELIMIT, "virtual_size", __LINE__);
  expect_error (no_size, XVA_EFORMAT, "virtual_size", __LINE__);

  /* version ints may be strings (bare values) */
  {
    struct xva_value *r = small_tree ();
    xva_value_set_string (xva_value_get (r, "version"), "xapi_major", "24");
    xva_value_set_string (xva_value_get (r, "version"), "export_vsn", "1");
    st = xva_meta_from_value (r, &m, err, sizeof err);
    CHECK_MSG (st == XVA_OK && xva_meta_export_vsn (m) == 1, err);
    xva_meta_free (m);
  }

  /* not a struct at the top, NULL root */
  st = xva_meta_from_value (xva_value_new_array (), &m, err, sizeof err);
  CHECK (st == XVA_EFORMAT && m == NULL);
  st = xva_meta_from_value (NULL, &m, err, sizeof err);
  CHECK (st < 0 && m == NULL);

  /* the legacy format */
  {
    static const char legacy[] =
      "<?xml version=\"1.0\" ?>\n"
      "<appliance version=\"0.1\">\n"
      "  <vm name=\"vm\">\n"
      "    <label>Debian</label>\n"
      "    <config mem_set=\"268435456\" vcpus=\"1\"/>\n"
      "    <vbd device=\"xvda\" function=\"root\" mode=\"w\" vdi=\"vdi_xvda\"/>\n"
      "  </vm>\n"
      "  <vdi name=\"vdi_xvda\" size=\"4294967296\" source=\"file://xvda\" "
      "type=\"dir-gzipped-chunks\" variety=\"system\"/>\n"
      "</appliance>\n";
    st = xva_meta_parse (legacy, strlen (legacy), NULL, &m, err, sizeof err);
    CHECK_MSG (st == XVA_EVERSION && m == NULL, err);
    CHECK (strstr (err, "appliance") != NULL);
    CHECK (strstr (err, "<appliance version=\"0.1\"> (XenEnterprise 3.x)")
           != NULL);
    /* as a plain value it is just not a value */
    {
      struct xva_value *v = NULL;
      st = xva_value_from_xml (legacy, strlen (legacy), NULL, &v, err,
                               sizeof err);
      CHECK (st == XVA_EFORMAT && v == NULL);
    }
  }
  st = xva_meta_parse ("<html><body>Not found</body></html>", 35, NULL, &m,
                       err, sizeof err);
  CHECK (st == XVA_EFORMAT && m == NULL);
  CHECK (strstr (err, "ova.xml is not an XML-RPC value") != NULL);
  {
    static const char gz[] = "\x1f\x8b\x08\x00garbage";
    st = xva_meta_parse (gz, sizeof gz - 1, NULL, &m, err, sizeof err);
  }
  CHECK (st == XVA_EFORMAT && m == NULL);
  st = xva_meta_parse ("<value>1</value>", 16, NULL, &m, err, sizeof err);
  CHECK (st == XVA_EFORMAT && m == NULL && strstr (err, "struct") != NULL);
}

int
main (void)
{
  test_build ();
  test_disks ();
  test_errors ();
  HARNESS_DONE ();
}
