/* Object storage in the `xva` command: the S3 options every command
 * shares, the credentials file, and archive input from a file, a pipe
 * or an s3:// object.  Uses only the public API. */
#ifndef XVA_BIN_S3OPT_H
#define XVA_BIN_S3OPT_H

#include <getopt.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <xva/xva.h>

#include "cli.h"

/* getopt_long values of the S3 options (above every command's own). */
enum {
  XVA_CLI_OPT_S3_ENDPOINT = 0x1000,
  XVA_CLI_OPT_S3_CREDENTIALS,
  XVA_CLI_OPT_S3_REGION,
  XVA_CLI_OPT_S3_PART_SIZE,
  XVA_CLI_OPT_S3_PARALLEL,
  XVA_CLI_OPT_CACERT,
  XVA_CLI_OPT_INSECURE,
  XVA_CLI_OPT_S3_CACERT,
  XVA_CLI_OPT_S3_INSECURE,
};

/* Entries for a command's struct option table: the S3 options of a
 * command that talks to nothing else (--cacert and --insecure are about
 * the S3 service)... */
/* clang-format off */
#define XVA_CLI_S3_OPTIONS                                                  \
  XVA_CLI_S3_NET_OPTIONS,                                                   \
  { "cacert", required_argument, NULL, XVA_CLI_OPT_CACERT },                \
  { "insecure", no_argument, NULL, XVA_CLI_OPT_INSECURE }

/* ...and of a network command, whose --cacert and --insecure are about
 * its host: --s3-cacert and --s3-insecure then. */
#define XVA_CLI_S3_NET_OPTIONS                                              \
  { "s3-endpoint", required_argument, NULL, XVA_CLI_OPT_S3_ENDPOINT },      \
  { "s3-credentials", required_argument, NULL, XVA_CLI_OPT_S3_CREDENTIALS },\
  { "s3-region", required_argument, NULL, XVA_CLI_OPT_S3_REGION },          \
  { "s3-part-size", required_argument, NULL, XVA_CLI_OPT_S3_PART_SIZE },    \
  { "s3-parallel", required_argument, NULL, XVA_CLI_OPT_S3_PARALLEL },      \
  { "s3-cacert", required_argument, NULL, XVA_CLI_OPT_S3_CACERT },          \
  { "s3-insecure", no_argument, NULL, XVA_CLI_OPT_S3_INSECURE }
/* clang-format on */

/* The options' part of every command's --help. */
#define XVA_CLI_S3_HELP                                                       \
  "Object storage (for s3://BUCKET/KEY addresses):\n"                         \
  "      --s3-endpoint=URL     http(s)://host[:port] of the S3 service\n"     \
  "                            (default: $XVA_S3_ENDPOINT)\n"                 \
  "      --s3-credentials=F    read the keys (and optionally region and\n"    \
  "                            endpoint) from F: an AWS-style ini file or\n"  \
  "                            KEY=VALUE lines (default: the environment,\n"  \
  "                            AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY)\n"  \
  "      --s3-region=NAME      signing region (default: $AWS_REGION or\n"     \
  "                            us-east-1)\n"                                  \
  "      --s3-part-size=SIZE   upload part size, at least 5M (default 8M,\n"  \
  "                            or $XVA_S3_PART_SIZE)\n"                       \
  "      --s3-parallel=N       transfers in flight, 1-32 (default 4, or\n"    \
  "                            $XVA_S3_PARALLEL)\n"                           \
  "      --cacert=FILE         trust the CA certificates in FILE (PEM)\n"     \
  "                            (also --s3-cacert)\n"                          \
  "      --insecure            do not verify the server's TLS certificate\n"  \
  "                            (also --s3-insecure)\n"

/* The same for a network command. */
#define XVA_CLI_S3_NET_HELP                                                    \
  "Object storage (-o/-i s3://BUCKET/KEY):\n"                                  \
  "      --s3-endpoint URL     http(s)://host[:port] of the S3 service\n"      \
  "                            (default: $XVA_S3_ENDPOINT)\n"                  \
  "      --s3-credentials F    the keys: an AWS-style ini file or KEY=VALUE\n" \
  "                            lines (default: AWS_ACCESS_KEY_ID and\n"        \
  "                            AWS_SECRET_ACCESS_KEY)\n"                       \
  "      --s3-region NAME      signing region (default: $AWS_REGION or\n"      \
  "                            us-east-1)\n"                                   \
  "      --s3-part-size SIZE   upload part size, at least 5M (default 8M)\n"   \
  "      --s3-parallel N       transfers in flight, 1-32 (default 4)\n"        \
  "      --s3-cacert F         trust the CA certificates in F for S3\n"        \
  "      --s3-insecure         do not verify the S3 service's certificate\n"

struct xva_cli_s3 {
  /* As given on the command line (NULL / 0: not given). */
  const char *endpoint;
  const char *credentials;
  const char *region;
  const char *ca_file;
  int insecure;
  uint64_t part_size;
  unsigned parallel;
  /* Filled by Xva_cli_s3_setup. */
  int ready;
  struct xva_s3_opts opts;
  char *file_access; /* values read from the credentials file */
  char *file_secret;
  char *file_region;
  char *file_endpoint;
};

void Xva_cli_s3_init (struct xva_cli_s3 *s);
/* Takes getopt_long's result c: 1 when it was an S3 option (stored),
 * 0 when it is not one, -1 when its value is bad (a message is
 * printed; the caller exits with XVA_EXIT_USAGE). */
int Xva_cli_s3_option (struct xva_cli_s3 *s, const char *cmd, int c,
                       const char *arg);
/* The last case of a command's option switch: an S3 option (stored;
 * returns -1: go on parsing), else a usage error, reported: a bad S3
 * value, an unknown option or a missing argument (returns the exit
 * code). */
int Xva_cli_s3_last_option (struct xva_cli_s3 *s, const char *cmd, int c,
                            int argc, char **argv);
/* Completes s->opts from the options, then the credentials file, then
 * the environment.  Prints what is missing or wrong.  Returns an exit
 * code (XVA_EXIT_OK when ready).  Only called when an s3:// address is
 * used; a second call does nothing. */
int Xva_cli_s3_setup (struct xva_cli_s3 *s, const char *cmd);
void Xva_cli_s3_free (struct xva_cli_s3 *s);

/* Before any work on an s3:// target (an object, or a template of one):
 * sets s3 up, checks the address, and checks with one request that the
 * bucket exists and takes the credentials.  Prints what is wrong.
 * Returns an exit code. */
int Xva_cli_s3_target_check (struct xva_cli_s3 *s, const char *cmd,
                             const char *url);

/* Prints an S3 failure ("xva CMD: MSG", with a hint for refused
 * credentials or a missing bucket) and returns its exit code. */
int Xva_cli_s3_fail (const char *cmd, int status, const char *msg);

/* "s3://bucket" of an s3:// address into out; 0 or -1 (too long). */
int Xva_cli_s3_bucket_url (const char *url, char *out, size_t outsize);

/* ---- the commands that read one archive (verify, extract, inspect):
 * a FILE operand that is a file, standard input or an S3 object ---- */

struct xva_cli_input {
  const char *path;  /* as given */
  const char *shown; /* for messages */
  int fd;            /* -1 for an S3 object */
  struct xva_s3_download *dl;
};

struct xva_cli_read {
  const char *cmd;
  const char *usage; /* the --help text */
  int quiet;         /* -q */
  unsigned threads;  /* --threads (0: one per core) */
  struct xva_cli_s3 s3;
  struct xva_cli_input in;
  struct xva_reader *r;
  /* The outcome of Xva_cli_read_run: */
  int status;     /* XVA_OK, the reader's or the input's status */
  int src_exit;   /* nonzero: the input failed (the exit code) ... */
  char msg[1200]; /* ... for this reason */
};

void Xva_cli_read_init (struct xva_cli_read *rd, const char *cmd,
                        const char *usage);
/* getopt_long over argv, taking -q, --threads, --help and the S3
 * options, and reporting bad ones.  Returns the next option of the
 * command's own, or -1 with *rc set: -1 at the end of the options, else
 * the exit code to return now (after --help or a usage error). */
int Xva_cli_read_getopt (struct xva_cli_read *rd, int argc, char **argv,
                         const char *shortopts, const struct option *longopts,
                         int *rc);

/* The options of a command's table that Xva_cli_read_getopt takes for
 * it: -q, --threads, --help and the S3 options. */
/* clang-format off */
#define XVA_CLI_READ_OPTIONS                                                \
  { "quiet", no_argument, NULL, 'q' },                                      \
  { "threads", required_argument, NULL, 'T' },                              \
  { "help", no_argument, NULL, 'h' },                                       \
  XVA_CLI_S3_OPTIONS
/* clang-format on */

/* Flags of Xva_cli_read_start. */
#define XVA_CLI_READ_FORCE 1u /* keep going past checksum mismatches */
#define XVA_CLI_READ_WHOLE 2u /* the archive must end with its marker */

/* After the options: opens the FILE operand (at most one; default "-":
 * standard input; "s3://...": an object, setting up S3 first) and makes
 * the reader (XVA_READ_ANY, the threads asked for) with io.  Prints what
 * fails.  Returns an exit code. */
int Xva_cli_read_start (struct xva_cli_read *rd, int argc, char **argv,
                        unsigned flags, struct xva_sink_io io);
/* Reads the whole input into the reader (as Xva_cli_read_archive, with
 * progress unless quiet), then calls xva_reader_finish.  Sets and
 * returns rd->status: XVA_OK, the reader's status, XVA_ECANCELLED on a
 * signal, or, when the input itself failed, its status with
 * rd->src_exit and rd->msg set. */
int Xva_cli_read_run (struct xva_cli_read *rd);
/* Reports why the read failed: the input, a signal, or the reader's
 * message.  Returns the exit code: archive_exit for a reader status
 * that has none of its own. */
int Xva_cli_read_fail (const struct xva_cli_read *rd, int archive_exit);
/* Frees the reader, closes the input and frees the S3 settings. */
void Xva_cli_read_free (struct xva_cli_read *rd);

#endif /* XVA_BIN_S3OPT_H */
