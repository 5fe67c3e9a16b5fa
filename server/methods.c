/* The per-class methods: getters of every class, pool.set_default_SR,
 * add_to_ / remove_from_other_config, VM.get_VBDs / get_VIFs and
 * VM.destroy. */
#include "server/srv-priv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "store/busy.h"

/* ---- Getters ------------------------------------------------------------ */

/* Replies with the refs of l (an array), or with a struct of its refs
 * and exported records when records; when vm is not NULL, only the
 * refs whose record's `VM` field is vm.  Frees l. */
static int
list_reply (struct Xva_rpc_ctx *c, struct Xva_store_list *l, int records,
            const char *vm)
{
  struct xva_value *v;
  const char *owner;
  size_t i;
  int r = 0;

  v = records ? xva_value_new_struct () : xva_value_new_array ();
  for (i = 0; v != NULL && i < l->n; i++) {
    if (vm != NULL) {
      owner = xva_value_get_string (l->recs[i], "VM");
      if (owner == NULL || strcmp (owner, vm) != 0)
        continue;
    }
    if (records)
      r = xva_value_set (v, l->refs[i], Xva_rec_export (c->cls, l->recs[i]));
    else
      r = xva_value_append (v, xva_value_new_string (l->refs[i]));
    if (r < 0) {
      xva_value_free (v);
      v = NULL;
    }
  }
  Xva_store_list_free (l);
  return Xva_rpc_ok (c, v);
}

/* <class>.get_all (records 0) and get_all_records (1). */
static int
get_all (struct Xva_rpc_ctx *c, int records)
{
  struct Xva_store_list l;
  int r;

  r = Xva_store_list (c->srv->store, NULL, c->cls->name, records, &l);
  if (r < 0)
    return Xva_rpc_store_fail (c, r);
  return list_reply (c, &l, records, NULL);
}

int
Xva_m_get_all (struct Xva_rpc_ctx *c)
{
  return get_all (c, 0);
}

int
Xva_m_get_all_records (struct Xva_rpc_ctx *c)
{
  return get_all (c, 1);
}

int
Xva_m_get_record (struct Xva_rpc_ctx *c)
{
  const char *ref;
  struct xva_value *rec;
  int r;

  r = Xva_rpc_self (c, "self", &ref, &rec);
  if (r < 0)
    return r;
  return Xva_rpc_ok (c, rec);
}

int
Xva_m_get_by_uuid (struct Xva_rpc_ctx *c)
{
  char ref[XVA_STORE_REF_MAX + 1], shown[XVA_STORE_UUID_MAX + 1];
  const char *uuid = Xva_rpc_arg (c, 1);
  int r = XVA_ENOTFOUND;

  if (uuid == NULL)
    return Xva_rpc_type_error (c, "uuid");
  if (uuid[0] != '\0' && strlen (uuid) <= XVA_STORE_UUID_MAX)
    r = Xva_store_find_uuid (c->srv->store, NULL, c->cls->name, uuid, ref,
                             NULL);
  if (r == XVA_ENOTFOUND || r == XVA_EINVAL) {
    Xva_srv_clean (shown, sizeof shown, uuid);
    return Xva_rpc_fail (c, "UUID_INVALID", c->cls->name, shown, NULL);
  }
  if (r < 0)
    return Xva_rpc_store_fail (c, r);
  return Xva_rpc_ok_str (c, ref);
}

int
Xva_m_get_by_name_label (struct Xva_rpc_ctx *c)
{
  struct Xva_store_list l = { 0, NULL, NULL };
  const char *name = Xva_rpc_arg (c, 1);
  int r;

  if (name == NULL)
    return Xva_rpc_type_error (c, "label");
  if (strlen (name) <= XVA_STORE_NAME_MAX) {
    r = Xva_store_by_name (c->srv->store, NULL, c->cls->name, name, 0, &l);
    if (r < 0)
      return Xva_rpc_store_fail (c, r);
  }
  return list_reply (c, &l, 0, NULL);
}

int
Xva_m_get_field (struct Xva_rpc_ctx *c)
{
  const char *ref;
  struct xva_value *rec, *v;
  int r;

  r = Xva_rpc_self (c, "self", &ref, &rec);
  if (r < 0)
    return r;
  v = xva_value_get (rec, c->field);
  v = v ? xva_value_copy (v) : xva_value_new_string ("");
  xva_value_free (rec);
  return Xva_rpc_ok (c, v);
}

/* ---- pool.set_default_SR ------------------------------------------------ */

int
Xva_m_pool_set_default_sr (struct Xva_rpc_ctx *c)
{
  char shown[XVA_SRV_REF_MAX + 1];
  const char *pool = Xva_rpc_arg (c, 1), *sr = Xva_rpc_arg (c, 2);
  struct Xva_store *s = c->srv->store;
  struct Xva_store_txn *t = NULL;
  struct xva_value *rec = NULL;
  int r;

  if (pool == NULL)
    return Xva_rpc_type_error (c, "self");
  if (sr == NULL)
    return Xva_rpc_type_error (c, "value");
  r = Xva_rpc_get_typed (c, pool, NULL);
  if (r < 0)
    return r;
  if (strcmp (sr, XVA_SRV_NULL_REF) != 0) {
    r = XVA_ENOTFOUND;
    if (sr[0] != '\0' && strlen (sr) <= XVA_SRV_REF_MAX)
      r = Xva_rpc_get_class (s, NULL, sr, "SR", NULL);
    if (r == XVA_ENOTFOUND) {
      Xva_srv_clean (shown, sizeof shown, sr);
      return Xva_rpc_fail (c, "HANDLE_INVALID", "SR", shown, NULL);
    }
    if (r < 0)
      return Xva_rpc_store_fail (c, r);
  }
  r = Xva_store_begin (s, &t);
  if (r == XVA_OK)
    r = Xva_store_get (s, t, pool, NULL, &rec);
  if (r == XVA_OK && xva_value_set_string (rec, "default_SR", sr) < 0)
    r = XVA_ENOMEM;
  if (r == XVA_OK)
    r = Xva_store_put (s, t, pool, "pool", rec);
  if (r == XVA_OK) {
    r = Xva_store_commit (t);
    t = NULL;
  }
  Xva_store_rollback (t);
  xva_value_free (rec);
  if (r == XVA_ENOTFOUND)
    return Xva_rpc_fail (c, "HANDLE_INVALID", "pool", pool, NULL);
  if (r < 0)
    return Xva_rpc_store_fail (c, r);
  Xva_event_add (c->srv, "pool", pool, "mod");
  return Xva_rpc_ok_str (c, "");
}

/* ---- add_to_<map>, remove_from_<map> ---------------------------------- */

/* Sets (value != NULL) or removes key in the map field c->field of the
 * object ref, in one transaction, and records a mod event when the
 * record changed.  Adding a key that is there fails with
 * MAP_DUPLICATE_KEY [class, field, ref, key]; removing one that is not
 * there is no error (as on xapi). */
static int
map_update (struct Xva_rpc_ctx *c, const char *ref, const char *key,
            const char *value)
{
  char shown[XVA_SRV_REF_MAX + 1], kshown[XVA_SRV_MAP_KEY_MAX + 1];
  struct Xva_store *s = c->srv->store;
  struct Xva_store_txn *t = NULL;
  struct xva_value *rec = NULL, *map;
  int r, changed = 0, dup = 0, full = 0;

  r = Xva_rpc_get_typed (c, ref, NULL);
  if (r < 0)
    return r;
  r = Xva_store_begin (s, &t);
  if (r == XVA_OK)
    r = Xva_rpc_get_class (s, t, ref, c->cls->name, &rec);
  if (r < 0)
    goto out;
  map = xva_value_get (rec, c->field);
  if (xva_value_type (map) != XVA_TYPE_STRUCT) {
    /* Absent (or not a map): an empty one. */
    if (value == NULL)
      goto out;
    if (xva_value_set (rec, c->field, xva_value_new_struct ()) < 0) {
      r = XVA_ENOMEM;
      goto out;
    }
    map = xva_value_get (rec, c->field);
  }
  if (value == NULL) {
    changed = xva_value_remove (map, key) == 0;
  }
  else if (xva_value_get (map, key) != NULL)
    dup = 1;
  else if (xva_value_len (map) >= XVA_SRV_MAP_ENTRIES_MAX)
    full = 1;
  else {
    if (xva_value_set_string (map, key, value) < 0) {
      r = XVA_ENOMEM;
      goto out;
    }
    changed = 1;
  }
  if (changed) {
    r = Xva_store_put (s, t, ref, c->cls->name, rec);
    if (r == XVA_OK) {
      r = Xva_store_commit (t);
      t = NULL;
    }
  }

out:
  Xva_store_rollback (t);
  xva_value_free (rec);
  Xva_srv_clean (shown, sizeof shown, ref);
  if (r == XVA_ENOTFOUND || r == XVA_EINVAL)
    return Xva_rpc_fail (c, "HANDLE_INVALID", c->cls->name, shown, NULL);
  if (r < 0)
    return Xva_rpc_store_fail (c, r);
  if (dup) {
    Xva_srv_clean (kshown, sizeof kshown, key);
    return Xva_rpc_fail (c, "MAP_DUPLICATE_KEY", c->cls->name, c->field, shown,
                         kshown, NULL);
  }
  if (full)
    return Xva_rpc_fail (c, "VALUE_NOT_SUPPORTED", c->field, "(map)",
                         "too many entries", NULL);
  if (changed)
    Xva_event_add (c->srv, c->cls->name, ref, "mod");
  return Xva_rpc_ok_str (c, "");
}

int
Xva_m_map_add (struct Xva_rpc_ctx *c)
{
  const char *ref = Xva_rpc_arg (c, 1), *key = Xva_rpc_arg (c, 2);
  const char *value = Xva_rpc_arg (c, 3);

  if (ref == NULL)
    return Xva_rpc_type_error (c, "self");
  if (key == NULL)
    return Xva_rpc_type_error (c, "key");
  if (value == NULL)
    return Xva_rpc_type_error (c, "value");
  if (strlen (key) > XVA_SRV_MAP_KEY_MAX)
    return Xva_rpc_fail (c, "VALUE_NOT_SUPPORTED", "key", "(too long)",
                         "the key is too long", NULL);
  if (strlen (value) > XVA_SRV_MAP_VALUE_MAX)
    return Xva_rpc_fail (c, "VALUE_NOT_SUPPORTED", "value", "(too long)",
                         "the value is too long", NULL);
  return map_update (c, ref, key, value);
}

int
Xva_m_map_remove (struct Xva_rpc_ctx *c)
{
  const char *ref = Xva_rpc_arg (c, 1), *key = Xva_rpc_arg (c, 2);

  if (ref == NULL)
    return Xva_rpc_type_error (c, "self");
  if (key == NULL)
    return Xva_rpc_type_error (c, "key");
  if (strlen (key) > XVA_SRV_MAP_KEY_MAX)
    return Xva_rpc_ok_str (c, ""); /* cannot be there */
  return map_update (c, ref, key, NULL);
}

/* ---- VM.get_VBDs, VM.get_VIFs -------------------------------------------- */

/* The refs of class cls whose `VM` field is vm. */
static int
devices_of (struct Xva_rpc_ctx *c, const char *cls)
{
  struct Xva_store_list l;
  const char *vm;
  int r;

  r = Xva_rpc_self (c, "self", &vm, NULL);
  if (r < 0)
    return r;
  r = Xva_store_list (c->srv->store, NULL, cls, 1, &l);
  if (r < 0)
    return Xva_rpc_store_fail (c, r);
  return list_reply (c, &l, 0, vm);
}

int
Xva_m_vm_get_vbds (struct Xva_rpc_ctx *c)
{
  return devices_of (c, "VBD");
}

int
Xva_m_vm_get_vifs (struct Xva_rpc_ctx *c)
{
  return devices_of (c, "VIF");
}

/* ---- VM.destroy ------------------------------------------------------------ */

/* A growing set of strings. */
struct strset {
  char **v;
  size_t n, cap;
};

static int
set_has (const struct strset *s, const char *x)
{
  size_t i;

  for (i = 0; i < s->n; i++)
    if (strcmp (s->v[i], x) == 0)
      return 1;
  return 0;
}

/* Adds x unless it is there.  0 or XVA_ENOMEM. */
static int
set_add (struct strset *s, const char *x)
{
  char **nv;

  if (set_has (s, x))
    return 0;
  if (s->n == s->cap) {
    size_t cap = s->cap ? s->cap * 2 : 8;
    nv = realloc (s->v, cap * sizeof *nv);
    if (nv == NULL)
      return XVA_ENOMEM;
    s->v = nv;
    s->cap = cap;
  }
  s->v[s->n] = strdup (x);
  if (s->v[s->n] == NULL)
    return XVA_ENOMEM;
  s->n++;
  return 0;
}

static void
set_free (struct strset *s)
{
  size_t i;

  for (i = 0; i < s->n; i++)
    free (s->v[i]);
  free (s->v);
  memset (s, 0, sizeof *s);
}

static int
is_null_ref (const char *r)
{
  return r == NULL || r[0] == '\0' || strcmp (r, XVA_SRV_NULL_REF) == 0;
}

/* Removes the refs in drop from the set field of object ref (class
 * cls), in t.  1 if it changed, 0 if not (or no such object), < 0. */
static int
drop_from_field (struct Xva_store *s, struct Xva_store_txn *t, const char *ref,
                 const char *cls, const char *field, const struct strset *drop)
{
  struct xva_value *rec = NULL, *old, *nv = NULL;
  size_t i;
  int r, changed = 0;

  r = Xva_rpc_get_class (s, t, ref, cls, &rec);
  if (r == XVA_ENOTFOUND)
    return 0;
  if (r < 0)
    return r;
  old = xva_value_get (rec, field);
  if (xva_value_type (old) != XVA_TYPE_ARRAY)
    goto out;
  nv = xva_value_new_array ();
  if (nv == NULL) {
    r = XVA_ENOMEM;
    goto out;
  }
  for (i = 0; i < xva_value_len (old); i++) {
    const struct xva_value *it = xva_value_at (old, i);
    const char *x = xva_value_string (it);
    if (x && set_has (drop, x)) {
      changed = 1;
      continue;
    }
    if (xva_value_append (nv, xva_value_copy (it)) < 0) {
      r = XVA_ENOMEM;
      goto out;
    }
  }
  if (changed) {
    r = xva_value_set (rec, field, nv) < 0 ? XVA_ENOMEM : XVA_OK;
    nv = NULL;
    if (r == XVA_OK)
      r = Xva_store_put (s, t, ref, cls, rec);
  }

out:
  xva_value_free (nv);
  xva_value_free (rec);
  return r < 0 ? r : changed;
}

/* What a destroy removes and changes. */
struct destroy {
  struct strset vbds, vifs, vdis, others; /* deleted */
  struct strset files; /* "<sr uuid>/<vdi uuid>" images to remove */
  struct strset mod_vdis, mod_nets, mod_srs;
  struct strset nets, srs; /* of the deleted VIFs and VDIs */
};

static void
destroy_free (struct destroy *d)
{
  set_free (&d->vbds);
  set_free (&d->vifs);
  set_free (&d->vdis);
  set_free (&d->others);
  set_free (&d->files);
  set_free (&d->mod_vdis);
  set_free (&d->mod_nets);
  set_free (&d->mod_srs);
  set_free (&d->nets);
  set_free (&d->srs);
}

/* Decides the fate of VDI vdi (used by the VM's devices): removed with
 * its image when no VBD of another VM uses it and it is no ISO. */
static int
plan_vdi (struct Xva_store *s, struct Xva_store_txn *t, const char *vm,
          const char *vdi, const struct Xva_store_list *vbds,
          struct destroy *d)
{
  char file[2 * XVA_STORE_UUID_LEN + 2];
  struct xva_value *rec = NULL, *sr = NULL;
  const char *sr_ref, *sr_uuid, *loc, *ct;
  size_t i;
  int r;

  for (i = 0; i < vbds->n; i++) {
    const char *owner = xva_value_get_string (vbds->recs[i], "VM");
    const char *used = xva_value_get_string (vbds->recs[i], "VDI");
    if (used && strcmp (used, vdi) == 0 && !(owner && strcmp (owner, vm) == 0))
      return set_add (&d->mod_vdis, vdi); /* shared: kept */
  }
  r = Xva_rpc_get_class (s, t, vdi, "VDI", &rec);
  if (r == XVA_ENOTFOUND)
    return 0; /* a dangling ref: nothing to remove */
  if (r < 0)
    return r;
  sr_ref = xva_value_get_string (rec, "SR");
  if (!is_null_ref (sr_ref)
      && Xva_rpc_get_class (s, t, sr_ref, "SR", &sr) == XVA_OK) {
    ct = xva_value_get_string (sr, "content_type");
    if (ct && strcasecmp (ct, "iso") == 0) {
      r = set_add (&d->mod_vdis, vdi); /* an ISO library: kept */
      goto out;
    }
    sr_uuid = xva_value_get_string (sr, "uuid");
    loc = xva_value_get_string (rec, "location");
    if (!Xva_store_uuid_valid (loc))
      loc = xva_value_get_string (rec, "uuid");
    if (Xva_store_uuid_valid (sr_uuid) && Xva_store_uuid_valid (loc)) {
      snprintf (file, sizeof file, "%s/%s", sr_uuid, loc);
      if ((r = set_add (&d->files, file)) < 0
          || (r = set_add (&d->srs, sr_ref)) < 0)
        goto out;
    }
  }
  r = set_add (&d->vdis, vdi);

out:
  xva_value_free (sr);
  xva_value_free (rec);
  return r;
}

/* Plans and applies the destroy of vm in t. */
static int
destroy_in (struct Xva_store *s, struct Xva_store_txn *t, const char *vm,
            struct destroy *d)
{
  static const char *const aux[] = { "metrics", "guest_metrics", NULL };
  static const char *const aux_cls[] = { "VM_metrics", "VM_guest_metrics" };
  struct Xva_store_list vbds = { 0, NULL, NULL }, vifs = { 0, NULL, NULL };
  struct strset cand = { NULL, 0, 0 };
  char got[XVA_STORE_CLASS_MAX + 1];
  struct xva_value *rec = NULL;
  const char *x;
  size_t i;
  int r;

  r = Xva_store_get (s, t, vm, got, &rec);
  if (r == XVA_OK && strcmp (got, "VM") != 0)
    r = XVA_ENOTFOUND;
  if (r < 0)
    goto out;
  if ((r = Xva_store_list (s, t, "VBD", 1, &vbds)) < 0
      || (r = Xva_store_list (s, t, "VIF", 1, &vifs)) < 0)
    goto out;
  for (i = 0; i < vbds.n; i++) {
    const char *owner = xva_value_get_string (vbds.recs[i], "VM");
    const char *type = xva_value_get_string (vbds.recs[i], "type");
    if (owner == NULL || strcmp (owner, vm) != 0)
      continue;
    if ((r = set_add (&d->vbds, vbds.refs[i])) < 0)
      goto out;
    x = xva_value_get_string (vbds.recs[i], "VDI");
    if (!is_null_ref (x) && !(type && strcasecmp (type, "CD") == 0)
        && (r = set_add (&cand, x)) < 0)
      goto out;
  }
  x = xva_value_get_string (rec, "suspend_VDI");
  if (!is_null_ref (x) && (r = set_add (&cand, x)) < 0)
    goto out;
  for (i = 0; i < vifs.n; i++) {
    const char *owner = xva_value_get_string (vifs.recs[i], "VM");
    if (owner == NULL || strcmp (owner, vm) != 0)
      continue;
    if ((r = set_add (&d->vifs, vifs.refs[i])) < 0)
      goto out;
    x = xva_value_get_string (vifs.recs[i], "network");
    if (!is_null_ref (x) && (r = set_add (&d->nets, x)) < 0)
      goto out;
  }
  for (i = 0; i < cand.n; i++)
    if ((r = plan_vdi (s, t, vm, cand.v[i], &vbds, d)) < 0)
      goto out;

  /* Deletes. */
  for (i = 0; i < d->vbds.n; i++)
    if ((r = Xva_store_delete (s, t, d->vbds.v[i])) < 0)
      goto out;
  for (i = 0; i < d->vifs.n; i++)
    if ((r = Xva_store_delete (s, t, d->vifs.v[i])) < 0)
      goto out;
  for (i = 0; i < d->vdis.n; i++)
    if ((r = Xva_store_delete (s, t, d->vdis.v[i])) < 0)
      goto out;
  for (i = 0; aux[i] != NULL; i++) {
    x = xva_value_get_string (rec, aux[i]);
    if (!is_null_ref (x)
        && Xva_rpc_get_class (s, t, x, aux_cls[i], NULL) == XVA_OK) {
      if ((r = Xva_store_delete (s, t, x)) < 0
          || (r = set_add (&d->others, x)) < 0)
        goto out;
    }
  }
  if ((r = Xva_store_delete (s, t, vm)) < 0)
    goto out;

  /* What pointed at them. */
  for (i = 0; i < d->mod_vdis.n; i++)
    if ((r = drop_from_field (s, t, d->mod_vdis.v[i], "VDI", "VBDs", &d->vbds))
        < 0)
      goto out;
  for (i = 0; i < d->nets.n; i++) {
    r = drop_from_field (s, t, d->nets.v[i], "network", "VIFs", &d->vifs);
    if (r < 0 || (r == 1 && (r = set_add (&d->mod_nets, d->nets.v[i])) < 0))
      goto out;
  }
  for (i = 0; i < d->srs.n; i++) {
    r = drop_from_field (s, t, d->srs.v[i], "SR", "VDIs", &d->vdis);
    if (r < 0 || (r == 1 && (r = set_add (&d->mod_srs, d->srs.v[i])) < 0))
      goto out;
  }
  r = XVA_OK;

out:
  set_free (&cand);
  Xva_store_list_free (&vbds);
  Xva_store_list_free (&vifs);
  xva_value_free (rec);
  return r;
}

static void
destroy_events (struct Xva_srv *srv, const char *vm, const struct destroy *d)
{
  size_t i;

  for (i = 0; i < d->vbds.n; i++)
    Xva_event_add (srv, "VBD", d->vbds.v[i], "del");
  for (i = 0; i < d->vifs.n; i++)
    Xva_event_add (srv, "VIF", d->vifs.v[i], "del");
  for (i = 0; i < d->vdis.n; i++)
    Xva_event_add (srv, "VDI", d->vdis.v[i], "del");
  Xva_event_add (srv, "VM", vm, "del");
  for (i = 0; i < d->mod_vdis.n; i++)
    Xva_event_add (srv, "VDI", d->mod_vdis.v[i], "mod");
  for (i = 0; i < d->mod_nets.n; i++)
    Xva_event_add (srv, "network", d->mod_nets.v[i], "mod");
  for (i = 0; i < d->mod_srs.n; i++)
    Xva_event_add (srv, "SR", d->mod_srs.v[i], "mod");
}

int
Xva_m_vm_destroy (struct Xva_rpc_ctx *c)
{
  char state[32];
  const char *vm, *ps;
  struct Xva_store *s = c->srv->store;
  struct Xva_store_txn *t = NULL;
  struct xva_value *rec = NULL;
  struct destroy d;
  int r, ctl = 0;
  size_t i;

  r = Xva_rpc_self (c, "self", &vm, &rec);
  if (r < 0)
    return r;
  ps = xva_value_get_string (rec, "power_state");
  if (ps && strcasecmp (ps, "Halted") != 0
      && strcasecmp (ps, "Suspended") != 0) {
    for (i = 0; ps[i] != '\0' && i + 1 < sizeof state; i++)
      state[i] = (char) ((ps[i] >= 'A' && ps[i] <= 'Z') ? ps[i] + 32 : ps[i]);
    state[i] = '\0';
    xva_value_free (rec);
    return Xva_rpc_fail (c, "VM_BAD_POWER_STATE", vm, "halted", state, NULL);
  }
  xva_value_get_bool (xva_value_get (rec, "is_control_domain"), &ctl);
  xva_value_free (rec);
  if (ctl)
    return Xva_rpc_fail (c, "OPERATION_NOT_ALLOWED",
                         "the control domain cannot be destroyed", NULL);

  /* Held exclusively: no export reads it, no import replaces it. */
  r = Xva_store_busy_try (s, vm);
  if (r == XVA_EEXIST)
    return Xva_rpc_fail (c, "OTHER_OPERATION_IN_PROGRESS", "VM", vm, NULL);
  if (r < 0)
    return Xva_rpc_fail (c, "INTERNAL_ERROR", xva_strerror (r), NULL);
  memset (&d, 0, sizeof d);
  r = Xva_store_begin (s, &t);
  if (r == XVA_OK)
    r = destroy_in (s, t, vm, &d);
  if (r == XVA_OK) {
    r = Xva_store_commit (t);
    t = NULL;
  }
  Xva_store_rollback (t);
  Xva_store_busy_release (s, vm);
  if (r == XVA_ENOTFOUND) {
    destroy_free (&d);
    return Xva_rpc_fail (c, "HANDLE_INVALID", "VM", vm, NULL);
  }
  if (r < 0) {
    destroy_free (&d);
    return Xva_rpc_store_fail (c, r);
  }

  /* The records are gone: now their images. */
  for (i = 0; i < d.files.n; i++) {
    char *slash = strchr (d.files.v[i], '/');
    *slash = '\0';
    r = Xva_store_vdi_remove (s, d.files.v[i], slash + 1);
    if (r < 0)
      Xva_srv_logf (c->srv, "VM.destroy: %s", Xva_store_errmsg (NULL));
  }
  destroy_events (c->srv, vm, &d);
  destroy_free (&d);
  return Xva_rpc_ok_str (c, "");
}
