/* libFuzzer: HTTP requests as the server sees them: the request line
 * and its query string, Cookie and Authorization headers, and a small
 * body go through the real libmicrohttpd and the server's handlers,
 * in-process.  A server (Xva_serve_start) runs over a data directory of
 * srv-fuzz.h; each input is handed to one of its daemons with
 * MHD_add_connection on one end of a socketpair, the other end writes
 * it, closes its sending side and reads until the server closes.
 *
 * The first byte picks the listener (bit 0: the control socket, which
 * is trusted, else the TCP one, which is not); the rest is the raw
 * request (or several), where placeholders are replaced first: @S a
 * live session, @V the VM's ref, @U its uuid, @T a pending task, @R
 * the default SR, @Q the second SR's ref, @D a VDI's uuid, @A
 * base64 of root's user:password, @Z a whole archive of a VM and @z
 * its length in decimal.
 *
 * Checks: a reply starts with an HTTP/1.x status line; no log line
 * holds a control character; the server closes the connection within
 * EXCHANGE_S seconds; on the untrusted listener, a request without
 * credentials (no session, password or Basic credentials in it)
 * changes nothing: no VM comes or goes, no task is made; and what
 * requests leave in the VM, task and SR records is still servable over
 * XML-RPC (checked every CHECK_EVERY inputs: the lists are long).
 *
 * Bounds: the server starts over on a fresh data directory every
 * RESET_EVERY inputs or when imports left more than MAX_VMS VMs; the
 * VM is imported again when a request destroyed it.  event.from and
 * failed logins cannot stall (see CMakeLists.txt). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <xva/xva.h>

#include "server/http-priv.h"
#include "srv-fuzz.h"

#define RESET_EVERY 500
#define CHECK_EVERY 50
#define MAX_VMS 8
#define EXCHANGE_S 20
#define REPLY_KEPT ((size_t) 64 << 10)
#define NSUBST 10

static struct xva_limits reply_limits = { (size_t) 256 << 20, 64,
                                          (size_t) 16 << 20,
                                          (size_t) 64 << 20 };

static const char subst_keys[NSUBST] = { 'S', 'V', 'U', 'T', 'R',
                                         'Q', 'D', 'A', 'Z', 'z' };

static struct {
  char dir[256];
  struct Xva_serve *sv;
  struct MHD_Daemon *trusted;
  struct MHD_Daemon *tcp;
  char subst[NSUBST][256];
  struct fz_buf archive;
  unsigned long runs;
} g;

static char *
subst_slot (char key)
{
  size_t i;

  for (i = 0; i < NSUBST; i++)
    if (subst_keys[i] == key)
      return g.subst[i];
  return NULL;
}

static void
set_subst (char key, const char *value)
{
  snprintf (subst_slot (key), sizeof g.subst[0], "%s", value);
}

/* ---- State -------------------------------------------------------------- */

static struct Xva_store *
store (void)
{
  return g.sv->store;
}

static size_t
count (const char *cls)
{
  size_t n = 0;

  FUZZ_CHECK (Xva_store_count (store (), NULL, cls, &n) == XVA_OK);
  return n;
}

/* The first object of cls: its ref into ref (and uuid into uuid). */
static void
first_of (const char *cls, char key_ref, char key_uuid)
{
  struct Xva_store_list l;
  struct xva_value *rec = NULL;

  memset (&l, 0, sizeof l);
  FUZZ_CHECK (Xva_store_list (store (), NULL, cls, 0, &l) == XVA_OK);
  FUZZ_CHECK (l.n > 0);
  if (key_ref)
    set_subst (key_ref, l.refs[0]);
  if (key_uuid) {
    FUZZ_CHECK (Xva_store_get (store (), NULL, l.refs[0], NULL, &rec)
                == XVA_OK);
    set_subst (key_uuid, xva_value_string (xva_value_get (rec, "uuid")));
    xva_value_free (rec);
  }
  Xva_store_list_free (&l);
}

static void
find_refs (void)
{
  struct Xva_store_list l;
  char ref[XVA_STORE_REF_MAX + 1];

  first_of ("VM", 'V', 'U');
  first_of ("VDI", 0, 'D');
  FUZZ_CHECK (Xva_store_default_sr (store (), NULL, ref) == XVA_OK);
  set_subst ('R', ref);
  memset (&l, 0, sizeof l);
  FUZZ_CHECK (Xva_store_by_name (store (), NULL, "SR", "fuzz SR", 0, &l)
              == XVA_OK);
  FUZZ_CHECK (l.n == 1);
  set_subst ('Q', l.refs[0]);
  Xva_store_list_free (&l);
}

static void
login (void)
{
  char ref[XVA_STORE_REF_MAX + 1];

  FUZZ_CHECK (Xva_session_login (g.sv->srv, "root", NULL, 1, ref) == XVA_OK);
  set_subst ('S', ref);
}

static void
new_task (void)
{
  char ref[XVA_STORE_REF_MAX + 1];

  FUZZ_CHECK (Xva_task_create (g.sv->srv, "fuzz", "", ref) == XVA_OK);
  set_subst ('T', ref);
}

static void
state_new (void)
{
  static const char *const listen[] = { "127.0.0.1:0" };
  struct Xva_serve_opts o;
  char err[512];
  size_t i;

  fz_datadir (g.dir, sizeof g.dir);
  memset (&o, 0, sizeof o);
  o.data_dir = g.dir;
  o.listen = listen;
  o.nlisten = 1;
  o.timeout_s = 5;
  o.log = fz_log_line;
  if (Xva_serve_start (&o, &g.sv, err, sizeof err) != XVA_OK) {
    fprintf (stderr, "fuzz setup: serve: %s\n", err);
    abort ();
  }
  g.trusted = g.tcp = NULL;
  for (i = 0; i < g.sv->nls; i++) {
    if (g.sv->ls[i].is_ctl)
      g.trusted = g.sv->ls[i].d;
    else if (!g.sv->ls[i].trusted)
      g.tcp = g.sv->ls[i].d;
  }
  FUZZ_CHECK (g.trusted != NULL && g.tcp != NULL);
  login ();
  new_task ();
  find_refs ();
}

static void
state_free (void)
{
  Xva_serve_stop (g.sv);
  g.sv = NULL;
  fz_rmtree (g.dir);
}

static void
state_end (void)
{
  state_free ();
  free (g.archive.p);
}

/* The session, the task and the VM may be gone: bring them back. */
static void
refresh (void)
{
  if (Xva_session_check (g.sv->srv, subst_slot ('S')) != XVA_OK)
    login ();
  if (Xva_store_get (store (), NULL, subst_slot ('T'), NULL, NULL) != XVA_OK)
    new_task ();
  if (Xva_store_get (store (), NULL, subst_slot ('V'), NULL, NULL) != XVA_OK) {
    fz_import (store (), &g.archive);
    find_refs ();
  }
}

int LLVMFuzzerInitialize (int *argc, char ***argv);

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  static const char b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  const char *cred = "root:" FZ_PASSWORD;
  char enc[128], num[32];
  size_t i, n = strlen (cred), k = 0;

  (void) argc;
  (void) argv;
  fz_archive (&g.archive);
  for (i = 0; i < n; i += 3) {
    unsigned v = (unsigned) (unsigned char) cred[i] << 16;

    if (i + 1 < n)
      v |= (unsigned) (unsigned char) cred[i + 1] << 8;
    if (i + 2 < n)
      v |= (unsigned char) cred[i + 2];
    enc[k++] = b64[(v >> 18) & 63];
    enc[k++] = b64[(v >> 12) & 63];
    enc[k++] = i + 1 < n ? b64[(v >> 6) & 63] : '=';
    enc[k++] = i + 2 < n ? b64[v & 63] : '=';
  }
  enc[k] = '\0';
  set_subst ('A', enc);
  snprintf (num, sizeof num, "%zu", g.archive.len);
  set_subst ('z', num);
  state_new ();
  atexit (state_end);
  return 0;
}

/* ---- One exchange --------------------------------------------------------- */

/* The input with its placeholders replaced; *creds tells whether it
 * carries credentials (a session, the password, Basic credentials). */
static void
substitute (const uint8_t *p, size_t n, struct fz_buf *out, int *creds)
{
  size_t i;

  *creds = 0;
  for (i = 0; i < n; i++) {
    char key = p[i] == '@' && i + 1 < n ? (char) p[i + 1] : '\0';
    const char *v = key != '\0' && key != 'Z' ? subst_slot (key) : NULL;

    if (key == 'Z') {
      fz_put (out, g.archive.p, g.archive.len);
      i++;
    }
    else if (v != NULL) {
      fz_put (out, v, strlen (v));
      if (key == 'S' || key == 'A')
        *creds = 1;
      i++;
    }
    else
      fz_put (out, p + i, 1);
  }
  if (out->len == 0)
    return;
  if (memmem (out->p, out->len, FZ_PASSWORD, strlen (FZ_PASSWORD)) != NULL
      || memmem (out->p, out->len, subst_slot ('A'), strlen (subst_slot ('A')))
           != NULL
      || memmem (out->p, out->len, subst_slot ('S'), strlen (subst_slot ('S')))
           != NULL)
    *creds = 1;
}

static double
now_s (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

/* Sends req to daemon d over a new connection, closes the sending side
 * once it is all out and reads the reply (its first REPLY_KEPT bytes
 * into reply) until the server closes. */
static void
exchange (struct MHD_Daemon *d, const unsigned char *req, size_t n,
          struct fz_buf *reply)
{
  struct sockaddr_in peer;
  unsigned char buf[16384];
  double deadline = now_s () + EXCHANGE_S;
  size_t off = 0;
  int sp[2], shut = 0;

  FUZZ_CHECK (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == 0);
  memset (&peer, 0, sizeof peer);
  peer.sin_family = AF_INET;
  peer.sin_port = htons (40000);
  peer.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  if (MHD_add_connection (d, sp[1], (const struct sockaddr *) &peer,
                          sizeof peer)
      != MHD_YES) {
    fprintf (stderr, "MHD_add_connection failed\n");
    abort ();
  }
  FUZZ_CHECK (fcntl (sp[0], F_SETFL, O_NONBLOCK) == 0);
  for (;;) {
    struct pollfd pf = { sp[0], POLLIN, 0 };
    double left = deadline - now_s ();
    ssize_t k;

    if (off == n && !shut) {
      shutdown (sp[0], SHUT_WR);
      shut = 1;
    }
    if (!shut)
      pf.events |= POLLOUT;
    if (left <= 0) {
      fprintf (stderr,
               "the server kept the connection open for %d s "
               "(%zu of %zu bytes sent)\n",
               EXCHANGE_S, off, n);
      abort ();
    }
    if (poll (&pf, 1, (int) (left * 1000) + 1) < 0) {
      FUZZ_CHECK (errno == EINTR);
      continue;
    }
    if (!shut && (pf.revents & (POLLOUT | POLLERR))) {
      k = send (sp[0], req + off, n - off, MSG_NOSIGNAL);
      if (k > 0)
        off += (size_t) k;
      else if (k < 0 && errno != EAGAIN && errno != EINTR)
        off = n; /* the server stopped reading: fine */
    }
    if (pf.revents & (POLLIN | POLLHUP | POLLERR)) {
      k = recv (sp[0], buf, sizeof buf, 0);
      if (k == 0)
        break;
      if (k < 0 && errno != EAGAIN && errno != EINTR)
        break; /* reset */
      if (k > 0 && reply->len < REPLY_KEPT)
        fz_put (reply, buf, (size_t) k);
    }
  }
  close (sp[0]);
}

/* What requests left in the records must still be servable: the
 * XML-RPC replies of VM, task and SR .get_all_records parse back
 * (client text in a task's error_info, say). */
static void
check_records (void)
{
  static const char *const methods[] = { "VM.get_all_records",
                                         "task.get_all_records",
                                         "SR.get_all_records" };
  char body[512], *out = NULL, err[256];
  struct xva_value *v = NULL;
  size_t i, outlen = 0;
  int r;

  for (i = 0; i < sizeof methods / sizeof methods[0]; i++) {
    snprintf (body, sizeof body,
              "<methodCall><methodName>%s</methodName>"
              "<params><param><value>%s</value></param></params>"
              "</methodCall>",
              methods[i], subst_slot ('S'));
    FUZZ_CHECK (Xva_rpc_xmlrpc (g.sv->srv, body, strlen (body), 1, &out,
                                &outlen)
                == XVA_OK);
    r = xva_xmlrpc_parse_response (out, outlen, &reply_limits, &v, err,
                                   sizeof err);
    if (r != XVA_OK)
      fprintf (stderr, "%s: the reply does not parse back: %s\n", methods[i],
               err);
    FUZZ_CHECK (r == XVA_OK);
    if (strcmp (xva_value_string (xva_value_get (v, "Status")), "Success")
        != 0)
      fprintf (stderr, "%s failed: %.*s\n", methods[i],
               (int) (outlen < 2000 ? outlen : 2000), out);
    FUZZ_CHECK (strcmp (xva_value_string (xva_value_get (v, "Status")),
                        "Success")
                == 0);
    xva_value_free (v);
    v = NULL;
    free (out);
    out = NULL;
  }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  struct fz_buf req = { 0 }, reply = { 0 };
  size_t vms, tasks;
  int trusted, creds;

  if (size < 1)
    return 0;
  if (++g.runs % RESET_EVERY == 0 || count ("VM") > MAX_VMS) {
    state_free ();
    state_new ();
  }
  refresh ();
  trusted = data[0] & 1;
  substitute (data + 1, size - 1, &req, &creds);
  vms = count ("VM");
  tasks = count ("task");
  exchange (trusted ? g.trusted : g.tcp, req.p, req.len, &reply);
  if (reply.len > 0) {
    if (reply.len < 12 || memcmp (reply.p, "HTTP/1.", 7) != 0
        || reply.p[8] != ' ')
      fprintf (stderr, "not a status line: %.*s\n",
               (int) (reply.len < 64 ? reply.len : 64), reply.p);
    FUZZ_CHECK (reply.len >= 12 && memcmp (reply.p, "HTTP/1.", 7) == 0
                && reply.p[8] == ' ');
  }
  if (!trusted && !creds) {
    if (count ("VM") != vms || count ("task") > tasks)
      fprintf (stderr,
               "without credentials: VMs %zu -> %zu, tasks %zu -> "
               "%zu\n",
               vms, count ("VM"), tasks, count ("task"));
    FUZZ_CHECK (count ("VM") == vms && count ("task") <= tasks);
  }
  if (g.runs % CHECK_EVERY == 0)
    check_records ();
  free (req.p);
  free (reply.p);
  return 0;
}
