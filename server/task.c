/* Tasks: records of class "task" in the store (so that they show in
 * task.get_all_records and outlive a crash), and in memory what runs
 * the pending ones: the cancel request and callback, and the progress
 * throttle.  Completed tasks are kept up to srv->keep, oldest dropped
 * first. */
#include "server/srv-priv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EPOCH_DATE "19700101T00:00:00Z"
#define LABEL_SHOWN 200    /* bytes of a label in a log line */
#define ERROR_ITEMS_MAX 64 /* strings of an error_info */

/* ---- Small helpers ------------------------------------------------------ */

static int
is_final (const char *st)
{
  return st != NULL
         && (strcmp (st, "success") == 0 || strcmp (st, "failure") == 0
             || strcmp (st, "cancelled") == 0);
}

/* pending or cancelling (or a record without a status). */
static int
is_running (const struct xva_value *rec)
{
  return !is_final (xva_value_get_string (rec, "status"));
}

/* An ARRAY of strings from items (NULL-terminated). */
static struct xva_value *
strings (const char *const *items)
{
  struct xva_value *a = xva_value_new_array ();
  size_t i;

  for (i = 0; a != NULL && items[i] != NULL; i++)
    if (xva_value_append (a, xva_value_new_string (items[i])) < 0) {
      xva_value_free (a);
      a = NULL;
    }
  return a;
}

/* A clean copy of an error_info: strings only (ints written out), at
 * most ERROR_ITEMS_MAX, never empty.  Items often quote what a client
 * sent (a ref in a query string, a name in an archive): control bytes
 * and bytes that are not UTF-8 become '?', or the stored record could
 * not be read back (nor sent as XML). */
static struct xva_value *
error_copy (const struct xva_value *ei)
{
  static const char *const internal[] = { "INTERNAL_ERROR", NULL };
  struct xva_value *a;
  char num[32], *clean;
  size_t i, len, n = xva_value_len (ei);
  int64_t iv;

  if (xva_value_type (ei) != XVA_TYPE_ARRAY || n == 0)
    return strings (internal);
  if (n > ERROR_ITEMS_MAX)
    n = ERROR_ITEMS_MAX;
  a = xva_value_new_array ();
  for (i = 0; a != NULL && i < n; i++) {
    const struct xva_value *it = xva_value_at (ei, i);
    const char *s = xva_value_string (it);
    if (s == NULL && xva_value_get_int (it, &iv) == 0) {
      snprintf (num, sizeof num, "%lld", (long long) iv);
      s = num;
    }
    len = s != NULL ? strlen (s) + 1 : 1;
    clean = malloc (len);
    if (clean != NULL)
      Xva_srv_clean (clean, len, s != NULL ? s : "");
    if (clean == NULL
        || xva_value_append (a, xva_value_new_string (clean)) < 0) {
      xva_value_free (a);
      a = NULL;
    }
    free (clean);
  }
  return a;
}

/* ---- Tasks in memory (under tlock) -------------------------------------- */

static struct Xva_task_rt *
rt_find (struct Xva_srv *srv, const char *ref)
{
  struct Xva_task_rt *rt;

  for (rt = srv->tasks; rt != NULL; rt = rt->next)
    if (strcmp (rt->ref, ref) == 0)
      return rt;
  return NULL;
}

/* Unlinks and returns the task's state, once no other thread is inside
 * its cancel callback; NULL if it is not pending. */
static struct Xva_task_rt *
rt_take (struct Xva_srv *srv, const char *ref)
{
  struct Xva_task_rt **pp, *rt;

  for (;;) {
    for (pp = &srv->tasks; (rt = *pp) != NULL; pp = &rt->next)
      if (strcmp (rt->ref, ref) == 0)
        break;
    if (rt == NULL)
      return NULL;
    if (!rt->cb_running || pthread_equal (rt->cb_thread, pthread_self ()))
      break;
    pthread_cond_wait (&srv->tcond, &srv->tlock);
  }
  *pp = rt->next;
  srv->npending--;
  return rt;
}

static void
done_push (struct Xva_srv *srv, const char *ref)
{
  struct Xva_task_done *d = calloc (1, sizeof *d);

  if (d == NULL)
    return; /* it is then never dropped: harmless */
  snprintf (d->ref, sizeof d->ref, "%s", ref);
  if (srv->done_tail)
    srv->done_tail->next = d;
  else
    srv->done_head = d;
  srv->done_tail = d;
  srv->ndone++;
}

static void
done_remove (struct Xva_srv *srv, const char *ref)
{
  struct Xva_task_done **pp, *d, *prev = NULL;

  for (pp = &srv->done_head; (d = *pp) != NULL; prev = d, pp = &d->next)
    if (strcmp (d->ref, ref) == 0) {
      *pp = d->next;
      if (srv->done_tail == d)
        srv->done_tail = prev;
      srv->ndone--;
      free (d);
      return;
    }
}

void
Xva_task_trim (struct Xva_srv *srv)
{
  struct Xva_task_done *d;

  for (;;) {
    pthread_mutex_lock (&srv->tlock);
    if (srv->ndone <= srv->keep || srv->done_head == NULL) {
      pthread_mutex_unlock (&srv->tlock);
      return;
    }
    d = srv->done_head;
    srv->done_head = d->next;
    if (srv->done_head == NULL)
      srv->done_tail = NULL;
    srv->ndone--;
    pthread_mutex_unlock (&srv->tlock);
    if (Xva_store_delete (srv->store, NULL, d->ref) == XVA_OK)
      Xva_event_add (srv, "task", d->ref, "del");
    free (d);
  }
}

/* ---- Records ------------------------------------------------------------ */

static struct xva_value *
task_record (struct Xva_srv *srv, const char *uuid, const char *label,
             const char *desc)
{
  static const char *const cancel[] = { "cancel", NULL };
  static const char *const none[] = { NULL };
  struct xva_value *v = xva_value_new_struct ();
  char now[32];
  int bad = 0;

  Xva_srv_date_now (now, sizeof now);
  if (v == NULL)
    return NULL;
  bad |= xva_value_set_string (v, "uuid", uuid);
  bad |= xva_value_set_string (v, "name_label", label);
  bad |= xva_value_set_string (v, "name_description", desc);
  bad |= xva_value_set (v, "allowed_operations", strings (cancel));
  bad |= xva_value_set (v, "current_operations", xva_value_new_struct ());
  bad |= xva_value_set (v, "created", xva_value_new_date (now));
  bad |= xva_value_set (v, "finished", xva_value_new_date (EPOCH_DATE));
  bad |= xva_value_set_string (v, "status", "pending");
  bad |= xva_value_set_string (v, "resident_on", srv->host_ref);
  bad |= xva_value_set (v, "progress", xva_value_new_double (0.0));
  bad |= xva_value_set_string (v, "type", "<none/>");
  bad |= xva_value_set_string (v, "result", "");
  bad |= xva_value_set (v, "error_info", strings (none));
  bad |= xva_value_set (v, "other_config", xva_value_new_struct ());
  bad |= xva_value_set_string (v, "subtask_of", XVA_SRV_NULL_REF);
  bad |= xva_value_set (v, "subtasks", strings (none));
  bad |= xva_value_set_string (v, "backtrace", "()");
  if (bad) {
    xva_value_free (v);
    return NULL;
  }
  return v;
}

typedef int (*update_fn) (struct xva_value *rec, void *arg);

/* Runs fn on the record of task ref inside a transaction: fn returns 1
 * to write the record back, 0 to leave it, < 0 to fail.  Returns fn's
 * verdict (1 also adds a mod event) or a status: XVA_ENOTFOUND when
 * there is no such task. */
static int
task_update (struct Xva_srv *srv, const char *ref, update_fn fn, void *arg)
{
  char cls[XVA_STORE_CLASS_MAX + 1];
  struct Xva_store_txn *t = NULL;
  struct xva_value *rec = NULL;
  int r, w;

  r = Xva_store_begin (srv->store, &t);
  if (r < 0)
    return r;
  r = Xva_store_get (srv->store, t, ref, cls, &rec);
  if (r == XVA_OK && strcmp (cls, "task") != 0)
    r = XVA_ENOTFOUND;
  if (r < 0)
    goto out;
  r = fn (rec, arg);
  if (r != 1)
    goto out;
  w = Xva_store_put (srv->store, t, ref, "task", rec);
  if (w == XVA_OK)
    w = Xva_store_commit (t);
  else
    Xva_store_rollback (t);
  t = NULL;
  if (w < 0)
    r = w;

out:
  Xva_store_rollback (t);
  xva_value_free (rec);
  if (r == 1)
    Xva_event_add (srv, "task", ref, "mod");
  return r;
}

/* ---- Completion ---------------------------------------------------------- */

struct complete {
  const char *status;
  const char *result;                 /* NULL: unchanged */
  const struct xva_value *error_info; /* NULL: unchanged */
  /* out: for the log line */
  char uuid[XVA_STORE_UUID_MAX + 1];
  char label[LABEL_SHOWN + 1];
  char code[LABEL_SHOWN + 1];
};

static int
complete_fn (struct xva_value *rec, void *arg)
{
  struct complete *cp = arg;
  const struct xva_value *ei;
  char now[32];
  int bad = 0;

  if (!is_running (rec))
    return 0;
  Xva_srv_date_now (now, sizeof now);
  bad |= xva_value_set_string (rec, "status", cp->status);
  bad |= xva_value_set (rec, "finished", xva_value_new_date (now));
  bad |= xva_value_set (rec, "allowed_operations", xva_value_new_array ());
  bad |= xva_value_set (rec, "current_operations", xva_value_new_struct ());
  if (strcmp (cp->status, "success") == 0)
    bad |= xva_value_set (rec, "progress", xva_value_new_double (1.0));
  if (cp->result)
    bad |= xva_value_set_string (rec, "result", cp->result);
  if (cp->error_info)
    bad |= xva_value_set (rec, "error_info", error_copy (cp->error_info));
  if (bad)
    return XVA_ENOMEM;
  snprintf (cp->uuid, sizeof cp->uuid, "%s",
            xva_value_get_string (rec, "uuid")
              ? xva_value_get_string (rec, "uuid")
              : "?");
  Xva_srv_clean (cp->label, sizeof cp->label,
                 xva_value_get_string (rec, "name_label"));
  ei = xva_value_get (rec, "error_info");
  Xva_srv_clean (cp->code, sizeof cp->code,
                 xva_value_string (xva_value_at (ei, 0)));
  return 1;
}

static void
log_completion (struct Xva_srv *srv, const struct complete *cp)
{
  if (strcmp (cp->status, "failure") == 0)
    Xva_srv_logf (srv, "task %s %s: failure %s", cp->uuid, cp->label,
                  cp->code[0] ? cp->code : "INTERNAL_ERROR");
  else
    Xva_srv_logf (srv, "task %s %s: %s", cp->uuid, cp->label, cp->status);
}

/* Completes task ref once: 1 when this call did, 0 when it was already
 * complete, < 0 a status. */
static int
task_complete (struct Xva_srv *srv, const char *ref, const char *status,
               const char *result, const struct xva_value *error_info)
{
  struct complete cp;
  struct Xva_task_rt *rt;
  int r;

  memset (&cp, 0, sizeof cp);
  cp.status = status;
  cp.result = result;
  cp.error_info = error_info;
  r = task_update (srv, ref, complete_fn, &cp);
  if (r < 0 && r != XVA_ENOTFOUND)
    return r;
  pthread_mutex_lock (&srv->tlock);
  rt = rt_take (srv, ref);
  if (r == 1)
    done_push (srv, ref);
  pthread_mutex_unlock (&srv->tlock);
  free (rt);
  if (r == 1) {
    log_completion (srv, &cp);
    Xva_task_trim (srv);
  }
  return r;
}

/* ---- Start and stop --------------------------------------------------------- */

int
Xva_task_startup (struct Xva_srv *srv, char *err, size_t errlen)
{
  struct Xva_store_list hosts = { 0, NULL, NULL };
  struct Xva_store_list tasks = { 0, NULL, NULL };
  static const char *const restarted[] = { "INTERNAL_ERROR",
                                           "server restarted", NULL };
  struct xva_value *ei = NULL;
  size_t i;
  int r;

  snprintf (srv->host_ref, sizeof srv->host_ref, "%s", XVA_SRV_NULL_REF);
  r = Xva_store_list (srv->store, NULL, "host", 0, &hosts);
  if (r == XVA_OK && hosts.n > 0)
    snprintf (srv->host_ref, sizeof srv->host_ref, "%s", hosts.refs[0]);
  Xva_store_list_free (&hosts);
  if (r == XVA_OK)
    r = Xva_store_list (srv->store, NULL, "task", 1, &tasks);
  if (r < 0) {
    if (err)
      snprintf (err, errlen, "Xva_srv_new: %s", Xva_store_errmsg (NULL));
    return r;
  }
  ei = strings (restarted);
  if (ei == NULL) {
    r = XVA_ENOMEM;
    goto out;
  }
  for (i = 0; i < tasks.n; i++) {
    if (is_running (tasks.recs[i])) {
      struct complete cp;

      memset (&cp, 0, sizeof cp);
      cp.status = "failure";
      cp.error_info = ei;
      r = complete_fn (tasks.recs[i], &cp);
      if (r == 1)
        r = Xva_store_put (srv->store, NULL, tasks.refs[i], "task",
                           tasks.recs[i]);
      if (r < 0) {
        if (err)
          snprintf (err, errlen, "Xva_srv_new: %s", Xva_store_errmsg (NULL));
        goto out;
      }
      log_completion (srv, &cp);
    }
    done_push (srv, tasks.refs[i]);
  }
  r = XVA_OK;
  Xva_task_trim (srv);

out:
  xva_value_free (ei);
  Xva_store_list_free (&tasks);
  return r;
}

void
Xva_task_shutdown (struct Xva_srv *srv)
{
  struct Xva_task_done *d;
  char ref[XVA_SRV_REF_MAX + 1];
  Xva_task_cancel_fn fn;
  void *opaque;

  for (;;) {
    pthread_mutex_lock (&srv->tlock);
    if (srv->tasks == NULL) {
      pthread_mutex_unlock (&srv->tlock);
      break;
    }
    snprintf (ref, sizeof ref, "%s", srv->tasks->ref);
    fn = srv->tasks->cancel_fn;
    opaque = srv->tasks->cancel_opaque;
    srv->tasks->cancel_fn = NULL;
    srv->tasks->cancel_requested = 1;
    pthread_mutex_unlock (&srv->tlock);
    if (fn)
      fn (opaque);
    Xva_task_cancelled (srv, ref);
    /* Gone from the list even when its record could not be written. */
    pthread_mutex_lock (&srv->tlock);
    free (rt_take (srv, ref));
    pthread_mutex_unlock (&srv->tlock);
  }
  while ((d = srv->done_head) != NULL) {
    srv->done_head = d->next;
    free (d);
  }
  srv->done_tail = NULL;
  srv->ndone = 0;
}

/* ---- Interface ------------------------------------------------------------ */

static int
task_new (struct Xva_srv *srv, const char *label, const char *desc,
          int attached, char *ref_out)
{
  char uuid[XVA_STORE_UUID_LEN + 1], ref[XVA_STORE_REF_MAX + 1];
  struct Xva_task_rt *rt;
  struct xva_value *rec = NULL;
  int r;

  if (ref_out)
    ref_out[0] = '\0';
  if (srv == NULL || ref_out == NULL)
    return XVA_EINVAL;
  if (label == NULL)
    label = "";
  if (desc == NULL)
    desc = "";
  if (strlen (label) > XVA_STORE_NAME_MAX
      || strlen (desc) > XVA_SRV_TASK_DESC_MAX)
    return XVA_ELIMIT;
  if ((r = Xva_store_new_uuid (uuid)) < 0 || (r = Xva_store_new_ref (ref)) < 0)
    return r;
  rt = calloc (1, sizeof *rt);
  if (rt == NULL)
    return XVA_ENOMEM;
  snprintf (rt->ref, sizeof rt->ref, "%s", ref);
  rt->attached = attached;
  rt->last_write_ms = Xva_srv_mono_ms () - XVA_SRV_PROGRESS_MS;
  pthread_mutex_lock (&srv->tlock);
  if (srv->npending >= XVA_SRV_TASKS_PENDING_MAX) {
    pthread_mutex_unlock (&srv->tlock);
    free (rt);
    return XVA_ELIMIT;
  }
  rt->next = srv->tasks;
  srv->tasks = rt;
  srv->npending++;
  pthread_mutex_unlock (&srv->tlock);

  rec = task_record (srv, uuid, label, desc);
  r = rec ? Xva_store_put (srv->store, NULL, ref, "task", rec) : XVA_ENOMEM;
  xva_value_free (rec);
  if (r < 0) {
    pthread_mutex_lock (&srv->tlock);
    free (rt_take (srv, ref));
    pthread_mutex_unlock (&srv->tlock);
    return r;
  }
  Xva_event_add (srv, "task", ref, "add");
  snprintf (ref_out, XVA_SRV_REF_MAX + 1, "%s", ref);
  return XVA_OK;
}

int
Xva_task_create (struct Xva_srv *srv, const char *label,
                 const char *description, char *ref_out)
{
  return task_new (srv, label, description, 1, ref_out);
}

static int
adopt_fn (struct xva_value *rec, void *arg)
{
  static const char *const cancel[] = { "cancel", NULL };
  int bad = 0;

  (void) arg;
  if (!is_running (rec))
    return XVA_ESTATE;
  bad |= xva_value_set (rec, "progress", xva_value_new_double (0.0));
  bad |= xva_value_set (rec, "allowed_operations", strings (cancel));
  return bad ? XVA_ENOMEM : 1;
}

int
Xva_task_adopt (struct Xva_srv *srv, const char *ref)
{
  char cls[XVA_STORE_CLASS_MAX + 1];
  struct xva_value *rec = NULL;
  struct Xva_task_rt *rt;
  int r;

  if (srv == NULL || ref == NULL || ref[0] == '\0'
      || strlen (ref) > XVA_SRV_REF_MAX)
    return XVA_ENOTFOUND;
  pthread_mutex_lock (&srv->tlock);
  rt = rt_find (srv, ref);
  if (rt) {
    rt->attached = 1;
    rt->last_write_ms = Xva_srv_mono_ms () - XVA_SRV_PROGRESS_MS;
  }
  pthread_mutex_unlock (&srv->tlock);
  if (rt == NULL) {
    /* Not pending here: unknown, or already complete. */
    r = Xva_store_get (srv->store, NULL, ref, cls, &rec);
    if (r == XVA_OK)
      r = strcmp (cls, "task") != 0 || is_running (rec) ? XVA_ENOTFOUND
                                                        : XVA_ESTATE;
    xva_value_free (rec);
    return r;
  }
  r = task_update (srv, ref, adopt_fn, NULL);
  return r < 0 ? r : XVA_OK;
}

static int
progress_fn (struct xva_value *rec, void *arg)
{
  const double *p = arg;
  double old;

  if (!is_running (rec))
    return 0;
  if (xva_value_get_double (xva_value_get (rec, "progress"), &old) == 0
      && old == *p)
    return 0;
  return xva_value_set (rec, "progress", xva_value_new_double (*p)) < 0
           ? XVA_ENOMEM
           : 1;
}

static double
clamp01 (double p)
{
  if (!(p >= 0.0)) /* also NaN */
    return 0.0;
  return p > 1.0 ? 1.0 : p;
}

void
Xva_task_set_progress (struct Xva_srv *srv, const char *ref, double progress)
{
  struct Xva_task_rt *rt;
  int64_t now;
  double p = clamp01 (progress);

  if (srv == NULL || ref == NULL)
    return;
  pthread_mutex_lock (&srv->tlock);
  rt = rt_find (srv, ref);
  now = Xva_srv_mono_ms ();
  if (rt == NULL || now - rt->last_write_ms < XVA_SRV_PROGRESS_MS) {
    pthread_mutex_unlock (&srv->tlock);
    return;
  }
  rt->last_write_ms = now;
  pthread_mutex_unlock (&srv->tlock);
  task_update (srv, ref, progress_fn, &p);
}

int
Xva_task_cancel_requested (struct Xva_srv *srv, const char *ref)
{
  struct Xva_task_rt *rt;
  int r;

  if (srv == NULL || ref == NULL)
    return 1;
  pthread_mutex_lock (&srv->tlock);
  rt = rt_find (srv, ref);
  r = rt ? rt->cancel_requested : 1; /* a task gone: stop too */
  pthread_mutex_unlock (&srv->tlock);
  return r;
}

void
Xva_task_succeed (struct Xva_srv *srv, const char *ref, const char *result)
{
  if (srv && ref)
    task_complete (srv, ref, "success", result ? result : "", NULL);
}

void
Xva_task_fail (struct Xva_srv *srv, const char *ref,
               const struct xva_value *error_info)
{
  static const char *const internal[] = { "INTERNAL_ERROR", NULL };
  struct xva_value *fallback = NULL;

  if (srv == NULL || ref == NULL)
    return;
  if (error_info == NULL || xva_value_len (error_info) == 0) {
    fallback = strings (internal);
    error_info = fallback;
  }
  if (error_info)
    task_complete (srv, ref, "failure", NULL, error_info);
  xva_value_free (fallback);
}

void
Xva_task_fail_code (struct Xva_srv *srv, const char *ref, const char *code,
                    const char *param)
{
  const char *items[3] = { code ? code : "INTERNAL_ERROR", param, NULL };
  struct xva_value *ei = strings (items);

  Xva_task_fail (srv, ref, ei);
  xva_value_free (ei);
}

void
Xva_task_cancelled (struct Xva_srv *srv, const char *ref)
{
  const char *items[3] = { "TASK_CANCELLED", ref, NULL };
  struct xva_value *ei;

  if (srv == NULL || ref == NULL)
    return;
  ei = strings (items);
  task_complete (srv, ref, "cancelled", NULL, ei);
  xva_value_free (ei);
}

void
Xva_task_on_cancel (struct Xva_srv *srv, const char *ref,
                    Xva_task_cancel_fn fn, void *opaque)
{
  struct Xva_task_rt *rt;

  if (srv == NULL || ref == NULL)
    return;
  pthread_mutex_lock (&srv->tlock);
  for (;;) {
    rt = rt_find (srv, ref);
    if (rt == NULL || fn != NULL || !rt->cb_running
        || pthread_equal (rt->cb_thread, pthread_self ()))
      break;
    /* Unregistering: wait for a running callback to return. */
    pthread_cond_wait (&srv->tcond, &srv->tlock);
  }
  if (rt) {
    rt->cancel_fn = fn;
    rt->cancel_opaque = fn ? opaque : NULL;
    if (fn)
      rt->attached = 1;
  }
  pthread_mutex_unlock (&srv->tlock);
}

/* ---- RPC ------------------------------------------------------------------ */

int
Xva_m_task_create (struct Xva_rpc_ctx *c)
{
  char ref[XVA_SRV_REF_MAX + 1];
  const char *label = Xva_rpc_arg (c, 1), *desc = Xva_rpc_arg (c, 2);
  int r;

  if (label == NULL)
    return Xva_rpc_type_error (c, "label");
  if (desc == NULL)
    return Xva_rpc_type_error (c, "description");
  if (strlen (label) > XVA_STORE_NAME_MAX)
    return Xva_rpc_fail (c, "INVALID_VALUE", "label", "too long", NULL);
  if (strlen (desc) > XVA_SRV_TASK_DESC_MAX)
    return Xva_rpc_fail (c, "INVALID_VALUE", "description", "too long", NULL);
  r = task_new (c->srv, label, desc, 0, ref);
  if (r == XVA_ELIMIT)
    return Xva_rpc_fail (c, "TOO_MANY_PENDING_TASKS", NULL);
  if (r < 0)
    return Xva_rpc_store_fail (c, r);
  return Xva_rpc_ok_str (c, ref);
}

struct add_cancel {
  const char *key; /* of the current_operations entry */
  char uuid[XVA_STORE_UUID_MAX + 1];
  char label[LABEL_SHOWN + 1];
};

static int
add_cancel_fn (struct xva_value *rec, void *arg)
{
  struct add_cancel *ac = arg;
  struct xva_value *ops;
  size_t i;

  if (!is_running (rec))
    return 0;
  ops = xva_value_get (rec, "current_operations");
  if (xva_value_type (ops) != XVA_TYPE_STRUCT) {
    if (xva_value_set (rec, "current_operations", xva_value_new_struct ()) < 0)
      return XVA_ENOMEM;
    ops = xva_value_get (rec, "current_operations");
  }
  for (i = 0; i < xva_value_len (ops); i++) {
    const char *s = xva_value_string (xva_value_at (ops, i));
    if (s && strcmp (s, "cancel") == 0)
      return 0;
  }
  if (xva_value_set_string (ops, ac->key, "cancel") < 0)
    return XVA_ENOMEM;
  Xva_srv_clean (ac->uuid, sizeof ac->uuid,
                 xva_value_get_string (rec, "uuid"));
  Xva_srv_clean (ac->label, sizeof ac->label,
                 xva_value_get_string (rec, "name_label"));
  return 1;
}

int
Xva_m_task_cancel (struct Xva_rpc_ctx *c)
{
  char op[XVA_STORE_REF_MAX + 1];
  const char *ref;
  struct add_cancel ac;
  struct Xva_task_rt *rt;
  Xva_task_cancel_fn fn = NULL;
  void *opaque = NULL;
  int r, attached = 0;

  r = Xva_rpc_self (c, "task", &ref, NULL);
  if (r < 0)
    return r;
  pthread_mutex_lock (&c->srv->tlock);
  rt = rt_find (c->srv, ref);
  if (rt == NULL || rt->cancel_requested) {
    /* Complete already, or being cancelled: nothing to do. */
    pthread_mutex_unlock (&c->srv->tlock);
    return Xva_rpc_ok_str (c, "");
  }
  rt->cancel_requested = 1;
  attached = rt->attached;
  pthread_mutex_unlock (&c->srv->tlock);

  if (!attached) {
    /* Nothing runs it (made by task.create, never adopted). */
    Xva_task_cancelled (c->srv, ref);
    return Xva_rpc_ok_str (c, "");
  }

  if (Xva_store_new_ref (op) < 0)
    snprintf (op, sizeof op, "OpaqueRef:cancel");
  memset (&ac, 0, sizeof ac);
  ac.key = op;
  r = task_update (c->srv, ref, add_cancel_fn, &ac);
  if (r < 0 && r != XVA_ENOTFOUND)
    return Xva_rpc_store_fail (c, r);
  if (r == 1)
    Xva_srv_logf (c->srv, "task %s %s: cancel requested", ac.uuid, ac.label);

  /* The transfer's callback, if it registered one by now. */
  pthread_mutex_lock (&c->srv->tlock);
  rt = rt_find (c->srv, ref);
  if (rt && rt->cancel_fn && !rt->cb_running) {
    fn = rt->cancel_fn;
    opaque = rt->cancel_opaque;
    rt->cb_running = 1;
    rt->cb_thread = pthread_self ();
  }
  pthread_mutex_unlock (&c->srv->tlock);
  if (fn) {
    fn (opaque);
    pthread_mutex_lock (&c->srv->tlock);
    rt = rt_find (c->srv, ref); /* may be gone: completed meanwhile */
    if (rt && rt->cb_running && pthread_equal (rt->cb_thread, pthread_self ()))
      rt->cb_running = 0;
    pthread_cond_broadcast (&c->srv->tcond);
    pthread_mutex_unlock (&c->srv->tlock);
  }
  return Xva_rpc_ok_str (c, "");
}

int
Xva_m_task_destroy (struct Xva_rpc_ctx *c)
{
  const char *ref;
  struct Xva_task_rt *rt;
  int r;

  r = Xva_rpc_self (c, "self", &ref, NULL);
  if (r < 0)
    return r;
  pthread_mutex_lock (&c->srv->tlock);
  rt = rt_find (c->srv, ref);
  if (rt && rt->attached) {
    pthread_mutex_unlock (&c->srv->tlock);
    return Xva_rpc_fail (c, "OTHER_OPERATION_IN_PROGRESS", "task", ref, NULL);
  }
  free (rt_take (c->srv, ref));
  done_remove (c->srv, ref);
  pthread_mutex_unlock (&c->srv->tlock);
  r = Xva_store_delete (c->srv->store, NULL, ref);
  if (r == XVA_ENOTFOUND)
    return Xva_rpc_fail (c, "HANDLE_INVALID", "task", ref, NULL);
  if (r < 0)
    return Xva_rpc_store_fail (c, r);
  Xva_event_add (c->srv, "task", ref, "del");
  return Xva_rpc_ok_str (c, "");
}

struct set_status {
  const char *status;
  int refused;
};

static int
set_status_fn (struct xva_value *rec, void *arg)
{
  struct set_status *ss = arg;
  const char *cur = xva_value_get_string (rec, "status");

  if (cur && strcmp (cur, ss->status) == 0)
    return 0;
  if (!is_running (rec)) {
    ss->refused = 1;
    return 0;
  }
  return xva_value_set_string (rec, "status", ss->status) < 0 ? XVA_ENOMEM : 1;
}

int
Xva_m_task_set_status (struct Xva_rpc_ctx *c)
{
  static const char *const valid[] = { "pending",    "success",   "failure",
                                       "cancelling", "cancelled", NULL };
  const char *ref = Xva_rpc_arg (c, 1), *value = Xva_rpc_arg (c, 2);
  struct xva_value *rec = NULL;
  struct set_status ss = { NULL, 0 };
  size_t i;
  int r;

  if (ref == NULL)
    return Xva_rpc_type_error (c, "self");
  if (value == NULL)
    return Xva_rpc_type_error (c, "value");
  for (i = 0; valid[i] != NULL; i++)
    if (strcmp (value, valid[i]) == 0)
      break;
  if (valid[i] == NULL)
    return Xva_rpc_fail (c, "INVALID_VALUE", "status", value, NULL);
  r = Xva_rpc_get_typed (c, ref, &rec);
  if (r < 0)
    return r;
  if (is_final (value)) {
    const char *cur = xva_value_get_string (rec, "status");
    int same = cur && strcmp (cur, value) == 0;
    int running = is_running (rec);

    xva_value_free (rec);
    if (!running)
      return same ? Xva_rpc_ok_str (c, "")
                  : Xva_rpc_fail (c, "OPERATION_NOT_ALLOWED",
                                  "the task is complete", NULL);
    if (strcmp (value, "cancelled") == 0) {
      const char *items[3] = { "TASK_CANCELLED", ref, NULL };
      struct xva_value *ei = strings (items);
      r = ei ? task_complete (c->srv, ref, value, NULL, ei) : XVA_ENOMEM;
      xva_value_free (ei);
    }
    else
      r = task_complete (c->srv, ref, value, NULL, NULL);
    if (r == 0)
      return Xva_rpc_fail (c, "OPERATION_NOT_ALLOWED", "the task is complete",
                           NULL);
  }
  else {
    xva_value_free (rec);
    ss.status = value;
    r = task_update (c->srv, ref, set_status_fn, &ss);
    if (r >= 0 && ss.refused)
      return Xva_rpc_fail (c, "OPERATION_NOT_ALLOWED", "the task is complete",
                           NULL);
  }
  if (r == XVA_ENOTFOUND)
    return Xva_rpc_fail (c, "HANDLE_INVALID", "task", ref, NULL);
  if (r < 0)
    return Xva_rpc_store_fail (c, r);
  return Xva_rpc_ok_str (c, "");
}

static int
any_progress_fn (struct xva_value *rec, void *arg)
{
  const double *p = arg;

  return xva_value_set (rec, "progress", xva_value_new_double (*p)) < 0
           ? XVA_ENOMEM
           : 1;
}

int
Xva_m_task_set_progress (struct Xva_rpc_ctx *c)
{
  const char *ref = Xva_rpc_arg (c, 1);
  struct Xva_task_rt *rt;
  double p;
  int r;

  if (ref == NULL)
    return Xva_rpc_type_error (c, "self");
  if (xva_value_get_double (xva_value_at (c->params, 2), &p) != 0)
    return Xva_rpc_type_error (c, "value");
  p = clamp01 (p);
  r = Xva_rpc_get_typed (c, ref, NULL);
  if (r < 0)
    return r;
  pthread_mutex_lock (&c->srv->tlock);
  rt = rt_find (c->srv, ref);
  if (rt)
    rt->last_write_ms = Xva_srv_mono_ms ();
  pthread_mutex_unlock (&c->srv->tlock);
  r = task_update (c->srv, ref, any_progress_fn, &p);
  if (r == XVA_ENOTFOUND)
    return Xva_rpc_fail (c, "HANDLE_INVALID", "task", ref, NULL);
  if (r < 0)
    return Xva_rpc_store_fail (c, r);
  return Xva_rpc_ok_str (c, "");
}
