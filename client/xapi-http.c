/* Streaming HTTP transfers of the XenAPI client: GET /export through
 * libcurl, and PUT /import written by hand over a libcurl connection
 * (CURLOPT_CONNECT_ONLY), because a real host refuses chunked uploads,
 * knows no `Expect: 100-continue`, may answer before it reads the body,
 * and wants a stream of unknown size sent with a fake length and ended
 * by shutting the connection's write side. */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "xapi-priv.h"

#define TICK_SECONDS 0.1
#define PUT_PIECE ((size_t) 1 << 20)
#define REPLAY_MAX ((size_t) 8 << 20)
#define MAX_REDIRECTS 5
#define RESP_MAX 16384

/* ------------------------------------------------------------------ */
/* Reply helpers                                                        */

static void
reply_reset (struct Xva_http_reply *r)
{
  int redirects = r->redirects;

  memset (r, 0, sizeof *r);
  r->redirects = redirects;
}

static int
http_status_error (long code)
{
  if (code == 401 || code == 403)
    return XVA_EAUTH;
  if (code == 404)
    return XVA_ENOTFOUND;
  return XVA_ESERVER;
}

/* Copies the value of header line `name: value` (name matched without
 * case) into out; 1 if it matched. */
static int
header_value (const char *line, size_t len, const char *name, char *out,
              size_t outlen)
{
  size_t nl = strlen (name), vl;
  const char *v;

  if (len <= nl || strncasecmp (line, name, nl) != 0 || line[nl] != ':')
    return 0;
  v = line + nl + 1;
  vl = len - nl - 1;
  while (vl > 0 && (*v == ' ' || *v == '\t')) {
    v++;
    vl--;
  }
  while (vl > 0
         && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' '
             || v[vl - 1] == '\t'))
    vl--;
  if (vl >= outlen)
    vl = outlen - 1;
  memcpy (out, v, vl);
  out[vl] = '\0';
  return 1;
}

/* Keeps printable text of an error body in the reply. */
static void
reply_body (struct Xva_http_reply *r, const char *data, size_t n)
{
  size_t used = strlen (r->body), i;

  for (i = 0; i < n && used + 1 < sizeof r->body; i++)
    r->body[used++] = isprint ((unsigned char) data[i]) ? data[i] : ' ';
  r->body[used] = '\0';
}

/* "HTTP 404 (HANDLE_INVALID ...)" */
static int
reply_error (struct Xva_xapi *x, const char *what, struct Xva_http_reply *r)
{
  char *b = r->body;
  size_t n = strlen (b);

  while (n > 0 && isspace ((unsigned char) b[n - 1]))
    b[--n] = '\0';
  return Xva_xapi_fail (x, http_status_error (r->status), "%s: HTTP %ld%s%s%s",
                        what, r->status, n > 0 ? " (" : "",
                        n > 0 ? (n > 300 ? "..." : b) : "", n > 0 ? ")" : "");
}

/* A tick of a transfer: 1 (stop, with *stopped set) when the caller's
 * stop hook says so or, every TICK_SECONDS since *last, when tick
 * (NULL: none) returns nonzero; else 0. */
static int
transfer_tick (const struct Xva_xapi *x, int (*tick) (void *opaque),
               void *opaque, double *last, int *stopped)
{
  double t = Xva_xapi_now ();

  if (Xva_xapi_stopped (x)) {
    *stopped = 1;
    return 1;
  }
  if (t - *last >= TICK_SECONDS) {
    *last = t;
    if (tick != NULL && tick (opaque) != 0) {
      *stopped = 1;
      return 1;
    }
  }
  return 0;
}

/* ------------------------------------------------------------------ */
/* GET                                                                  */

struct get_ctx {
  struct Xva_xapi *x;
  const struct Xva_http_get_cb *cb;
  struct Xva_http_reply *reply;
  CURL *h;
  long status;
  int stopped;
  double last_tick;
};

static size_t
get_header (char *line, size_t size, size_t nmemb, void *opaque)
{
  struct get_ctx *g = opaque;
  size_t n = size * nmemb;
  char tmp[XVA_XAPI_REF_MAX + 1];

  if (n > 9 && strncmp (line, "HTTP/", 5) == 0) {
    const char *sp = memchr (line, ' ', n);
    g->status = sp != NULL ? strtol (sp + 1, NULL, 10) : 0;
  }
  else if (header_value (line, n, "task-id", tmp, sizeof tmp))
    memcpy (g->reply->task_id, tmp, sizeof tmp);
  return n;
}

static size_t
get_write (char *data, size_t size, size_t nmemb, void *opaque)
{
  struct get_ctx *g = opaque;
  size_t n = size * nmemb;

  if (g->status != 200) {
    reply_body (g->reply, data, n);
    return n;
  }
  g->reply->bytes += n;
  if (g->cb->data != NULL && g->cb->data (g->cb->opaque, data, n) != 0) {
    g->stopped = 1;
    return 0;
  }
  return n;
}

static int
get_progress (void *opaque, curl_off_t dt, curl_off_t dn, curl_off_t ut,
              curl_off_t un)
{
  struct get_ctx *g = opaque;

  (void) dt;
  (void) dn;
  (void) ut;
  (void) un;
  return transfer_tick (g->x, g->cb->tick, g->cb->opaque, &g->last_tick,
                        &g->stopped);
}

int
Xva_xapi_get (struct Xva_xapi *x, const char *path_query,
              const struct Xva_http_get_cb *cb, struct Xva_http_reply *reply)
{
  struct get_ctx g;
  struct curl_slist *hdr;
  char url[XVA_XAPI_URL_MAX * 2], cerr[CURL_ERROR_SIZE];
  unsigned attempt;
  long redirects = 0;
  CURLcode c = CURLE_OK;
  int s;

  memset (reply, 0, sizeof *reply);
  if ((size_t) snprintf (url, sizeof url, "%s%s", x->url.base, path_query)
      >= sizeof url)
    return Xva_xapi_fail (x, XVA_EINVAL, "GET: the URL is too long");
  memset (&g, 0, sizeof g);
  g.x = x;
  g.cb = cb;
  g.reply = reply;
  g.h = curl_easy_init ();
  hdr = curl_slist_append (NULL, "Expect:");
  if (g.h == NULL || hdr == NULL) {
    s = Xva_xapi_fail (x, XVA_ENOMEM, "GET: out of memory");
    goto out;
  }
  for (attempt = 1; attempt <= x->conf.tries; attempt++) {
    if (attempt > 1 && Xva_xapi_backoff (x, attempt)) {
      s = Xva_xapi_fail (x, XVA_ECANCELLED, "GET: stopped");
      goto out;
    }
    curl_easy_reset (g.h);
    Xva_xapi_curl_common (x, g.h, 1);
    curl_easy_setopt (g.h, CURLOPT_URL, url);
    curl_easy_setopt (g.h, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt (g.h, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt (g.h, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt (g.h, CURLOPT_MAXREDIRS, (long) MAX_REDIRECTS);
    curl_easy_setopt (g.h, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt (g.h, CURLOPT_LOW_SPEED_TIME, x->conf.stall_timeout);
    curl_easy_setopt (g.h, CURLOPT_BUFFERSIZE, 512L * 1024);
    curl_easy_setopt (g.h, CURLOPT_HEADERFUNCTION, get_header);
    curl_easy_setopt (g.h, CURLOPT_HEADERDATA, &g);
    curl_easy_setopt (g.h, CURLOPT_WRITEFUNCTION, get_write);
    curl_easy_setopt (g.h, CURLOPT_WRITEDATA, &g);
    curl_easy_setopt (g.h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt (g.h, CURLOPT_XFERINFOFUNCTION, get_progress);
    curl_easy_setopt (g.h, CURLOPT_XFERINFODATA, &g);
    cerr[0] = '\0';
    curl_easy_setopt (g.h, CURLOPT_ERRORBUFFER, cerr);
    g.status = 0;
    g.last_tick = Xva_xapi_now ();
    c = curl_easy_perform (g.h);
    curl_easy_setopt (g.h, CURLOPT_ERRORBUFFER, NULL);
    if (c == CURLE_OK || g.stopped || reply->bytes > 0
        || !Xva_xapi_retryable (c, g.h))
      break;
    if (attempt < x->conf.tries)
      Xva_xapi_notice (x, "%s: %s; trying again", x->url.base,
                       cerr[0] != '\0' ? cerr : curl_easy_strerror (c));
  }
  curl_easy_getinfo (g.h, CURLINFO_REDIRECT_COUNT, &redirects);
  reply->redirects = (int) redirects;
  reply->status = g.status;
  if (g.stopped) {
    s = Xva_xapi_fail (x, XVA_ECANCELLED, "GET %s: stopped", path_query);
    goto out;
  }
  if (c != CURLE_OK) {
    s = Xva_xapi_curl_status (c);
    if (s == XVA_ECANCELLED)
      s = XVA_ENET;
    if (reply->bytes > 0)
      s = Xva_xapi_fail (x, s,
                         "the transfer from %s broke after %" PRIu64
                         " bytes: %s",
                         x->url.base, reply->bytes,
                         cerr[0] != '\0' ? cerr : curl_easy_strerror (c));
    else
      s = Xva_xapi_fail (x, s, "%s: %s", x->conf.url,
                         cerr[0] != '\0' ? cerr : curl_easy_strerror (c));
    goto out;
  }
  if (g.status != 200) {
    s = reply_error (x, "GET", reply);
    goto out;
  }
  s = XVA_OK;
out:
  curl_slist_free_all (hdr);
  if (g.h != NULL)
    curl_easy_cleanup (g.h);
  return s;
}

/* ------------------------------------------------------------------ */
/* PUT                                                                  */

struct put_conn {
  struct Xva_xapi *x;
  const struct Xva_http_put_src *src;
  struct Xva_http_reply *reply;
  CURL *h;
  curl_socket_t fd;
  char resp[RESP_MAX];
  size_t rlen;
  int headers_done;
  size_t body_seen;  /* response body bytes after the headers */
  int64_t resp_clen; /* -1: unknown */
  int peer_closed;
  char location[XVA_XAPI_URL_MAX];
  double last_tick;
  int stopped;
};

static int
put_tick (struct put_conn *pc)
{
  return transfer_tick (pc->x, pc->src->tick, pc->src->opaque, &pc->last_tick,
                        &pc->stopped);
}

/* Parses the response headers in resp once they are complete.  Interim
 * 1xx answers are dropped. */
static void
parse_headers (struct put_conn *pc)
{
  char *end, *line, *next, tmp[64];
  size_t hlen;

  while (!pc->headers_done) {
    end = memmem (pc->resp, pc->rlen, "\r\n\r\n", 4);
    if (end == NULL)
      return;
    hlen = (size_t) (end - pc->resp) + 4;
    pc->reply->status = 0;
    if (pc->rlen > 12 && strncmp (pc->resp, "HTTP/", 5) == 0) {
      const char *sp = memchr (pc->resp, ' ', 12);
      pc->reply->status = sp != NULL ? strtol (sp + 1, NULL, 10) : 0;
    }
    pc->resp_clen = -1;
    for (line = pc->resp; line < end; line = next) {
      next = memmem (line, (size_t) (end + 2 - line), "\r\n", 2);
      if (next == NULL)
        break;
      if (header_value (line, (size_t) (next - line), "task-id",
                        pc->reply->task_id, sizeof pc->reply->task_id)
          || header_value (line, (size_t) (next - line), "location",
                           pc->location, sizeof pc->location))
        ;
      else if (header_value (line, (size_t) (next - line), "content-length",
                             tmp, sizeof tmp))
        pc->resp_clen = strtoll (tmp, NULL, 10);
      next += 2;
    }
    if (pc->reply->status >= 100 && pc->reply->status < 200) {
      memmove (pc->resp, pc->resp + hlen, pc->rlen - hlen);
      pc->rlen -= hlen;
      continue;
    }
    pc->headers_done = 1;
    pc->body_seen = pc->rlen - hlen;
    reply_body (pc->reply, pc->resp + hlen, pc->rlen - hlen);
    pc->rlen = 0;
  }
}

/* Reads whatever the server sent so far. */
static void
pump_recv (struct put_conn *pc)
{
  char drop[4096];
  size_t n;
  CURLcode c;

  while (!pc->peer_closed) {
    n = 0;
    if (!pc->headers_done) {
      if (pc->rlen >= sizeof pc->resp) {
        /* Headers larger than we keep: treat as a broken answer. */
        pc->peer_closed = 1;
        return;
      }
      c = curl_easy_recv (pc->h, pc->resp + pc->rlen,
                          sizeof pc->resp - pc->rlen, &n);
    }
    else
      c = curl_easy_recv (pc->h, drop, sizeof drop, &n);
    if (c == CURLE_AGAIN)
      return;
    if (c != CURLE_OK || n == 0) {
      pc->peer_closed = 1;
      return;
    }
    if (!pc->headers_done) {
      pc->rlen += n;
      parse_headers (pc);
    }
    else {
      pc->body_seen += n;
      reply_body (pc->reply, drop, n);
    }
  }
}

/* Waits up to ms for the socket (events), reading what comes in. */
static void
wait_socket (struct put_conn *pc, short events, int ms)
{
  struct pollfd p;

  p.fd = pc->fd;
  p.events = (short) (events | POLLIN);
  p.revents = 0;
  if (poll (&p, 1, ms) > 0 && (p.revents & (POLLIN | POLLHUP | POLLERR)))
    pump_recv (pc);
}

static int
answered_not_ok (const struct put_conn *pc)
{
  return pc->headers_done && pc->reply->status != 200;
}

/* Sends all of buf.  XVA_OK; XVA_EOF when an answer other than 200 came
 * (or the server closed the connection) and sending stopped;
 * XVA_ECANCELLED; XVA_ENET. */
static int
send_all (struct put_conn *pc, const void *buf, size_t n)
{
  const char *p = buf;
  double last_move = Xva_xapi_now ();
  size_t sent;
  CURLcode c;

  while (n > 0) {
    if (put_tick (pc))
      return XVA_ECANCELLED;
    pump_recv (pc);
    if (answered_not_ok (pc) || pc->peer_closed)
      return XVA_EOF;
    sent = 0;
    c = curl_easy_send (pc->h, p, n, &sent);
    if (c == CURLE_OK) {
      p += sent;
      n -= sent;
      if (sent > 0)
        last_move = Xva_xapi_now ();
      continue;
    }
    if (c != CURLE_AGAIN) {
      pump_recv (pc);
      if (pc->headers_done)
        return XVA_EOF;
      return Xva_xapi_fail (pc->x, XVA_ENET,
                            "the upload to %s broke "
                            "after %" PRIu64 " bytes: %s",
                            pc->x->url.base, pc->reply->bytes,
                            curl_easy_strerror (c));
    }
    if (Xva_xapi_now () - last_move > (double) pc->x->conf.stall_timeout)
      return Xva_xapi_fail (pc->x, XVA_ENET,
                            "the upload to %s made no "
                            "progress for %ld s",
                            pc->x->url.base, pc->x->conf.stall_timeout);
    wait_socket (pc, POLLOUT, 100);
  }
  return XVA_OK;
}

/* Closes the connection; with reset, so that the server sees a broken
 * upload rather than an ended one. */
static void
put_close (struct put_conn *pc, int reset)
{
  struct linger lg = { 1, 0 };

  if (pc->h == NULL)
    return;
  if (reset && pc->fd != CURL_SOCKET_BAD)
    setsockopt (pc->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  curl_easy_cleanup (pc->h);
  pc->h = NULL;
  pc->fd = CURL_SOCKET_BAD;
}

static int
put_connect (struct put_conn *pc, const char *base, int use_unix)
{
  struct Xva_xapi *x = pc->x;
  char url[XVA_XAPI_URL_MAX + 2], cerr[CURL_ERROR_SIZE];
  curl_socket_t fd = CURL_SOCKET_BAD;
  unsigned attempt;
  CURLcode c = CURLE_OK;

  snprintf (url, sizeof url, "%s/", base);
  for (attempt = 1; attempt <= x->conf.tries; attempt++) {
    if (attempt > 1 && Xva_xapi_backoff (x, attempt))
      return Xva_xapi_fail (x, XVA_ECANCELLED, "PUT: stopped");
    pc->h = curl_easy_init ();
    if (pc->h == NULL)
      return Xva_xapi_fail (x, XVA_ENOMEM, "PUT: out of memory");
    Xva_xapi_curl_common (x, pc->h, use_unix);
    curl_easy_setopt (pc->h, CURLOPT_URL, url);
    curl_easy_setopt (pc->h, CURLOPT_CONNECT_ONLY, 1L);
    cerr[0] = '\0';
    curl_easy_setopt (pc->h, CURLOPT_ERRORBUFFER, cerr);
    c = curl_easy_perform (pc->h);
    curl_easy_setopt (pc->h, CURLOPT_ERRORBUFFER, NULL);
    if (c == CURLE_OK)
      break;
    put_close (pc, 0);
    if (!Xva_xapi_retryable (c, NULL) || Xva_xapi_stopped (x))
      break;
    if (attempt < x->conf.tries)
      Xva_xapi_notice (x, "%s: %s; trying again", base,
                       cerr[0] != '\0' ? cerr : curl_easy_strerror (c));
  }
  if (c != CURLE_OK) {
    int s = Xva_xapi_curl_status (c);
    return Xva_xapi_fail (x, s == XVA_ECANCELLED ? XVA_ENET : s, "%s: %s",
                          use_unix ? x->conf.url : base,
                          cerr[0] != '\0' ? cerr : curl_easy_strerror (c));
  }
  if (curl_easy_getinfo (pc->h, CURLINFO_ACTIVESOCKET, &fd) != CURLE_OK
      || fd == CURL_SOCKET_BAD) {
    put_close (pc, 0);
    return Xva_xapi_fail (x, XVA_ENET, "%s: no socket", base);
  }
  pc->fd = fd;
  return XVA_OK;
}

/* Splits a Location into base and path+query.  Relative locations keep
 * the base.  0 or -1. */
static int
split_location (const char *loc, char *base, size_t blen, char *pq,
                size_t pqlen, int *use_unix)
{
  const char *rest;
  size_t n;

  if (strncmp (loc, "http://", 7) == 0 || strncmp (loc, "https://", 8) == 0) {
    rest = strchr (loc + (loc[4] == 's' ? 8 : 7), '/');
    if (rest == NULL)
      rest = loc + strlen (loc);
    n = (size_t) (rest - loc);
    if (n >= blen)
      return -1;
    memcpy (base, loc, n);
    base[n] = '\0';
    *use_unix = 0;
  }
  else if (loc[0] == '/')
    rest = loc;
  else
    return -1;
  if ((size_t) snprintf (pq, pqlen, "%s", rest[0] != '\0' ? rest : "/")
      >= pqlen)
    return -1;
  return 0;
}

static int
send_request (struct put_conn *pc, const char *base, int use_unix,
              const char *path_query)
{
  char req[XVA_XAPI_URL_MAX * 3];
  const char *host;
  uint64_t len;
  int n;

  host = use_unix                             ? "localhost"
         : strncmp (base, "https://", 8) == 0 ? base + 8
                                              : base + 7;
  len = pc->src->size >= 0 ? (uint64_t) pc->src->size : XVA_XAPI_FAKE_LENGTH;
  n = snprintf (req, sizeof req,
                "PUT %s HTTP/1.1\r\n"
                "Host: %s\r\n"
                "User-Agent: xva/" XVA_VERSION_STRING
                "\r\n"
                "Accept: */*\r\n"
                "Content-Type: application/octet-stream\r\n"
                "Content-Length: %" PRIu64
                "\r\n"
                "Connection: close\r\n"
                "\r\n",
                path_query, host, len);
  if (n < 0 || (size_t) n >= sizeof req)
    return Xva_xapi_fail (pc->x, XVA_EINVAL, "PUT: the request is too long");
  return send_all (pc, req, (size_t) n);
}

/* One attempt on one connection.  XVA_OK: the body went out and the
 * answer (if any) is in reply; PUT_REDIRECT: follow pc->location (the
 * body can be replayed); else an error status. */
#define PUT_REDIRECT 2

static int
put_once (struct put_conn *pc, const char *base, int use_unix,
          const char *path_query, unsigned char *replay, size_t *replay_len,
          int *replay_over, int *src_eof, unsigned char *buf)
{
  struct Xva_xapi *x = pc->x;
  size_t rpos = 0, n;
  ssize_t got;
  double end;
  int s;

  s = put_connect (pc, base, use_unix);
  if (s != XVA_OK)
    return s;
  s = send_request (pc, base, use_unix, path_query);
  if (s == XVA_OK) {
    /* A real host answers a redirect (or an error) before it reads. */
    end = Xva_xapi_now () + (double) x->conf.early_ms / 1000.0;
    while (!pc->headers_done && !pc->peer_closed && Xva_xapi_now () < end) {
      if (put_tick (pc)) {
        s = XVA_ECANCELLED;
        break;
      }
      wait_socket (pc, 0, 20);
    }
  }
  if (s == XVA_OK && pc->headers_done)
    pc->reply->early = 1;
  while (s == XVA_OK) {
    if (pc->headers_done && pc->reply->status >= 300
        && pc->reply->status < 400)
      break;
    if (rpos < *replay_len) {
      n = *replay_len - rpos;
      if (n > PUT_PIECE)
        n = PUT_PIECE;
      s = send_all (pc, replay + rpos, n);
      rpos += n;
      if (s == XVA_OK)
        pc->reply->bytes += n;
      continue;
    }
    if (*src_eof)
      break;
    got = pc->src->read (pc->src->opaque, buf, PUT_PIECE);
    if (got < 0) {
      pc->stopped = 1;
      s = XVA_ECANCELLED;
      break;
    }
    if (got == 0) {
      *src_eof = 1;
      break;
    }
    n = (size_t) got;
    if (!*replay_over && *replay_len + n <= REPLAY_MAX) {
      memcpy (replay + *replay_len, buf, n);
      *replay_len += n;
      rpos = *replay_len;
    }
    else
      *replay_over = 1;
    if (pc->src->size >= 0
        && pc->reply->bytes + n > (uint64_t) pc->src->size) {
      s = Xva_xapi_fail (x, XVA_EIO,
                         "the input is longer than its size "
                         "(%" PRId64 " bytes)",
                         pc->src->size);
      break;
    }
    s = send_all (pc, buf, n);
    if (s == XVA_OK)
      pc->reply->bytes += n;
  }
  if (s == XVA_EOF)
    s = XVA_OK; /* answered (or closed) while sending: see below */
  if (s != XVA_OK)
    return s;
  if (pc->headers_done && pc->reply->status >= 300 && pc->reply->status < 400
      && pc->location[0] != '\0') {
    if (*replay_over)
      return Xva_xapi_fail (x, XVA_ESERVER,
                            "%s redirected the upload to %s "
                            "after more than %zu bytes were sent",
                            base, pc->location, REPLAY_MAX);
    return PUT_REDIRECT;
  }
  if (answered_not_ok (pc))
    return XVA_OK;
  if (!*src_eof) {
    /* The server closed the connection before the end of the body. */
    if (pc->headers_done)
      return XVA_OK;
    return Xva_xapi_fail (x, XVA_ENET,
                          "%s closed the connection after %" PRIu64
                          " bytes of the upload",
                          base, pc->reply->bytes);
  }
  if (pc->src->size >= 0 && pc->reply->bytes != (uint64_t) pc->src->size)
    return Xva_xapi_fail (x, XVA_EIO,
                          "the input ended after %" PRIu64 " of its %" PRId64
                          " bytes",
                          pc->reply->bytes, pc->src->size);
  if (pc->src->size < 0)
    shutdown (pc->fd, SHUT_WR); /* the end of a stream of no length */
  if (pc->headers_done)
    return XVA_OK; /* answered early: the task tells */
  /* Wait for the answer (xva serve answers after the body), or for the
   * connection to close (after a body of unknown length). */
  end = Xva_xapi_now () + (double) x->conf.stall_timeout;
  while (!pc->headers_done && !pc->peer_closed) {
    if (put_tick (pc))
      return XVA_ECANCELLED;
    if (Xva_xapi_now () > end)
      return Xva_xapi_fail (x, XVA_ENET,
                            "%s sent no answer within %ld s "
                            "of the end of the upload",
                            base, x->conf.stall_timeout);
    wait_socket (pc, 0, 100);
  }
  if (pc->headers_done && pc->resp_clen > 0) {
    /* Keep the start of an error text. */
    end = Xva_xapi_now () + 5.0;
    while (!pc->peer_closed && pc->body_seen < (size_t) pc->resp_clen
           && pc->body_seen < sizeof pc->reply->body && Xva_xapi_now () < end)
      wait_socket (pc, 0, 50);
  }
  return XVA_OK;
}

int
Xva_xapi_put (struct Xva_xapi *x, const char *path_query,
              const struct Xva_http_put_src *src, struct Xva_http_reply *reply)
{
  struct put_conn *pc = NULL;
  unsigned char *replay = NULL, *buf = NULL;
  char base[XVA_XAPI_URL_MAX], pq[XVA_XAPI_URL_MAX * 2];
  size_t replay_len = 0;
  int replay_over = 0, src_eof = 0, use_unix, s, redirects = 0;

  memset (reply, 0, sizeof *reply);
  snprintf (base, sizeof base, "%s", x->url.base);
  if ((size_t) snprintf (pq, sizeof pq, "%s", path_query) >= sizeof pq)
    return Xva_xapi_fail (x, XVA_EINVAL, "PUT: the URL is too long");
  use_unix = x->url.unix_path[0] != '\0';
  pc = calloc (1, sizeof *pc);
  replay = malloc (REPLAY_MAX);
  buf = malloc (PUT_PIECE);
  if (pc == NULL || replay == NULL || buf == NULL) {
    s = Xva_xapi_fail (x, XVA_ENOMEM, "PUT: out of memory");
    goto out;
  }
  for (;;) {
    memset (pc, 0, sizeof *pc);
    pc->x = x;
    pc->src = src;
    pc->reply = reply;
    pc->fd = CURL_SOCKET_BAD;
    pc->resp_clen = -1;
    pc->last_tick = Xva_xapi_now ();
    reply_reset (reply);
    s = put_once (pc, base, use_unix, pq, replay, &replay_len, &replay_over,
                  &src_eof, buf);
    if (s == PUT_REDIRECT) {
      char loc[XVA_XAPI_URL_MAX];
      put_close (pc, 0);
      memcpy (loc, pc->location, sizeof loc);
      if (++redirects > MAX_REDIRECTS) {
        s = Xva_xapi_fail (x, XVA_ESERVER, "PUT: more than %d redirects",
                           MAX_REDIRECTS);
        goto out;
      }
      if (split_location (loc, base, sizeof base, pq, sizeof pq, &use_unix)
          != 0) {
        s = Xva_xapi_fail (x, XVA_ESERVER, "PUT: bad redirect to '%.200s'",
                           loc);
        goto out;
      }
      reply->redirects = redirects;
      src_eof = 0;
      continue;
    }
    break;
  }
  reply->redirects = redirects;
  if (s != XVA_OK) {
    if (pc->stopped && s == XVA_ECANCELLED)
      Xva_xapi_fail (x, XVA_ECANCELLED, "PUT %s: stopped", path_query);
    put_close (pc, 1);
    goto out;
  }
  if (reply->status != 0 && reply->status != 200) {
    s = reply_error (x, "PUT", reply);
    put_close (pc, 0);
    goto out;
  }
  put_close (pc, 0);
  s = XVA_OK;
out:
  if (pc != NULL)
    put_close (pc, 1);
  free (pc);
  free (replay);
  free (buf);
  return s;
}
