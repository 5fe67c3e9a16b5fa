/* Events: a first event.from returns the current objects, a later one
 * wakes on a new event from another thread and otherwise returns at
 * its timeout; classes without case, class/ref subscriptions, tokens,
 * event.inject, and a ring that overflows. */
#include "server/srv-test.h"

static struct xva_value *
from (struct t_env *e, char *code, const char *classes, const char *token,
      double timeout)
{
  return t_call (e->srv, code, "event.from", "[\"%s\", %s, \"%s\", %.3f]",
                 e->session, classes, token, timeout);
}

static const char *
tok (const struct xva_value *v)
{
  const char *s = xva_value_get_string (v, "token");
  return s ? s : "";
}

static size_t
count_events (const struct xva_value *v, const char *cls, const char *op,
              const char *ref)
{
  const struct xva_value *evs = xva_value_get (v, "events");
  size_t i, n = 0;

  for (i = 0; i < xva_value_len (evs); i++) {
    const struct xva_value *ev = xva_value_at (evs, i);
    const char *c = xva_value_get_string (ev, "class");
    const char *o = xva_value_get_string (ev, "operation");
    const char *r = xva_value_get_string (ev, "ref");
    if ((cls == NULL || (c && strcmp (c, cls) == 0))
        && (op == NULL || (o && strcmp (o, op) == 0))
        && (ref == NULL || (r && strcmp (r, ref) == 0)))
      n++;
  }
  return n;
}

static int64_t
ref_count (const struct xva_value *v, const char *cls)
{
  int64_t n = -1;

  xva_value_get_int (xva_value_get (xva_value_get (v, "valid_ref_counts"),
                                    cls),
                     &n);
  return n;
}

/* A thread that waits, then injects an event or makes a task. */
struct later {
  struct t_env *e;
  long delay_ms;
  const char *cls;
  char ref[XVA_SRV_REF_MAX + 1];
  int make_task;
};

static void *
later_run (void *arg)
{
  struct later *l = arg;
  char out[XVA_SRV_REF_MAX + 1];

  t_sleep_ms (l->delay_ms);
  if (l->make_task)
    Xva_task_create (l->e->srv, "bg", "", out);
  else
    Xva_event_add (l->e->srv, l->cls, l->ref, "mod");
  return NULL;
}

static int poll_ok;
static char poll_token[64];

static void *
long_poll (void *arg)
{
  struct t_env *e = arg;
  struct xva_value *params, *res = NULL, *err = NULL;
  char json[512];

  snprintf (json, sizeof json, "[\"%s\", [\"*\"], \"%s\", 30.0]", e->session,
            poll_token);
  params = t_json ("%s", json);
  /* Nothing happens: only the stop ends it. */
  if (Xva_rpc_call (e->srv, "event.from", params, 0, &res, &err) == XVA_OK)
    poll_ok = xva_value_len (xva_value_get (res, "events")) == 0;
  xva_value_free (params);
  xva_value_free (res);
  xva_value_free (err);
  return NULL;
}

int
main (void)
{
  struct t_env e;
  struct xva_value *v, *ev, *rec;
  struct later l;
  pthread_t th;
  char code[64], token[64], vm[XVA_STORE_REF_MAX + 1], pool[64 + 200];
  char task[XVA_SRV_REF_MAX + 1];
  struct Xva_store_list pools;
  int64_t t0, dt;
  size_t i, n;

  t_env_open (&e);
  if (Xva_store_list (e.store, NULL, "pool", 0, &pools) != XVA_OK)
    return 1;
  snprintf (pool, sizeof pool, "%s", pools.refs[0]);
  Xva_store_list_free (&pools);
  CHECK (Xva_store_new_ref (vm) == XVA_OK);
  rec = t_json (
    "{\"uuid\": \"aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee\","
    " \"name_label\": \"v\", \"power_state\": \"Halted\","
    " \"memory_static_max\": \"268435456\"}");
  CHECK (Xva_store_put (e.store, NULL, vm, "VM", rec) == XVA_OK);
  xva_value_free (rec);
  CHECK (Xva_task_create (e.srv, "t", "", task) == XVA_OK);

  /* Empty token: every current object as an add, at once. */
  t0 = t_now_ms ();
  v = from (&e, code, "[\"*\"]", "", 30.0);
  CHECK (t_now_ms () - t0 < 2000);
  CHECK (v != NULL);
  CHECK (count_events (v, "pool", "add", pool) == 1);
  CHECK (count_events (v, "host", "add", NULL) == 1);
  CHECK (count_events (v, "sr", "add", NULL) == 1);
  CHECK (count_events (v, "vm", "add", vm) == 1);
  CHECK (count_events (v, "task", "add", task) == 1);
  CHECK (count_events (v, NULL, NULL, NULL) == 5);
  ev = xva_value_at (xva_value_get (v, "events"), 0);
  CHECK (xva_value_get_string (ev, "id") != NULL);
  CHECK (xva_value_get_string (ev, "timestamp") != NULL);
  CHECK (xva_value_type (xva_value_get (ev, "snapshot")) == XVA_TYPE_STRUCT);
  CHECK (ref_count (v, "task") == 1);
  CHECK (ref_count (v, "vm") == 1);
  CHECK (ref_count (v, "pool") == 1);
  CHECK (strlen (tok (v)) > 0);
  xva_value_free (v);

  /* Classes without case; only those asked for. */
  v = from (&e, code, "[\"vm\"]", "", 0);
  CHECK (count_events (v, NULL, NULL, NULL) == 1);
  CHECK (count_events (v, "vm", "add", vm) == 1);
  ev = xva_value_at (xva_value_get (v, "events"), 0);
  rec = xva_value_get (ev, "snapshot");
  CHECK (xva_value_type (xva_value_get (rec, "memory_static_max"))
         == XVA_TYPE_INT);
  CHECK (ref_count (v, "task") == 1); /* always there */
  snprintf (token, sizeof token, "%s", tok (v));
  xva_value_free (v);
  v = from (&e, code, "[\"Vm\", \"TASK\"]", "", 0);
  CHECK (count_events (v, NULL, NULL, NULL) == 2);
  xva_value_free (v);

  /* A later call wakes on an event injected by another thread. */
  memset (&l, 0, sizeof l);
  l.e = &e;
  l.delay_ms = 300;
  l.cls = "VM";
  snprintf (l.ref, sizeof l.ref, "%s", vm);
  CHECK (pthread_create (&th, NULL, later_run, &l) == 0);
  t0 = t_now_ms ();
  v = from (&e, code, "[\"VM\", \"task\"]", token, 10.0);
  dt = t_now_ms () - t0;
  pthread_join (th, NULL);
  CHECK (v != NULL);
  CHECK (dt >= 250 && dt < 5000);
  CHECK (count_events (v, "vm", "mod", vm) == 1);
  CHECK (count_events (v, NULL, NULL, NULL) == 1);
  ev = xva_value_at (xva_value_get (v, "events"), 0);
  CHECK (strcmp (xva_value_get_string (xva_value_get (ev, "snapshot"),
                                       "name_label"),
                 "v")
         == 0);
  CHECK (strcmp (tok (v), token) != 0);
  snprintf (token, sizeof token, "%s", tok (v));
  xva_value_free (v);

  /* Nothing happens: it returns at the timeout, empty. */
  t0 = t_now_ms ();
  v = from (&e, code, "[\"VM\"]", token, 0.4);
  dt = t_now_ms () - t0;
  CHECK (v != NULL);
  CHECK (dt >= 350 && dt < 3000);
  CHECK (count_events (v, NULL, NULL, NULL) == 0);
  CHECK (strcmp (tok (v), token) == 0);
  xva_value_free (v);

  /* An event of another class does not end the wait. */
  memset (&l, 0, sizeof l);
  l.e = &e;
  l.delay_ms = 100;
  l.make_task = 1;
  CHECK (pthread_create (&th, NULL, later_run, &l) == 0);
  t0 = t_now_ms ();
  v = from (&e, code, "[\"VM\"]", token, 0.6);
  dt = t_now_ms () - t0;
  pthread_join (th, NULL);
  CHECK (dt >= 550);
  CHECK (count_events (v, NULL, NULL, NULL) == 0);
  /* ...but moves the token past it. */
  CHECK (strcmp (tok (v), token) != 0);
  CHECK (ref_count (v, "task") == 2);
  xva_value_free (v);
  /* Asked for, the task's add is there. */
  v = from (&e, code, "[\"task\"]", token, 0);
  CHECK (count_events (v, "task", "add", NULL) == 1);
  xva_value_free (v);

  /* class/ref subscriptions. */
  CHECK (t_call_str (e.srv, token, sizeof token, "event.inject",
                     "[\"%s\", \"pool\", \"%s\"]", e.session, pool)
         == 0);
  Xva_event_add (e.srv, "VM", vm, "mod");
  Xva_event_add (e.srv, "task", task, "mod");
  v = t_call (e.srv, code, "event.from", "[\"%s\", [\"vm/%s\"], \"%s\", 0]",
              e.session, vm, token);
  CHECK (count_events (v, NULL, NULL, NULL) == 1);
  CHECK (count_events (v, "vm", "mod", vm) == 1);
  xva_value_free (v);
  v = t_call (e.srv, code, "event.from",
              "[\"%s\", [\"vm/OpaqueRef:other\"], \"%s\", 0]", e.session,
              token);
  CHECK (count_events (v, NULL, NULL, NULL) == 0);
  xva_value_free (v);
  /* The injected event itself comes after the token inject gave. */
  v = from (&e, code, "[\"pool\"]", token, 0);
  CHECK (count_events (v, "pool", "mod", pool) == 1);
  xva_value_free (v);

  /* Deletes carry no snapshot; adds and mods of gone records are not
   * recorded. */
  CHECK (t_call_str (e.srv, token, sizeof token, "event.inject",
                     "[\"%s\", \"pool\", \"%s\"]", e.session, pool)
         == 0);
  Xva_event_add (e.srv, "VM", "OpaqueRef:gone", "mod");
  Xva_event_add (e.srv, "VM", "OpaqueRef:gone", "del");
  Xva_event_add (e.srv, "VM", vm, "bogus");
  v = from (&e, code, "[\"vm\"]", token, 0);
  CHECK (count_events (v, NULL, NULL, NULL) == 1);
  CHECK (count_events (v, "vm", "del", "OpaqueRef:gone") == 1);
  ev = xva_value_at (xva_value_get (v, "events"), 0);
  CHECK (xva_value_get (ev, "snapshot") == NULL);
  xva_value_free (v);

  /* Bad tokens, subscriptions, references. */
  v = from (&e, code, "[\"*\"]", "abc", 0);
  CHECK (v == NULL && strcmp (code, "EVENT_FROM_TOKEN_PARSE_FAILURE") == 0);
  xva_value_free (v);
  v = from (&e, code, "[\"*\"]", "99999999", 0);
  CHECK (v == NULL && strcmp (code, "EVENTS_LOST") == 0);
  xva_value_free (v);
  v = from (&e, code, "[\"\"]", "", 0);
  CHECK (v == NULL && strcmp (code, "EVENT_SUBSCRIPTION_PARSE_FAILURE") == 0);
  xva_value_free (v);
  v = from (&e, code, "[5]", "", 0);
  CHECK (v == NULL && strcmp (code, "EVENT_SUBSCRIPTION_PARSE_FAILURE") == 0);
  xva_value_free (v);
  v = t_call (e.srv, code, "event.from", "[\"%s\", [\"*\"], \"\", \"x\"]",
              e.session);
  CHECK (v == NULL && strcmp (code, "FIELD_TYPE_ERROR") == 0);
  xva_value_free (v);
  /* An int timeout is fine too. */
  v = t_call (e.srv, code, "event.from", "[\"%s\", [\"*\"], \"%s\", 0]",
              e.session, token);
  CHECK (v != NULL);
  xva_value_free (v);
  v = t_call (e.srv, code, "event.inject", "[\"%s\", \"VM\", \"%s\"]",
              e.session, pool);
  CHECK (v == NULL && strcmp (code, "HANDLE_INVALID") == 0);
  xva_value_free (v);
  v = t_call (e.srv, code, "event.inject", "[\"%s\", \"nosuch\", \"%s\"]",
              e.session, pool);
  CHECK (v == NULL && strcmp (code, "HANDLE_INVALID") == 0);
  xva_value_free (v);

  /* The ring is bounded: a token older than what it holds is lost. */
  CHECK (t_call_str (e.srv, token, sizeof token, "event.inject",
                     "[\"%s\", \"pool\", \"%s\"]", e.session, pool)
         == 0);
  for (i = 0; i < XVA_SRV_EVENTS_MAX + 5; i++)
    Xva_event_add (e.srv, "VM", "OpaqueRef:gone", "del");
  v = from (&e, code, "[\"*\"]", token, 0);
  CHECK (v == NULL && strcmp (code, "EVENTS_LOST") == 0);
  xva_value_free (v);
  v = from (&e, code, "[\"*\"]", "", 0);
  CHECK (v != NULL);
  snprintf (token, sizeof token, "%s", tok (v));
  xva_value_free (v);
  Xva_event_add (e.srv, "VM", vm, "mod");
  v = from (&e, code, "[\"*\"]", token, 0);
  n = count_events (v, NULL, NULL, NULL);
  CHECK (n == 1);
  xva_value_free (v);

  /* Xva_srv_free ends a long poll at once, and waits for it. */
  snprintf (poll_token, sizeof poll_token, "%s", token);
  v = from (&e, code, "[\"*\"]", token, 0);
  CHECK (v != NULL);
  if (v)
    snprintf (poll_token, sizeof poll_token, "%s", tok (v));
  xva_value_free (v);
  CHECK (pthread_create (&th, NULL, long_poll, &e) == 0);
  t_sleep_ms (200);
  t0 = t_now_ms ();
  Xva_srv_free (e.srv);
  dt = t_now_ms () - t0;
  CHECK (dt < 3000);
  pthread_join (th, NULL);
  CHECK (poll_ok == 1);
  e.srv = NULL;

  t_env_close (&e);
  xva_value_free (t_last_err);
  HARNESS_DONE ();
}
