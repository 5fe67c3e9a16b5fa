/* Shared helpers of the network commands: options, credentials,
 * progress, JSON and exit codes. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "remote.h"
#include "../client/sink-s3.h"

#define SECRET_MAX 4096
#define NETRC_MAX ((size_t) 1 << 20)

void
Xva_remote_init (struct xva_remote *r, const char *cmd, const char *usage)
{
  memset (r, 0, sizeof *r);
  r->cmd = cmd;
  r->usage = usage;
  Xva_cli_s3_init (&r->s3);
  Xva_client_result_init (&r->res);
}

void
Xva_remote_free (struct xva_remote *r)
{
  if (r == NULL)
    return;
  Xva_client_result_clear (&r->res);
  Xva_sink_s3_clear ();
  Xva_cli_s3_free (&r->s3);
}

void
Xva_remote_side_init (struct xva_remote_side *s, const char *user_env,
                      const char *password_env)
{
  memset (s, 0, sizeof *s);
  s->user_env = user_env;
  s->password_env = password_env;
}

/* Takes the common option c: 1 if it was one, 0 if not, -1 if its
 * value is bad (said so, with a usage hint). */
static int
common_option (struct xva_remote *r, struct xva_remote_side *s, int c,
               const char *arg)
{
  switch (c) {
  case XVA_ROPT_URL:
    s->url = arg;
    return 1;
  case XVA_ROPT_USER:
    s->user = arg;
    return 1;
  case XVA_ROPT_PASSWORD_FILE:
    s->password_file = arg;
    return 1;
  case XVA_ROPT_SESSION:
    s->session = arg;
    return 1;
  case XVA_ROPT_CACERT:
    r->cacert = arg;
    return 1;
  case XVA_ROPT_INSECURE:
    r->insecure = 1;
    return 1;
  case XVA_ROPT_JSON:
    r->json = 1;
    return 1;
  case 'q':
    r->quiet = 1;
    return 1;
  case XVA_ROPT_TASK_ID:
    r->task_id = arg;
    return 1;
  case XVA_ROPT_UUID:
    r->uuid = arg;
    r->nvm++;
    return 1;
  case XVA_ROPT_REF:
    r->ref = arg;
    r->nvm++;
    return 1;
  case XVA_ROPT_NAME:
    r->name = arg;
    r->nvm++;
    return 1;
  case XVA_ROPT_COMPRESS:
    if (Xva_cli_parse_name (arg, xva_compress_name, XVA_COMPRESS_ZSTD,
                            &r->compress)
        == 0)
      return 1;
    Xva_cli_usage_error (r->cmd,
                         "--compress: want none, gzip or zstd, not '%s'", arg);
    return -1;
  default:
    return 0;
  }
}

int
Xva_remote_getopt (struct xva_remote *r, struct xva_remote_side *s, int argc,
                   char **argv, const char *shortopts,
                   const struct option *longopts, int *rc)
{
  int c, taken;

  *rc = -1;
  opterr = 0;
  while ((c = getopt_long (argc, argv, shortopts, longopts, NULL)) != -1) {
    taken = common_option (r, s, c, optarg);
    if (taken == 1)
      continue;
    if (taken == -1) {
      *rc = XVA_EXIT_USAGE;
      return -1;
    }
    taken = Xva_cli_s3_option (&r->s3, r->cmd, c, optarg);
    if (taken == 1)
      continue;
    if (taken == -1)
      *rc = Xva_cli_usage_error (r->cmd, "bad object storage option");
    else if (c == 'h') {
      fputs (r->usage, stdout);
      *rc = XVA_EXIT_OK;
    }
    else if (c == '?' || c == ':')
      *rc = Xva_cli_bad_option (r->cmd, c, argc, argv);
    else
      return c; /* the command's own */
    return -1;
  }
  return -1;
}

int
Xva_remote_s3 (struct xva_remote *r, const char *path, int output)
{
  int rc;

  if (!xva_s3_is_url (path))
    return XVA_EXIT_OK;
  /* The bucket and the keys of an output are checked before the
   * transfer starts. */
  rc = output ? Xva_cli_s3_target_check (&r->s3, r->cmd, path)
              : Xva_cli_s3_setup (&r->s3, r->cmd);
  if (rc != XVA_EXIT_OK)
    return rc;
  if (Xva_sink_s3_setup (&r->s3.opts) != XVA_OK) {
    Xva_cli_error (r->cmd, "out of memory");
    return XVA_EXIT_FAIL;
  }
  return XVA_EXIT_OK;
}

/* The exit code of a status. */
static int
exit_code (int status)
{
  if (status == XVA_EINVAL)
    return XVA_EXIT_FAIL;
  return Xva_cli_exit_code (status);
}

/* ------------------------------------------------------------------ */
/* Credentials                                                          */

static void
wipe_free (char *s)
{
  if (s == NULL)
    return;
  explicit_bzero (s, strlen (s));
  free (s);
}

/* Reads a whole small file (at most max bytes) into a new string. */
static char *
read_small (const char *path, size_t max, int *err)
{
  char *buf;
  size_t len = 0;
  ssize_t n;
  int fd;

  *err = 0;
  fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    *err = errno;
    return NULL;
  }
  buf = malloc (max + 1);
  if (buf == NULL) {
    close (fd);
    *err = ENOMEM;
    return NULL;
  }
  while (len < max) {
    n = read (fd, buf + len, max - len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      *err = errno;
      close (fd);
      explicit_bzero (buf, len);
      free (buf);
      return NULL;
    }
    if (n == 0)
      break;
    len += (size_t) n;
  }
  close (fd);
  buf[len] = '\0';
  return buf;
}

/* The first line of a password file, without its line end. */
static char *
password_from_file (const char *cmd, const char *path)
{
  char *buf, *out;
  size_t n;
  int e;

  buf = read_small (path, SECRET_MAX, &e);
  if (buf == NULL) {
    Xva_cli_error (cmd, "cannot read the password file %s: %s", path,
                   strerror (e));
    return NULL;
  }
  n = strcspn (buf, "\r\n");
  if (n == 0) {
    Xva_cli_error (cmd, "the password file %s is empty", path);
    wipe_free (buf);
    return NULL;
  }
  out = strndup (buf, n);
  wipe_free (buf);
  if (out == NULL)
    Xva_cli_error (cmd, "out of memory");
  return out;
}

/* The next ~/.netrc token: quoted ("a b", with \ escapes) or bare.
 * Returns 0 at the end. */
static int
netrc_token (const char **pp, char *tok, size_t len)
{
  const char *p = *pp;
  size_t n = 0;

  while (*p != '\0' && isspace ((unsigned char) *p))
    p++;
  if (*p == '\0') {
    *pp = p;
    return 0;
  }
  if (*p == '"') {
    p++;
    while (*p != '\0' && *p != '"') {
      if (*p == '\\' && p[1] != '\0')
        p++;
      if (n + 1 < len)
        tok[n++] = *p;
      p++;
    }
    if (*p == '"')
      p++;
  }
  else {
    while (*p != '\0' && !isspace ((unsigned char) *p)) {
      if (n + 1 < len)
        tok[n++] = *p;
      p++;
    }
  }
  tok[n] = '\0';
  *pp = p;
  return 1;
}

/* Looks host up in ~/.netrc: the first `machine host` entry (with
 * `login user` when user is not NULL), else `default`.  Sets *login and
 * *password (new strings) when found. */
static void
netrc_lookup (const char *host, const char *user, char **login,
              char **password)
{
  char path[4096], tok[SECRET_MAX], mlogin[256], mpass[SECRET_MAX];
  const char *home = getenv ("HOME"), *p;
  char *buf;
  int in_entry = 0, is_default = 0, have_pass = 0, e, done = 0;

  *login = NULL;
  *password = NULL;
  if (home == NULL || home[0] == '\0')
    return;
  if ((size_t) snprintf (path, sizeof path, "%s/.netrc", home) >= sizeof path)
    return;
  buf = read_small (path, NETRC_MAX, &e);
  if (buf == NULL)
    return;
  mlogin[0] = '\0';
  mpass[0] = '\0';
  p = buf;
  /* Ends an entry: takes it if it matches. */
#define CLOSE_ENTRY()                                                         \
  do {                                                                        \
    if (in_entry && have_pass                                                 \
        && (user == NULL || mlogin[0] == '\0'                                 \
            || strcmp (mlogin, user) == 0)) {                                 \
      *login = strdup (mlogin[0] != '\0' ? mlogin                             \
                       : user != NULL    ? user                               \
                                         : "root");                              \
      *password = strdup (mpass);                                             \
      done = 1;                                                               \
    }                                                                         \
    in_entry = 0;                                                             \
    have_pass = 0;                                                            \
    mlogin[0] = '\0';                                                         \
    mpass[0] = '\0';                                                          \
  } while (0)
  while (!done && netrc_token (&p, tok, sizeof tok)) {
    if (strcmp (tok, "machine") == 0) {
      CLOSE_ENTRY ();
      if (done || !netrc_token (&p, tok, sizeof tok))
        break;
      in_entry = strcmp (tok, host) == 0;
      is_default = 0;
    }
    else if (strcmp (tok, "default") == 0) {
      CLOSE_ENTRY ();
      if (done)
        break;
      in_entry = 1;
      is_default = 1;
    }
    else if (strcmp (tok, "login") == 0) {
      if (!netrc_token (&p, tok, sizeof tok))
        break;
      if (in_entry)
        snprintf (mlogin, sizeof mlogin, "%.255s", tok);
    }
    else if (strcmp (tok, "password") == 0) {
      if (!netrc_token (&p, tok, sizeof tok))
        break;
      if (in_entry) {
        snprintf (mpass, sizeof mpass, "%s", tok);
        have_pass = 1;
      }
    }
    else if (strcmp (tok, "account") == 0) {
      if (!netrc_token (&p, tok, sizeof tok))
        break;
    }
    else if (strcmp (tok, "macdef") == 0) {
      const char *end = strstr (p, "\n\n");
      p = end != NULL ? end + 2 : p + strlen (p);
    }
  }
  CLOSE_ENTRY ();
#undef CLOSE_ENTRY
  (void) is_default;
  explicit_bzero (tok, sizeof tok);
  explicit_bzero (mpass, sizeof mpass);
  explicit_bzero (buf, strlen (buf));
  free (buf);
  if ((*login == NULL) != (*password == NULL)) {
    free (*login);
    wipe_free (*password);
    *login = NULL;
    *password = NULL;
  }
}

static unsigned
env_uint (const char *name, unsigned dflt, unsigned max)
{
  const char *v = getenv (name);
  uint64_t u;

  if (v == NULL || v[0] == '\0' || Xva_cli_parse_uint (v, 0, max, &u) != 0)
    return dflt;
  return (unsigned) u;
}

int
Xva_remote_host (struct xva_remote *r, struct xva_remote_side *s,
                 struct Xva_client_host *h)
{
  struct Xva_xapi_url url;
  const char *user, *envpw;
  char err[512], *nlogin = NULL, *npass = NULL;

  memset (h, 0, sizeof *h);
  Xva_xapi_conf_init (&h->conf);
  if (s->url == NULL)
    return Xva_cli_usage_error (r->cmd, "no host URL given");
  if (Xva_xapi_url_parse (s->url, &url, err, sizeof err) != XVA_OK)
    return Xva_cli_usage_error (r->cmd, "%s", err);
  h->conf.url = s->url;
  h->conf.cacert = r->cacert;
  h->conf.insecure = r->insecure;
  h->conf.tries = env_uint ("XVA_RETRY_TRIES", 3, 100);
  if (h->conf.tries == 0)
    h->conf.tries = 1;
  h->conf.retry_ms = env_uint ("XVA_RETRY_DELAY_MS", 1000, 600000);
  h->task_wait = env_uint ("XVA_TASK_WAIT", 600, 86400 * 7);
  if (s->session != NULL) {
    h->session = s->session;
    return XVA_EXIT_OK;
  }
  user = s->user;
  if (user == NULL)
    user = getenv (s->user_env);
  if ((user == NULL || user[0] == '\0') && s->fallback_user_env != NULL)
    user = getenv (s->fallback_user_env);
  if (user != NULL && user[0] == '\0')
    user = NULL;
  if (s->password_file != NULL) {
    s->password = password_from_file (r->cmd, s->password_file);
    if (s->password == NULL)
      return XVA_EXIT_USAGE;
  }
  else if ((envpw = getenv (s->password_env)) != NULL && envpw[0] != '\0') {
    s->password = strdup (envpw);
  }
  else {
    if (url.host[0] != '\0')
      netrc_lookup (url.host, user, &nlogin, &npass);
    if (npass != NULL) {
      s->password = npass;
      if (user == NULL)
        user = nlogin;
    }
    else if (s->fallback_password_env != NULL
             && (envpw = getenv (s->fallback_password_env)) != NULL
             && envpw[0] != '\0')
      s->password = strdup (envpw);
    else if (url.unix_path[0] != '\0')
      s->password = strdup (""); /* local sockets are trusted */
    else {
      free (nlogin);
      Xva_cli_error (r->cmd,
                     "no password for %s: give --password-file, "
                     "set %s or add the host to ~/.netrc",
                     url.host, s->password_env);
      return XVA_EXIT_USAGE;
    }
  }
  s->login = strdup (user != NULL ? user : "root");
  free (nlogin);
  if (s->password == NULL || s->login == NULL) {
    Xva_cli_error (r->cmd, "out of memory");
    return XVA_EXIT_FAIL;
  }
  h->user = s->login;
  h->password = s->password;
  return XVA_EXIT_OK;
}

void
Xva_remote_side_clear (struct xva_remote_side *s)
{
  wipe_free (s->password);
  free (s->login);
  s->password = NULL;
  s->login = NULL;
}

/* ------------------------------------------------------------------ */
/* Callbacks                                                            */

static int
cb_stop (void *opaque)
{
  (void) opaque;
  return Xva_cli_interrupted () != 0;
}

static void
cb_notice (void *opaque, const char *msg)
{
  struct xva_remote *r = opaque;

  if (r->quiet)
    return;
  Xva_cli_progress_end (&r->pg);
  Xva_cli_warn (r->cmd, "%s", msg);
}

static void
cb_progress (void *opaque, const struct Xva_client_progress *p)
{
  struct xva_remote *r = opaque;
  char line[200], eta[32];
  double elapsed, frac = -1.0;
  size_t used;
  int w;

  if (!Xva_cli_progress_due (&r->pg, &elapsed))
    return;
  used = Xva_cli_progress_head (line, sizeof line, p->bytes, elapsed);
  if (p->total > 0)
    frac = (double) (p->done < p->total ? p->done : p->total)
           / (double) p->total;
  else if (p->size > 0)
    frac = (double) (p->bytes < p->size ? p->bytes : p->size)
           / (double) p->size;
  if (frac >= 0.0) {
    if (frac > 0.0) {
      double left = elapsed * (1.0 - frac) / frac;
      unsigned s = left < 360000.0 ? (unsigned) (left + 0.5) : 0;
      if (left < 360000.0)
        snprintf (eta, sizeof eta, "%u:%02u:%02u", s / 3600, s / 60 % 60,
                  s % 60);
      else
        snprintf (eta, sizeof eta, "--:--");
    }
    else
      snprintf (eta, sizeof eta, "--:--");
    w = snprintf (line + used, sizeof line - used, "  %3u%%  ETA %s",
                  (unsigned) (frac * 100.0), eta);
    if (w > 0 && (size_t) w < sizeof line - used)
      used += (size_t) w;
  }
  if (p->task >= 0.0) {
    w = snprintf (line + used, sizeof line - used, "  task %3u%%",
                  (unsigned) (p->task * 100.0 + 0.5));
    if (w > 0 && (size_t) w < sizeof line - used)
      used += (size_t) w;
  }
  Xva_cli_progress_show (&r->pg, line, used);
}

const struct Xva_client_cb *
Xva_remote_callbacks (struct xva_remote *r)
{
  Xva_cli_progress_start (&r->pg, !r->quiet);
  memset (&r->cb, 0, sizeof r->cb);
  r->cb.progress = cb_progress;
  r->cb.notice = cb_notice;
  r->cb.stop = cb_stop;
  r->cb.opaque = r;
  return &r->cb;
}

/* ------------------------------------------------------------------ */
/* Results                                                              */

/* Prints the failure of the transfer; returns its exit code. */
static int
print_failure (const struct xva_remote *r)
{
  const struct Xva_client_result *res = &r->res;
  int rc = exit_code (res->status);

  if (res->status == XVA_ECANCELLED && Xva_cli_interrupted ())
    Xva_cli_error (r->cmd, "interrupted");
  else
    Xva_cli_error (r->cmd, "%s",
                   res->msg[0] != '\0' ? res->msg
                                       : xva_strerror (res->status));
  if (r->json) {
    printf ("{\"error\":");
    Xva_cli_json_string (stdout, res->msg);
    printf (",\"status\":");
    Xva_cli_json_string (stdout, xva_status_name (res->status));
    if (res->code[0] != '\0') {
      printf (",\"code\":");
      Xva_cli_json_string (stdout, res->code);
    }
    printf (",\"exit\":%d}\n", rc);
  }
  return rc;
}

/* The JSON summary of a transfer. */
static void
print_json (FILE *f, const struct Xva_client_result *res, unsigned which)
{
  size_t i;

  fputc ('{', f);
  if (which & 1) {
    fputs ("\"vm_uuid\":", f);
    Xva_cli_json_string (f, res->vm_uuid[0] != '\0' ? res->vm_uuid : NULL);
    fputc (',', f);
  }
  if (which & 2) {
    fputs ("\"vm_uuids\":[", f);
    for (i = 0; i < res->nvm; i++) {
      if (i > 0)
        fputc (',', f);
      Xva_cli_json_string (f, res->vm_uuids[i]);
    }
    fputs ("],", f);
  }
  if (which & 4) {
    fputs ("\"file\":", f);
    Xva_cli_json_string (f, res->output);
    fputc (',', f);
  }
  fprintf (f,
           "\"bytes\":%" PRIu64 ",\"seconds\":%.3f,\"checksum\":", res->bytes,
           res->seconds);
  Xva_cli_json_string (f, Xva_cli_checksum_kinds (res->checksum_kinds));
  fputs ("}\n", f);
}

int
Xva_remote_finish (struct xva_remote *r, unsigned which)
{
  size_t i;

  Xva_cli_progress_end (&r->pg);
  if (r->res.status != XVA_OK)
    return print_failure (r);
  if (r->json)
    print_json (stdout, &r->res, which);
  else if (which & 2)
    for (i = 0; i < r->res.nvm; i++)
      printf ("%s\n", r->res.vm_uuids[i]);
  return XVA_EXIT_OK;
}
