/* Shared helpers of the network commands (`xva export`, `xva import`,
 * `xva copy`): host options, credentials (--password-file, XVA_USER /
 * XVA_PASSWORD, ~/.netrc), progress on a terminal, JSON summaries and
 * exit codes. */
#ifndef XVA_BIN_REMOTE_H
#define XVA_BIN_REMOTE_H

#include <getopt.h>
#include <stdio.h>

#include "cli.h"
#include "s3opt.h"
#include "../client/transfer.h"

int Xva_cmd_export (int argc, char **argv);
int Xva_cmd_import (int argc, char **argv);
int Xva_cmd_copy (int argc, char **argv);

/* Option codes shared by the network commands. */
enum {
  XVA_ROPT_URL = 400,
  XVA_ROPT_USER,
  XVA_ROPT_PASSWORD_FILE,
  XVA_ROPT_SESSION,
  XVA_ROPT_CACERT,
  XVA_ROPT_INSECURE,
  XVA_ROPT_JSON,
  XVA_ROPT_TASK_ID,
  XVA_ROPT_COMPRESS,
  XVA_ROPT_UUID, /* the VM: --uuid, --ref or --name */
  XVA_ROPT_REF,
  XVA_ROPT_NAME,
};

/* clang-format off */
#define XVA_REMOTE_COMMON_OPTIONS \
  { "user", required_argument, NULL, XVA_ROPT_USER }, \
  { "password-file", required_argument, NULL, XVA_ROPT_PASSWORD_FILE }, \
  { "session", required_argument, NULL, XVA_ROPT_SESSION }, \
  { "cacert", required_argument, NULL, XVA_ROPT_CACERT }, \
  { "insecure", no_argument, NULL, XVA_ROPT_INSECURE }, \
  { "json", no_argument, NULL, XVA_ROPT_JSON }, \
  { "quiet", no_argument, NULL, 'q' }, \
  { "help", no_argument, NULL, 'h' }

/* The options of a command that talks to one host (--url) and may read
 * or write an S3 object: the common ones, --task-id and the S3 ones. */
#define XVA_REMOTE_HOST_OPTIONS \
  { "url", required_argument, NULL, XVA_ROPT_URL }, \
  { "task-id", required_argument, NULL, XVA_ROPT_TASK_ID }, \
  XVA_REMOTE_COMMON_OPTIONS, \
  XVA_CLI_S3_NET_OPTIONS
/* clang-format on */

/* The help text of the common options. */
#define XVA_REMOTE_COMMON_HELP                                                \
  "      --user NAME           user to log in as (default: XVA_USER, the\n"   \
  "                            login of ~/.netrc, else root)\n"               \
  "      --password-file F     read the password from the first line of F\n"  \
  "                            (else XVA_PASSWORD, else ~/.netrc)\n"          \
  "      --session REF         use this session: no login, no logout\n"       \
  "      --cacert F            trust the CA certificates in F (PEM)\n"        \
  "      --insecure            do not verify the host's TLS certificate\n"    \
  "      --json                print a one-line JSON summary\n"               \
  "  -q, --quiet               no progress display and no warnings\n"         \
  "  -h, --help                show this help\n"

#define XVA_REMOTE_EXIT_HELP                                                  \
  "Exit status: 0 success, 1 other failure, 2 bad usage, 3 invalid\n"         \
  "archive, 4 local I/O error (or no space), 5 authentication failed,\n"      \
  "6 VM or SR not found, 7 network failure, 8 the host failed the task.\n"

/* The --help of a command with XVA_REMOTE_HOST_OPTIONS: the start of its
 * options... */
#define XVA_REMOTE_HOST_HELP_START                                            \
  "URL is http://HOST[:PORT], https://HOST[:PORT] or unix:PATH.\n"            \
  "\n"                                                                        \
  "Options:\n"                                                                \
  "      --url URL             the host\n"

/* ...and, after its own options, the end. */
#define XVA_REMOTE_HOST_HELP_END                                              \
  XVA_REMOTE_COMMON_HELP "\n" XVA_CLI_S3_NET_HELP "\n" XVA_REMOTE_EXIT_HELP

/* One host as given on the command line. */
struct xva_remote_side {
  const char *url;
  const char *user;                  /* option */
  const char *password_file;         /* option */
  const char *session;               /* option */
  const char *user_env;              /* name of the user variable */
  const char *password_env;          /* name of the password variable */
  const char *fallback_user_env;     /* or NULL */
  const char *fallback_password_env; /* or NULL */
  char *password; /* resolved (malloc'd, wiped at the end) */
  char *login;    /* resolved user (malloc'd) */
};

/* What every network command shares. */
struct xva_remote {
  const char *cmd;
  const char *usage; /* the --help text */
  /* The common options: */
  const char *cacert;
  int insecure;
  int quiet;
  int json;
  const char *task_id; /* --task-id */
  int compress;        /* --compress (enum xva_compress) */
  const char *uuid;    /* the VM: --uuid, */
  const char *ref;     /* --ref */
  const char *name;    /* or --name */
  unsigned nvm;        /* how many of these were given */
  struct xva_cli_s3 s3;
  /* The transfer: */
  struct xva_cli_progress pg; /* start time; display enabled or not */
  struct Xva_client_cb cb;
  struct Xva_client_result res;
};

/* Starts r: no options yet, an empty result.  Free with
 * Xva_remote_free. */
void Xva_remote_init (struct xva_remote *r, const char *cmd,
                      const char *usage);
void Xva_remote_side_init (struct xva_remote_side *s, const char *user_env,
                           const char *password_env);
/* getopt_long over argv, taking the common options (the side gets
 * --url, --user, --password-file and --session), --task-id,
 * --compress, --uuid, --ref, --name, --help and the S3 options, and
 * reporting bad ones.
 * Returns the next option of the command's own, or -1 with *rc set: -1
 * at the end of the options, else the exit code to return now (after
 * --help or a usage error). */
int Xva_remote_getopt (struct xva_remote *r, struct xva_remote_side *s,
                       int argc, char **argv, const char *shortopts,
                       const struct option *longopts, int *rc);
/* When path is an s3:// address, sets S3 up for the transfer (and, for
 * an output, checks the address, the bucket and the keys first).
 * Prints what is wrong.  Returns an exit code. */
int Xva_remote_s3 (struct xva_remote *r, const char *path, int output);
/* Fills h from the side and the common options: the URL (checked),
 * credentials, retries (XVA_RETRY_TRIES, XVA_RETRY_DELAY_MS) and task
 * wait (XVA_TASK_WAIT).  Prints a message and returns an exit code on
 * failure, XVA_EXIT_OK otherwise. */
int Xva_remote_host (struct xva_remote *r, struct xva_remote_side *s,
                     struct Xva_client_host *h);
/* Frees and wipes what Xva_remote_host resolved. */
void Xva_remote_side_clear (struct xva_remote_side *s);
/* The callbacks of the transfer (valid while r is): progress on a
 * terminal unless quiet (timed from now), warnings on stderr unless
 * quiet, stop on SIGINT / SIGTERM / SIGHUP. */
const struct Xva_client_cb *Xva_remote_callbacks (struct xva_remote *r);
/* After the transfer into r->res: clears the progress line, then on
 * failure prints it ("xva CMD: msg"; with --json also a one-line
 * {"error": ...} on standard output) and returns its exit code; on
 * success prints the JSON summary with --json ({"vm_uuid"?,
 * "vm_uuids"?, "file"?, "bytes", "seconds", "checksum"}; which: 1
 * vm_uuid, 2 vm_uuids, 4 file), else the new VMs' uuids, one a line,
 * when which has 2.  Returns XVA_EXIT_OK then. */
int Xva_remote_finish (struct xva_remote *r, unsigned which);
/* Frees the result and the S3 settings.  r may be NULL. */
void Xva_remote_free (struct xva_remote *r);

#endif /* XVA_BIN_REMOTE_H */
