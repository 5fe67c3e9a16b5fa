/* xva export: a VM (or metadata) from a host into a checked archive. */
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "remote.h"
#include "s3opt.h"
#include "../client/sink-s3.h"

#define CMD "export"

enum {
  OPT_METADATA = 256,
  OPT_ALL,
  OPT_KEEP,
};

static const struct option long_options[] = {
  { "uuid", required_argument, NULL, XVA_ROPT_UUID },
  { "ref", required_argument, NULL, XVA_ROPT_REF },
  { "name", required_argument, NULL, XVA_ROPT_NAME },
  { "output", required_argument, NULL, 'o' },
  { "compress", required_argument, NULL, XVA_ROPT_COMPRESS },
  { "metadata", no_argument, NULL, OPT_METADATA },
  { "all", no_argument, NULL, OPT_ALL },
  { "keep", required_argument, NULL, OPT_KEEP },
  XVA_REMOTE_HOST_OPTIONS,
  { NULL, 0, NULL, 0 },
};

/* clang-format off */
static const char usage_text[] =
  "Usage: xva export --url URL (--uuid U | --ref R | --name NAME)\n"
  "                  [-o FILE|-] [OPTIONS]\n"
  "       xva export --url URL --metadata [--all] [-o FILE|-] [OPTIONS]\n"
  "\n"
  "Exports a VM from a XenServer / XCP-ng host or `xva serve` (GET\n"
  "/export) and checks every chunk of the archive as it arrives.  A\n"
  "file is written beside its name and renamed into place only when\n"
  "the archive is complete, every checksum matched and the host's task\n"
  "succeeded; otherwise nothing is left behind.\n"
  "\n"
  XVA_REMOTE_HOST_HELP_START
  "      --uuid U              the VM with this uuid\n"
  "      --ref R               the VM with this ref (OpaqueRef:...)\n"
  "      --name NAME           the VM with this name_label (one only)\n"
  "  -o, --output FILE         where to write ('-': standard output, the\n"
  "                            default when it is not a terminal;\n"
  "                            s3://BUCKET/KEY: object storage); may\n"
  "                            hold {name}, {uuid} and {date} (UTC,\n"
  "                            YYYYMMDDTHHMMSSZ)\n"
  "      --compress ALG        none (default), gzip or zstd (done by the\n"
  "                            host)\n"
  "      --metadata            only the VM records (GET /export_metadata)\n"
  "      --all                 with --metadata: every VM\n"
  "      --task-id REF         report into this task (not destroyed);\n"
  "                            default: make one and destroy it after\n"
  "      --keep N              after success, remove all but the newest\n"
  "                            N exports of this VM that match the -o\n"
  "                            template (which needs {date})\n"
  XVA_REMOTE_HOST_HELP_END;
/* clang-format on */

int
Xva_cmd_export (int argc, char **argv)
{
  struct Xva_export_req req;
  struct xva_remote_side side;
  struct xva_remote r;
  uint64_t keep = 0;
  int c, rc;

  Xva_remote_init (&r, CMD, usage_text);
  Xva_remote_side_init (&side, "XVA_USER", "XVA_PASSWORD");
  memset (&req, 0, sizeof req);
  while ((c = Xva_remote_getopt (&r, &side, argc, argv, ":o:qh", long_options,
                                 &rc))
         != -1) {
    switch (c) {
    case 'o':
      req.output = optarg;
      break;
    case OPT_METADATA:
      req.metadata = 1;
      break;
    case OPT_ALL:
      req.all = 1;
      break;
    case OPT_KEEP:
      if (Xva_cli_parse_uint (optarg, 1, 1000000, &keep) != 0)
        return Xva_cli_usage_error (CMD,
                                    "--keep wants a number of at least 1");
      break;
    }
  }
  if (rc != -1)
    return rc;
  if (optind < argc)
    return Xva_cli_usage_error (CMD, "unexpected arguments");
  if (side.url == NULL)
    return Xva_cli_usage_error (CMD, "--url is required");
  if (req.all && !req.metadata)
    return Xva_cli_usage_error (CMD, "--all goes with --metadata");
  if (req.all && r.nvm > 0)
    return Xva_cli_usage_error (
      CMD, "--all exports every VM: no --uuid, --ref or --name");
  if (!req.all && r.nvm != 1)
    return Xva_cli_usage_error (CMD, "give one of --uuid, --ref or --name");
  if (req.metadata && r.compress != XVA_COMPRESS_NONE)
    return Xva_cli_usage_error (CMD, "metadata exports are never compressed");
  if (req.output == NULL) {
    if (isatty (STDOUT_FILENO))
      return Xva_cli_usage_error (
        CMD,
        "refusing to write an archive to a terminal "
        "(give -o FILE or redirect standard output)");
    req.output = "-";
  }
  if (strcmp (req.output, "-") == 0) {
    if (isatty (STDOUT_FILENO))
      return Xva_cli_usage_error (
        CMD, "refusing to write an archive to a terminal");
    if (r.json)
      return Xva_cli_usage_error (CMD,
                                  "--json needs -o FILE (standard output "
                                  "holds the archive)");
    if (keep > 0)
      return Xva_cli_usage_error (CMD,
                                  "--keep needs -o with a {date} template");
  }
  if (keep > 0 && !Xva_target_has_date (req.output))
    return Xva_cli_usage_error (CMD,
                                "--keep needs {date} in the -o file name");
  req.keep = (unsigned) keep;
  req.uuid = r.uuid;
  req.ref = r.ref;
  req.name = r.name;
  req.compress = r.compress;
  req.task_id = r.task_id;
  rc = Xva_remote_s3 (&r, req.output, 1);
  if (rc == XVA_EXIT_OK)
    rc = Xva_remote_host (&r, &side, &req.host);
  if (rc != XVA_EXIT_OK)
    goto out;
  /* A file size limit is a full disk: fail cleanly instead of dying. */
  signal (SIGXFSZ, SIG_IGN);
  Xva_client_export (&req, Xva_remote_callbacks (&r), &r.res);
  rc = Xva_remote_finish (&r, 1 | 4);
out:
  Xva_remote_side_clear (&side);
  Xva_remote_free (&r);
  return rc;
}
