/* Object storage in the `xva` command: the S3 options every command
 * shares, the credentials file, and archive input from a file, a pipe
 * or an s3:// object.  Uses only the public API. */
#ifndef XVA_BIN_S3OPT_H
#define XVA_BIN_S3OPT_H

#include <getopt.h>
#include <stddef.h>
#include <stdint.h>

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

/* ---- archive input: a file, standard input or an S3 object ---- */

struct xva_cli_input {
  const char *path;  /* as given */
  const char *shown; /* for messages */
  int fd;            /* -1 for an S3 object */
  struct xva_s3_download *dl;
};

/* Opens path ("-": standard input; "s3://...": an object, setting up s3
 * first).  Prints a message on failure.  Returns an exit code. */
int Xva_cli_input_open (const char *cmd, const char *path,
                        struct xva_cli_s3 *s3, struct xva_cli_input *in);
/* Reads the whole input into r (as Xva_cli_read_archive), then calls
 * xva_reader_finish.  Returns XVA_OK, the reader's status, or, when the
 * input itself failed, its status with *src_exit set to the exit code
 * and the reason in msg[0..msglen).  XVA_ECANCELLED on a signal. */
int Xva_cli_input_read (struct xva_cli_input *in, struct xva_reader *r,
                        struct xva_cli_progress *pg, int *src_exit, char *msg,
                        size_t msglen);
void Xva_cli_input_close (struct xva_cli_input *in);

/* For the commands that read one archive (verify, extract, inspect).
 * An option c that the command's own switch did not take: an S3 option
 * (returns -1: go on parsing), else a usage error (returns the exit
 * code). */
int Xva_cli_input_option (const char *cmd, struct xva_cli_s3 *s3, int c,
                          int argc, char **argv);
/* After the options: at most one FILE operand (default "-"), opened
 * into in.  Returns an exit code (XVA_EXIT_OK on success). */
int Xva_cli_input_operand (const char *cmd, int argc, char **argv,
                           struct xva_cli_s3 *s3, struct xva_cli_input *in);
/* A reader, or NULL with the reason printed and *rc set. */
struct xva_reader *Xva_cli_reader_new (const char *cmd,
                                       const struct xva_reader_opts *ro,
                                       struct xva_sink_io io, int *rc);

#endif /* XVA_BIN_S3OPT_H */
