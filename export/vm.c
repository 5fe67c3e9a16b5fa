/* VM -> archive over the store: the object walk, the rewriting of
 * references to Ref:N ids, /export's changes to the records, ova.xml
 * and the writer over the VDI images (xva-format.md 1.3, 1.4).
 *
 * Choices:
 * - A reference to an object that is not exported (a null ref, an
 *   object missing from the store, or one the walk does not take) is
 *   written as OpaqueRef:NULL; no id is spent on it.
 * - Ids come from one process-wide counter that is never reset, so
 *   they keep growing across exports as xapi's do.  The walk numbers
 *   objects as it meets them: the VM first, then each VBD followed by
 *   its VDI and SR, then each VIF and its network, then the metrics
 *   and hosts.  Objects are written in xapi's class order.
 * - VGPUs, VTPMs, PVS objects and VUSBs are not exported (the store
 *   holds none); their reference sets are emptied. */
#include "export/export.h"

#include "format/internal.h"
#include "format/value.h"
#include "store/busy.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#if defined(__GNUC__) || defined(__clang__)
#define EX_PRINTF(a, b) __attribute__ ((format (printf, a, b)))
#else
#define EX_PRINTF(a, b)
#endif

#define NULL_REF "OpaqueRef:NULL"
#define EPOCH "19700101T00:00:00Z"
#define ID_MAX 32            /* "Ref:" + 20 digits */
#define MAX_OBJECTS 200000   /* objects in one ova.xml */
#define MAX_PARENT_DEPTH 256 /* vhd-parent chains */
#define FILENAME_MAX_LEN 200

/* The process-wide id counter (xva-format.md 1.4: never reset). */
static atomic_ullong next_id;

struct xobj {
  char cls[XVA_STORE_CLASS_MAX + 1];
  char ref[XVA_STORE_REF_MAX + 1]; /* in the store */
  char id[ID_MAX];                 /* in ova.xml */
  struct xva_value *rec;           /* a copy; becomes the snapshot */
  char *path;                      /* VDI: its image; NULL if unknown */
};

struct walk {
  struct Xva_store *s;
  struct Xva_store_txn *t;
  const struct Xva_export_opts *o;
  int preserve;       /* power state kept */
  int keep_snapshots; /* snapshot fields kept */
  struct xobj *v;
  size_t n, cap;
  size_t *hash; /* open addressing: index + 1 */
  size_t hcap;
  int status;
  char *err;
  size_t errlen;
};

struct Xva_export {
  struct Xva_store *s;
  struct xva_writer *w;
  int *fds;
  unsigned nfds;
  struct emap *maps; /* one per fd; base NULL: not mapped */
  size_t page;       /* page size, for letting pages go */
  char **busy;       /* refs held in the busy set */
  size_t nbusy;
  char *filename;
  char vm_uuid[XVA_STORE_UUID_MAX + 1];
};

/* The store's disk files are mapped for the writer: chunks are hashed
 * and handed to the HTTP layer straight from the page cache, without
 * pread's copy.  The files are the store's own (the data directory is
 * trusted; nothing truncates a VDI file once it is committed), so the
 * mapping cannot lose its pages under the export.  Pages are let go
 * as each chunk is sent, so resident memory stays bounded. */
struct emap {
  const unsigned char *base;
  size_t len;
};

static const void *
emap_get (void *opaque, unsigned disk, uint64_t off, size_t n)
{
  struct Xva_export *e = opaque;
  const struct emap *m;

  if (disk >= e->nfds)
    return NULL;
  m = &e->maps[disk];
  if (m->base == NULL || off > m->len || n > m->len - off)
    return NULL;
  return m->base + off;
}

static void
emap_done (void *opaque, unsigned disk, uint64_t off, size_t n)
{
  struct Xva_export *e = opaque;
  const struct emap *m;
  size_t pg = e->page, a, b;

  if (disk >= e->nfds)
    return;
  m = &e->maps[disk];
  if (m->base == NULL || off > m->len || n > m->len - off)
    return;
  a = (size_t) off & ~(pg - 1);
  b = ((size_t) off + n + pg - 1) & ~(pg - 1);
  (void) madvise ((void *) (uintptr_t) (m->base + a), b - a, MADV_DONTNEED);
}

/* Maps each regular disk file; one that cannot be mapped is read. */
static void
emap_open (struct Xva_export *e)
{
  unsigned i;

  e->maps = calloc (e->nfds ? e->nfds : 1, sizeof *e->maps);
  if (e->maps == NULL)
    return;
  e->page = (size_t) sysconf (_SC_PAGESIZE);
  for (i = 0; i < e->nfds; i++) {
    struct stat st;
    void *p;

    if (fstat (e->fds[i], &st) == -1 || !S_ISREG (st.st_mode)
        || st.st_size <= 0 || (uint64_t) st.st_size > SIZE_MAX)
      continue;
    p = mmap (NULL, (size_t) st.st_size, PROT_READ, MAP_SHARED, e->fds[i], 0);
    if (p == MAP_FAILED)
      continue;
    (void) madvise (p, (size_t) st.st_size, MADV_SEQUENTIAL);
    e->maps[i].base = p;
    e->maps[i].len = (size_t) st.st_size;
  }
  Xva_writer_set_map (e->w, emap_get, emap_done, e);
}

/* Order of classes in ova.xml (export.ml make_all). */
static const char *const class_order[] = {
  "host",    "VM",  "VM_metrics", "VM_guest_metrics", "VBD", "VIF",
  "network", "VDI", "SR",
};

static int fail (struct walk *w, int status, const char *fmt, ...)
  EX_PRINTF (3, 4);

/* Records the first failure of the walk. */
static int
fail (struct walk *w, int status, const char *fmt, ...)
{
  va_list ap;

  if (w->status == XVA_OK) {
    w->status = status;
    if (w->err && w->errlen) {
      va_start (ap, fmt);
      vsnprintf (w->err, w->errlen, fmt, ap);
      va_end (ap);
    }
  }
  return status;
}

void
Xva_export_opts_init (struct Xva_export_opts *o)
{
  memset (o, 0, sizeof *o);
  o->export_snapshots = 1;
  xva_writer_opts_init (&o->w);
}

static int
is_ref (const char *r)
{
  return r && r[0] && strcmp (r, NULL_REF) != 0
         && strncmp (r, "OpaqueRef:", 10) == 0;
}

/* ---- The object table -------------------------------------------------- */

static size_t
hash_ref (const char *ref)
{
  uint64_t h = 1469598103934665603ULL;

  while (*ref) {
    h ^= (unsigned char) *ref++;
    h *= 1099511628211ULL;
  }
  return (size_t) h;
}

/* Index of ref in the table, or -1. */
static long
lookup (const struct walk *w, const char *ref)
{
  size_t i;

  if (w->hcap == 0 || ref == NULL)
    return -1;
  for (i = hash_ref (ref) & (w->hcap - 1); w->hash[i];
       i = (i + 1) & (w->hcap - 1))
    if (strcmp (w->v[w->hash[i] - 1].ref, ref) == 0)
      return (long) (w->hash[i] - 1);
  return -1;
}

static int
hash_insert (struct walk *w, size_t idx)
{
  size_t i;

  if ((w->n + 1) * 2 > w->hcap) {
    size_t ncap = w->hcap ? w->hcap * 2 : 64, k;
    size_t *nh = calloc (ncap, sizeof *nh);

    if (nh == NULL)
      return -1;
    for (k = 0; k < w->hcap; k++)
      if (w->hash[k]) {
        size_t j = hash_ref (w->v[w->hash[k] - 1].ref) & (ncap - 1);
        while (nh[j])
          j = (j + 1) & (ncap - 1);
        nh[j] = w->hash[k];
      }
    free (w->hash);
    w->hash = nh;
    w->hcap = ncap;
  }
  for (i = hash_ref (w->v[idx].ref) & (w->hcap - 1); w->hash[i];
       i = (i + 1) & (w->hcap - 1))
    ;
  w->hash[i] = idx + 1;
  return 0;
}

/* Adds the object ref of class cls to the export (once).  Returns its
 * index, -1 when there is no such object (a null ref, a missing object
 * or one of another class), -2 on failure (w->status set). */
static long
add (struct walk *w, const char *ref, const char *cls)
{
  char got[XVA_STORE_CLASS_MAX + 1];
  struct xva_value *rec = NULL;
  struct xobj *x;
  long i;
  int r;

  if (w->status != XVA_OK)
    return -2;
  if (!is_ref (ref) || strlen (ref) > XVA_STORE_REF_MAX)
    return -1;
  i = lookup (w, ref);
  if (i >= 0)
    return strcmp (w->v[i].cls, cls) == 0 ? i : -1;
  r = Xva_store_get (w->s, w->t, ref, got, &rec);
  if (r == XVA_ENOTFOUND)
    return -1;
  if (r < 0) {
    fail (w, r, "reading %s %s: %s", cls, ref, Xva_store_errmsg (w->s));
    return -2;
  }
  if (strcmp (got, cls) != 0 || xva_value_type (rec) != XVA_TYPE_STRUCT) {
    xva_value_free (rec);
    return -1;
  }
  if (w->n >= MAX_OBJECTS) {
    xva_value_free (rec);
    fail (w, XVA_ELIMIT, "more than %d objects to export", MAX_OBJECTS);
    return -2;
  }
  if (w->n == w->cap) {
    size_t ncap = w->cap ? w->cap * 2 : 32;
    struct xobj *nv = realloc (w->v, ncap * sizeof *nv);

    if (nv == NULL) {
      xva_value_free (rec);
      fail (w, XVA_ENOMEM, "out of memory");
      return -2;
    }
    w->v = nv;
    w->cap = ncap;
  }
  x = &w->v[w->n];
  memset (x, 0, sizeof *x);
  snprintf (x->cls, sizeof x->cls, "%s", cls);
  snprintf (x->ref, sizeof x->ref, "%s", ref);
  snprintf (x->id, sizeof x->id, "Ref:%llu",
            (unsigned long long) atomic_fetch_add (&next_id, 1));
  x->rec = rec;
  if (hash_insert (w, w->n) < 0) {
    xva_value_free (rec);
    fail (w, XVA_ENOMEM, "out of memory");
    return -2;
  }
  return (long) w->n++;
}

/* The image of VDI object vi: <sr>/<location>.img, the location being
 * the VDI's uuid in this store. */
static int
vdi_path (struct walk *w, long vi, long si)
{
  const struct xva_value *vdi = w->v[vi].rec;
  const char *loc = xva_value_get_string (vdi, "location");
  const char *sr_uuid;
  char path[4096];

  if (si < 0 || w->v[vi].path)
    return 0;
  sr_uuid = xva_value_get_string (w->v[si].rec, "uuid");
  if (!Xva_store_uuid_valid (loc))
    loc = xva_value_get_string (vdi, "uuid");
  if (!Xva_store_uuid_valid (sr_uuid) || !Xva_store_uuid_valid (loc))
    return 0; /* no image here: found out if streamed */
  if (Xva_store_vdi_path (w->s, sr_uuid, loc, path, sizeof path) < 0)
    return 0;
  w->v[vi].path = strdup (path);
  if (w->v[vi].path == NULL)
    return fail (w, XVA_ENOMEM, "out of memory");
  return 0;
}

/* Adds a VDI, its SR and (with include_vhd_parents) its parents. */
static long
add_vdi (struct walk *w, const char *ref, unsigned depth)
{
  long vi = add (w, ref, "VDI"), si, pi;
  const struct xva_value *sm;
  const char *parent;
  char pref[XVA_STORE_REF_MAX + 1];

  if (vi < 0)
    return vi;
  si = add (w, xva_value_get_string (w->v[vi].rec, "SR"), "SR");
  if (si == -2)
    return -2;
  if (vdi_path (w, vi, si) < 0)
    return -2;
  if (!w->o->include_vhd_parents || depth >= MAX_PARENT_DEPTH)
    return vi;
  sm = xva_value_get (w->v[vi].rec, "sm_config");
  parent = xva_value_get_string (sm, "vhd-parent");
  if (parent && parent[0]
      && Xva_store_find_uuid (w->s, w->t, "VDI", parent, pref, NULL)
           == XVA_OK) {
    pi = add_vdi (w, pref, depth + 1);
    if (pi == -2)
      return -2;
  }
  return vi;
}

/* Walks from VM ref (export.ml update_table). */
static long
walk_vm (struct walk *w, const char *ref, int snapshots)
{
  long vm = add (w, ref, "VM"), k;
  const struct xva_value *set;
  size_t i, n;

  if (vm < 0)
    return vm;
  if (!(w->o->excluded & XVA_EXCLUDE_VBD)) {
    set = xva_value_get (w->v[vm].rec, "VBDs");
    n = xva_value_len (set);
    for (i = 0; i < n && w->status == XVA_OK; i++) {
      long b = add (w, xva_value_string (xva_value_at (set, i)), "VBD");
      if (b >= 0 && !Xva_value_bool_or (w->v[b].rec, "empty", 0))
        add_vdi (w, xva_value_get_string (w->v[b].rec, "VDI"), 0);
    }
  }
  if (!(w->o->excluded & XVA_EXCLUDE_VIF)) {
    set = xva_value_get (w->v[vm].rec, "VIFs");
    n = xva_value_len (set);
    for (i = 0; i < n && w->status == XVA_OK; i++) {
      long f = add (w, xva_value_string (xva_value_at (set, i)), "VIF");
      if (f >= 0)
        add (w, xva_value_get_string (w->v[f].rec, "network"), "network");
    }
  }
  add (w, xva_value_get_string (w->v[vm].rec, "metrics"), "VM_metrics");
  add (w, xva_value_get_string (w->v[vm].rec, "guest_metrics"),
       "VM_guest_metrics");
  add (w, xva_value_get_string (w->v[vm].rec, "resident_on"), "host");
  add (w, xva_value_get_string (w->v[vm].rec, "affinity"), "host");
  if (w->preserve) {
    const char *ps = xva_value_get_string (w->v[vm].rec, "power_state");
    if (ps && strcmp (ps, "Suspended") == 0)
      add_vdi (w, xva_value_get_string (w->v[vm].rec, "suspend_VDI"), 0);
  }
  if (snapshots) {
    set = xva_value_get (w->v[vm].rec, "snapshots");
    n = xva_value_len (set);
    for (i = 0; i < n && w->status == XVA_OK; i++) {
      k = walk_vm (w, xva_value_string (xva_value_at (set, i)), 0);
      (void) k;
    }
    if (w->status == XVA_OK)
      walk_vm (w, xva_value_get_string (w->v[vm].rec, "parent"), 0);
  }
  return w->status == XVA_OK ? vm : -2;
}

/* ---- Rewriting ------------------------------------------------------------ */

/* The id of an exported object of class cls (NULL: any), or
 * OpaqueRef:NULL. */
static const char *
map_ref (const void *opaque, const char *ref, const char *cls)
{
  const struct walk *w = opaque;
  long i = is_ref (ref) ? lookup (w, ref) : -1;

  if (i < 0 || (cls && strcmp (w->v[i].cls, cls) != 0))
    return NULL_REF;
  return w->v[i].id;
}

/* A single reference field: the id of an exported object or null. */
static int
rewrite_ref (const struct walk *w, struct xva_value *rec, const char *key,
             const char *cls)
{
  return Xva_value_map_ref (rec, key, cls, map_ref, w);
}

/* A set of references: the ids of those exported. */
static int
rewrite_set (const struct walk *w, struct xva_value *rec, const char *key,
             const char *cls)
{
  return Xva_value_map_set (rec, key, cls, map_ref, w);
}

static int
clear_ops (struct xva_value *rec)
{
  return Xva_value_replace_empty (rec, "current_operations", XVA_TYPE_STRUCT)
         | Xva_value_replace_empty (rec, "allowed_operations", XVA_TYPE_ARRAY);
}

static int
fix_vm (const struct walk *w, struct xva_value *r)
{
  int e = 0;

  if (!w->preserve) {
    e |= Xva_value_replace (r, "power_state", xva_value_new_string ("Halted"));
    e |= Xva_value_replace_null (r, "suspend_VDI");
  }
  if (!w->keep_snapshots) {
    e |= Xva_value_replace (r, "is_a_snapshot", xva_value_new_bool (0));
    e |= Xva_value_replace_null (r, "snapshot_of");
    e |= Xva_value_replace_empty (r, "snapshots", XVA_TYPE_ARRAY);
    e |= Xva_value_replace (r, "snapshot_time", xva_value_new_date (EPOCH));
    e |= Xva_value_replace (r, "transportable_snapshot_id",
                            xva_value_new_string (""));
    e |= Xva_value_replace_null (r, "parent");
  }
  e |= clear_ops (r);
  e |= rewrite_set (w, r, "VBDs", "VBD");
  e |= rewrite_set (w, r, "VIFs", "VIF");
  e |= rewrite_set (w, r, "snapshots", "VM");
  e |= rewrite_set (w, r, "children", "VM");
  e |= rewrite_ref (w, r, "suspend_VDI", "VDI");
  e |= rewrite_ref (w, r, "snapshot_of", "VM");
  e |= rewrite_ref (w, r, "parent", "VM");
  e |= rewrite_ref (w, r, "resident_on", "host");
  e |= rewrite_ref (w, r, "scheduled_to_be_resident_on", "host");
  e |= rewrite_ref (w, r, "affinity", "host");
  e |= rewrite_ref (w, r, "metrics", "VM_metrics");
  e |= rewrite_ref (w, r, "guest_metrics", "VM_guest_metrics");
  e |= Xva_value_clear_vm_links (r);
  e |= Xva_value_replace_empty (r, "blobs", XVA_TYPE_STRUCT);
  return e;
}

static int
fix_vbd_vif (const struct walk *w, struct xva_value *r, int vbd)
{
  int e = 0;

  e |= clear_ops (r);
  e |= rewrite_ref (w, r, "VM", "VM");
  if (vbd)
    e |= rewrite_ref (w, r, "VDI", "VDI");
  else
    e |= rewrite_ref (w, r, "network", "network");
  e |= Xva_value_replace_null (r, "metrics");
  if (!w->preserve)
    e |= Xva_value_replace (r, "currently_attached", xva_value_new_bool (0));
  return e;
}

/* A host: every reference (single or in a set) is rewritten. */
static int
fix_host (const struct walk *w, struct xva_value *r)
{
  size_t i, n = xva_value_len (r);
  int e = clear_ops (r);

  for (i = 0; i < n; i++) {
    const struct xva_value *v = xva_value_at (r, i);
    const char *key = xva_value_key_at (r, i);
    const char *s = xva_value_string (v);

    if (xva_value_type (v) == XVA_TYPE_STRING && s
        && strncmp (s, "OpaqueRef:", 10) == 0)
      e |= rewrite_ref (w, r, key, NULL);
    else if (xva_value_type (v) == XVA_TYPE_ARRAY && xva_value_len (v) > 0
             && (s = xva_value_string (xva_value_at (v, 0))) != NULL
             && strncmp (s, "OpaqueRef:", 10) == 0)
      e |= rewrite_set (w, r, key, NULL);
  }
  return e;
}

static int
fix_object (const struct walk *w, struct xobj *x)
{
  struct xva_value *r = x->rec;
  int e = 0;

  if (strcmp (x->cls, "VM") == 0)
    return fix_vm (w, r);
  if (strcmp (x->cls, "VBD") == 0)
    return fix_vbd_vif (w, r, 1);
  if (strcmp (x->cls, "VIF") == 0)
    return fix_vbd_vif (w, r, 0);
  if (strcmp (x->cls, "host") == 0)
    return fix_host (w, r);
  if (strcmp (x->cls, "network") == 0) {
    e |= clear_ops (r);
    e |= rewrite_set (w, r, "VIFs", "VIF");
    e |= Xva_value_replace_empty (r, "PIFs", XVA_TYPE_ARRAY);
    e |= Xva_value_replace_empty (r, "blobs", XVA_TYPE_STRUCT);
  }
  else if (strcmp (x->cls, "VDI") == 0) {
    e |= clear_ops (r);
    e |= rewrite_ref (w, r, "SR", "SR");
    e |= rewrite_set (w, r, "VBDs", "VBD");
    e |= Xva_value_replace_empty (r, "crash_dumps", XVA_TYPE_ARRAY);
  }
  else if (strcmp (x->cls, "SR") == 0) {
    e |= clear_ops (r);
    e |= rewrite_set (w, r, "VDIs", "VDI");
    e |= Xva_value_replace_empty (r, "PBDs", XVA_TYPE_ARRAY);
    e |= Xva_value_replace_empty (r, "blobs", XVA_TYPE_STRUCT);
  }
  return e;
}

/* The ova.xml tree; takes the records out of the table. */
static struct xva_value *
build_tree (struct walk *w)
{
  struct xva_value *root = xva_value_new_struct ();
  struct xva_value *objs = xva_value_new_array ();
  size_t c, i;

  if (root == NULL || objs == NULL
      || xva_value_set (root, "version", xva_meta_version_new ()) < 0) {
    xva_value_free (objs);
    goto nomem;
  }
  if (xva_value_set (root, "objects", objs) < 0)
    goto nomem;
  for (i = 0; i < w->n; i++)
    if (fix_object (w, &w->v[i]) != 0)
      goto nomem;
  for (c = 0; c < sizeof class_order / sizeof class_order[0]; c++)
    for (i = 0; i < w->n; i++) {
      struct xva_value *o;

      if (strcmp (w->v[i].cls, class_order[c]) != 0)
        continue;
      o = xva_value_new_struct ();
      if (o == NULL || xva_value_set_string (o, "class", w->v[i].cls) < 0
          || xva_value_set_string (o, "id", w->v[i].id) < 0) {
        xva_value_free (o);
        goto nomem;
      }
      if (xva_value_set (o, "snapshot", w->v[i].rec) < 0) {
        w->v[i].rec = NULL;
        xva_value_free (o);
        goto nomem;
      }
      w->v[i].rec = NULL;
      if (xva_value_append (objs, o) < 0)
        goto nomem;
    }
  return root;

nomem:
  xva_value_free (root);
  fail (w, XVA_ENOMEM, "out of memory building ova.xml");
  return NULL;
}

static void
walk_free (struct walk *w)
{
  size_t i;

  for (i = 0; i < w->n; i++) {
    xva_value_free (w->v[i].rec);
    free (w->v[i].path);
  }
  free (w->v);
  free (w->hash);
}

/* ---- The export handle ---------------------------------------------------- */

static int
hold (struct Xva_export *e, const char *ref)
{
  char **nb;
  char *copy;

  nb = realloc (e->busy, (e->nbusy + 1) * sizeof *nb);
  if (nb == NULL)
    return XVA_ENOMEM;
  e->busy = nb;
  copy = strdup (ref);
  if (copy == NULL)
    return XVA_ENOMEM;
  if (Xva_store_busy_acquire (e->s, ref) != XVA_OK) {
    free (copy);
    return XVA_ENOMEM;
  }
  e->busy[e->nbusy++] = copy;
  return XVA_OK;
}

static void
set_filename (struct Xva_export *e, const char *name)
{
  size_t i, n = name ? strlen (name) : 0;

  if (n == 0) {
    e->filename = strdup ("export.xva");
    return;
  }
  if (n > FILENAME_MAX_LEN)
    n = FILENAME_MAX_LEN;
  e->filename = malloc (n + 5);
  if (e->filename == NULL)
    return;
  for (i = 0; i < n; i++) {
    char c = name[i];
    e->filename[i] = ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
                      || (c >= '0' && c <= '9') || c == '.' || c == '_'
                      || c == ' ' || c == '-')
                       ? c
                       : '_';
  }
  memcpy (e->filename + n, ".xva", 5);
}

/* The VMs of all=true: every VM but default templates and control
 * domains.  Holds each. */
static int
walk_all (struct walk *w, struct Xva_export *e)
{
  struct Xva_store_list l;
  size_t i;
  int r;

  r = Xva_store_list (w->s, w->t, "VM", 1, &l);
  if (r < 0)
    return fail (w, r, "listing VMs: %s", Xva_store_errmsg (w->s));
  for (i = 0; i < l.n && w->status == XVA_OK; i++) {
    if (Xva_value_bool_or (l.recs[i], "is_default_template", 0)
        || Xva_value_bool_or (l.recs[i], "is_control_domain", 0))
      continue;
    if (hold (e, l.refs[i]) < 0) {
      fail (w, XVA_ENOMEM, "out of memory");
      break;
    }
    walk_vm (w, l.refs[i], w->keep_snapshots);
  }
  Xva_store_list_free (&l);
  return w->status;
}

/* Opens the image of each streamed disk, in the order of m's disks. */
static int
open_disks (struct walk *w, struct Xva_export *e, const struct xva_meta *m,
            struct xva_writer_disk *disks)
{
  unsigned i, n = xva_meta_ndisks (m);

  e->fds = malloc ((n ? n : 1) * sizeof *e->fds);
  if (e->fds == NULL)
    return fail (w, XVA_ENOMEM, "out of memory");
  for (i = 0; i < n; i++) {
    const struct xva_disk *d = xva_meta_disk (m, i);
    const struct xobj *x = NULL;
    size_t k;
    int fd;

    for (k = 0; k < w->n; k++)
      if (strcmp (w->v[k].id, d->id) == 0) {
        x = &w->v[k];
        break;
      }
    if (x == NULL || x->path == NULL)
      return fail (w, XVA_EIO, "VDI %s (%s): no image in this store",
                   d->vdi_uuid, d->id);
    fd = open (x->path, O_RDONLY | O_CLOEXEC);
    if (fd == -1)
      return fail (w, XVA_EIO, "VDI %s: opening %s: %s", d->vdi_uuid, x->path,
                   strerror (errno));
    e->fds[e->nfds++] = fd;
    disks[i].id = d->id;
    disks[i].size = d->virtual_size;
  }
  return XVA_OK;
}

int
Xva_export_new (struct Xva_store *s, const char *vm_ref,
                const struct Xva_export_opts *o, struct Xva_export **out,
                char *err, size_t errlen)
{
  struct Xva_export_opts defaults;
  struct Xva_export *e = NULL;
  struct walk w;
  struct xva_value *root = NULL;
  struct xva_meta *meta = NULL;
  struct xva_writer_disk *disks = NULL;
  struct xva_writer_opts wo;
  char *xml = NULL, merr[512] = "";
  size_t xml_len = 0;
  unsigned ndisks = 0;
  int r;

  memset (&w, 0, sizeof w);
  w.err = err;
  w.errlen = errlen;
  if (err && errlen)
    err[0] = '\0';
  if (out)
    *out = NULL;
  if (o == NULL) {
    Xva_export_opts_init (&defaults);
    o = &defaults;
  }
  if (s == NULL || out == NULL || (!o->all && vm_ref == NULL)
      || (o->all && !o->metadata_only))
    return fail (&w, XVA_EINVAL, "Xva_export_new: bad arguments");
  w.s = s;
  w.o = o;
  w.preserve = o->metadata_only || o->preserve_power_state;
  w.keep_snapshots = o->metadata_only && o->export_snapshots;

  e = calloc (1, sizeof *e);
  if (e == NULL)
    return fail (&w, XVA_ENOMEM, "out of memory");
  e->s = s;
  if (!o->all) {
    if (strlen (vm_ref) > XVA_STORE_REF_MAX) {
      r = fail (&w, XVA_ENOTFOUND, "HANDLE_INVALID: no VM %.64s...", vm_ref);
      goto out;
    }
    /* Held before it is read, so that nothing removes it unseen. */
    if (hold (e, vm_ref) < 0) {
      r = fail (&w, XVA_ENOMEM, "out of memory");
      goto out;
    }
  }

  /* The graph in one transaction: a consistent view. */
  r = Xva_store_begin (s, &w.t);
  if (r < 0) {
    fail (&w, r, "%s", Xva_store_errmsg (s));
    goto out;
  }
  if (o->all)
    walk_all (&w, e);
  else {
    long vm = walk_vm (&w, vm_ref, w.keep_snapshots);
    if (vm == -1)
      fail (&w, XVA_ENOTFOUND, "HANDLE_INVALID: no VM %.64s", vm_ref);
    else if (vm >= 0) {
      const char *ps = xva_value_get_string (w.v[vm].rec, "power_state");
      const char *uuid = xva_value_get_string (w.v[vm].rec, "uuid");

      if (!o->metadata_only
          && (ps == NULL
              || (strcmp (ps, "Halted") != 0
                  && strcmp (ps, "Suspended") != 0)))
        fail (&w, XVA_ESTATE,
              "VM_BAD_POWER_STATE: VM %s is %s, not Halted "
              "or Suspended",
              vm_ref, ps ? ps : "(unknown)");
      snprintf (e->vm_uuid, sizeof e->vm_uuid, "%s", uuid ? uuid : "");
      set_filename (e, xva_value_get_string (w.v[vm].rec, "name_label"));
      if (e->filename == NULL)
        fail (&w, XVA_ENOMEM, "out of memory");
    }
  }
  Xva_store_rollback (w.t);
  w.t = NULL;
  if (w.status != XVA_OK) {
    r = w.status;
    goto out;
  }
  if (o->all && (e->filename = strdup ("export.xva")) == NULL) {
    r = fail (&w, XVA_ENOMEM, "out of memory");
    goto out;
  }

  root = build_tree (&w);
  if (root == NULL) {
    r = w.status;
    goto out;
  }
  r = xva_value_to_xml (root, &xml, &xml_len);
  if (r < 0) {
    fail (&w, r, "encoding ova.xml: %s", xva_strerror (r));
    goto out;
  }
  /* The disks the reader will expect: exactly those streamed. */
  r = xva_meta_from_value (root, &meta, merr, sizeof merr);
  root = NULL;
  if (r < 0) {
    fail (&w, r, "checking ova.xml: %s", merr);
    goto out;
  }
  if (!o->metadata_only) {
    ndisks = xva_meta_ndisks (meta);
    disks = calloc (ndisks ? ndisks : 1, sizeof *disks);
    if (disks == NULL) {
      r = fail (&w, XVA_ENOMEM, "out of memory");
      goto out;
    }
    r = open_disks (&w, e, meta, disks);
    if (r < 0)
      goto out;
  }
  wo = o->w;
  if (wo.keepalive_ms == 0 || wo.keepalive_ms > 30000)
    wo.keepalive_ms = 5000; /* http-api.md 4: bytes every 30 s */
  e->w = xva_writer_new (xml, xml_len, disks, ndisks, &wo,
                         xva_source_fds (e->fds, e->nfds), &r);
  if (e->w == NULL) {
    fail (&w, r, "making the archive writer: %s", xva_strerror (r));
    goto out;
  }
  emap_open (e);
  r = XVA_OK;

out:
  free (disks);
  xva_meta_free (meta);
  free (xml);
  xva_value_free (root);
  walk_free (&w);
  if (r < 0) {
    Xva_export_free (e);
    return r;
  }
  *out = e;
  return XVA_OK;
}

struct xva_writer *
Xva_export_writer (struct Xva_export *e)
{
  return e ? e->w : NULL;
}

const char *
Xva_export_filename (const struct Xva_export *e)
{
  return e && e->filename ? e->filename : "export.xva";
}

const char *
Xva_export_vm_uuid (const struct Xva_export *e)
{
  return e ? e->vm_uuid : "";
}

void
Xva_export_free (struct Xva_export *e)
{
  size_t i;

  if (e == NULL)
    return;
  xva_writer_free (e->w);
  for (i = 0; e->maps != NULL && i < e->nfds; i++)
    if (e->maps[i].base != NULL)
      munmap ((void *) (uintptr_t) e->maps[i].base, e->maps[i].len);
  free (e->maps);
  for (i = 0; i < e->nfds; i++)
    close (e->fds[i]);
  free (e->fds);
  for (i = 0; i < e->nbusy; i++) {
    Xva_store_busy_release (e->s, e->busy[i]);
    free (e->busy[i]);
  }
  free (e->busy);
  free (e->filename);
  free (e);
}
