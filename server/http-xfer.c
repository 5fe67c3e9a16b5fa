/* The transfer handlers of `xva serve`: GET /export and
 * /export_metadata stream an archive out of the export core through
 * libmicrohttpd's content reader; PUT /import and /import_metadata push
 * the request body, as it arrives, into the import core.  Tasks and
 * cancellation live here too. */
#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>

#include "server/http-priv.h"

/* ------------------------------------------------------------------ */
/* Common                                                              */

/* error_info [code, a, b] (b may be NULL). */
static struct xva_value *
error_info3 (const char *code, const char *a, const char *b)
{
  struct xva_value *v = xva_value_new_array ();

  if (v == NULL)
    return NULL;
  if (xva_value_append (v, xva_value_new_string (code)) < 0
      || (a != NULL && xva_value_append (v, xva_value_new_string (a)) < 0)
      || (b != NULL && xva_value_append (v, xva_value_new_string (b)) < 0)) {
    xva_value_free (v);
    return NULL;
  }
  return v;
}

/* Fails the task with [code, a, b] and answers status with the code. */
static enum MHD_Result
fail_early (struct Xva_http_req *r, unsigned status, const char *code,
            const char *a, const char *b, const char *msg)
{
  struct xva_value *ei = error_info3 (code, a, b);

  if (ei != NULL)
    Xva_http_task_fail (r, ei);
  else
    Xva_http_task_fail_code (r, code, a);
  xva_value_free (ei);
  Xva_http_logf (r->sv, "%s %s: %s%s%s", r->method, r->target, code,
                 msg != NULL ? ": " : "", msg != NULL ? msg : "");
  return Xva_http_respond_text (r, status, "%s%s%s", code,
                                a != NULL ? " " : "", a != NULL ? a : "");
}

static int
is_cancelled (struct Xva_http_req *r)
{
  int c;

  pthread_mutex_lock (&r->mu);
  c = r->cancel;
  pthread_mutex_unlock (&r->mu);
  return c;
}

void
Xva_http_cancel_cb (void *opaque)
{
  struct Xva_http_req *r = opaque;

  pthread_mutex_lock (&r->mu);
  r->cancel = 1;
  if (r->im != NULL)
    Xva_import_cancel (r->im);
  if (r->fd >= 0)
    shutdown (r->fd, SHUT_RDWR);
  pthread_mutex_unlock (&r->mu);
}

/* 1 when the caller named the task (task_id in the query or a
 * cookie): it learns the outcome from the task. */
static int
task_named (struct Xva_http_req *r)
{
  const char *id = Xva_http_arg (r, "task_id");

  if (id == NULL)
    id = MHD_lookup_connection_value (r->conn, MHD_COOKIE_KIND, "task_id");
  return id != NULL && id[0] != '\0';
}

/* ------------------------------------------------------------------ */
/* An answer ahead of the body                                         */

/* The xen-api npm client sends a body of unknown size with the fake
 * length XVA_HTTP_FAKE_LENGTH and waits for the response headers before
 * it closes the connection after its last byte (xapi answers 200 and
 * task-id before it reads an import's body).  libmicrohttpd queues a
 * response only before the body (and then drops the body) or after all
 * of it, which a fake length never reaches.  So such an import is
 * answered by writing the response on the connection itself as soon as
 * its outcome is known: at the archive's end marker, or at a failure;
 * the task carries the outcome.  Not earlier: a client that closes
 * without reading the answer would make its kernel reset the
 * connection, and bytes of the archive still in flight would be lost. */

#define EARLY_WRITE_S 10.0 /* to write the answer */
/* GnuTLS's "try again" codes (gnutls/gnutls.h). */
#define TLS_E_AGAIN (-28)
#define TLS_E_INTERRUPTED (-52)

typedef ssize_t (*tls_send_fn) (void *session, const void *buf, size_t n);

/* 1 when the request declares the fake length, in one piece (no
 * chunks) and without waiting for "100 Continue". */
static int
fake_length (struct Xva_http_req *r)
{
  unsigned long long n;

  if (MHD_lookup_connection_value (r->conn, MHD_HEADER_KIND,
                                   MHD_HTTP_HEADER_TRANSFER_ENCODING)
        != NULL
      || MHD_lookup_connection_value (r->conn, MHD_HEADER_KIND,
                                      MHD_HTTP_HEADER_EXPECT)
           != NULL)
    return 0;
  return Xva_http_content_length (r, &n) && n == XVA_HTTP_FAKE_LENGTH;
}

/* Waits until fd takes bytes, up to the deadline.  0 or -1. */
static int
wait_writable (int fd, double deadline)
{
  struct pollfd p;
  double left = deadline - Xva_http_now ();

  if (left <= 0)
    return -1;
  p.fd = fd;
  p.events = POLLOUT;
  p.revents = 0;
  if (poll (&p, 1, (int) (left * 1000.0) + 1) < 0 && errno != EINTR)
    return -1;
  return 0;
}

/* Writes buf[0..len) on the request's connection, through TLS on a TLS
 * listener.  Runs on the connection's thread, which libmicrohttpd
 * drives, so nothing else writes meanwhile.  0 or -1. */
static int
conn_write (struct Xva_http_req *r, const char *buf, size_t len)
{
  const union MHD_ConnectionInfo *ci;
  union {
    void *p;
    tls_send_fn fn;
  } tls;
  void *session = NULL;
  double deadline = Xva_http_now () + EARLY_WRITE_S;
  size_t done = 0;
  ssize_t n;
  int again;

  tls.p = NULL;
  if (r->fd < 0)
    return -1;
  if (r->l->tls) {
    /* libmicrohttpd's TLS is GnuTLS, already in the process: its send
     * function is looked up there rather than linked. */
    ci = MHD_get_connection_info (r->conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    session = ci != NULL ? ci->tls_session : NULL;
    tls.p = dlsym (RTLD_DEFAULT, "gnutls_record_send");
    if (session == NULL || tls.p == NULL)
      return -1;
  }
  while (done < len) {
    if (tls.p != NULL) {
      n = tls.fn (session, buf + done, len - done);
      again = n == TLS_E_AGAIN || n == TLS_E_INTERRUPTED;
    }
    else {
      n = send (r->fd, buf + done, len - done, MSG_NOSIGNAL);
      again = n < 0
              && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR);
    }
    if (n > 0)
      done += (size_t) n;
    else if (!again || wait_writable (r->fd, deadline) < 0)
      return -1;
  }
  return 0;
}

/* Once the outcome of a fake-length import is known: answers 200 with
 * the task-id on the connection, ahead of the body's declared end.
 * From then on nothing is queued through libmicrohttpd.  The answer
 * has no length: its (empty) body ends when the connection does, as
 * xapi's does.  A complete answer would make Node.js's HTTP client let
 * go of the connection and stall the rest of its upload. */
static void
early_respond (struct Xva_http_req *r)
{
  char head[512 + XVA_HTTP_REF_MAX], date[64];
  time_t now = time (NULL);
  struct tm tm;
  int n;

  if (gmtime_r (&now, &tm) == NULL
      || strftime (date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm) == 0)
    date[0] = '\0';
  n = snprintf (head, sizeof head,
                "HTTP/1.1 200 OK\r\n"
                "%s%s%s"
                "task-id: %s\r\n"
                "Cache-Control: no-cache, no-store\r\n"
                "Connection: close\r\n"
                "\r\n",
                date[0] ? "Date: " : "", date, date[0] ? "\r\n" : "", r->task);
  if (r->early || !fake_length (r) || n < 0 || (size_t) n >= sizeof head)
    return;
  r->early = 1;
  r->status = MHD_HTTP_OK;
  if (conn_write (r, head, (size_t) n) < 0)
    Xva_http_logf (r->sv,
                   "%s %s: the answer ahead of the body could not "
                   "be written",
                   r->method, r->target);
  else
    r->bytes_out += (uint64_t) n;
}

/* ------------------------------------------------------------------ */
/* Export                                                              */

static int
arg_bool (struct Xva_http_req *r, const char *key, int dflt)
{
  const char *v = Xva_http_arg (r, key);

  if (v == NULL || v[0] == '\0')
    return dflt;
  if (strcasecmp (v, "true") == 0 || strcmp (v, "1") == 0
      || strcasecmp (v, "yes") == 0 || strcasecmp (v, "on") == 0)
    return 1;
  if (strcasecmp (v, "false") == 0 || strcmp (v, "0") == 0
      || strcasecmp (v, "no") == 0 || strcasecmp (v, "off") == 0)
    return 0;
  return dflt;
}

static unsigned
parse_excluded (const char *s)
{
  unsigned bits = 0;

  while (s != NULL && *s != '\0') {
    size_t n = strcspn (s, ",");

    if (n == 3 && strncasecmp (s, "vif", 3) == 0)
      bits |= XVA_EXCLUDE_VIF;
    else if (n == 3 && strncasecmp (s, "vbd", 3) == 0)
      bits |= XVA_EXCLUDE_VBD;
    else if (n == 4 && strncasecmp (s, "vgpu", 4) == 0)
      bits |= XVA_EXCLUDE_VGPU;
    else if (n == 4 && strncasecmp (s, "vtpm", 4) == 0)
      bits |= XVA_EXCLUDE_VTPM;
    s += n;
    if (*s == ',')
      s++;
  }
  return bits;
}

/* Fills MHD's buffer from the writer's pieces: a whole buffer (fewer,
 * larger sends), or what there is after a second, so that a slow
 * producer (compressing, keep-alives) still gets bytes to the client
 * often. */
static ssize_t
export_reader (void *cls, uint64_t pos, char *buf, size_t max)
{
  struct Xva_http_req *r = cls;
  struct xva_progress p;
  double t0 = Xva_http_now ();
  size_t n = 0;

  (void) pos;
  if (r->w_status < 0)
    return MHD_CONTENT_READER_END_WITH_ERROR;
  while (n < max) {
    size_t k;

    if (Xva_http_cancelled (r)) {
      pthread_mutex_lock (&r->mu);
      r->cancel = 1;
      pthread_mutex_unlock (&r->mu);
      return MHD_CONTENT_READER_END_WITH_ERROR;
    }
    if (r->npend == 0) {
      const void *piece;
      size_t len;
      int s;

      if (r->w_eof)
        break;
      s = xva_writer_next (r->w, &piece, &len);
      if (s == XVA_EOF) {
        r->w_eof = 1;
        break;
      }
      if (s < 0) {
        r->w_status = s;
        Xva_http_logf (r->sv, "export failed: %s", xva_writer_errmsg (r->w));
        return MHD_CONTENT_READER_END_WITH_ERROR;
      }
      r->pend = piece;
      r->npend = len;
    }
    k = r->npend < max - n ? r->npend : max - n;
    memcpy (buf + n, r->pend, k);
    n += k;
    r->pend += k;
    r->npend -= k;
    if (Xva_http_now () - t0 > 1.0)
      break;
  }
  xva_writer_progress (r->w, &p);
  Xva_http_task_progress (r, p.done, p.total);
  if (n == 0 && r->w_eof) {
    /* Every byte was handed over; the end marker is among them. */
    Xva_http_task_succeed (r, "");
    return MHD_CONTENT_READER_END_OF_STREAM;
  }
  r->bytes_out += n;
  return (ssize_t) n;
}

enum MHD_Result
Xva_http_export_begin (struct Xva_http_req *r)
{
  struct Xva_export_opts o;
  struct MHD_Response *resp;
  char vm[XVA_HTTP_REF_MAX + 1], err[512], disp[512];
  const char *ref = Xva_http_arg (r, "ref");
  const char *uuid = Xva_http_arg (r, "uuid");
  const char *comp;
  int s, meta = r->route == XVA_ROUTE_EXPORT_METADATA;

  Xva_export_opts_init (&o);
  o.metadata_only = meta;
  vm[0] = '\0';
  if (meta) {
    o.all = arg_bool (r, "all", 0);
    o.include_vhd_parents = arg_bool (r, "include_vhd_parents", 0);
    o.export_snapshots = arg_bool (r, "export_snapshots", 1);
    o.excluded = parse_excluded (Xva_http_arg (r, "excluded_device_types"));
    o.preserve_power_state = 1;
  }
  else {
    o.preserve_power_state = arg_bool (r, "preserve_power_state", 0);
    comp = Xva_http_arg (r, "use_compression");
    if (comp != NULL
        && (strcmp (comp, "true") == 0 || strcmp (comp, "gzip") == 0))
      o.w.compress = XVA_COMPRESS_GZIP;
    else if (comp != NULL && strcmp (comp, "zstd") == 0)
      o.w.compress = XVA_COMPRESS_ZSTD;
  }
  if (!o.all) {
    if (ref != NULL && ref[0] != '\0') {
      if (strlen (ref) > XVA_HTTP_REF_MAX)
        return fail_early (r, MHD_HTTP_NOT_FOUND, "HANDLE_INVALID", "VM",
                           "(too long)", NULL);
      if (!Xva_srv_text_ok (ref))
        return fail_early (r, MHD_HTTP_NOT_FOUND, "HANDLE_INVALID", "VM",
                           "(not text)", NULL);
      snprintf (vm, sizeof vm, "%s", ref);
    }
    else if (uuid != NULL && uuid[0] != '\0') {
      if (strlen (uuid) > XVA_STORE_UUID_MAX
          || Xva_store_find_uuid (r->sv->store, NULL, "VM", uuid, vm, NULL)
               != XVA_OK)
        return fail_early (r, MHD_HTTP_NOT_FOUND, "UUID_INVALID", "VM", uuid,
                           NULL);
    }
    else
      return fail_early (r, MHD_HTTP_BAD_REQUEST, "HANDLE_INVALID", "VM",
                         "OpaqueRef:NULL", "neither ref nor uuid given");
  }
  err[0] = '\0';
  s = Xva_export_new (r->sv->store, o.all ? NULL : vm, &o, &r->ex, err,
                      sizeof err);
  if (s == XVA_ENOTFOUND)
    return fail_early (r, MHD_HTTP_NOT_FOUND, "HANDLE_INVALID", "VM", vm, err);
  if (s == XVA_ESTATE)
    return fail_early (r, MHD_HTTP_CONFLICT, "VM_BAD_POWER_STATE", vm, NULL,
                       err);
  if (s != XVA_OK) {
    r->ex = NULL;
    return fail_early (r, MHD_HTTP_INTERNAL_SERVER_ERROR,
                       s == XVA_EIO ? "VDI_IO_ERROR" : "INTERNAL_ERROR", err,
                       NULL, NULL);
  }
  r->w = Xva_export_writer (r->ex);
  resp = MHD_create_response_from_callback (MHD_SIZE_UNKNOWN, XVA_HTTP_BLOCK,
                                            export_reader, r, NULL);
  if (resp == NULL)
    return MHD_NO;
  snprintf (disp, sizeof disp, "attachment; filename=\"%s\"",
            Xva_export_filename (r->ex));
  if (MHD_add_response_header (resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                               "application/octet-stream")
        != MHD_YES
      || MHD_add_response_header (resp, MHD_HTTP_HEADER_CONTENT_DISPOSITION,
                                  disp)
           != MHD_YES
      || Xva_http_add_common_headers (r, resp) < 0) {
    MHD_destroy_response (resp);
    return MHD_NO;
  }
  Xva_http_task_progress (r, 0, 1);
  return Xva_http_queue (r, MHD_HTTP_OK, resp);
}

static void
export_done (struct Xva_http_req *r, enum MHD_RequestTerminationCode toe)
{
  if (r->task_open) {
    if (is_cancelled (r))
      Xva_http_task_cancelled (r);
    else if (r->w_status < 0)
      Xva_http_task_fail_code (r,
                               r->w_status == XVA_EIO ? "VDI_IO_ERROR"
                                                      : "INTERNAL_ERROR",
                               xva_writer_errmsg (r->w));
    else if (toe == MHD_REQUEST_TERMINATED_DAEMON_SHUTDOWN)
      Xva_http_task_fail_code (r, "INTERNAL_ERROR", "server stopping");
    else
      Xva_http_task_fail_code (r, "CLIENT_ERROR", "the client went away");
  }
  Xva_export_free (r->ex);
  r->ex = NULL;
  r->w = NULL;
}

/* ------------------------------------------------------------------ */
/* Import                                                              */

static enum MHD_Result
collect_vdi_map (void *cls, enum MHD_ValueKind kind, const char *key,
                 const char *value)
{
  struct Xva_http_req *r = cls;
  struct Xva_vdi_map *m;
  char **str;

  (void) kind;
  if (key == NULL || strncmp (key, "vdi:", 4) != 0)
    return MHD_YES;
  if (r->nvmap >= XVA_HTTP_MAX_VDI_MAP) {
    r->vmap_over = 1;
    return MHD_NO;
  }
  m = realloc (r->vmap, (r->nvmap + 1) * sizeof *m);
  if (m == NULL)
    return MHD_NO;
  r->vmap = m;
  str = realloc (r->vmap_str, (r->nvmap + 1) * 2 * sizeof *str);
  if (str == NULL)
    return MHD_NO;
  r->vmap_str = str;
  str[2 * r->nvmap] = strdup (key + 4);
  str[2 * r->nvmap + 1] = strdup (value != NULL ? value : "");
  if (str[2 * r->nvmap] == NULL || str[2 * r->nvmap + 1] == NULL) {
    free (str[2 * r->nvmap]);
    free (str[2 * r->nvmap + 1]);
    return MHD_NO;
  }
  m[r->nvmap].from = str[2 * r->nvmap];
  m[r->nvmap].to = str[2 * r->nvmap + 1];
  r->nvmap++;
  return MHD_YES;
}

static void
free_vdi_map (struct Xva_http_req *r)
{
  size_t i;

  for (i = 0; i < 2 * r->nvmap; i++)
    free (r->vmap_str[i]);
  free (r->vmap_str);
  free (r->vmap);
  r->vmap_str = NULL;
  r->vmap = NULL;
  r->nvmap = 0;
}

/* Takes the importer out of r (so that the cancel callback no longer
 * sees it). */
static struct Xva_import *
take_import (struct Xva_http_req *r)
{
  struct Xva_import *im;

  pthread_mutex_lock (&r->mu);
  im = r->im;
  r->im = NULL;
  pthread_mutex_unlock (&r->mu);
  return im;
}

/* The import failed (im's error), was cancelled, or is abandoned with
 * [code, why]: everything of it is removed first, then the task is
 * completed, so that whoever watches the task finds nothing left. */
static void
import_failed (struct Xva_http_req *r, const char *code, const char *why)
{
  struct Xva_import *im = take_import (r);
  struct xva_value *ei = NULL;
  const char *c;
  int cancelled = is_cancelled (r)
                  || (r->task_open
                      && Xva_task_cancel_requested (r->sv->srv, r->task));

  if (im != NULL && code == NULL && Xva_import_error (im) != NULL) {
    ei = xva_value_copy (Xva_import_error (im));
    r->fail_status = (unsigned) Xva_import_http_status (im);
    Xva_http_logf (r->sv, "import failed: %s", Xva_import_errmsg (im));
  }
  if (ei == NULL) {
    ei = error_info3 (code != NULL ? code : "IMPORT_ERROR", why, NULL);
    if (r->fail_status == 0)
      r->fail_status = MHD_HTTP_INTERNAL_SERVER_ERROR;
    Xva_http_logf (r->sv, "import abandoned: %s%s%s",
                   code != NULL ? code : "IMPORT_ERROR",
                   why != NULL ? ": " : "", why != NULL ? why : "");
  }
  if (r->fail_status < 400 || r->fail_status > 599)
    r->fail_status = MHD_HTTP_INTERNAL_SERVER_ERROR;
  c = ei != NULL ? xva_value_string (xva_value_at (ei, 0)) : NULL;
  snprintf (r->fail_code, sizeof r->fail_code, "%s",
            c != NULL ? c : "IMPORT_ERROR");
  Xva_import_free (im);
  if (cancelled)
    Xva_http_task_cancelled (r);
  else if (r->defer_fail && ei != NULL && r->deferred_ei == NULL) {
    r->deferred_ei = ei; /* told by import_done */
    ei = NULL;
  }
  else
    Xva_http_task_fail (r, ei);
  xva_value_free (ei);
  r->outcome = -1;
  r->istate = XVA_IMPORT_DRAINING;
}

/* End of the archive or of the input: commit, or fail. */
static void
import_finish (struct Xva_http_req *r)
{
  struct Xva_event_snap *before = NULL;
  struct xva_value *refs = NULL;
  char *xml = NULL;
  size_t len = 0;
  uint64_t mism;
  int s;

  /* What the commit adds (and, for restore, removes) becomes events,
   * sent before the task completes: a client that watches both finds
   * the new VM as soon as it sees the task succeed. */
  s = Xva_event_snap_take (r->sv->srv, &before);
  if (s < 0)
    Xva_http_logf (r->sv, "import: no events for this import: %s",
                   xva_strerror (s));
  s = Xva_import_finish (r->im, &refs);
  if (s != XVA_OK) {
    Xva_event_snap_free (before);
    import_failed (r, NULL, NULL);
    return;
  }
  Xva_event_snap_emit (r->sv->srv, before);
  mism = Xva_import_mismatches (r->im);
  if (refs == NULL)
    refs = xva_value_new_array ();
  if (refs == NULL || xva_value_to_xml (refs, &xml, &len) != XVA_OK) {
    /* Committed: the VM exists.  Only the result text is missing. */
    xml = NULL;
  }
  Xva_import_free (take_import (r));
  if (mism != 0)
    Xva_http_logf (r->sv,
                   "import kept %" PRIu64
                   " checksum mismatches "
                   "(force)",
                   mism);
  Xva_http_task_succeed (r, xml != NULL ? xml : "");
  free (xml);
  xva_value_free (refs);
  r->outcome = 1;
  r->istate = XVA_IMPORT_DRAINING;
}

enum MHD_Result
Xva_http_import_begin (struct Xva_http_req *r)
{
  struct Xva_import_opts o;
  struct Xva_import *im = NULL;
  char sr[XVA_HTTP_REF_MAX + 1], staging[XVA_STORE_UUID_LEN + 1];
  char err[512];
  const char *sr_id = Xva_http_arg (r, "sr_id");
  const char *sr_uuid = Xva_http_arg (r, "sr_uuid");
  int s;

  memset (&o, 0, sizeof o);
  o.restore = Xva_http_arg_true (r, "restore");
  o.force = Xva_http_arg_true (r, "force");
  o.metadata_only = r->route == XVA_ROUTE_IMPORT_METADATA;
  if (o.metadata_only) {
    o.dry_run = Xva_http_arg_true (r, "dry_run");
    MHD_get_connection_values (r->conn, MHD_GET_ARGUMENT_KIND, collect_vdi_map,
                               r);
    if (r->vmap_over)
      return fail_early (r, MHD_HTTP_BAD_REQUEST, "IMPORT_ERROR",
                         "too many vdi: parameters", NULL, NULL);
    o.vdi_map = r->vmap;
    o.nvdi_map = r->nvmap;
  }
  if (sr_id != NULL && sr_id[0] != '\0') {
    if (strlen (sr_id) > XVA_HTTP_REF_MAX)
      return fail_early (r, MHD_HTTP_NOT_FOUND, "HANDLE_INVALID", "SR",
                         "(too long)", NULL);
    o.sr_ref = sr_id;
  }
  else if (sr_uuid != NULL && sr_uuid[0] != '\0') {
    if (strlen (sr_uuid) > XVA_STORE_UUID_MAX
        || Xva_store_find_uuid (r->sv->store, NULL, "SR", sr_uuid, sr, NULL)
             != XVA_OK)
      return fail_early (r, MHD_HTTP_NOT_FOUND, "UUID_INVALID", "SR", sr_uuid,
                         NULL);
    o.sr_ref = sr;
  }
  /* The staging directory is named by the uuid in the task's ref. */
  if (strncmp (r->task, "OpaqueRef:", 10) == 0
      && Xva_store_uuid_valid (r->task + 10))
    snprintf (staging, sizeof staging, "%s", r->task + 10);
  else if (Xva_store_new_uuid (staging) != XVA_OK)
    return fail_early (r, MHD_HTTP_INTERNAL_SERVER_ERROR, "INTERNAL_ERROR",
                       "cannot make a uuid", NULL, NULL);
  o.task_uuid = staging;
  err[0] = '\0';
  s = Xva_import_new (r->sv->store, &o, &im, err, sizeof err);
  if (s != XVA_OK) {
    if (im != NULL && Xva_import_error (im) != NULL) {
      pthread_mutex_lock (&r->mu);
      r->im = im;
      pthread_mutex_unlock (&r->mu);
      import_failed (r, NULL, NULL);
      return Xva_http_respond_text (r, r->fail_status, "%s", r->fail_code);
    }
    Xva_import_free (im);
    if (s == XVA_ENOTFOUND && o.sr_ref == NULL)
      return fail_early (r, MHD_HTTP_NOT_FOUND, "DEFAULT_SR_NOT_FOUND", NULL,
                         NULL, err);
    if (s == XVA_ENOTFOUND)
      return fail_early (r, MHD_HTTP_NOT_FOUND, "HANDLE_INVALID", "SR",
                         o.sr_ref, err);
    return fail_early (r, MHD_HTTP_INTERNAL_SERVER_ERROR, "IMPORT_ERROR", err,
                       NULL, NULL);
  }
  pthread_mutex_lock (&r->mu);
  r->im = im;
  pthread_mutex_unlock (&r->mu);
  r->istate = XVA_IMPORT_FEEDING;
  if (is_cancelled (r))
    Xva_import_cancel (im);
  /* No response yet: MHD answers "100 Continue" and the body comes. */
  return MHD_YES;
}

/* The response once the whole body is in.  A failure's status tells
 * it, except to a caller that named the task: it learns the outcome
 * from the task, and a failure status would hide that (the xen-api npm
 * client rejects on the status alone, as xapi always answers 200). */
static enum MHD_Result
import_respond (struct Xva_http_req *r)
{
  if (r->early)
    return MHD_NO; /* answered already */
  if (r->outcome > 0 || task_named (r))
    return Xva_http_respond (r, MHD_HTTP_OK, NULL, "", 0);
  return Xva_http_respond_text (
    r, r->fail_status != 0 ? r->fail_status : MHD_HTTP_INTERNAL_SERVER_ERROR,
    "%s", r->fail_code[0] != '\0' ? r->fail_code : "IMPORT_ERROR");
}

enum MHD_Result
Xva_http_import_data (struct Xva_http_req *r, const char *data, size_t *size)
{
  struct xva_progress p;
  struct xva_in in;
  int s;

  if (*size == 0) {
    /* The whole body is in. */
    if (r->istate == XVA_IMPORT_FEEDING) {
      if (Xva_http_cancelled (r)) {
        import_failed (r, "TASK_CANCELLED", NULL);
        return MHD_NO;
      }
      import_finish (r);
    }
    return import_respond (r);
  }
  r->bytes_in += *size;
  if (r->istate == XVA_IMPORT_DRAINING) {
    r->drained += *size;
    *size = 0;
    if (r->outcome < 0 && is_cancelled (r))
      return MHD_NO;
    return r->drained > XVA_HTTP_DRAIN_MAX ? MHD_NO : MHD_YES;
  }
  if (Xva_http_cancelled (r)) {
    import_failed (r, "TASK_CANCELLED", NULL);
    *size = 0;
    return MHD_NO; /* stop now: close the connection */
  }
  in.src = data;
  in.size = *size;
  in.pos = 0;
  s = Xva_import_feed (r->im, &in);
  *size = 0;
  if (s == XVA_OK) {
    Xva_import_progress (r->im, &p);
    Xva_http_task_progress (r, p.done, p.total);
    return MHD_YES;
  }
  if (s == XVA_EOF) {
    /* The archive ended; what follows is not part of it. */
    r->drained += in.size - in.pos;
    import_finish (r);
    early_respond (r);
    return MHD_YES;
  }
  /* A fake-length body goes on after a failure until the client has
   * sent all of it and closes: the task fails then (import_done), so
   * that a client that learns the outcome from the task does not learn
   * it while its upload still runs (the xen-api npm client would find
   * no one to catch the rejection). */
  r->defer_fail = fake_length (r);
  import_failed (r, NULL, NULL);
  if (is_cancelled (r))
    return MHD_NO;
  early_respond (r);
  return MHD_YES;
}

static void
import_done (struct Xva_http_req *r, enum MHD_RequestTerminationCode toe)
{
  if (r->im != NULL && r->istate == XVA_IMPORT_FEEDING) {
    if (toe == MHD_REQUEST_TERMINATED_DAEMON_SHUTDOWN)
      import_failed (r, "IMPORT_ERROR", "the server is stopping");
    else if (Xva_http_cancelled (r))
      import_failed (r, "TASK_CANCELLED", NULL);
    else
      /* The client closed the connection: a complete archive (a client
       * that streams with a fake length and closes after the last
       * byte) is a success; anything else fails as a premature end. */
      import_finish (r);
  }
  if (r->im != NULL)
    import_failed (r, "IMPORT_ERROR", "request ended");
  if (r->deferred_ei != NULL) {
    Xva_http_task_fail (r, r->deferred_ei);
    xva_value_free (r->deferred_ei);
    r->deferred_ei = NULL;
  }
  free_vdi_map (r);
}

void
Xva_http_xfer_done (struct Xva_http_req *r,
                    enum MHD_RequestTerminationCode toe)
{
  if (r->route == XVA_ROUTE_EXPORT || r->route == XVA_ROUTE_EXPORT_METADATA)
    export_done (r, toe);
  else
    import_done (r, toe);
}
