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
  XVA_CLI_READ_OPTIONS,
  { NULL, 0, NULL, 0 },
};

/* clang-format off */
static const char usage_text[] =
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
  "network failure, 8 other S3 failure.\n";
/* clang-format on */

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
  struct xva_reader_stats st;
  struct xva_sink_io io;
  struct xva_cli_read rd;
  const struct xva_meta *m;
  uint64_t mismatches;
  int rc;

  Xva_cli_read_init (&rd, CMD, usage_text);
  while (Xva_cli_read_getopt (&rd, argc, argv, ":qh", long_options, &rc) != -1)
    ; /* no options of its own */
  if (rc != -1)
    return rc;
  memset (&io, 0, sizeof io);
  io.notice = on_notice;
  io.opaque = &ctx;
  rc = Xva_cli_read_start (&rd, argc, argv,
                           XVA_CLI_READ_FORCE | XVA_CLI_READ_WHOLE, io);
  if (rc != XVA_EXIT_OK)
    goto out;
  Xva_cli_read_run (&rd);
  xva_reader_stats (rd.r, &st);
  mismatches = st.mismatches > ctx.mismatches ? st.mismatches : ctx.mismatches;
  if (rd.status != XVA_OK) {
    rc = Xva_cli_read_fail (&rd, XVA_EXIT_ARCHIVE);
    goto out;
  }
  if (mismatches > 0) {
    Xva_cli_error (CMD, "%s: %" PRIu64 " checksum mismatch%s", rd.in.shown,
                   mismatches, mismatches == 1 ? "" : "es");
    rc = XVA_EXIT_ARCHIVE;
    goto out;
  }
  if (!rd.quiet) {
    m = xva_reader_meta (rd.r);
    printf ("file:        ");
    Xva_cli_print_safe (stdout, rd.in.shown);
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
  Xva_cli_read_free (&rd);
  return rc;
}
