/* Limits of `xva serve` against hostile or broken clients that
 * libmicrohttpd does not enforce by itself:
 *
 * - a deadline for the request headers.  libmicrohttpd's connection
 *   timeout counts idle time only, so a client that sends its headers
 *   one byte at a time would hold a connection (and its thread) for
 *   ever.  Every connection is known here from its accept to its
 *   close; one that has no request in progress must deliver the
 *   headers of its next request within the timeout (counted from its
 *   accept, or from the end of its previous request on a kept-alive
 *   connection), else a guard thread shuts its socket down.  The TLS
 *   handshake counts as part of the headers.
 * - a bound on the size of the request line and headers together. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "server/http-priv.h"

#define GUARD_TICK_MS 200

/* One connection, from NOTIFY_STARTED to NOTIFY_CLOSED. */
struct Xva_http_conn {
  int fd;
  int busy;        /* a request is being served */
  int cut;         /* shut down by the guard */
  double deadline; /* when not busy: headers due by then */
  struct Xva_http_conn *next;
  struct Xva_http_conn *prev;
};

static void
conn_unlink (struct Xva_serve *sv, struct Xva_http_conn *c)
{
  if (c->prev != NULL)
    c->prev->next = c->next;
  else if (sv->conns == c)
    sv->conns = c->next;
  if (c->next != NULL)
    c->next->prev = c->prev;
  c->next = c->prev = NULL;
}

void
Xva_http_notify_conn (void *cls, struct MHD_Connection *conn,
                      void **socket_context,
                      enum MHD_ConnectionNotificationCode code)
{
  struct Xva_http_listener *l = cls;
  struct Xva_serve *sv = l->sv;
  struct Xva_http_conn *c;
  const union MHD_ConnectionInfo *ci;

  if (socket_context == NULL)
    return;
  if (code == MHD_CONNECTION_NOTIFY_STARTED) {
    c = calloc (1, sizeof *c);
    *socket_context = c;
    if (c == NULL)
      return; /* not guarded; the idle timeout remains */
    ci = MHD_get_connection_info (conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    c->fd = ci != NULL ? (int) ci->connect_fd : -1;
    c->deadline = Xva_http_now () + (double) sv->timeout_s;
    pthread_mutex_lock (&sv->glock);
    c->next = sv->conns;
    if (sv->conns != NULL)
      sv->conns->prev = c;
    sv->conns = c;
    pthread_mutex_unlock (&sv->glock);
    return;
  }
  c = *socket_context;
  *socket_context = NULL;
  if (c == NULL)
    return;
  /* libmicrohttpd closes the socket only after this notice. */
  pthread_mutex_lock (&sv->glock);
  conn_unlink (sv, c);
  pthread_mutex_unlock (&sv->glock);
  free (c);
}

void
Xva_http_guard_busy (struct Xva_serve *sv, struct MHD_Connection *conn,
                     int busy)
{
  const union MHD_ConnectionInfo *ci;
  struct Xva_http_conn *c;

  ci = MHD_get_connection_info (conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
  if (ci == NULL || ci->socket_context == NULL)
    return;
  c = ci->socket_context;
  pthread_mutex_lock (&sv->glock);
  c->busy = busy;
  if (!busy)
    c->deadline = Xva_http_now () + (double) sv->timeout_s;
  pthread_mutex_unlock (&sv->glock);
}

static void *
guard_main (void *opaque)
{
  struct Xva_serve *sv = opaque;
  struct Xva_http_conn *c;
  struct timespec ts;
  unsigned cut;
  double now;

  pthread_mutex_lock (&sv->glock);
  while (!sv->guard_stop) {
    now = Xva_http_now ();
    cut = 0;
    for (c = sv->conns; c != NULL; c = c->next)
      if (!c->busy && !c->cut && c->fd >= 0 && now >= c->deadline) {
        shutdown (c->fd, SHUT_RDWR);
        c->cut = 1;
        cut++;
      }
    if (cut != 0) {
      pthread_mutex_unlock (&sv->glock);
      Xva_http_logf (sv,
                     "closed %u connection%s whose request headers "
                     "did not arrive within %u s",
                     cut, cut == 1 ? "" : "s", sv->timeout_s);
      pthread_mutex_lock (&sv->glock);
      continue;
    }
    clock_gettime (CLOCK_MONOTONIC, &ts);
    ts.tv_nsec += (long) GUARD_TICK_MS * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
      ts.tv_sec++;
      ts.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait (&sv->gcond, &sv->glock, &ts);
  }
  pthread_mutex_unlock (&sv->glock);
  return NULL;
}

int
Xva_http_guard_init (struct Xva_serve *sv)
{
  pthread_condattr_t ca;
  int r;

  if (pthread_mutex_init (&sv->glock, NULL) != 0)
    return -1;
  if (pthread_condattr_init (&ca) != 0) {
    pthread_mutex_destroy (&sv->glock);
    return -1;
  }
  r = pthread_condattr_setclock (&ca, CLOCK_MONOTONIC);
  if (r == 0)
    r = pthread_cond_init (&sv->gcond, &ca);
  pthread_condattr_destroy (&ca);
  if (r != 0) {
    pthread_mutex_destroy (&sv->glock);
    return -1;
  }
  sv->guard_init = 1;
  return 0;
}

int
Xva_http_guard_start (struct Xva_serve *sv)
{
  if (!sv->guard_init || sv->guard_running)
    return -1;
  sv->guard_stop = 0;
  if (pthread_create (&sv->guard, NULL, guard_main, sv) != 0)
    return -1;
  sv->guard_running = 1;
  return 0;
}

void
Xva_http_guard_fini (struct Xva_serve *sv)
{
  struct Xva_http_conn *c;

  if (!sv->guard_init)
    return;
  if (sv->guard_running) {
    pthread_mutex_lock (&sv->glock);
    sv->guard_stop = 1;
    pthread_cond_broadcast (&sv->gcond);
    pthread_mutex_unlock (&sv->glock);
    pthread_join (sv->guard, NULL);
    sv->guard_running = 0;
  }
  /* Every daemon is stopped: their connections were all notified
   * closed.  Anything left is freed all the same. */
  while ((c = sv->conns) != NULL) {
    conn_unlink (sv, c);
    free (c);
  }
  pthread_cond_destroy (&sv->gcond);
  pthread_mutex_destroy (&sv->glock);
  sv->guard_init = 0;
}

/* ---- Header size ---------------------------------------------------- */

struct hsize {
  size_t n;
};

static enum MHD_Result
add_header (void *cls, enum MHD_ValueKind kind, const char *key,
            const char *value)
{
  struct hsize *h = cls;

  (void) kind;
  /* name, ": ", value, CRLF */
  h->n += (key != NULL ? strlen (key) : 0) + 4
          + (value != NULL ? strlen (value) : 0);
  return MHD_YES;
}

int
Xva_http_headers_too_big (struct MHD_Connection *conn, const char *url)
{
  struct hsize h = { 0 };

  MHD_get_connection_values (conn, MHD_HEADER_KIND, add_header, &h);
  h.n += strlen (url);
  /* The query string (already split off url): key=value&... */
  MHD_get_connection_values (conn, MHD_GET_ARGUMENT_KIND, add_header, &h);
  return h.n > XVA_HTTP_HEADERS_MAX;
}
