/* Whole request bodies to whole response bodies: XML-RPC and JSON-RPC
 * (1.0 and 2.0, ids of every type), and bodies that are neither. */
#include "server/srv-test.h"

/* ---- XML-RPC ------------------------------------------------------------- */

/* Runs an XML-RPC body; returns the response value (a STRUCT). */
static struct xva_value *
xml_run (struct t_env *e, const char *body, size_t len, int trusted)
{
  struct xva_value *v = NULL;
  char *out = NULL, err[256];
  size_t outlen = 0;
  int r;

  r = Xva_rpc_xmlrpc (e->srv, body, len, trusted, &out, &outlen);
  CHECK (r == XVA_OK);
  if (r != XVA_OK)
    return NULL;
  CHECK (out != NULL && outlen == strlen (out));
  CHECK (strstr (out, "<methodResponse>") != NULL);
  r = xva_xmlrpc_parse_response (out, outlen, NULL, &v, err, sizeof err);
  CHECK_MSG (r == XVA_OK, err);
  free (out);
  return v;
}

/* Formats and runs a call; params from JSON. */
static struct xva_value *
xml_call (struct t_env *e, const char *method, const char *params_json)
{
  struct xva_value *params = t_json ("%s", params_json), *v;
  char *body = NULL;
  size_t len = 0;

  CHECK (xva_xmlrpc_format_call (method, params, &body, &len) == XVA_OK);
  xva_value_free (params);
  v = xml_run (e, body, len, 0);
  free (body);
  return v;
}

static const char *
status_of (const struct xva_value *v)
{
  const char *s = xva_value_get_string (v, "Status");
  return s ? s : "";
}

static const char *
error_code (const struct xva_value *v)
{
  const char *s =
    xva_value_string (xva_value_at (xva_value_get (v, "ErrorDescription"), 0));
  return s ? s : "";
}

static void
test_xmlrpc (struct t_env *e)
{
  static const char *const garbage[] = {
    "",
    "hello",
    "<methodCall>",
    "<?xml version=\"1.0\"?><foo/>",
    "<methodCall><methodName>VM.get_all</methodName><params><param>"
    "<value><struct><member><name>x</name></member></struct></value>"
    "</param></params></methodCall>",
    ("<!DOCTYPE x [<!ENTITY a \"aaaa\">]><methodCall><methodName>&a;"
     "</methodName></methodCall>"),
    "{\"method\": \"VM.get_all\"}",
  };
  char json[512], session[XVA_SRV_REF_MAX + 1], *body = NULL;
  struct xva_value *v, *params;
  size_t i, len = 0;
  unsigned seed = 7;

  /* Login, a call with the session, logout. */
  v = xml_call (e, "session.login_with_password",
                "[\"root\", \"" TEST_PASSWORD "\", \"2.21\", \"test\"]");
  CHECK (strcmp (status_of (v), "Success") == 0);
  CHECK (xva_value_get_string (v, "Value") != NULL);
  snprintf (session, sizeof session, "%s",
            xva_value_get_string (v, "Value")
              ? xva_value_get_string (v, "Value")
              : "");
  CHECK (xva_value_get (v, "ErrorDescription") == NULL);
  xva_value_free (v);

  snprintf (json, sizeof json, "[\"%s\"]", session);
  v = xml_call (e, "pool.get_all_records", json);
  CHECK (strcmp (status_of (v), "Success") == 0);
  CHECK (xva_value_type (xva_value_get (v, "Value")) == XVA_TYPE_STRUCT);
  CHECK (xva_value_len (xva_value_get (v, "Value")) == 1);
  xva_value_free (v);

  /* A float timeout (as the xen-api client sends it) and an int one. */
  snprintf (json, sizeof json, "[\"%s\", [\"task\"], \"\", 0.1]", session);
  v = xml_call (e, "event.from", json);
  CHECK (strcmp (status_of (v), "Success") == 0);
  xva_value_free (v);

  /* Failures. */
  v = xml_call (e, "VM.get_all", "[\"OpaqueRef:nope\"]");
  CHECK (strcmp (status_of (v), "Failure") == 0);
  CHECK (strcmp (error_code (v), "SESSION_INVALID") == 0);
  CHECK (xva_value_get (v, "Value") == NULL);
  xva_value_free (v);
  v = xml_call (e, "no.such", "[]");
  CHECK (strcmp (error_code (v), "MESSAGE_METHOD_UNKNOWN") == 0);
  xva_value_free (v);
  snprintf (json, sizeof json, "[\"%s\", 1]", session);
  v = xml_call (e, "VM.get_all", json);
  CHECK (strcmp (error_code (v), "MESSAGE_PARAMETER_COUNT_MISMATCH") == 0);
  xva_value_free (v);

  /* The Unix socket is trusted. */
  params = t_json ("[\"x\", \"y\"]");
  CHECK (xva_xmlrpc_format_call ("session.login_with_password", params, &body,
                                 &len)
         == XVA_OK);
  xva_value_free (params);
  v = xml_run (e, body, len, 1);
  CHECK (strcmp (status_of (v), "Success") == 0);
  xva_value_free (v);
  v = xml_run (e, body, len, 0);
  CHECK (strcmp (error_code (v), "SESSION_AUTHENTICATION_FAILED") == 0);
  xva_value_free (v);

  /* Every prefix of a valid body: a Failure or a Success, never a crash. */
  for (i = 0; i < len; i += 1 + (i % 7)) {
    v = xml_run (e, body, i, 1);
    CHECK (v != NULL);
    xva_value_free (v);
  }
  free (body);
  body = NULL;

  /* Garbage. */
  for (i = 0; i < sizeof garbage / sizeof garbage[0]; i++) {
    v = xml_run (e, garbage[i], strlen (garbage[i]), 0);
    CHECK_MSG (strcmp (status_of (v), "Failure") == 0, garbage[i]);
    xva_value_free (v);
  }
  v = xml_run (e, "hello", 5, 0);
  CHECK (strcmp (error_code (v), "XMLRPC_UNMARSHAL_FAILURE") == 0);
  xva_value_free (v);
  v = xml_run (e, NULL, 0, 0);
  CHECK (strcmp (status_of (v), "Failure") == 0);
  xva_value_free (v);
  /* Random bytes. */
  {
    char rnd[300];
    int k;
    for (k = 0; k < 50; k++) {
      for (i = 0; i < sizeof rnd; i++) {
        seed = seed * 1103515245u + 12345u;
        rnd[i] = (char) (seed >> 16);
      }
      v = xml_run (e, rnd, sizeof rnd, 0);
      CHECK (strcmp (status_of (v), "Failure") == 0);
      xva_value_free (v);
    }
  }
}

/* ---- JSON-RPC ------------------------------------------------------------ */

static char *
json_run_text (struct t_env *e, const char *body, int trusted)
{
  char *out = NULL;
  size_t outlen = 0;
  int r;

  r = Xva_rpc_jsonrpc (e->srv, body, body ? strlen (body) : 0, trusted, &out,
                       &outlen);
  CHECK (r == XVA_OK);
  if (r != XVA_OK)
    return NULL;
  CHECK (out != NULL && outlen == strlen (out));
  return out;
}

static struct xva_value *json_run (struct t_env *e, const char *fmt, ...)
  __attribute__ ((format (printf, 2, 3)));
static struct xva_value *
json_run (struct t_env *e, const char *fmt, ...)
{
  char body[4096];
  struct xva_value *v = NULL;
  char *out;
  va_list ap;

  va_start (ap, fmt);
  vsnprintf (body, sizeof body, fmt, ap);
  va_end (ap);
  out = json_run_text (e, body, 0);
  if (out == NULL)
    return NULL;
  CHECK_MSG (xva_value_from_json (out, strlen (out), NULL, &v, NULL, 0)
               == XVA_OK,
             out);
  free (out);
  return v;
}

static int
has_key (const struct xva_value *v, const char *key)
{
  return xva_value_get (v, key) != NULL;
}

static void
test_jsonrpc (struct t_env *e)
{
  char session[XVA_SRV_REF_MAX + 1], *out;
  struct xva_value *v, *err;
  int64_t i;
  double d;

  /* 2.0, id 0 (what the xen-api client always sends). */
  v = json_run (
    e,
    "{\"jsonrpc\": \"2.0\", \"method\": "
    "\"session.login_with_password\", \"params\": [\"root\", \"" TEST_PASSWORD
    "\"], \"id\": 0}");
  CHECK (strcmp (xva_value_get_string (v, "jsonrpc"), "2.0") == 0);
  CHECK (xva_value_type (xva_value_get (v, "id")) == XVA_TYPE_INT);
  CHECK (xva_value_get_int (xva_value_get (v, "id"), &i) == 0 && i == 0);
  CHECK (!has_key (v, "error"));
  CHECK (xva_value_get_string (v, "result") != NULL);
  snprintf (session, sizeof session, "%s",
            xva_value_get_string (v, "result")
              ? xva_value_get_string (v, "result")
              : "");
  xva_value_free (v);

  /* Ints of records are JSON integers. */
  v = json_run (e,
                "{\"jsonrpc\": \"2.0\", \"method\": "
                "\"SR.get_all_records\", \"params\": [\"%s\"], \"id\": 1}",
                session);
  {
    const struct xva_value *sr = xva_value_at (xva_value_get (v, "result"), 0);
    CHECK (xva_value_type (xva_value_get (sr, "physical_size"))
           == XVA_TYPE_INT);
  }
  xva_value_free (v);

  /* 2.0 error: code (an int), message (the XenAPI code), data. */
  v = json_run (e,
                "{\"jsonrpc\": \"2.0\", \"method\": \"VM.get_all\", "
                "\"params\": [\"OpaqueRef:gone\"], \"id\": \"abc\"}");
  err = xva_value_get (v, "error");
  CHECK (!has_key (v, "result"));
  CHECK (xva_value_type (xva_value_get (err, "code")) == XVA_TYPE_INT);
  CHECK (xva_value_get_int (xva_value_get (err, "code"), &i) == 0 && i != 0);
  CHECK (strcmp (xva_value_get_string (err, "message"), "SESSION_INVALID")
         == 0);
  CHECK (xva_value_len (xva_value_get (err, "data")) == 1);
  CHECK (strcmp (xva_value_string (xva_value_at (xva_value_get (err, "data"),
                                                 0)),
                 "OpaqueRef:gone")
         == 0);
  CHECK (xva_value_type (xva_value_get (v, "id")) == XVA_TYPE_STRING);
  CHECK (strcmp (xva_value_get_string (v, "id"), "abc") == 0);
  xva_value_free (v);

  /* 1.0 success and error. */
  v = json_run (e,
                "{\"method\": \"VM.get_all\", \"params\": [\"%s\"], "
                "\"id\": \"xyz\"}",
                session);
  CHECK (!has_key (v, "jsonrpc"));
  CHECK (xva_value_type (xva_value_get (v, "result")) == XVA_TYPE_ARRAY);
  CHECK (xva_value_type (xva_value_get (v, "error")) == XVA_TYPE_NIL);
  CHECK (strcmp (xva_value_get_string (v, "id"), "xyz") == 0);
  xva_value_free (v);
  v = json_run (e,
                "{\"method\": \"VM.get_record\", \"params\": [\"%s\", "
                "\"OpaqueRef:nothing\"], \"id\": 17}",
                session);
  CHECK (xva_value_type (xva_value_get (v, "result")) == XVA_TYPE_NIL);
  err = xva_value_get (v, "error");
  CHECK (xva_value_type (err) == XVA_TYPE_ARRAY && xva_value_len (err) == 3);
  CHECK (strcmp (xva_value_string (xva_value_at (err, 0)), "HANDLE_INVALID")
         == 0);
  CHECK (strcmp (xva_value_string (xva_value_at (err, 1)), "VM") == 0);
  CHECK (xva_value_get_int (xva_value_get (v, "id"), &i) == 0 && i == 17);
  xva_value_free (v);

  /* Ids of any type come back as given. */
  out = json_run_text (e,
                       "{\"jsonrpc\": \"2.0\", \"method\": "
                       "\"session.logout\", \"params\": [\"OpaqueRef:x\"], "
                       "\"id\": null}",
                       0);
  CHECK (out && strstr (out, "\"id\":null") != NULL);
  free (out);
  v = json_run (e,
                "{\"jsonrpc\": \"2.0\", \"method\": \"system.listMethods\","
                " \"params\": [], \"id\": 2.5}");
  CHECK (xva_value_get_double (xva_value_get (v, "id"), &d) == 0 && d == 2.5);
  CHECK (xva_value_type (xva_value_get (v, "result")) == XVA_TYPE_ARRAY);
  xva_value_free (v);
  v = json_run (e,
                "{\"jsonrpc\": \"2.0\", \"method\": \"system.listMethods\","
                " \"id\": {\"a\": [1, \"b\"]}}"); /* no params at all */
  CHECK (xva_value_type (xva_value_get (v, "id")) == XVA_TYPE_STRUCT);
  CHECK (xva_value_type (xva_value_get (v, "result")) == XVA_TYPE_ARRAY);
  xva_value_free (v);
  v = json_run (e,
                "{\"method\": \"system.listMethods\", \"params\": [], "
                "\"id\": \"\"}");
  CHECK (xva_value_get_string (v, "id") != NULL
         && strcmp (xva_value_get_string (v, "id"), "") == 0);
  xva_value_free (v);

  /* A whole reply, byte for byte. */
  out = json_run_text (e,
                       "{\"jsonrpc\":\"2.0\",\"method\":\"session.logout\","
                       "\"params\":[\"OpaqueRef:gone\"],\"id\":0}",
                       0);
  CHECK (out
         && strcmp (out,
                    "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":1,"
                    "\"message\":\"SESSION_INVALID\",\"data\":"
                    "[\"OpaqueRef:gone\"]},\"id\":0}")
              == 0);
  free (out);
  out = json_run_text (e,
                       "{\"method\":\"session.logout\","
                       "\"params\":[\"OpaqueRef:gone\"],\"id\":0}",
                       0);
  CHECK (out
         && strcmp (out,
                    "{\"result\":null,\"error\":[\"SESSION_INVALID\","
                    "\"OpaqueRef:gone\"],\"id\":0}")
              == 0);
  free (out);

  /* Trusted login over JSON, then logout: result "" (void). */
  out = json_run_text (e,
                       "{\"jsonrpc\":\"2.0\",\"method\":"
                       "\"session.login_with_password\",\"params\":[\"\","
                       "\"\"],\"id\":5}",
                       1);
  CHECK (out && strstr (out, "\"result\":\"OpaqueRef:") != NULL);
  if (out) {
    char body[512], *p = strstr (out, "OpaqueRef:"), *q, *o2;
    q = p ? strchr (p, '"') : NULL;
    if (p && q) {
      snprintf (body, sizeof body,
                "{\"jsonrpc\":\"2.0\",\"method\":"
                "\"session.logout\",\"params\":[\"%.*s\"],\"id\":6}",
                (int) (q - p), p);
      o2 = json_run_text (e, body, 0);
      CHECK (o2
             && strcmp (o2,
                        "{\"jsonrpc\":\"2.0\",\"result\":\"\","
                        "\"id\":6}")
                  == 0);
      free (o2);
    }
  }
  free (out);

  /* Transport errors. */
  v = json_run (e, "this is not JSON");
  err = xva_value_get (v, "error");
  CHECK (xva_value_get_int (xva_value_get (err, "code"), &i) == 0
         && i == -32700);
  CHECK (xva_value_type (xva_value_get (v, "id")) == XVA_TYPE_NIL);
  xva_value_free (v);
  v = json_run (e, "[1, 2, 3]");
  err = xva_value_get (v, "error");
  CHECK (xva_value_get_int (xva_value_get (err, "code"), &i) == 0
         && i == -32600);
  xva_value_free (v);
  v = json_run (e, "{\"jsonrpc\": \"2.0\", \"method\": 5, \"id\": 3}");
  err = xva_value_get (v, "error");
  CHECK (xva_value_get_int (xva_value_get (err, "code"), &i) == 0
         && i == -32600);
  CHECK (xva_value_get_int (xva_value_get (v, "id"), &i) == 0 && i == 3);
  xva_value_free (v);
  v = json_run (e,
                "{\"jsonrpc\": \"2.0\", \"method\": \"VM.get_all\", "
                "\"params\": {\"a\": 1}, \"id\": 4}");
  err = xva_value_get (v, "error");
  CHECK (xva_value_get_int (xva_value_get (err, "code"), &i) == 0
         && i == -32602);
  xva_value_free (v);
  v = json_run (e,
                "{\"jsonrpc\": \"1.5\", \"method\": \"VM.get_all\", "
                "\"params\": [], \"id\": 4}");
  err = xva_value_get (v, "error");
  CHECK (xva_value_get_int (xva_value_get (err, "code"), &i) == 0
         && i == -32600);
  xva_value_free (v);
  v = json_run (e, "{\"method\": \"VM.get_all\", \"params\": 7, \"id\": 4}");
  CHECK (xva_value_type (xva_value_get (v, "result")) == XVA_TYPE_NIL);
  CHECK (xva_value_type (xva_value_get (v, "error")) == XVA_TYPE_STRUCT);
  xva_value_free (v);
  out = json_run_text (e, NULL, 0);
  CHECK (out && strstr (out, "-32700") != NULL);
  free (out);
  /* Deep nesting is bounded, not a crash. */
  {
    static char deep[20000];
    size_t k, n = 5000;
    for (k = 0; k < n; k++)
      deep[k] = '[';
    for (k = 0; k < n; k++)
      deep[n + k] = ']';
    deep[2 * n] = '\0';
    out = json_run_text (e, deep, 0);
    CHECK (out && strstr (out, "\"error\"") != NULL);
    free (out);
  }
}

int
main (void)
{
  struct t_env e;

  t_env_open (&e);
  test_xmlrpc (&e);
  test_jsonrpc (&e);
  CHECK (!t_log_has (TEST_PASSWORD));
  t_env_close (&e);
  xva_value_free (t_last_err);
  HARNESS_DONE ();
}
