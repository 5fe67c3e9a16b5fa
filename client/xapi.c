/* The XenAPI client: addresses, handles, XML-RPC calls, sessions and
 * tasks.  The streaming transfers are in xapi-http.c. */
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "xapi-priv.h"

#define RPC_REPLY_MAX ((size_t) 64 << 20)
#define UNIX_PATH_MAX 107

/* ------------------------------------------------------------------ */
/* Small helpers                                                        */

static void free_secret (struct Xva_xapi *x);

static pthread_once_t global_once = PTHREAD_ONCE_INIT;

static void
global_init_once (void)
{
  curl_global_init (CURL_GLOBAL_DEFAULT);
}

void
Xva_xapi_global_init (void)
{
  pthread_once (&global_once, global_init_once);
}

double
Xva_xapi_now (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

int
Xva_xapi_stopped (const struct Xva_xapi *x)
{
  return x->conf.stop != NULL && x->conf.stop (x->conf.stop_opaque) != 0;
}

int
Xva_xapi_fail (struct Xva_xapi *x, int status, const char *fmt, ...)
{
  va_list ap;

  va_start (ap, fmt);
  vsnprintf (x->errmsg, sizeof x->errmsg, fmt, ap);
  va_end (ap);
  x->code[0] = '\0';
  xva_value_free (x->err_info);
  x->err_info = NULL;
  return status;
}

void
Xva_xapi_notice (const struct Xva_xapi *x, const char *fmt, ...)
{
  char msg[XVA_XAPI_MSG_MAX];
  va_list ap;

  if (x->conf.notice == NULL)
    return;
  va_start (ap, fmt);
  vsnprintf (msg, sizeof msg, fmt, ap);
  va_end (ap);
  x->conf.notice (x->conf.notice_opaque, msg);
}

int
Xva_xapi_curl_status (CURLcode c)
{
  switch (c) {
  case CURLE_OK:
    return XVA_OK;
  case CURLE_OUT_OF_MEMORY:
    return XVA_ENOMEM;
  case CURLE_ABORTED_BY_CALLBACK:
  case CURLE_WRITE_ERROR:
  case CURLE_READ_ERROR:
    return XVA_ECANCELLED;
  case CURLE_URL_MALFORMAT:
  case CURLE_UNSUPPORTED_PROTOCOL:
    return XVA_EINVAL;
  default:
    return XVA_ENET;
  }
}

int
Xva_xapi_retryable (CURLcode c, CURL *h)
{
  curl_off_t sent = 0;
  long req = 0;

  switch (c) {
  case CURLE_COULDNT_RESOLVE_HOST:
  case CURLE_COULDNT_CONNECT:
    return 1;
  case CURLE_OPERATION_TIMEDOUT:
    if (h == NULL)
      return 0;
    curl_easy_getinfo (h, CURLINFO_REQUEST_SIZE, &req);
    curl_easy_getinfo (h, CURLINFO_SIZE_UPLOAD_T, &sent);
    return req == 0 && sent == 0;
  default:
    return 0;
  }
}

int
Xva_xapi_backoff (const struct Xva_xapi *x, unsigned attempt)
{
  double wait = (double) x->conf.retry_ms / 1000.0, end;
  unsigned i;
  struct timespec ts = { 0, 50 * 1000 * 1000 };

  for (i = 2; i < attempt; i++)
    wait *= 3.0;
  end = Xva_xapi_now () + wait;
  while (Xva_xapi_now () < end) {
    if (Xva_xapi_stopped (x))
      return 1;
    nanosleep (&ts, NULL);
  }
  return Xva_xapi_stopped (x);
}

void
Xva_xapi_curl_common (const struct Xva_xapi *x, CURL *h, int use_unix)
{
  curl_easy_setopt (h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt (h, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt (h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt (h, CURLOPT_CONNECTTIMEOUT, x->conf.connect_timeout);
  curl_easy_setopt (h, CURLOPT_SSL_VERIFYPEER, x->conf.insecure ? 0L : 1L);
  curl_easy_setopt (h, CURLOPT_SSL_VERIFYHOST, x->conf.insecure ? 0L : 2L);
  curl_easy_setopt (h, CURLOPT_SSLVERSION, (long) CURL_SSLVERSION_TLSv1_2);
  if (x->conf.cacert != NULL)
    curl_easy_setopt (h, CURLOPT_CAINFO, x->conf.cacert);
  curl_easy_setopt (h, CURLOPT_USERAGENT, "xva/" XVA_VERSION_STRING);
  if (use_unix && x->url.unix_path[0] != '\0')
    curl_easy_setopt (h, CURLOPT_UNIX_SOCKET_PATH, x->url.unix_path);
  else
    curl_easy_setopt (h, CURLOPT_UNIX_SOCKET_PATH, NULL);
  curl_easy_setopt (h, CURLOPT_TCP_KEEPALIVE, 1L);
}

/* ------------------------------------------------------------------ */
/* Addresses                                                            */

static int
url_error (char *err, size_t errlen, const char *url, const char *why)
{
  if (err != NULL && errlen > 0)
    snprintf (err, errlen, "bad URL '%.200s': %s", url, why);
  return XVA_EINVAL;
}

int
Xva_xapi_url_parse (const char *url, struct Xva_xapi_url *out, char *err,
                    size_t errlen)
{
  const char *p, *host, *end, *port = NULL;
  size_t hlen, plen;
  int tls;

  memset (out, 0, sizeof *out);
  if (strncmp (url, "unix:", 5) == 0) {
    p = url + 5;
    if (p[0] == '\0')
      return url_error (err, errlen, url, "no socket path after unix:");
    if (strlen (p) > UNIX_PATH_MAX)
      return url_error (err, errlen, url, "the socket path is too long");
    snprintf (out->unix_path, sizeof out->unix_path, "%s", p);
    snprintf (out->base, sizeof out->base, "http://localhost");
    return XVA_OK;
  }
  if (strncmp (url, "http://", 7) == 0) {
    tls = 0;
    host = url + 7;
  }
  else if (strncmp (url, "https://", 8) == 0) {
    tls = 1;
    host = url + 8;
  }
  else
    return url_error (err, errlen, url,
                      "want http://HOST[:PORT], "
                      "https://HOST[:PORT] or unix:PATH");
  end = host + strcspn (host, "/?#");
  if (memchr (host, '@', (size_t) (end - host)) != NULL)
    return url_error (err, errlen, url,
                      "credentials do not go in the URL "
                      "(use --user and --password-file)");
  if (*end != '\0' && strcmp (end, "/") != 0)
    return url_error (err, errlen, url, "a path or query is not allowed");
  if (host[0] == '[') {
    p = memchr (host, ']', (size_t) (end - host));
    if (p == NULL)
      return url_error (err, errlen, url, "unclosed '['");
    hlen = (size_t) (p + 1 - host);
    if (p + 1 < end) {
      if (p[1] != ':')
        return url_error (err, errlen, url, "junk after ']'");
      port = p + 2;
    }
  }
  else {
    p = memchr (host, ':', (size_t) (end - host));
    hlen = p != NULL ? (size_t) (p - host) : (size_t) (end - host);
    if (p != NULL)
      port = p + 1;
  }
  if (hlen == 0)
    return url_error (err, errlen, url, "no host");
  if (hlen >= sizeof out->host)
    return url_error (err, errlen, url, "the host name is too long");
  if (port != NULL) {
    plen = (size_t) (end - port);
    if (plen == 0 || plen > 5)
      return url_error (err, errlen, url, "bad port");
    for (p = port; p < end; p++)
      if (!isdigit ((unsigned char) *p))
        return url_error (err, errlen, url, "bad port");
  }
  memcpy (out->host, host, hlen);
  out->host[hlen] = '\0';
  if (out->host[0] == '[') {
    /* The bare address, for ~/.netrc. */
    memmove (out->host, out->host + 1, hlen - 2);
    out->host[hlen - 2] = '\0';
  }
  out->tls = tls;
  if ((size_t) snprintf (out->base, sizeof out->base, "%.*s",
                         (int) (end - url), url)
      >= sizeof out->base)
    return url_error (err, errlen, url, "too long");
  return XVA_OK;
}

/* ------------------------------------------------------------------ */
/* Handles                                                              */

void
Xva_xapi_conf_init (struct Xva_xapi_conf *c)
{
  memset (c, 0, sizeof *c);
  c->tries = 3;
  c->retry_ms = 1000;
  c->connect_timeout = 30;
  c->stall_timeout = 300;
  c->rpc_timeout = 300;
  c->early_ms = 300;
}

static char *
dup_or_null (const char *s, int *fail)
{
  char *d;

  if (s == NULL)
    return NULL;
  d = strdup (s);
  if (d == NULL)
    *fail = 1;
  return d;
}

struct Xva_xapi *
Xva_xapi_new (const struct Xva_xapi_conf *c, int *status, char *err,
              size_t errlen)
{
  struct Xva_xapi *x;
  int fail = 0, s;

  Xva_xapi_global_init ();
  if (c == NULL || c->url == NULL) {
    *status = XVA_EINVAL;
    if (err != NULL && errlen > 0)
      snprintf (err, errlen, "no URL");
    return NULL;
  }
  x = calloc (1, sizeof *x);
  if (x == NULL) {
    *status = XVA_ENOMEM;
    if (err != NULL && errlen > 0)
      snprintf (err, errlen, "out of memory");
    return NULL;
  }
  x->conf = *c;
  s = Xva_xapi_url_parse (c->url, &x->url, err, errlen);
  if (s != XVA_OK) {
    free (x);
    *status = s;
    return NULL;
  }
  x->url_copy = dup_or_null (c->url, &fail);
  x->cacert_copy = dup_or_null (c->cacert, &fail);
  if (fail) {
    free (x->url_copy);
    free (x->cacert_copy);
    free (x);
    *status = XVA_ENOMEM;
    if (err != NULL && errlen > 0)
      snprintf (err, errlen, "out of memory");
    return NULL;
  }
  x->conf.url = x->url_copy;
  x->conf.cacert = x->cacert_copy;
  if (x->conf.tries == 0)
    x->conf.tries = 1;
  *status = XVA_OK;
  return x;
}

struct Xva_xapi *
Xva_xapi_clone (const struct Xva_xapi *x, int *status)
{
  struct Xva_xapi *y;

  y = Xva_xapi_new (&x->conf, status, NULL, 0);
  if (y == NULL)
    return NULL;
  memcpy (y->session, x->session, sizeof y->session);
  y->own_session = 0;
  if (x->login_user != NULL && x->login_password != NULL) {
    y->login_user = strdup (x->login_user);
    y->login_password = strdup (x->login_password);
  }
  return y;
}

void
Xva_xapi_free (struct Xva_xapi *x)
{
  if (x == NULL)
    return;
  if (x->own_session)
    Xva_xapi_logout (x);
  if (x->rpc != NULL)
    curl_easy_cleanup (x->rpc);
  free_secret (x);
  xva_value_free (x->err_info);
  free (x->url_copy);
  free (x->cacert_copy);
  free (x);
}

void
Xva_xapi_set_stop (struct Xva_xapi *x, int (*stop) (void *opaque),
                   void *opaque)
{
  x->conf.stop = stop;
  x->conf.stop_opaque = opaque;
}

const struct Xva_xapi_url *
Xva_xapi_get_url (const struct Xva_xapi *x)
{
  return &x->url;
}

const char *
Xva_xapi_errmsg (const struct Xva_xapi *x)
{
  return x->errmsg[0] != '\0' ? x->errmsg : "no error";
}

const struct xva_value *
Xva_xapi_error_info (const struct Xva_xapi *x)
{
  return x->err_info;
}

const char *
Xva_xapi_error_code (const struct Xva_xapi *x)
{
  return x->code;
}

int
Xva_xapi_code_status (const char *code)
{
  static const char *const auth[] = { "SESSION_AUTHENTICATION_FAILED",
                                      "SESSION_INVALID",
                                      "RBAC_PERMISSION_DENIED" };
  static const char *const notfound[] = { "HANDLE_INVALID", "UUID_INVALID",
                                          "DEFAULT_SR_NOT_FOUND" };
  size_t i;

  if (code == NULL)
    return XVA_ESERVER;
  for (i = 0; i < sizeof auth / sizeof auth[0]; i++)
    if (strcmp (code, auth[i]) == 0)
      return XVA_EAUTH;
  for (i = 0; i < sizeof notfound / sizeof notfound[0]; i++)
    if (strcmp (code, notfound[i]) == 0)
      return XVA_ENOTFOUND;
  return XVA_ESERVER;
}

const char *
Xva_xapi_format_error (const struct xva_value *info, char *buf, size_t len)
{
  char tmp[64];
  const char *s;
  size_t i, n, used = 0;
  int w;

  if (len == 0)
    return buf;
  buf[0] = '\0';
  n = xva_value_len (info);
  for (i = 0; i < n; i++) {
    const struct xva_value *v = xva_value_at (info, i);
    s = NULL;
    switch (xva_value_type (v)) {
    case XVA_TYPE_STRING:
    case XVA_TYPE_DATE:
      s = xva_value_string (v);
      break;
    default: {
      int64_t iv;
      if (xva_value_get_int (v, &iv) == 0) {
        snprintf (tmp, sizeof tmp, "%lld", (long long) iv);
        s = tmp;
      }
      else
        s = "?";
    }
    }
    w = snprintf (buf + used, len - used, "%s%s",
                  i == 0   ? ""
                  : i == 1 ? " ["
                           : ", ",
                  s);
    if (w < 0 || (size_t) w >= len - used) {
      used = len - 1;
      break;
    }
    used += (size_t) w;
  }
  if (n > 1 && used + 1 < len) {
    buf[used++] = ']';
    buf[used] = '\0';
  }
  if (n == 0)
    snprintf (buf, len, "(no error code)");
  return buf;
}

/* ------------------------------------------------------------------ */
/* XML-RPC                                                              */

struct membuf {
  char *p;
  size_t len;
  size_t cap;
  int over;
};

static size_t
mem_write (char *data, size_t size, size_t nmemb, void *opaque)
{
  struct membuf *b = opaque;
  size_t n = size * nmemb, cap;
  char *q;

  if (b->len + n + 1 > RPC_REPLY_MAX) {
    b->over = 1;
    return 0;
  }
  if (b->len + n + 1 > b->cap) {
    cap = b->cap ? b->cap : 4096;
    while (cap < b->len + n + 1)
      cap *= 2;
    q = realloc (b->p, cap);
    if (q == NULL)
      return 0;
    b->p = q;
    b->cap = cap;
  }
  memcpy (b->p + b->len, data, n);
  b->len += n;
  b->p[b->len] = '\0';
  return n;
}

static int
rpc_progress (void *opaque, curl_off_t dt, curl_off_t dn, curl_off_t ut,
              curl_off_t un)
{
  const struct Xva_xapi *x = opaque;

  (void) dt;
  (void) dn;
  (void) ut;
  (void) un;
  return Xva_xapi_stopped (x) ? 1 : 0;
}

/* POSTs body to / and leaves the reply in b.  Retries connection
 * failures. */
static int
rpc_post (struct Xva_xapi *x, const char *method, const char *body, size_t len,
          struct membuf *b)
{
  struct curl_slist *hdr = NULL, *h2;
  char url[XVA_XAPI_URL_MAX + 8], cerr[CURL_ERROR_SIZE];
  unsigned attempt;
  long code = 0;
  CURLcode c = CURLE_OK;
  int s;

  if (x->rpc == NULL) {
    x->rpc = curl_easy_init ();
    if (x->rpc == NULL)
      return Xva_xapi_fail (x, XVA_ENOMEM, "%s: cannot make a curl handle",
                            method);
  }
  snprintf (url, sizeof url, "%s/", x->url.base);
  hdr = curl_slist_append (NULL, "Content-Type: text/xml");
  h2 = hdr != NULL ? curl_slist_append (hdr, "Expect:") : NULL;
  if (h2 == NULL) {
    curl_slist_free_all (hdr);
    return Xva_xapi_fail (x, XVA_ENOMEM, "%s: out of memory", method);
  }
  hdr = h2;
  for (attempt = 1; attempt <= x->conf.tries; attempt++) {
    if (attempt > 1 && Xva_xapi_backoff (x, attempt)) {
      s = Xva_xapi_fail (x, XVA_ECANCELLED, "%s: stopped", method);
      goto out;
    }
    b->len = 0;
    b->over = 0;
    curl_easy_reset (x->rpc);
    Xva_xapi_curl_common (x, x->rpc, 1);
    curl_easy_setopt (x->rpc, CURLOPT_URL, url);
    curl_easy_setopt (x->rpc, CURLOPT_POST, 1L);
    curl_easy_setopt (x->rpc, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt (x->rpc, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) len);
    curl_easy_setopt (x->rpc, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt (x->rpc, CURLOPT_WRITEFUNCTION, mem_write);
    curl_easy_setopt (x->rpc, CURLOPT_WRITEDATA, b);
    curl_easy_setopt (x->rpc, CURLOPT_TIMEOUT, x->conf.rpc_timeout);
    curl_easy_setopt (x->rpc, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt (x->rpc, CURLOPT_XFERINFOFUNCTION, rpc_progress);
    curl_easy_setopt (x->rpc, CURLOPT_XFERINFODATA, x);
    cerr[0] = '\0';
    curl_easy_setopt (x->rpc, CURLOPT_ERRORBUFFER, cerr);
    c = curl_easy_perform (x->rpc);
    curl_easy_setopt (x->rpc, CURLOPT_ERRORBUFFER, NULL);
    if (c == CURLE_OK || !Xva_xapi_retryable (c, x->rpc)
        || Xva_xapi_stopped (x))
      break;
    if (attempt < x->conf.tries)
      Xva_xapi_notice (x, "%s: %s; trying again", x->url.base,
                       cerr[0] != '\0' ? cerr : curl_easy_strerror (c));
  }
  if (c != CURLE_OK) {
    if (b->over)
      s = Xva_xapi_fail (x, XVA_ELIMIT,
                         "%s: the reply is larger than %zu "
                         "bytes",
                         method, RPC_REPLY_MAX);
    else if (Xva_xapi_stopped (x))
      s = Xva_xapi_fail (x, XVA_ECANCELLED, "%s: stopped", method);
    else
      s = Xva_xapi_fail (x,
                         Xva_xapi_curl_status (c) == XVA_ECANCELLED
                           ? XVA_ENOMEM
                           : Xva_xapi_curl_status (c),
                         "%s: %s: %s", method, x->conf.url,
                         cerr[0] != '\0' ? cerr : curl_easy_strerror (c));
    goto out;
  }
  curl_easy_getinfo (x->rpc, CURLINFO_RESPONSE_CODE, &code);
  if (code != 200) {
    s = Xva_xapi_fail (x,
                       code == 401 || code == 403 ? XVA_EAUTH
                       : code == 404              ? XVA_ENOTFOUND
                                                  : XVA_ESERVER,
                       "%s: %s answered HTTP %ld", method, x->conf.url, code);
    goto out;
  }
  s = XVA_OK;
out:
  curl_slist_free_all (hdr);
  return s;
}

/* Takes [code, params...] from a Failure. */
static int
set_failure (struct Xva_xapi *x, const char *method,
             const struct xva_value *desc)
{
  char text[XVA_XAPI_MSG_MAX - 128];
  const char *code;
  int s;

  code = xva_value_string (xva_value_at (desc, 0));
  Xva_xapi_format_error (desc, text, sizeof text);
  s = Xva_xapi_code_status (code);
  Xva_xapi_fail (x, s, "%s: %s", method, text);
  snprintf (x->code, sizeof x->code, "%s", code != NULL ? code : "");
  x->err_info = desc != NULL ? xva_value_copy (desc) : NULL;
  return s;
}

static int
call_once (struct Xva_xapi *x, const char *method, int no_session,
           const struct xva_value *args, struct xva_value **result)
{
  struct xva_value *params = NULL, *reply = NULL, *item;
  struct membuf b = { NULL, 0, 0, 0 };
  const struct xva_value *desc;
  const char *status;
  char *xml = NULL, perr[256];
  size_t len, i;
  int s;

  if (result != NULL)
    *result = NULL;
  params = xva_value_new_array ();
  if (params == NULL) {
    s = Xva_xapi_fail (x, XVA_ENOMEM, "%s: out of memory", method);
    goto out;
  }
  if (!no_session
      && xva_value_append (params, xva_value_new_string (x->session)) != 0) {
    s = Xva_xapi_fail (x, XVA_ENOMEM, "%s: out of memory", method);
    goto out;
  }
  for (i = 0; i < xva_value_len (args); i++) {
    item = xva_value_copy (xva_value_at (args, i));
    if (item == NULL || xva_value_append (params, item) != 0) {
      s = Xva_xapi_fail (x, XVA_ENOMEM, "%s: out of memory", method);
      goto out;
    }
  }
  s = xva_xmlrpc_format_call (method, params, &xml, &len);
  if (s != XVA_OK) {
    s = Xva_xapi_fail (x, s, "%s: cannot format the call", method);
    goto out;
  }
  s = rpc_post (x, method, xml, len, &b);
  if (s != XVA_OK)
    goto out;
  perr[0] = '\0';
  s = xva_xmlrpc_parse_response (b.p != NULL ? b.p : "", b.len, NULL, &reply,
                                 perr, sizeof perr);
  if (s == XVA_ESERVER) {
    s = Xva_xapi_fail (x, XVA_ESERVER, "%s: XML-RPC fault: %s", method,
                       xva_value_get_string (reply, "faultString") != NULL
                         ? xva_value_get_string (reply, "faultString")
                         : "?");
    goto out;
  }
  if (s != XVA_OK) {
    s = Xva_xapi_fail (x, XVA_ESERVER, "%s: bad XML-RPC reply from %s: %s",
                       method, x->conf.url, perr);
    goto out;
  }
  status = xva_value_get_string (reply, "Status");
  if (status != NULL && strcmp (status, "Success") == 0) {
    if (result != NULL) {
      item = xva_value_get (reply, "Value");
      *result = item != NULL ? xva_value_copy (item) : xva_value_new_nil ();
      if (*result == NULL) {
        s = Xva_xapi_fail (x, XVA_ENOMEM, "%s: out of memory", method);
        goto out;
      }
    }
    x->errmsg[0] = '\0';
    x->code[0] = '\0';
    s = XVA_OK;
    goto out;
  }
  desc = xva_value_get (reply, "ErrorDescription");
  if (status != NULL && strcmp (status, "Failure") == 0
      && xva_value_type (desc) == XVA_TYPE_ARRAY && xva_value_len (desc) > 0) {
    s = set_failure (x, method, desc);
    goto out;
  }
  s = Xva_xapi_fail (x, XVA_ESERVER, "%s: the reply has no Status", method);
out:
  xva_value_free (params);
  xva_value_free (reply);
  free (xml);
  free (b.p);
  return s;
}

int
Xva_xapi_call (struct Xva_xapi *x, const char *method, int no_session,
               struct xva_value *args, struct xva_value **result)
{
  int s;

  s = call_once (x, method, no_session, args, result);
  if (s == XVA_EAUTH && !no_session && strcmp (x->code, "SESSION_INVALID") == 0
      && x->login_user != NULL && x->login_password != NULL
      && strcmp (method, "session.logout") != 0) {
    /* The session expired (hosts end idle ones): log in again, once. */
    Xva_xapi_notice (x, "%s: the session ended; logging in again",
                     x->url.base);
    x->own_session = 0;
    if (Xva_xapi_login (x, x->login_user, x->login_password) == XVA_OK)
      s = call_once (x, method, no_session, args, result);
  }
  xva_value_free (args);
  return s;
}

static struct xva_value *
args2 (const char *a1, const char *a2)
{
  struct xva_value *a = xva_value_new_array ();

  if (a == NULL)
    return NULL;
  if ((a1 != NULL && xva_value_append (a, xva_value_new_string (a1)) != 0)
      || (a2 != NULL
          && xva_value_append (a, xva_value_new_string (a2)) != 0)) {
    xva_value_free (a);
    return NULL;
  }
  return a;
}

int
Xva_xapi_call_string (struct Xva_xapi *x, const char *method, const char *a1,
                      const char *a2, char *out, size_t outlen)
{
  struct xva_value *args, *res = NULL;
  const char *str;
  int s;

  args = args2 (a1, a2);
  if (args == NULL)
    return Xva_xapi_fail (x, XVA_ENOMEM, "%s: out of memory", method);
  s = Xva_xapi_call (x, method, 0, args, &res);
  if (s != XVA_OK)
    return s;
  str = xva_value_string (res);
  if (str == NULL || strlen (str) >= outlen) {
    xva_value_free (res);
    return Xva_xapi_fail (x, XVA_ESERVER,
                          "%s: the result is not a string "
                          "of at most %zu bytes",
                          method, outlen - 1);
  }
  memcpy (out, str, strlen (str) + 1);
  xva_value_free (res);
  return XVA_OK;
}

/* ------------------------------------------------------------------ */
/* Sessions                                                             */

static void
free_secret (struct Xva_xapi *x)
{
  if (x->login_password != NULL) {
    explicit_bzero (x->login_password, strlen (x->login_password));
    free (x->login_password);
  }
  free (x->login_user);
  x->login_user = NULL;
  x->login_password = NULL;
}

int
Xva_xapi_login (struct Xva_xapi *x, const char *user, const char *password)
{
  struct xva_value *args, *res = NULL;
  const char *ref;
  int s;

  args = xva_value_new_array ();
  if (args == NULL || xva_value_append (args, xva_value_new_string (user)) != 0
      || xva_value_append (args, xva_value_new_string (password)) != 0
      || xva_value_append (args, xva_value_new_string ("2.21")) != 0
      || xva_value_append (args, xva_value_new_string ("xva")) != 0) {
    xva_value_free (args);
    return Xva_xapi_fail (x, XVA_ENOMEM, "login: out of memory");
  }
  s = Xva_xapi_call (x, "session.login_with_password", 1, args, &res);
  if (s != XVA_OK) {
    if (s == XVA_EAUTH) {
      char why[XVA_XAPI_MSG_MAX];
      const char *colon = strstr (x->errmsg, ": ");

      snprintf (why, sizeof why, "%s", colon != NULL ? colon + 2 : x->errmsg);
      Xva_xapi_fail (x, s,
                     "%.300s: authentication failed for user "
                     "'%.64s' (%.500s)",
                     x->url.unix_path[0] != '\0' ? x->conf.url : x->url.base,
                     user, why);
    }
    return s;
  }
  ref = xva_value_string (res);
  if (ref == NULL || ref[0] == '\0' || strlen (ref) > XVA_XAPI_REF_MAX) {
    xva_value_free (res);
    return Xva_xapi_fail (x, XVA_ESERVER,
                          "login: no session ref in the "
                          "reply");
  }
  memcpy (x->session, ref, strlen (ref) + 1);
  x->own_session = 1;
  xva_value_free (res);
  if (x->login_user != user) {
    free_secret (x);
    x->login_user = strdup (user);
    x->login_password = strdup (password);
  }
  return XVA_OK;
}

int
Xva_xapi_set_session (struct Xva_xapi *x, const char *ref)
{
  if (ref == NULL || ref[0] == '\0' || strlen (ref) > XVA_XAPI_REF_MAX)
    return Xva_xapi_fail (x, XVA_EINVAL, "bad session ref");
  memcpy (x->session, ref, strlen (ref) + 1);
  x->own_session = 0;
  return XVA_OK;
}

const char *
Xva_xapi_session (const struct Xva_xapi *x)
{
  return x->session;
}

int
Xva_xapi_logout (struct Xva_xapi *x)
{
  int s;

  if (!x->own_session)
    return XVA_OK;
  x->own_session = 0;
  s = Xva_xapi_call (x, "session.logout", 0, NULL, NULL);
  x->session[0] = '\0';
  return s;
}

/* ------------------------------------------------------------------ */
/* Tasks                                                                */

int
Xva_xapi_task_create (struct Xva_xapi *x, const char *label,
                      const char *description, char *ref, size_t reflen)
{
  return Xva_xapi_call_string (x, "task.create", label, description, ref,
                               reflen);
}

void
Xva_task_state_clear (struct Xva_task_state *st)
{
  free (st->result);
  xva_value_free (st->error_info);
  memset (st, 0, sizeof *st);
  st->progress = -1.0;
}

int
Xva_xapi_task_get (struct Xva_xapi *x, const char *ref,
                   struct Xva_task_state *st)
{
  struct xva_value *args, *rec = NULL;
  const char *status, *result;
  const struct xva_value *ei;
  double d;
  int s;

  Xva_task_state_clear (st);
  args = args2 (ref, NULL);
  if (args == NULL)
    return Xva_xapi_fail (x, XVA_ENOMEM, "task.get_record: out of memory");
  s = Xva_xapi_call (x, "task.get_record", 0, args, &rec);
  if (s != XVA_OK)
    return s;
  status = xva_value_get_string (rec, "status");
  if (status == NULL) {
    xva_value_free (rec);
    return Xva_xapi_fail (x, XVA_ESERVER, "task.get_record: no status");
  }
  if (strcmp (status, "success") == 0)
    st->status = XVA_TASK_SUCCESS;
  else if (strcmp (status, "failure") == 0)
    st->status = XVA_TASK_FAILURE;
  else if (strcmp (status, "cancelled") == 0)
    st->status = XVA_TASK_CANCELLED;
  else
    st->status = XVA_TASK_PENDING;
  if (xva_value_get_double (xva_value_get (rec, "progress"), &d) == 0)
    st->progress = d;
  result = xva_value_get_string (rec, "result");
  st->result = strdup (result != NULL ? result : "");
  ei = xva_value_get (rec, "error_info");
  if (ei != NULL && xva_value_type (ei) == XVA_TYPE_ARRAY
      && xva_value_len (ei) > 0)
    st->error_info = xva_value_copy (ei);
  xva_value_free (rec);
  if (st->result == NULL) {
    Xva_task_state_clear (st);
    return Xva_xapi_fail (x, XVA_ENOMEM, "task.get_record: out of memory");
  }
  return XVA_OK;
}

static int
task_call (struct Xva_xapi *x, const char *method, const char *ref)
{
  struct xva_value *args = args2 (ref, NULL);

  if (args == NULL)
    return Xva_xapi_fail (x, XVA_ENOMEM, "%s: out of memory", method);
  return Xva_xapi_call (x, method, 0, args, NULL);
}

int
Xva_xapi_task_cancel (struct Xva_xapi *x, const char *ref)
{
  return task_call (x, "task.cancel", ref);
}

int
Xva_xapi_task_destroy (struct Xva_xapi *x, const char *ref)
{
  return task_call (x, "task.destroy", ref);
}

/* ------------------------------------------------------------------ */
/* Queries                                                              */

int
Xva_xapi_query_add (char *q, size_t qlen, const char *name, const char *value)
{
  static const char hex[] = "0123456789ABCDEF";
  size_t used = strlen (q), nl = strlen (name);
  const unsigned char *p;

  if (used + (used > 0) + nl + 1 >= qlen)
    return -1;
  if (used > 0)
    q[used++] = '&';
  memcpy (q + used, name, nl);
  used += nl;
  q[used++] = '=';
  for (p = (const unsigned char *) value; *p != '\0'; p++) {
    if (isalnum (*p) || *p == '-' || *p == '.' || *p == '_' || *p == '~'
        || *p == ':') {
      if (used + 1 >= qlen)
        return -1;
      q[used++] = (char) *p;
    }
    else {
      if (used + 3 >= qlen)
        return -1;
      q[used++] = '%';
      q[used++] = hex[*p >> 4];
      q[used++] = hex[*p & 15];
    }
  }
  q[used] = '\0';
  return 0;
}
