/* Internals shared by the files of the HTTP adapter (server/http*.c):
 * the server, its listeners and the state of one request.  The only
 * header besides http.h that names libmicrohttpd types. */
#ifndef XVA_SERVER_HTTP_PRIV_H
#define XVA_SERVER_HTTP_PRIV_H

#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <microhttpd.h>

#include <xva/xva.h>

#include "export/export.h"
#include "import/import.h"
#include "server/http.h"
#include "server/srv.h"
#include "store/store.h"

#if defined(__GNUC__) || defined(__clang__)
#define XVA_HTTP_PRINTF(a, b) __attribute__ ((format (printf, a, b)))
#else
#define XVA_HTTP_PRINTF(a, b)
#endif

#define XVA_HTTP_REF_MAX XVA_STORE_REF_MAX
#define XVA_HTTP_PATH_MAX 4096                     /* a socket path */
#define XVA_HTTP_LOG_TARGET 1024                   /* logged path + query */
#define XVA_HTTP_RPC_MAX ((size_t) 16 << 20)       /* an RPC request body */
#define XVA_HTTP_CTL_MAX ((size_t) 64 << 10)       /* a control reply */
#define XVA_HTTP_BLOCK ((size_t) 1 << 20)          /* export response block */
#define XVA_HTTP_MEMORY_LIMIT ((size_t) 512 << 10) /* per connection */
/* After an import failed, or ended before its input did, the rest of
 * the body is read and dropped (so that the client gets the status) up
 * to this many bytes; past it the connection is closed. */
#define XVA_HTTP_DRAIN_MAX ((uint64_t) 64 << 20)
/* The length the xen-api npm client declares for bodies of unknown
 * size. */
#define XVA_HTTP_FAKE_LENGTH 1125899906842624ULL
#define XVA_HTTP_MAX_VDI_MAP 1024 /* vdi:<src>=<dst> parameters */
/* Request line and headers together: more is answered 431. */
#define XVA_HTTP_HEADERS_MAX ((size_t) 64 << 10)

struct Xva_serve;

struct Xva_http_listener {
  struct Xva_serve *sv;
  struct MHD_Daemon *d;
  int trusted; /* Unix sockets */
  int tls;
  int fd;                       /* our own listening socket, or -1 */
  int is_ctl;                   /* the control socket */
  char path[XVA_HTTP_PATH_MAX]; /* Unix socket to unlink, or "" */
  char url[XVA_SERVE_URL_MAX];
};

struct Xva_http_req;
struct Xva_http_conn;

struct Xva_serve {
  struct Xva_store *store;
  struct Xva_srv *srv;
  Xva_serve_log_fn log;
  void *log_opaque;
  struct Xva_http_listener ls[XVA_SERVE_MAX_LISTEN + 2];
  size_t nls;
  char *tls_cert; /* PEM text */
  char *tls_key;
  size_t tls_key_len;
  unsigned timeout_s;
  unsigned max_conn;
  pthread_mutex_t lock;        /* guards active and stopping */
  struct Xva_http_req *active; /* every request being served */
  int stopping;
  /* http-guard.c: every open connection, and the thread that cuts
   * those whose request headers are late */
  pthread_mutex_t glock; /* guards conns and guard_stop */
  pthread_cond_t gcond;
  pthread_t guard;
  int guard_init;
  int guard_running;
  int guard_stop;
  struct Xva_http_conn *conns;
};

enum Xva_http_route {
  XVA_ROUTE_NONE = 0,
  XVA_ROUTE_EXPORT,
  XVA_ROUTE_EXPORT_METADATA,
  XVA_ROUTE_IMPORT,
  XVA_ROUTE_IMPORT_METADATA,
  XVA_ROUTE_JSONRPC,
  XVA_ROUTE_XMLRPC,
  XVA_ROUTE_SR_CREATE, /* trusted sockets only */
};

/* Where an import stands. */
enum Xva_http_import_state {
  XVA_IMPORT_FEEDING = 0, /* bytes go to the importer */
  XVA_IMPORT_DRAINING,    /* outcome known; the rest is dropped */
};

/* One request, from its headers to MHD's completion notice.  Used by
 * its connection's thread only, except `cancel` and `im` (under mu),
 * which the cancel callback touches from an RPC thread. */
struct Xva_http_req {
  struct Xva_serve *sv;
  struct Xva_http_listener *l;
  struct MHD_Connection *conn;
  int fd; /* the connection's socket, or -1 */
  enum Xva_http_route route;
  char method[16];
  char target[XVA_HTTP_LOG_TARGET]; /* for the log: no secrets */
  char peer[64];
  double t0;
  uint64_t bytes_in;
  uint64_t bytes_out;
  unsigned status; /* queued status, 0: none yet */
  int responded;

  /* credentials and task */
  char session[XVA_HTTP_REF_MAX + 1];
  int own_session; /* logged in by Basic auth: log out */
  char task[XVA_HTTP_REF_MAX + 1];
  int task_open; /* ours to complete */
  int cancel_registered;

  pthread_mutex_t mu;
  volatile int cancel; /* task.cancel or shutdown (under mu) */

  /* RPC body */
  char *body;
  size_t len;
  size_t cap;

  /* export */
  struct Xva_export *ex;
  struct xva_writer *w;
  const unsigned char *pend; /* rest of the writer's last piece */
  size_t npend;
  int w_eof;    /* the writer ended the archive */
  int w_status; /* < 0: the writer failed */
  double last_progress;

  /* import */
  struct Xva_import *im; /* under mu */
  enum Xva_http_import_state istate;
  int early;                     /* 200 written before the body's end */
  int defer_fail;                /* a failure now is told at the end */
  struct xva_value *deferred_ei; /* that failure, until the end */
  int outcome;                   /* 0 open, 1 succeeded, -1 failed */
  unsigned fail_status;          /* HTTP status for a failure */
  char fail_code[64];
  uint64_t drained;
  struct Xva_vdi_map *vmap; /* /import_metadata vdi: pairs */
  char **vmap_str;          /* their strings, 2 per pair */
  size_t nvmap;
  int vmap_over; /* too many pairs */

  struct Xva_http_req *next; /* Xva_serve.active */
  struct Xva_http_req *prev;
};

/* ---- http.c: helpers for the handlers ---- */

/* Monotonic seconds. */
double Xva_http_now (void);
/* Logs one line through the server's sink. */
void Xva_http_logf (struct Xva_serve *sv, const char *fmt, ...)
  XVA_HTTP_PRINTF (2, 3);
/* A query parameter (decoded), or NULL. */
const char *Xva_http_arg (struct Xva_http_req *r, const char *key);
/* 1 when the query parameter is exactly "true". */
int Xva_http_arg_true (struct Xva_http_req *r, const char *key);
/* 1 and the value in *n when the request's Content-Length header is a
 * decimal number that fits; 0 when it is absent or anything else. */
int Xva_http_content_length (struct Xva_http_req *r, unsigned long long *n);
/* Queues a response of status with a copy of body[0..len) (may be
 * empty), Content-Type ctype (NULL: none), the task-id header when the
 * request has a task, and Cache-Control no-cache, no-store.  MHD_YES or
 * MHD_NO (close the connection). */
enum MHD_Result Xva_http_respond (struct Xva_http_req *r, unsigned status,
                                  const char *ctype, const char *body,
                                  size_t len);
/* A text/plain response of one line. */
enum MHD_Result Xva_http_respond_text (struct Xva_http_req *r, unsigned status,
                                       const char *fmt, ...)
  XVA_HTTP_PRINTF (3, 4);
/* Adds the headers every handler response has (task-id, Cache-Control)
 * to resp. */
int Xva_http_add_common_headers (struct Xva_http_req *r,
                                 struct MHD_Response *resp);
/* Queues resp (taking it) with status; records the status. */
enum MHD_Result Xva_http_queue (struct Xva_http_req *r, unsigned status,
                                struct MHD_Response *resp);
/* Completes the request's task (once): success with result, failure
 * with error_info (an ARRAY of strings) or code + param, or
 * cancelled. */
void Xva_http_task_succeed (struct Xva_http_req *r, const char *result);
void Xva_http_task_fail (struct Xva_http_req *r,
                         const struct xva_value *error_info);
void Xva_http_task_fail_code (struct Xva_http_req *r, const char *code,
                              const char *param);
void Xva_http_task_cancelled (struct Xva_http_req *r);
/* Progress 0..1, written at most a few times a second. */
void Xva_http_task_progress (struct Xva_http_req *r, uint64_t done,
                             uint64_t total);
/* 1 once the task was cancelled or the server is stopping. */
int Xva_http_cancelled (struct Xva_http_req *r);

/* ---- http-xfer.c: /export, /export_metadata, /import,
 * /import_metadata ---- */

/* First call, after credentials and task: starts the transfer and, for
 * exports, queues the streaming response. */
enum MHD_Result Xva_http_export_begin (struct Xva_http_req *r);
enum MHD_Result Xva_http_import_begin (struct Xva_http_req *r);
/* Upload bytes (*size > 0) or the end of the body (*size == 0). */
enum MHD_Result Xva_http_import_data (struct Xva_http_req *r, const char *data,
                                      size_t *size);
/* MHD's completion notice: completes the task and frees the transfer
 * (an unfinished import is removed, or finished when the client closed
 * the connection after a complete archive). */
void Xva_http_xfer_done (struct Xva_http_req *r,
                         enum MHD_RequestTerminationCode toe);
/* Registered with Xva_task_on_cancel; also called on shutdown.  Marks
 * the request cancelled, cancels its import and shuts its socket down,
 * so that a transfer stops at once even when its client is stalled.
 * (MHD closes the socket only after the completion notice, by which
 * time the callback is unregistered.) */
void Xva_http_cancel_cb (void *opaque);

/* ---- http-guard.c: header deadline and size ---- */

/* Sets up (mutex, condition) and tears down the guard state of sv;
 * _fini also stops the thread and runs only after every daemon has
 * stopped.  _init and _start return 0 or -1. */
int Xva_http_guard_init (struct Xva_serve *sv);
int Xva_http_guard_start (struct Xva_serve *sv);
void Xva_http_guard_fini (struct Xva_serve *sv);
/* MHD_OPTION_NOTIFY_CONNECTION callback (cls: the listener). */
void Xva_http_notify_conn (void *cls, struct MHD_Connection *conn,
                           void **socket_context,
                           enum MHD_ConnectionNotificationCode code);
/* A request of conn starts (busy 1: its headers are in) or ends (busy
 * 0: the next request's headers are due within the timeout). */
void Xva_http_guard_busy (struct Xva_serve *sv, struct MHD_Connection *conn,
                          int busy);
/* 1 when the request line and headers exceed XVA_HTTP_HEADERS_MAX. */
int Xva_http_headers_too_big (struct MHD_Connection *conn, const char *url);

/* ---- http-ctl.c: Unix sockets and the control route ---- */

/* Binds and listens on a Unix socket at path (mode 0600, a stale
 * socket file replaced).  Returns the fd, or -1 with a message. */
int Xva_http_unix_listen (const char *path, char *err, size_t errlen);
/* POST /xva/sr-create on a trusted socket (final call). */
enum MHD_Result Xva_http_ctl_sr_create (struct Xva_http_req *r);

#endif
