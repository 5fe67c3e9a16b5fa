/* The RPC surface: the method table, dispatch with XenAPI's errors, and
 * the XML-RPC and JSON-RPC envelopes around it. */
#include "server/srv-priv.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format/value.h"

#define ECHO_MAX 256 /* bytes of client text in an error */

/* ---- Method table ------------------------------------------------------ */

struct method {
  const char *name;
  unsigned char min, max; /* params, the session included */
  unsigned char session;  /* needs a session (param 0) */
  Xva_rpc_fn fn;
  const char *cls;   /* class of a per-class method */
  const char *field; /* field of a getter */
};

/* clang-format off */
#define M(n, lo, hi, s, f, k, fld) { n, lo, hi, s, f, k, fld }
#define ALL(C)                                                          \
  M (C ".get_all", 1, 1, 1, Xva_m_get_all, C, NULL),                    \
  M (C ".get_all_records", 1, 1, 1, Xva_m_get_all_records, C, NULL)
#define RECORD(C) M (C ".get_record", 2, 2, 1, Xva_m_get_record, C, NULL)
#define UUID(C)                                                         \
  M (C ".get_by_uuid", 2, 2, 1, Xva_m_get_by_uuid, C, NULL),            \
  M (C ".get_uuid", 2, 2, 1, Xva_m_get_field, C, "uuid")
#define NAME(C)                                                         \
  M (C ".get_by_name_label", 2, 2, 1, Xva_m_get_by_name_label, C, NULL), \
  M (C ".get_name_label", 2, 2, 1, Xva_m_get_field, C, "name_label")
#define FIELD(C, F) M (C ".get_" F, 2, 2, 1, Xva_m_get_field, C, F)
#define OTHER(C)                                                        \
  FIELD (C, "other_config"),                                            \
  M (C ".add_to_other_config", 4, 4, 1, Xva_m_map_add, C, "other_config"), \
  M (C ".remove_from_other_config", 3, 3, 1, Xva_m_map_remove, C,       \
     "other_config")

static const struct method methods[] = {
  M ("system.listMethods", 0, 0, 0, Xva_m_list_methods, NULL, NULL),
  M ("session.login_with_password", 2, 4, 0, Xva_m_session_login, NULL,
     NULL),
  M ("session.logout", 1, 1, 1, Xva_m_session_logout, NULL, NULL),

  ALL ("pool"), RECORD ("pool"), UUID ("pool"), FIELD ("pool", "default_SR"),
  OTHER ("pool"),
  M ("pool.set_default_SR", 3, 3, 1, Xva_m_pool_set_default_sr, "pool",
     NULL),

  ALL ("host"), RECORD ("host"), UUID ("host"), NAME ("host"),
  OTHER ("host"),

  ALL ("VM"), RECORD ("VM"), UUID ("VM"), NAME ("VM"), OTHER ("VM"),
  M ("VM.destroy", 2, 2, 1, Xva_m_vm_destroy, "VM", NULL),
  M ("VM.get_VBDs", 2, 2, 1, Xva_m_vm_get_vbds, "VM", NULL),
  M ("VM.get_VIFs", 2, 2, 1, Xva_m_vm_get_vifs, "VM", NULL),
  FIELD ("VM", "power_state"),

  ALL ("VBD"), RECORD ("VBD"), UUID ("VBD"), OTHER ("VBD"),

  ALL ("VDI"), RECORD ("VDI"), UUID ("VDI"), NAME ("VDI"), OTHER ("VDI"),
  FIELD ("VDI", "virtual_size"),

  ALL ("VIF"), RECORD ("VIF"), UUID ("VIF"), OTHER ("VIF"),

  ALL ("SR"), RECORD ("SR"), UUID ("SR"), NAME ("SR"), OTHER ("SR"),

  ALL ("network"), RECORD ("network"), UUID ("network"), NAME ("network"),
  OTHER ("network"),

  M ("task.create", 3, 3, 1, Xva_m_task_create, "task", NULL),
  ALL ("task"), RECORD ("task"), UUID ("task"), NAME ("task"),
  FIELD ("task", "status"), FIELD ("task", "progress"),
  FIELD ("task", "result"), FIELD ("task", "error_info"),
  M ("task.cancel", 2, 2, 1, Xva_m_task_cancel, "task", NULL),
  M ("task.destroy", 2, 2, 1, Xva_m_task_destroy, "task", NULL),
  M ("task.set_status", 3, 3, 1, Xva_m_task_set_status, "task", NULL),
  M ("task.set_progress", 3, 3, 1, Xva_m_task_set_progress, "task", NULL),

  M ("event.inject", 3, 3, 1, Xva_m_event_inject, NULL, NULL),
  M ("event.from", 4, 4, 1, Xva_m_event_from, NULL, NULL),
};
/* clang-format on */

#define NMETHODS (sizeof methods / sizeof methods[0])

static const struct method *
method_find (const char *name)
{
  size_t i;

  for (i = 0; i < NMETHODS; i++)
    if (strcmp (methods[i].name, name) == 0)
      return &methods[i];
  return NULL;
}

int
Xva_m_list_methods (struct Xva_rpc_ctx *c)
{
  struct xva_value *a = xva_value_new_array ();
  size_t i;

  for (i = 0; a != NULL && i < NMETHODS; i++)
    if (xva_value_append (a, xva_value_new_string (methods[i].name)) < 0) {
      xva_value_free (a);
      a = NULL;
    }
  return Xva_rpc_ok (c, a);
}

/* ---- Helpers of the handlers ------------------------------------------- */

int
Xva_rpc_fail (struct Xva_rpc_ctx *c, const char *code, ...)
{
  struct xva_value *a = xva_value_new_array ();
  const char *p;
  va_list ap;
  int bad = 0;

  if (a == NULL || xva_value_append (a, xva_value_new_string (code)) < 0)
    bad = 1;
  va_start (ap, code);
  while ((p = va_arg (ap, const char *)) != NULL)
    if (!bad && xva_value_append (a, xva_value_new_string (p)) < 0)
      bad = 1;
  va_end (ap);
  if (bad) {
    xva_value_free (a);
    return XVA_ENOMEM;
  }
  xva_value_free (c->error);
  c->error = a;
  return XVA_ESERVER;
}

int
Xva_rpc_store_fail (struct Xva_rpc_ctx *c, int r)
{
  char msg[512];
  const char *m = Xva_store_errmsg (NULL);

  Xva_srv_clean (msg, sizeof msg, m && m[0] ? m : xva_strerror (r));
  Xva_srv_logf (c->srv, "%s: %s", c->method, msg);
  return Xva_rpc_fail (c, "INTERNAL_ERROR", msg, NULL);
}

int
Xva_rpc_ok (struct Xva_rpc_ctx *c, struct xva_value *v)
{
  if (v == NULL)
    return XVA_ENOMEM;
  xva_value_free (c->result);
  c->result = v;
  return XVA_OK;
}

int
Xva_rpc_ok_str (struct Xva_rpc_ctx *c, const char *s)
{
  return Xva_rpc_ok (c, xva_value_new_string (s));
}

const char *
Xva_rpc_arg (const struct Xva_rpc_ctx *c, size_t i)
{
  const struct xva_value *v;
  const char *s;

  if (i >= c->nparams)
    return NULL;
  v = xva_value_at (c->params, i);
  if (xva_value_type (v) != XVA_TYPE_STRING)
    return NULL;
  s = xva_value_string (v);
  if (s == NULL || strlen (s) != Xva_value_strlen (v))
    return NULL; /* a NUL inside */
  return s;
}

int
Xva_rpc_type_error (struct Xva_rpc_ctx *c, const char *name)
{
  return Xva_rpc_fail (c, "FIELD_TYPE_ERROR", name, NULL);
}

int
Xva_rpc_self (struct Xva_rpc_ctx *c, const char *name, const char **ref,
              struct xva_value **rec)
{
  *ref = Xva_rpc_arg (c, 1);
  if (*ref == NULL)
    return Xva_rpc_type_error (c, name);
  return Xva_rpc_get_typed (c, *ref, rec);
}

int
Xva_rpc_get_class (struct Xva_store *s, struct Xva_store_txn *t,
                   const char *ref, const char *cls, struct xva_value **rec)
{
  char got[XVA_STORE_CLASS_MAX + 1];
  int r;

  r = Xva_store_get (s, t, ref, got, rec);
  if (r == XVA_EINVAL || (r == XVA_OK && strcmp (got, cls) != 0)) {
    if (rec) {
      xva_value_free (*rec);
      *rec = NULL;
    }
    r = XVA_ENOTFOUND;
  }
  return r;
}

int
Xva_rpc_get_typed (struct Xva_rpc_ctx *c, const char *ref,
                   struct xva_value **rec)
{
  char shown[ECHO_MAX];
  struct xva_value *raw = NULL;
  int r;

  if (rec)
    *rec = NULL;
  r = XVA_ENOTFOUND;
  if (ref[0] != '\0' && strlen (ref) <= XVA_SRV_REF_MAX)
    r = Xva_rpc_get_class (c->srv->store, NULL, ref, c->cls->name,
                           rec ? &raw : NULL);
  if (r == XVA_ENOTFOUND) {
    Xva_srv_clean (shown, sizeof shown, ref);
    return Xva_rpc_fail (c, "HANDLE_INVALID", c->cls->name, shown, NULL);
  }
  if (r < 0)
    return Xva_rpc_store_fail (c, r);
  if (rec) {
    *rec = Xva_rec_export (c->cls, raw);
    xva_value_free (raw);
    if (*rec == NULL)
      return XVA_ENOMEM;
  }
  return XVA_OK;
}

/* ---- Dispatch ------------------------------------------------------------ */

int
Xva_rpc_call (struct Xva_srv *srv, const char *method,
              const struct xva_value *params, int trusted,
              struct xva_value **result, struct xva_value **error_info)
{
  struct Xva_rpc_ctx c;
  const struct method *m;
  char shown[ECHO_MAX], want[16], got[16];
  int r, closing, counted = 0;

  if (result)
    *result = NULL;
  if (error_info)
    *error_info = NULL;
  if (srv == NULL || method == NULL || result == NULL || error_info == NULL)
    return XVA_EINVAL;
  memset (&c, 0, sizeof c);
  c.srv = srv;
  c.method = method;
  c.params = params;
  c.nparams = xva_value_type (params) == XVA_TYPE_ARRAY
                ? xva_value_len (params)
                : 0;
  c.trusted = trusted;

  pthread_mutex_lock (&srv->elock);
  closing = srv->closing;
  if (!closing)
    srv->active++;
  pthread_mutex_unlock (&srv->elock);
  if (closing) {
    r = Xva_rpc_fail (&c, "INTERNAL_ERROR", "the server is stopping", NULL);
    goto out;
  }
  counted = 1;

  m = method_find (method);
  if (m == NULL) {
    Xva_srv_clean (shown, sizeof shown, method);
    r = Xva_rpc_fail (&c, "MESSAGE_METHOD_UNKNOWN", shown, NULL);
    goto out;
  }
  if (c.nparams < m->min || c.nparams > m->max) {
    snprintf (want, sizeof want, "%u",
              (unsigned) (c.nparams < m->min ? m->min : m->max));
    snprintf (got, sizeof got, "%zu", c.nparams);
    r = Xva_rpc_fail (&c, "MESSAGE_PARAMETER_COUNT_MISMATCH", m->name, want,
                      got, NULL);
    goto out;
  }
  if (m->session) {
    const char *sref = Xva_rpc_arg (&c, 0);

    if (sref == NULL || Xva_session_check (srv, sref) != XVA_OK) {
      Xva_srv_clean (shown, sizeof shown, sref ? sref : "");
      r = Xva_rpc_fail (&c, "SESSION_INVALID", shown, NULL);
      goto out;
    }
  }
  c.cls = m->cls ? Xva_cls_find (m->cls) : NULL;
  c.field = m->field;
  r = m->fn (&c);
  if (r == XVA_OK && c.result == NULL)
    r = XVA_ENOMEM;

out:
  if (counted) {
    pthread_mutex_lock (&srv->elock);
    srv->active--;
    if (srv->closing)
      pthread_cond_broadcast (&srv->econd);
    pthread_mutex_unlock (&srv->elock);
  }
  if (r == XVA_OK) {
    *result = c.result;
    xva_value_free (c.error);
    return XVA_OK;
  }
  xva_value_free (c.result);
  if (c.error != NULL) {
    *error_info = c.error;
    return XVA_ESERVER;
  }
  return r < 0 ? r : XVA_ENOMEM;
}

/* ---- Envelopes --------------------------------------------------------- */

static void
rpc_limits (struct xva_limits *lim)
{
  xva_limits_init (lim);
  lim->max_bytes = XVA_SRV_RPC_MAX_BYTES;
  lim->max_nodes = XVA_SRV_RPC_MAX_NODES;
}

/* [code, text] or NULL. */
static struct xva_value *
error_pair (const char *code, const char *text)
{
  struct xva_value *a = xva_value_new_array ();

  if (a == NULL || xva_value_append (a, xva_value_new_string (code)) < 0
      || xva_value_append (a, xva_value_new_string (text)) < 0) {
    xva_value_free (a);
    return NULL;
  }
  return a;
}

int
Xva_rpc_xmlrpc (struct Xva_srv *srv, const char *body, size_t len, int trusted,
                char **out, size_t *outlen)
{
  struct xva_limits lim;
  struct xva_value *params = NULL, *result = NULL, *ei = NULL, *resp = NULL;
  char *method = NULL, err[256], msg[256];
  int r;

  if (out)
    *out = NULL;
  if (outlen)
    *outlen = 0;
  if (srv == NULL || out == NULL)
    return XVA_EINVAL;
  rpc_limits (&lim);
  err[0] = '\0';
  r = xva_xmlrpc_parse_call (body ? body : "", body ? len : 0, &lim, &method,
                             &params, err, sizeof err);
  if (r == XVA_ENOMEM)
    goto out;
  if (r < 0) {
    Xva_srv_clean (msg, sizeof msg, err[0] ? err : xva_strerror (r));
    ei = xva_value_new_array ();
    if (ei == NULL
        || xva_value_append (ei,
                             xva_value_new_string ("XMLRPC_UNMARSHAL_FAILURE"))
             < 0
        || xva_value_append (ei, xva_value_new_string ("methodCall")) < 0
        || xva_value_append (ei, xva_value_new_string (msg)) < 0) {
      r = XVA_ENOMEM;
      goto out;
    }
  }
  else {
    r = Xva_rpc_call (srv, method, params, trusted, &result, &ei);
    if (r != XVA_OK && ei == NULL) {
      ei = error_pair ("INTERNAL_ERROR", xva_strerror (r));
      if (ei == NULL) {
        r = XVA_ENOMEM;
        goto out;
      }
    }
  }
  resp = xva_value_new_struct ();
  if (resp == NULL) {
    r = XVA_ENOMEM;
    goto out;
  }
  if (ei == NULL) {
    r = xva_value_set_string (resp, "Status", "Success");
    r |= xva_value_set (resp, "Value", result);
    result = NULL;
  }
  else {
    r = xva_value_set_string (resp, "Status", "Failure");
    r |= xva_value_set (resp, "ErrorDescription", ei);
    ei = NULL;
  }
  if (r != 0) {
    r = XVA_ENOMEM;
    goto out;
  }
  r = xva_xmlrpc_format_response (resp, out, outlen);

out:
  free (method);
  xva_value_free (params);
  xva_value_free (result);
  xva_value_free (ei);
  xva_value_free (resp);
  return r;
}

/* A JSON-RPC reply: {["jsonrpc": "2.0",] result|error, id}.  Takes
 * result and error (either may be NULL); id is copied (NULL: null). */
static int
json_reply (int v2, struct xva_value *result, struct xva_value *error,
            const struct xva_value *id, char **out, size_t *outlen)
{
  struct xva_value *resp = xva_value_new_struct ();
  int bad = 0, r;

  if (resp == NULL) {
    xva_value_free (result);
    xva_value_free (error);
    return XVA_ENOMEM;
  }
  if (v2) {
    bad |= xva_value_set_string (resp, "jsonrpc", "2.0");
    if (error)
      bad |= xva_value_set (resp, "error", error);
    else
      bad |= xva_value_set (resp, "result", result);
  }
  else {
    bad |= xva_value_set (resp, "result",
                          result ? result : xva_value_new_nil ());
    bad |= xva_value_set (resp, "error", error ? error : xva_value_new_nil ());
  }
  bad |= xva_value_set (resp, "id",
                        id ? xva_value_copy (id) : xva_value_new_nil ());
  r = bad ? XVA_ENOMEM : xva_value_to_json (resp, out, outlen);
  xva_value_free (resp);
  return r;
}

/* {"code": code, "message": message[, "data": data]}; data taken. */
static struct xva_value *
json_error (int64_t code, const char *message, struct xva_value *data)
{
  struct xva_value *e = xva_value_new_struct ();
  int bad = 0;

  if (e == NULL) {
    xva_value_free (data);
    return NULL;
  }
  bad |= xva_value_set_int (e, "code", code);
  bad |= xva_value_set_string (e, "message", message);
  if (data)
    bad |= xva_value_set (e, "data", data);
  if (bad) {
    xva_value_free (e);
    return NULL;
  }
  return e;
}

static int
json_transport_error (int v2, int64_t code, const char *message,
                      const struct xva_value *id, char **out, size_t *outlen)
{
  struct xva_value *e = json_error (code, message, NULL);

  if (e == NULL)
    return XVA_ENOMEM;
  return json_reply (v2, NULL, e, id, out, outlen);
}

/* The XenAPI error ei ([code, params...]) in the form of the version. */
static struct xva_value *
json_xapi_error (int v2, const struct xva_value *ei)
{
  struct xva_value *data;
  size_t i;

  if (!v2)
    return xva_value_copy (ei);
  data = xva_value_new_array ();
  for (i = 1; data != NULL && i < xva_value_len (ei); i++)
    if (xva_value_append (data, xva_value_copy (xva_value_at (ei, i))) < 0) {
      xva_value_free (data);
      data = NULL;
    }
  if (data == NULL)
    return NULL;
  return json_error (1,
                     xva_value_string (xva_value_at (ei, 0))
                       ? xva_value_string (xva_value_at (ei, 0))
                       : "INTERNAL_ERROR",
                     data);
}

int
Xva_rpc_jsonrpc (struct Xva_srv *srv, const char *body, size_t len,
                 int trusted, char **out, size_t *outlen)
{
  struct xva_limits lim;
  struct xva_value *req = NULL, *result = NULL, *ei = NULL, *err = NULL;
  struct xva_value *empty = NULL;
  const struct xva_value *id, *ver, *meth, *params;
  int v2 = 1, r;

  if (out)
    *out = NULL;
  if (outlen)
    *outlen = 0;
  if (srv == NULL || out == NULL)
    return XVA_EINVAL;
  rpc_limits (&lim);
  r = xva_value_from_json (body ? body : "", body ? len : 0, &lim, &req, NULL,
                           0);
  if (r == XVA_ENOMEM)
    return r;
  if (r < 0)
    return json_transport_error (1, -32700, "Parse error", NULL, out, outlen);
  if (xva_value_type (req) != XVA_TYPE_STRUCT) {
    r = json_transport_error (1, -32600, "Invalid Request", NULL, out, outlen);
    goto out;
  }
  id = xva_value_get (req, "id");
  ver = xva_value_get (req, "jsonrpc");
  v2 = ver != NULL;
  if (ver != NULL
      && (xva_value_string (ver) == NULL
          || xva_value_type (ver) != XVA_TYPE_STRING
          || strcmp (xva_value_string (ver), "2.0") != 0)) {
    r = json_transport_error (1, -32600, "Invalid Request", id, out, outlen);
    goto out;
  }
  meth = xva_value_get (req, "method");
  if (xva_value_type (meth) != XVA_TYPE_STRING) {
    r = json_transport_error (v2, -32600, "Invalid Request", id, out, outlen);
    goto out;
  }
  params = xva_value_get (req, "params");
  if (params == NULL) {
    empty = xva_value_new_array ();
    if (empty == NULL) {
      r = XVA_ENOMEM;
      goto out;
    }
    params = empty;
  }
  if (xva_value_type (params) != XVA_TYPE_ARRAY) {
    r = json_transport_error (v2, -32602, "Invalid params", id, out, outlen);
    goto out;
  }
  r = Xva_rpc_call (srv, xva_value_string (meth), params, trusted, &result,
                    &ei);
  if (r == XVA_OK) {
    r = json_reply (v2, result, NULL, id, out, outlen);
    result = NULL;
    goto out;
  }
  if (ei == NULL)
    ei = error_pair ("INTERNAL_ERROR", xva_strerror (r));
  err = ei ? json_xapi_error (v2, ei) : NULL;
  if (err == NULL) {
    r = XVA_ENOMEM;
    goto out;
  }
  r = json_reply (v2, NULL, err, id, out, outlen);

out:
  xva_value_free (req);
  xva_value_free (empty);
  xva_value_free (result);
  xva_value_free (ei);
  return r;
}
