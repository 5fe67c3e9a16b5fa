/* Helpers of the server-state tests: a scratch store, a captured log,
 * RPC calls with params written as JSON. */
#ifndef XVA_TESTS_SRV_TEST_H
#define XVA_TESTS_SRV_TEST_H

#include <ftw.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "server/srv-priv.h"
#include "store/store.h"

#define TEST_PASSWORD "s3cret-pw"

/* ---- Scratch directory ------------------------------------------------ */

static inline void
t_tmpdir (char *buf, size_t len)
{
  const char *base = getenv ("TMPDIR");

  if (base == NULL || base[0] == '\0')
    base = "/tmp";
  snprintf (buf, len, "%s/xva-srv-XXXXXX", base);
  if (mkdtemp (buf) == NULL) {
    perror ("mkdtemp");
    exit (1);
  }
}

static inline int
t_rm_one (const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
  (void) sb;
  (void) flag;
  (void) ftw;
  return remove (path);
}

static inline void
t_rmtree (const char *path)
{
  nftw (path, t_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static inline int
t_exists (const char *path)
{
  struct stat sb;
  return lstat (path, &sb) == 0;
}

/* ---- Log capture ------------------------------------------------------ */

static pthread_mutex_t t_log_lock = PTHREAD_MUTEX_INITIALIZER;
static char t_log_buf[1 << 20];
static size_t t_log_len;

static inline void
t_log (void *opaque, const char *line)
{
  size_t n = strlen (line);

  (void) opaque;
  pthread_mutex_lock (&t_log_lock);
  if (t_log_len + n + 2 < sizeof t_log_buf) {
    memcpy (t_log_buf + t_log_len, line, n);
    t_log_len += n;
    t_log_buf[t_log_len++] = '\n';
    t_log_buf[t_log_len] = '\0';
  }
  pthread_mutex_unlock (&t_log_lock);
}

static inline int
t_log_has (const char *needle)
{
  int r;

  pthread_mutex_lock (&t_log_lock);
  r = strstr (t_log_buf, needle) != NULL;
  pthread_mutex_unlock (&t_log_lock);
  return r;
}

/* ---- Store and state -------------------------------------------------- */

struct t_env {
  char dir[256];
  struct Xva_store *store;
  struct Xva_srv *srv;
  char session[XVA_SRV_REF_MAX + 1];
};

/* A fresh initialised store and a server state over it, with a root
 * session in e->session; exits on failure. */
static inline void
t_env_open (struct t_env *e)
{
  char err[256];
  int r;

  memset (e, 0, sizeof *e);
  t_tmpdir (e->dir, sizeof e->dir);
  if (Xva_store_open (e->dir, &e->store, err, sizeof err) != XVA_OK
      || Xva_store_init (e->store, TEST_PASSWORD) != XVA_OK) {
    fprintf (stderr, "store: %s %s\n", err, Xva_store_errmsg (NULL));
    exit (1);
  }
  r = Xva_srv_new (e->store, t_log, NULL, &e->srv, err, sizeof err);
  if (r != XVA_OK) {
    fprintf (stderr, "Xva_srv_new: %s\n", err);
    exit (1);
  }
  if (Xva_session_login (e->srv, "root", NULL, 1, e->session) != XVA_OK) {
    fprintf (stderr, "login failed\n");
    exit (1);
  }
}

static inline void
t_env_close (struct t_env *e)
{
  Xva_srv_free (e->srv);
  Xva_store_close (e->store);
  t_rmtree (e->dir);
}

/* ---- Calls ------------------------------------------------------------ */

/* The error of the last t_call (an ARRAY) or NULL. */
static struct xva_value *t_last_err;

/* Param i of the last error, or "". */
static inline const char *
t_err_param (size_t i)
{
  const char *s = xva_value_string (xva_value_at (t_last_err, i));
  return s ? s : "";
}

/* Calls method with params given as a JSON array after printf
 * formatting (NULL fmt: no params array at all).  Returns the result
 * (the caller frees it) or NULL; code (64 bytes, may be NULL) gets the
 * error code, "" on success. */
static inline struct xva_value *t_call_v (struct Xva_srv *srv, int trusted,
                                          char *code, const char *method,
                                          const char *fmt, va_list ap)
  __attribute__ ((format (printf, 5, 0)));
static inline struct xva_value *
t_call_v (struct Xva_srv *srv, int trusted, char *code, const char *method,
          const char *fmt, va_list ap)
{
  char json[8192];
  struct xva_value *params = NULL, *res = NULL;
  int r;

  xva_value_free (t_last_err);
  t_last_err = NULL;
  if (code)
    code[0] = '\0';
  if (fmt) {
    vsnprintf (json, sizeof json, fmt, ap);
    if (xva_value_from_json (json, strlen (json), NULL, &params, NULL, 0)
        != XVA_OK) {
      fprintf (stderr, "bad test JSON: %s\n", json);
      exit (1);
    }
  }
  r = Xva_rpc_call (srv, method, params, trusted, &res, &t_last_err);
  xva_value_free (params);
  if (r != XVA_OK && code)
    snprintf (code, 64, "%s", t_last_err ? t_err_param (0) : "NO_ERROR_INFO");
  if (r == XVA_OK && t_last_err != NULL && code)
    snprintf (code, 64, "ERROR_INFO_ON_SUCCESS");
  return res;
}

static inline struct xva_value *t_call (struct Xva_srv *srv, char *code,
                                        const char *method, const char *fmt,
                                        ...)
  __attribute__ ((format (printf, 4, 5)));
static inline struct xva_value *
t_call (struct Xva_srv *srv, char *code, const char *method, const char *fmt,
        ...)
{
  struct xva_value *res;
  va_list ap;

  va_start (ap, fmt);
  res = t_call_v (srv, 0, code, method, fmt, ap);
  va_end (ap);
  return res;
}

static inline struct xva_value *t_call_trusted (struct Xva_srv *srv,
                                                char *code, const char *method,
                                                const char *fmt, ...)
  __attribute__ ((format (printf, 4, 5)));
static inline struct xva_value *
t_call_trusted (struct Xva_srv *srv, char *code, const char *method,
                const char *fmt, ...)
{
  struct xva_value *res;
  va_list ap;

  va_start (ap, fmt);
  res = t_call_v (srv, 1, code, method, fmt, ap);
  va_end (ap);
  return res;
}

/* A call that must succeed with a STRING; its text copied to out. */
static inline int t_call_str (struct Xva_srv *srv, char *out, size_t len,
                              const char *method, const char *fmt, ...)
  __attribute__ ((format (printf, 5, 6)));
static inline int
t_call_str (struct Xva_srv *srv, char *out, size_t len, const char *method,
            const char *fmt, ...)
{
  struct xva_value *res;
  char code[64];
  va_list ap;
  int ok;

  va_start (ap, fmt);
  res = t_call_v (srv, 0, code, method, fmt, ap);
  va_end (ap);
  ok = res != NULL && xva_value_string (res) != NULL;
  if (ok)
    snprintf (out, len, "%s", xva_value_string (res));
  else {
    fprintf (stderr, "%s failed: %s %s\n", method, code, t_err_param (1));
    out[0] = '\0';
  }
  xva_value_free (res);
  return ok ? 0 : -1;
}

/* Milliseconds of the monotonic clock. */
static inline int64_t
t_now_ms (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline void
t_sleep_ms (long ms)
{
  struct timespec ts;

  ts.tv_sec = ms / 1000;
  ts.tv_nsec = (ms % 1000) * 1000000L;
  nanosleep (&ts, NULL);
}

/* A record from a JSON object (printf formatting); exits on error. */
static inline struct xva_value *t_json (const char *fmt, ...)
  __attribute__ ((format (printf, 1, 2)));
static inline struct xva_value *
t_json (const char *fmt, ...)
{
  char json[8192];
  struct xva_value *v = NULL;
  va_list ap;

  va_start (ap, fmt);
  vsnprintf (json, sizeof json, fmt, ap);
  va_end (ap);
  if (xva_value_from_json (json, strlen (json), NULL, &v, NULL, 0) != XVA_OK) {
    fprintf (stderr, "bad test JSON: %s\n", json);
    exit (1);
  }
  return v;
}

#endif
