/* xva verify: read a whole archive and check every checksum. */
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

#define CMD "verify"

static const struct option long_options[] = {
  { "quiet", no_argument, NULL, 'q' },
  { "help", no_argument, NULL, 'h' },
  { NULL, 0, NULL, 0 },
};

static void
usage (FILE *f)
{
  fprintf (f,
    "Usage: xva verify [OPTIONS] [FILE|-]\n"
    "\n"
    "Reads a whole XVA archive (plain, gzip or zstd; default: standard\n"
    "input) and checks its structure, its ova.xml and the checksum of\n"
    "every chunk.  Every mismatch is reported on standard error.  On\n"
    "success a summary is printed on standard output.\n"
    "\n"
    "Options:\n"
    "  -q, --quiet   print no summary\n"
    "  -h, --help    show this help\n"
    "\n"
    "Exit status: 0 the archive is complete and every checksum matches,\n"
    "2 bad usage, 3 invalid, corrupt or truncated archive, 4 local I/O\n"
    "error.\n");
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
  const struct xva_meta *m;
  const char *path = "-", *shown;
  uint64_t mismatches;
  int quiet = 0, c, fd = -1, status, read_errno = 0;
  int rc = XVA_EXIT_FAIL;

  opterr = 0;
  while ((c = getopt_long (argc, argv, ":qh", long_options, NULL)) != -1) {
    switch (c) {
    case 'q':
      quiet = 1;
      break;
    case 'h':
      usage (stdout);
      return XVA_EXIT_OK;
    default:
      return Xva_cli_bad_option (CMD, c, argc, argv);
    }
  }
  if (argc - optind > 1) {
    Xva_cli_error (CMD, "too many arguments");
    Xva_cli_usage_hint (CMD);
    return XVA_EXIT_USAGE;
  }
  if (optind < argc)
    path = argv[optind];
  shown = strcmp (path, "-") == 0 ? "(standard input)" : path;

  fd = Xva_cli_open_input (CMD, path, &rc);
  if (fd == -1)
    return rc;

  xva_reader_opts_init (&ro);
  ro.force = 1;
  ro.mode = XVA_READ_ANY;
  memset (&io, 0, sizeof io);
  io.notice = on_notice;
  io.opaque = &ctx;
  status = XVA_OK;
  r = xva_reader_new (&ro, io, &status);
  if (r == NULL) {
    Xva_cli_error (CMD, "cannot start reading: %s", xva_strerror (status));
    rc = Xva_cli_exit_code (status);
    goto out;
  }

  Xva_cli_progress_start (&pg, !quiet);
  status = Xva_cli_read_archive (fd, r, &pg, &read_errno, NULL);
  Xva_cli_progress_end (&pg);
  xva_reader_stats (r, &st);
  mismatches = st.mismatches > ctx.mismatches ? st.mismatches
                                              : ctx.mismatches;
  if (status != XVA_OK) {
    if (read_errno != 0) {
      Xva_cli_error (CMD, "cannot read %s: %s", shown,
                     strerror (read_errno));
      rc = XVA_EXIT_IO;
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
            ? xva_compress_name (st.compress) : "none");
    printf ("checksums:   %s\n", Xva_cli_checksum_kinds (st.checksum_kinds));
    printf ("content:     %s\n", st.metadata_only ? "metadata only"
            : "VM with disks");
    printf ("disks:       %u\n", m != NULL ? xva_meta_ndisks (m) : 0u);
    printf ("chunks:      %" PRIu64 "\n", st.chunks);
    printf ("data bytes:  %" PRIu64 "\n", st.data_bytes);
    printf ("keep-alives: %" PRIu64 "\n", st.keepalives);
    printf ("OK\n");
  }
  rc = XVA_EXIT_OK;
out:
  xva_reader_free (r);
  if (fd > STDIN_FILENO)
    close (fd);
  return rc;
}
