/* xva ls: the backups on object storage under a prefix, from their
 * metadata (one HEAD per object; nothing is downloaded). */
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backup.h"
#include "cli.h"
#include "s3opt.h"

#define CMD "ls"

enum {
  OPT_JSON = 256,
  OPT_ALL,
  OPT_PENDING,
  OPT_ABORT_PENDING,
  OPT_OLDER_THAN,
};

static const struct option long_options[] = {
  { "json", no_argument, NULL, OPT_JSON },
  { "all", no_argument, NULL, OPT_ALL },
  { "pending", no_argument, NULL, OPT_PENDING },
  { "abort-pending", no_argument, NULL, OPT_ABORT_PENDING },
  { "older-than", required_argument, NULL, OPT_OLDER_THAN },
  { "quiet", no_argument, NULL, 'q' },
  { "help", no_argument, NULL, 'h' },
  XVA_CLI_S3_OPTIONS,
  { NULL, 0, NULL, 0 },
};

/* clang-format off */
static const char usage_text[] =
  "Usage: xva ls [OPTIONS] s3://BUCKET[/PREFIX]\n"
  "\n"
  "Lists the backups (archives written by xva) whose key starts with\n"
  "PREFIX, one per line: the date of the backup, the archive's size,\n"
  "the VM's name and the object's address.  What is shown comes from\n"
  "each object's metadata (one HEAD request each); nothing is\n"
  "downloaded.  Unfinished uploads (of a pack that was killed) are\n"
  "never objects; a warning tells when some exist.\n"
  "\n"
  "Options:\n"
  "      --json            print one JSON array (see README.md)\n"
  "      --all             also list objects that are not complete\n"
  "                        backups (their name is shown as '-')\n"
  "      --pending         list the unfinished multipart uploads\n"
  "                        instead: start time, address, upload id\n"
  "      --abort-pending   abort the unfinished uploads started more\n"
  "                        than --older-than ago, freeing their space\n"
  "      --older-than=SECS with --abort-pending (default 3600; 0 also\n"
  "                        aborts uploads that may still be running)\n"
  "  -q, --quiet           no warnings\n"
  "  -h, --help            show this help\n"
  "\n"
  XVA_CLI_S3_HELP
  "\n"
  "Exit status: 0 success, 2 bad usage, 5 S3 credentials refused,\n"
  "6 no such bucket, 7 network failure, 8 other S3 failure.\n";
/* clang-format on */

struct ls_options {
  const char *url;
  int json;
  int all;
  int pending;
  int abort_pending;
  uint64_t older_than;
  int quiet;
  struct xva_cli_s3 s3;
};

static void
iso_time (int64_t t, char *buf, size_t len)
{
  struct tm tm;
  time_t tt = (time_t) t;

  if (t < 0 || gmtime_r (&tt, &tm) == NULL) {
    snprintf (buf, len, "-");
    return;
  }
  strftime (buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Prints the value of a decimal metadata field as a JSON number, or
 * null. */
static void
json_number (const char *v)
{
  uint64_t n;

  if (v != NULL && Xva_cli_parse_uint (v, 0, UINT64_MAX, &n) == 0)
    printf ("%" PRIu64, n);
  else
    fputs ("null", stdout);
}

static int
is_backup (const struct xva_s3_listing *l, size_t i)
{
  const char *c = xva_s3_listing_meta (l, i, XVA_BACKUP_META_COMPLETE);

  return c != NULL && strcmp (c, "true") == 0
         && xva_s3_listing_meta (l, i, XVA_BACKUP_META_NAME) != NULL;
}

static void
print_objects (const struct ls_options *o, const struct xva_s3_listing *l)
{
  const char *bucket = xva_s3_listing_bucket (l);
  const char *key, *date, *v;
  char name[1100], mtime[32], size[32], url[1200];
  size_t i, shown = 0;
  int backup;

  if (o->json)
    fputc ('[', stdout);
  for (i = 0; i < xva_s3_listing_count (l); i++) {
    key = xva_s3_listing_key (l, i);
    backup = is_backup (l, i);
    if (key == NULL || (!backup && !o->all))
      continue;
    iso_time (xva_s3_listing_mtime (l, i), mtime, sizeof mtime);
    date = xva_s3_listing_meta (l, i, XVA_BACKUP_META_DATE);
    v = xva_s3_listing_meta (l, i, XVA_BACKUP_META_NAME);
    if (v != NULL)
      Xva_cli_meta_decode (v, name, sizeof name);
    if (o->json) {
      snprintf (url, sizeof url, "s3://%s/%s", bucket, key);
      printf ("%s\n{\"url\":", shown > 0 ? "," : "");
      Xva_cli_json_string (stdout, url);
      printf (",\"bucket\":");
      Xva_cli_json_string (stdout, bucket);
      printf (",\"key\":");
      Xva_cli_json_string (stdout, key);
      printf (",\"backup\":%s", backup ? "true" : "false");
      printf (",\"name\":");
      Xva_cli_json_string (stdout, v != NULL ? name : NULL);
      printf (",\"uuid\":");
      Xva_cli_json_string (stdout,
                           xva_s3_listing_meta (l, i, XVA_BACKUP_META_UUID));
      printf (",\"date\":");
      Xva_cli_json_string (stdout, date);
      printf (",\"size\":%" PRIu64, xva_s3_listing_size (l, i));
      printf (",\"disk_size\":");
      json_number (xva_s3_listing_meta (l, i, XVA_BACKUP_META_SIZE));
      printf (",\"disks\":");
      json_number (xva_s3_listing_meta (l, i, XVA_BACKUP_META_DISKS));
      printf (",\"checksum\":");
      Xva_cli_json_string (stdout,
                           xva_s3_listing_meta (l, i,
                                                XVA_BACKUP_META_CHECKSUM));
      printf (",\"compression\":");
      Xva_cli_json_string (stdout,
                           xva_s3_listing_meta (l, i,
                                                XVA_BACKUP_META_COMPRESS));
      printf (",\"last_modified\":");
      Xva_cli_json_string (stdout, mtime);
      fputc ('}', stdout);
    }
    else {
      printf ("%-20s  %10s  ", date != NULL ? date : mtime,
              Xva_cli_human_bytes (xva_s3_listing_size (l, i), size,
                                   sizeof size));
      Xva_cli_print_safe (stdout, backup && v != NULL ? name : "-");
      printf ("  s3://%s/", bucket);
      Xva_cli_print_safe (stdout, key);
      fputc ('\n', stdout);
    }
    shown++;
  }
  if (o->json)
    fputs (shown > 0 ? "\n]\n" : "]\n", stdout);
}

/* --pending and --abort-pending.  Returns an exit code. */
static int
pending (struct ls_options *o)
{
  struct xva_s3_listing *l = NULL;
  const char *bucket, *key, *id;
  char err[1200], when[32], *url = NULL;
  int64_t t, now = (int64_t) time (NULL);
  size_t i, aborted = 0;
  int status, rc = XVA_EXIT_OK, first_fail = XVA_OK;

  err[0] = '\0';
  status = xva_s3_list (&o->s3.opts, o->url, XVA_S3_LIST_PENDING, &l, err,
                        sizeof err);
  if (status != XVA_OK)
    return Xva_cli_s3_fail (CMD, status, err);
  bucket = xva_s3_listing_bucket (l);
  if (o->json && !o->abort_pending)
    fputc ('[', stdout);
  for (i = 0; i < xva_s3_listing_count (l); i++) {
    key = xva_s3_listing_key (l, i);
    id = xva_s3_listing_upload_id (l, i);
    t = xva_s3_listing_mtime (l, i);
    if (key == NULL || id == NULL)
      continue;
    iso_time (t, when, sizeof when);
    if (!o->abort_pending) {
      if (o->json) {
        printf ("%s\n{\"bucket\":", i > 0 ? "," : "");
        Xva_cli_json_string (stdout, bucket);
        printf (",\"key\":");
        Xva_cli_json_string (stdout, key);
        printf (",\"upload_id\":");
        Xva_cli_json_string (stdout, id);
        printf (",\"initiated\":");
        Xva_cli_json_string (stdout, when);
        fputc ('}', stdout);
      }
      else {
        printf ("%-20s  s3://%s/", when, bucket);
        Xva_cli_print_safe (stdout, key);
        fputs ("  ", stdout);
        Xva_cli_print_safe (stdout, id);
        fputc ('\n', stdout);
      }
      continue;
    }
    /* Unknown start times are never old enough. */
    if (t < 0 || now - t < (int64_t) o->older_than)
      continue;
    free (url);
    url = malloc (strlen (bucket) + strlen (key) + 8);
    if (url == NULL) {
      Xva_cli_error (CMD, "out of memory");
      rc = XVA_EXIT_FAIL;
      goto out;
    }
    snprintf (url, strlen (bucket) + strlen (key) + 8, "s3://%s/%s", bucket,
              key);
    err[0] = '\0';
    status = xva_s3_abort_pending (&o->s3.opts, url, id, err, sizeof err);
    if (status != XVA_OK) {
      Xva_cli_error (CMD, "%s", err);
      if (first_fail == XVA_OK)
        first_fail = status;
      continue;
    }
    aborted++;
    printf ("aborted  %-20s  ", when);
    Xva_cli_print_safe (stdout, url);
    fputc ('\n', stdout);
  }
  if (o->json && !o->abort_pending)
    fputs (xva_s3_listing_count (l) > 0 ? "\n]\n" : "]\n", stdout);
  if (first_fail != XVA_OK)
    rc = Xva_cli_exit_code (first_fail);
out:
  free (url);
  xva_s3_listing_free (l);
  return rc;
}

/* Warns when unfinished uploads exist under the prefix (best effort). */
static void
warn_pending (struct ls_options *o)
{
  struct xva_s3_listing *l = NULL;
  size_t n;

  if (xva_s3_list (&o->s3.opts, o->url, XVA_S3_LIST_PENDING, &l, NULL, 0)
      != XVA_OK)
    return;
  n = xva_s3_listing_count (l);
  if (n > 0)
    Xva_cli_warn (CMD,
                  "%zu unfinished upload%s under %s (of a run that "
                  "was killed?); 'xva ls --pending' lists %s, "
                  "'--abort-pending' frees %s",
                  n, n == 1 ? "" : "s", o->url, n == 1 ? "it" : "them",
                  n == 1 ? "it" : "them");
  xva_s3_listing_free (l);
}

int
Xva_cmd_ls (int argc, char **argv)
{
  struct ls_options o;
  struct xva_s3_listing *l = NULL;
  char err[1200];
  int c, rc, status;

  memset (&o, 0, sizeof o);
  Xva_cli_s3_init (&o.s3);
  o.older_than = 3600;
  opterr = 0;
  while ((c = getopt_long (argc, argv, ":qh", long_options, NULL)) != -1) {
    switch (c) {
    case OPT_JSON:
      o.json = 1;
      break;
    case OPT_ALL:
      o.all = 1;
      break;
    case OPT_PENDING:
      o.pending = 1;
      break;
    case OPT_ABORT_PENDING:
      o.abort_pending = 1;
      break;
    case OPT_OLDER_THAN:
      if (Xva_cli_parse_uint (optarg, 0, (uint64_t) INT32_MAX, &o.older_than)
          != 0)
        return Xva_cli_usage_error (CMD, "bad --older-than '%s' (seconds)",
                                    optarg);
      break;
    case 'q':
      o.quiet = 1;
      break;
    case 'h':
      fputs (usage_text, stdout);
      return XVA_EXIT_OK;
    default:
      rc = Xva_cli_s3_last_option (&o.s3, CMD, c, argc, argv);
      if (rc != -1)
        return rc;
    }
  }
  if (optind >= argc)
    return Xva_cli_usage_error (CMD, "no s3://BUCKET[/PREFIX] given");
  if (argc - optind > 1)
    return Xva_cli_usage_error (CMD, "too many arguments");
  o.url = argv[optind];
  err[0] = '\0';
  if (!xva_s3_is_url (o.url)
      || xva_s3_url_check (o.url, 0, err, sizeof err) != XVA_OK)
    return Xva_cli_usage_error (
      CMD, "%s",
      err[0] != '\0' ? err : "expected an s3://BUCKET[/PREFIX] address");
  rc = Xva_cli_s3_setup (&o.s3, CMD);
  if (rc != XVA_EXIT_OK)
    goto out;
  if (o.pending || o.abort_pending) {
    rc = pending (&o);
    goto out;
  }
  err[0] = '\0';
  status = xva_s3_list (&o.s3.opts, o.url, XVA_S3_LIST_META, &l, err,
                        sizeof err);
  if (status != XVA_OK) {
    rc = Xva_cli_s3_fail (CMD, status, err);
    goto out;
  }
  print_objects (&o, l);
  if (!o.quiet)
    warn_pending (&o);
  rc = XVA_EXIT_OK;
out:
  xva_s3_listing_free (l);
  Xva_cli_s3_free (&o.s3);
  return rc;
}
