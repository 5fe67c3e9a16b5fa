/* Random RPC calls against the server state (bounded, deterministic
 * seed; under ASan/UBSan in `make check-asan`): every method that
 * system.listMethods lists, with random parameters of every type, live
 * and dead refs, good and bad sessions; then mutated JSON-RPC and
 * XML-RPC request bodies through the envelopes.  Each call must return
 * a result or a XenAPI error (never crash, hang or leak), and an error
 * must be an array of strings starting with a code.
 *
 * XVA_FUZZ_SEED sets the seed, XVA_FUZZ_CALLS the number of calls. */
#include "server/srv-test.h"

#include <inttypes.h>

static uint64_t rng_state;

static uint64_t
rnd (void)
{
  uint64_t x = rng_state;

  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  rng_state = x;
  return x;
}

static size_t
pick (size_t n)
{
  return n ? (size_t) (rnd () % n) : 0;
}

#define MAX_METHODS 512
static unsigned char want[MAX_METHODS]; /* parameter count + 1 */

#define NREFS 64
static char refs[NREFS][XVA_SRV_REF_MAX + 1];
static size_t nrefs;

static void
add_ref (const char *r)
{
  if (nrefs < NREFS)
    snprintf (refs[nrefs++], sizeof refs[0], "%s", r);
  else
    snprintf (refs[pick (NREFS)], sizeof refs[0], "%s", r);
}

static struct xva_value *
rnd_string (void)
{
  static const char *const fixed[] = {
    "",
    "OpaqueRef:NULL",
    "OpaqueRef:",
    "../../etc/passwd",
    "*",
    "vm",
    "VM",
    "task",
    "success",
    "cancelled",
    "pending",
    "1",
    "-1",
    "0.5",
    "9999999999999999999999",
    "true",
    "\xff\xfe",
    "a\nb",
    "%s%n",
  };
  char buf[6000];
  size_t n, i;

  switch (pick (5)) {
  case 0:
  case 1:
    if (nrefs > 0)
      return xva_value_new_string (refs[pick (nrefs)]);
    /* fall through */
  case 2:
    return xva_value_new_string (fixed[pick (sizeof fixed / sizeof fixed[0])]);
  case 3:
    n = pick (sizeof buf - 1);
    for (i = 0; i < n; i++)
      buf[i] = (char) ('a' + pick (26));
    buf[n] = '\0';
    return xva_value_new_string (buf);
  default:
    n = pick (64);
    for (i = 0; i < n; i++)
      buf[i] = (char) (1 + pick (255));
    buf[n] = '\0';
    return xva_value_new_string (buf);
  }
}

static struct xva_value *
rnd_value (unsigned depth)
{
  struct xva_value *v;
  size_t i, n;
  char key[16];

  switch (pick (depth > 2 ? 6 : 8)) {
  case 0:
  case 1:
  case 2:
    return rnd_string ();
  case 3:
    return xva_value_new_int ((int64_t) rnd ());
  case 4:
    return xva_value_new_double ((double) (int64_t) rnd () / 1e9);
  case 5:
    return pick (2) ? xva_value_new_bool ((int) pick (2))
                    : xva_value_new_nil ();
  case 6:
    v = xva_value_new_array ();
    n = pick (5);
    for (i = 0; v != NULL && i < n; i++)
      if (xva_value_append (v, rnd_value (depth + 1)) < 0) {
        xva_value_free (v);
        v = NULL;
      }
    return v;
  default:
    v = xva_value_new_struct ();
    n = pick (5);
    for (i = 0; v != NULL && i < n; i++) {
      snprintf (key, sizeof key, "k%zu", pick (4));
      if (xva_value_set (v, key, rnd_value (depth + 1)) < 0) {
        xva_value_free (v);
        v = NULL;
      }
    }
    return v;
  }
}

/* Strings found anywhere in v that look like refs become candidates. */
static void
harvest (const struct xva_value *v, unsigned depth)
{
  const char *s = xva_value_string (v);
  size_t i;

  if (s != NULL && strncmp (s, "OpaqueRef:", 10) == 0
      && strlen (s) <= XVA_SRV_REF_MAX && strcmp (s, "OpaqueRef:NULL") != 0)
    add_ref (s);
  if (depth > 4)
    return;
  for (i = 0; i < xva_value_len (v); i++) {
    const char *k = xva_value_key_at (v, i);

    if (k != NULL && strncmp (k, "OpaqueRef:", 10) == 0
        && strlen (k) <= XVA_SRV_REF_MAX)
      add_ref (k);
    harvest (xva_value_at (v, i), depth + 1);
  }
}

static int
error_ok (const struct xva_value *ei)
{
  size_t i;

  if (xva_value_type (ei) != XVA_TYPE_ARRAY || xva_value_len (ei) < 1)
    return 0;
  for (i = 0; i < xva_value_len (ei); i++)
    if (xva_value_type (xva_value_at (ei, i)) != XVA_TYPE_STRING)
      return 0;
  return xva_value_string (xva_value_at (ei, 0))[0] != '\0';
}

/* A body made from a good one with a few random edits. */
static size_t
mutate (const char *good, char *out, size_t cap)
{
  size_t n = strlen (good), k, e;

  if (n >= cap)
    n = cap - 1;
  memcpy (out, good, n);
  for (e = pick (4) + 1; e > 0; e--) {
    k = pick (n + 1);
    switch (pick (4)) {
    case 0: /* cut */
      n = k;
      break;
    case 1: /* flip */
      if (k < n)
        out[k] = (char) (out[k] ^ (1 << pick (8)));
      break;
    case 2: /* a byte in */
      if (n + 1 < cap) {
        memmove (out + k + 1, out + k, n - k);
        out[k] = "{}[]<>\",:0-e/\\ \x00"[pick (16)];
        n++;
      }
      break;
    default: /* a byte out */
      if (k < n) {
        memmove (out + k, out + k + 1, n - k - 1);
        n--;
      }
      break;
    }
  }
  out[n] = '\0';
  return n;
}

int
main (void)
{
  struct t_env e;
  struct xva_value *methods, *params, *res, *ei;
  const char *env;
  char code[64], body[8192];
  unsigned long calls = 20000, i, ok = 0, failed = 0;
  size_t m, np, j, n;
  int r;

  env = getenv ("XVA_FUZZ_SEED");
  rng_state = env != NULL ? strtoull (env, NULL, 0) : 0x9e3779b97f4a7c15ULL;
  if (rng_state == 0)
    rng_state = 1;
  env = getenv ("XVA_FUZZ_CALLS");
  if (env != NULL)
    calls = strtoul (env, NULL, 0);
  printf ("seed 0x%016" PRIx64 ", %lu calls\n", rng_state, calls);

  t_env_open (&e);
  methods = t_call (e.srv, code, "system.listMethods", "[]");
  CHECK (methods != NULL && xva_value_len (methods) > 40);
  if (methods == NULL)
    return 1;
  /* Refs to aim at: everything there is. */
  res = t_call (e.srv, code, "pool.get_all_records", "[\"%s\"]", e.session);
  harvest (res, 0);
  xva_value_free (res);
  res = t_call (e.srv, code, "SR.get_all_records", "[\"%s\"]", e.session);
  harvest (res, 0);
  xva_value_free (res);
  res = t_call (e.srv, code, "task.create", "[\"%s\", \"t\", \"d\"]",
                e.session);
  harvest (res, 0);
  xva_value_free (res);

  for (i = 0; i < calls; i++) {
    const char *name;

    m = pick (xva_value_len (methods));
    name = xva_value_string (xva_value_at (methods, m));
    params = xva_value_new_array ();
    /* Mostly the count the method wants, once it said so. */
    np = m < MAX_METHODS && want[m] > 0 && pick (10) < 8 ? (size_t) want[m] - 1
                                                         : pick (6);
    for (j = 0; params != NULL && j < np; j++) {
      struct xva_value *p;

      if (j == 0 && pick (10) < 7)
        p = xva_value_new_string (e.session);
      else if (strcmp (name, "event.from") == 0 && j == 3)
        p = xva_value_new_double (0.01); /* no long polls */
      else
        p = rnd_value (0);
      if (xva_value_append (params, p) < 0) {
        xva_value_free (params);
        params = NULL;
      }
    }
    CHECK (params != NULL);
    if (params == NULL)
      break;
    res = NULL;
    ei = NULL;
    /* A failed login over TCP sleeps on purpose: trusted ones only. */
    r = Xva_rpc_call (e.srv, name, params,
                      strcmp (name, "session.login_with_password") == 0
                        || (int) pick (2),
                      &res, &ei);
    if (r == XVA_ESERVER && m < MAX_METHODS
        && strcmp (xva_value_string (xva_value_at (ei, 0)),
                   "MESSAGE_PARAMETER_COUNT_MISMATCH")
             == 0) {
      long w = strtol (xva_value_string (xva_value_at (ei, 2))
                         ? xva_value_string (xva_value_at (ei, 2))
                         : "0",
                       NULL, 10);
      /* want[] holds the count plus one, 0 for unknown. */
      if (w >= 0 && w < 16 && (size_t) w != np)
        want[m] = (unsigned char) (w + 1);
    }
    if (r == XVA_OK) {
      CHECK (res != NULL && ei == NULL);
      harvest (res, 0);
      ok++;
    }
    else {
      CHECK_MSG (r == XVA_ESERVER && error_ok (ei), name);
      failed++;
    }
    xva_value_free (res);
    xva_value_free (ei);
    xva_value_free (params);
    /* session.logout may have ended ours. */
    if (Xva_session_check (e.srv, e.session) != XVA_OK)
      CHECK (Xva_session_login (e.srv, "root", NULL, 1, e.session) == XVA_OK);
  }
  printf ("dispatch: %lu calls succeeded, %lu failed with an error\n", ok,
          failed);

  /* The envelopes, with mutated bodies (a failed login over TCP sleeps
   * on purpose: the envelopes run as trusted). */
  for (i = 0; i < calls; i++) {
    char *out = NULL;
    size_t outlen = 0;
    int xml = (int) pick (2);

    if (xml)
      snprintf (body, sizeof body,
                "<?xml version=\"1.0\"?><methodCall><methodName>%s"
                "</methodName><params><param><value><string>%s</string>"
                "</value></param><param><value><array><data><value>"
                "<i4>7</i4></value></data></array></value></param>"
                "</params></methodCall>",
                xva_value_string (
                  xva_value_at (methods, pick (xva_value_len (methods)))),
                e.session);
    else
      snprintf (body, sizeof body,
                "{\"jsonrpc\":\"2.0\",\"method\":\"%s\",\"params\":"
                "[\"%s\",{\"a\":[1,2.5,null,true]},\"%s\"],\"id\":[0]}",
                xva_value_string (
                  xva_value_at (methods, pick (xva_value_len (methods)))),
                e.session, nrefs ? refs[pick (nrefs)] : "");
    {
      char mutated[sizeof body];

      n = pick (3) ? mutate (body, mutated, sizeof mutated) : strlen (body);
      if (n == strlen (body))
        memcpy (mutated, body, n + 1);
      r = xml ? Xva_rpc_xmlrpc (e.srv, mutated, n, 1, &out, &outlen)
              : Xva_rpc_jsonrpc (e.srv, mutated, n, 1, &out, &outlen);
    }
    /* Always a reply (a fault or an error object), never a failure. */
    CHECK (r == XVA_OK && out != NULL && outlen > 0);
    free (out);
    if (Xva_session_check (e.srv, e.session) != XVA_OK)
      CHECK (Xva_session_login (e.srv, "root", NULL, 1, e.session) == XVA_OK);
  }
  printf ("envelopes: %lu mutated bodies answered\n", calls);

  xva_value_free (methods);
  t_env_close (&e);
  xva_value_free (t_last_err);
  HARNESS_DONE ();
}
