/* Internals shared by client/xapi.c and client/xapi-http.c. */
#ifndef XVA_CLIENT_XAPI_PRIV_H
#define XVA_CLIENT_XAPI_PRIV_H

#include <curl/curl.h>

#include "xapi.h"

#if defined(__GNUC__) || defined(__clang__)
#define XVA_XAPI_PRINTF(a, b) __attribute__ ((format (printf, a, b)))
#else
#define XVA_XAPI_PRINTF(a, b)
#endif

struct Xva_xapi {
  struct Xva_xapi_conf conf; /* url and cacert point at the copies */
  char *url_copy;
  char *cacert_copy;
  struct Xva_xapi_url url;
  CURL *rpc; /* made on first use */
  char session[XVA_XAPI_REF_MAX + 1];
  int own_session;  /* made by login: log out at the end */
  char *login_user; /* to log in again when a session ends */
  char *login_password;
  char errmsg[XVA_XAPI_MSG_MAX];
  char code[64];
  struct xva_value *err_info;
};

/* Stores a message (and clears the XenAPI error); returns status. */
int Xva_xapi_fail (struct Xva_xapi *x, int status, const char *fmt, ...)
  XVA_XAPI_PRINTF (3, 4);
/* curl_global_init, once. */
void Xva_xapi_global_init (void);
/* Options common to every handle: TLS, timeouts, the Unix socket when
 * use_unix, no signals. */
void Xva_xapi_curl_common (const struct Xva_xapi *x, CURL *h, int use_unix);
/* The status of a failed curl call. */
int Xva_xapi_curl_status (CURLcode c);
/* Whether a failed attempt may be retried: the request never left. */
int Xva_xapi_retryable (CURLcode c, CURL *h);
/* Sleeps before attempt `attempt` (1-based: the second attempt waits
 * retry_ms); returns nonzero when stopped meanwhile. */
int Xva_xapi_backoff (const struct Xva_xapi *x, unsigned attempt);
/* Monotonic seconds. */
double Xva_xapi_now (void);
/* Nonzero when the caller's stop hook says so. */
int Xva_xapi_stopped (const struct Xva_xapi *x);
void Xva_xapi_notice (const struct Xva_xapi *x, const char *fmt, ...)
  XVA_XAPI_PRINTF (2, 3);

#endif /* XVA_CLIENT_XAPI_PRIV_H */
