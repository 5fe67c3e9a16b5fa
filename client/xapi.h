/* The XenAPI client: one host (http://, https:// or unix:PATH), its
 * session, XML-RPC calls on POST /, tasks, and the streaming HTTP
 * transfers of /export and /import (GET into a callback, PUT from a
 * callback) as a real XenServer / XCP-ng host and `xva serve` speak
 * them.
 *
 * Errors: every call returns an enum xva_status and keeps a message on
 * the handle (Xva_xapi_errmsg).  XenAPI failures keep their
 * ErrorDescription (Xva_xapi_error_info) and map to XVA_EAUTH
 * (SESSION_AUTHENTICATION_FAILED, SESSION_INVALID,
 * RBAC_PERMISSION_DENIED), XVA_ENOTFOUND (HANDLE_INVALID, UUID_INVALID,
 * DEFAULT_SR_NOT_FOUND) or XVA_ESERVER (any other code).  Connection,
 * TLS and timeout failures are XVA_ENET.
 *
 * Threads: a handle belongs to one thread at a time; Xva_xapi_clone
 * makes another handle on the same host and session for another thread.
 * Only client/ includes curl/curl.h.
 */
#ifndef XVA_CLIENT_XAPI_H
#define XVA_CLIENT_XAPI_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <xva/xva.h>

#define XVA_XAPI_REF_MAX 255  /* longest ref or uuid kept */
#define XVA_XAPI_MSG_MAX 1024 /* messages kept on a handle */
#define XVA_XAPI_URL_MAX 2048 /* longest base URL */
#define XVA_XAPI_FAKE_LENGTH 1125899906842624ULL /* 1 PiB: size unknown */

/* ---- Addresses --------------------------------------------------------- */

struct Xva_xapi_url {
  char base[XVA_XAPI_URL_MAX]; /* "http(s)://host[:port]", no slash at the
                                * end; "http://localhost" for unix: */
  char host[256];              /* host name (for ~/.netrc), "" for unix: */
  char unix_path[4096];        /* socket path for unix:PATH, else "" */
  int tls;                     /* https:// */
};

/* Parses `http://HOST[:PORT][/]`, `https://HOST[:PORT][/]` (IPv6 hosts
 * in brackets) or `unix:PATH`.  A path other than `/` and any query are
 * refused.  XVA_OK or XVA_EINVAL with a message in err. */
int Xva_xapi_url_parse (const char *url, struct Xva_xapi_url *out, char *err,
                        size_t errlen);

/* ---- Handles ------------------------------------------------------------ */

struct Xva_xapi_conf {
  const char *url;      /* required (copied) */
  const char *cacert;   /* PEM bundle; NULL: the system's (copied) */
  int insecure;         /* do not verify the TLS peer */
  unsigned tries;       /* connection attempts (default 3) */
  unsigned retry_ms;    /* first wait between attempts (default
                         * 1000; each next one is 3 times longer) */
  long connect_timeout; /* seconds (default 30) */
  long stall_timeout;   /* seconds without a byte (default 300) */
  long rpc_timeout;     /* seconds for one call (default 300) */
  unsigned early_ms;    /* wait for an early answer to a PUT's
                         * headers before its body (default 300) */
  /* Polled while waiting: nonzero stops the call (XVA_ECANCELLED). */
  int (*stop) (void *opaque);
  void *stop_opaque;
  /* Optional: messages worth a warning (a retried connection). */
  void (*notice) (void *opaque, const char *msg);
  void *notice_opaque;
};

void Xva_xapi_conf_init (struct Xva_xapi_conf *c);

struct Xva_xapi;

/* A handle on the host of c->url.  Connects to nothing yet.  NULL with
 * *status and a message in err on failure. */
struct Xva_xapi *Xva_xapi_new (const struct Xva_xapi_conf *c, int *status,
                               char *err, size_t errlen);
/* Another handle on the same host with the same session (not owned:
 * freeing the clone never logs out). */
struct Xva_xapi *Xva_xapi_clone (const struct Xva_xapi *x, int *status);
/* Logs out a session made by Xva_xapi_login (best effort), then frees.
 * NULL ok. */
void Xva_xapi_free (struct Xva_xapi *x);

/* Replaces the stop hook (for a clone whose owner stops it). */
void Xva_xapi_set_stop (struct Xva_xapi *x, int (*stop) (void *opaque),
                        void *opaque);
const struct Xva_xapi_url *Xva_xapi_get_url (const struct Xva_xapi *x);
const char *Xva_xapi_errmsg (const struct Xva_xapi *x);
/* [CODE, params...] of the last XenAPI failure, or NULL. */
const struct xva_value *Xva_xapi_error_info (const struct Xva_xapi *x);
/* The XenAPI code of the last failure, or "". */
const char *Xva_xapi_error_code (const struct Xva_xapi *x);

/* The status of a XenAPI error code (see the top of this file). */
int Xva_xapi_code_status (const char *code);
/* "CODE [p1, p2]" of an error_info array into buf. */
const char *Xva_xapi_format_error (const struct xva_value *info, char *buf,
                                   size_t len);

/* ---- Sessions ----------------------------------------------------------- */

/* session.login_with_password(user, password, "2.21", "xva").  The
 * session is logged out by Xva_xapi_logout or Xva_xapi_free. */
int Xva_xapi_login (struct Xva_xapi *x, const char *user,
                    const char *password);
/* Uses an existing session (never logged out by this handle). */
int Xva_xapi_set_session (struct Xva_xapi *x, const char *ref);
const char *Xva_xapi_session (const struct Xva_xapi *x);
/* session.logout of a session this handle made; XVA_OK otherwise. */
int Xva_xapi_logout (struct Xva_xapi *x);

/* ---- Calls --------------------------------------------------------------- */

/* Calls method with the session as the first parameter (unless
 * no_session) followed by the items of args (an ARRAY, taken over in
 * every case; NULL: none).  On success *result is the Value (the
 * caller frees it; may be NULL when result is NULL). */
int Xva_xapi_call (struct Xva_xapi *x, const char *method, int no_session,
                   struct xva_value *args, struct xva_value **result);
/* Shortcut: method(session, a1[, a2]) whose result is a string, copied
 * into out (outlen bytes; a longer one is an error). */
int Xva_xapi_call_string (struct Xva_xapi *x, const char *method,
                          const char *a1, const char *a2, char *out,
                          size_t outlen);

/* ---- Tasks ---------------------------------------------------------------- */

enum Xva_task_status {
  XVA_TASK_PENDING = 0,
  XVA_TASK_SUCCESS = 1,
  XVA_TASK_FAILURE = 2,
  XVA_TASK_CANCELLED = 3,
};

struct Xva_task_state {
  int status;                   /* enum Xva_task_status */
  double progress;              /* 0..1, or -1 unknown */
  char *result;                 /* malloc'd, "" if none */
  struct xva_value *error_info; /* ARRAY (owned), NULL if none */
};

int Xva_xapi_task_create (struct Xva_xapi *x, const char *label,
                          const char *description, char *ref, size_t reflen);
/* task.get_record; st is cleared first and owned by the caller
 * (Xva_task_state_clear). */
int Xva_xapi_task_get (struct Xva_xapi *x, const char *ref,
                       struct Xva_task_state *st);
int Xva_xapi_task_cancel (struct Xva_xapi *x, const char *ref);
int Xva_xapi_task_destroy (struct Xva_xapi *x, const char *ref);
void Xva_task_state_clear (struct Xva_task_state *st);

/* ---- Streaming HTTP -------------------------------------------------------- */

/* What a GET or PUT saw of the response. */
struct Xva_http_reply {
  long status;                        /* HTTP status; 0: no response */
  char task_id[XVA_XAPI_REF_MAX + 1]; /* the task-id header, or "" */
  char body[1024];                    /* start of an error response's body */
  uint64_t bytes; /* body bytes received (GET) or sent (PUT) */
  int early;      /* PUT: the answer came before the body's
                   * end (as real hosts answer) */
  int redirects;  /* 3xx followed */
};

/* GET base + path_query (e.g. "/export?ref=..."), following redirects.
 * The body of a 200 goes to data (0, or -1 to stop: the call then
 * returns XVA_ECANCELLED and the caller knows why); tick (may be NULL)
 * runs about ten times a second (nonzero stops the same way).  A
 * connection failure before any byte came is retried.  XVA_OK when the
 * transfer ended normally (which, for a body without a length, says
 * nothing about completeness: check the archive), XVA_ENET when it was
 * cut, and a status for non-200 answers (401/403 XVA_EAUTH, 404
 * XVA_ENOTFOUND, others XVA_ESERVER) with reply filled. */
struct Xva_http_get_cb {
  int (*data) (void *opaque, const void *buf, size_t n);
  int (*tick) (void *opaque);
  void *opaque;
};
int Xva_xapi_get (struct Xva_xapi *x, const char *path_query,
                  const struct Xva_http_get_cb *cb,
                  struct Xva_http_reply *reply);

/* Where a PUT's body comes from. */
struct Xva_http_put_src {
  /* Up to n bytes into buf: > 0 bytes, 0 at the end, -1 to fail (the
   * upload is then reset, never ended cleanly). */
  ssize_t (*read) (void *opaque, void *buf, size_t n);
  int (*tick) (void *opaque); /* as for GET; may be NULL */
  void *opaque;
  int64_t size; /* exact size, or -1: unknown (sent as the
                 * 1 PiB fake length, the connection's
                 * write side shut after the last byte) */
};
/* PUT base + path_query with the raw body (never chunked, never
 * `Expect: 100-continue`).  A 3xx that comes before more than 8 MiB of
 * body was sent is followed (up to 5 times) by sending the same
 * request to the Location with the body again from its start.  An
 * early 200 (real hosts) does not stop the body.  XVA_OK when the whole
 * body was sent and the answer (if any came) is 200: the outcome is the
 * task's; XVA_ECANCELLED when read or tick stopped it; XVA_ENET when
 * the connection failed; a status for an error answer, as for GET. */
int Xva_xapi_put (struct Xva_xapi *x, const char *path_query,
                  const struct Xva_http_put_src *src,
                  struct Xva_http_reply *reply);

/* Appends "&name=value" (value percent-encoded; no '&' when q is empty)
 * to q (qlen bytes).  0, or -1 when it does not fit. */
int Xva_xapi_query_add (char *q, size_t qlen, const char *name,
                        const char *value);

#endif /* XVA_CLIENT_XAPI_H */
