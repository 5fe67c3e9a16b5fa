/* Archive -> VM over the store: the import handle, the reader's sink,
 * the commit and the clean-up (design.md "How an import stays
 * atomic").  The plan itself is made in import/meta.c.
 *
 * Life of an import: Xva_import_new checks the target SR; feeding
 * bytes runs the reader, whose begin callback makes the plan and
 * creates the staged images, and whose pwrite callback writes checked
 * chunks into them; Xva_import_finish checks the archive is complete,
 * publishes the images and commits every record in one transaction.
 * Any failure (or cancellation) closes and removes the staged images
 * and the staging directory, and nothing reaches the database. */
#include "import/import-priv.h"

#include "store/busy.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/statvfs.h>
#include <unistd.h>

#define MAX_VDI_MAP 4096

/* ---- Errors ------------------------------------------------------------ */

int
Xva_import_fail (struct Xva_import *im, int status, int http, const char *code,
                 const char *const *params, size_t nparams, const char *fmt,
                 ...)
{
  struct xva_value *info;
  va_list ap;
  size_t i;

  if (im->state == IM_FAILED || im->error_info != NULL)
    return im->status < 0 ? im->status : status;
  im->status = status < 0 ? status : XVA_EIO;
  im->http = http;
  va_start (ap, fmt);
  vsnprintf (im->errmsg, sizeof im->errmsg, fmt, ap);
  va_end (ap);
  info = xva_value_new_array ();
  if (info && xva_value_append (info, xva_value_new_string (code)) < 0) {
    xva_value_free (info);
    info = NULL;
  }
  for (i = 0; info && i < nparams; i++)
    if (xva_value_append (info,
                          xva_value_new_string (params[i] ? params[i] : ""))
        < 0) {
      xva_value_free (info);
      info = NULL;
    }
  im->error_info = info;
  return im->status;
}

/* ---- Busy set, back references --------------------------------------- */

int
Xva_import_hold (struct Xva_import *im, const char *ref, int exclusive)
{
  char **nb, *copy;
  int r;

  nb = realloc (im->busy, (im->nbusy + 1) * sizeof *nb);
  if (nb == NULL)
    return XVA_ENOMEM;
  im->busy = nb;
  copy = strdup (ref);
  if (copy == NULL)
    return XVA_ENOMEM;
  r = exclusive ? Xva_store_busy_try (im->s, ref)
                : Xva_store_busy_acquire (im->s, ref);
  if (r < 0) {
    free (copy);
    return r;
  }
  im->busy[im->nbusy++] = copy;
  return XVA_OK;
}

static void
release_all (struct Xva_import *im)
{
  size_t i;

  for (i = 0; i < im->nbusy; i++) {
    Xva_store_busy_release (im->s, im->busy[i]);
    free (im->busy[i]);
  }
  im->nbusy = 0;
}

int
Xva_import_backref (struct Xva_import *im, const char *target,
                    const char *field, const char *ref, int add)
{
  struct im_backref *b;

  if (strncmp (target, "OpaqueRef:", 10) != 0
      || strcmp (target, IM_NULL_REF) == 0)
    return 0;
  if (im->nbrefs == im->cbrefs) {
    size_t n = im->cbrefs ? im->cbrefs * 2 : 16;
    b = realloc (im->brefs, n * sizeof *b);
    if (b == NULL)
      return -1;
    im->brefs = b;
    im->cbrefs = n;
  }
  b = &im->brefs[im->nbrefs++];
  snprintf (b->target, sizeof b->target, "%s", target);
  snprintf (b->ref, sizeof b->ref, "%s", ref);
  b->field = field;
  b->add = add;
  return 0;
}

/* ---- Clean-up ------------------------------------------------------------ */

/* The uuids of the VDIs the plan creates (pointers into the plan). */
static const char **
created_vdis (struct Xva_import *im, size_t *n)
{
  const char **v = calloc (im->nobjs ? im->nobjs : 1, sizeof *v);
  size_t i;

  *n = 0;
  if (v == NULL)
    return NULL;
  for (i = 0; i < im->nobjs; i++)
    if (im->objs[i].act == IM_CREATE && strcmp (im->objs[i].cls, "VDI") == 0)
      v[(*n)++] = im->objs[i].uuid;
  return v;
}

/* Removes everything of this import: images, staging, busy marks. */
static void
undo (struct Xva_import *im)
{
  const char **uuids;
  size_t n = 0;

  Xva_import_plan_free (im);
  if (im->staging) {
    uuids = created_vdis (im, &n);
    if (uuids)
      Xva_store_staging_abort (im->s, im->sr_uuid, im->task_uuid, uuids, n);
    else
      Xva_store_staging_remove (im->s, im->sr_uuid, im->task_uuid);
    free (uuids);
    im->staging = 0;
  }
  release_all (im);
}

/* Fails with the import's recorded error (or the given one) and cleans
 * up. */
static int
failed (struct Xva_import *im)
{
  if (im->state != IM_FAILED) {
    if (im->error_info == NULL && im->status == XVA_OK)
      Xva_import_fail (im, XVA_EIO, 500, "INTERNAL_ERROR", NULL, 0,
                       "import failed");
    undo (im);
    im->state = IM_FAILED;
  }
  return im->status;
}

static int
cancelled (struct Xva_import *im)
{
  Xva_import_fail (im, XVA_ECANCELLED, 500, "TASK_CANCELLED", NULL, 0,
                   "the import was cancelled");
  return failed (im);
}

int
Xva_import_sr_full (struct Xva_import *im, const char *msg)
{
  char need[32], avail[32], dir[4096];
  const char *params[2] = { need, avail };
  uint64_t total = 0, free_b = 0;
  struct statvfs sv;
  unsigned i;

  for (i = 0; i < im->ndisks; i++)
    if (im->disks && im->disks[i].obj >= 0)
      total += im->disks[i].size;
  if (Xva_store_sr_dir (im->s, im->sr_uuid, dir, sizeof dir) == XVA_OK
      && statvfs (dir, &sv) == 0)
    free_b = (uint64_t) sv.f_bavail * sv.f_frsize;
  snprintf (need, sizeof need, "%" PRIu64, total);
  snprintf (avail, sizeof avail, "%" PRIu64, free_b);
  return Xva_import_fail (im, XVA_ENOSPC, 507, "SR_FULL", params, 2,
                          "no space left in SR %s: %s", im->sr_uuid, msg);
}

/* Maps the reader's failure to XenAPI's error (unless one was already
 * recorded, for instance by the plan) and cleans up. */
static int
reader_failed (struct Xva_import *im, int st)
{
  const char *msg = xva_reader_errmsg (im->r);

  if (im->error_info == NULL) {
    if (st == XVA_ECANCELLED || atomic_load (&im->cancelled))
      return cancelled (im);
    if (st == XVA_ENOSPC)
      Xva_import_sr_full (im, msg);
    else if (st == XVA_ETRUNCATED)
      Xva_import_fail (im, st, 400, "IMPORT_ERROR_PREMATURE_EOF", NULL, 0,
                       "%s", msg);
    else if (st == XVA_EIO)
      Xva_import_fail (im, st, 500, "VDI_IO_ERROR", &msg, 1, "%s", msg);
    else if (st == XVA_ENOMEM)
      Xva_import_fail (im, st, 500, "INTERNAL_ERROR", &msg, 1, "%s", msg);
    else
      Xva_import_fail (im, st, 400, "IMPORT_ERROR", &msg, 1, "%s", msg);
  }
  return failed (im);
}

/* ---- The sink ------------------------------------------------------------ */

static int
sink_begin (void *opaque, const struct xva_meta *m)
{
  struct Xva_import *im = opaque;

  if (atomic_load (&im->cancelled)) {
    errno = ECANCELED;
    return -1;
  }
  if (Xva_import_plan (im, m) < 0) {
    errno = im->status == XVA_ENOSPC ? ENOSPC : EPROTO;
    return -1;
  }
  return 0;
}

static int
sink_pwrite (void *opaque, unsigned disk, const void *buf, size_t n,
             uint64_t off)
{
  struct Xva_import *im = opaque;

  if (atomic_load (&im->cancelled)) {
    errno = ECANCELED;
    return -1;
  }
  if (disk >= im->ndisks) {
    errno = EINVAL;
    return -1;
  }
  if (im->disks[disk].fd < 0)
    return 0; /* not imported: checked and dropped */
  return xva_pwrite_sparse (im->disks[disk].fd, buf, n, off);
}

static void
sink_notice (void *opaque, int status, const char *msg)
{
  struct Xva_import *im = opaque;

  if (status == XVA_ECHECKSUM)
    im->mismatches++;
  (void) msg;
}

/* ---- The handle ------------------------------------------------------------ */

static int
copy_map (struct Xva_import *im, const struct Xva_import_opts *o)
{
  size_t i;

  if (o->nvdi_map == 0)
    return XVA_OK;
  if (o->vdi_map == NULL || o->nvdi_map > MAX_VDI_MAP)
    return XVA_EINVAL;
  im->map = calloc (o->nvdi_map, sizeof *im->map);
  if (im->map == NULL)
    return XVA_ENOMEM;
  for (i = 0; i < o->nvdi_map; i++) {
    if (o->vdi_map[i].from == NULL || o->vdi_map[i].to == NULL)
      return XVA_EINVAL;
    im->map[i].from = strdup (o->vdi_map[i].from);
    im->map[i].to = strdup (o->vdi_map[i].to);
    im->nmap = i + 1;
    if (im->map[i].from == NULL || im->map[i].to == NULL)
      return XVA_ENOMEM;
  }
  return XVA_OK;
}

/* The target SR: sr_ref, else the pool's default. */
static int
find_sr (struct Xva_import *im, const char *sr_ref)
{
  char cls[XVA_STORE_CLASS_MAX + 1];
  struct xva_value *rec = NULL;
  const char *uuid, *ct;
  int r;

  if (sr_ref) {
    r = strlen (sr_ref) <= XVA_STORE_REF_MAX
          ? Xva_store_get (im->s, NULL, sr_ref, cls, &rec)
          : XVA_ENOTFOUND;
    if (r == XVA_OK && strcmp (cls, "SR") != 0)
      r = XVA_ENOTFOUND;
    if (r == XVA_ENOTFOUND) {
      const char *params[2] = { "SR", sr_ref };
      r = Xva_import_fail (im, XVA_ENOTFOUND, 404, "HANDLE_INVALID", params, 2,
                           "no SR %.255s", sr_ref);
      goto out;
    }
    snprintf (im->sr_ref, sizeof im->sr_ref, "%s", sr_ref);
  }
  else {
    r = Xva_store_default_sr (im->s, NULL, im->sr_ref);
    if (r == XVA_ENOTFOUND) {
      if (im->metadata_only) {
        im->sr_ref[0] = '\0'; /* metadata needs no target SR */
        return XVA_OK;
      }
      r = Xva_import_fail (im, XVA_ENOTFOUND, 404, "DEFAULT_SR_NOT_FOUND",
                           NULL, 0, "the pool has no default SR");
      goto out;
    }
    if (r == XVA_OK)
      r = Xva_store_get (im->s, NULL, im->sr_ref, cls, &rec);
  }
  if (r < 0) {
    r = Xva_import_fail (im, r, 500, "INTERNAL_ERROR", NULL, 0, "%s",
                         Xva_store_errmsg (im->s));
    goto out;
  }
  uuid = xva_value_get_string (rec, "uuid");
  ct = xva_value_get_string (rec, "content_type");
  if (!im->metadata_only && ct && strcasecmp (ct, "iso") == 0) {
    const char *params[2] = { im->sr_ref, "import" };
    r = Xva_import_fail (im, XVA_EINVAL, 400, "SR_OPERATION_NOT_SUPPORTED",
                         params, 2, "SR %s is an ISO SR", im->sr_ref);
    goto out;
  }
  if (!Xva_store_uuid_valid (uuid)) {
    r = Xva_import_fail (im, XVA_EINVAL, 500, "INTERNAL_ERROR", NULL, 0,
                         "SR %s has no usable uuid", im->sr_ref);
    goto out;
  }
  snprintf (im->sr_uuid, sizeof im->sr_uuid, "%s", uuid);
  r = XVA_OK;
out:
  xva_value_free (rec);
  return r;
}

int
Xva_import_new (struct Xva_store *s, const struct Xva_import_opts *o,
                struct Xva_import **out, char *err, size_t errlen)
{
  struct xva_reader_opts ro;
  struct xva_sink_io io;
  struct Xva_import *im;
  int r;

  if (err && errlen)
    err[0] = '\0';
  if (out == NULL)
    return XVA_EINVAL;
  *out = NULL;
  if (s == NULL || o == NULL) {
    if (err && errlen)
      snprintf (err, errlen, "Xva_import_new: bad arguments");
    return XVA_EINVAL;
  }
  im = calloc (1, sizeof *im);
  if (im == NULL)
    goto nomem;
  if (pthread_mutex_init (&im->plock, NULL) != 0) {
    free (im);
    goto nomem;
  }
  atomic_init (&im->cancelled, 0);
  im->s = s;
  im->state = IM_READING;
  im->restore = o->restore != 0;
  im->force = o->force != 0;
  im->metadata_only = o->metadata_only != 0;
  im->dry_run = im->metadata_only && o->dry_run;
  im->threads = o->threads;

  r = copy_map (im, o);
  if (r < 0) {
    Xva_import_fail (im, r, r == XVA_ENOMEM ? 500 : 400,
                     r == XVA_ENOMEM ? "INTERNAL_ERROR" : "INVALID_VALUE",
                     NULL, 0, "bad vdi: map");
    goto failed;
  }
  if (o->task_uuid) {
    if (!Xva_store_uuid_valid (o->task_uuid)) {
      Xva_import_fail (im, XVA_EINVAL, 500, "INTERNAL_ERROR", NULL, 0,
                       "task uuid '%.64s' is not a uuid", o->task_uuid);
      goto failed;
    }
    snprintf (im->task_uuid, sizeof im->task_uuid, "%s", o->task_uuid);
  }
  else if (Xva_store_new_uuid (im->task_uuid) < 0) {
    Xva_import_fail (im, XVA_EIO, 500, "INTERNAL_ERROR", NULL, 0,
                     "no random numbers");
    goto failed;
  }
  if (find_sr (im, o->sr_ref) < 0)
    goto failed;

  xva_reader_opts_init (&ro);
  ro.force = im->force;
  ro.mode = im->metadata_only ? XVA_READ_METADATA : XVA_READ_FULL;
  ro.threads = im->threads;
  memset (&io, 0, sizeof io);
  io.begin = sink_begin;
  io.pwrite = sink_pwrite;
  io.notice = sink_notice;
  io.opaque = im;
  im->r = xva_reader_new (&ro, io, &r);
  if (im->r == NULL) {
    Xva_import_fail (im, r, 500, "INTERNAL_ERROR", NULL, 0,
                     "making the archive reader: %s", xva_strerror (r));
    goto failed;
  }
  *out = im;
  return XVA_OK;

failed:
  /* The handle is returned so that its error_info can be read. */
  if (err && errlen)
    snprintf (err, errlen, "%s: %s",
              xva_value_string (xva_value_at (im->error_info, 0))
                ? xva_value_string (xva_value_at (im->error_info, 0))
                : "IMPORT_ERROR",
              im->errmsg);
  r = failed (im);
  *out = im;
  return r;

nomem:
  if (err && errlen)
    snprintf (err, errlen, "Xva_import_new: out of memory");
  return XVA_ENOMEM;
}

static void
update_progress (struct Xva_import *im)
{
  struct xva_progress p;

  if (im->r == NULL)
    return;
  xva_reader_progress (im->r, &p);
  pthread_mutex_lock (&im->plock);
  im->prog = p;
  pthread_mutex_unlock (&im->plock);
}

int
Xva_import_feed (struct Xva_import *im, struct xva_in *in)
{
  int st;

  if (im == NULL || in == NULL || in->pos > in->size)
    return XVA_EINVAL;
  if (im->state == IM_FAILED)
    return im->status;
  if (im->state == IM_EOF)
    return XVA_EOF;
  if (im->state == IM_DONE)
    return XVA_ESTATE;
  if (atomic_load (&im->cancelled))
    return cancelled (im);
  st = xva_reader_feed (im->r, in);
  update_progress (im);
  if (st < 0)
    return reader_failed (im, st);
  if (st == XVA_EOF)
    im->state = IM_EOF;
  return st;
}

/* ---- The commit --------------------------------------------------------- */

struct dead { /* an image to remove after the commit */
  char sr[IM_UUID_LEN];
  char vdi[IM_UUID_LEN];
};

struct dead_list {
  struct dead *v;
  size_t n;
};

static int
is_ref (const char *r)
{
  return r && strncmp (r, "OpaqueRef:", 10) == 0
         && strcmp (r, IM_NULL_REF) != 0 && strlen (r) <= XVA_STORE_REF_MAX;
}

static int
set_has (const struct xva_value *set, const char *ref)
{
  size_t i, n = xva_value_len (set);

  for (i = 0; i < n; i++) {
    const char *s = xva_value_string (xva_value_at (set, i));
    if (s && strcmp (s, ref) == 0)
      return 1;
  }
  return 0;
}

static int
store_fail (struct Xva_import *im, int r)
{
  if (r == XVA_ENOSPC)
    return Xva_import_sr_full (im, Xva_store_errmsg (im->s));
  return Xva_import_fail (im, r, 500, "INTERNAL_ERROR", NULL, 0, "%s",
                          Xva_store_errmsg (im->s));
}

/* A replaced VM's VDI behind VBD vbd: removed unless another VBD that
 * stays uses it. */
static int
drop_vdi (struct Xva_import *im, struct Xva_store_txn *t,
          const struct xva_value *vm, const char *vdi_ref,
          struct dead_list *dl)
{
  struct xva_value *vdi = NULL, *sr = NULL;
  const struct xva_value *vbds;
  const char *loc, *sr_uuid, *sr_ref;
  size_t i, n;
  int r;

  r = Xva_store_get (im->s, t, vdi_ref, NULL, &vdi);
  if (r == XVA_ENOTFOUND)
    return XVA_OK;
  if (r < 0)
    return store_fail (im, r);
  vbds = xva_value_get (vdi, "VBDs");
  n = xva_value_len (vbds);
  for (i = 0; i < n; i++) {
    const char *b = xva_value_string (xva_value_at (vbds, i));
    if (is_ref (b) && !set_has (xva_value_get (vm, "VBDs"), b)
        && Xva_store_get (im->s, t, b, NULL, NULL) == XVA_OK) {
      r = XVA_OK; /* shared: kept */
      goto out;
    }
  }
  r = Xva_store_delete (im->s, t, vdi_ref);
  if (r < 0) {
    r = store_fail (im, r);
    goto out;
  }
  sr_ref = xva_value_get_string (vdi, "SR");
  if (Xva_import_backref (im, sr_ref ? sr_ref : "", "VDIs", vdi_ref, 0) < 0) {
    r = Xva_import_fail (im, XVA_ENOMEM, 500, "INTERNAL_ERROR", NULL, 0,
                         "out of memory");
    goto out;
  }
  loc = xva_value_get_string (vdi, "location");
  if (!Xva_store_uuid_valid (loc))
    loc = xva_value_get_string (vdi, "uuid");
  r = is_ref (sr_ref) ? Xva_store_get (im->s, t, sr_ref, NULL, &sr)
                      : XVA_ENOTFOUND;
  sr_uuid = xva_value_get_string (sr, "uuid");
  if (r == XVA_OK && Xva_store_uuid_valid (sr_uuid)
      && Xva_store_uuid_valid (loc)) {
    struct dead *nd = realloc (dl->v, (dl->n + 1) * sizeof *nd);
    if (nd == NULL) {
      r = Xva_import_fail (im, XVA_ENOMEM, 500, "INTERNAL_ERROR", NULL, 0,
                           "out of memory");
      goto out;
    }
    dl->v = nd;
    snprintf (nd[dl->n].sr, sizeof nd[dl->n].sr, "%s", sr_uuid);
    snprintf (nd[dl->n].vdi, sizeof nd[dl->n].vdi, "%s", loc);
    dl->n++;
  }
  r = XVA_OK;
out:
  xva_value_free (vdi);
  xva_value_free (sr);
  return r;
}

/* Removes a VM that restore replaces, with its VBDs and VIFs, and (in
 * a full import) the disks only it uses. */
static int
drop_vm (struct Xva_import *im, struct Xva_store_txn *t, const char *ref,
         struct dead_list *dl)
{
  char cls[XVA_STORE_CLASS_MAX + 1];
  struct xva_value *vm = NULL;
  const struct xva_value *set;
  const char *ps;
  size_t i, n;
  int r;

  r = Xva_store_get (im->s, t, ref, cls, &vm);
  if (r == XVA_ENOTFOUND)
    return XVA_OK; /* gone meanwhile: nothing to replace */
  if (r < 0)
    return store_fail (im, r);
  ps = xva_value_get_string (vm, "power_state");
  if (ps == NULL || strcmp (ps, "Halted") != 0) {
    const char *params[3] = { ref, "Halted", ps ? ps : "" };
    r = Xva_import_fail (im, XVA_ESTATE, 409, "VM_BAD_POWER_STATE", params, 3,
                         "VM %s to be replaced is %s now", ref, params[2]);
    goto out;
  }
  set = xva_value_get (vm, "VBDs");
  n = xva_value_len (set);
  for (i = 0; i < n; i++) {
    const char *b = xva_value_string (xva_value_at (set, i));
    struct xva_value *vbd = NULL;
    const char *vdi, *type;

    if (!is_ref (b) || Xva_store_get (im->s, t, b, NULL, &vbd) != XVA_OK)
      continue;
    vdi = xva_value_get_string (vbd, "VDI");
    type = xva_value_get_string (vbd, "type");
    r = XVA_OK;
    if (is_ref (vdi)) {
      if (!im->metadata_only && !(type && strcasecmp (type, "CD") == 0))
        r = drop_vdi (im, t, vm, vdi, dl);
      if (r == XVA_OK && Xva_import_backref (im, vdi, "VBDs", b, 0) < 0)
        r = Xva_import_fail (im, XVA_ENOMEM, 500, "INTERNAL_ERROR", NULL, 0,
                             "out of memory");
    }
    if (r == XVA_OK && (r = Xva_store_delete (im->s, t, b)) < 0)
      r = store_fail (im, r);
    xva_value_free (vbd);
    if (r < 0)
      goto out;
  }
  set = xva_value_get (vm, "VIFs");
  n = xva_value_len (set);
  for (i = 0; i < n; i++) {
    const char *f = xva_value_string (xva_value_at (set, i));
    struct xva_value *vif = NULL;
    const char *net;

    if (!is_ref (f) || Xva_store_get (im->s, t, f, NULL, &vif) != XVA_OK)
      continue;
    net = xva_value_get_string (vif, "network");
    r = XVA_OK;
    if (is_ref (net) && Xva_import_backref (im, net, "VIFs", f, 0) < 0)
      r = Xva_import_fail (im, XVA_ENOMEM, 500, "INTERNAL_ERROR", NULL, 0,
                           "out of memory");
    if (r == XVA_OK && (r = Xva_store_delete (im->s, t, f)) < 0)
      r = store_fail (im, r);
    xva_value_free (vif);
    if (r < 0)
      goto out;
  }
  r = Xva_store_delete (im->s, t, ref);
  if (r < 0)
    r = store_fail (im, r);
out:
  xva_value_free (vm);
  return r;
}

/* Applies the queued back reference edits, one record at a time. */
static int
apply_backrefs (struct Xva_import *im, struct Xva_store_txn *t)
{
  char cls[XVA_STORE_CLASS_MAX + 1];
  size_t i, k;
  int r;

  for (i = 0; i < im->nbrefs; i++) {
    struct xva_value *rec = NULL;
    int dup = 0;

    for (k = 0; k < i; k++)
      if (strcmp (im->brefs[k].target, im->brefs[i].target) == 0)
        dup = 1;
    if (dup)
      continue; /* done with its first edit */
    r = Xva_store_get (im->s, t, im->brefs[i].target, cls, &rec);
    if (r == XVA_ENOTFOUND)
      continue;
    if (r < 0)
      return store_fail (im, r);
    for (k = i; k < im->nbrefs; k++) {
      const struct im_backref *b = &im->brefs[k];
      const struct xva_value *old;
      struct xva_value *set;
      size_t j, n;

      if (strcmp (b->target, im->brefs[i].target) != 0)
        continue;
      old = xva_value_get (rec, b->field);
      set = xva_value_new_array ();
      n = xva_value_len (old);
      for (j = 0; set && j < n; j++) {
        const char *s = xva_value_string (xva_value_at (old, j));
        if (s && strcmp (s, b->ref) == 0)
          continue;
        if (xva_value_append (set, xva_value_copy (xva_value_at (old, j)))
            < 0) {
          xva_value_free (set);
          set = NULL;
        }
      }
      if (set && b->add
          && xva_value_append (set, xva_value_new_string (b->ref)) < 0) {
        xva_value_free (set);
        set = NULL;
      }
      if (set == NULL || xva_value_set (rec, b->field, set) < 0) {
        xva_value_free (rec);
        return Xva_import_fail (im, XVA_ENOMEM, 500, "INTERNAL_ERROR", NULL, 0,
                                "out of memory");
      }
    }
    r = Xva_store_put (im->s, t, im->brefs[i].target, cls, rec);
    xva_value_free (rec);
    if (r < 0)
      return store_fail (im, r);
  }
  return XVA_OK;
}

static int
commit (struct Xva_import *im)
{
  struct Xva_store_txn *t = NULL;
  struct dead_list dl = { NULL, 0 };
  const char **uuids = NULL;
  size_t i, n = 0;
  int r;

  uuids = created_vdis (im, &n);
  if (uuids == NULL) {
    r = Xva_import_fail (im, XVA_ENOMEM, 500, "INTERNAL_ERROR", NULL, 0,
                         "out of memory");
    goto out;
  }
  for (i = 0; i < im->ndisks; i++)
    if (im->disks[i].fd >= 0) {
      if (close (im->disks[i].fd) == -1 && errno != EINTR) {
        im->disks[i].fd = -1;
        r = errno == ENOSPC || errno == EDQUOT
              ? Xva_import_sr_full (im, strerror (errno))
              : Xva_import_fail (im, XVA_EIO, 500, "VDI_IO_ERROR", NULL, 0,
                                 "closing a staged image: %s",
                                 strerror (errno));
        goto out;
      }
      im->disks[i].fd = -1;
    }
  if (n > 0) {
    r = Xva_store_staging_publish (im->s, im->sr_uuid, im->task_uuid, uuids,
                                   n);
    if (r < 0) {
      r = store_fail (im, r);
      goto out;
    }
  }
  r = Xva_store_begin (im->s, &t);
  if (r < 0) {
    r = store_fail (im, r);
    goto out;
  }
  for (i = 0; i < im->nrepl; i++) {
    r = drop_vm (im, t, im->repl[i], &dl);
    if (r < 0)
      goto out;
  }
  for (i = 0; i < im->nobjs; i++) {
    const struct im_obj *o = &im->objs[i];

    if (o->act != IM_CREATE)
      continue;
    r = Xva_store_put (im->s, t, o->ref, o->cls, o->rec);
    if (r < 0) {
      r = store_fail (im, r);
      goto out;
    }
  }
  r = apply_backrefs (im, t);
  if (r < 0)
    goto out;
  r = Xva_store_commit (t);
  t = NULL;
  if (r < 0) {
    r = store_fail (im, r);
    goto out;
  }
  /* Committed: what follows only tidies up. */
  if (im->staging)
    Xva_store_staging_remove (im->s, im->sr_uuid, im->task_uuid);
  im->staging = 0;
  for (i = 0; i < dl.n; i++)
    Xva_store_vdi_remove (im->s, dl.v[i].sr, dl.v[i].vdi);
  r = XVA_OK;
out:
  Xva_store_rollback (t);
  free (uuids);
  free (dl.v);
  return r;
}

/* The task result: the new VMs, snapshots left out unless there is
 * nothing else. */
static struct xva_value *
result_refs (struct Xva_import *im)
{
  struct xva_value *a = xva_value_new_array ();
  size_t i;
  int pass;

  for (pass = 0; a && pass < 2 && xva_value_len (a) == 0; pass++)
    for (i = 0; a && i < im->nobjs; i++) {
      const struct im_obj *o = &im->objs[i];
      if (strcmp (o->cls, "VM") == 0 && o->act == IM_CREATE
          && o->snapshot == pass
          && xva_value_append (a, xva_value_new_string (o->ref)) < 0) {
        xva_value_free (a);
        a = NULL;
      }
    }
  return a;
}

/* A dry run's message: what would be made. */
static void
describe (struct Xva_import *im)
{
  size_t i, vms = 0, vbds = 0, vifs = 0, nets = 0;

  for (i = 0; i < im->nobjs; i++) {
    const struct im_obj *o = &im->objs[i];
    if (o->act != IM_CREATE)
      continue;
    if (strcmp (o->cls, "VM") == 0)
      vms++;
    else if (strcmp (o->cls, "VBD") == 0)
      vbds++;
    else if (strcmp (o->cls, "VIF") == 0)
      vifs++;
    else if (strcmp (o->cls, "network") == 0)
      nets++;
  }
  snprintf (im->errmsg, sizeof im->errmsg,
            "dry run: would create %zu VM(s), "
            "%zu VBD(s), %zu VIF(s), %zu network(s) and replace %zu VM(s)",
            vms, vbds, vifs, nets, im->nrepl);
}

int
Xva_import_finish (struct Xva_import *im, struct xva_value **vm_refs)
{
  struct xva_reader_stats rs;
  struct xva_value *res;
  int st;

  if (vm_refs)
    *vm_refs = NULL;
  if (im == NULL)
    return XVA_EINVAL;
  if (im->state == IM_FAILED)
    return im->status;
  if (im->state == IM_DONE)
    return XVA_ESTATE;
  if (atomic_load (&im->cancelled))
    return cancelled (im);
  st = xva_reader_finish (im->r);
  update_progress (im);
  if (st < 0)
    return reader_failed (im, st);
  if (!im->planned) {
    Xva_import_fail (im, XVA_EFORMAT, 400, "IMPORT_ERROR", NULL, 0,
                     "the archive holds no ova.xml");
    return failed (im);
  }
  xva_reader_stats (im->r, &rs);
  if (rs.mismatches > im->mismatches)
    im->mismatches = rs.mismatches;
  /* The last moment to cancel. */
  if (atomic_load (&im->cancelled))
    return cancelled (im);
  res = result_refs (im);
  if (res == NULL) {
    Xva_import_fail (im, XVA_ENOMEM, 500, "INTERNAL_ERROR", NULL, 0,
                     "out of memory");
    return failed (im);
  }
  if (im->dry_run)
    describe (im);
  else if (commit (im) < 0) {
    xva_value_free (res);
    return failed (im);
  }
  Xva_import_plan_free (im);
  release_all (im);
  im->state = IM_DONE;
  if (vm_refs)
    *vm_refs = res;
  else
    xva_value_free (res);
  return XVA_OK;
}

/* ---- Accessors ------------------------------------------------------------- */

const struct xva_value *
Xva_import_error (const struct Xva_import *im)
{
  return im && im->state == IM_FAILED ? im->error_info : NULL;
}

const char *
Xva_import_errmsg (const struct Xva_import *im)
{
  return im ? im->errmsg : "";
}

int
Xva_import_http_status (const struct Xva_import *im)
{
  if (im == NULL || im->state != IM_FAILED)
    return 200;
  return im->http ? im->http : 500;
}

void
Xva_import_progress (const struct Xva_import *im, struct xva_progress *p)
{
  struct Xva_import *m = (struct Xva_import *) (uintptr_t) im;

  memset (p, 0, sizeof *p);
  if (im == NULL)
    return;
  pthread_mutex_lock (&m->plock);
  *p = im->prog;
  pthread_mutex_unlock (&m->plock);
}

uint64_t
Xva_import_mismatches (const struct Xva_import *im)
{
  return im ? im->mismatches : 0;
}

void
Xva_import_cancel (struct Xva_import *im)
{
  if (im)
    atomic_store (&im->cancelled, 1);
}

void
Xva_import_free (struct Xva_import *im)
{
  size_t i;

  if (im == NULL)
    return;
  if (im->state != IM_DONE && im->state != IM_FAILED) {
    Xva_import_fail (im, XVA_ECANCELLED, 500, "TASK_CANCELLED", NULL, 0,
                     "the import was abandoned");
    failed (im);
  }
  undo (im);
  xva_reader_free (im->r);
  free (im->objs);
  free (im->by_id);
  free (im->disks);
  free (im->repl);
  free (im->brefs);
  free (im->busy);
  for (i = 0; i < im->nmap; i++) {
    free ((char *) (uintptr_t) im->map[i].from);
    free ((char *) (uintptr_t) im->map[i].to);
  }
  free (im->map);
  xva_value_free (im->error_info);
  pthread_mutex_destroy (&im->plock);
  free (im);
}
