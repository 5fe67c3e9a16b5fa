/* add_to_other_config / remove_from_other_config / get_other_config, as
 * the xen-api npm client's barrier() uses them on the pool: the entry
 * shows in the record, in get_other_config and in the mod event that
 * event.from delivers; a duplicate key is MAP_DUPLICATE_KEY; removing a
 * missing key is no error and makes no event; bounds; wrong class. */
#include "server/srv-test.h"

static char pool_ref[XVA_SRV_REF_MAX + 1];
static char sr_ref[XVA_SRV_REF_MAX + 1];

/* The first ref that class.get_all returns. */
static void
first_ref (struct t_env *e, const char *cls, char *out)
{
  char method[64], code[64];
  struct xva_value *v;

  snprintf (method, sizeof method, "%s.get_all", cls);
  v = t_call (e->srv, code, method, "[\"%s\"]", e->session);
  CHECK_MSG (v != NULL && xva_value_len (v) >= 1, method);
  snprintf (out, XVA_SRV_REF_MAX + 1, "%s",
            v && xva_value_string (xva_value_at (v, 0))
              ? xva_value_string (xva_value_at (v, 0))
              : "");
  xva_value_free (v);
}

/* other_config[key] of the object as get_record shows it, or NULL
 * (copied into out). */
static const char *
record_entry (struct t_env *e, const char *cls, const char *ref,
              const char *key, char *out, size_t len)
{
  char method[64], code[64];
  struct xva_value *v;
  const char *s;

  snprintf (method, sizeof method, "%s.get_record", cls);
  v = t_call (e->srv, code, method, "[\"%s\", \"%s\"]", e->session, ref);
  CHECK_MSG (v != NULL, method);
  s = xva_value_get_string (xva_value_get (v, "other_config"), key);
  if (s != NULL)
    snprintf (out, len, "%s", s);
  xva_value_free (v);
  return s != NULL ? out : NULL;
}

/* A token after every event so far (event.inject, then an event.from
 * that returns at once). */
static void
fresh_token (struct t_env *e, char *out, size_t len)
{
  char code[64];
  struct xva_value *v;
  const char *t;

  v = t_call (e->srv, code, "event.inject", "[\"%s\", \"pool\", \"%s\"]",
              e->session, pool_ref);
  CHECK (v != NULL && xva_value_string (v) != NULL);
  snprintf (out, len, "%s", v ? xva_value_string (v) : "");
  xva_value_free (v);
  v = t_call (e->srv, code, "event.from", "[\"%s\", [\"pool\"], \"%s\", 0.0]",
              e->session, out);
  t = xva_value_get_string (v, "token");
  CHECK (t != NULL);
  snprintf (out, len, "%s", t ? t : "");
  xva_value_free (v);
}

/* Events of class cls and ref after token (waiting up to timeout s)
 * whose snapshot's other_config holds key (with value, if not NULL);
 * *all gets every event of that ref. */
static size_t
events_with (struct t_env *e, const char *token, const char *cls,
             const char *ref, const char *key, const char *value,
             double timeout, size_t *all)
{
  char code[64];
  struct xva_value *v;
  const struct xva_value *evs;
  size_t i, n = 0;

  *all = 0;
  v = t_call (e->srv, code, "event.from", "[\"%s\", [\"%s\"], \"%s\", %.1f]",
              e->session, cls, token, timeout);
  CHECK_MSG (v != NULL, code);
  evs = xva_value_get (v, "events");
  for (i = 0; i < xva_value_len (evs); i++) {
    const struct xva_value *ev = xva_value_at (evs, i);
    const char *r = xva_value_get_string (ev, "ref");
    const char *op = xva_value_get_string (ev, "operation");
    const struct xva_value *oc;
    const char *got;

    if (r == NULL || strcmp (r, ref) != 0)
      continue;
    if (op != NULL && strcmp (op, "mod") == 0) {
      const struct xva_value *snap = xva_value_get (ev, "snapshot");
      (*all)++;
      oc = xva_value_get (snap, "other_config");
      got = xva_value_get_string (oc, key);
      if (got != NULL && (value == NULL || strcmp (got, value) == 0))
        n++;
    }
  }
  xva_value_free (v);
  return n;
}

static void
test_barrier (struct t_env *e)
{
  const char *key = "xo:barrier:abc123";
  char code[64], buf[256], tok[64];
  struct xva_value *v;
  size_t all;

  fresh_token (e, tok, sizeof tok);
  v = t_call (e->srv, code, "pool.add_to_other_config",
              "[\"%s\", \"%s\", \"%s\", \"1700000000000\"]", e->session,
              pool_ref, key);
  CHECK_MSG (v != NULL && xva_value_string (v) != NULL
               && strcmp (xva_value_string (v), "") == 0,
             code);
  xva_value_free (v);
  CHECK (record_entry (e, "pool", pool_ref, key, buf, sizeof buf) != NULL
         && strcmp (buf, "1700000000000") == 0);
  /* One mod event, and it carries the new entry. */
  CHECK (events_with (e, tok, "pool", pool_ref, key, "1700000000000", 5.0,
                      &all)
         == 1);
  CHECK (all == 1);

  v = t_call (e->srv, code, "pool.get_other_config", "[\"%s\", \"%s\"]",
              e->session, pool_ref);
  CHECK (xva_value_type (v) == XVA_TYPE_STRUCT
         && xva_value_get_string (v, key) != NULL);
  xva_value_free (v);

  /* A second add of the key: MAP_DUPLICATE_KEY, value unchanged, no
   * event. */
  fresh_token (e, tok, sizeof tok);
  v = t_call (e->srv, code, "pool.add_to_other_config",
              "[\"%s\", \"%s\", \"%s\", \"2\"]", e->session, pool_ref, key);
  CHECK (v == NULL && strcmp (code, "MAP_DUPLICATE_KEY") == 0);
  CHECK (strcmp (t_err_param (1), "pool") == 0
         && strcmp (t_err_param (2), "other_config") == 0
         && strcmp (t_err_param (3), pool_ref) == 0
         && strcmp (t_err_param (4), key) == 0);
  xva_value_free (v);
  CHECK (record_entry (e, "pool", pool_ref, key, buf, sizeof buf) != NULL
         && strcmp (buf, "1700000000000") == 0);
  CHECK (events_with (e, tok, "pool", pool_ref, key, NULL, 0.3, &all) == 0);
  CHECK (all == 0);

  /* Remove: gone from the record, and one mod event without it. */
  fresh_token (e, tok, sizeof tok);
  v = t_call (e->srv, code, "pool.remove_from_other_config",
              "[\"%s\", \"%s\", \"%s\"]", e->session, pool_ref, key);
  CHECK_MSG (v != NULL, code);
  xva_value_free (v);
  CHECK (record_entry (e, "pool", pool_ref, key, buf, sizeof buf) == NULL);
  CHECK (events_with (e, tok, "pool", pool_ref, key, NULL, 5.0, &all) == 0);
  CHECK (all == 1);

  /* Removing it again: no error and no event. */
  fresh_token (e, tok, sizeof tok);
  v = t_call (e->srv, code, "pool.remove_from_other_config",
              "[\"%s\", \"%s\", \"%s\"]", e->session, pool_ref, key);
  CHECK_MSG (v != NULL, code);
  xva_value_free (v);
  CHECK (events_with (e, tok, "pool", pool_ref, key, NULL, 0.3, &all) == 0);
  CHECK (all == 0);
}

static void
test_other_classes (struct t_env *e)
{
  char code[64], buf[64];
  struct xva_value *v;

  /* Another class: the SR. */
  v = t_call (e->srv, code, "SR.add_to_other_config",
              "[\"%s\", \"%s\", \"k\", \"v\"]", e->session, sr_ref);
  CHECK_MSG (v != NULL, code);
  xva_value_free (v);
  CHECK (record_entry (e, "SR", sr_ref, "k", buf, sizeof buf) != NULL
         && strcmp (buf, "v") == 0);
  /* The pool's ref is no SR. */
  v = t_call (e->srv, code, "SR.add_to_other_config",
              "[\"%s\", \"%s\", \"k\", \"v\"]", e->session, pool_ref);
  CHECK (v == NULL && strcmp (code, "HANDLE_INVALID") == 0
         && strcmp (t_err_param (1), "SR") == 0);
  xva_value_free (v);
  v = t_call (e->srv, code, "VM.remove_from_other_config",
              "[\"%s\", \"OpaqueRef:nonesuch\", \"k\"]", e->session);
  CHECK (v == NULL && strcmp (code, "HANDLE_INVALID") == 0);
  xva_value_free (v);
  /* Types. */
  v = t_call (e->srv, code, "pool.add_to_other_config",
              "[\"%s\", \"%s\", \"k\", 5]", e->session, pool_ref);
  CHECK (v == NULL && strcmp (code, "FIELD_TYPE_ERROR") == 0);
  xva_value_free (v);
  v = t_call (e->srv, code, "pool.add_to_other_config",
              "[\"%s\", \"%s\", [], \"v\"]", e->session, pool_ref);
  CHECK (v == NULL && strcmp (code, "FIELD_TYPE_ERROR") == 0);
  xva_value_free (v);
}

static void
test_bounds (struct t_env *e)
{
  static char big[XVA_SRV_MAP_VALUE_MAX + 2];
  char code[64], key[32], host[XVA_SRV_REF_MAX + 1];
  struct xva_value *v;
  size_t i, had;

  /* A key one byte too long, then a value one byte too long. */
  memset (big, 'k', XVA_SRV_MAP_KEY_MAX + 1);
  big[XVA_SRV_MAP_KEY_MAX + 1] = '\0';
  v = t_call (e->srv, code, "pool.add_to_other_config",
              "[\"%s\", \"%s\", \"%s\", \"v\"]", e->session, pool_ref, big);
  CHECK (v == NULL && strcmp (code, "VALUE_NOT_SUPPORTED") == 0);
  xva_value_free (v);
  /* Removing a key that long is a no-op. */
  v = t_call (e->srv, code, "pool.remove_from_other_config",
              "[\"%s\", \"%s\", \"%s\"]", e->session, pool_ref, big);
  CHECK (v != NULL);
  xva_value_free (v);
  big[XVA_SRV_MAP_KEY_MAX] = '\0'; /* exactly the bound: fine */
  v = t_call (e->srv, code, "pool.add_to_other_config",
              "[\"%s\", \"%s\", \"%s\", \"v\"]", e->session, pool_ref, big);
  CHECK_MSG (v != NULL, code);
  xva_value_free (v);
  memset (big, 'v', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  {
    /* t_call's JSON buffer is too small for this one: build params. */
    struct xva_value *params = xva_value_new_array ();
    struct xva_value *ei = NULL, *res = NULL;
    int r;

    xva_value_append (params, xva_value_new_string (e->session));
    xva_value_append (params, xva_value_new_string (pool_ref));
    xva_value_append (params, xva_value_new_string ("long"));
    xva_value_append (params, xva_value_new_string (big));
    r = Xva_rpc_call (e->srv, "pool.add_to_other_config", params, 0, &res,
                      &ei);
    CHECK (r == XVA_ESERVER && ei != NULL
           && strcmp (xva_value_string (xva_value_at (ei, 0)),
                      "VALUE_NOT_SUPPORTED")
                == 0);
    xva_value_free (res);
    xva_value_free (ei);
    xva_value_free (params);
  }

  /* The host's map filled (in the store) to one below the bound takes
   * one more entry, then refuses. */
  first_ref (e, "host", host);
  {
    struct Xva_store_txn *t = NULL;
    struct xva_value *rec = NULL, *map = xva_value_new_struct ();
    char cls[XVA_STORE_CLASS_MAX + 1];

    for (i = 0; map != NULL && i + 1 < XVA_SRV_MAP_ENTRIES_MAX; i++) {
      snprintf (key, sizeof key, "fill-%zu", i);
      CHECK (xva_value_set_string (map, key, "v") == 0);
    }
    CHECK (Xva_store_begin (e->store, &t) == XVA_OK);
    CHECK (Xva_store_get (e->store, t, host, cls, &rec) == XVA_OK);
    CHECK (xva_value_set (rec, "other_config", map) == 0);
    CHECK (Xva_store_put (e->store, t, host, "host", rec) == XVA_OK);
    CHECK (Xva_store_commit (t) == XVA_OK);
    xva_value_free (rec);
  }
  v = t_call (e->srv, code, "host.get_other_config", "[\"%s\", \"%s\"]",
              e->session, host);
  had = xva_value_len (v);
  CHECK (had == XVA_SRV_MAP_ENTRIES_MAX - 1);
  xva_value_free (v);
  v = t_call (e->srv, code, "host.add_to_other_config",
              "[\"%s\", \"%s\", \"last\", \"v\"]", e->session, host);
  CHECK_MSG (v != NULL, code);
  xva_value_free (v);
  v = t_call (e->srv, code, "host.add_to_other_config",
              "[\"%s\", \"%s\", \"one-more\", \"v\"]", e->session, host);
  CHECK (v == NULL && strcmp (code, "VALUE_NOT_SUPPORTED") == 0);
  xva_value_free (v);
  /* Room again after a removal. */
  v = t_call (e->srv, code, "host.remove_from_other_config",
              "[\"%s\", \"%s\", \"fill-0\"]", e->session, host);
  CHECK (v != NULL);
  xva_value_free (v);
  v = t_call (e->srv, code, "host.add_to_other_config",
              "[\"%s\", \"%s\", \"one-more\", \"v\"]", e->session, host);
  CHECK_MSG (v != NULL, code);
  xva_value_free (v);
}

int
main (void)
{
  struct t_env e;

  t_env_open (&e);
  first_ref (&e, "pool", pool_ref);
  first_ref (&e, "SR", sr_ref);
  test_barrier (&e);
  test_other_classes (&e);
  test_bounds (&e);
  t_env_close (&e);
  xva_value_free (t_last_err);
  HARNESS_DONE ();
}
