/* Shared helpers of the network commands (`xva export`, `xva import`,
 * `xva copy`): host options, credentials (--password-file, XVA_USER /
 * XVA_PASSWORD, ~/.netrc), progress on a terminal, JSON summaries and
 * exit codes. */
#ifndef XVA_BIN_REMOTE_H
#define XVA_BIN_REMOTE_H

#include <getopt.h>
#include <stdio.h>

#include "cli.h"
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
  const char *cacert;
  int insecure;
  int quiet;
  int json;
  struct xva_cli_progress pg; /* start time; display enabled or not */
  int shown;
  double last;
  size_t width;
};

void Xva_remote_init (struct xva_remote *r, const char *cmd);
void Xva_remote_side_init (struct xva_remote_side *s, const char *user_env,
                           const char *password_env);
/* Handles a common option; 1 if it was one (the side gets --user,
 * --password-file and --session), 0 if not. */
int Xva_remote_option (struct xva_remote *r, struct xva_remote_side *s, int c,
                       const char *arg);
/* Parses --compress ALG into *out; 0 or -1 (message printed). */
int Xva_remote_parse_compress (const struct xva_remote *r, const char *arg,
                               int *out);
/* Fills h from the side and the common options: the URL (checked),
 * credentials, retries (XVA_RETRY_TRIES, XVA_RETRY_DELAY_MS) and task
 * wait (XVA_TASK_WAIT).  Prints a message and returns an exit code on
 * failure, XVA_EXIT_OK otherwise. */
int Xva_remote_host (struct xva_remote *r, struct xva_remote_side *s,
                     struct Xva_client_host *h);
/* Frees and wipes what Xva_remote_host resolved. */
void Xva_remote_side_clear (struct xva_remote_side *s);
/* Callbacks: progress on a terminal unless quiet, warnings on stderr
 * unless quiet, stop on SIGINT / SIGTERM / SIGHUP. */
void Xva_remote_callbacks (struct xva_remote *r, struct Xva_client_cb *cb);
/* Clears the progress line. */
void Xva_remote_progress_end (struct xva_remote *r);
/* Prints the failure ("xva CMD: msg") and returns its exit code; with
 * --json also a one-line {"error": ...} on standard output. */
int Xva_remote_fail (struct xva_remote *r,
                     const struct Xva_client_result *res);
/* The exit code of a status. */
int Xva_remote_exit_code (int status);
/* The JSON summary: {"vm_uuid"?, "vm_uuids"?, "file"?, "bytes",
 * "seconds", "checksum"}.  which: 1 vm_uuid, 2 vm_uuids, 4 file. */
void Xva_remote_json (FILE *f, const struct Xva_client_result *res,
                      unsigned which);

#endif /* XVA_BIN_REMOTE_H */
