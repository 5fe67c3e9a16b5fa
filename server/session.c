/* Sessions: a fixed table in memory.  A session ref is a secret: it is
 * compared in constant time and never logged. */
#include "server/srv-priv.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include <openssl/crypto.h>

#define IDLE_MS ((int64_t) XVA_SRV_SESSION_IDLE_S * 1000)

/* The session clock (under slock). */
static int64_t
now_ms (struct Xva_srv *srv)
{
  return Xva_srv_mono_ms () + srv->skew_ms;
}

static void
slot_clear (struct Xva_session *se)
{
  memset (se, 0, sizeof *se);
}

/* Index of the live session ref, or -1 (under slock).  Every live slot
 * is compared, in constant time, whatever matches. */
static int
slot_find (struct Xva_srv *srv, const char *ref)
{
  char want[XVA_SRV_SESSION_REF_LEN + 1];
  int found = -1;
  size_t i;

  if (ref == NULL
      || strnlen (ref, XVA_SRV_SESSION_REF_LEN + 1) != XVA_SRV_SESSION_REF_LEN)
    return -1;
  memcpy (want, ref, XVA_SRV_SESSION_REF_LEN + 1);
  for (i = 0; i < XVA_SRV_MAX_SESSIONS; i++) {
    const struct Xva_session *se = &srv->sessions[i];
    int same = CRYPTO_memcmp (se->ref, want, XVA_SRV_SESSION_REF_LEN) == 0;
    if (same && se->ref[0] != '\0')
      found = (int) i;
  }
  return found;
}

/* Sleeps XVA_SRV_LOGIN_DELAY_MS plus some jitter (no lock held). */
static void
login_delay (void)
{
  unsigned char b = 0;
  int64_t ms;
  struct timespec ts;

  if (getrandom (&b, 1, 0) != 1)
    b = 0;
  ms = XVA_SRV_LOGIN_DELAY_MS + (int64_t) b * XVA_SRV_LOGIN_JITTER_MS / 255;
  ts.tv_sec = (time_t) (ms / 1000);
  ts.tv_nsec = (long) (ms % 1000) * 1000000L;
  while (nanosleep (&ts, &ts) == -1 && errno == EINTR)
    ;
}

int
Xva_session_login (struct Xva_srv *srv, const char *user, const char *password,
                   int trusted, char *ref_out)
{
  char ref[XVA_STORE_REF_MAX + 1];
  struct Xva_session *slot = NULL;
  int64_t now;
  size_t i;
  int r;

  if (ref_out)
    ref_out[0] = '\0';
  if (srv == NULL || ref_out == NULL)
    return XVA_EINVAL;
  if (trusted) {
    if (user == NULL || user[0] == '\0' || strlen (user) > XVA_STORE_USER_MAX)
      user = "root";
  }
  else {
    if (user == NULL || password == NULL || strlen (user) > XVA_STORE_USER_MAX
        || strlen (password) > XVA_STORE_PASSWORD_MAX)
      r = XVA_EAUTH;
    else
      r = Xva_store_check_password (srv->store, user, password);
    if (r != XVA_OK) {
      login_delay ();
      return r == XVA_EAUTH ? XVA_EAUTH : r;
    }
  }
  r = Xva_store_new_ref (ref);
  if (r < 0)
    return r;
  if (strlen (ref) != XVA_SRV_SESSION_REF_LEN)
    return XVA_EINVAL;

  pthread_mutex_lock (&srv->slock);
  now = now_ms (srv);
  /* A free slot, else an expired one, else the least recently used. */
  for (i = 0; i < XVA_SRV_MAX_SESSIONS; i++) {
    struct Xva_session *se = &srv->sessions[i];
    if (se->ref[0] == '\0') {
      slot = se;
      break;
    }
    if (now - se->last_ms > IDLE_MS) {
      slot = se;
      break;
    }
    if (slot == NULL || se->seq < slot->seq)
      slot = se;
  }
  slot_clear (slot);
  memcpy (slot->ref, ref, XVA_SRV_SESSION_REF_LEN + 1);
  snprintf (slot->user, sizeof slot->user, "%s", user);
  slot->last_ms = now;
  slot->seq = ++srv->session_seq;
  pthread_mutex_unlock (&srv->slock);

  memcpy (ref_out, ref, XVA_SRV_SESSION_REF_LEN + 1);
  memset (ref, 0, sizeof ref);
  return XVA_OK;
}

int
Xva_session_check (struct Xva_srv *srv, const char *ref)
{
  int64_t now;
  int i, r = XVA_EAUTH;

  if (srv == NULL)
    return XVA_EINVAL;
  pthread_mutex_lock (&srv->slock);
  i = slot_find (srv, ref);
  if (i >= 0) {
    struct Xva_session *se = &srv->sessions[i];
    now = now_ms (srv);
    if (now - se->last_ms > IDLE_MS)
      slot_clear (se);
    else {
      se->last_ms = now;
      se->seq = ++srv->session_seq;
      r = XVA_OK;
    }
  }
  pthread_mutex_unlock (&srv->slock);
  return r;
}

void
Xva_session_logout (struct Xva_srv *srv, const char *ref)
{
  int i;

  if (srv == NULL)
    return;
  pthread_mutex_lock (&srv->slock);
  i = slot_find (srv, ref);
  if (i >= 0)
    slot_clear (&srv->sessions[i]);
  pthread_mutex_unlock (&srv->slock);
}

/* ---- RPC ------------------------------------------------------------ */

int
Xva_m_session_login (struct Xva_rpc_ctx *c)
{
  char ref[XVA_SRV_REF_MAX + 1];
  const char *user = Xva_rpc_arg (c, 0);
  const char *password = Xva_rpc_arg (c, 1);
  char shown[XVA_STORE_USER_MAX + 1];
  int r;

  Xva_srv_clean (shown, sizeof shown, user ? user : "");
  if (!c->trusted && (user == NULL || password == NULL)) {
    r = XVA_EAUTH;
    login_delay ();
  }
  else
    r = Xva_session_login (c->srv, user, password, c->trusted, ref);
  if (r == XVA_EAUTH) {
    Xva_srv_logf (c->srv, "login of user '%s' failed", shown);
    return Xva_rpc_fail (c, "SESSION_AUTHENTICATION_FAILED", shown,
                         "Authentication failure", NULL);
  }
  if (r < 0)
    return Xva_rpc_store_fail (c, r);
  r = Xva_rpc_ok_str (c, ref);
  memset (ref, 0, sizeof ref);
  return r;
}

int
Xva_m_session_logout (struct Xva_rpc_ctx *c)
{
  Xva_session_logout (c->srv, Xva_rpc_arg (c, 0));
  return Xva_rpc_ok_str (c, "");
}
