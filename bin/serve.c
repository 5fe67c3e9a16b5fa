/* xva serve: a XenServer-compatible HTTP(S) server for VM export and
 * import over a local data directory. */
/* Built only together with server/ (XVA_HAVE_SERVER). */
#ifdef XVA_HAVE_SERVER

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "serve.h"
#include "../server/http.h"

#define CMD "serve"
#define PASSWORD_MAX 1024
#define DEFAULT_LISTEN "127.0.0.1:8080"

enum {
  OPT_TLS_CERT = 256,
  OPT_TLS_KEY,
  OPT_UNIX,
  OPT_PASSWORD_FILE,
  OPT_TIMEOUT,
  OPT_MAX_CONN,
};

static const struct option long_options[] = {
  { "data", required_argument, NULL, 'd' },
  { "listen", required_argument, NULL, 'l' },
  { "tls-cert", required_argument, NULL, OPT_TLS_CERT },
  { "tls-key", required_argument, NULL, OPT_TLS_KEY },
  { "unix", required_argument, NULL, OPT_UNIX },
  { "password-file", required_argument, NULL, OPT_PASSWORD_FILE },
  { "timeout", required_argument, NULL, OPT_TIMEOUT },
  { "max-connections", required_argument, NULL, OPT_MAX_CONN },
  { "help", no_argument, NULL, 'h' },
  { NULL, 0, NULL, 0 },
};

static void
usage (FILE *f)
{
  /* clang-format off */
  fprintf (f,
    "Usage: xva serve --data DIR [--listen ADDR:PORT]... [OPTIONS]\n"
    "\n"
    "Serves the VMs and disks of the data directory DIR over the\n"
    "XenServer / XCP-ng HTTP interface: GET /export, /export_metadata,\n"
    "PUT /import, /import_metadata, and XenAPI over XML-RPC and JSON-RPC\n"
    "(POST / and /jsonrpc).  A new DIR is initialised with a pool, a host,\n"
    "the default SR and the user root, whose password comes from\n"
    "--password-file or the XVA_PASSWORD environment variable.\n"
    "\n"
    "Once every listener accepts connections, one line per listener is\n"
    "printed on standard output: 'listening on http://ADDR:PORT' (with\n"
    "the port actually bound; a port of 0 picks a free one).  Requests\n"
    "are logged on standard error.  SIGTERM or SIGINT stops the server:\n"
    "running transfers are cancelled and unfinished imports removed.\n"
    "\n"
    "The server also listens on DIR/" XVA_SERVE_CTL_NAME " (mode 0600,\n"
    "trusted), which 'xva sr-create' uses while the server runs.\n"
    "\n"
    "Options:\n"
    "  -d, --data DIR            the data directory (required)\n"
    "  -l, --listen ADDR:PORT    listen on TCP (repeatable; [V6]:PORT for\n"
    "                            IPv6; default " DEFAULT_LISTEN ")\n"
    "      --tls-cert FILE       PEM certificate: every TCP listener\n"
    "      --tls-key FILE        speaks HTTPS (TLS 1.2 and 1.3)\n"
    "      --unix PATH           also listen on a Unix socket (mode 0600;\n"
    "                            requests there are trusted)\n"
    "      --password-file FILE  root's password for a new DIR (first line)\n"
    "      --timeout SECONDS     idle time before a connection is closed,\n"
    "                            and the time a request's headers may take\n"
    "                            (default %d)\n"
    "      --max-connections N   connections per listener (default %d)\n"
    "  -h, --help                show this help\n"
    "\n"
    "Exit status: 0 stopped by a signal, 1 failure, 2 bad usage.\n",
    XVA_SERVE_DEFAULT_TIMEOUT, XVA_SERVE_DEFAULT_MAX_CONN);
  /* clang-format on */
}

int
Xva_cli_server_fail (const char *cmd, int status, const char *err)
{
  Xva_cli_error (cmd, "%s", err[0] != '\0' ? err : xva_strerror (status));
  return status == XVA_EINVAL ? XVA_EXIT_FAIL : Xva_cli_exit_code (status);
}

static void
log_stderr (void *opaque, const char *line)
{
  char stamp[32];
  struct tm tm;
  time_t now = time (NULL);

  (void) opaque;
  if (gmtime_r (&now, &tm) == NULL
      || strftime (stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
    snprintf (stamp, sizeof stamp, "-");
  fprintf (stderr, "%s %s\n", stamp, line);
}

/* The first line of path, without its line end, into buf. */
static int
read_password_file (const char *path, char *buf, size_t len)
{
  size_t n = 0;
  ssize_t got;
  int fd;

  fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    Xva_cli_error (CMD, "%s: %s", path, strerror (errno));
    return -1;
  }
  for (;;) {
    got = read (fd, buf + n, len - 1 - n);
    if (got < 0 && errno == EINTR)
      continue;
    if (got < 0) {
      Xva_cli_error (CMD, "%s: %s", path, strerror (errno));
      close (fd);
      return -1;
    }
    if (got == 0 || memchr (buf + n, '\n', (size_t) got) != NULL) {
      n += (size_t) got;
      break;
    }
    n += (size_t) got;
    if (n == len - 1) {
      Xva_cli_error (CMD, "%s: password longer than %zu bytes", path, len - 2);
      close (fd);
      explicit_bzero (buf, len);
      return -1;
    }
  }
  close (fd);
  buf[n] = '\0';
  buf[strcspn (buf, "\r\n")] = '\0';
  if (buf[0] == '\0') {
    Xva_cli_error (CMD, "%s: empty password", path);
    return -1;
  }
  return 0;
}

int
Xva_cmd_serve (int argc, char **argv)
{
  const char *addrs[XVA_SERVE_MAX_LISTEN];
  struct Xva_serve_opts o;
  struct Xva_serve *sv = NULL;
  char password[PASSWORD_MAX + 2], err[1024];
  const char *pwfile = NULL, *env;
  sigset_t set;
  uint64_t v;
  size_t i;
  int c, s, sig = 0;

  memset (&o, 0, sizeof o);
  password[0] = '\0';
  opterr = 0;
  while ((c = getopt_long (argc, argv, ":d:l:h", long_options, NULL)) != -1) {
    switch (c) {
    case 'd':
      o.data_dir = optarg;
      break;
    case 'l':
      if (o.nlisten == XVA_SERVE_MAX_LISTEN) {
        Xva_cli_error (CMD, "at most %d --listen options",
                       XVA_SERVE_MAX_LISTEN);
        return XVA_EXIT_USAGE;
      }
      addrs[o.nlisten++] = optarg;
      break;
    case OPT_TLS_CERT:
      o.tls_cert = optarg;
      break;
    case OPT_TLS_KEY:
      o.tls_key = optarg;
      break;
    case OPT_UNIX:
      o.unix_path = optarg;
      break;
    case OPT_PASSWORD_FILE:
      pwfile = optarg;
      break;
    case OPT_TIMEOUT:
    case OPT_MAX_CONN:
      if (Xva_cli_parse_uint (optarg, 1, c == OPT_TIMEOUT ? 86400 : 100000, &v)
          < 0)
        return Xva_cli_usage_error (CMD, "bad --%s: '%s'",
                                    c == OPT_TIMEOUT ? "timeout"
                                                     : "max-connections",
                                    optarg);
      if (c == OPT_TIMEOUT)
        o.timeout_s = (unsigned) v;
      else
        o.max_connections = (unsigned) v;
      break;
    case 'h':
      usage (stdout);
      return XVA_EXIT_OK;
    default:
      return Xva_cli_bad_option (CMD, c, argc, argv);
    }
  }
  if (optind < argc)
    return Xva_cli_usage_error (CMD, "unexpected argument '%s'", argv[optind]);
  if (o.data_dir == NULL)
    return Xva_cli_usage_error (CMD, "--data DIR is required");
  if ((o.tls_cert == NULL) != (o.tls_key == NULL))
    return Xva_cli_usage_error (CMD, "--tls-cert and --tls-key go together");
  if (o.nlisten == 0)
    addrs[o.nlisten++] = DEFAULT_LISTEN;
  o.listen = addrs;
  if (pwfile != NULL) {
    if (read_password_file (pwfile, password, sizeof password) < 0)
      return XVA_EXIT_FAIL;
    o.root_password = password;
  }
  else if ((env = getenv ("XVA_PASSWORD")) != NULL && env[0] != '\0')
    o.root_password = env;
  o.log = log_stderr;

  /* A write past RLIMIT_FSIZE must fail with EFBIG (SR_FULL for an
   * import), not kill the server. */
  signal (SIGXFSZ, SIG_IGN);
  /* Signals are taken by sigwait below; every thread of the server
   * inherits the mask and never sees them. */
  sigemptyset (&set);
  sigaddset (&set, SIGINT);
  sigaddset (&set, SIGTERM);
  sigaddset (&set, SIGHUP);
  pthread_sigmask (SIG_BLOCK, &set, NULL);
  if (Xva_cli_interrupted ())
    return XVA_EXIT_FAIL;

  err[0] = '\0';
  s = Xva_serve_start (&o, &sv, err, sizeof err);
  explicit_bzero (password, sizeof password);
  if (s != XVA_OK)
    return Xva_cli_server_fail (CMD, s, err);
  for (i = 0; i < Xva_serve_nurls (sv); i++)
    printf ("listening on %s\n", Xva_serve_url (sv, i));
  fflush (stdout);

  while (sig != SIGINT && sig != SIGTERM) {
    if (sigwait (&set, &sig) != 0)
      break;
    if (sig == SIGHUP)
      log_stderr (NULL, "SIGHUP ignored (use SIGTERM to stop)");
  }
  log_stderr (NULL,
              sig == SIGINT ? "stopping (SIGINT)" : "stopping (SIGTERM)");
  Xva_serve_stop (sv);
  log_stderr (NULL, "stopped");
  return XVA_EXIT_OK;
}

#else
typedef int xva_no_server_serve;
#endif /* XVA_HAVE_SERVER */
