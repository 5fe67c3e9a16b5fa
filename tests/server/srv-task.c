/* Tasks: create, progress (throttled), adopt, cancel (at once, or
 * through the transfer's callback), complete, destroy, the bound on
 * completed tasks, and the crash and shutdown rules. */
#include "server/srv-test.h"

static struct xva_value *
record (struct t_env *e, const char *ref)
{
  char code[64];
  struct xva_value *v = t_call (e->srv, code, "task.get_record",
                                "[\"%s\", \"%s\"]", e->session, ref);
  if (v == NULL)
    fprintf (stderr, "task.get_record %s: %s\n", ref, code);
  return v;
}

static const char *
field (const struct xva_value *rec, const char *key)
{
  const char *s = xva_value_get_string (rec, key);
  return s ? s : "";
}

static double
progress_of (struct t_env *e, const char *ref)
{
  char code[64];
  struct xva_value *v = t_call (e->srv, code, "task.get_progress",
                                "[\"%s\", \"%s\"]", e->session, ref);
  double d = -1;

  CHECK (xva_value_type (v) == XVA_TYPE_DOUBLE);
  xva_value_get_double (v, &d);
  xva_value_free (v);
  return d;
}

static int
date_ok (const struct xva_value *v)
{
  const char *s = xva_value_string (v);
  size_t i;

  if (xva_value_type (v) != XVA_TYPE_DATE || s == NULL || strlen (s) != 18)
    return 0;
  for (i = 0; i < 18; i++) {
    char c = s[i];
    int ok = (i == 8)               ? c == 'T'
             : (i == 11 || i == 14) ? c == ':'
             : (i == 17)            ? c == 'Z'
                                    : (c >= '0' && c <= '9');
    if (!ok)
      return 0;
  }
  return 1;
}

static int
has_cancel_op (const struct xva_value *rec)
{
  const struct xva_value *ops = xva_value_get (rec, "current_operations");
  size_t i;

  for (i = 0; i < xva_value_len (ops); i++)
    if (xva_value_string (xva_value_at (ops, i))
        && strcmp (xva_value_string (xva_value_at (ops, i)), "cancel") == 0)
      return 1;
  return 0;
}

static void
test_rpc_lifecycle (struct t_env *e)
{
  char ref[XVA_SRV_REF_MAX + 1], got[XVA_SRV_REF_MAX + 1], code[64];
  char line[512];
  struct xva_value *rec, *v;

  CHECK (t_call_str (e->srv, ref, sizeof ref, "task.create",
                     "[\"%s\", \"label one\", \"desc\"]", e->session)
         == 0);
  rec = record (e, ref);
  CHECK (strcmp (field (rec, "status"), "pending") == 0);
  CHECK (strcmp (field (rec, "name_label"), "label one") == 0);
  CHECK (strcmp (field (rec, "name_description"), "desc") == 0);
  CHECK (xva_value_type (xva_value_get (rec, "progress")) == XVA_TYPE_DOUBLE);
  CHECK (date_ok (xva_value_get (rec, "created")));
  CHECK (date_ok (xva_value_get (rec, "finished")));
  CHECK (xva_value_len (xva_value_get (rec, "allowed_operations")) == 1);
  CHECK (xva_value_type (xva_value_get (rec, "current_operations"))
         == XVA_TYPE_STRUCT);
  CHECK (xva_value_type (xva_value_get (rec, "error_info")) == XVA_TYPE_ARRAY);
  CHECK (strncmp (field (rec, "resident_on"), "OpaqueRef:", 10) == 0);
  CHECK (strcmp (field (rec, "subtask_of"), "OpaqueRef:NULL") == 0);
  CHECK (xva_value_get (rec, "other_config") != NULL);
  CHECK (xva_value_get (rec, "backtrace") != NULL);
  CHECK (xva_value_get (rec, "type") != NULL);
  CHECK (xva_value_get (rec, "subtasks") != NULL);
  CHECK (xva_value_get (rec, "result") != NULL);

  /* get_by_uuid, getters. */
  CHECK (t_call_str (e->srv, got, sizeof got, "task.get_by_uuid",
                     "[\"%s\", \"%s\"]", e->session, field (rec, "uuid"))
           == 0
         && strcmp (got, ref) == 0);
  CHECK (t_call_str (e->srv, got, sizeof got, "task.get_status",
                     "[\"%s\", \"%s\"]", e->session, ref)
           == 0
         && strcmp (got, "pending") == 0);
  xva_value_free (rec);

  /* set_progress (RPC: written at once). */
  v = t_call (e->srv, code, "task.set_progress", "[\"%s\", \"%s\", 0.5]",
              e->session, ref);
  CHECK (v != NULL);
  xva_value_free (v);
  CHECK (progress_of (e, ref) == 0.5);
  v = t_call (e->srv, code, "task.set_progress", "[\"%s\", \"%s\", \"x\"]",
              e->session, ref);
  CHECK (v == NULL && strcmp (code, "FIELD_TYPE_ERROR") == 0);
  xva_value_free (v);

  /* set_status: a bad value; pending -> cancelling is fine. */
  v = t_call (e->srv, code, "task.set_status", "[\"%s\", \"%s\", \"bogus\"]",
              e->session, ref);
  CHECK (v == NULL && strcmp (code, "INVALID_VALUE") == 0);
  xva_value_free (v);

  /* Nothing runs it: cancel makes it cancelled at once. */
  v = t_call (e->srv, code, "task.cancel", "[\"%s\", \"%s\"]", e->session,
              ref);
  CHECK (v != NULL);
  xva_value_free (v);
  rec = record (e, ref);
  CHECK (strcmp (field (rec, "status"), "cancelled") == 0);
  CHECK (strcmp (xva_value_string (
                   xva_value_at (xva_value_get (rec, "error_info"), 0)),
                 "TASK_CANCELLED")
         == 0);
  CHECK (xva_value_len (xva_value_get (rec, "allowed_operations")) == 0);
  CHECK (date_ok (xva_value_get (rec, "finished"))
         && strcmp (xva_value_string (xva_value_get (rec, "finished")),
                    "19700101T00:00:00Z")
              != 0);
  snprintf (line, sizeof line, "task %s label one: cancelled",
            field (rec, "uuid"));
  CHECK_MSG (t_log_has (line), line);
  xva_value_free (rec);
  /* Complete: cancel again is a no-op, set_status to another final
   * status is refused, adopt says so. */
  v = t_call (e->srv, code, "task.cancel", "[\"%s\", \"%s\"]", e->session,
              ref);
  CHECK (v != NULL);
  xva_value_free (v);
  v = t_call (e->srv, code, "task.set_status", "[\"%s\", \"%s\", \"success\"]",
              e->session, ref);
  CHECK (v == NULL && strcmp (code, "OPERATION_NOT_ALLOWED") == 0);
  xva_value_free (v);
  CHECK (Xva_task_adopt (e->srv, ref) == XVA_ESTATE);
  CHECK (Xva_task_adopt (e->srv, "OpaqueRef:none") == XVA_ENOTFOUND);

  /* Destroy: gone. */
  v = t_call (e->srv, code, "task.destroy", "[\"%s\", \"%s\"]", e->session,
              ref);
  CHECK (v != NULL);
  xva_value_free (v);
  v = t_call (e->srv, code, "task.get_record", "[\"%s\", \"%s\"]", e->session,
              ref);
  CHECK (v == NULL && strcmp (code, "HANDLE_INVALID") == 0);
  CHECK (strcmp (t_err_param (1), "task") == 0);
  xva_value_free (v);
  v = t_call (e->srv, code, "task.cancel", "[\"%s\", \"%s\"]", e->session,
              ref);
  CHECK (v == NULL && strcmp (code, "HANDLE_INVALID") == 0);
  xva_value_free (v);

  /* set_status to failure completes it. */
  CHECK (t_call_str (e->srv, ref, sizeof ref, "task.create",
                     "[\"%s\", \"two\", \"\"]", e->session)
         == 0);
  v = t_call (e->srv, code, "task.set_status", "[\"%s\", \"%s\", \"failure\"]",
              e->session, ref);
  CHECK (v != NULL);
  xva_value_free (v);
  rec = record (e, ref);
  CHECK (strcmp (field (rec, "status"), "failure") == 0);
  xva_value_free (rec);
}

/* A transfer's cancel callback. */
struct flag {
  pthread_mutex_t m;
  int calls;
};

static void
on_cancel (void *opaque)
{
  struct flag *f = opaque;

  pthread_mutex_lock (&f->m);
  f->calls++;
  pthread_mutex_unlock (&f->m);
}

static void
test_transfer (struct t_env *e)
{
  char ref[XVA_SRV_REF_MAX + 1], line[512], code[64];
  struct flag f = { PTHREAD_MUTEX_INITIALIZER, 0 };
  struct xva_value *rec, *v, *ei;

  /* A client's task, adopted by a transfer (progress goes to 0). */
  CHECK (t_call_str (e->srv, ref, sizeof ref, "task.create",
                     "[\"%s\", \"export\", \"\"]", e->session)
         == 0);
  v = t_call (e->srv, code, "task.set_progress", "[\"%s\", \"%s\", -1]",
              e->session, ref);
  xva_value_free (v);
  CHECK (Xva_task_adopt (e->srv, ref) == XVA_OK);
  CHECK (progress_of (e, ref) == 0.0);
  Xva_task_on_cancel (e->srv, ref, on_cancel, &f);
  CHECK (Xva_task_cancel_requested (e->srv, ref) == 0);

  /* Progress: writes (each one a mod event) are held to one per
   * XVA_SRV_PROGRESS_MS; after a pause the next one goes through. */
  {
    char token[64], json[512];
    struct xva_value *evs;
    int64_t t0, dt;
    size_t k, writes = 0;

    t_sleep_ms (XVA_SRV_PROGRESS_MS + 50);
    CHECK (t_call_str (e->srv, token, sizeof token, "event.inject",
                       "[\"%s\", \"task\", \"%s\"]", e->session, ref)
           == 0);
    t0 = t_now_ms ();
    for (k = 1; k <= 200; k++)
      Xva_task_set_progress (e->srv, ref, (double) k / 400.0);
    dt = t_now_ms () - t0;
    snprintf (json, sizeof json, "[\"%s\", [\"task\"], \"%s\", 0]", e->session,
              token);
    evs = t_call (e->srv, code, "event.from", "%s", json);
    for (k = 0; k < xva_value_len (xva_value_get (evs, "events")); k++)
      writes++;
    xva_value_free (evs);
    /* The injected event, then the writes. */
    CHECK (writes >= 2);
    CHECK (writes - 1 <= 1 + (size_t) (dt / XVA_SRV_PROGRESS_MS) + 1);
    CHECK (progress_of (e, ref) >= 1.0 / 400.0);
    t_sleep_ms (XVA_SRV_PROGRESS_MS + 50);
    Xva_task_set_progress (e->srv, ref, 0.75);
    CHECK (progress_of (e, ref) == 0.75);
  }

  /* Attached: destroy is refused while it runs. */
  v = t_call (e->srv, code, "task.destroy", "[\"%s\", \"%s\"]", e->session,
              ref);
  CHECK (v == NULL && strcmp (code, "OTHER_OPERATION_IN_PROGRESS") == 0);
  xva_value_free (v);

  /* task.cancel: the callback runs, the record says so, the task stays
   * pending until the transfer gives up. */
  v = t_call (e->srv, code, "task.cancel", "[\"%s\", \"%s\"]", e->session,
              ref);
  CHECK (v != NULL);
  xva_value_free (v);
  CHECK (f.calls == 1);
  CHECK (Xva_task_cancel_requested (e->srv, ref) == 1);
  rec = record (e, ref);
  CHECK (strcmp (field (rec, "status"), "pending") == 0);
  CHECK (has_cancel_op (rec));
  snprintf (line, sizeof line, "task %s export: cancel requested",
            field (rec, "uuid"));
  CHECK_MSG (t_log_has (line), line);
  xva_value_free (rec);
  v = t_call (e->srv, code, "task.cancel", "[\"%s\", \"%s\"]", e->session,
              ref);
  xva_value_free (v);
  CHECK (f.calls == 1); /* once */
  Xva_task_cancelled (e->srv, ref);
  Xva_task_on_cancel (e->srv, ref, NULL, NULL);
  rec = record (e, ref);
  CHECK (strcmp (field (rec, "status"), "cancelled") == 0);
  CHECK (!has_cancel_op (rec));
  snprintf (line, sizeof line, "task %s export: cancelled",
            field (rec, "uuid"));
  CHECK_MSG (t_log_has (line), line);
  xva_value_free (rec);
  /* A gone task tells its transfer to stop. */
  CHECK (Xva_task_cancel_requested (e->srv, ref) == 1);

  /* The server's own task, succeeding. */
  CHECK (Xva_task_create (e->srv, "import x", "d", ref) == XVA_OK);
  Xva_task_on_cancel (e->srv, ref, on_cancel, &f);
  Xva_task_set_progress (e->srv, ref, 0.3);
  Xva_task_succeed (e->srv, ref,
                    "<value><array><data><value>OpaqueRef:a"
                    "</value></data></array></value>");
  Xva_task_fail_code (e->srv, ref, "IMPORT_ERROR", "late"); /* ignored */
  rec = record (e, ref);
  CHECK (strcmp (field (rec, "status"), "success") == 0);
  CHECK (strstr (field (rec, "result"), "OpaqueRef:a") != NULL);
  CHECK (xva_value_len (xva_value_get (rec, "error_info")) == 0);
  CHECK (progress_of (e, ref) == 1.0);
  snprintf (line, sizeof line, "task %s import x: success",
            field (rec, "uuid"));
  CHECK_MSG (t_log_has (line), line);
  xva_value_free (rec);
  v = t_call (e->srv, code, "task.get_result", "[\"%s\", \"%s\"]", e->session,
              ref);
  CHECK (v && strstr (xva_value_string (v), "OpaqueRef:a") != NULL);
  xva_value_free (v);

  /* Failing, with a code and a param. */
  CHECK (Xva_task_create (e->srv, "import y", "", ref) == XVA_OK);
  Xva_task_fail_code (e->srv, ref, "IMPORT_ERROR", "bad archive");
  Xva_task_succeed (e->srv, ref, ""); /* ignored */
  v = t_call (e->srv, code, "task.get_error_info", "[\"%s\", \"%s\"]",
              e->session, ref);
  CHECK (xva_value_len (v) == 2);
  CHECK (strcmp (xva_value_string (xva_value_at (v, 0)), "IMPORT_ERROR") == 0);
  CHECK (strcmp (xva_value_string (xva_value_at (v, 1)), "bad archive") == 0);
  xva_value_free (v);
  rec = record (e, ref);
  CHECK (strcmp (field (rec, "status"), "failure") == 0);
  snprintf (line, sizeof line, "task %s import y: failure IMPORT_ERROR",
            field (rec, "uuid"));
  CHECK_MSG (t_log_has (line), line);
  xva_value_free (rec);

  /* Xva_task_fail copies its array. */
  CHECK (Xva_task_create (e->srv, "z", "", ref) == XVA_OK);
  ei = t_json ("[\"SR_FULL\", \"1\", \"2\"]");
  Xva_task_fail (e->srv, ref, ei);
  xva_value_free (ei);
  rec = record (e, ref);
  CHECK (xva_value_len (xva_value_get (rec, "error_info")) == 3);
  xva_value_free (rec);
}

static size_t
count_tasks (struct t_env *e, const char *status)
{
  char code[64];
  struct xva_value *v = t_call (e->srv, code, "task.get_all_records",
                                "[\"%s\"]", e->session);
  size_t i, n = 0;

  for (i = 0; i < xva_value_len (v); i++)
    if (status == NULL
        || strcmp (field (xva_value_at (v, i), "status"), status) == 0)
      n++;
  xva_value_free (v);
  return n;
}

static int
task_exists (struct t_env *e, const char *ref)
{
  return Xva_store_get (e->store, NULL, ref, NULL, NULL) == XVA_OK;
}

static void
test_bound (struct t_env *e)
{
  char refs[8][XVA_SRV_REF_MAX + 1], pend[XVA_SRV_REF_MAX + 1];
  size_t i;

  Xva_srv_test_keep (e->srv, 5);
  CHECK (count_tasks (e, NULL) <= 5);
  CHECK (Xva_task_create (e->srv, "pending", "", pend) == XVA_OK);
  for (i = 0; i < 8; i++) {
    CHECK (Xva_task_create (e->srv, "done", "", refs[i]) == XVA_OK);
    Xva_task_succeed (e->srv, refs[i], "");
  }
  /* The 5 most recent completed ones are kept, oldest dropped. */
  CHECK (count_tasks (e, "success") + count_tasks (e, "failure")
           + count_tasks (e, "cancelled")
         == 5);
  for (i = 0; i < 3; i++)
    CHECK (!task_exists (e, refs[i]));
  for (i = 3; i < 8; i++)
    CHECK (task_exists (e, refs[i]));
  /* A pending task is never dropped. */
  CHECK (task_exists (e, pend));
  CHECK (count_tasks (e, "pending") >= 1);
  Xva_task_succeed (e->srv, pend, "");
  CHECK (task_exists (e, pend) && !task_exists (e, refs[3]));

  /* Destroyed tasks leave the count: 5 kept still means 5. */
  {
    char code[64];
    struct xva_value *v = t_call (e->srv, code, "task.destroy",
                                  "[\"%s\", \"%s\"]", e->session, pend);
    CHECK (v != NULL);
    xva_value_free (v);
    CHECK (Xva_task_create (e->srv, "one more", "", pend) == XVA_OK);
    Xva_task_succeed (e->srv, pend, "");
    CHECK (task_exists (e, refs[4]));
    CHECK (count_tasks (e, NULL) == 5);
  }
  Xva_srv_test_keep (e->srv, XVA_SRV_TASKS_KEPT);
}

/* The real bound: XVA_SRV_TASKS_KEPT completed tasks, then one more. */
static void
test_real_bound (struct t_env *e)
{
  char first[XVA_SRV_REF_MAX + 1], ref[XVA_SRV_REF_MAX + 1];
  size_t i, n0 = count_tasks (e, NULL);

  CHECK (Xva_task_create (e->srv, "first", "", first) == XVA_OK);
  Xva_task_succeed (e->srv, first, "");
  for (i = n0 + 1; i < XVA_SRV_TASKS_KEPT; i++) {
    CHECK (Xva_task_create (e->srv, "filler", "", ref) == XVA_OK);
    Xva_task_succeed (e->srv, ref, "");
  }
  CHECK (count_tasks (e, NULL) == XVA_SRV_TASKS_KEPT);
  /* Nothing dropped yet; one more drops the oldest. */
  CHECK (task_exists (e, first));
  CHECK (Xva_task_create (e->srv, "last", "", ref) == XVA_OK);
  Xva_task_succeed (e->srv, ref, "");
  CHECK (count_tasks (e, NULL) == XVA_SRV_TASKS_KEPT);
  CHECK (task_exists (e, ref));
  if (n0 == 0)
    CHECK (!task_exists (e, first));
}

/* A crash leaves a pending task: the next start marks it failed.  A
 * clean stop cancels running tasks, through their callbacks. */
static void
test_restart (struct t_env *e)
{
  char ref[XVA_STORE_REF_MAX + 1], run[XVA_SRV_REF_MAX + 1], err[256];
  struct flag f = { PTHREAD_MUTEX_INITIALIZER, 0 };
  struct xva_value *rec = NULL;

  CHECK (Xva_store_new_ref (ref) == XVA_OK);
  rec = t_json (
    "{\"uuid\": \"11111111-2222-4333-8444-555555555555\","
    " \"name_label\": \"crashed\", \"status\": \"pending\","
    " \"progress\": 0.4, \"error_info\": [],"
    " \"allowed_operations\": [\"cancel\"],"
    " \"current_operations\": {}}");
  CHECK (Xva_store_put (e->store, NULL, ref, "task", rec) == XVA_OK);
  xva_value_free (rec);
  rec = NULL;
  CHECK (Xva_task_create (e->srv, "running", "", run) == XVA_OK);
  Xva_task_on_cancel (e->srv, run, on_cancel, &f);

  Xva_srv_free (e->srv);
  CHECK (f.calls == 1);
  CHECK (Xva_srv_new (e->store, t_log, NULL, &e->srv, err, sizeof err)
         == XVA_OK);
  CHECK (Xva_session_login (e->srv, "root", NULL, 1, e->session) == XVA_OK);

  CHECK (Xva_store_get (e->store, NULL, ref, NULL, &rec) == XVA_OK);
  CHECK (strcmp (field (rec, "status"), "failure") == 0);
  CHECK (strcmp (xva_value_string (
                   xva_value_at (xva_value_get (rec, "error_info"), 0)),
                 "INTERNAL_ERROR")
         == 0);
  xva_value_free (rec);
  rec = NULL;
  CHECK (
    t_log_has ("task 11111111-2222-4333-8444-555555555555 crashed: "
               "failure INTERNAL_ERROR"));
  CHECK (Xva_store_get (e->store, NULL, run, NULL, &rec) == XVA_OK);
  CHECK (strcmp (field (rec, "status"), "cancelled") == 0);
  xva_value_free (rec);
}

/* task.cancel from one thread while the transfer completes from
 * another: the callback and completion never cross. */
struct race {
  struct t_env *e;
  char ref[XVA_SRV_REF_MAX + 1];
};

static void *
race_cancel (void *arg)
{
  struct race *r = arg;
  char code[64];
  struct xva_value *v = t_call (r->e->srv, code, "task.cancel",
                                "[\"%s\", \"%s\"]", r->e->session, r->ref);
  xva_value_free (v);
  return NULL;
}

static void
slow_cancel (void *opaque)
{
  struct flag *f = opaque;

  t_sleep_ms (20);
  on_cancel (f);
}

static void
test_race (struct t_env *e)
{
  struct flag f = { PTHREAD_MUTEX_INITIALIZER, 0 };
  struct race r;
  pthread_t th;
  int i, calls;

  r.e = e;
  for (i = 0; i < 20; i++) {
    CHECK (Xva_task_create (e->srv, "race", "", r.ref) == XVA_OK);
    Xva_task_on_cancel (e->srv, r.ref, slow_cancel, &f);
    CHECK (pthread_create (&th, NULL, race_cancel, &r) == 0);
    t_sleep_ms (i % 3 == 0 ? 0 : 5);
    /* The transfer ends: unregisters, then completes.  Afterwards the
     * callback never runs again. */
    Xva_task_on_cancel (e->srv, r.ref, NULL, NULL);
    pthread_mutex_lock (&f.m);
    calls = f.calls;
    pthread_mutex_unlock (&f.m);
    Xva_task_succeed (e->srv, r.ref, "");
    pthread_join (th, NULL);
    CHECK (f.calls == calls);
  }
}

int
main (void)
{
  struct t_env e;

  t_env_open (&e);
  test_rpc_lifecycle (&e);
  test_transfer (&e);
  test_bound (&e);
  test_race (&e);
  test_restart (&e);
  test_real_bound (&e);
  CHECK (!t_log_has ("OpaqueRef:"));
  t_env_close (&e);
  xva_value_free (t_last_err);
  HARNESS_DONE ();
}
