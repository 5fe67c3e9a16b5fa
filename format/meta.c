/* ova.xml: the archive's metadata.
 *
 * xva_meta_parse / xva_meta_from_value check the tree (version header,
 * objects with class, id and snapshot) and work out the disks that the
 * archive streams.  xva_meta_build_vm makes the tree of a new halted
 * VM with full XenAPI records. */
#include "format/internal.h"
#include "format/value.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <unistd.h>

#define MAX_ID_LEN XVA_ID_MAX
#define MAX_META_DISKS XVA_MAX_DISKS
#define MAX_DISK_SIZE ((int64_t) XVA_DISK_SIZE_MAX)
#define MAX_BUILD_DEVICES 1024
#define BUILD_DATE "2026-11-30"

struct obj {
  const char *cls;
  const char *id;
  const struct xva_value *rec;  /* the object struct */
  const struct xva_value *snap; /* its snapshot */
};

struct xva_meta {
  struct xva_value *root;
  const struct xva_value *version;
  int64_t export_vsn;
  size_t nobjects;
  struct obj *objs;
  struct obj **by_id; /* objects sorted by id */
  struct xva_disk *disks;
  unsigned ndisks;
};

/* ------------------------------------------------------------------ */
/* Checking                                                             */

static int
valid_id (const char *id)
{
  size_t n = strlen (id), i;

  if (n <= 4 || n > MAX_ID_LEN || strncmp (id, "Ref:", 4) != 0)
    return 0;
  for (i = 4; i < n; i++) {
    char c = id[i];
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
          || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == ':'
          || c == '-'))
      return 0;
  }
  return 1;
}

static int
cmp_obj_id (const void *a, const void *b)
{
  const struct obj *const *x = a;
  const struct obj *const *y = b;

  return strcmp ((*x)->id, (*y)->id);
}

static int
cmp_disk_id (const void *a, const void *b)
{
  const struct xva_disk *x = a;
  const struct xva_disk *y = b;

  return strcmp (x->id, y->id);
}

/* The object with that id, or NULL (also for NULL or non-Ref ids). */
static const struct obj *
find_obj (const struct xva_meta *m, const char *id)
{
  struct obj key;
  const struct obj *kp = &key;
  struct obj *const *hit;

  if (id == NULL || m->nobjects == 0)
    return NULL;
  key.id = id;
  hit = bsearch (&kp, m->by_id, m->nobjects, sizeof m->by_id[0], cmp_obj_id);
  return hit ? *hit : NULL;
}

/* The object of that class named by field `key` of rec, or NULL. */
static const struct obj *
find_ref (const struct xva_meta *m, const struct xva_value *rec,
          const char *key, const char *cls)
{
  const struct obj *o = find_obj (m, xva_value_get_string (rec, key));

  return o && strcmp (o->cls, cls) == 0 ? o : NULL;
}

/* XVA_EFORMAT unless the top-level member name, v, is of type t (a
 * what). */
static int
check_top (const struct xva_value *v, enum xva_type t, const char *name,
           const char *what, char *err, size_t errlen)
{
  if (xva_value_type (v) == t)
    return XVA_OK;
  if (v)
    Xva_value_err (err, errlen, "ova.xml: `%s` is not %s", name, what);
  else
    Xva_value_err (err, errlen, "ova.xml: no `%s` member at the top level",
                   name);
  return XVA_EFORMAT;
}

static int
check_version (struct xva_meta *m, char *err, size_t errlen)
{
  static const struct {
    const char *name;
    int is_int;
  } fields[] = {
    { "hostname", 0 },      { "date", 0 },         { "product_version", 0 },
    { "product_brand", 0 }, { "build_number", 0 }, { "xapi_major", 1 },
    { "xapi_minor", 1 },
  };
  const struct xva_value *v = m->version;
  const struct xva_value *f, *vsn;
  int64_t x;
  size_t i;
  int r;

  r = check_top (v, XVA_TYPE_STRUCT, "version", "a struct", err, errlen);
  if (r != XVA_OK)
    return r;
  for (i = 0; i < sizeof fields / sizeof fields[0]; i++) {
    f = xva_value_get (v, fields[i].name);
    if (fields[i].is_int ? xva_value_get_int (f, &x) < 0
                         : xva_value_string (f) == NULL) {
      Xva_value_err (err, errlen, "ova.xml: version.%s is %s", fields[i].name,
                     f == NULL          ? "missing"
                     : fields[i].is_int ? "not an integer"
                                        : "not a string");
      return XVA_EFORMAT;
    }
  }
  m->export_vsn = 0;
  vsn = xva_value_get (v, "export_vsn");
  if (vsn && xva_value_get_int (vsn, &m->export_vsn) < 0) {
    Xva_value_err (err, errlen,
                   "ova.xml: version.export_vsn is not an "
                   "integer");
    return XVA_EFORMAT;
  }
  if (m->export_vsn <= 0) {
    Xva_value_err (err, errlen,
                   "ova.xml: export_vsn %lld (Rio beta, "
                   "without inline checksums) is not supported",
                   (long long) m->export_vsn);
    return XVA_EVERSION;
  }
  return XVA_OK;
}

static int
check_objects (struct xva_meta *m, const struct xva_value *objects, char *err,
               size_t errlen)
{
  size_t i;
  int r;

  r = check_top (objects, XVA_TYPE_ARRAY, "objects", "an array", err, errlen);
  if (r != XVA_OK)
    return r;
  m->nobjects = xva_value_len (objects);
  if (m->nobjects == 0)
    return XVA_OK;
  m->objs = calloc (m->nobjects, sizeof *m->objs);
  m->by_id = calloc (m->nobjects, sizeof *m->by_id);
  if (m->objs == NULL || m->by_id == NULL) {
    Xva_value_err (err, errlen, "ova.xml: out of memory");
    return XVA_ENOMEM;
  }
  for (i = 0; i < m->nobjects; i++) {
    const struct xva_value *o = xva_value_at (objects, i);
    struct obj *ob = &m->objs[i];
    const char *field = NULL, *problem = "missing";

    if (xva_value_type (o) != XVA_TYPE_STRUCT) {
      Xva_value_err (err, errlen, "ova.xml: object %zu is not a struct", i);
      return XVA_EFORMAT;
    }
    ob->rec = o;
    ob->cls = xva_value_get_string (o, "class");
    ob->id = xva_value_get_string (o, "id");
    ob->snap = xva_value_get (o, "snapshot");
    if (ob->cls == NULL || ob->cls[0] == '\0') {
      field = "class";
      if (xva_value_get (o, "class"))
        problem = ob->cls ? "empty" : "not a string";
    }
    else if (ob->id == NULL) {
      field = "id";
      if (xva_value_get (o, "id"))
        problem = "not a string";
    }
    else if (!valid_id (ob->id)) {
      Xva_value_err (err, errlen,
                     "ova.xml: object %zu (%.40s): id "
                     "\"%.80s\" is not Ref: followed by up to 60 of "
                     "[A-Za-z0-9._:-]",
                     i, ob->cls, ob->id);
      return XVA_EFORMAT;
    }
    else if (ob->snap == NULL
             || xva_value_type (ob->snap) != XVA_TYPE_STRUCT) {
      field = "snapshot";
      if (ob->snap)
        problem = "not a struct";
    }
    if (field) {
      Xva_value_err (err, errlen, "ova.xml: object %zu%s%.64s%s: `%s` is %s",
                     i, ob->id && valid_id (ob->id) ? " (" : "",
                     ob->id && valid_id (ob->id) ? ob->id : "",
                     ob->id && valid_id (ob->id) ? ")" : "", field, problem);
      return XVA_EFORMAT;
    }
    m->by_id[i] = ob;
  }
  qsort (m->by_id, m->nobjects, sizeof m->by_id[0], cmp_obj_id);
  for (i = 1; i < m->nobjects; i++)
    if (strcmp (m->by_id[i - 1]->id, m->by_id[i]->id) == 0) {
      Xva_value_err (err, errlen,
                     "ova.xml: objects %zu and %zu have the "
                     "same id %s",
                     (size_t) (m->by_id[i - 1] - m->objs),
                     (size_t) (m->by_id[i] - m->objs), m->by_id[i]->id);
      return XVA_EFORMAT;
    }
  return XVA_OK;
}

/* Adds the VDI object vdi to the disks once. */
static int
add_disk (struct xva_meta *m, unsigned char *marks, const struct obj *vdi,
          const char *userdevice, char *err, size_t errlen)
{
  size_t k = (size_t) (vdi - m->objs);
  struct xva_disk *d;
  int64_t size;

  if (marks[k])
    return XVA_OK;
  marks[k] = 1;
  if (m->ndisks >= MAX_META_DISKS) {
    Xva_value_err (err, errlen, "ova.xml: more than %d streamed disks",
                   MAX_META_DISKS);
    return XVA_ELIMIT;
  }
  if (xva_value_get_int (xva_value_get (vdi->snap, "virtual_size"), &size)
      < 0) {
    Xva_value_err (err, errlen,
                   "ova.xml: object %zu (VDI %s): "
                   "virtual_size is %s",
                   k, vdi->id,
                   xva_value_get (vdi->snap, "virtual_size") ? "not an integer"
                                                             : "missing");
    return XVA_EFORMAT;
  }
  if (size < 0 || size > MAX_DISK_SIZE) {
    Xva_value_err (err, errlen,
                   "ova.xml: object %zu (VDI %s): "
                   "virtual_size %lld is outside 0..2^50",
                   k, vdi->id, (long long) size);
    return XVA_ELIMIT;
  }
  d = &m->disks[m->ndisks++];
  d->id = vdi->id;
  d->virtual_size = (uint64_t) size;
  d->vdi_uuid = xva_value_get_string (vdi->snap, "uuid");
  d->name_label = xva_value_get_string (vdi->snap, "name_label");
  d->type = xva_value_get_string (vdi->snap, "type");
  d->userdevice = userdevice ? userdevice : "";
  if (d->vdi_uuid == NULL)
    d->vdi_uuid = "";
  if (d->name_label == NULL)
    d->name_label = "";
  if (d->type == NULL)
    d->type = "";
  d->vdi = vdi->snap;
  return XVA_OK;
}

static int
find_disks (struct xva_meta *m, char *err, size_t errlen)
{
  unsigned char *marks;
  size_t i, nvdis = 0;
  int r = XVA_OK;

  for (i = 0; i < m->nobjects; i++)
    if (strcmp (m->objs[i].cls, "VDI") == 0)
      nvdis++;
  if (nvdis == 0)
    return XVA_OK;
  if (nvdis > MAX_META_DISKS)
    nvdis = MAX_META_DISKS + 1;
  marks = calloc (m->nobjects, 1);
  m->disks = calloc (nvdis, sizeof *m->disks);
  if (marks == NULL || m->disks == NULL) {
    Xva_value_err (err, errlen, "ova.xml: out of memory");
    r = XVA_ENOMEM;
    goto out;
  }
  /* The VDIs of VBDs that are not CDs, unless on an ISO SR. */
  for (i = 0; i < m->nobjects && r == XVA_OK; i++) {
    const struct obj *o = &m->objs[i], *vdi, *sr;
    const char *type, *ct;

    if (strcmp (o->cls, "VBD") != 0)
      continue;
    type = xva_value_get_string (o->snap, "type");
    if (type && strcasecmp (type, "CD") == 0)
      continue;
    vdi = find_ref (m, o->snap, "VDI", "VDI");
    if (vdi == NULL)
      continue;
    sr = find_ref (m, vdi->snap, "SR", "SR");
    ct = sr ? xva_value_get_string (sr->snap, "content_type") : NULL;
    if (ct && strcasecmp (ct, "iso") == 0)
      continue;
    r = add_disk (m, marks, vdi, xva_value_get_string (o->snap, "userdevice"),
                  err, errlen);
  }
  /* Suspend images. */
  for (i = 0; i < m->nobjects && r == XVA_OK; i++) {
    const struct obj *o = &m->objs[i], *vdi;
    const char *type;

    if (strcmp (o->cls, "VDI") == 0) {
      type = xva_value_get_string (o->snap, "type");
      if (type && strcmp (type, "suspend") == 0)
        r = add_disk (m, marks, o, "", err, errlen);
    }
    else if (strcmp (o->cls, "VM") == 0) {
      vdi = find_ref (m, o->snap, "suspend_VDI", "VDI");
      if (vdi)
        r = add_disk (m, marks, vdi, "", err, errlen);
    }
  }
  if (r == XVA_OK && m->ndisks > 1)
    qsort (m->disks, m->ndisks, sizeof m->disks[0], cmp_disk_id);
out:
  free (marks);
  return r;
}

int
xva_meta_from_value (struct xva_value *root, struct xva_meta **out, char *err,
                     size_t errlen)
{
  struct xva_meta *m = NULL;
  int r;

  if (out == NULL) {
    xva_value_free (root);
    return XVA_EINVAL;
  }
  *out = NULL;
  if (root == NULL) {
    Xva_value_err (err, errlen, "ova.xml: no value");
    return XVA_EINVAL;
  }
  if (xva_value_type (root) != XVA_TYPE_STRUCT) {
    Xva_value_err (err, errlen,
                   "ova.xml: the top-level value is not a "
                   "struct");
    r = XVA_EFORMAT;
    goto fail;
  }
  m = calloc (1, sizeof *m);
  if (m == NULL) {
    Xva_value_err (err, errlen, "ova.xml: out of memory");
    r = XVA_ENOMEM;
    goto fail;
  }
  m->root = root;
  root = NULL;
  m->version = xva_value_get (m->root, "version");
  r = check_version (m, err, errlen);
  if (r != XVA_OK)
    goto fail;
  r = check_objects (m, xva_value_get (m->root, "objects"), err, errlen);
  if (r != XVA_OK)
    goto fail;
  r = find_disks (m, err, errlen);
  if (r != XVA_OK)
    goto fail;
  *out = m;
  return XVA_OK;
fail:
  xva_value_free (root);
  xva_meta_free (m);
  return r;
}

int
xva_meta_parse (const char *xml, size_t len, const struct xva_limits *lim,
                struct xva_meta **out, char *err, size_t errlen)
{
  struct xva_value *root;
  int r;

  if (out == NULL)
    return XVA_EINVAL;
  *out = NULL;
  r = Xva_value_parse_xml (xml, len, lim, 1, &root, err, errlen);
  if (r != XVA_OK)
    return r;
  return xva_meta_from_value (root, out, err, errlen);
}

void
xva_meta_free (struct xva_meta *m)
{
  if (m == NULL)
    return;
  xva_value_free (m->root);
  free (m->objs);
  free (m->by_id);
  free (m->disks);
  free (m);
}

const struct xva_value *
xva_meta_root (const struct xva_meta *m)
{
  return m ? m->root : NULL;
}

const struct xva_value *
xva_meta_version (const struct xva_meta *m)
{
  return m ? m->version : NULL;
}

int64_t
xva_meta_export_vsn (const struct xva_meta *m)
{
  return m ? m->export_vsn : 0;
}

size_t
xva_meta_nobjects (const struct xva_meta *m)
{
  return m ? m->nobjects : 0;
}

const char *
xva_meta_object_class (const struct xva_meta *m, size_t i)
{
  return m && i < m->nobjects ? m->objs[i].cls : NULL;
}

const char *
xva_meta_object_id (const struct xva_meta *m, size_t i)
{
  return m && i < m->nobjects ? m->objs[i].id : NULL;
}

const struct xva_value *
xva_meta_object (const struct xva_meta *m, size_t i)
{
  return m && i < m->nobjects ? m->objs[i].snap : NULL;
}

const struct xva_value *
xva_meta_find (const struct xva_meta *m, const char *id)
{
  const struct obj *o;

  if (m == NULL)
    return NULL;
  o = find_obj (m, id);
  return o ? o->snap : NULL;
}

unsigned
xva_meta_ndisks (const struct xva_meta *m)
{
  return m ? m->ndisks : 0;
}

const struct xva_disk *
xva_meta_disk (const struct xva_meta *m, unsigned i)
{
  return m && i < m->ndisks ? &m->disks[i] : NULL;
}

/* ------------------------------------------------------------------ */
/* Editing                                                              */

int
Xva_value_clear_vm_links (struct xva_value *vm)
{
  static const char *const nulls[] = { "suspend_SR", "appliance",
                                       "protection_policy",
                                       "snapshot_schedule" };
  static const char *const sets[] = { "consoles",      "crash_dumps",
                                      "attached_PCIs", "VGPUs",
                                      "VTPMs",         "VUSBs" };
  size_t i;
  int e = 0;

  for (i = 0; i < sizeof nulls / sizeof nulls[0]; i++)
    e |= Xva_value_replace_null (vm, nulls[i]);
  for (i = 0; i < sizeof sets / sizeof sets[0]; i++)
    e |= Xva_value_replace_empty (vm, sets[i], XVA_TYPE_ARRAY);
  return e;
}

/* ------------------------------------------------------------------ */
/* Building                                                             */

/* Fills buf[got..n) from getrandom (fd < 0) or from fd until done or
 * the source fails; returns how many bytes of buf are filled. */
static size_t
fill_random (unsigned char *buf, size_t got, size_t n, int fd)
{
  ssize_t r;

  while (got < n) {
    r = fd < 0 ? getrandom (buf + got, n - got, 0)
               : read (fd, buf + got, n - got);
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0)
      break;
    got += (size_t) r;
  }
  return got;
}

/* Fills buf with n random bytes; 0 or -1. */
static int
random_bytes (unsigned char *buf, size_t n)
{
  size_t got;
  int fd;

  got = fill_random (buf, 0, n, -1);
  if (got == n)
    return 0;
  fd = open ("/dev/urandom", O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return -1;
  got = fill_random (buf, got, n, fd);
  close (fd);
  return got == n ? 0 : -1;
}

/* A random (version 4) uuid into out[37]. */
static int
new_uuid (char *out)
{
  unsigned char u[16];

  if (random_bytes (u, sizeof u) < 0)
    return -1;
  u[6] = (unsigned char) ((u[6] & 0x0f) | 0x40);
  u[8] = (unsigned char) ((u[8] & 0x3f) | 0x80);
  snprintf (out, 37,
            "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
            "%02x%02x%02x%02x%02x%02x",
            u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10],
            u[11], u[12], u[13], u[14], u[15]);
  return 0;
}

/* A random locally administered unicast MAC into out[18]. */
static int
new_mac (char *out)
{
  unsigned char a[6];

  if (random_bytes (a, sizeof a) < 0)
    return -1;
  a[0] = (unsigned char) ((a[0] & 0xfc) | 0x02);
  snprintf (out, 18, "%02x:%02x:%02x:%02x:%02x:%02x", a[0], a[1], a[2], a[3],
            a[4], a[5]);
  return 0;
}

/* The Linux name of disk i: xvda ... xvdz, xvdaa, .... */
static void
device_name (unsigned i, char *out, size_t outlen)
{
  char rev[8];
  size_t n = 0, j;
  unsigned x = i + 1;

  while (x > 0 && n < sizeof rev) {
    x--;
    rev[n++] = (char) ('a' + x % 26);
    x /= 26;
  }
  if (outlen < n + 4)
    return;
  memcpy (out, "xvd", 3);
  for (j = 0; j < n; j++)
    out[3 + j] = rev[n - 1 - j];
  out[3 + n] = '\0';
}

struct build {
  int bad; /* an allocation failed */
  int rnd; /* the random source failed */
};

static void
put (struct build *b, struct xva_value *st, const char *key,
     struct xva_value *item)
{
  if (xva_value_set (st, key, item) < 0)
    b->bad = 1;
}

static void
put_s (struct build *b, struct xva_value *st, const char *key, const char *s)
{
  put (b, st, key, xva_value_new_string (s));
}

static void
put_i (struct build *b, struct xva_value *st, const char *key, int64_t i)
{
  put (b, st, key, xva_value_new_int (i));
}

static void
put_b (struct build *b, struct xva_value *st, const char *key, int v)
{
  put (b, st, key, xva_value_new_bool (v));
}

static void
put_ref (struct build *b, struct xva_value *st, const char *key, unsigned n)
{
  char ref[24];

  snprintf (ref, sizeof ref, "Ref:%u", n);
  put_s (b, st, key, ref);
}

static void
put_null (struct build *b, struct xva_value *st, const char *key)
{
  put_s (b, st, key, "OpaqueRef:NULL");
}

static void
put_arr (struct build *b, struct xva_value *st, const char *key)
{
  put (b, st, key, xva_value_new_array ());
}

static void
put_map (struct build *b, struct xva_value *st, const char *key)
{
  put (b, st, key, xva_value_new_struct ());
}

/* An array of n refs Ref:first, Ref:first+1, .... */
static void
put_refs (struct build *b, struct xva_value *st, const char *key,
          unsigned first, unsigned n)
{
  struct xva_value *a = xva_value_new_array ();
  char ref[24];
  unsigned i;

  for (i = 0; a && i < n; i++) {
    snprintf (ref, sizeof ref, "Ref:%u", first + i);
    if (xva_value_append (a, xva_value_new_string (ref)) < 0)
      b->bad = 1;
  }
  put (b, st, key, a);
}

static void
put_uuid (struct build *b, struct xva_value *st)
{
  char uuid[37];

  if (new_uuid (uuid) < 0) {
    b->rnd = 1;
    return;
  }
  put_s (b, st, "uuid", uuid);
}

/* Appends {class, id: Ref:n, snapshot} to objects; takes snap. */
static void
add_object (struct build *b, struct xva_value *objects, const char *cls,
            unsigned n, struct xva_value *snap)
{
  struct xva_value *o = xva_value_new_struct ();

  put_s (b, o, "class", cls);
  put_ref (b, o, "id", n);
  put (b, o, "snapshot", snap);
  if (xva_value_append (objects, o) < 0)
    b->bad = 1;
}

/* The operations fields every record starts with. */
static void
put_ops (struct build *b, struct xva_value *r)
{
  put_arr (b, r, "allowed_operations");
  put_map (b, r, "current_operations");
}

/* The fields a named record starts with (label NULL: out of memory). */
static void
put_named (struct build *b, struct xva_value *r, const char *label)
{
  put_uuid (b, r);
  put (b, r, "name_label", label ? xva_value_new_string (label) : NULL);
  put_s (b, r, "name_description", "");
  put_ops (b, r);
}

/* A device's (VBD's, VIF's) fields after its other_config. */
static void
put_device_state (struct build *b, struct xva_value *r)
{
  put_b (b, r, "currently_attached", 0);
  put_i (b, r, "status_code", 0);
  put_s (b, r, "status_detail", "");
  put_map (b, r, "runtime_properties");
  put_s (b, r, "qos_algorithm_type", "");
  put_map (b, r, "qos_algorithm_params");
  put_arr (b, r, "qos_supported_algorithms");
  put_null (b, r, "metrics");
}

static struct xva_value *
build_vm_record (struct build *b, const struct xva_vm_spec *spec,
                 unsigned vbd0, unsigned vif0)
{
  struct xva_value *r = xva_value_new_struct ();
  struct xva_value *m;
  int64_t mem = (int64_t) spec->memory;

  put_uuid (b, r);
  put_ops (b, r);
  put_s (b, r, "name_label", spec->name);
  put_s (b, r, "name_description", spec->description ? spec->description : "");
  put_s (b, r, "power_state", "Halted");
  put_i (b, r, "user_version", 1);
  put_b (b, r, "is_a_template", 0);
  put_b (b, r, "is_default_template", 0);
  put_null (b, r, "suspend_VDI");
  put_null (b, r, "resident_on");
  put_null (b, r, "scheduled_to_be_resident_on");
  put_null (b, r, "affinity");
  /* an estimate: xapi recomputes the overhead when the VM starts */
  put_i (b, r, "memory_overhead",
         ((mem / 128 + (int64_t) spec->vcpus * 262144 + 1048575) >> 20) << 20);
  put_i (b, r, "memory_target", mem);
  put_i (b, r, "memory_static_max", mem);
  put_i (b, r, "memory_dynamic_max", mem);
  put_i (b, r, "memory_dynamic_min", mem);
  put_i (b, r, "memory_static_min", mem);
  put_map (b, r, "VCPUs_params");
  put_i (b, r, "VCPUs_max", spec->vcpus);
  put_i (b, r, "VCPUs_at_startup", spec->vcpus);
  put_s (b, r, "actions_after_softreboot", "soft_reboot");
  put_s (b, r, "actions_after_shutdown", "destroy");
  put_s (b, r, "actions_after_reboot", "restart");
  put_s (b, r, "actions_after_crash", "restart");
  put_arr (b, r, "consoles");
  put_refs (b, r, "VIFs", vif0, spec->nvifs);
  put_refs (b, r, "VBDs", vbd0, spec->ndisks);
  put_arr (b, r, "VUSBs");
  put_arr (b, r, "crash_dumps");
  put_arr (b, r, "VTPMs");
  put_s (b, r, "PV_bootloader", "");
  put_s (b, r, "PV_kernel", "");
  put_s (b, r, "PV_ramdisk", "");
  put_s (b, r, "PV_args", "");
  put_s (b, r, "PV_bootloader_args", "");
  put_s (b, r, "PV_legacy_args", "");
  put_s (b, r, "HVM_boot_policy", "BIOS order");
  m = xva_value_new_struct ();
  put_s (b, m, "order", "cd");
  put (b, r, "HVM_boot_params", m);
  put (b, r, "HVM_shadow_multiplier", xva_value_new_double (1.0));
  m = xva_value_new_struct ();
  put_s (b, m, "acpi", "1");
  put_s (b, m, "apic", "true");
  put_s (b, m, "pae", "true");
  put_s (b, m, "viridian", "true");
  put_s (b, m, "nx", "true");
  put_s (b, m, "timeoffset", "0");
  put_s (b, m, "device-model", "qemu-upstream-compat");
  put (b, r, "platform", m);
  put_s (b, r, "PCI_bus", "");
  put_map (b, r, "other_config");
  put_i (b, r, "domid", -1);
  put_s (b, r, "domarch", "");
  put_map (b, r, "last_boot_CPU_flags");
  put_b (b, r, "is_control_domain", 0);
  put_null (b, r, "metrics");
  put_null (b, r, "guest_metrics");
  put_s (b, r, "last_booted_record", "");
  put_s (b, r, "recommendations", "");
  put_map (b, r, "xenstore_data");
  put_b (b, r, "ha_always_run", 0);
  put_s (b, r, "ha_restart_priority", "");
  put_b (b, r, "is_a_snapshot", 0);
  put_null (b, r, "snapshot_of");
  put_arr (b, r, "snapshots");
  put (b, r, "snapshot_time", xva_value_new_date ("19700101T00:00:00Z"));
  put_s (b, r, "transportable_snapshot_id", "");
  put_map (b, r, "blobs");
  put_arr (b, r, "tags");
  put_map (b, r, "blocked_operations");
  put_map (b, r, "snapshot_info");
  put_s (b, r, "snapshot_metadata", "");
  put_null (b, r, "parent");
  put_arr (b, r, "children");
  put_map (b, r, "bios_strings");
  put_null (b, r, "protection_policy");
  put_b (b, r, "is_snapshot_from_vmpp", 0);
  put_null (b, r, "snapshot_schedule");
  put_b (b, r, "is_vmss_snapshot", 0);
  put_null (b, r, "appliance");
  put_i (b, r, "start_delay", 0);
  put_i (b, r, "shutdown_delay", 0);
  put_i (b, r, "order", 0);
  put_arr (b, r, "VGPUs");
  put_arr (b, r, "attached_PCIs");
  put_null (b, r, "suspend_SR");
  put_i (b, r, "version", 0);
  put_s (b, r, "generation_id", "");
  put_i (b, r, "hardware_platform_version", 0);
  put_b (b, r, "has_vendor_device", 0);
  put_b (b, r, "requires_reboot", 0);
  put_s (b, r, "reference_label", "");
  put_s (b, r, "domain_type", "hvm");
  put_map (b, r, "NVRAM");
  put_arr (b, r, "pending_guidances");
  put_arr (b, r, "pending_guidances_recommended");
  put_arr (b, r, "pending_guidances_full");
  put_arr (b, r, "groups");
  return r;
}

static struct xva_value *
build_vbd (struct build *b, unsigned i, unsigned vdi_ref)
{
  struct xva_value *r = xva_value_new_struct ();
  struct xva_value *oc;
  char dev[16] = "xvda", num[16];

  device_name (i, dev, sizeof dev);
  snprintf (num, sizeof num, "%u", i);
  put_uuid (b, r);
  put_ops (b, r);
  put_ref (b, r, "VM", 0);
  put_ref (b, r, "VDI", vdi_ref);
  put_s (b, r, "device", dev);
  put_s (b, r, "userdevice", num);
  put_b (b, r, "bootable", i == 0);
  put_s (b, r, "mode", "RW");
  put_s (b, r, "type", "Disk");
  put_b (b, r, "unpluggable", 0);
  put_b (b, r, "storage_lock", 0);
  put_b (b, r, "empty", 0);
  oc = xva_value_new_struct ();
  if (i == 0)
    put_s (b, oc, "owner", "");
  put (b, r, "other_config", oc);
  put_device_state (b, r);
  return r;
}

static struct xva_value *
build_vif (struct build *b, unsigned i, unsigned network_ref)
{
  struct xva_value *r = xva_value_new_struct ();
  char mac[18], num[16];

  snprintf (num, sizeof num, "%u", i);
  put_uuid (b, r);
  put_ops (b, r);
  put_s (b, r, "device", num);
  put_ref (b, r, "network", network_ref);
  put_ref (b, r, "VM", 0);
  if (new_mac (mac) < 0)
    b->rnd = 1;
  else
    put_s (b, r, "MAC", mac);
  put_i (b, r, "MTU", 1500);
  put_map (b, r, "other_config");
  put_device_state (b, r);
  put_b (b, r, "MAC_autogenerated", 1);
  put_s (b, r, "locking_mode", "network_default");
  put_arr (b, r, "ipv4_allowed");
  put_arr (b, r, "ipv6_allowed");
  put_s (b, r, "ipv4_configuration_mode", "None");
  put_arr (b, r, "ipv4_addresses");
  put_s (b, r, "ipv4_gateway", "");
  put_s (b, r, "ipv6_configuration_mode", "None");
  put_arr (b, r, "ipv6_addresses");
  put_s (b, r, "ipv6_gateway", "");
  return r;
}

static struct xva_value *
build_network (struct build *b, unsigned vif0, unsigned nvifs)
{
  struct xva_value *r = xva_value_new_struct ();

  put_named (b, r, "Pool-wide network associated with eth0");
  put_refs (b, r, "VIFs", vif0, nvifs);
  put_arr (b, r, "PIFs");
  put_i (b, r, "MTU", 1500);
  put_map (b, r, "other_config");
  put_s (b, r, "bridge", "xenbr0");
  put_b (b, r, "managed", 1);
  put_map (b, r, "blobs");
  put_arr (b, r, "tags");
  put_s (b, r, "default_locking_mode", "unlocked");
  put_map (b, r, "assigned_ips");
  put_arr (b, r, "purpose");
  return r;
}

static struct xva_value *
build_vdi (struct build *b, const struct xva_vm_spec *spec, unsigned i,
           unsigned sr_ref, unsigned vbd_ref)
{
  struct xva_value *r = xva_value_new_struct ();
  const char *uuid;
  char *label = NULL;
  int64_t size = (int64_t) spec->disk_sizes[i];

  if (spec->disk_names && spec->disk_names[i])
    put_named (b, r, spec->disk_names[i]);
  else {
    size_t n = strlen (spec->name) + 32;
    label = malloc (n);
    if (label)
      snprintf (label, n, "%s disk %u", spec->name, i);
    put_named (b, r, label);
    free (label);
  }
  put_ref (b, r, "SR", sr_ref);
  put_refs (b, r, "VBDs", vbd_ref, 1);
  put_arr (b, r, "crash_dumps");
  put_i (b, r, "virtual_size", size);
  put_i (b, r, "physical_utilisation", size);
  put_s (b, r, "type", "user");
  put_b (b, r, "sharable", 0);
  put_b (b, r, "read_only", 0);
  put_map (b, r, "other_config");
  put_b (b, r, "storage_lock", 0);
  uuid = xva_value_get_string (r, "uuid");
  put_s (b, r, "location", uuid ? uuid : "");
  put_b (b, r, "managed", 1);
  put_b (b, r, "missing", 0);
  put_null (b, r, "parent");
  put_map (b, r, "xenstore_data");
  put_map (b, r, "sm_config");
  put_b (b, r, "is_a_snapshot", 0);
  put_null (b, r, "snapshot_of");
  put_arr (b, r, "snapshots");
  put (b, r, "snapshot_time", xva_value_new_date ("19700101T00:00:00Z"));
  put_arr (b, r, "tags");
  put_b (b, r, "allow_caching", 0);
  put_s (b, r, "on_boot", "persist");
  put_null (b, r, "metadata_of_pool");
  put_b (b, r, "metadata_latest", 0);
  put_b (b, r, "is_tools_iso", 0);
  put_b (b, r, "cbt_enabled", 0);
  return r;
}

static struct xva_value *
build_sr (struct build *b, const struct xva_vm_spec *spec, unsigned vdi0)
{
  struct xva_value *r = xva_value_new_struct ();
  int64_t total = 0;
  unsigned i;

  for (i = 0; i < spec->ndisks; i++)
    total += (int64_t) spec->disk_sizes[i];
  put_named (b, r, "Local storage");
  put_refs (b, r, "VDIs", vdi0, spec->ndisks);
  put_arr (b, r, "PBDs");
  put_i (b, r, "virtual_allocation", total);
  put_i (b, r, "physical_utilisation", total);
  put_i (b, r, "physical_size", total);
  put_s (b, r, "type", "ext");
  put_s (b, r, "content_type", "user");
  put_b (b, r, "shared", 0);
  put_map (b, r, "other_config");
  put_arr (b, r, "tags");
  put_map (b, r, "sm_config");
  put_map (b, r, "blobs");
  put_b (b, r, "local_cache_enabled", 0);
  put_null (b, r, "introduced_by");
  put_b (b, r, "clustered", 0);
  put_b (b, r, "is_tools_sr", 0);
  return r;
}

struct xva_value *
xva_meta_version_new (void)
{
  struct xva_value *v = xva_value_new_struct ();
  struct build b = { 0, 0 };

  put_s (&b, v, "hostname", "localhost");
  put_s (&b, v, "date", BUILD_DATE);
  put_s (&b, v, "product_version", XVA_VERSION_STRING);
  put_s (&b, v, "product_brand", "xva");
  put_s (&b, v, "build_number", "");
  put_i (&b, v, "xapi_major", 1);
  put_i (&b, v, "xapi_minor", 1);
  put_i (&b, v, "export_vsn", 2);
  if (b.bad) {
    xva_value_free (v);
    return NULL;
  }
  return v;
}

struct xva_value *
xva_meta_build_vm (const struct xva_vm_spec *spec, int *status)
{
  struct build b = { 0, 0 };
  struct xva_value *root = NULL, *objects;
  unsigned i, nd, nv, vbd0, vif0, net, vdi0, sr;
  int st = XVA_OK;

  if (spec == NULL || spec->name == NULL || spec->vcpus == 0
      || spec->ndisks > MAX_BUILD_DEVICES || spec->nvifs > MAX_BUILD_DEVICES
      || (spec->ndisks > 0 && spec->disk_sizes == NULL)
      || spec->memory > (uint64_t) INT64_MAX / 2) {
    st = XVA_EINVAL;
    goto out;
  }
  nd = spec->ndisks;
  nv = spec->nvifs;
  for (i = 0; i < nd; i++)
    if (spec->disk_sizes[i] > (uint64_t) MAX_DISK_SIZE) {
      st = XVA_EINVAL;
      goto out;
    }
  /* ids in xapi's export order: VM, VBDs, VIFs, network, VDIs, SR */
  vbd0 = 1;
  vif0 = vbd0 + nd;
  net = vif0 + nv;
  vdi0 = net + (nv ? 1 : 0);
  sr = vdi0 + nd;

  root = xva_value_new_struct ();
  put (&b, root, "version", xva_meta_version_new ());
  objects = xva_value_new_array ();
  put (&b, root, "objects", objects);
  if (b.bad) {
    st = XVA_ENOMEM;
    goto out;
  }
  add_object (&b, objects, "VM", 0, build_vm_record (&b, spec, vbd0, vif0));
  for (i = 0; i < nd; i++)
    add_object (&b, objects, "VBD", vbd0 + i, build_vbd (&b, i, vdi0 + i));
  for (i = 0; i < nv; i++)
    add_object (&b, objects, "VIF", vif0 + i, build_vif (&b, i, net));
  if (nv)
    add_object (&b, objects, "network", net, build_network (&b, vif0, nv));
  for (i = 0; i < nd; i++)
    add_object (&b, objects, "VDI", vdi0 + i,
                build_vdi (&b, spec, i, sr, vbd0 + i));
  if (nd)
    add_object (&b, objects, "SR", sr, build_sr (&b, spec, vdi0));
  if (b.rnd)
    st = XVA_EIO;
  else if (b.bad)
    st = XVA_ENOMEM;
out:
  if (st != XVA_OK) {
    xva_value_free (root);
    root = NULL;
  }
  if (status)
    *status = st;
  return root;
}
