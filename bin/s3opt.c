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
Xva_cli_s3_target_check (struct xva_cli_s3 *s, const char *cmd,
                         const char *url)
{
  char bucket[80], err[1200];
  size_t n;
  int rc, status;

  err[0] = '\0';
  if (xva_s3_url_check (url, 1, err, sizeof err) != XVA_OK) {
    Xva_cli_error (cmd, "%s", err);
    return XVA_EXIT_USAGE;
  }
  rc = Xva_cli_s3_setup (s, cmd);
  if (rc != XVA_EXIT_OK)
    return rc;
  n = 5 + strcspn (url + 5, "/");
  if (n >= sizeof bucket) {
    Xva_cli_error (cmd, "bad address '%s'", url);
    return XVA_EXIT_USAGE;
  }
  memcpy (bucket, url, n);
  bucket[n] = '\0';
  err[0] = '\0';
  status = xva_s3_bucket_check (&s->opts, bucket, err, sizeof err);
  if (status != XVA_OK)
    return Xva_cli_s3_fail (cmd, status, err);
  return XVA_EXIT_OK;
}

/* ------------------------------------------------------------------ */
/* Archive input                                                        */

int
Xva_cli_input_open (const char *cmd, const char *path, struct xva_cli_s3 *s3,
                    struct xva_cli_input *in)
{
  char err[1200];
  int rc = XVA_EXIT_FAIL, status;

  memset (in, 0, sizeof *in);
  in->fd = -1;
  in->path = path;
  in->shown = strcmp (path, "-") == 0 ? "(standard input)" : path;
  if (!xva_s3_is_url (path)) {
    in->fd = Xva_cli_open_input (cmd, path, &rc);
    return in->fd == -1 ? rc : XVA_EXIT_OK;
  }
  err[0] = '\0';
  if (xva_s3_url_check (path, 1, err, sizeof err) != XVA_OK) {
    Xva_cli_error (cmd, "%s", err);
    return XVA_EXIT_USAGE;
  }
  rc = Xva_cli_s3_setup (s3, cmd);
  if (rc != XVA_EXIT_OK)
    return rc;
  status = XVA_OK;
  in->dl = xva_s3_download_new (&s3->opts, path, &status, err, sizeof err);
  if (in->dl != NULL)
    return XVA_EXIT_OK;
  if (status == XVA_ENOTFOUND) {
    /* HEAD cannot tell a missing bucket from a missing key. */
    char bucket[80], berr[1200];
    size_t n = 5 + strcspn (path + 5, "/");
    if (n < sizeof bucket) {
      memcpy (bucket, path, n);
      bucket[n] = '\0';
      if (xva_s3_bucket_check (&s3->opts, bucket, berr, sizeof berr)
          == XVA_ENOTFOUND)
        Xva_cli_error (cmd, "no such bucket: %s", bucket);
      else
        Xva_cli_error (cmd, "no such object: %s", path);
      return XVA_EXIT_NOTFOUND;
    }
  }
  return Xva_cli_s3_fail (cmd, status, err);
}

/* Reads an S3 object into r. */
static int
read_s3 (struct xva_cli_input *in, struct xva_reader *r,
         struct xva_cli_progress *pg, int *src_exit, char *msg, size_t msglen)
{
  struct xva_progress p;
  struct xva_in xin;
  unsigned char *buf;
  uint64_t total = 0;
  size_t got;
  int s;

  buf = malloc (XVA_CLI_READ_SIZE);
  if (buf == NULL)
    return XVA_ENOMEM;
  for (;;) {
    if (Xva_cli_interrupted ()) {
      s = XVA_ECANCELLED;
      goto out;
    }
    got = 0;
    s = xva_s3_download_read (in->dl, buf, XVA_CLI_READ_SIZE, &got);
    if (s < 0) {
      *src_exit = Xva_cli_exit_code (s);
      snprintf (msg, msglen, "%s", xva_s3_download_errmsg (in->dl));
      goto out;
    }
    if (s == XVA_EOF || got == 0)
      break;
    total += got;
    xin.src = buf;
    xin.size = got;
    xin.pos = 0;
    s = xva_reader_feed (r, &xin);
    if (pg != NULL) {
      xva_reader_progress (r, &p);
      Xva_cli_progress_update (pg, total, &p);
    }
    if (s == XVA_EOF)
      break;
    if (s < 0)
      goto out;
  }
  s = xva_reader_finish (r);
out:
  free (buf);
  return s;
}

int
Xva_cli_input_read (struct xva_cli_input *in, struct xva_reader *r,
                    struct xva_cli_progress *pg, int *src_exit, char *msg,
                    size_t msglen)
{
  int read_errno = 0, s;

  *src_exit = 0;
  if (msglen > 0)
    msg[0] = '\0';
  if (in->dl != NULL)
    return read_s3 (in, r, pg, src_exit, msg, msglen);
  s = Xva_cli_read_archive (in->fd, r, pg, &read_errno, NULL);
  if (read_errno == XVA_CLI_ESHRUNK) {
    *src_exit = XVA_EXIT_IO;
    snprintf (msg, msglen,
              "cannot read %s: the file was cut short (by "
              "another program) while it was read",
              in->shown);
  }
  else if (read_errno != 0) {
    *src_exit = XVA_EXIT_IO;
    snprintf (msg, msglen, "cannot read %s: %s", in->shown,
              strerror (read_errno));
  }
  return s;
}

void
Xva_cli_input_close (struct xva_cli_input *in)
{
  if (in == NULL)
    return;
  xva_s3_download_free (in->dl);
  in->dl = NULL;
  if (in->fd > STDIN_FILENO)
    close (in->fd);
  in->fd = -1;
}

int
Xva_cli_input_option (const char *cmd, struct xva_cli_s3 *s3, int c, int argc,
                      char **argv)
{
  int r = Xva_cli_s3_option (s3, cmd, c, optarg);

  if (r == 1)
    return -1;
  if (r == -1) {
    Xva_cli_usage_hint (cmd);
    return XVA_EXIT_USAGE;
  }
  return Xva_cli_bad_option (cmd, c, argc, argv);
}

int
Xva_cli_input_operand (const char *cmd, int argc, char **argv,
                       struct xva_cli_s3 *s3, struct xva_cli_input *in)
{
  if (argc - optind > 1) {
    Xva_cli_error (cmd, "too many arguments");
    Xva_cli_usage_hint (cmd);
    return XVA_EXIT_USAGE;
  }
  return Xva_cli_input_open (cmd, optind < argc ? argv[optind] : "-", s3, in);
}

struct xva_reader *
Xva_cli_reader_new (const char *cmd, const struct xva_reader_opts *ro,
                    struct xva_sink_io io, int *rc)
{
  struct xva_reader *r;
  int status = XVA_OK;

  r = xva_reader_new (ro, io, &status);
  if (r == NULL) {
    Xva_cli_error (cmd, "cannot start reading: %s", xva_strerror (status));
    *rc = Xva_cli_exit_code (status);
  }
  return r;
}
