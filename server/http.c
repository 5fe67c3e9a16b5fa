/* The HTTP adapter of `xva serve`: start and stop, listeners, routing,
 * credentials, tasks, RPC bodies and the request log.  The transfers
 * themselves are in http-xfer.c, Unix sockets and the control route in
 * http-ctl.c. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "format/value.h"
#include "server/http-priv.h"

#define TLS_FILE_MAX ((size_t) 1 << 20)
#define TLS_PRIORITIES "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"

/* ------------------------------------------------------------------ */
/* Small helpers                                                       */

double
Xva_http_now (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

/* Lines quote what clients sent (refs in messages, libmicrohttpd's
 * own messages): control bytes become '?', so that a line stays one
 * line. */
static void
log_line (struct Xva_serve *sv, const char *line)
{
  char clean[2048];
  size_t i;

  if (sv->log == NULL)
    return;
  for (i = 0; line[i] != '\0' && i + 1 < sizeof clean; i++)
    clean[i] = ((unsigned char) line[i] < 0x20 || line[i] == 0x7f) ? '?'
                                                                   : line[i];
  clean[i] = '\0';
  sv->log (sv->log_opaque, clean);
}

void
Xva_http_logf (struct Xva_serve *sv, const char *fmt, ...)
{
  char line[2048];
  va_list ap;

  va_start (ap, fmt);
  vsnprintf (line, sizeof line, fmt, ap);
  va_end (ap);
  log_line (sv, line);
}

/* The server state's log sink. */
static void
srv_log (void *opaque, const char *line)
{
  log_line (opaque, line);
}

/* libmicrohttpd's own messages. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
static void
mhd_log (void *cls, const char *fmt, va_list ap)
{
  char line[1024];
  size_t n;

  vsnprintf (line, sizeof line, fmt, ap);
  n = strlen (line);
  while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
    line[--n] = '\0';
  Xva_http_logf (cls, "httpd: %s", line);
}
#pragma GCC diagnostic pop

/* Appends s to buf[*pos..len) with bytes outside printable ASCII and
 * those in `also` percent-encoded; stops (marking "...") when full. */
static void
append_enc (char *buf, size_t len, size_t *pos, const char *s,
            const char *also)
{
  static const char hex[] = "0123456789ABCDEF";
  const unsigned char *p;

  for (p = (const unsigned char *) s; *p != '\0'; p++) {
    int plain = *p > 0x20 && *p < 0x7f && *p != '%'
                && strchr (also, *p) == NULL;

    if (*pos + (plain ? 1 : 3) + 4 > len) {
      if (*pos + 4 <= len)
        memcpy (buf + *pos, "...", 4);
      *pos = len;
      return;
    }
    if (plain)
      buf[(*pos)++] = (char) *p;
    else {
      buf[(*pos)++] = '%';
      buf[(*pos)++] = hex[*p >> 4];
      buf[(*pos)++] = hex[*p & 15];
    }
    buf[*pos] = '\0';
  }
}

struct target_ctx {
  char *buf;
  size_t len;
  size_t pos;
  int n;
};

/* Never logged: credentials. */
static int
secret_key (const char *key)
{
  return strcasecmp (key, "session_id") == 0
         || strcasecmp (key, "password") == 0
         || strcasecmp (key, "pool_secret") == 0;
}

static enum MHD_Result
target_arg (void *cls, enum MHD_ValueKind kind, const char *key,
            const char *value)
{
  struct target_ctx *t = cls;

  (void) kind;
  if (key == NULL || secret_key (key) || t->pos >= t->len)
    return MHD_YES;
  append_enc (t->buf, t->len, &t->pos, t->n++ == 0 ? "?" : "&", "");
  append_enc (t->buf, t->len, &t->pos, key, "&=?#");
  if (value != NULL) {
    append_enc (t->buf, t->len, &t->pos, "=", "");
    append_enc (t->buf, t->len, &t->pos, value, "&=?#");
  }
  return MHD_YES;
}

static void
make_target (struct Xva_http_req *r, const char *url)
{
  struct target_ctx t = { r->target, sizeof r->target, 0, 0 };

  r->target[0] = '\0';
  append_enc (r->target, sizeof r->target, &t.pos, url, "?#");
  MHD_get_connection_values (r->conn, MHD_GET_ARGUMENT_KIND, target_arg, &t);
}

static void
make_peer (struct Xva_http_req *r)
{
  const union MHD_ConnectionInfo *ci;
  const struct sockaddr *sa;
  char host[INET6_ADDRSTRLEN + 1];

  snprintf (r->peer, sizeof r->peer, "-");
  if (r->l->path[0] != '\0') {
    snprintf (r->peer, sizeof r->peer, "unix");
    return;
  }
  ci = MHD_get_connection_info (r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
  if (ci == NULL || ci->client_addr == NULL)
    return;
  sa = ci->client_addr;
  if (getnameinfo (sa,
                   sa->sa_family == AF_INET6
                     ? (socklen_t) sizeof (struct sockaddr_in6)
                     : (socklen_t) sizeof (struct sockaddr_in),
                   host, sizeof host, NULL, 0, NI_NUMERICHOST)
      == 0)
    snprintf (r->peer, sizeof r->peer, "%s", host);
}

const char *
Xva_http_arg (struct Xva_http_req *r, const char *key)
{
  return MHD_lookup_connection_value (r->conn, MHD_GET_ARGUMENT_KIND, key);
}

int
Xva_http_arg_true (struct Xva_http_req *r, const char *key)
{
  const char *v = Xva_http_arg (r, key);

  return v != NULL && strcmp (v, "true") == 0;
}

/* ------------------------------------------------------------------ */
/* Responses                                                           */

int
Xva_http_add_common_headers (struct Xva_http_req *r, struct MHD_Response *resp)
{
  if (r->task[0] != '\0'
      && MHD_add_response_header (resp, "task-id", r->task) != MHD_YES)
    return -1;
  if (r->route != XVA_ROUTE_JSONRPC && r->route != XVA_ROUTE_XMLRPC
      && MHD_add_response_header (resp, "Cache-Control", "no-cache, no-store")
           != MHD_YES)
    return -1;
  return 0;
}

enum MHD_Result
Xva_http_queue (struct Xva_http_req *r, unsigned status,
                struct MHD_Response *resp)
{
  enum MHD_Result q;

  if (status == MHD_HTTP_UNAUTHORIZED)
    q = MHD_queue_basic_auth_fail_response (r->conn, "xva", resp);
  else
    q = MHD_queue_response (r->conn, status, resp);
  MHD_destroy_response (resp);
  if (q == MHD_YES) {
    r->status = status;
    r->responded = 1;
  }
  return q;
}

enum MHD_Result
Xva_http_respond (struct Xva_http_req *r, unsigned status, const char *ctype,
                  const char *body, size_t len)
{
  struct MHD_Response *resp;

  resp = MHD_create_response_from_buffer (len, (void *) (uintptr_t) body,
                                          MHD_RESPMEM_MUST_COPY);
  if (resp == NULL)
    return MHD_NO;
  if ((ctype != NULL
       && MHD_add_response_header (resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype)
            != MHD_YES)
      || Xva_http_add_common_headers (r, resp) < 0) {
    MHD_destroy_response (resp);
    return MHD_NO;
  }
  r->bytes_out += len;
  return Xva_http_queue (r, status, resp);
}

enum MHD_Result
Xva_http_respond_text (struct Xva_http_req *r, unsigned status,
                       const char *fmt, ...)
{
  char text[1024];
  va_list ap;
  int n;

  va_start (ap, fmt);
  n = vsnprintf (text, sizeof text - 1, fmt, ap);
  va_end (ap);
  if (n < 0)
    n = 0;
  if ((size_t) n > sizeof text - 2)
    n = (int) sizeof text - 2;
  text[n++] = '\n';
  text[n] = '\0';
  return Xva_http_respond (r, status, "text/plain; charset=utf-8", text,
                           (size_t) n);
}

/* ------------------------------------------------------------------ */
/* Tasks                                                               */

static void
task_close (struct Xva_http_req *r)
{
  if (r->cancel_registered) {
    Xva_task_on_cancel (r->sv->srv, r->task, NULL, NULL);
    r->cancel_registered = 0;
  }
  r->task_open = 0;
}

void
Xva_http_task_succeed (struct Xva_http_req *r, const char *result)
{
  if (!r->task_open)
    return;
  task_close (r);
  Xva_task_succeed (r->sv->srv, r->task, result != NULL ? result : "");
}

void
Xva_http_task_fail (struct Xva_http_req *r, const struct xva_value *error_info)
{
  if (!r->task_open)
    return;
  task_close (r);
  if (error_info != NULL)
    Xva_task_fail (r->sv->srv, r->task, error_info);
  else
    Xva_task_fail_code (r->sv->srv, r->task, "INTERNAL_ERROR", NULL);
}

void
Xva_http_task_fail_code (struct Xva_http_req *r, const char *code,
                         const char *param)
{
  if (!r->task_open)
    return;
  task_close (r);
  Xva_task_fail_code (r->sv->srv, r->task, code, param);
}

void
Xva_http_task_cancelled (struct Xva_http_req *r)
{
  if (!r->task_open)
    return;
  task_close (r);
  Xva_task_cancelled (r->sv->srv, r->task);
}

void
Xva_http_task_progress (struct Xva_http_req *r, uint64_t done, uint64_t total)
{
  double now, p;

  if (!r->task_open || total == 0)
    return;
  now = Xva_http_now ();
  if (now - r->last_progress < 0.25)
    return;
  r->last_progress = now;
  p = (double) done / (double) total;
  if (p > 1.0)
    p = 1.0;
  Xva_task_set_progress (r->sv->srv, r->task, p);
}

int
Xva_http_cancelled (struct Xva_http_req *r)
{
  int c;

  pthread_mutex_lock (&r->mu);
  c = r->cancel;
  pthread_mutex_unlock (&r->mu);
  if (!c && r->task_open && Xva_task_cancel_requested (r->sv->srv, r->task))
    c = 1;
  return c;
}

/* The task named by task_id (query, then cookie), adopted; else a new
 * one.  Returns MHD_YES with r->task set, or queues an error. */
static enum MHD_Result
task_setup (struct Xva_http_req *r, const char *label)
{
  const char *id;
  int s;

  id = Xva_http_arg (r, "task_id");
  if (id == NULL)
    id = MHD_lookup_connection_value (r->conn, MHD_COOKIE_KIND, "task_id");
  if (id != NULL && id[0] != '\0') {
    if (strlen (id) > XVA_HTTP_REF_MAX)
      return Xva_http_respond_text (r, MHD_HTTP_BAD_REQUEST,
                                    "task_id too long");
    s = Xva_task_adopt (r->sv->srv, id);
    if (s != XVA_OK)
      return Xva_http_respond_text (r, MHD_HTTP_NOT_FOUND,
                                    "HANDLE_INVALID task %s", id);
    snprintf (r->task, sizeof r->task, "%s", id);
  }
  else {
    s = Xva_task_create (r->sv->srv, label, "", r->task);
    if (s != XVA_OK) {
      r->task[0] = '\0';
      return Xva_http_respond_text (r, MHD_HTTP_INTERNAL_SERVER_ERROR,
                                    "cannot create a task: %s",
                                    xva_strerror (s));
    }
  }
  r->task_open = 1;
  Xva_task_on_cancel (r->sv->srv, r->task, Xva_http_cancel_cb, r);
  r->cancel_registered = 1;
  return MHD_YES;
}

/* ------------------------------------------------------------------ */
/* Credentials                                                         */

/* 0 when the request may go on (r->session set, or trusted), else -1
 * with the 401 queued and a given task failed. */
static int
auth_check (struct Xva_http_req *r, enum MHD_Result *q)
{
  const char *sid, *task;
  const char *code = "SESSION_AUTHENTICATION_FAILED";
  char *user = NULL, *pass = NULL;
  int ok = 0;

  if (r->l->trusted)
    return 0;
  sid = MHD_lookup_connection_value (r->conn, MHD_COOKIE_KIND, "session_id");
  if (sid == NULL)
    sid = Xva_http_arg (r, "session_id");
  if (sid != NULL) {
    if (strlen (sid) <= XVA_HTTP_REF_MAX
        && Xva_session_check (r->sv->srv, sid) == XVA_OK) {
      snprintf (r->session, sizeof r->session, "%s", sid);
      ok = 1;
    }
    else
      code = "SESSION_INVALID";
  }
  else {
    user = MHD_basic_auth_get_username_password (r->conn, &pass);
    if (user != NULL && pass != NULL
        && Xva_session_login (r->sv->srv, user, pass, 0, r->session)
             == XVA_OK) {
      r->own_session = 1;
      ok = 1;
    }
    if (pass != NULL) {
      explicit_bzero (pass, strlen (pass));
      MHD_free (pass);
    }
    if (user != NULL)
      MHD_free (user);
  }
  if (ok)
    return 0;
  r->session[0] = '\0';
  task = Xva_http_arg (r, "task_id");
  if (task == NULL)
    task = MHD_lookup_connection_value (r->conn, MHD_COOKIE_KIND, "task_id");
  if (task != NULL && task[0] != '\0' && strlen (task) <= XVA_HTTP_REF_MAX)
    Xva_task_fail_code (r->sv->srv, task, code, NULL);
  *q = Xva_http_respond_text (r, MHD_HTTP_UNAUTHORIZED, "%s", code);
  return -1;
}

/* ------------------------------------------------------------------ */
/* Routing                                                             */

/* url is route, or route followed by '/' and anything. */
static int
path_is (const char *url, const char *route)
{
  size_t n = strlen (route);

  return strncmp (url, route, n) == 0 && (url[n] == '\0' || url[n] == '/');
}

/* The transfer routes, in the order they are tried: each serves its
 * method there and XML-RPC on POST. */
static const struct {
  const char *path;
  const char *method;
  const char *allow;
  enum Xva_http_route route;
} transfer_routes[] = {
  { "/export_metadata", "GET", "GET, POST", XVA_ROUTE_EXPORT_METADATA },
  { "/export", "GET", "GET, POST", XVA_ROUTE_EXPORT },
  { "/import_metadata", "PUT", "PUT, POST", XVA_ROUTE_IMPORT_METADATA },
  { "/import", "PUT", "PUT, POST", XVA_ROUTE_IMPORT },
};

static enum Xva_http_route
find_route (const struct Xva_http_req *r, const char *url, const char *method,
            const char **allow)
{
  int is_post = strcmp (method, "POST") == 0;
  size_t i;

  *allow = "POST";
  for (i = 0; i < sizeof transfer_routes / sizeof transfer_routes[0]; i++)
    if (path_is (url, transfer_routes[i].path)) {
      *allow = transfer_routes[i].allow;
      if (strcmp (method, transfer_routes[i].method) == 0)
        return transfer_routes[i].route;
      return is_post ? XVA_ROUTE_XMLRPC : XVA_ROUTE_NONE;
    }
  if (!is_post)
    return XVA_ROUTE_NONE;
  if (path_is (url, "/jsonrpc"))
    return XVA_ROUTE_JSONRPC;
  if (r->l->trusted && strcmp (url, "/xva/sr-create") == 0)
    return XVA_ROUTE_SR_CREATE;
  return XVA_ROUTE_XMLRPC;
}

static void
req_list (struct Xva_http_req *r)
{
  struct Xva_serve *sv = r->sv;

  pthread_mutex_lock (&sv->lock);
  r->next = sv->active;
  r->prev = NULL;
  if (sv->active != NULL)
    sv->active->prev = r;
  sv->active = r;
  if (sv->stopping) {
    pthread_mutex_lock (&r->mu);
    r->cancel = 1;
    pthread_mutex_unlock (&r->mu);
  }
  pthread_mutex_unlock (&sv->lock);
}

static void
req_unlist (struct Xva_http_req *r)
{
  struct Xva_serve *sv = r->sv;

  pthread_mutex_lock (&sv->lock);
  if (r->prev != NULL)
    r->prev->next = r->next;
  else if (sv->active == r)
    sv->active = r->next;
  if (r->next != NULL)
    r->next->prev = r->prev;
  r->next = r->prev = NULL;
  pthread_mutex_unlock (&sv->lock);
}

static struct Xva_http_req *
req_new (struct Xva_http_listener *l, struct MHD_Connection *conn,
         const char *url, const char *method)
{
  const union MHD_ConnectionInfo *ci;
  struct Xva_http_req *r;

  r = calloc (1, sizeof *r);
  if (r == NULL)
    return NULL;
  if (pthread_mutex_init (&r->mu, NULL) != 0) {
    free (r);
    return NULL;
  }
  r->sv = l->sv;
  r->l = l;
  r->conn = conn;
  ci = MHD_get_connection_info (conn, MHD_CONNECTION_INFO_CONNECTION_FD);
  r->fd = ci != NULL ? (int) ci->connect_fd : -1;
  r->t0 = Xva_http_now ();
  /* Logged: libmicrohttpd lets any byte but a space into a method. */
  {
    size_t pos = 0;

    r->method[0] = '\0';
    append_enc (r->method, sizeof r->method, &pos, method, "");
  }
  make_target (r, url);
  make_peer (r);
  req_list (r);
  return r;
}

static void
req_free (struct Xva_http_req *r)
{
  if (r == NULL)
    return;
  req_unlist (r);
  pthread_mutex_destroy (&r->mu);
  free (r->body);
  free (r);
}

static const char *
route_label (enum Xva_http_route route)
{
  switch (route) {
  case XVA_ROUTE_EXPORT:
    return "VM.export";
  case XVA_ROUTE_EXPORT_METADATA:
    return "VM.export_metadata";
  case XVA_ROUTE_IMPORT:
    return "VM.import";
  case XVA_ROUTE_IMPORT_METADATA:
    return "VM.import_metadata";
  default:
    return "http";
  }
}

/* The xen-api npm client's probe: the import PUT without task_id and
 * with an empty body, declared as 0 bytes or as its fake 1 PiB. */
int
Xva_http_content_length (struct Xva_http_req *r, unsigned long long *n)
{
  const char *cl;
  char *end;

  cl = MHD_lookup_connection_value (r->conn, MHD_HEADER_KIND,
                                    MHD_HTTP_HEADER_CONTENT_LENGTH);
  if (cl == NULL || cl[0] < '0' || cl[0] > '9')
    return 0;
  errno = 0;
  *n = strtoull (cl, &end, 10);
  return errno == 0 && *end == '\0';
}

static int
is_probe (struct Xva_http_req *r)
{
  const char *te;
  unsigned long long n;

  if (Xva_http_arg (r, "task_id") != NULL
      || MHD_lookup_connection_value (r->conn, MHD_COOKIE_KIND, "task_id")
           != NULL)
    return 0;
  te = MHD_lookup_connection_value (r->conn, MHD_HEADER_KIND,
                                    MHD_HTTP_HEADER_TRANSFER_ENCODING);
  if (te != NULL || !Xva_http_content_length (r, &n))
    return 0;
  return n == 0 || n == XVA_HTTP_FAKE_LENGTH;
}

/* The first call of a request: headers are in. */
static enum MHD_Result
begin_request (struct Xva_http_req *r, const char *url, const char *method)
{
  enum MHD_Result q = MHD_YES;
  const char *allow, *cl;
  char *end;
  unsigned long long n;
  struct MHD_Response *resp;

  r->route = find_route (r, url, method, &allow);
  switch (r->route) {
  case XVA_ROUTE_NONE:
    resp = MHD_create_response_from_buffer (0, NULL, MHD_RESPMEM_PERSISTENT);
    if (resp == NULL)
      return MHD_NO;
    if (MHD_add_response_header (resp, MHD_HTTP_HEADER_ALLOW, allow)
        != MHD_YES) {
      MHD_destroy_response (resp);
      return MHD_NO;
    }
    return Xva_http_queue (r, MHD_HTTP_METHOD_NOT_ALLOWED, resp);
  case XVA_ROUTE_JSONRPC:
  case XVA_ROUTE_XMLRPC:
  case XVA_ROUTE_SR_CREATE:
    /* Refuse what is declared too big before it comes. */
    cl = MHD_lookup_connection_value (r->conn, MHD_HEADER_KIND,
                                      MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl != NULL) {
      errno = 0;
      n = strtoull (cl, &end, 10);
      if (errno != 0 || *end != '\0' || n > XVA_HTTP_RPC_MAX)
        return Xva_http_respond_text (r, MHD_HTTP_CONTENT_TOO_LARGE,
                                      "request body too large");
    }
    return MHD_YES;
  default:
    break;
  }
  if (auth_check (r, &q) < 0)
    return q;
  if ((r->route == XVA_ROUTE_IMPORT || r->route == XVA_ROUTE_IMPORT_METADATA)
      && is_probe (r))
    return Xva_http_respond (r, MHD_HTTP_OK, NULL, "", 0);
  q = task_setup (r, route_label (r->route));
  if (q != MHD_YES || r->responded)
    return q;
  if (r->route == XVA_ROUTE_EXPORT || r->route == XVA_ROUTE_EXPORT_METADATA)
    return Xva_http_export_begin (r);
  return Xva_http_import_begin (r);
}

/* A bodiless response of status that closes the connection (what
 * still comes is not read). */
static enum MHD_Result
respond_close (struct Xva_http_req *r, unsigned status)
{
  struct MHD_Response *resp;

  resp = MHD_create_response_from_buffer (0, NULL, MHD_RESPMEM_PERSISTENT);
  if (resp == NULL)
    return MHD_NO;
  if (MHD_add_response_header (resp, MHD_HTTP_HEADER_CONNECTION, "close")
      != MHD_YES) {
    MHD_destroy_response (resp);
    return MHD_NO;
  }
  return Xva_http_queue (r, status, resp);
}

/* RPC bodies are gathered (bounded) and answered whole. */
static enum MHD_Result
rpc_data (struct Xva_http_req *r, const char *data, size_t *size)
{
  char *out = NULL;
  size_t outlen = 0, cap;
  int s;
  const char *ctype;

  if (*size > 0) {
    if (*size > XVA_HTTP_RPC_MAX - r->len)
      return MHD_NO; /* past the bound: drop the connection */
    if (r->len + *size + 1 > r->cap) {
      char *nb;

      cap = r->cap != 0 ? r->cap : 4096;
      while (cap < r->len + *size + 1)
        cap *= 2;
      if (cap > XVA_HTTP_RPC_MAX + 1)
        cap = XVA_HTTP_RPC_MAX + 1;
      nb = realloc (r->body, cap);
      if (nb == NULL)
        return MHD_NO;
      r->body = nb;
      r->cap = cap;
    }
    memcpy (r->body + r->len, data, *size);
    r->len += *size;
    r->body[r->len] = '\0';
    r->bytes_in += *size;
    *size = 0;
    return MHD_YES;
  }
  if (r->route == XVA_ROUTE_SR_CREATE)
    return Xva_http_ctl_sr_create (r);
  if (r->route == XVA_ROUTE_JSONRPC) {
    s = Xva_rpc_jsonrpc (r->sv->srv, r->body != NULL ? r->body : "", r->len,
                         r->l->trusted, &out, &outlen);
    ctype = "application/json";
  }
  else {
    s = Xva_rpc_xmlrpc (r->sv->srv, r->body != NULL ? r->body : "", r->len,
                        r->l->trusted, &out, &outlen);
    ctype = "text/xml";
  }
  if (s < 0 || out == NULL) {
    free (out);
    return Xva_http_respond_text (r, MHD_HTTP_INTERNAL_SERVER_ERROR,
                                  "RPC failed: %s", xva_strerror (s));
  }
  {
    enum MHD_Result q = Xva_http_respond (r, MHD_HTTP_OK, ctype, out, outlen);
    free (out);
    return q;
  }
}

static enum MHD_Result
on_request (void *cls, struct MHD_Connection *conn, const char *url,
            const char *method, const char *version, const char *upload_data,
            size_t *upload_data_size, void **con_cls)
{
  struct Xva_http_listener *l = cls;
  struct Xva_http_req *r = *con_cls;

  (void) version;
  if (r == NULL) {
    /* The headers are in: the guard's deadline no longer applies. */
    Xva_http_guard_busy (l->sv, conn, 1);
    r = req_new (l, conn, url, method);
    if (r == NULL)
      return MHD_NO;
    *con_cls = r;
    if (Xva_http_headers_too_big (conn, url))
      return respond_close (r, MHD_HTTP_REQUEST_HEADER_FIELDS_TOO_LARGE);
    return begin_request (r, url, method);
  }
  if (r->responded) {
    /* A response went out before the body: drop what still comes. */
    r->bytes_in += *upload_data_size;
    *upload_data_size = 0;
    return MHD_YES;
  }
  switch (r->route) {
  case XVA_ROUTE_JSONRPC:
  case XVA_ROUTE_XMLRPC:
  case XVA_ROUTE_SR_CREATE:
    return rpc_data (r, upload_data, upload_data_size);
  case XVA_ROUTE_IMPORT:
  case XVA_ROUTE_IMPORT_METADATA:
    return Xva_http_import_data (r, upload_data, upload_data_size);
  default:
    /* A GET with a body, or an export whose response is queued. */
    r->bytes_in += *upload_data_size;
    *upload_data_size = 0;
    return MHD_YES;
  }
}

static const char *
toe_name (enum MHD_RequestTerminationCode toe)
{
  switch (toe) {
  case MHD_REQUEST_TERMINATED_COMPLETED_OK:
    return "";
  case MHD_REQUEST_TERMINATED_WITH_ERROR:
    return " (error)";
  case MHD_REQUEST_TERMINATED_TIMEOUT_REACHED:
    return " (timeout)";
  case MHD_REQUEST_TERMINATED_DAEMON_SHUTDOWN:
    return " (shutdown)";
  case MHD_REQUEST_TERMINATED_READ_ERROR:
    return " (read error)";
  case MHD_REQUEST_TERMINATED_CLIENT_ABORT:
    return " (client closed)";
  default:
    return " (?)";
  }
}

static void
on_completed (void *cls, struct MHD_Connection *conn, void **con_cls,
              enum MHD_RequestTerminationCode toe)
{
  struct Xva_http_listener *l = cls;
  struct Xva_http_req *r = *con_cls;
  char status[16];

  if (conn != NULL)
    Xva_http_guard_busy (l->sv, conn, 0);
  if (r == NULL)
    return;
  *con_cls = NULL;
  switch (r->route) {
  case XVA_ROUTE_EXPORT:
  case XVA_ROUTE_EXPORT_METADATA:
  case XVA_ROUTE_IMPORT:
  case XVA_ROUTE_IMPORT_METADATA:
    Xva_http_xfer_done (r, toe);
    break;
  default:
    break;
  }
  if (r->task_open)
    Xva_http_task_fail_code (r, "INTERNAL_ERROR", "request ended");
  if (r->own_session)
    Xva_session_logout (r->sv->srv, r->session);
  explicit_bzero (r->session, sizeof r->session);
  if (r->status != 0)
    snprintf (status, sizeof status, "%u", r->status);
  else
    snprintf (status, sizeof status, "-");
  Xva_http_logf (r->sv, "%s %s %s %s in=%" PRIu64 " out=%" PRIu64 " %.3fs%s",
                 r->peer, r->method, r->target, status, r->bytes_in,
                 r->bytes_out, Xva_http_now () - r->t0, toe_name (toe));
  req_free (r);
}

/* ------------------------------------------------------------------ */
/* Listeners                                                           */

static struct MHD_Daemon *
start_daemon (struct Xva_serve *sv, struct Xva_http_listener *l,
              unsigned extra_flags, const struct sockaddr *sa)
{
  struct MHD_OptionItem ops[16];
  size_t n = 0;
  unsigned flags = MHD_USE_THREAD_PER_CONNECTION
                   | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG
                   | MHD_USE_ITC | extra_flags;

  ops[n++] = (struct MHD_OptionItem) { MHD_OPTION_CONNECTION_TIMEOUT,
                                       (intptr_t) sv->timeout_s, NULL };
  ops[n++] = (struct MHD_OptionItem) { MHD_OPTION_CONNECTION_LIMIT,
                                       (intptr_t) sv->max_conn, NULL };
  ops[n++] = (struct MHD_OptionItem) { MHD_OPTION_CONNECTION_MEMORY_LIMIT,
                                       (intptr_t) XVA_HTTP_MEMORY_LIMIT,
                                       NULL };
  if (sa != NULL) {
    ops[n++] = (struct MHD_OptionItem) { MHD_OPTION_SOCK_ADDR, 0,
                                         (void *) (uintptr_t) sa };
    ops[n++] = (struct MHD_OptionItem) { MHD_OPTION_LISTENING_ADDRESS_REUSE, 1,
                                         NULL };
  }
  else
    ops[n++] = (struct MHD_OptionItem) { MHD_OPTION_LISTEN_SOCKET,
                                         (intptr_t) l->fd, NULL };
  if (l->tls) {
    ops[n++] = (struct MHD_OptionItem) { MHD_OPTION_HTTPS_MEM_KEY, 0,
                                         sv->tls_key };
    ops[n++] = (struct MHD_OptionItem) { MHD_OPTION_HTTPS_MEM_CERT, 0,
                                         sv->tls_cert };
    ops[n++] = (struct MHD_OptionItem) { MHD_OPTION_HTTPS_PRIORITIES, 0,
                                         (void *) (uintptr_t) TLS_PRIORITIES };
  }
  ops[n++] = (struct MHD_OptionItem) { MHD_OPTION_END, 0, NULL };
  return MHD_start_daemon (flags, 0, NULL, NULL, on_request, l,
                           MHD_OPTION_EXTERNAL_LOGGER, mhd_log, sv,
                           MHD_OPTION_NOTIFY_COMPLETED, on_completed, l,
                           MHD_OPTION_NOTIFY_CONNECTION, Xva_http_notify_conn,
                           l, MHD_OPTION_ARRAY, ops, MHD_OPTION_END);
}

/* "ADDR:PORT", "[V6]:PORT" or ":PORT" into host (NULL: any) and port. */
static int
split_listen (const char *spec, char *host, size_t hostlen, char *port,
              size_t portlen)
{
  const char *colon;
  size_t hl;
  char *end;
  long p;

  if (spec[0] == '[') {
    const char *close = strchr (spec, ']');

    if (close == NULL || close[1] != ':')
      return -1;
    hl = (size_t) (close - spec - 1);
    spec++;
    colon = close + 1;
  }
  else {
    colon = strrchr (spec, ':');
    if (colon == NULL)
      return -1;
    hl = (size_t) (colon - spec);
  }
  if (hl >= hostlen || strlen (colon + 1) >= portlen || colon[1] == '\0')
    return -1;
  memcpy (host, spec, hl);
  host[hl] = '\0';
  errno = 0;
  p = strtol (colon + 1, &end, 10);
  if (errno != 0 || *end != '\0' || p < 0 || p > 65535)
    return -1;
  snprintf (port, portlen, "%ld", p);
  return 0;
}

static int
listen_tcp (struct Xva_serve *sv, const char *spec, int tls, char *err,
            size_t errlen)
{
  struct Xva_http_listener *l = &sv->ls[sv->nls];
  struct addrinfo hints, *ai = NULL;
  char host[256], port[16], num[256];
  const union MHD_DaemonInfo *di;
  int g;

  if (split_listen (spec, host, sizeof host, port, sizeof port) < 0) {
    Xva_value_err (err, errlen, "bad listen address '%s' (want ADDR:PORT)",
                   spec);
    return XVA_EINVAL;
  }
  memset (&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  g = getaddrinfo (host[0] != '\0' ? host : NULL, port, &hints, &ai);
  if (g != 0 || ai == NULL) {
    Xva_value_err (err, errlen, "listen address '%s': %s", spec,
                   gai_strerror (g));
    return XVA_EINVAL;
  }
  memset (l, 0, sizeof *l);
  l->sv = sv;
  l->fd = -1;
  l->tls = tls;
  l->d = start_daemon (sv, l,
                       (ai->ai_family == AF_INET6 ? MHD_USE_IPv6 : 0)
                         | (tls ? MHD_USE_TLS : 0),
                       ai->ai_addr);
  if (l->d == NULL) {
    Xva_value_err (err, errlen, "cannot listen on %s%s", spec,
                   tls ? " (TLS: check the certificate and key)" : "");
    freeaddrinfo (ai);
    return XVA_EIO;
  }
  if (getnameinfo (ai->ai_addr, ai->ai_addrlen, num, sizeof num, NULL, 0,
                   NI_NUMERICHOST)
      != 0)
    snprintf (num, sizeof num, "%s", host);
  di = MHD_get_daemon_info (l->d, MHD_DAEMON_INFO_BIND_PORT);
  snprintf (l->url, sizeof l->url, "%s://%s%s%s:%u", tls ? "https" : "http",
            ai->ai_family == AF_INET6 ? "[" : "", num,
            ai->ai_family == AF_INET6 ? "]" : "",
            di != NULL ? (unsigned) di->port : 0u);
  freeaddrinfo (ai);
  sv->nls++;
  return XVA_OK;
}

static int
listen_unix (struct Xva_serve *sv, const char *path, int is_ctl, char *err,
             size_t errlen)
{
  struct Xva_http_listener *l = &sv->ls[sv->nls];

  if (strlen (path) >= sizeof l->path) {
    Xva_value_err (err, errlen, "socket path too long: %s", path);
    return XVA_EINVAL;
  }
  memset (l, 0, sizeof *l);
  l->sv = sv;
  l->trusted = 1;
  l->is_ctl = is_ctl;
  l->fd = Xva_http_unix_listen (path, err, errlen);
  if (l->fd < 0)
    return XVA_EIO;
  snprintf (l->path, sizeof l->path, "%s", path);
  l->d = start_daemon (sv, l, 0, NULL);
  if (l->d == NULL) {
    Xva_value_err (err, errlen, "cannot serve on %s", path);
    close (l->fd);
    unlink (l->path);
    return XVA_EIO;
  }
  snprintf (l->url, sizeof l->url, "unix:%s", path);
  sv->nls++;
  return XVA_OK;
}

/* Reads a whole PEM file (bounded) as a NUL-terminated string. */
static char *
read_pem (const char *path, size_t *len, char *err, size_t errlen)
{
  char *buf = NULL;
  size_t n = 0;
  ssize_t got;
  int fd;

  fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    Xva_value_err (err, errlen, "%s: %s", path, strerror (errno));
    return NULL;
  }
  buf = malloc (TLS_FILE_MAX + 1);
  if (buf == NULL) {
    Xva_value_err (err, errlen, "out of memory");
    goto fail;
  }
  for (;;) {
    got = read (fd, buf + n, TLS_FILE_MAX + 1 - n);
    if (got < 0 && errno == EINTR)
      continue;
    if (got < 0) {
      Xva_value_err (err, errlen, "%s: %s", path, strerror (errno));
      goto fail;
    }
    if (got == 0)
      break;
    n += (size_t) got;
    if (n > TLS_FILE_MAX) {
      Xva_value_err (err, errlen, "%s: larger than %zu bytes", path,
                     TLS_FILE_MAX);
      goto fail;
    }
  }
  buf[n] = '\0';
  close (fd);
  *len = n;
  return buf;
fail:
  if (buf != NULL) {
    explicit_bzero (buf, n);
    free (buf);
  }
  close (fd);
  return NULL;
}

/* ------------------------------------------------------------------ */
/* Start and stop                                                      */

static int
open_store (struct Xva_serve *sv, const struct Xva_serve_opts *o, char *err,
            size_t errlen)
{
  char msg[512];
  struct Xva_store_sweep_report rep;
  int s;

  /* Without a password a new directory cannot be initialised: say so
   * before the store makes anything. */
  if (o->root_password == NULL || o->root_password[0] == '\0') {
    char db[XVA_HTTP_PATH_MAX];
    struct stat sb;

    if ((size_t) snprintf (db, sizeof db, "%s/xva.db", o->data_dir) < sizeof db
        && stat (db, &sb) < 0 && errno == ENOENT) {
      Xva_value_err (err, errlen,
                     "%s is a new data directory: give root's "
                     "password with --password-file or XVA_PASSWORD",
                     o->data_dir);
      return XVA_EINVAL;
    }
  }
  s = Xva_store_open (o->data_dir, &sv->store, msg, sizeof msg);
  if (s == XVA_ESTATE) {
    Xva_value_err (err, errlen, "%s is in use by another process (%s)",
                   o->data_dir, msg);
    return s;
  }
  if (s != XVA_OK) {
    Xva_value_err (err, errlen, "cannot open %s: %s", o->data_dir, msg);
    return s;
  }
  Xva_store_last_sweep (sv->store, &rep);
  if (rep.staging_dirs != 0 || rep.orphan_images != 0 || rep.failures != 0)
    Xva_http_logf (sv,
                   "start-up sweep: removed %u staging directories and "
                   "%u orphan images (%u failures)",
                   rep.staging_dirs, rep.orphan_images, rep.failures);
  s = Xva_store_initialised (sv->store);
  if (s < 0) {
    Xva_value_err (err, errlen, "%s: %s", o->data_dir,
                   Xva_store_errmsg (sv->store));
    return s;
  }
  if (s == 1)
    return XVA_OK;
  if (o->root_password == NULL || o->root_password[0] == '\0') {
    Xva_value_err (err, errlen,
                   "%s is a new data directory: give root's password "
                   "with --password-file or XVA_PASSWORD",
                   o->data_dir);
    return XVA_EINVAL;
  }
  s = Xva_store_init (sv->store, o->root_password);
  if (s != XVA_OK) {
    Xva_value_err (err, errlen, "cannot initialise %s: %s", o->data_dir,
                   Xva_store_errmsg (sv->store));
    return s;
  }
  Xva_http_logf (sv, "initialised a new data directory %s", o->data_dir);
  return XVA_OK;
}

int
Xva_serve_start (const struct Xva_serve_opts *o, struct Xva_serve **out,
                 char *err, size_t errlen)
{
  struct Xva_serve *sv;
  char msg[512], ctl[XVA_HTTP_PATH_MAX];
  size_t i;
  int s, tls = 0;

  *out = NULL;
  if (o == NULL || o->data_dir == NULL || o->data_dir[0] == '\0') {
    Xva_value_err (err, errlen, "no data directory");
    return XVA_EINVAL;
  }
  if (o->nlisten > XVA_SERVE_MAX_LISTEN) {
    Xva_value_err (err, errlen, "at most %d listen addresses",
                   XVA_SERVE_MAX_LISTEN);
    return XVA_EINVAL;
  }
  if ((o->tls_cert == NULL) != (o->tls_key == NULL)) {
    Xva_value_err (err, errlen, "TLS needs both a certificate and a key");
    return XVA_EINVAL;
  }
  if (o->tls_cert != NULL) {
    if (MHD_is_feature_supported (MHD_FEATURE_TLS) != MHD_YES) {
      Xva_value_err (err, errlen, "this libmicrohttpd has no TLS support");
      return XVA_EINVAL;
    }
    tls = 1;
  }
  if ((size_t) snprintf (ctl, sizeof ctl, "%s/%s", o->data_dir,
                         XVA_SERVE_CTL_NAME)
      >= sizeof ctl) {
    Xva_value_err (err, errlen, "data directory path too long");
    return XVA_EINVAL;
  }
  sv = calloc (1, sizeof *sv);
  if (sv == NULL) {
    Xva_value_err (err, errlen, "out of memory");
    return XVA_ENOMEM;
  }
  if (pthread_mutex_init (&sv->lock, NULL) != 0) {
    free (sv);
    Xva_value_err (err, errlen, "out of memory");
    return XVA_ENOMEM;
  }
  if (Xva_http_guard_init (sv) != 0) {
    pthread_mutex_destroy (&sv->lock);
    free (sv);
    Xva_value_err (err, errlen, "out of memory");
    return XVA_ENOMEM;
  }
  sv->log = o->log;
  sv->log_opaque = o->log_opaque;
  sv->timeout_s = o->timeout_s != 0 ? o->timeout_s : XVA_SERVE_DEFAULT_TIMEOUT;
  sv->max_conn = o->max_connections != 0 ? o->max_connections
                                         : XVA_SERVE_DEFAULT_MAX_CONN;
  if (tls) {
    size_t certlen;

    sv->tls_cert = read_pem (o->tls_cert, &certlen, err, errlen);
    if (sv->tls_cert == NULL) {
      s = XVA_EIO;
      goto fail;
    }
    sv->tls_key = read_pem (o->tls_key, &sv->tls_key_len, err, errlen);
    if (sv->tls_key == NULL) {
      s = XVA_EIO;
      goto fail;
    }
  }
  s = open_store (sv, o, err, errlen);
  if (s != XVA_OK)
    goto fail;
  s = Xva_srv_new (sv->store, srv_log, sv, &sv->srv, msg, sizeof msg);
  if (s != XVA_OK) {
    Xva_value_err (err, errlen, "cannot start the server state: %s", msg);
    goto fail;
  }
  if (Xva_http_guard_start (sv) != 0) {
    Xva_value_err (err, errlen, "cannot start a thread");
    s = XVA_ENOMEM;
    goto fail;
  }
  s = listen_unix (sv, ctl, 1, err, errlen);
  if (s != XVA_OK)
    goto fail;
  if (o->unix_path != NULL) {
    s = listen_unix (sv, o->unix_path, 0, err, errlen);
    if (s != XVA_OK)
      goto fail;
  }
  for (i = 0; i < o->nlisten; i++) {
    s = listen_tcp (sv, o->listen[i], tls, err, errlen);
    if (s != XVA_OK)
      goto fail;
  }
  Xva_http_logf (sv, "control socket %s", ctl);
  *out = sv;
  return XVA_OK;
fail:
  Xva_serve_stop (sv);
  return s;
}

size_t
Xva_serve_nurls (const struct Xva_serve *sv)
{
  size_t i, n = 0;

  for (i = 0; sv != NULL && i < sv->nls; i++)
    if (!sv->ls[i].is_ctl)
      n++;
  return n;
}

const char *
Xva_serve_url (const struct Xva_serve *sv, size_t k)
{
  size_t i, n = 0;

  for (i = 0; sv != NULL && i < sv->nls; i++)
    if (!sv->ls[i].is_ctl && n++ == k)
      return sv->ls[i].url;
  return NULL;
}

void
Xva_serve_stop (struct Xva_serve *sv)
{
  struct Xva_http_req *r;
  size_t i;

  if (sv == NULL)
    return;
  /* Stop taking connections, then cancel what runs so that every
   * connection thread comes back soon. */
  for (i = 0; i < sv->nls; i++)
    if (sv->ls[i].d != NULL) {
      MHD_socket fd = MHD_quiesce_daemon (sv->ls[i].d);

      /* The socket is ours now (ours anyway for Unix sockets). */
      if (fd != MHD_INVALID_SOCKET && sv->ls[i].fd < 0)
        sv->ls[i].fd = fd;
    }
  pthread_mutex_lock (&sv->lock);
  sv->stopping = 1;
  for (r = sv->active; r != NULL; r = r->next)
    Xva_http_cancel_cb (r);
  pthread_mutex_unlock (&sv->lock);
  /* event.from long polls would hold MHD_stop_daemon up. */
  Xva_srv_close_polls (sv->srv);
  for (i = 0; i < sv->nls; i++) {
    struct Xva_http_listener *l = &sv->ls[i];

    if (l->d != NULL)
      MHD_stop_daemon (l->d);
    l->d = NULL;
    if (l->fd >= 0)
      close (l->fd);
    l->fd = -1;
    if (l->path[0] != '\0')
      unlink (l->path);
  }
  Xva_http_guard_fini (sv);
  Xva_srv_free (sv->srv);
  Xva_store_close (sv->store);
  if (sv->tls_key != NULL) {
    explicit_bzero (sv->tls_key, sv->tls_key_len);
    free (sv->tls_key);
  }
  free (sv->tls_cert);
  pthread_mutex_destroy (&sv->lock);
  free (sv);
}
