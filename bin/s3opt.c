/* Object storage in the `xva` command: shared S3 options, the
 * credentials file, and archive input from a file or an s3:// object. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "s3opt.h"

#define CRED_FILE_MAX ((size_t) 64 << 10)
#define CRED_VALUE_MAX 1024

void
Xva_cli_s3_init (struct xva_cli_s3 *s)
{
  memset (s, 0, sizeof *s);
  xva_s3_opts_init (&s->opts);
}

void
Xva_cli_s3_free (struct xva_cli_s3 *s)
{
  if (s == NULL)
    return;
  free (s->file_access);
  free (s->file_secret);
  free (s->file_region);
  free (s->file_endpoint);
  s->file_access = s->file_secret = s->file_region = s->file_endpoint = NULL;
}

static int
parse_part_size (const char *cmd, const char *what, const char *arg,
                 uint64_t *out)
{
  uint64_t v;

  if (Xva_cli_parse_size (arg, &v) != 0 || v < ((uint64_t) 5 << 20)
      || v > ((uint64_t) 5 << 30)) {
    Xva_cli_error (cmd, "bad %s '%s' (5M to 5G)", what, arg);
    return -1;
  }
  *out = v;
  return 0;
}

static int
parse_parallel (const char *cmd, const char *what, const char *arg,
                unsigned *out)
{
  uint64_t v;

  if (Xva_cli_parse_uint (arg, 1, 32, &v) != 0) {
    Xva_cli_error (cmd, "bad %s '%s' (1 to 32)", what, arg);
    return -1;
  }
  *out = (unsigned) v;
  return 0;
}

int
Xva_cli_s3_option (struct xva_cli_s3 *s, const char *cmd, int c,
                   const char *arg)
{
  switch (c) {
  case XVA_CLI_OPT_S3_ENDPOINT:
    s->endpoint = arg;
    return 1;
  case XVA_CLI_OPT_S3_CREDENTIALS:
    s->credentials = arg;
    return 1;
  case XVA_CLI_OPT_S3_REGION:
    s->region = arg;
    return 1;
  case XVA_CLI_OPT_S3_PART_SIZE:
    return parse_part_size (cmd, "--s3-part-size", arg, &s->part_size) == 0
             ? 1
             : -1;
  case XVA_CLI_OPT_S3_PARALLEL:
    return parse_parallel (cmd, "--s3-parallel", arg, &s->parallel) == 0 ? 1
                                                                         : -1;
  case XVA_CLI_OPT_CACERT:
  case XVA_CLI_OPT_S3_CACERT:
    s->ca_file = arg;
    return 1;
  case XVA_CLI_OPT_INSECURE:
  case XVA_CLI_OPT_S3_INSECURE:
    s->insecure = 1;
    return 1;
  default:
    return 0;
  }
}

/* ------------------------------------------------------------------ */
/* The credentials file                                                 */

static char *
trim (char *s)
{
  char *e;

  while (*s == ' ' || *s == '\t')
    s++;
  e = s + strlen (s);
  while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
    *--e = '\0';
  return s;
}

/* Stores a copy of value in *slot (replacing an earlier one). */
static int
keep_value (char **slot, const char *value)
{
  char *copy = strdup (value);

  if (copy == NULL)
    return -1;
  free (*slot);
  *slot = copy;
  return 0;
}

/* Names each setting may have: AWS ini keys, environment names, ours. */
static int
name_is (const char *name, const char *const *names)
{
  for (; *names != NULL; names++)
    if (strcasecmp (name, *names) == 0)
      return 1;
  return 0;
}

/* Reads the credentials file F.  Two forms, mixed freely:
 *   [default]                       (AWS ini: the section named by
 *   aws_access_key_id = AKIA...      $AWS_PROFILE, else [default], and
 *   aws_secret_access_key = ...      lines before any section)
 *   AWS_ACCESS_KEY_ID=AKIA...       (KEY=VALUE, `export` allowed,
 *   AWS_SECRET_ACCESS_KEY="..."      values may be quoted)
 * Comments start with # or ;.  Returns an exit code. */
static int
read_credentials (struct xva_cli_s3 *s, const char *cmd)
{
  static const char *const access_names[] = { "aws_access_key_id",
                                              "XVA_S3_ACCESS_KEY", NULL };
  static const char *const secret_names[] = { "aws_secret_access_key",
                                              "XVA_S3_SECRET_KEY", NULL };
  static const char *const region_names[] = { "region", "AWS_REGION",
                                              "AWS_DEFAULT_REGION",
                                              "XVA_S3_REGION", NULL };
  static const char *const endpoint_names[] = { "endpoint_url",
                                                "XVA_S3_ENDPOINT",
                                                "AWS_ENDPOINT_URL", NULL };
  static const char *const token_names[] = { "aws_session_token",
                                             "AWS_SESSION_TOKEN", NULL };
  const char *path = s->credentials;
  const char *profile = getenv ("AWS_PROFILE");
  char *buf = NULL, *line, *next, *eq, *name, *value;
  unsigned lineno = 0;
  int fd = -1, in_section = 0, wanted = 1, rc = XVA_EXIT_FAIL, sections = 0;
  int found_profile = 0;
  struct stat st;
  size_t got = 0, vl;
  ssize_t n;

  if (profile == NULL || profile[0] == '\0')
    profile = "default";
  fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd == -1) {
    Xva_cli_error (cmd, "cannot open the credentials file %s: %s", path,
                   strerror (errno));
    return XVA_EXIT_IO;
  }
  if (fstat (fd, &st) == 0 && S_ISREG (st.st_mode)
      && (st.st_mode & (S_IRWXG | S_IRWXO)) != 0 && st.st_uid == getuid ())
    Xva_cli_warn (cmd,
                  "the credentials file %s can be read by others "
                  "(chmod 600)",
                  path);
  buf = malloc (CRED_FILE_MAX + 1);
  if (buf == NULL) {
    Xva_cli_error (cmd, "out of memory");
    goto out;
  }
  for (;;) {
    n = read (fd, buf + got, CRED_FILE_MAX + 1 - got);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      Xva_cli_error (cmd, "cannot read %s: %s", path, strerror (errno));
      rc = XVA_EXIT_IO;
      goto out;
    }
    if (n == 0)
      break;
    got += (size_t) n;
    if (got > CRED_FILE_MAX) {
      Xva_cli_error (cmd, "%s: the credentials file is larger than 64 KiB",
                     path);
      goto out;
    }
  }
  buf[got] = '\0';
  if (memchr (buf, '\0', got) != NULL) {
    Xva_cli_error (cmd, "%s: not a text file", path);
    goto out;
  }
  for (line = buf; line != NULL; line = next) {
    lineno++;
    next = strchr (line, '\n');
    if (next != NULL)
      *next++ = '\0';
    line = trim (line);
    if (line[0] == '\0' || line[0] == '#' || line[0] == ';')
      continue;
    if (line[0] == '[') {
      char *end = strchr (line, ']');
      if (end == NULL) {
        Xva_cli_error (cmd, "%s:%u: a section name without ']'", path, lineno);
        goto out;
      }
      *end = '\0';
      name = trim (line + 1);
      if (strncmp (name, "profile ", 8) == 0)
        name = trim (name + 8);
      in_section = 1;
      sections++;
      wanted = strcmp (name, profile) == 0;
      found_profile |= wanted;
      continue;
    }
    if (strncmp (line, "export ", 7) == 0)
      line = trim (line + 7);
    eq = strchr (line, '=');
    if (eq == NULL) {
      Xva_cli_error (cmd, "%s:%u: expected NAME=VALUE or [section]", path,
                     lineno);
      goto out;
    }
    *eq = '\0';
    name = trim (line);
    value = trim (eq + 1);
    vl = strlen (value);
    if (vl >= 2 && (value[0] == '"' || value[0] == '\'')
        && value[vl - 1] == value[0]) {
      value[vl - 1] = '\0';
      value++;
    }
    if (strlen (value) > CRED_VALUE_MAX) {
      Xva_cli_error (cmd, "%s:%u: value too long", path, lineno);
      goto out;
    }
    if (in_section && !wanted)
      continue;
    if (name_is (name, access_names)) {
      if (keep_value (&s->file_access, value) == -1)
        goto nomem;
    }
    else if (name_is (name, secret_names)) {
      if (keep_value (&s->file_secret, value) == -1)
        goto nomem;
    }
    else if (name_is (name, region_names)) {
      if (keep_value (&s->file_region, value) == -1)
        goto nomem;
    }
    else if (name_is (name, endpoint_names)) {
      if (keep_value (&s->file_endpoint, value) == -1)
        goto nomem;
    }
    else if (name_is (name, token_names) && value[0] != '\0')
      Xva_cli_warn (cmd,
                    "%s:%u: session tokens are not supported; "
                    "use long-term keys",
                    path, lineno);
    /* Other settings (output, s3 = ..., ...) are not ours. */
  }
  if (s->file_access == NULL || s->file_secret == NULL) {
    if (sections > 0 && !found_profile)
      Xva_cli_error (cmd,
                     "%s: no [%s] section with aws_access_key_id and "
                     "aws_secret_access_key",
                     path, profile);
    else
      Xva_cli_error (cmd,
                     "%s: needs both an access key "
                     "(aws_access_key_id or AWS_ACCESS_KEY_ID) and a secret "
                     "key (aws_secret_access_key or AWS_SECRET_ACCESS_KEY)",
                     path);
    goto out;
  }
  rc = XVA_EXIT_OK;
  goto out;
nomem:
  Xva_cli_error (cmd, "out of memory");
out:
  if (buf != NULL) {
    /* The file held secrets. */
    memset (buf, 0, got < CRED_FILE_MAX + 1 ? got : CRED_FILE_MAX + 1);
    free (buf);
  }
  if (fd != -1)
    close (fd);
  return rc;
}

/* ------------------------------------------------------------------ */
/* Setting up                                                           */

int
Xva_cli_s3_setup (struct xva_cli_s3 *s, const char *cmd)
{
  struct xva_s3_opts *o = &s->opts;
  const char *v;
  uint64_t size;
  unsigned par;
  int rc;

  if (s->ready)
    return XVA_EXIT_OK;
  xva_s3_opts_init (o);
  /* The environment first; the file and the options override it. */
  xva_s3_opts_from_env (o);
  if (s->credentials != NULL) {
    rc = read_credentials (s, cmd);
    if (rc != XVA_EXIT_OK)
      return rc;
    o->access_key = s->file_access;
    o->secret_key = s->file_secret;
    if (s->file_region != NULL && s->file_region[0] != '\0')
      o->region = s->file_region;
    if (s->file_endpoint != NULL && s->file_endpoint[0] != '\0')
      o->endpoint = s->file_endpoint;
  }
  if (s->endpoint != NULL)
    o->endpoint = s->endpoint;
  if (s->region != NULL)
    o->region = s->region;
  if (s->ca_file != NULL)
    o->ca_file = s->ca_file;
  if (s->insecure)
    o->insecure = 1;
  if (s->part_size != 0)
    o->part_size = (size_t) s->part_size;
  else if ((v = getenv ("XVA_S3_PART_SIZE")) != NULL && v[0] != '\0') {
    if (parse_part_size (cmd, "XVA_S3_PART_SIZE", v, &size) == -1)
      return XVA_EXIT_USAGE;
    o->part_size = (size_t) size;
  }
  if (s->parallel != 0)
    o->parallel = s->parallel;
  else if ((v = getenv ("XVA_S3_PARALLEL")) != NULL && v[0] != '\0') {
    if (parse_parallel (cmd, "XVA_S3_PARALLEL", v, &par) == -1)
      return XVA_EXIT_USAGE;
    o->parallel = par;
  }
  if (o->endpoint == NULL || o->endpoint[0] == '\0') {
    Xva_cli_error (cmd,
                   "no S3 endpoint: give --s3-endpoint URL or set "
                   "XVA_S3_ENDPOINT");
    return XVA_EXIT_USAGE;
  }
  if (o->access_key == NULL || o->access_key[0] == '\0'
      || o->secret_key == NULL || o->secret_key[0] == '\0') {
    Xva_cli_error (cmd,
                   "no S3 credentials: give --s3-credentials FILE or "
                   "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY");
    return XVA_EXIT_USAGE;
  }
  if (o->ca_file != NULL && access (o->ca_file, R_OK) != 0) {
    Xva_cli_error (cmd, "cannot read the CA file %s: %s", o->ca_file,
                   strerror (errno));
    return XVA_EXIT_IO;
  }
  s->ready = 1;
  return XVA_EXIT_OK;
}

int
Xva_cli_s3_fail (const char *cmd, int status, const char *msg)
{
  const char *hint = "", *p;

  /* "xva_s3_list: GET ..." -> "GET ...": the command speaks for itself. */
  if (msg != NULL && strncmp (msg, "xva_s3_", 7) == 0) {
    p = msg + 7;
    while ((*p >= 'a' && *p <= 'z') || *p == '_')
      p++;
    if (p[0] == ':' && p[1] == ' ')
      msg = p + 2;
  }

  if (status == XVA_EAUTH)
    hint =
      " (the S3 service refused the credentials: check the access "
      "key, the secret key and the region)";
  else if (status == XVA_ENET)
    hint = " (is the S3 endpoint right and reachable?)";
  Xva_cli_error (cmd, "%s%s", msg != NULL ? msg : xva_strerror (status), hint);
  return Xva_cli_exit_code (status);
}

int
Xva_cli_s3_bucket_url (const char *url, char *out, size_t outsize)
{
  size_t n;

  if (!xva_s3_is_url (url))
    return -1;
  n = 5 + strcspn (url + 5, "/");
  if (n >= outsize)
    return -1;
  memcpy (out, url, n);
  out[n] = '\0';
  return 0;
}

/* Checks the address of an object (a key is needed) and sets s up.
 * Returns an exit code. */
static int
s3_object_setup (struct xva_cli_s3 *s, const char *cmd, const char *url)
{
  char err[1200];

  err[0] = '\0';
  if (xva_s3_url_check (url, 1, err, sizeof err) != XVA_OK) {
    Xva_cli_error (cmd, "%s", err);
    return XVA_EXIT_USAGE;
  }
  return Xva_cli_s3_setup (s, cmd);
}

int
Xva_cli_s3_target_check (struct xva_cli_s3 *s, const char *cmd,
                         const char *url)
{
  char bucket[80], err[1200];
  int rc, status;

  rc = s3_object_setup (s, cmd, url);
  if (rc != XVA_EXIT_OK)
    return rc;
  if (Xva_cli_s3_bucket_url (url, bucket, sizeof bucket) == -1) {
    Xva_cli_error (cmd, "bad address '%s'", url);
    return XVA_EXIT_USAGE;
  }
  err[0] = '\0';
  status = xva_s3_bucket_check (&s->opts, bucket, err, sizeof err);
  if (status != XVA_OK)
    return Xva_cli_s3_fail (cmd, status, err);
  return XVA_EXIT_OK;
}

/* The rest of Xva_cli_s3_last_option, once Xva_cli_s3_option gave s3r
 * for c. */
static int
s3_option_end (const char *cmd, int c, int s3r, int argc, char **argv)
{
  if (s3r == 1)
    return -1;
  if (s3r == -1) {
    Xva_cli_usage_hint (cmd);
    return XVA_EXIT_USAGE;
  }
  return Xva_cli_bad_option (cmd, c, argc, argv);
}

int
Xva_cli_s3_last_option (struct xva_cli_s3 *s, const char *cmd, int c, int argc,
                        char **argv)
{
  return s3_option_end (cmd, c, Xva_cli_s3_option (s, cmd, c, optarg), argc,
                        argv);
}

/* ------------------------------------------------------------------ */
/* The commands that read one archive                                   */

/* Opens path ("-": standard input; "s3://...": an object, setting up s3
 * first).  Prints a message on failure.  Returns an exit code. */
static int
input_open (const char *cmd, const char *path, struct xva_cli_s3 *s3,
            struct xva_cli_input *in)
{
  char bucket[80], err[1200], berr[1200];
  int rc = XVA_EXIT_FAIL, status;

  memset (in, 0, sizeof *in);
  in->fd = -1;
  in->path = path;
  in->shown = strcmp (path, "-") == 0 ? "(standard input)" : path;
  if (!xva_s3_is_url (path)) {
    in->fd = Xva_cli_open_input (cmd, path, &rc);
    return in->fd == -1 ? rc : XVA_EXIT_OK;
  }
  rc = s3_object_setup (s3, cmd, path);
  if (rc != XVA_EXIT_OK)
    return rc;
  err[0] = '\0';
  status = XVA_OK;
  in->dl = xva_s3_download_new (&s3->opts, path, &status, err, sizeof err);
  if (in->dl != NULL)
    return XVA_EXIT_OK;
  /* HEAD cannot tell a missing bucket from a missing key. */
  if (status == XVA_ENOTFOUND
      && Xva_cli_s3_bucket_url (path, bucket, sizeof bucket) == 0) {
    if (xva_s3_bucket_check (&s3->opts, bucket, berr, sizeof berr)
        == XVA_ENOTFOUND)
      Xva_cli_error (cmd, "no such bucket: %s", bucket);
    else
      Xva_cli_error (cmd, "no such object: %s", path);
    return XVA_EXIT_NOTFOUND;
  }
  return Xva_cli_s3_fail (cmd, status, err);
}

void
Xva_cli_read_init (struct xva_cli_read *rd, const char *cmd, const char *usage)
{
  memset (rd, 0, sizeof *rd);
  rd->cmd = cmd;
  rd->usage = usage;
  rd->in.fd = -1;
  Xva_cli_s3_init (&rd->s3);
}

int
Xva_cli_read_getopt (struct xva_cli_read *rd, int argc, char **argv,
                     const char *shortopts, const struct option *longopts,
                     int *rc)
{
  int c, s3r;

  *rc = -1;
  opterr = 0;
  while ((c = getopt_long (argc, argv, shortopts, longopts, NULL)) != -1) {
    switch (c) {
    case 'q':
      rd->quiet = 1;
      break;
    case 'T':
      if (Xva_cli_threads_option (rd->cmd, optarg, &rd->threads) != 0) {
        *rc = XVA_EXIT_USAGE;
        return -1;
      }
      break;
    case 'h':
      fputs (rd->usage, stdout);
      *rc = XVA_EXIT_OK;
      return -1;
    default:
      s3r = Xva_cli_s3_option (&rd->s3, rd->cmd, c, optarg);
      if (s3r == 0 && c != '?' && c != ':')
        return c; /* the command's own */
      *rc = s3_option_end (rd->cmd, c, s3r, argc, argv);
      if (*rc != -1)
        return -1;
    }
  }
  return -1;
}

int
Xva_cli_read_start (struct xva_cli_read *rd, int argc, char **argv,
                    unsigned flags, struct xva_sink_io io)
{
  struct xva_reader_opts ro;
  int rc, status = XVA_OK;

  if (argc - optind > 1)
    return Xva_cli_usage_error (rd->cmd, "too many arguments");
  rc = input_open (rd->cmd, optind < argc ? argv[optind] : "-", &rd->s3,
                   &rd->in);
  if (rc != XVA_EXIT_OK)
    return rc;
  xva_reader_opts_init (&ro);
  ro.force = (flags & XVA_CLI_READ_FORCE) != 0;
  ro.mode = XVA_READ_ANY;
  ro.require_end = (flags & XVA_CLI_READ_WHOLE) != 0;
  ro.threads = rd->threads;
  rd->r = xva_reader_new (&ro, io, &status);
  if (rd->r == NULL) {
    Xva_cli_error (rd->cmd, "cannot start reading: %s", xva_strerror (status));
    return Xva_cli_exit_code (status);
  }
  return XVA_EXIT_OK;
}

/* An S3 object for Xva_cli_feed; a failure goes to *src_exit and msg. */
struct s3_source {
  struct xva_s3_download *dl;
  int *src_exit;
  char *msg;
  size_t msglen;
};

static int
read_s3 (void *opaque, void *buf, size_t len, size_t *got)
{
  struct s3_source *src = opaque;
  int s = xva_s3_download_read (src->dl, buf, len, got);

  if (s < 0) {
    *src->src_exit = Xva_cli_exit_code (s);
    snprintf (src->msg, src->msglen, "%s", xva_s3_download_errmsg (src->dl));
  }
  return s;
}

int
Xva_cli_read_run (struct xva_cli_read *rd)
{
  struct xva_cli_progress pg;
  struct s3_source src;
  uint64_t total = 0;
  int read_errno = 0;

  rd->src_exit = 0;
  rd->msg[0] = '\0';
  Xva_cli_progress_start (&pg, !rd->quiet);
  if (rd->in.dl != NULL) {
    src.dl = rd->in.dl;
    src.src_exit = &rd->src_exit;
    src.msg = rd->msg;
    src.msglen = sizeof rd->msg;
    rd->status = Xva_cli_feed (rd->r, &pg, read_s3, &src, &total);
  }
  else
    rd->status = Xva_cli_read_archive (rd->in.fd, rd->r, &pg, &read_errno,
                                       NULL);
  Xva_cli_progress_end (&pg);
  if (read_errno == XVA_CLI_ESHRUNK) {
    rd->src_exit = XVA_EXIT_IO;
    snprintf (rd->msg, sizeof rd->msg,
              "cannot read %s: the file was cut short (by "
              "another program) while it was read",
              rd->in.shown);
  }
  else if (read_errno != 0) {
    rd->src_exit = XVA_EXIT_IO;
    snprintf (rd->msg, sizeof rd->msg, "cannot read %s: %s", rd->in.shown,
              strerror (read_errno));
  }
  return rd->status;
}

int
Xva_cli_read_fail (const struct xva_cli_read *rd, int archive_exit)
{
  int rc;

  if (rd->src_exit != 0) {
    if (rd->in.dl != NULL)
      return Xva_cli_s3_fail (rd->cmd, rd->status, rd->msg);
    Xva_cli_error (rd->cmd, "%s", rd->msg);
    return rd->src_exit;
  }
  if (rd->status == XVA_ECANCELLED && Xva_cli_interrupted ()) {
    Xva_cli_error (rd->cmd, "interrupted");
    return XVA_EXIT_FAIL;
  }
  Xva_cli_error (rd->cmd, "%s: %s", rd->in.shown, xva_reader_errmsg (rd->r));
  rc = Xva_cli_exit_code (rd->status);
  return rc == XVA_EXIT_OK || rc == XVA_EXIT_FAIL ? archive_exit : rc;
}

void
Xva_cli_read_free (struct xva_cli_read *rd)
{
  if (rd == NULL)
    return;
  xva_reader_free (rd->r);
  rd->r = NULL;
  xva_s3_download_free (rd->in.dl);
  rd->in.dl = NULL;
  if (rd->in.fd > STDIN_FILENO)
    close (rd->in.fd);
  rd->in.fd = -1;
  Xva_cli_s3_free (&rd->s3);
}
