/* The client's transfers: export, import and copy, each followed
 * through its XenAPI task and checked by an xva_reader on the way. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "transfer.h"

#define FAIL_WAIT 5 /* seconds to learn a failed task's error */
#define QUERY_MAX 8192

/* ------------------------------------------------------------------ */
/* Results                                                              */

void
Xva_client_result_init (struct Xva_client_result *r)
{
  memset (r, 0, sizeof *r);
  r->status = XVA_OK;
}

void
Xva_client_result_clear (struct Xva_client_result *r)
{
  size_t i;

  for (i = 0; i < r->nvm; i++)
    free (r->vm_uuids[i]);
  free (r->vm_uuids);
  free (r->output);
  Xva_client_result_init (r);
}

static int res_fail (struct Xva_client_result *r, int status, const char *fmt,
                     ...)
#if defined(__GNUC__) || defined(__clang__)
  __attribute__ ((format (printf, 3, 4)))
#endif
  ;

static int
res_fail (struct Xva_client_result *r, int status, const char *fmt, ...)
{
  va_list ap;

  va_start (ap, fmt);
  vsnprintf (r->msg, sizeof r->msg, fmt, ap);
  va_end (ap);
  r->status = status;
  return status;
}

static double
now_s (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

/* ------------------------------------------------------------------ */
/* Callbacks and hosts                                                  */

/* What the xapi handles of one transfer call back into. */
struct glue {
  struct Xva_client_cb cb;
};

static int
glue_stop (void *opaque)
{
  struct glue *g = opaque;

  return g->cb.stop != NULL && g->cb.stop (g->cb.opaque) != 0;
}

static void
glue_notice (void *opaque, const char *msg)
{
  struct glue *g = opaque;

  if (g->cb.notice != NULL)
    g->cb.notice (g->cb.opaque, msg);
}

static void notice (struct glue *g, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
  __attribute__ ((format (printf, 2, 3)))
#endif
  ;

static void
notice (struct glue *g, const char *fmt, ...)
{
  char msg[2048];
  va_list ap;

  if (g->cb.notice == NULL)
    return;
  va_start (ap, fmt);
  vsnprintf (msg, sizeof msg, fmt, ap);
  va_end (ap);
  g->cb.notice (g->cb.opaque, msg);
}

static struct Xva_xapi *
open_host (const struct Xva_client_host *h, struct glue *g,
           struct Xva_client_result *res)
{
  struct Xva_xapi_conf conf = h->conf;
  struct Xva_xapi *x;
  char err[512];
  int s;

  conf.stop = glue_stop;
  conf.stop_opaque = g;
  conf.notice = glue_notice;
  conf.notice_opaque = g;
  err[0] = '\0';
  x = Xva_xapi_new (&conf, &s, err, sizeof err);
  if (x == NULL) {
    res_fail (res, s, "%s", err);
    return NULL;
  }
  if (h->session != NULL)
    s = Xva_xapi_set_session (x, h->session);
  else
    s = Xva_xapi_login (x, h->user != NULL ? h->user : "root",
                        h->password != NULL ? h->password : "");
  if (s != XVA_OK) {
    res_fail (res, s, "%s", Xva_xapi_errmsg (x));
    Xva_xapi_free (x);
    return NULL;
  }
  return x;
}

/* The start of a transfer: res cleared, g calling back into cb (may be
 * NULL). */
static void
transfer_start (struct Xva_client_result *res, struct glue *g,
                const struct Xva_client_cb *cb)
{
  Xva_client_result_init (res);
  memset (g, 0, sizeof *g);
  if (cb != NULL)
    g->cb = *cb;
}

/* One side of a transfer (the export or the import): the host, the
 * callbacks, the task to adopt (NULL: a new one), how long to wait for
 * it after the transfer, whether to report progress, and the result. */
struct side {
  struct Xva_xapi *x;
  struct glue *g;
  const char *task_id;
  unsigned task_wait; /* seconds */
  int show;
  struct Xva_client_result *res;
};

/* sd for host h (opened as x). */
static void
side_init (struct side *sd, struct Xva_xapi *x, struct glue *g,
           const struct Xva_client_host *h, const char *task_id, int show,
           struct Xva_client_result *res)
{
  sd->x = x;
  sd->g = g;
  sd->task_id = task_id;
  sd->task_wait = h->task_wait ? h->task_wait : 600;
  sd->show = show;
  sd->res = res;
}

/* Ends a transfer's use of a host: logs out (keeping a first error). */
static void
close_host (struct Xva_xapi *x)
{
  Xva_xapi_free (x);
}

/* The VM named by uuid, ref or name: its ref, uuid and name_label. */
static int
resolve_vm (struct Xva_xapi *x, const char *uuid, const char *ref,
            const char *name, char *vref, char *vuuid, char *vname, size_t len,
            struct Xva_client_result *res)
{
  struct xva_value *args, *v = NULL;
  const char *str;
  size_t n;
  int s;

  if (uuid != NULL) {
    s = Xva_xapi_call_string (x, "VM.get_by_uuid", uuid, NULL, vref, len);
    if (s != XVA_OK)
      return res_fail (res, s, "no VM with uuid %s (%s)", uuid,
                       Xva_xapi_errmsg (x));
  }
  else if (ref != NULL) {
    if (strlen (ref) >= len)
      return res_fail (res, XVA_EINVAL, "the ref is too long");
    memcpy (vref, ref, strlen (ref) + 1);
  }
  else {
    args = xva_value_new_array ();
    if (args == NULL
        || xva_value_append (args, xva_value_new_string (name)) != 0) {
      xva_value_free (args);
      return res_fail (res, XVA_ENOMEM, "out of memory");
    }
    s = Xva_xapi_call (x, "VM.get_by_name_label", 0, args, &v);
    if (s != XVA_OK)
      return res_fail (res, s, "%s", Xva_xapi_errmsg (x));
    n = xva_value_len (v);
    if (xva_value_type (v) != XVA_TYPE_ARRAY || n == 0) {
      xva_value_free (v);
      return res_fail (res, XVA_ENOTFOUND, "no VM is named '%s'", name);
    }
    if (n > 1) {
      xva_value_free (v);
      return res_fail (res, XVA_EINVAL,
                       "%zu VMs are named '%s': give "
                       "--uuid",
                       n, name);
    }
    str = xva_value_string (xva_value_at (v, 0));
    if (str == NULL || strlen (str) >= len) {
      xva_value_free (v);
      return res_fail (res, XVA_ESERVER, "VM.get_by_name_label: bad reply");
    }
    memcpy (vref, str, strlen (str) + 1);
    xva_value_free (v);
  }
  args = xva_value_new_array ();
  if (args == NULL
      || xva_value_append (args, xva_value_new_string (vref)) != 0) {
    xva_value_free (args);
    return res_fail (res, XVA_ENOMEM, "out of memory");
  }
  s = Xva_xapi_call (x, "VM.get_record", 0, args, &v);
  if (s != XVA_OK)
    return res_fail (res, s, "no VM %s (%s)", vref, Xva_xapi_errmsg (x));
  str = xva_value_get_string (v, "uuid");
  snprintf (vuuid, len, "%s", str != NULL ? str : "");
  str = xva_value_get_string (v, "name_label");
  snprintf (vname, len, "%s", str != NULL ? str : "");
  xva_value_free (v);
  return XVA_OK;
}

/* ------------------------------------------------------------------ */
/* Tasks                                                                */

struct task_ctl {
  struct Xva_xapi *x;
  struct glue *g;
  char ref[XVA_XAPI_REF_MAX + 1];
  int own;
  /* the monitor */
  struct Xva_xapi *mx;
  pthread_t th;
  int started;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int quit;
  double progress;
  int status;
};

static int
task_begin (struct task_ctl *tc, struct Xva_xapi *x, struct glue *g,
            const char *given, const char *label,
            struct Xva_client_result *res)
{
  pthread_condattr_t ca;
  int s;

  memset (tc, 0, sizeof *tc);
  tc->x = x;
  tc->g = g;
  tc->progress = -1.0;
  pthread_condattr_init (&ca);
  pthread_condattr_setclock (&ca, CLOCK_MONOTONIC);
  pthread_cond_init (&tc->cv, &ca);
  pthread_condattr_destroy (&ca);
  pthread_mutex_init (&tc->mu, NULL);
  if (given != NULL) {
    snprintf (tc->ref, sizeof tc->ref, "%s", given);
    return XVA_OK;
  }
  s = Xva_xapi_task_create (x, label, "made by the xva client", tc->ref,
                            sizeof tc->ref);
  if (s != XVA_OK)
    return res_fail (res, s, "cannot make a task: %s", Xva_xapi_errmsg (x));
  tc->own = 1;
  return XVA_OK;
}

static int
monitor_should_stop (void *opaque)
{
  struct task_ctl *tc = opaque;
  int q;

  pthread_mutex_lock (&tc->mu);
  q = tc->quit;
  pthread_mutex_unlock (&tc->mu);
  return q || glue_stop (tc->g);
}

static void *
monitor_main (void *arg)
{
  struct task_ctl *tc = arg;
  struct Xva_task_state st;
  struct timespec dl;
  int s;

  memset (&st, 0, sizeof st);
  pthread_mutex_lock (&tc->mu);
  while (!tc->quit) {
    clock_gettime (CLOCK_MONOTONIC, &dl);
    dl.tv_sec += 1;
    while (!tc->quit && pthread_cond_timedwait (&tc->cv, &tc->mu, &dl) == 0)
      ;
    if (tc->quit)
      break;
    pthread_mutex_unlock (&tc->mu);
    s = Xva_xapi_task_get (tc->mx, tc->ref, &st);
    pthread_mutex_lock (&tc->mu);
    if (s == XVA_OK) {
      tc->progress = st.progress;
      tc->status = st.status;
    }
  }
  pthread_mutex_unlock (&tc->mu);
  Xva_task_state_clear (&st);
  return NULL;
}

static void
monitor_start (struct task_ctl *tc)
{
  int s;

  tc->mx = Xva_xapi_clone (tc->x, &s);
  if (tc->mx == NULL)
    return; /* no progress display: not fatal */
  Xva_xapi_set_stop (tc->mx, monitor_should_stop, tc);
  if (pthread_create (&tc->th, NULL, monitor_main, tc) != 0) {
    Xva_xapi_free (tc->mx);
    tc->mx = NULL;
    return;
  }
  tc->started = 1;
}

static void
monitor_stop (struct task_ctl *tc)
{
  if (tc->started) {
    pthread_mutex_lock (&tc->mu);
    tc->quit = 1;
    pthread_cond_broadcast (&tc->cv);
    pthread_mutex_unlock (&tc->mu);
    pthread_join (tc->th, NULL);
    tc->started = 0;
  }
  Xva_xapi_free (tc->mx);
  tc->mx = NULL;
}

/* The last status and progress the monitor saw. */
static void
monitor_peek (struct task_ctl *tc, int *status, double *progress)
{
  pthread_mutex_lock (&tc->mu);
  *status = tc->status;
  *progress = tc->progress;
  pthread_mutex_unlock (&tc->mu);
}

/* Waits (at most max_s) until the task is no longer pending. */
static int
task_wait_end (struct task_ctl *tc, unsigned max_s, struct Xva_task_state *st)
{
  struct timespec ts;
  double delay = 0.05, end = now_s () + (double) max_s, t;
  int s;

  for (;;) {
    s = Xva_xapi_task_get (tc->x, tc->ref, st);
    if (s != XVA_OK)
      return s;
    if (st->status != XVA_TASK_PENDING)
      return XVA_OK;
    if (now_s () >= end)
      return XVA_EOF; /* still pending */
    for (t = 0; t < delay; t += 0.05) {
      if (glue_stop (tc->g))
        return XVA_ECANCELLED;
      ts.tv_sec = 0;
      ts.tv_nsec = 50 * 1000 * 1000;
      nanosleep (&ts, NULL);
    }
    delay = delay * 1.5 > 1.0 ? 1.0 : delay * 1.5;
  }
}

/* res from a task that ended badly: "the host failed the WHAT: CODE
 * [params]". */
static int
task_error (struct Xva_client_result *res, const char *what,
            const struct Xva_task_state *st)
{
  char text[1024];
  const char *code;
  int s;

  if (st->status == XVA_TASK_CANCELLED && st->error_info == NULL)
    return res_fail (res, XVA_ESERVER, "the %s task was cancelled", what);
  code = xva_value_string (xva_value_at (st->error_info, 0));
  Xva_xapi_format_error (st->error_info, text, sizeof text);
  s = Xva_xapi_code_status (code);
  res_fail (res, s, "the host failed the %s: %s", what, text);
  snprintf (res->code, sizeof res->code, "%s", code != NULL ? code : "");
  return s;
}

/* After a failed transfer: learns the task's error (waiting briefly),
 * cancels it if it is still pending.  When the task failed with a code,
 * that code decides the status unless keep_status. */
static void
task_after_failure (struct task_ctl *tc, struct Xva_client_result *res,
                    const char *what, int keep_status)
{
  struct Xva_task_state st;
  char first[sizeof res->msg];
  int s;

  memset (&st, 0, sizeof st);
  s = task_wait_end (tc, FAIL_WAIT, &st);
  if (s == XVA_EOF) {
    Xva_xapi_task_cancel (tc->x, tc->ref);
    task_wait_end (tc, FAIL_WAIT, &st);
  }
  else if (s == XVA_OK && st.status == XVA_TASK_FAILURE
           && st.error_info != NULL) {
    char tmsg[sizeof res->msg];
    int keep = res->status;

    memcpy (first, res->msg, sizeof first);
    task_error (res, what, &st);
    memcpy (tmsg, res->msg, sizeof tmsg);
    if (keep_status)
      res_fail (res, keep, "%.1000s (%.900s)", first, tmsg);
    else
      snprintf (res->msg, sizeof res->msg, "%.1000s (%.900s)", tmsg, first);
  }
  Xva_task_state_clear (&st);
}

static void
task_end (struct task_ctl *tc)
{
  monitor_stop (tc);
  if (tc->own && tc->ref[0] != '\0')
    Xva_xapi_task_destroy (tc->x, tc->ref);
  pthread_mutex_destroy (&tc->mu);
  pthread_cond_destroy (&tc->cv);
}

/* ------------------------------------------------------------------ */
/* Jobs                                                                 */

/* What an export and an import share: the host, the task that follows
 * the transfer, the reader that watches the bytes, the first failure of
 * the job's own and the byte count. */
struct job {
  struct Xva_xapi *x;
  struct glue *g;
  struct task_ctl tc;
  int have_task;        /* tc begun: ended by job_end */
  struct xva_reader *r; /* NULL: not watched here */
  int r_eof;
  int fail; /* the job's own failure, with msg */
  char msg[1024];
  uint64_t bytes;
  int show;                 /* this job reports progress */
  struct Xva_task_state st; /* the task at its end */
  double t0;
};

static void
job_progress (struct glue *g, struct task_ctl *tc, struct xva_reader *r,
              uint64_t bytes, uint64_t size)
{
  struct Xva_client_progress p;
  struct xva_progress rp;
  int st;

  if (g->cb.progress == NULL)
    return;
  memset (&p, 0, sizeof p);
  p.bytes = bytes;
  p.size = size;
  if (r != NULL) {
    xva_reader_progress (r, &rp);
    p.done = rp.done;
    p.total = rp.total;
  }
  monitor_peek (tc, &st, &p.task);
  g->cb.progress (g->cb.opaque, &p);
}

/* A task that fails while bytes still move stops the transfer. */
static int
task_failed_meanwhile (struct task_ctl *tc)
{
  double prog;
  int st;

  monitor_peek (tc, &st, &prog);
  return st == XVA_TASK_FAILURE || st == XVA_TASK_CANCELLED;
}

/* Starts j (zeroed by the caller) on side sd: the reader that watches
 * the bytes (none when ro is NULL; io is taken over) and the task
 * (sd->task_id, or a new one named label).  XVA_OK, or sd->res says
 * why. */
static int
job_begin (struct job *j, const struct side *sd,
           const struct xva_reader_opts *ro, struct xva_sink_io io,
           const char *label)
{
  int s;

  j->t0 = now_s ();
  j->x = sd->x;
  j->g = sd->g;
  j->show = sd->show;
  if (ro != NULL) {
    j->r = xva_reader_new (ro, io, &s);
    if (j->r == NULL)
      return res_fail (sd->res, s, "cannot start a reader: %s",
                       xva_strerror (s));
  }
  s = task_begin (&j->tc, sd->x, sd->g, sd->task_id, label, sd->res);
  j->have_task = 1;
  return s;
}

/* Gives n bytes to the reader while it watches.  XVA_OK, or the
 * reader's error. */
static int
job_feed (struct job *j, const void *buf, size_t n)
{
  struct xva_in in;
  int s;

  if (j->r == NULL || j->r_eof)
    return XVA_OK;
  in.src = buf;
  in.size = n;
  in.pos = 0;
  s = xva_reader_feed (j->r, &in);
  if (s == XVA_EOF)
    j->r_eof = 1;
  return s < 0 ? s : XVA_OK;
}

/* A tick of the transfer of size bytes (0: unknown): the progress, and
 * 1 (stop) when the task failed meanwhile ("the <what> task failed
 * during the <during>"). */
static int
job_tick (struct job *j, uint64_t size, const char *what, const char *during)
{
  if (j->show)
    job_progress (j->g, &j->tc, j->r, j->bytes, size);
  if (task_failed_meanwhile (&j->tc)) {
    j->fail = XVA_ESERVER;
    snprintf (j->msg, sizeof j->msg, "the %s task failed during the %s", what,
              during);
    return 1;
  }
  return 0;
}

/* After the transfer (status s): the last progress and the byte count;
 * on failure res (the job's own failure first) and the task's error.
 * keep_status: a failure of the transfer itself keeps its status ahead
 * of the task's.  XVA_OK, or the failure. */
static int
job_transferred (struct job *j, int s, uint64_t size, const char *what,
                 int keep_status, struct Xva_client_result *res)
{
  if (j->show)
    job_progress (j->g, &j->tc, j->r, j->bytes, size);
  res->bytes = j->bytes;
  if (s == XVA_ECANCELLED && j->fail != 0) {
    res_fail (res, j->fail, "%s", j->msg);
    task_after_failure (&j->tc, res, what, j->fail != XVA_ESERVER);
    return j->fail;
  }
  if (s != XVA_OK) {
    res_fail (res, s, "%s", Xva_xapi_errmsg (j->x));
    if (s != XVA_ECANCELLED)
      task_after_failure (&j->tc, res, what, keep_status);
    return s;
  }
  return XVA_OK;
}

/* Waits (at most wait s) for the task of the finished transfer (named
 * after) to end.  XVA_OK when it succeeded; else res says why: a failed
 * task's error is followed by note (may be NULL). */
static int
job_task_result (struct job *j, unsigned wait, const char *what,
                 const char *after, const char *note,
                 struct Xva_client_result *res)
{
  size_t l;
  int s;

  s = task_wait_end (&j->tc, wait, &j->st);
  if (s == XVA_EOF)
    return res_fail (res, XVA_ESERVER,
                     "the %s task %s is still pending %u s "
                     "after the %s",
                     what, j->tc.ref, wait, after);
  if (s != XVA_OK)
    return res_fail (res, s, "cannot read the %s task: %s", what,
                     Xva_xapi_errmsg (j->x));
  if (j->st.status != XVA_TASK_SUCCESS) {
    s = task_error (res, what, &j->st);
    if (note != NULL) {
      l = strlen (res->msg);
      snprintf (res->msg + l, sizeof res->msg - l, "%s", note);
    }
    return s;
  }
  return XVA_OK;
}

/* Ends j: the reader's findings (the checksum mismatches with
 * mismatches) and the time into res; the task ended, the reader freed.
 * Returns res->status. */
static int
job_end (struct job *j, int mismatches, struct Xva_client_result *res)
{
  struct xva_reader_stats rs;

  if (j->r != NULL) {
    xva_reader_stats (j->r, &rs);
    res->checksum_kinds = rs.checksum_kinds;
    if (mismatches)
      res->mismatches = rs.mismatches;
  }
  res->seconds = now_s () - j->t0;
  if (j->have_task)
    task_end (&j->tc);
  Xva_task_state_clear (&j->st);
  xva_reader_free (j->r);
  return res->status;
}

/* ------------------------------------------------------------------ */
/* Export                                                               */

struct exp_job {
  struct job c;
  struct Xva_sink *sink;
};

static int
exp_data (void *opaque, const void *buf, size_t n)
{
  struct exp_job *j = opaque;
  int s;

  j->c.bytes += n;
  s = job_feed (&j->c, buf, n);
  if (s < 0) {
    j->c.fail = s;
    snprintf (j->c.msg, sizeof j->c.msg,
              "the archive from %.200s is not valid: "
              "%s",
              Xva_xapi_get_url (j->c.x)->base, xva_reader_errmsg (j->c.r));
    return -1;
  }
  s = Xva_sink_write (j->sink, buf, n);
  if (s != XVA_OK) {
    j->c.fail = s;
    snprintf (j->c.msg, sizeof j->c.msg, "%s", Xva_sink_errmsg (j->sink));
    return -1;
  }
  return 0;
}

static int
exp_tick (void *opaque)
{
  struct exp_job *j = opaque;

  return job_tick (&j->c, 0, "export", "transfer");
}

struct export_args {
  struct side s;
  const char *vm_ref; /* NULL with all */
  int metadata;
  int all;
  int compress;
  struct Xva_sink *sink; /* committed or aborted here */
};

/* Streams one export into a.sink, checking it; commits the sink only
 * when the archive is complete and the task succeeded. */
static int
export_stream (struct export_args *a)
{
  struct Xva_client_result *res = a->s.res;
  struct xva_reader_opts ro;
  struct Xva_http_reply reply;
  struct Xva_http_get_cb gcb;
  struct xva_sink_io io;
  struct task_ctl *tc;
  struct exp_job j;
  char q[QUERY_MAX], pq[QUERY_MAX + 32];
  const char *comp;
  int s;

  memset (&j, 0, sizeof j);
  tc = &j.c.tc;
  xva_reader_opts_init (&ro);
  ro.force = 0;
  ro.mode = a->metadata ? XVA_READ_ANY : XVA_READ_FULL;
  ro.require_end = 1; /* a kept export must end with its end marker */
  memset (&io, 0, sizeof io);
  s = job_begin (&j.c, &a->s, &ro, io,
                 a->metadata ? "xva export_metadata" : "xva export");
  if (s != XVA_OK)
    goto out;
  q[0] = '\0';
  if (a->metadata && a->all)
    s = Xva_xapi_query_add (q, sizeof q, "all", "true");
  else
    s = Xva_xapi_query_add (q, sizeof q, "ref", a->vm_ref);
  s |= Xva_xapi_query_add (q, sizeof q, "session_id",
                           Xva_xapi_session (a->s.x));
  s |= Xva_xapi_query_add (q, sizeof q, "task_id", tc->ref);
  comp = a->compress == XVA_COMPRESS_GZIP   ? "gzip"
         : a->compress == XVA_COMPRESS_ZSTD ? "zstd"
                                            : NULL;
  if (comp != NULL && !a->metadata)
    s |= Xva_xapi_query_add (q, sizeof q, "use_compression", comp);
  if (s != 0) {
    res_fail (res, XVA_EINVAL, "the request is too long");
    goto out;
  }
  snprintf (pq, sizeof pq, "/%s?%s",
            a->metadata ? "export_metadata" : "export", q);
  j.sink = a->sink;
  gcb.data = exp_data;
  gcb.tick = exp_tick;
  gcb.opaque = &j;
  monitor_start (tc);
  s = Xva_xapi_get (a->s.x, pq, &gcb, &reply);
  monitor_stop (tc);
  s = job_transferred (&j.c, s, 0, "export",
                       reply.status == 0 || s == XVA_ENET, res);
  if (s != XVA_OK)
    goto out;
  if (!j.c.r_eof) {
    /* A stored archive is judged by its end marker: without it, the
     * stream was cut even if every disk looks complete. */
    s = xva_reader_finish (j.c.r);
    res_fail (res, s == XVA_OK ? XVA_ETRUNCATED : s,
              "the export from %s "
              "ended before the archive did (%" PRIu64 " bytes): %s",
              Xva_xapi_get_url (a->s.x)->base, j.c.bytes,
              s == XVA_OK ? "no end marker" : xva_reader_errmsg (j.c.r));
    task_after_failure (tc, res, "export", 1);
    goto out;
  }
  if (job_task_result (&j.c, a->s.task_wait, "export", "transfer", NULL, res)
      != XVA_OK)
    goto out;
  s = Xva_sink_commit (a->sink);
  if (s != XVA_OK) {
    res_fail (res, s, "%s", Xva_sink_errmsg (a->sink));
    goto out;
  }
  res->status = XVA_OK;
out:
  if (res->status != XVA_OK)
    Xva_sink_abort (a->sink);
  return job_end (&j.c, 0, res);
}

int
Xva_client_export (const struct Xva_export_req *req,
                   const struct Xva_client_cb *cb,
                   struct Xva_client_result *res)
{
  struct export_args a;
  struct Xva_sink *sink = NULL;
  struct Xva_xapi *x = NULL;
  struct glue g;
  char vref[XVA_XAPI_REF_MAX + 1], vname[XVA_XAPI_REF_MAX + 1];
  char err[1024];
  const char *name, *uuid;
  unsigned removed = 0;
  int s;

  transfer_start (res, &g, cb);
  x = open_host (&req->host, &g, res);
  if (x == NULL)
    goto out;
  if (req->metadata && req->all) {
    vref[0] = '\0';
    name = "all";
    uuid = "all";
  }
  else {
    s = resolve_vm (x, req->uuid, req->ref, req->name, vref, res->vm_uuid,
                    vname, sizeof vref, res);
    if (s != XVA_OK)
      goto out;
    name = vname;
    uuid = res->vm_uuid;
  }
  if (strcmp (req->output, "-") == 0)
    res->output = strdup ("-");
  else
    res->output = Xva_target_expand (req->output, name, uuid,
                                     (int64_t) time (NULL));
  if (res->output == NULL) {
    res_fail (res, XVA_EINVAL,
              "bad output name '%s' (known: {name}, "
              "{uuid}, {date})",
              req->output);
    goto out;
  }
  err[0] = '\0';
  s = Xva_sink_open (res->output, &sink, err, sizeof err);
  if (s != XVA_OK) {
    res_fail (res, s, "%s", err);
    goto out;
  }
  memset (&a, 0, sizeof a);
  side_init (&a.s, x, &g, &req->host, req->task_id, 1, res);
  a.vm_ref = vref;
  a.metadata = req->metadata;
  a.all = req->all;
  a.compress = req->compress;
  a.sink = sink;
  s = export_stream (&a);
  if (s != XVA_OK)
    goto out;
  if (req->keep > 0 && strcmp (req->output, "-") != 0) {
    err[0] = '\0';
    s = Xva_target_prune (req->output, name, uuid, res->output, req->keep,
                          &removed, glue_notice, &g, err, sizeof err);
    if (s != XVA_OK)
      res_fail (res, s,
                "the export is complete (%s), but removing older "
                "exports failed: %s",
                res->output, err);
  }
out:
  Xva_sink_free (sink);
  close_host (x);
  return res->status;
}

/* ------------------------------------------------------------------ */
/* Import                                                               */

struct imp_job {
  struct job c;
  struct Xva_source *src;
  int r_bad; /* the reader's error: stopped watching */
  char r_msg[512];
  int force; /* report mismatches as kept */
  uint64_t mismatches;
};

static ssize_t
imp_read (void *opaque, void *buf, size_t n)
{
  struct imp_job *j = opaque;
  ssize_t got;
  int s;

  got = Xva_source_read (j->src, buf, n);
  if (got < 0) {
    j->c.fail = j->src->status != 0 ? j->src->status : XVA_EIO;
    snprintf (j->c.msg, sizeof j->c.msg, "%s", Xva_source_errmsg (j->src));
    return -1;
  }
  /* The reader only watches: the host judges the archive (it may take
   * what this reader would not), and its verdict is the task's. */
  if (got == 0) {
    if (j->c.r != NULL && !j->c.r_eof && !j->r_bad) {
      s = xva_reader_finish (j->c.r);
      if (s != XVA_OK) {
        j->r_bad = s;
        snprintf (j->r_msg, sizeof j->r_msg, "%s", xva_reader_errmsg (j->c.r));
      }
      else
        j->c.r_eof = 1;
    }
    return 0;
  }
  if (!j->r_bad) {
    s = job_feed (&j->c, buf, (size_t) got);
    if (s < 0) {
      j->r_bad = s;
      snprintf (j->r_msg, sizeof j->r_msg, "%s", xva_reader_errmsg (j->c.r));
    }
  }
  j->c.bytes += (uint64_t) got;
  return got;
}

static int
imp_tick (void *opaque)
{
  struct imp_job *j = opaque;
  int64_t size = Xva_source_size (j->src);

  return job_tick (&j->c, size > 0 ? (uint64_t) size : 0, "import", "upload");
}

static void
imp_notice (void *opaque, int status, const char *msg)
{
  struct imp_job *j = opaque;

  if (status == XVA_ECHECKSUM) {
    j->mismatches++;
    if (j->r_msg[0] == '\0')
      snprintf (j->r_msg, sizeof j->r_msg, "%s", msg != NULL ? msg : "?");
    if (j->force)
      notice (j->c.g, "kept despite a checksum mismatch (--force): %s",
              msg != NULL ? msg : "?");
  }
  else if (j->force)
    notice (j->c.g, "%s", msg != NULL ? msg : "?");
}

/* The VM refs of an import task's result. */
static int
result_uuids (struct Xva_xapi *x, const char *result,
              struct Xva_client_result *res, struct glue *g)
{
  struct xva_value *v = NULL;
  char uuid[XVA_XAPI_REF_MAX + 1], **nv;
  const char *ref;
  size_t i, n;
  int s;

  if (xva_value_from_xml (result, strlen (result), NULL, &v, NULL, 0)
      != XVA_OK) {
    v = xva_value_new_array ();
    if (v == NULL)
      return res_fail (res, XVA_ENOMEM, "out of memory");
  }
  if (xva_value_type (v) == XVA_TYPE_STRING) {
    struct xva_value *a = xva_value_new_array ();
    if (a == NULL || xva_value_append (a, v) != 0) {
      xva_value_free (a);
      return res_fail (res, XVA_ENOMEM, "out of memory");
    }
    v = a;
  }
  n = xva_value_len (v);
  for (i = 0; i < n; i++) {
    ref = xva_value_string (xva_value_at (v, i));
    if (ref == NULL || strncmp (ref, "OpaqueRef:", 10) != 0
        || strcmp (ref, "OpaqueRef:NULL") == 0)
      continue;
    s = Xva_xapi_call_string (x, "VM.get_uuid", ref, NULL, uuid, sizeof uuid);
    if (s != XVA_OK) {
      notice (g, "cannot learn the uuid of the new VM %s: %s", ref,
              Xva_xapi_errmsg (x));
      continue;
    }
    nv = realloc (res->vm_uuids, (res->nvm + 1) * sizeof *nv);
    if (nv == NULL) {
      xva_value_free (v);
      return res_fail (res, XVA_ENOMEM, "out of memory");
    }
    res->vm_uuids = nv;
    res->vm_uuids[res->nvm] = strdup (uuid);
    if (res->vm_uuids[res->nvm] == NULL) {
      xva_value_free (v);
      return res_fail (res, XVA_ENOMEM, "out of memory");
    }
    res->nvm++;
  }
  xva_value_free (v);
  return XVA_OK;
}

struct import_args {
  struct side s;
  struct Xva_source *src;
  int check; /* run a reader on the bytes */
  const char *sr_uuid;
  const char *sr_ref;
  int restore;
  int force;
  int metadata;
  int dry_run;
  const char *const *vdi_map;
  size_t nvdi_map;
};

static int
import_query (const struct import_args *a, const char *task, char *pq,
              size_t pqlen)
{
  char q[QUERY_MAX], key[300];
  const char *eq;
  size_t i;
  int s = 0;

  q[0] = '\0';
  s |= Xva_xapi_query_add (q, sizeof q, "session_id",
                           Xva_xapi_session (a->s.x));
  s |= Xva_xapi_query_add (q, sizeof q, "task_id", task);
  if (a->sr_ref != NULL)
    s |= Xva_xapi_query_add (q, sizeof q, "sr_id", a->sr_ref);
  else if (a->sr_uuid != NULL)
    s |= Xva_xapi_query_add (q, sizeof q, "sr_uuid", a->sr_uuid);
  if (a->restore)
    s |= Xva_xapi_query_add (q, sizeof q, "restore", "true");
  if (a->force)
    s |= Xva_xapi_query_add (q, sizeof q, "force", "true");
  if (a->metadata && a->dry_run)
    s |= Xva_xapi_query_add (q, sizeof q, "dry_run", "true");
  for (i = 0; a->metadata && i < a->nvdi_map; i++) {
    eq = strchr (a->vdi_map[i], '=');
    if (eq == NULL || (size_t) (eq - a->vdi_map[i]) > 250)
      return -1;
    snprintf (key, sizeof key, "vdi:%.*s", (int) (eq - a->vdi_map[i]),
              a->vdi_map[i]);
    s |= Xva_xapi_query_add (q, sizeof q, key, eq + 1);
  }
  if (s != 0)
    return -1;
  if ((size_t) snprintf (pq, pqlen, "/%s?%s",
                         a->metadata ? "import_metadata" : "import", q)
      >= pqlen)
    return -1;
  return 0;
}

static int
import_stream (struct import_args *a)
{
  struct Xva_client_result *res = a->s.res;
  struct xva_reader_opts ro;
  struct Xva_http_put_src ps;
  struct Xva_http_reply reply;
  struct xva_sink_io io;
  struct imp_job j;
  char pq[QUERY_MAX + 32], note[sizeof j.r_msg + 64];
  int s;

  memset (&j, 0, sizeof j);
  j.src = a->src;
  j.force = a->force;
  xva_reader_opts_init (&ro);
  ro.force = 1;
  ro.mode = a->metadata ? XVA_READ_ANY : XVA_READ_FULL;
  memset (&io, 0, sizeof io);
  io.notice = imp_notice;
  io.opaque = &j;
  s = job_begin (&j.c, &a->s, a->check ? &ro : NULL, io,
                 a->metadata ? "xva import_metadata" : "xva import");
  if (s != XVA_OK)
    goto out;
  if (import_query (a, j.c.tc.ref, pq, sizeof pq) != 0) {
    res_fail (res, XVA_EINVAL,
              "the request is too long or a --vdi is "
              "malformed");
    goto out;
  }
  ps.read = imp_read;
  ps.tick = imp_tick;
  ps.opaque = &j;
  ps.size = Xva_source_size (a->src);
  monitor_start (&j.c.tc);
  s = Xva_xapi_put (a->s.x, pq, &ps, &reply);
  monitor_stop (&j.c.tc);
  s = job_transferred (&j.c, s, ps.size > 0 ? (uint64_t) ps.size : 0, "import",
                       s == XVA_ENET || s == XVA_EIO, res);
  if (s != XVA_OK)
    goto out;
  note[0] = '\0';
  if (j.r_bad != 0 || j.mismatches > 0)
    snprintf (note, sizeof note, " (the archive %s: %s)",
              j.r_bad != 0 ? "is damaged" : "has a checksum mismatch",
              j.r_msg);
  if (job_task_result (&j.c, a->s.task_wait, "import", "upload", note, res)
      != XVA_OK)
    goto out;
  if (j.r_bad != 0)
    notice (a->s.g,
            "the host accepted an archive that looks damaged here: "
            "%s",
            j.r_msg);
  if (!a->dry_run) {
    s = result_uuids (a->s.x, j.c.st.result != NULL ? j.c.st.result : "", res,
                      a->s.g);
    if (s != XVA_OK)
      goto out;
  }
  res->status = XVA_OK;
out:
  return job_end (&j.c, 1, res);
}

int
Xva_client_import (const struct Xva_import_req *req,
                   const struct Xva_client_cb *cb,
                   struct Xva_client_result *res)
{
  struct import_args a;
  struct Xva_source *src = NULL;
  struct Xva_xapi *x = NULL;
  struct glue g;
  char err[1024];
  int s;

  transfer_start (res, &g, cb);
  err[0] = '\0';
  s = Xva_source_open (req->input, &src, err, sizeof err);
  if (s != XVA_OK) {
    res_fail (res, s, "%s", err);
    goto out;
  }
  x = open_host (&req->host, &g, res);
  if (x == NULL)
    goto out;
  memset (&a, 0, sizeof a);
  side_init (&a.s, x, &g, &req->host, req->task_id, 1, res);
  a.src = src;
  a.check = 1;
  a.sr_uuid = req->sr_uuid;
  a.sr_ref = req->sr_ref;
  a.restore = req->restore;
  a.force = req->force;
  a.metadata = req->metadata;
  a.dry_run = req->dry_run;
  a.vdi_map = req->vdi_map;
  a.nvdi_map = req->nvdi_map;
  import_stream (&a);
out:
  close_host (x);
  Xva_source_free (src);
  return res->status;
}

/* ------------------------------------------------------------------ */
/* Copy                                                                 */

static void *
copy_export_main (void *arg)
{
  export_stream (arg);
  return NULL;
}

int
Xva_client_copy (const struct Xva_copy_req *req,
                 const struct Xva_client_cb *cb, struct Xva_client_result *res)
{
  struct Xva_client_result eres;
  struct export_args ea;
  struct import_args ia;
  struct Xva_sink *sink = NULL;
  struct Xva_source *src = NULL;
  struct Xva_xapi *from = NULL, *to = NULL;
  struct glue g;
  pthread_t th;
  char vref[XVA_XAPI_REF_MAX + 1], vname[XVA_XAPI_REF_MAX + 1];
  int s, started = 0;

  transfer_start (res, &g, cb);
  Xva_client_result_init (&eres);
  from = open_host (&req->from, &g, res);
  if (from == NULL)
    goto out;
  to = open_host (&req->to, &g, res);
  if (to == NULL)
    goto out;
  s = resolve_vm (from, req->uuid, NULL, req->name, vref, res->vm_uuid, vname,
                  sizeof vref, res);
  if (s != XVA_OK)
    goto out;
  if (Xva_pipe_new (&sink, &src) != XVA_OK) {
    res_fail (res, XVA_ENOMEM, "out of memory");
    goto out;
  }
  memset (&ea, 0, sizeof ea);
  side_init (&ea.s, from, &g, &req->from, NULL, 1, &eres);
  ea.vm_ref = vref;
  ea.compress = req->compress;
  ea.sink = sink;
  if (pthread_create (&th, NULL, copy_export_main, &ea) != 0) {
    res_fail (res, XVA_ENOMEM, "cannot start a thread");
    goto out;
  }
  started = 1;
  memset (&ia, 0, sizeof ia);
  side_init (&ia.s, to, &g, &req->to, NULL, 0, res);
  ia.src = src;
  ia.check = 0; /* the export side checks every byte */
  ia.sr_uuid = req->sr_uuid;
  import_stream (&ia);
  /* Unblocks the export if the upload stopped early. */
  Xva_source_free (src);
  src = NULL;
  pthread_join (th, NULL);
  started = 0;
  res->bytes = eres.bytes;
  res->checksum_kinds = eres.checksum_kinds;
  if (eres.status != XVA_OK
      && !(res->status != XVA_OK && eres.status == XVA_ECANCELLED)) {
    if (res->status == XVA_OK && res->nvm > 0)
      notice (&g,
              "the copy failed on the source side after the target "
              "imported VM %s",
              res->vm_uuids[0]);
    res->status = eres.status;
    memcpy (res->msg, eres.msg, sizeof res->msg);
    memcpy (res->code, eres.code, sizeof res->code);
  }
out:
  if (started) {
    Xva_source_free (src);
    src = NULL;
    pthread_join (th, NULL);
  }
  Xva_source_free (src);
  Xva_sink_free (sink);
  Xva_client_result_clear (&eres);
  close_host (to);
  close_host (from);
  return res->status;
}
