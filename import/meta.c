/* The plan of an import, made when ova.xml has been read: what each
 * object of the archive becomes (xva-format.md 5.2, 5.3), the records
 * to commit, the VMs a restore replaces and the staged images.
 *
 * Nothing is written to the database here; the only files made are
 * the staged images under the SR's staging directory.
 *
 * Choices:
 * - VM_metrics and VM_guest_metrics are not re-created: the new VM's
 *   metrics and guest_metrics are null.  Hosts are matched by uuid.
 * - A full import creates only the VDIs that a created VBD (or the
 *   suspended VM) uses; the data of other streamed disks is read,
 *   checked and dropped.  Networks likewise.
 * - With restore, a VBD or VIF uuid that an object of the store
 *   already has (other than one of the replaced VM's) is replaced by
 *   a new one rather than duplicated. */
#include "format/value.h"
#include "import/import-priv.h"

#include "store/busy.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <unistd.h>

#define MAX_SIZE ((int64_t) 1 << 50)

/* Store listings fetched once per plan. */
struct cache {
  struct Xva_store_list vms, vdis, nets;
  int have_vms, have_vdis, have_nets;
};

static void
cache_free (struct cache *c)
{
  Xva_store_list_free (&c->vms);
  Xva_store_list_free (&c->vdis);
  Xva_store_list_free (&c->nets);
}

static int
cached (struct Xva_import *im, const char *cls, struct Xva_store_list *l,
        int *have)
{
  int r;

  if (*have)
    return XVA_OK;
  r = Xva_store_list (im->s, NULL, cls, 1, l);
  if (r < 0)
    return Xva_import_fail (im, r, 500, "INTERNAL_ERROR", NULL, 0,
                            "listing %s: %s", cls, Xva_store_errmsg (im->s));
  *have = 1;
  return XVA_OK;
}

/* ---- Small helpers --------------------------------------------------- */

static int
nomem (struct Xva_import *im)
{
  return Xva_import_fail (im, XVA_ENOMEM, 500, "INTERNAL_ERROR", NULL, 0,
                          "out of memory");
}

static int
random_fill (void *buf, size_t n)
{
  unsigned char *p = buf;
  size_t got = 0;

  while (got < n) {
    ssize_t k = getrandom (p + got, n - got, 0);
    if (k < 0) {
      if (errno == EINTR)
        continue;
      return -1;
    }
    got += (size_t) k;
  }
  return 0;
}

int
Xva_import_new_mac (char *out)
{
  unsigned char a[6];

  if (random_fill (a, sizeof a) < 0)
    return -1;
  a[0] = (unsigned char) ((a[0] & 0xfc) | 0x02); /* local, unicast */
  snprintf (out, 18, "%02x:%02x:%02x:%02x:%02x:%02x", a[0], a[1], a[2], a[3],
            a[4], a[5]);
  return 0;
}

static const char *
get_str (const struct xva_value *rec, const char *key)
{
  const char *s = xva_value_get_string (rec, key);
  return s ? s : "";
}

static int
is_iso (const struct xva_value *sr)
{
  const char *ct = xva_value_get_string (sr, "content_type");
  return ct && strcasecmp (ct, "iso") == 0;
}

static int
cmp_id (const void *a, const void *b)
{
  const struct im_id *x = a, *y = b;
  return strcmp (x->id, y->id);
}

/* The object of class cls (NULL: any) with that id, or NULL. */
static struct im_obj *
find (const struct Xva_import *im, const char *id, const char *cls)
{
  struct im_id key, *hit;

  if (id == NULL || strncmp (id, "Ref:", 4) != 0 || im->nobjs == 0)
    return NULL;
  key.id = id;
  hit = bsearch (&key, im->by_id, im->nobjs, sizeof *im->by_id, cmp_id);
  if (hit == NULL)
    return NULL;
  if (cls && strcmp (im->objs[hit->i].cls, cls) != 0)
    return NULL;
  return &im->objs[hit->i];
}

/* The ref an archive reference becomes: the object's in the store, or
 * null. */
static const char *
target (const struct Xva_import *im, const char *id, const char *cls)
{
  const struct im_obj *o = find (im, id, cls);
  return o && o->act != IM_NONE ? o->ref : IM_NULL_REF;
}

/* target as a Xva_value_ref_fn (opaque: the import). */
static const char *
target_of (const void *opaque, const char *id, const char *cls)
{
  return target (opaque, id, cls);
}

static int
new_ref_uuid (struct im_obj *o)
{
  return Xva_store_new_ref (o->ref) | Xva_store_new_uuid (o->uuid);
}

/* ---- Record edits ------------------------------------------------------ */

/* Sets key, adding it if absent; takes item. */
static int
put (struct xva_value *rec, const char *key, struct xva_value *item)
{
  return item ? xva_value_set (rec, key, item) : -1;
}

static int
put_str (struct xva_value *rec, const char *key, const char *s)
{
  return put (rec, key, xva_value_new_string (s));
}

static int
clear_ops (struct xva_value *rec)
{
  return put (rec, "current_operations", xva_value_new_struct ())
         | put (rec, "allowed_operations", xva_value_new_array ());
}

/* The refs of created objects of class cls whose field `key` names the
 * archive object id. */
static struct xva_value *
created_set (struct Xva_import *im, const char *cls, const char *key,
             const char *id)
{
  struct xva_value *a = xva_value_new_array ();
  size_t i;

  for (i = 0; a && i < im->nobjs; i++) {
    const struct im_obj *o = &im->objs[i];

    if (o->act != IM_CREATE || strcmp (o->cls, cls) != 0
        || strcmp (get_str (o->snap, key), id) != 0)
      continue;
    if (xva_value_append (a, xva_value_new_string (o->ref)) < 0) {
      xva_value_free (a);
      return NULL;
    }
  }
  return a;
}

/* Queues back references: each created object of class cls whose field
 * key names id is added to field of target (an object of the store). */
static int
backrefs_to (struct Xva_import *im, const char *tref, const char *field,
             const char *cls, const char *key, const char *id)
{
  size_t i;

  for (i = 0; i < im->nobjs; i++) {
    const struct im_obj *o = &im->objs[i];

    if (o->act == IM_CREATE && strcmp (o->cls, cls) == 0
        && (id == NULL || strcmp (get_str (o->snap, key), id) == 0)
        && Xva_import_backref (im, tref, field, o->ref, 1) < 0)
      return -1;
  }
  return 0;
}

/* ---- Version ------------------------------------------------------------ */

/* The newest xapi whose archives this importer takes.  The archives xva
 * writes claim xapi 1.1 (xva_meta_version_new) so that every host
 * imports them; what it reads is the format itself, the same for every
 * xapi release to date, so archives of any current host (1.x, 2x.y) are
 * taken.  Only a version beyond this is refused, as xapi refuses
 * archives from a newer xapi than itself. */
#define IMPORT_XAPI_MAJOR_MAX 99
#define IMPORT_XAPI_MINOR_MAX 999

static int
check_version (struct Xva_import *im, const struct xva_meta *m)
{
  const struct xva_value *theirs = xva_meta_version (m);
  int64_t tmaj, tmin;

  tmaj = Xva_value_int_or (theirs, "xapi_major", 0);
  tmin = Xva_value_int_or (theirs, "xapi_minor", 0);
  if (tmaj > IMPORT_XAPI_MAJOR_MAX
      || (tmaj == IMPORT_XAPI_MAJOR_MAX && tmin > IMPORT_XAPI_MINOR_MAX))
    return Xva_import_fail (im, XVA_EVERSION, 400,
                            "IMPORT_INCOMPATIBLE_VERSION", NULL, 0,
                            "the archive was written by xapi %" PRId64
                            ".%" PRId64
                            ", newer than this importer takes "
                            "(%d.%d)",
                            tmaj, tmin, IMPORT_XAPI_MAJOR_MAX,
                            IMPORT_XAPI_MINOR_MAX);
  return XVA_OK;
}

/* ---- Deciding ----------------------------------------------------------- */

static int
plan_hosts_srs (struct Xva_import *im)
{
  size_t i;
  int r;

  for (i = 0; i < im->nobjs; i++) {
    struct im_obj *o = &im->objs[i];
    const char *uuid = get_str (o->snap, "uuid");

    if (strcmp (o->cls, "host") == 0
        || (strcmp (o->cls, "SR") == 0
            && (im->metadata_only || is_iso (o->snap)))) {
      r = uuid[0]
            ? Xva_store_find_uuid (im->s, NULL, o->cls, uuid, o->ref, NULL)
            : XVA_ENOTFOUND;
      if (r == XVA_OK)
        o->act = IM_MAP;
      else if (r != XVA_ENOTFOUND)
        return Xva_import_fail (im, r, 500, "INTERNAL_ERROR", NULL, 0, "%s",
                                Xva_store_errmsg (im->s));
    }
    else if (strcmp (o->cls, "SR") == 0) {
      o->act = IM_MAP; /* every SR maps to the target SR */
      snprintf (o->ref, sizeof o->ref, "%s", im->sr_ref);
    }
  }
  return XVA_OK;
}

/* A VDI of the store in SR sr_ref (NULL: any) at location loc. */
static const char *
vdi_at (struct cache *c, const char *sr_ref, const char *loc)
{
  size_t i;

  if (loc == NULL || loc[0] == '\0')
    return NULL;
  for (i = 0; i < c->vdis.n; i++) {
    const struct xva_value *v = c->vdis.recs[i];
    if (strcmp (get_str (v, "location"), loc) == 0
        && (sr_ref == NULL || strcmp (get_str (v, "SR"), sr_ref) == 0))
      return c->vdis.refs[i];
  }
  return NULL;
}

/* A VDI of the store by uuid or sm_config SCSIid. */
static int
vdi_by_key (struct Xva_import *im, struct cache *c, const char *key, char *ref)
{
  size_t i;

  if (Xva_store_find_uuid (im->s, NULL, "VDI", key, ref, NULL) == XVA_OK)
    return 1;
  for (i = 0; i < c->vdis.n; i++) {
    const struct xva_value *sm = xva_value_get (c->vdis.recs[i], "sm_config");
    const char *scsi = xva_value_get_string (sm, "SCSIid");
    if (scsi && strcmp (scsi, key) == 0) {
      snprintf (ref, IM_REF_LEN, "%s", c->vdis.refs[i]);
      return 1;
    }
  }
  return 0;
}

/* Metadata import: the existing VDI an archive VDI stands for
 * (xva-format.md 5.3).  1 found (o->ref set), 0 not. */
static int
find_vdi (struct Xva_import *im, struct cache *c, struct im_obj *o,
          const struct im_obj *sr)
{
  const char *uuid = get_str (o->snap, "uuid");
  const char *scsi = xva_value_get_string (xva_value_get (o->snap,
                                                          "sm_config"),
                                           "SCSIid");
  const char *hit, *maps_to;
  char cls[XVA_STORE_CLASS_MAX + 1];
  size_t i;

  for (i = 0; i < im->nmap; i++)
    if ((uuid[0] && strcmp (im->map[i].from, uuid) == 0)
        || (scsi && strcmp (im->map[i].from, scsi) == 0)) {
      if (vdi_by_key (im, c, im->map[i].to, o->ref))
        return 1;
    }
  hit = vdi_at (c, sr && sr->act == IM_MAP ? sr->ref : NULL,
                get_str (o->snap, "location"));
  if (hit) {
    snprintf (o->ref, sizeof o->ref, "%s", hit);
    return 1;
  }
  maps_to = xva_value_get_string (xva_value_get (o->snap, "other_config"),
                                  "maps_to");
  if (maps_to && strlen (maps_to) <= XVA_STORE_REF_MAX
      && Xva_store_get (im->s, NULL, maps_to, cls, NULL) == XVA_OK
      && strcmp (cls, "VDI") == 0) {
    snprintf (o->ref, sizeof o->ref, "%s", maps_to);
    return 1;
  }
  return 0;
}

static int
plan_vdis (struct Xva_import *im, struct cache *c)
{
  size_t i;
  int r;

  r = cached (im, "VDI", &c->vdis, &c->have_vdis);
  if (r < 0)
    return r;
  for (i = 0; i < im->nobjs; i++) {
    struct im_obj *o = &im->objs[i];
    const struct im_obj *sr;
    const char *params[2];
    char srwhat[IM_REF_LEN];

    if (strcmp (o->cls, "VDI") != 0)
      continue;
    sr = find (im, xva_value_get_string (o->snap, "SR"), "SR");
    if (!im->metadata_only && !(sr && is_iso (sr->snap))) {
      o->candidate = 1; /* created if a VBD uses it */
      continue;
    }
    if (sr && is_iso (sr->snap)) {
      /* A CD image: the same one in the same ISO SR, else none. */
      const char *hit = sr->act == IM_MAP
                          ? vdi_at (c, sr->ref, get_str (o->snap, "location"))
                          : NULL;
      if (hit) {
        snprintf (o->ref, sizeof o->ref, "%s", hit);
        o->act = IM_MAP;
      }
      continue;
    }
    if (find_vdi (im, c, o, sr)) {
      o->act = IM_MAP;
      continue;
    }
    if (im->force)
      continue; /* skipped, and its Disk VBDs with it */
    snprintf (srwhat, sizeof srwhat, "%s",
              sr && sr->act == IM_MAP ? sr->ref
              : sr                    ? get_str (sr->snap, "uuid")
                                      : "");
    params[0] = srwhat;
    params[1] = get_str (o->snap, "location");
    return Xva_import_fail (im, XVA_ENOTFOUND, 404, "VDI_LOCATION_MISSING",
                            params, 2,
                            "VDI %s (%s, location %s) of the "
                            "archive is not in SR %s",
                            o->id, get_str (o->snap, "name_label"), params[1],
                            srwhat[0] ? srwhat : "(unknown)");
  }
  return XVA_OK;
}

/* Restore: checks against an existing VM with the same uuid.  Returns
 * 1 to import, 0 to skip the VM (force), < 0 failed. */
static int
plan_replace (struct Xva_import *im, struct im_obj *o)
{
  char ref[IM_REF_LEN], cls[XVA_STORE_CLASS_MAX + 1];
  char vs[2][32];
  struct xva_value *old = NULL;
  const char *ps, *params[3];
  int64_t oldv, newv = Xva_value_int_or (o->snap, "version", 0);
  int r;

  r = Xva_store_find_uuid (im->s, NULL, "VM", get_str (o->snap, "uuid"), ref,
                           NULL);
  if (r == XVA_ENOTFOUND) {
    o->version = 0;
    return 1;
  }
  if (r == XVA_OK)
    r = Xva_store_get (im->s, NULL, ref, cls, &old);
  if (r < 0)
    return Xva_import_fail (im, r, 500, "INTERNAL_ERROR", NULL, 0, "%s",
                            Xva_store_errmsg (im->s));
  ps = get_str (old, "power_state");
  if (strcmp (ps, "Halted") != 0) {
    if (im->force) {
      xva_value_free (old);
      return 0;
    }
    params[0] = ref;
    params[1] = "Halted";
    params[2] = ps;
    r = Xva_import_fail (im, XVA_ESTATE, 409, "VM_BAD_POWER_STATE", params, 3,
                         "VM %s (%s) to be replaced is %s, not Halted", ref,
                         get_str (o->snap, "uuid"), ps);
    goto out;
  }
  oldv = Xva_value_int_or (old, "version", 0);
  if (oldv >= newv && !im->force) {
    snprintf (vs[0], sizeof vs[0], "%" PRId64, oldv);
    snprintf (vs[1], sizeof vs[1], "%" PRId64, newv);
    params[0] = ref;
    params[1] = vs[0];
    params[2] = vs[1];
    r = Xva_import_fail (im, XVA_EEXIST, 409,
                         "VM_TO_IMPORT_IS_NOT_NEWER_VERSION", params, 3,
                         "VM %s has version %s; the archive's is %s, not "
                         "newer",
                         ref, vs[0], vs[1]);
    goto out;
  }
  r = im->dry_run ? (Xva_store_busy (im->s, ref) ? XVA_EEXIST : XVA_OK)
                  : Xva_import_hold (im, ref, 1);
  if (r < 0 && r != XVA_EEXIST) {
    r = nomem (im);
    goto out;
  }
  if (r == XVA_EEXIST) {
    params[0] = "VM";
    params[1] = ref;
    r = Xva_import_fail (im, XVA_ESTATE, 409, "OTHER_OPERATION_IN_PROGRESS",
                         params, 2,
                         "VM %s to be replaced is busy (an export "
                         "or import is using it)",
                         ref);
    goto out;
  }
  {
    char (*nr)[IM_REF_LEN] = realloc (im->repl, (im->nrepl + 1) * sizeof *nr);
    if (nr == NULL) {
      r = nomem (im);
      goto out;
    }
    im->repl = nr;
    memcpy (im->repl[im->nrepl], ref, sizeof ref);
    o->replaces = (long) im->nrepl++;
  }
  o->version = oldv + 1;
  r = 1;
out:
  xva_value_free (old);
  return r;
}

/* Restore: a mac_seed that another VM (not a snapshot, not replaced)
 * has. */
static int
check_mac_seed (struct Xva_import *im, struct cache *c, const struct im_obj *o)
{
  const char *seed = xva_value_get_string (xva_value_get (o->snap,
                                                          "other_config"),
                                           "mac_seed");
  const char *uuid = get_str (o->snap, "uuid");
  size_t i, k;
  int r;

  if (seed == NULL || seed[0] == '\0')
    return XVA_OK;
  r = cached (im, "VM", &c->vms, &c->have_vms);
  if (r < 0)
    return r;
  for (i = 0; i < c->vms.n; i++) {
    const struct xva_value *v = c->vms.recs[i];
    const char *s = xva_value_get_string (xva_value_get (v, "other_config"),
                                          "mac_seed");
    int replaced = 0;

    if (s == NULL || strcmp (s, seed) != 0
        || Xva_value_bool_or (v, "is_a_snapshot", 0)
        || strcmp (get_str (v, "uuid"), uuid) == 0)
      continue;
    for (k = 0; k < im->nrepl; k++)
      if (strcmp (im->repl[k], c->vms.refs[i]) == 0)
        replaced = 1;
    if (replaced)
      continue;
    return Xva_import_fail (im, XVA_EEXIST, 409, "DUPLICATE_MAC_SEED", &seed,
                            1,
                            "VM %s has the mac_seed %s of the archive's "
                            "VM %s",
                            c->vms.refs[i], seed, uuid);
  }
  return XVA_OK;
}

static int
plan_vms (struct Xva_import *im, struct cache *c)
{
  size_t i;
  int r;

  for (i = 0; i < im->nobjs; i++) {
    struct im_obj *o = &im->objs[i];

    if (strcmp (o->cls, "VM") != 0)
      continue;
    o->snapshot = Xva_value_bool_or (o->snap, "is_a_snapshot", 0);
    if (Xva_store_new_ref (o->ref) < 0)
      return nomem (im);
    if (im->restore) {
      r = plan_replace (im, o);
      if (r < 0)
        return r;
      if (r == 0)
        continue;
      snprintf (o->uuid, sizeof o->uuid, "%s", get_str (o->snap, "uuid"));
      if (o->uuid[0] == '\0' && Xva_store_new_uuid (o->uuid) < 0)
        return nomem (im);
    }
    else {
      o->version = 0;
      if (Xva_store_new_uuid (o->uuid) < 0)
        return nomem (im);
    }
    o->act = IM_CREATE;
  }
  if (im->restore)
    for (i = 0; i < im->nobjs; i++) {
      struct im_obj *o = &im->objs[i];
      if (strcmp (o->cls, "VM") == 0 && o->act == IM_CREATE && !o->snapshot
          && (r = check_mac_seed (im, c, o)) < 0)
        return r;
    }
  return XVA_OK;
}

/* Is the VDI object usable (kept or to be created)? */
static int
vdi_usable (const struct im_obj *v)
{
  return v && (v->act != IM_NONE || v->candidate);
}

static void
use_vdi (struct im_obj *v)
{
  if (v && v->candidate)
    v->act = IM_CREATE;
}

/* Restore keeps a VBD's or VIF's uuid unless another object that stays
 * has it. */
static int
keep_uuid (struct Xva_import *im, struct im_obj *o)
{
  const char *u = get_str (o->snap, "uuid");
  char ref[IM_REF_LEN];
  struct xva_value *rec = NULL;
  int r, keep = 0;
  size_t k;

  if (u[0] == '\0' || strlen (u) >= sizeof o->uuid)
    return 0;
  r = Xva_store_find_uuid (im->s, NULL, o->cls, u, ref, NULL);
  if (r == XVA_ENOTFOUND)
    keep = 1;
  else if (r == XVA_OK
           && Xva_store_get (im->s, NULL, ref, NULL, &rec) == XVA_OK)
    for (k = 0; k < im->nrepl; k++)
      if (strcmp (get_str (rec, "VM"), im->repl[k]) == 0)
        keep = 1;
  xva_value_free (rec);
  if (keep)
    snprintf (o->uuid, sizeof o->uuid, "%s", u);
  return keep;
}

static int
plan_devices (struct Xva_import *im)
{
  size_t i;

  for (i = 0; i < im->nobjs; i++) {
    struct im_obj *o = &im->objs[i], *vm, *vdi, *net;
    int vbd = strcmp (o->cls, "VBD") == 0;

    if (!vbd && strcmp (o->cls, "VIF") != 0)
      continue;
    vm = find (im, xva_value_get_string (o->snap, "VM"), "VM");
    if (vm == NULL || vm->act != IM_CREATE)
      continue;
    if (vbd) {
      const char *type = get_str (o->snap, "type");
      vdi = find (im, xva_value_get_string (o->snap, "VDI"), "VDI");
      if (!Xva_value_bool_or (o->snap, "empty", 0) && !vdi_usable (vdi)
          && strcasecmp (type, "CD") != 0)
        continue; /* a Disk without its VDI */
      if (!Xva_value_bool_or (o->snap, "empty", 0))
        use_vdi (vdi);
    }
    else {
      net = find (im, xva_value_get_string (o->snap, "network"), "network");
      if (net == NULL)
        continue;
      net->candidate = 1; /* used */
    }
    if (Xva_store_new_ref (o->ref) < 0)
      return nomem (im);
    if (!(im->restore && keep_uuid (im, o))
        && Xva_store_new_uuid (o->uuid) < 0)
      return nomem (im);
    o->act = IM_CREATE;
  }
  /* The suspend image of a VM that stays suspended. */
  for (i = 0; i < im->nobjs; i++) {
    struct im_obj *o = &im->objs[i], *vdi;
    if (strcmp (o->cls, "VM") == 0 && o->act == IM_CREATE
        && strcmp (get_str (o->snap, "power_state"), "Suspended") == 0) {
      vdi = find (im, xva_value_get_string (o->snap, "suspend_VDI"), "VDI");
      if (vdi_usable (vdi))
        use_vdi (vdi);
    }
  }
  /* The VDIs to create get new uuids; their location is the uuid. */
  for (i = 0; i < im->nobjs; i++) {
    struct im_obj *o = &im->objs[i];
    if (strcmp (o->cls, "VDI") == 0 && o->act == IM_CREATE
        && new_ref_uuid (o) < 0)
      return nomem (im);
  }
  return XVA_OK;
}

/* Networks used by a created VIF: by name_label, then bridge, else
 * created. */
static int
plan_networks (struct Xva_import *im, struct cache *c)
{
  size_t i, k;
  int r;

  for (i = 0; i < im->nobjs; i++) {
    struct im_obj *o = &im->objs[i];
    struct Xva_store_list l;
    const char *bridge;

    if (strcmp (o->cls, "network") != 0 || !o->candidate)
      continue;
    r = Xva_store_by_name (im->s, NULL, "network",
                           get_str (o->snap, "name_label"), 0, &l);
    if (r < 0)
      return Xva_import_fail (im, r, 500, "INTERNAL_ERROR", NULL, 0, "%s",
                              Xva_store_errmsg (im->s));
    if (l.n > 0) {
      snprintf (o->ref, sizeof o->ref, "%s", l.refs[0]);
      o->act = IM_MAP;
    }
    Xva_store_list_free (&l);
    if (o->act == IM_MAP)
      continue;
    bridge = get_str (o->snap, "bridge");
    if (bridge[0]) {
      r = cached (im, "network", &c->nets, &c->have_nets);
      if (r < 0)
        return r;
      for (k = 0; k < c->nets.n && o->act != IM_MAP; k++)
        if (strcmp (get_str (c->nets.recs[k], "bridge"), bridge) == 0) {
          snprintf (o->ref, sizeof o->ref, "%s", c->nets.refs[k]);
          o->act = IM_MAP;
        }
    }
    if (o->act == IM_MAP)
      continue;
    if (new_ref_uuid (o) < 0)
      return nomem (im);
    o->act = IM_CREATE;
  }
  return XVA_OK;
}

/* ---- Records ------------------------------------------------------------- */

static int
generation_id (char *buf, size_t len)
{
  uint32_t a[2];

  if (random_fill (a, sizeof a) < 0)
    return -1;
  snprintf (buf, len, "%" PRIu32 ":%" PRIu32, a[0], a[1]);
  return 0;
}

static int
make_vm (struct Xva_import *im, struct im_obj *o)
{
  struct xva_value *r = o->rec, *oc;
  const struct im_obj *susp = NULL;
  char seed[IM_UUID_LEN], gen[32];
  int e = 0;

  if (strcmp (get_str (o->snap, "power_state"), "Suspended") == 0) {
    susp = find (im, xva_value_get_string (o->snap, "suspend_VDI"), "VDI");
    if (susp && susp->act == IM_NONE)
      susp = NULL;
  }
  oc = xva_value_copy (xva_value_get (o->snap, "other_config"));
  if (oc == NULL || xva_value_type (oc) != XVA_TYPE_STRUCT) {
    xva_value_free (oc);
    oc = xva_value_new_struct ();
  }
  if (oc == NULL)
    return -1;
  if (!im->restore) {
    if (Xva_store_new_uuid (seed) < 0
        || xva_value_set_string (oc, "mac_seed", seed) < 0) {
      xva_value_free (oc);
      return -1;
    }
    if (!Xva_value_bool_or (o->snap, "is_a_template", 0)) {
      if (generation_id (gen, sizeof gen) < 0)
        e |= -1;
      else
        e |= put_str (r, "generation_id", gen);
    }
  }
  e |= xva_value_set_string (oc, "import_task", im->task_uuid);
  e |= put (r, "other_config", oc);
  e |= put_str (r, "uuid", o->uuid);
  if (!im->force)
    e |= put (r, "is_default_template", xva_value_new_bool (0));
  e |= put (r, "version", xva_value_new_int (o->version));
  e |= put_str (r, "power_state", susp ? "Suspended" : "Halted");
  e |= put_str (r, "suspend_VDI", susp ? susp->ref : IM_NULL_REF);
  e |= clear_ops (r);
  e |= put (r, "VBDs", created_set (im, "VBD", "VM", o->id));
  e |= put (r, "VIFs", created_set (im, "VIF", "VM", o->id));
  e |= Xva_value_map_set (r, "snapshots", "VM", target_of, im);
  e |= Xva_value_map_set (r, "children", "VM", target_of, im);
  e |= Xva_value_map_ref (r, "snapshot_of", "VM", target_of, im);
  e |= Xva_value_map_ref (r, "parent", "VM", target_of, im);
  e |= Xva_value_map_ref (r, "affinity", "host", target_of, im);
  e |= put_str (r, "resident_on", IM_NULL_REF);
  e |= put_str (r, "metrics", IM_NULL_REF);
  e |= put_str (r, "guest_metrics", IM_NULL_REF);
  e |= Xva_value_replace_null (r, "scheduled_to_be_resident_on");
  e |= Xva_value_clear_vm_links (r);
  e |= Xva_value_replace_empty (r, "groups", XVA_TYPE_ARRAY);
  e |= Xva_value_replace (r, "domid", xva_value_new_int (-1));
  return e;
}

static int
make_vbd (struct Xva_import *im, struct im_obj *o)
{
  struct xva_value *r = o->rec;
  const char *vdi = IM_NULL_REF;
  int e = 0;

  if (!Xva_value_bool_or (o->snap, "empty", 0))
    vdi = target (im, xva_value_get_string (o->snap, "VDI"), "VDI");
  e |= put_str (r, "uuid", o->uuid);
  e |= put_str (r, "VM",
                target (im, xva_value_get_string (o->snap, "VM"), "VM"));
  e |= put_str (r, "VDI", vdi);
  e |= put (r, "empty", xva_value_new_bool (strcmp (vdi, IM_NULL_REF) == 0));
  e |= put_str (r, "device", "");
  e |= put (r, "currently_attached", xva_value_new_bool (0));
  e |= clear_ops (r);
  e |= Xva_value_replace_null (r, "metrics");
  return e;
}

static int
make_vif (struct Xva_import *im, struct im_obj *o)
{
  struct xva_value *r = o->rec;
  char mac[18];
  int e = 0;

  e |= put_str (r, "uuid", o->uuid);
  e |= put_str (r, "VM",
                target (im, xva_value_get_string (o->snap, "VM"), "VM"));
  e |= put_str (r, "network",
                target (im, xva_value_get_string (o->snap, "network"),
                        "network"));
  if (!im->restore || get_str (o->snap, "MAC")[0] == '\0') {
    if (Xva_import_new_mac (mac) < 0)
      return -1;
    e |= put_str (r, "MAC", mac);
    e |= put (r, "MAC_autogenerated", xva_value_new_bool (1));
  }
  e |= put (r, "currently_attached", xva_value_new_bool (0));
  e |= clear_ops (r);
  e |= Xva_value_replace_null (r, "metrics");
  e |= Xva_value_replace_empty (r, "ipv4_allowed", XVA_TYPE_ARRAY);
  e |= Xva_value_replace_empty (r, "ipv6_allowed", XVA_TYPE_ARRAY);
  return e;
}

static int
make_network (struct Xva_import *im, struct im_obj *o)
{
  struct xva_value *r = o->rec;
  int e = 0;

  e |= put_str (r, "uuid", o->uuid);
  e |= put (r, "VIFs", created_set (im, "VIF", "network", o->id));
  e |= Xva_value_replace_empty (r, "PIFs", XVA_TYPE_ARRAY);
  e |= Xva_value_replace (r, "blobs", xva_value_new_struct ());
  e |= clear_ops (r);
  return e;
}

static int
make_vdi (struct Xva_import *im, struct im_obj *o)
{
  struct xva_value *r = o->rec, *sm;
  int e = 0;

  sm = xva_value_copy (xva_value_get (o->snap, "sm_config"));
  if (sm == NULL || xva_value_type (sm) != XVA_TYPE_STRUCT) {
    xva_value_free (sm);
    sm = xva_value_new_struct ();
  }
  if (sm == NULL)
    return -1;
  e |= xva_value_set_string (sm, "import_task", im->task_uuid);
  xva_value_remove (sm, "vhd-parent");
  e |= put (r, "sm_config", sm);
  e |= put_str (r, "uuid", o->uuid);
  e |= put_str (r, "location", o->uuid);
  e |= put_str (r, "SR", im->sr_ref);
  e |= put (r, "VBDs", created_set (im, "VBD", "VDI", o->id));
  e |= clear_ops (r);
  e |= Xva_value_replace_empty (r, "crash_dumps", XVA_TYPE_ARRAY);
  e |= Xva_value_replace_empty (r, "snapshots", XVA_TYPE_ARRAY);
  e |= Xva_value_replace_null (r, "snapshot_of");
  e |= Xva_value_replace_null (r, "parent");
  e |= Xva_value_replace_null (r, "metadata_of_pool");
  e |= Xva_value_replace (r, "missing", xva_value_new_bool (0));
  return e;
}

static int
make_records (struct Xva_import *im)
{
  size_t i;

  for (i = 0; i < im->nobjs; i++) {
    struct im_obj *o = &im->objs[i];
    int e;

    if (o->act != IM_CREATE)
      continue;
    o->rec = xva_value_copy (o->snap);
    if (o->rec == NULL)
      return nomem (im);
    if (strcmp (o->cls, "VM") == 0)
      e = make_vm (im, o);
    else if (strcmp (o->cls, "VBD") == 0)
      e = make_vbd (im, o);
    else if (strcmp (o->cls, "VIF") == 0)
      e = make_vif (im, o);
    else if (strcmp (o->cls, "network") == 0)
      e = make_network (im, o);
    else
      e = make_vdi (im, o);
    if (e != 0)
      return nomem (im);
  }
  /* Back references in objects of the store. */
  for (i = 0; i < im->nobjs; i++) {
    const struct im_obj *o = &im->objs[i];
    int e = 0;

    if (o->act != IM_MAP)
      continue;
    if (strcmp (o->cls, "network") == 0)
      e = backrefs_to (im, o->ref, "VIFs", "VIF", "network", o->id);
    else if (strcmp (o->cls, "VDI") == 0)
      e = backrefs_to (im, o->ref, "VBDs", "VBD", "VDI", o->id);
    if (e < 0)
      return nomem (im);
  }
  if (!im->metadata_only && im->sr_ref[0]
      && backrefs_to (im, im->sr_ref, "VDIs", "VDI", NULL, NULL) < 0)
    return nomem (im);
  return XVA_OK;
}

/* ---- Staged images ------------------------------------------------------- */

static int
io_fail (struct Xva_import *im, int e, const char *what, const char *path)
{
  char msg[4200];

  if (e == ENOSPC || e == EFBIG || e == EDQUOT) {
    snprintf (msg, sizeof msg, "%s %s: %s", what, path, strerror (e));
    return Xva_import_sr_full (im, msg);
  }
  return Xva_import_fail (im, XVA_EIO, 500, "VDI_IO_ERROR", NULL, 0,
                          "%s %s: %s", what, path, strerror (e));
}

static int
stage (struct Xva_import *im)
{
  char path[4096];
  unsigned i;
  size_t k;
  int r;

  im->ndisks = xva_meta_ndisks (im->meta);
  if (im->ndisks) {
    im->disks = calloc (im->ndisks, sizeof *im->disks);
    if (im->disks == NULL)
      return nomem (im);
  }
  for (i = 0; i < im->ndisks; i++) {
    const struct xva_disk *d = xva_meta_disk (im->meta, i);
    struct im_obj *o = find (im, d->id, "VDI");

    im->disks[i].fd = -1;
    im->disks[i].obj = -1;
    im->disks[i].size = d->virtual_size;
    if (o && o->act == IM_CREATE) {
      im->disks[i].obj = o - im->objs;
      o->disk = (long) i;
    }
  }
  if (im->dry_run)
    return XVA_OK;
  for (k = 0; k < im->nobjs; k++) {
    struct im_obj *o = &im->objs[k];
    int64_t size;
    int fd;

    if (strcmp (o->cls, "VDI") != 0 || o->act != IM_CREATE)
      continue;
    size = Xva_value_int_or (o->snap, "virtual_size", -1);
    if (size < 0 || size > MAX_SIZE)
      return Xva_import_fail (im, XVA_EFORMAT, 400, "IMPORT_ERROR", NULL, 0,
                              "VDI %s: bad virtual_size", o->id);
    if (!im->staging) {
      r = Xva_store_staging_dir (im->s, im->sr_uuid, im->task_uuid, path,
                                 sizeof path);
      if (r == XVA_ENOSPC)
        return Xva_import_sr_full (im, Xva_store_errmsg (im->s));
      if (r < 0)
        return Xva_import_fail (im, r, 500, "INTERNAL_ERROR", NULL, 0, "%s",
                                Xva_store_errmsg (im->s));
      im->staging = 1;
    }
    r = Xva_store_staging_path (im->s, im->sr_uuid, im->task_uuid, o->uuid,
                                path, sizeof path);
    if (r < 0)
      return Xva_import_fail (im, r, 500, "INTERNAL_ERROR", NULL, 0, "%s",
                              Xva_store_errmsg (im->s));
    fd = open (path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd == -1)
      return io_fail (im, errno, "creating", path);
    if (ftruncate (fd, (off_t) size) == -1) {
      int e = errno;
      close (fd);
      return io_fail (im, e, "sizing", path);
    }
    if (o->disk >= 0)
      im->disks[o->disk].fd = fd;
    else
      close (fd);
  }
  return XVA_OK;
}

/* ---- The plan ------------------------------------------------------------ */

int
Xva_import_plan (struct Xva_import *im, const struct xva_meta *m)
{
  struct cache c;
  size_t i;
  int r;

  memset (&c, 0, sizeof c);
  if (im->planned)
    return Xva_import_fail (im, XVA_ESTATE, 500, "INTERNAL_ERROR", NULL, 0,
                            "ova.xml seen twice");
  im->planned = 1;
  im->meta = m;
  r = check_version (im, m);
  if (r < 0)
    goto out;
  im->nobjs = xva_meta_nobjects (m);
  if (im->nobjs) {
    im->objs = calloc (im->nobjs, sizeof *im->objs);
    im->by_id = calloc (im->nobjs, sizeof *im->by_id);
    if (im->objs == NULL || im->by_id == NULL) {
      r = nomem (im);
      goto out;
    }
  }
  for (i = 0; i < im->nobjs; i++) {
    im->objs[i].cls = xva_meta_object_class (m, i);
    im->objs[i].id = xva_meta_object_id (m, i);
    im->objs[i].snap = xva_meta_find (m, im->objs[i].id);
    im->objs[i].disk = -1;
    im->objs[i].replaces = -1;
    im->by_id[i].id = im->objs[i].id;
    im->by_id[i].i = i;
  }
  qsort (im->by_id, im->nobjs, sizeof *im->by_id, cmp_id);

  if ((r = plan_hosts_srs (im)) < 0 || (r = plan_vdis (im, &c)) < 0
      || (r = plan_vms (im, &c)) < 0 || (r = plan_devices (im)) < 0
      || (r = plan_networks (im, &c)) < 0 || (r = make_records (im)) < 0
      || (r = stage (im)) < 0)
    goto out;
  if (!im->dry_run)
    for (i = 0; i < im->nobjs; i++)
      if (strcmp (im->objs[i].cls, "VM") == 0 && im->objs[i].act == IM_CREATE
          && (r = Xva_import_hold (im, im->objs[i].ref, 0)) < 0) {
        r = nomem (im);
        goto out;
      }
  r = XVA_OK;
out:
  cache_free (&c);
  return r;
}

void
Xva_import_plan_free (struct Xva_import *im)
{
  size_t i;

  for (i = 0; i < im->ndisks; i++)
    if (im->disks[i].fd >= 0) {
      close (im->disks[i].fd);
      im->disks[i].fd = -1;
    }
  for (i = 0; i < im->nobjs; i++) {
    xva_value_free (im->objs[i].rec);
    im->objs[i].rec = NULL;
  }
}
