/* The server state: classes served, clocks, the log, new and free. */
#include "server/srv-priv.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* ---- Classes ---------------------------------------------------------- */

static const char *const pool_ints[] = { "ha_host_failures_to_tolerate",
                                         "ha_plan_exists_for",
                                         "update_sync_day", NULL };
static const char *const host_ints[] = {
  "memory_overhead", "API_version_major", "API_version_minor",
  "virtual_hardware_platform_versions", NULL
};
static const char *const sr_ints[] = { "virtual_allocation",
                                       "physical_utilisation", "physical_size",
                                       NULL };
static const char *const vdi_ints[] = { "virtual_size", "physical_utilisation",
                                        NULL };
static const char *const vbd_ints[] = { "status_code", NULL };
/* clang-format off */
static const char *const vm_ints[] = {
  "user_version", "memory_overhead", "memory_target", "memory_static_max",
  "memory_dynamic_max", "memory_dynamic_min", "memory_static_min",
  "VCPUs_max", "VCPUs_at_startup", "domid", "hardware_platform_version",
  "order", "start_delay", "shutdown_delay", "version", NULL
};
/* clang-format on */
static const char *const vif_ints[] = { "MTU", "status_code", NULL };
static const char *const network_ints[] = { "MTU", NULL };
static const char *const no_ints[] = { NULL };

static const struct Xva_cls classes[] = {
  { "pool", "pool", pool_ints }, { "host", "host", host_ints },
  { "SR", "sr", sr_ints },       { "VDI", "vdi", vdi_ints },
  { "VBD", "vbd", vbd_ints },    { "VM", "vm", vm_ints },
  { "VIF", "vif", vif_ints },    { "network", "network", network_ints },
  { "task", "task", no_ints },
};

#define NCLASSES (sizeof classes / sizeof classes[0])

const struct Xva_cls *
Xva_cls_find (const char *name)
{
  size_t i;

  if (name == NULL)
    return NULL;
  for (i = 0; i < NCLASSES; i++)
    if (strcasecmp (name, classes[i].name) == 0)
      return &classes[i];
  return NULL;
}

const struct Xva_cls *
Xva_cls_at (size_t i)
{
  return i < NCLASSES ? &classes[i] : NULL;
}

size_t
Xva_cls_count (void)
{
  return NCLASSES;
}

/* An INT for a STRING holding an integer; a copy otherwise.  Arrays
 * (int sets) are converted item by item. */
static struct xva_value *
to_int (const struct xva_value *v)
{
  struct xva_value *a;
  int64_t i;
  size_t k;

  if (xva_value_type (v) == XVA_TYPE_STRING && xva_value_get_int (v, &i) == 0)
    return xva_value_new_int (i);
  if (xva_value_type (v) != XVA_TYPE_ARRAY)
    return xva_value_copy (v);
  a = xva_value_new_array ();
  for (k = 0; a != NULL && k < xva_value_len (v); k++)
    if (xva_value_append (a, to_int (xva_value_at (v, k))) < 0) {
      xva_value_free (a);
      a = NULL;
    }
  return a;
}

struct xva_value *
Xva_rec_export (const struct Xva_cls *cls, const struct xva_value *rec)
{
  struct xva_value *out, *v;
  double d;
  size_t i;

  out = xva_value_copy (rec);
  if (out == NULL || cls == NULL || xva_value_type (out) != XVA_TYPE_STRUCT)
    return out;
  for (i = 0; cls->ints[i] != NULL; i++) {
    v = xva_value_get (out, cls->ints[i]);
    if (v == NULL
        || (xva_value_type (v) != XVA_TYPE_STRING
            && xva_value_type (v) != XVA_TYPE_ARRAY))
      continue;
    if (xva_value_set (out, cls->ints[i], to_int (v)) < 0)
      goto nomem;
  }
  /* A task's progress is a float on the wire. */
  if (strcmp (cls->name, "task") == 0) {
    v = xva_value_get (out, "progress");
    if (v != NULL && xva_value_type (v) != XVA_TYPE_DOUBLE
        && xva_value_get_double (v, &d) == 0
        && xva_value_set (out, "progress", xva_value_new_double (d)) < 0)
      goto nomem;
  }
  /* Clients index other_config of every record (the xen-api npm client
   * fails on a pool without one). */
  if (xva_value_get (out, "other_config") == NULL
      && xva_value_set (out, "other_config", xva_value_new_struct ()) < 0)
    goto nomem;
  return out;

nomem:
  xva_value_free (out);
  return NULL;
}

/* ---- Clocks and text -------------------------------------------------- */

int64_t
Xva_srv_mono_ms (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
Xva_srv_date_now (char *out, size_t len)
{
  time_t now = time (NULL);
  struct tm tm;

  if (len == 0)
    return;
  if (gmtime_r (&now, &tm) == NULL
      || strftime (out, len, "%Y%m%dT%H:%M:%SZ", &tm) == 0)
    snprintf (out, len, "19700101T00:00:00Z");
}

/* Bytes of the valid UTF-8 sequence at p (1 to 4), or 0 when p does
 * not start one (RFC 3629: no overlong forms, no surrogates, nothing
 * past U+10FFFF). */
static size_t
utf8_len (const unsigned char *p)
{
  size_t n, i;
  unsigned char lo = 0x80, hi = 0xbf;

  if (p[0] < 0x80)
    return 1;
  if (p[0] >= 0xc2 && p[0] <= 0xdf)
    n = 2;
  else if (p[0] >= 0xe0 && p[0] <= 0xef) {
    n = 3;
    if (p[0] == 0xe0)
      lo = 0xa0;
    else if (p[0] == 0xed)
      hi = 0x9f;
  }
  else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
    n = 4;
    if (p[0] == 0xf0)
      lo = 0x90;
    else if (p[0] == 0xf4)
      hi = 0x8f;
  }
  else
    return 0;
  for (i = 1; i < n; i++) {
    if (p[i] < lo || p[i] > hi)
      return 0; /* also stops at the NUL */
    lo = 0x80;
    hi = 0xbf;
  }
  return n;
}

int
Xva_srv_text_ok (const char *s)
{
  const unsigned char *p = (const unsigned char *) s;
  size_t n;

  while (*p != '\0') {
    n = utf8_len (p);
    if (n == 0 || (n == 1 && (*p < 0x20 || *p == 0x7f)))
      return 0;
    p += n;
  }
  return 1;
}

void
Xva_srv_clean (char *out, size_t len, const char *s)
{
  const unsigned char *p = (const unsigned char *) s;
  size_t i = 0, n;

  if (len == 0)
    return;
  while (p != NULL && *p != '\0' && i + 1 < len) {
    n = utf8_len (p);
    if (n == 0 || (n == 1 && (*p < 0x20 || *p == 0x7f))) {
      out[i++] = '?';
      p++;
      continue;
    }
    if (i + n >= len)
      break; /* no half characters */
    memcpy (out + i, p, n);
    i += n;
    p += n;
  }
  out[i] = '\0';
}

/* ---- Log -------------------------------------------------------------- */

void
Xva_srv_logf (struct Xva_srv *srv, const char *fmt, ...)
{
  char line[XVA_SRV_LOG_LINE_MAX];
  va_list ap;

  if (srv == NULL || srv->log == NULL)
    return;
  va_start (ap, fmt);
  vsnprintf (line, sizeof line, fmt, ap);
  va_end (ap);
  srv->log (srv->log_opaque, line);
}

/* ---- State ------------------------------------------------------------ */

enum {
  INIT_SLOCK = 1,
  INIT_TLOCK = 2,
  INIT_TCOND = 4,
  INIT_ELOCK = 8,
  INIT_ECOND = 16,
};

static void
destroy_sync (struct Xva_srv *srv, unsigned inited)
{
  if (inited & INIT_SLOCK)
    pthread_mutex_destroy (&srv->slock);
  if (inited & INIT_TLOCK)
    pthread_mutex_destroy (&srv->tlock);
  if (inited & INIT_TCOND)
    pthread_cond_destroy (&srv->tcond);
  if (inited & INIT_ELOCK)
    pthread_mutex_destroy (&srv->elock);
  if (inited & INIT_ECOND)
    pthread_cond_destroy (&srv->econd);
}

static int
init_sync (struct Xva_srv *srv, unsigned *inited)
{
  pthread_condattr_t ca;
  int r = -1;

  *inited = 0;
  if (pthread_mutex_init (&srv->slock, NULL) != 0)
    return -1;
  *inited |= INIT_SLOCK;
  if (pthread_mutex_init (&srv->tlock, NULL) != 0)
    return -1;
  *inited |= INIT_TLOCK;
  if (pthread_cond_init (&srv->tcond, NULL) != 0)
    return -1;
  *inited |= INIT_TCOND;
  if (pthread_mutex_init (&srv->elock, NULL) != 0)
    return -1;
  *inited |= INIT_ELOCK;
  if (pthread_condattr_init (&ca) != 0)
    return -1;
  if (pthread_condattr_setclock (&ca, CLOCK_MONOTONIC) == 0
      && pthread_cond_init (&srv->econd, &ca) == 0) {
    *inited |= INIT_ECOND;
    r = 0;
  }
  pthread_condattr_destroy (&ca);
  return r;
}

int
Xva_srv_new (struct Xva_store *s, Xva_srv_log_fn log, void *opaque,
             struct Xva_srv **out, char *err, size_t errlen)
{
  struct Xva_srv *srv;
  unsigned inited = 0;
  int r;

  if (err && errlen)
    err[0] = '\0';
  if (out)
    *out = NULL;
  if (s == NULL || out == NULL) {
    if (err)
      snprintf (err, errlen, "Xva_srv_new: no store");
    return XVA_EINVAL;
  }
  srv = calloc (1, sizeof *srv);
  if (srv == NULL)
    goto nomem;
  srv->store = s;
  srv->log = log;
  srv->log_opaque = opaque;
  srv->keep = XVA_SRV_TASKS_KEPT;
  srv->next_id = 1;
  srv->ring = calloc (XVA_SRV_EVENTS_MAX, sizeof *srv->ring);
  if (srv->ring == NULL || init_sync (srv, &inited) < 0)
    goto nomem;
  r = Xva_task_startup (srv, err, errlen);
  if (r < 0) {
    Xva_task_shutdown (srv);
    destroy_sync (srv, inited);
    free (srv->ring);
    free (srv);
    return r;
  }
  *out = srv;
  return XVA_OK;

nomem:
  if (srv) {
    destroy_sync (srv, inited);
    free (srv->ring);
    free (srv);
  }
  if (err)
    snprintf (err, errlen, "Xva_srv_new: out of memory");
  return XVA_ENOMEM;
}

void
Xva_srv_close_polls (struct Xva_srv *srv)
{
  if (srv == NULL)
    return;
  pthread_mutex_lock (&srv->elock);
  srv->closing = 1;
  pthread_cond_broadcast (&srv->econd);
  pthread_mutex_unlock (&srv->elock);
}

void
Xva_srv_free (struct Xva_srv *srv)
{
  if (srv == NULL)
    return;
  /* Long polls return at once; running calls are waited for. */
  Xva_srv_close_polls (srv);
  pthread_mutex_lock (&srv->elock);
  while (srv->active > 0)
    pthread_cond_wait (&srv->econd, &srv->elock);
  pthread_mutex_unlock (&srv->elock);
  Xva_task_shutdown (srv);
  Xva_event_free_all (srv);
  destroy_sync (srv, INIT_SLOCK | INIT_TLOCK | INIT_TCOND | INIT_ELOCK
                       | INIT_ECOND);
  memset (srv->sessions, 0, sizeof srv->sessions);
  free (srv->ring);
  free (srv);
}

struct Xva_store *
Xva_srv_store (struct Xva_srv *srv)
{
  return srv ? srv->store : NULL;
}

void
Xva_srv_test_skew (struct Xva_srv *srv, int64_t ms)
{
  pthread_mutex_lock (&srv->slock);
  srv->skew_ms += ms;
  pthread_mutex_unlock (&srv->slock);
}

void
Xva_srv_test_keep (struct Xva_srv *srv, size_t keep)
{
  pthread_mutex_lock (&srv->tlock);
  srv->keep = keep;
  pthread_mutex_unlock (&srv->tlock);
  Xva_task_trim (srv);
}
