/* libFuzzer: JSON-RPC and XML-RPC request handling.  The first byte
 * picks the envelope (bit 0: XML-RPC, else JSON-RPC) and the caller
 * (bit 1: trusted, as on a Unix socket); the rest is the whole request
 * body, handed to Xva_rpc_xmlrpc / Xva_rpc_jsonrpc of a server state
 * over a real store (srv-fuzz.h: the default SR, a second SR and one
 * VM with its disks and VIF).
 *
 * Refs are random, so the body may name them with placeholders,
 * replaced before the call: @S a live session, @P the pool, @H the
 * host, @R the default SR, @Q the second SR, @V the VM, @B a VBD, @D a
 * VDI, @I the VIF, @N the network, @T a pending task, @U the VM's uuid.
 *
 * Checks: every body gets a reply that parses back as a response of
 * its envelope (a XenAPI error is an array of strings, code first;
 * JSON-RPC 2.0 errors have a code and a message; the id is echoed),
 * and no log line carries a control character (one line per entry).
 *
 * Bounds: the state starts over every RESET_EVERY inputs (records,
 * tasks and map entries that the calls make pile up), and the VM is
 * imported again when a call destroyed it.  event.from cannot hang:
 * this copy of the server is built with XVA_SRV_EVENT_TIMEOUT_MAX at
 * 10 ms (CMakeLists.txt), nor does a failed login sleep. */
#include <stdint.h>
#include <string.h>

#include <xva/xva.h>

#include "server/srv.h"
#include "srv-fuzz.h"

#define RESET_EVERY 4000
#define NSUBST 12

static const char subst_keys[NSUBST] = { 'S', 'P', 'H', 'R', 'Q', 'V',
                                         'B', 'D', 'I', 'N', 'T', 'U' };

static struct {
  char dir[256];
  struct Xva_store *store;
  struct Xva_srv *srv;
  char subst[NSUBST][XVA_STORE_REF_MAX + 1];
  unsigned long runs;
  struct fz_buf archive;
} g;

static void
set_subst (char key, const char *value)
{
  size_t i;

  for (i = 0; i < NSUBST; i++)
    if (subst_keys[i] == key)
      snprintf (g.subst[i], sizeof g.subst[i], "%s", value);
}

static const char *
get_subst (char key)
{
  size_t i;

  for (i = 0; i < NSUBST; i++)
    if (subst_keys[i] == key)
      return g.subst[i];
  return NULL;
}

/* A call that must succeed (setup). */
static struct xva_value *
call (const char *method, const char *arg)
{
  struct xva_value *params, *res = NULL, *ei = NULL;

  params = xva_value_new_array ();
  FUZZ_CHECK (params != NULL);
  FUZZ_CHECK (xva_value_append (params, xva_value_new_string (get_subst ('S')))
              == 0);
  if (arg != NULL)
    FUZZ_CHECK (xva_value_append (params, xva_value_new_string (arg)) == 0);
  if (Xva_rpc_call (g.srv, method, params, 1, &res, &ei) != XVA_OK) {
    fprintf (stderr, "fuzz setup: %s failed\n", method);
    abort ();
  }
  xva_value_free (params);
  return res;
}

/* The first ref of cls (and the VM's uuid) into the placeholders. */
static void
find_refs (void)
{
  static const struct {
    char key;
    const char *cls;
  } all[] = {
    { 'P', "pool" }, { 'H', "host" }, { 'V', "VM" },      { 'B', "VBD" },
    { 'D', "VDI" },  { 'I', "VIF" },  { 'N', "network" },
  };
  struct xva_value *v;
  char m[64];
  size_t i;

  for (i = 0; i < sizeof all / sizeof all[0]; i++) {
    snprintf (m, sizeof m, "%s.get_all", all[i].cls);
    v = call (m, NULL);
    FUZZ_CHECK (xva_value_len (v) > 0);
    set_subst (all[i].key, xva_value_string (xva_value_at (v, 0)));
    xva_value_free (v);
  }
  v = call ("pool.get_default_SR", get_subst ('P'));
  set_subst ('R', xva_value_string (v));
  xva_value_free (v);
  v = call ("SR.get_by_name_label", "fuzz SR");
  FUZZ_CHECK (xva_value_len (v) == 1);
  set_subst ('Q', xva_value_string (xva_value_at (v, 0)));
  xva_value_free (v);
  v = call ("VM.get_uuid", get_subst ('V'));
  set_subst ('U', xva_value_string (v));
  xva_value_free (v);
}

static void
login (void)
{
  char ref[XVA_STORE_REF_MAX + 1];

  FUZZ_CHECK (Xva_session_login (g.srv, "root", NULL, 1, ref) == XVA_OK);
  set_subst ('S', ref);
}

static void
state_free (void)
{
  Xva_srv_free (g.srv);
  Xva_store_close (g.store);
  fz_rmtree (g.dir);
  g.srv = NULL;
  g.store = NULL;
}

static void
state_new (void)
{
  char err[512], task[XVA_STORE_REF_MAX + 1];

  fz_datadir (g.dir, sizeof g.dir);
  if (Xva_store_open (g.dir, &g.store, err, sizeof err) != XVA_OK
      || Xva_srv_new (g.store, fz_log_line, NULL, &g.srv, err, sizeof err)
           != XVA_OK) {
    fprintf (stderr, "fuzz setup: %s\n", err);
    abort ();
  }
  login ();
  FUZZ_CHECK (Xva_task_create (g.srv, "fuzz", "", task) == XVA_OK);
  set_subst ('T', task);
  find_refs ();
  if (g.archive.len == 0)
    fz_archive (&g.archive);
}

static void
state_end (void)
{
  state_free ();
  free (g.archive.p);
}

int LLVMFuzzerInitialize (int *argc, char ***argv);

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  (void) argc;
  (void) argv;
  state_new ();
  atexit (state_end);
  return 0;
}

/* The body with its placeholders replaced (malloc'd, NUL-terminated). */
static char *
substitute (const uint8_t *p, size_t n, size_t *len)
{
  struct fz_buf b = { 0 };
  size_t i;

  for (i = 0; i < n; i++) {
    const char *v = p[i] == '@' && i + 1 < n ? get_subst ((char) p[i + 1])
                                             : NULL;
    if (v != NULL) {
      fz_put (&b, v, strlen (v));
      i++;
    }
    else
      fz_put (&b, p + i, 1);
  }
  fz_put (&b, "", 1);
  *len = b.len - 1;
  return (char *) b.p;
}

/* A reply nests what a request may echo (its id) a level or two
 * deeper than the request's bound. */
static struct xva_limits reply_limits = { (size_t) 256 << 20, 64 + 4,
                                          (size_t) 16 << 20,
                                          (size_t) 64 << 20 };

/* A XenAPI error: an array of strings, a code first. */
static void
check_error_info (const struct xva_value *ei)
{
  size_t i;

  FUZZ_CHECK (xva_value_type (ei) == XVA_TYPE_ARRAY);
  FUZZ_CHECK (xva_value_len (ei) >= 1);
  for (i = 0; i < xva_value_len (ei); i++)
    FUZZ_CHECK (xva_value_type (xva_value_at (ei, i)) == XVA_TYPE_STRING);
  FUZZ_CHECK (xva_value_string (xva_value_at (ei, 0))[0] != '\0');
}

/* A JSON-RPC error object: a code and a message. */
static void
check_error_object (const struct xva_value *e)
{
  FUZZ_CHECK (xva_value_type (e) == XVA_TYPE_STRUCT);
  FUZZ_CHECK (xva_value_type (xva_value_get (e, "code")) == XVA_TYPE_INT);
  FUZZ_CHECK (xva_value_type (xva_value_get (e, "message"))
              == XVA_TYPE_STRING);
}

static void
check_xml_reply (const char *out, size_t outlen)
{
  struct xva_value *v = NULL;
  const char *status;
  char err[256];
  int r;

  r = xva_xmlrpc_parse_response (out, outlen, &reply_limits, &v, err,
                                 sizeof err);
  if (r != XVA_OK)
    fprintf (stderr, "reply does not parse back (%s): %s\n%.*s\n",
             xva_status_name (r), err, (int) (outlen < 2000 ? outlen : 2000),
             out);
  FUZZ_CHECK (r == XVA_OK);
  FUZZ_CHECK (xva_value_type (v) == XVA_TYPE_STRUCT);
  status = xva_value_string (xva_value_get (v, "Status"));
  FUZZ_CHECK (status != NULL);
  if (strcmp (status, "Success") == 0)
    FUZZ_CHECK (xva_value_get (v, "Value") != NULL);
  else {
    FUZZ_CHECK (strcmp (status, "Failure") == 0);
    check_error_info (xva_value_get (v, "ErrorDescription"));
  }
  xva_value_free (v);
}

static void
check_json_reply (const char *out, size_t outlen)
{
  struct xva_value *v = NULL;
  const struct xva_value *res, *e;
  char err[256];
  int r;

  r = xva_value_from_json (out, outlen, &reply_limits, &v, err, sizeof err);
  if (r != XVA_OK)
    fprintf (stderr, "reply does not parse back (%s): %s\n%.*s\n",
             xva_status_name (r), err, (int) (outlen < 2000 ? outlen : 2000),
             out);
  FUZZ_CHECK (r == XVA_OK);
  FUZZ_CHECK (xva_value_type (v) == XVA_TYPE_STRUCT);
  FUZZ_CHECK (xva_value_get (v, "id") != NULL);
  res = xva_value_get (v, "result");
  e = xva_value_get (v, "error");
  if (xva_value_get (v, "jsonrpc") != NULL) {
    /* 2.0: result or error, never both. */
    FUZZ_CHECK (strcmp (xva_value_string (xva_value_get (v, "jsonrpc")), "2.0")
                == 0);
    FUZZ_CHECK ((res != NULL) != (e != NULL));
    if (e != NULL)
      check_error_object (e);
  }
  else {
    /* 1.0: both, one of them null; the error is XenAPI's array, or an
     * error object when the request itself is bad. */
    FUZZ_CHECK (res != NULL && e != NULL);
    FUZZ_CHECK (xva_value_type (res) == XVA_TYPE_NIL
                || xva_value_type (e) == XVA_TYPE_NIL);
    if (xva_value_type (e) == XVA_TYPE_ARRAY)
      check_error_info (e);
    else if (xva_value_type (e) != XVA_TYPE_NIL)
      check_error_object (e);
  }
  xva_value_free (v);
}

/* The session, the task and the VM may be gone: bring them back. */
static void
refresh (void)
{
  const char *vm = get_subst ('V');
  char task[XVA_STORE_REF_MAX + 1];

  if (Xva_session_check (g.srv, get_subst ('S')) != XVA_OK)
    login ();
  if (Xva_store_get (g.store, NULL, get_subst ('T'), NULL, NULL) != XVA_OK) {
    FUZZ_CHECK (Xva_task_create (g.srv, "fuzz", "", task) == XVA_OK);
    set_subst ('T', task);
  }
  if (Xva_store_get (g.store, NULL, vm, NULL, NULL) != XVA_OK
      || Xva_store_get (g.store, NULL, get_subst ('Q'), NULL, NULL)
           != XVA_OK) {
    if (Xva_store_get (g.store, NULL, get_subst ('Q'), NULL, NULL) != XVA_OK) {
      /* An SR cannot be destroyed over RPC; start over all the same. */
      state_free ();
      state_new ();
      return;
    }
    fz_import (g.store, &g.archive);
    find_refs ();
  }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  char *body, *out = NULL;
  size_t len, outlen = 0;
  int xml, trusted, r;

  if (size < 1)
    return 0;
  if (++g.runs % RESET_EVERY == 0) {
    state_free ();
    state_new ();
  }
  refresh ();
  xml = data[0] & 1;
  trusted = (data[0] & 2) != 0;
  body = substitute (data + 1, size - 1, &len);
  if (xml)
    r = Xva_rpc_xmlrpc (g.srv, body, len, trusted, &out, &outlen);
  else
    r = Xva_rpc_jsonrpc (g.srv, body, len, trusted, &out, &outlen);
  /* Always a reply (a fault or an error object), never a failure. */
  if (r != XVA_OK)
    fprintf (stderr, "no reply: %s\n", xva_status_name (r));
  FUZZ_CHECK (r == XVA_OK);
  FUZZ_CHECK (out != NULL && outlen > 0 && strlen (out) == outlen);
  if (xml)
    check_xml_reply (out, outlen);
  else
    check_json_reply (out, outlen);
  free (out);
  free (body);
  return 0;
}
