/* xva verify: read a whole archive and check every checksum. */
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "s3opt.h"

#define CMD "verify"

static const struct option long_options[] = {
  { "quiet", no_argument, NULL, 'q' },
  { "threads", required_argument, NULL, 'T' },
  { "help", no_argument, NULL, 'h' },
  XVA_CLI_S3_OPTIONS,
  { NULL, 0, NULL, 0 },
};

static void
usage (FILE *f)
{
  /* clang-format off */
  fprintf (f,
    "Usage: xva verify [OPTIONS] [FILE|-|s3://BUCKET/KEY]\n"
    "\n"
    "Reads a whole XVA archive (plain, gzip or zstd; default: standard\n"
    "input) and checks its structure, its ova.xml and the checksum of\n"
    "every chunk.  Every mismatch is reported on standard error.  On\n"
    "success a summary is printed on standard output.  An s3:// object\n"
    "is fetched in ranges, several at once, and checked as it arrives.\n"
    "\n"
    "Options:\n"
    "  -q, --quiet      print no summary\n"
    "      --threads=N  threads checking chunks (default: one per core)\n"
    "  -h, --help       show this help\n"
    "\n"
    XVA_CLI_S3_HELP
    "\n"
    "Exit status: 0 the archive is complete and every checksum matches,\n"
    "2 bad usage, 3 invalid, corrupt or truncated archive, 4 local I/O\n"
    "error, 5 S3 credentials refused, 6 no such bucket or object, 7\n"
    "network failure, 8 other S3 failure.\n");
  /* clang-format on */
}

struct verify_ctx {
  uint64_t mismatches;
};

static void
on_notice (void *opaque, int status, const char *msg)
{
  struct verify_ctx *ctx = opaque;

  if (status == XVA_ECHECKSUM) {
    ctx->mismatches++;
    Xva_cli_error (CMD, "%s", msg != NULL ? msg : "checksum mismatch");
  }
  else
    Xva_cli_warn (CMD, "%s", msg != NULL ? msg : "(no message)");
}

int
Xva_cmd_verify (int argc, char **argv)
{
  struct verify_ctx ctx = { 0 };
  struct xva_reader_opts ro;
  struct xva_reader_stats st;
  struct xva_sink_io io;
  struct xva_reader *r = NULL;
  struct xva_cli_progress pg;
  struct xva_cli_input in;
  struct xva_cli_s3 s3;
  const struct xva_meta *m;
  const char *shown;
  uint64_t mismatches;
  char msg[1200];
  int quiet = 0, c, status, src_exit = 0, s3r;
  unsigned threads = 0;
  int rc = XVA_EXIT_FAIL;

  Xva_cli_s3_init (&s3);
  memset (&in, 0, sizeof in);
  in.fd = -1;
  opterr = 0;
  while ((c = getopt_long (argc, argv, ":qh", long_options, NULL)) != -1) {
    switch (c) {
    case 'q':
      quiet = 1;
      break;
    case 'T':
      if (Xva_cli_threads_option (CMD, optarg, &threads) != 0)
        return XVA_EXIT_USAGE;
      break;
    case 'h':
      usage (stdout);
      return XVA_EXIT_OK;
    default:
      s3r = Xva_cli_input_option (CMD, &s3, c, argc, argv);
      if (s3r >= 0)
        return s3r;
    }
  }
  rc = Xva_cli_input_operand (CMD, argc, argv, &s3, &in);
  if (rc != XVA_EXIT_OK)
    goto out;
  shown = in.shown;
  rc = XVA_EXIT_FAIL;

  xva_reader_opts_init (&ro);
  ro.force = 1;
  ro.mode = XVA_READ_ANY;
  ro.require_end = 1; /* a stored archive ends with its marker */
  ro.threads = threads;
  memset (&io, 0, sizeof io);
  io.notice = on_notice;
  io.opaque = &ctx;
  r = Xva_cli_reader_new (CMD, &ro, io, &rc);
  if (r == NULL)
    goto out;

  Xva_cli_progress_start (&pg, !quiet);
  status = Xva_cli_input_read (&in, r, &pg, &src_exit, msg, sizeof msg);
  Xva_cli_progress_end (&pg);
  xva_reader_stats (r, &st);
  mismatches = st.mismatches > ctx.mismatches ? st.mismatches : ctx.mismatches;
  if (status != XVA_OK) {
    if (src_exit != 0) {
      if (in.dl != NULL)
        rc = Xva_cli_s3_fail (CMD, status, msg);
      else {
        Xva_cli_error (CMD, "%s", msg);
        rc = src_exit;
      }
    }
    else if (status == XVA_ECANCELLED && Xva_cli_interrupted ()) {
      Xva_cli_error (CMD, "interrupted");
      rc = XVA_EXIT_FAIL;
    }
    else {
      Xva_cli_error (CMD, "%s: %s", shown, xva_reader_errmsg (r));
      rc = Xva_cli_exit_code (status);
      if (rc == XVA_EXIT_OK || rc == XVA_EXIT_FAIL)
        rc = XVA_EXIT_ARCHIVE;
    }
    goto out;
  }
  if (mismatches > 0) {
    Xva_cli_error (CMD, "%s: %" PRIu64 " checksum mismatch%s", shown,
                   mismatches, mismatches == 1 ? "" : "es");
    rc = XVA_EXIT_ARCHIVE;
    goto out;
  }
  if (!quiet) {
    m = xva_reader_meta (r);
    printf ("file:        ");
    Xva_cli_print_safe (stdout, shown);
    printf ("\n");
    printf ("compression: %s\n", xva_compress_name (st.compress) != NULL
                                   ? xva_compress_name (st.compress)
                                   : "none");
    printf ("checksums:   %s\n", Xva_cli_checksum_kinds (st.checksum_kinds));
    printf ("content:     %s\n",
            st.metadata_only ? "metadata only" : "VM with disks");
    printf ("disks:       %u\n", m != NULL ? xva_meta_ndisks (m) : 0u);
    printf ("chunks:      %" PRIu64 "\n", st.chunks);
    printf ("data bytes:  %" PRIu64 "\n", st.data_bytes);
    printf ("keep-alives: %" PRIu64 "\n", st.keepalives);
    printf ("OK\n");
  }
  rc = XVA_EXIT_OK;
out:
  xva_reader_free (r);
  Xva_cli_input_close (&in);
  Xva_cli_s3_free (&s3);
  return rc;
}
