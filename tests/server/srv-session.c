/* Sessions: logins good, bad and trusted, the 200-session LRU bound,
 * logout, idle expiry, SESSION_INVALID, and no secret in the log. */
#include "server/srv-test.h"

#define NSESS XVA_SRV_MAX_SESSIONS

static int
valid (struct Xva_srv *srv, const char *ref)
{
  char code[64];
  struct xva_value *v = t_call (srv, code, "pool.get_all", "[\"%s\"]", ref);
  int ok = v != NULL;

  xva_value_free (v);
  if (!ok && strcmp (code, "SESSION_INVALID") != 0)
    fprintf (stderr, "unexpected error %s\n", code);
  return ok;
}

static void
test_logins (struct t_env *e)
{
  char ref[XVA_SRV_REF_MAX + 1], code[64];
  struct xva_value *v;
  int64_t t0, dt;

  /* Good password, with and without version and originator. */
  CHECK (t_call_str (e->srv, ref, sizeof ref, "session.login_with_password",
                     "[\"root\", \"" TEST_PASSWORD "\"]")
         == 0);
  CHECK (strncmp (ref, "OpaqueRef:", 10) == 0);
  CHECK (strlen (ref) == XVA_SRV_SESSION_REF_LEN);
  CHECK (valid (e->srv, ref));
  CHECK (t_call_str (e->srv, ref, sizeof ref, "session.login_with_password",
                     "[\"root\", \"" TEST_PASSWORD "\", \"1.0\", \"t\"]")
         == 0);
  CHECK (valid (e->srv, ref));

  /* Bad password: refused, and slowly. */
  t0 = t_now_ms ();
  v = t_call (e->srv, code, "session.login_with_password",
              "[\"root\", \"wrong\"]");
  dt = t_now_ms () - t0;
  CHECK (v == NULL);
  CHECK (strcmp (code, "SESSION_AUTHENTICATION_FAILED") == 0);
  CHECK (strcmp (t_err_param (1), "root") == 0);
  CHECK (xva_value_len (t_last_err) == 3);
  CHECK (dt >= XVA_SRV_LOGIN_DELAY_MS - 5);
  xva_value_free (v);

  /* A password with a NUL inside is not a prefix match. */
  v = t_call (e->srv, code, "session.login_with_password",
              "[\"root\", \"" TEST_PASSWORD "\\u0000x\"]");
  CHECK (v == NULL && strcmp (code, "SESSION_AUTHENTICATION_FAILED") == 0);
  xva_value_free (v);

  /* Unknown user, non-string password. */
  v = t_call (e->srv, code, "session.login_with_password",
              "[\"nobody\", \"" TEST_PASSWORD "\"]");
  CHECK (v == NULL && strcmp (code, "SESSION_AUTHENTICATION_FAILED") == 0);
  xva_value_free (v);
  v = t_call (e->srv, code, "session.login_with_password", "[\"root\", 5]");
  CHECK (v == NULL && strcmp (code, "SESSION_AUTHENTICATION_FAILED") == 0);
  xva_value_free (v);

  /* Trusted: any credentials. */
  v = t_call_trusted (e->srv, code, "session.login_with_password",
                      "[\"whoever\", \"whatever\"]");
  CHECK (v != NULL && xva_value_string (v) != NULL);
  if (v)
    CHECK (valid (e->srv, xva_value_string (v)));
  xva_value_free (v);
  CHECK (Xva_session_login (e->srv, "x", "y", 1, ref) == XVA_OK);
  CHECK (Xva_session_check (e->srv, ref) == XVA_OK);
  CHECK (Xva_session_login (e->srv, "root", "nope", 0, ref) == XVA_EAUTH);
  CHECK (ref[0] == '\0');

  /* Parameter counts. */
  v = t_call (e->srv, code, "session.login_with_password", "[\"root\"]");
  CHECK (v == NULL && strcmp (code, "MESSAGE_PARAMETER_COUNT_MISMATCH") == 0);
  xva_value_free (v);
  v = t_call (e->srv, code, "session.login_with_password",
              "[\"a\", \"b\", \"c\", \"d\", \"e\"]");
  CHECK (v == NULL && strcmp (code, "MESSAGE_PARAMETER_COUNT_MISMATCH") == 0);
  xva_value_free (v);
}

static void
test_invalid (struct t_env *e)
{
  char code[64], ref[XVA_SRV_REF_MAX + 1];
  struct xva_value *v;

  v = t_call (e->srv, code, "VM.get_all", "[\"OpaqueRef:bogus\"]");
  CHECK (v == NULL && strcmp (code, "SESSION_INVALID") == 0);
  CHECK (strcmp (t_err_param (1), "OpaqueRef:bogus") == 0);
  xva_value_free (v);
  v = t_call (e->srv, code, "VM.get_all", "[42]");
  CHECK (v == NULL && strcmp (code, "SESSION_INVALID") == 0);
  xva_value_free (v);
  /* A ref of the right length that is no session. */
  v = t_call (e->srv, code, "VM.get_all",
              "[\"OpaqueRef:00000000-0000-0000-0000-000000000000\"]");
  CHECK (v == NULL && strcmp (code, "SESSION_INVALID") == 0);
  xva_value_free (v);
  /* One character off a live session. */
  snprintf (ref, sizeof ref, "%s", e->session);
  ref[XVA_SRV_SESSION_REF_LEN - 1] = ref[XVA_SRV_SESSION_REF_LEN - 1] == '0'
                                       ? '1'
                                       : '0';
  CHECK (!valid (e->srv, ref));
  CHECK (valid (e->srv, e->session));
}

static void
test_logout (struct t_env *e)
{
  char ref[XVA_SRV_REF_MAX + 1], code[64];
  struct xva_value *v;

  CHECK (Xva_session_login (e->srv, "root", TEST_PASSWORD, 0, ref) == XVA_OK);
  CHECK (valid (e->srv, ref));
  v = t_call (e->srv, code, "session.logout", "[\"%s\"]", ref);
  CHECK (v != NULL && strcmp (xva_value_string (v), "") == 0);
  xva_value_free (v);
  CHECK (!valid (e->srv, ref));
  /* Logging out again: the session is gone. */
  v = t_call (e->srv, code, "session.logout", "[\"%s\"]", ref);
  CHECK (v == NULL && strcmp (code, "SESSION_INVALID") == 0);
  xva_value_free (v);
  CHECK (valid (e->srv, e->session));
}

static void
test_eviction (struct t_env *e)
{
  static char refs[NSESS][XVA_SRV_REF_MAX + 1];
  char extra[XVA_SRV_REF_MAX + 1];
  int i, live = 0;

  for (i = 0; i < NSESS; i++)
    CHECK (Xva_session_login (e->srv, "root", NULL, 1, refs[i]) == XVA_OK);
  /* The table is full of these (e->session was evicted meanwhile). */
  CHECK (Xva_session_check (e->srv, e->session) == XVA_EAUTH);
  /* refs[0] becomes the most recently used; refs[1] the least. */
  CHECK (Xva_session_check (e->srv, refs[0]) == XVA_OK);
  CHECK (Xva_session_login (e->srv, "root", NULL, 1, extra) == XVA_OK);
  CHECK (Xva_session_check (e->srv, extra) == XVA_OK);
  CHECK (Xva_session_check (e->srv, refs[0]) == XVA_OK);
  CHECK (Xva_session_check (e->srv, refs[1]) == XVA_EAUTH);
  for (i = 2; i < NSESS; i++)
    live += Xva_session_check (e->srv, refs[i]) == XVA_OK;
  CHECK (live == NSESS - 2);
  /* Now `extra` is the least recently used: the next login evicts it. */
  {
    char more[XVA_SRV_REF_MAX + 1];
    CHECK (Xva_session_login (e->srv, "root", NULL, 1, more) == XVA_OK);
    CHECK (Xva_session_check (e->srv, extra) == XVA_EAUTH);
    CHECK (Xva_session_check (e->srv, more) == XVA_OK);
    CHECK (Xva_session_check (e->srv, refs[0]) == XVA_OK);
    CHECK (Xva_session_check (e->srv, refs[2]) == XVA_OK);
  }
}

static void
test_expiry (struct t_env *e)
{
  char a[XVA_SRV_REF_MAX + 1], b[XVA_SRV_REF_MAX + 1];
  const int64_t hour = 3600 * 1000;

  CHECK (Xva_session_login (e->srv, "root", NULL, 1, a) == XVA_OK);
  CHECK (Xva_session_login (e->srv, "root", NULL, 1, b) == XVA_OK);
  Xva_srv_test_skew (e->srv, 23 * hour);
  CHECK (Xva_session_check (e->srv, a) == XVA_OK); /* touched */
  Xva_srv_test_skew (e->srv, 2 * hour);
  CHECK (Xva_session_check (e->srv, a) == XVA_OK);    /* 2 h idle */
  CHECK (Xva_session_check (e->srv, b) == XVA_EAUTH); /* 25 h idle */
  Xva_srv_test_skew (e->srv, 24 * hour + 1000);
  CHECK (Xva_session_check (e->srv, a) == XVA_EAUTH);
  CHECK (!valid (e->srv, a));
}

int
main (void)
{
  struct t_env e;
  char live[XVA_SRV_REF_MAX + 1];

  t_env_open (&e);
  snprintf (live, sizeof live, "%s", e.session);
  test_logins (&e);
  test_invalid (&e);
  test_logout (&e);
  CHECK (Xva_session_check (e.srv, live) == XVA_OK);
  test_eviction (&e);
  test_expiry (&e);
  /* Secrets never reach the log. */
  CHECK (!t_log_has (TEST_PASSWORD));
  CHECK (!t_log_has ("OpaqueRef:"));
  CHECK (t_log_has ("login of user 'root' failed"));
  /* Xva_srv_free accepts NULL. */
  Xva_srv_free (NULL);
  t_env_close (&e);
  xva_value_free (t_last_err);
  HARNESS_DONE ();
}
