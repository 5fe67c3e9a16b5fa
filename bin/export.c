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
  OPT_UUID = 256,
  OPT_REF,
  OPT_NAME,
  OPT_METADATA,
  OPT_ALL,
  OPT_KEEP,
};

static const struct option long_options[] = {
  { "url", required_argument, NULL, XVA_ROPT_URL },
  { "uuid", required_argument, NULL, OPT_UUID },
  { "ref", required_argument, NULL, OPT_REF },
  { "name", required_argument, NULL, OPT_NAME },
  { "output", required_argument, NULL, 'o' },
  { "compress", required_argument, NULL, XVA_ROPT_COMPRESS },
  { "metadata", no_argument, NULL, OPT_METADATA },
  { "all", no_argument, NULL, OPT_ALL },
  { "task-id", required_argument, NULL, XVA_ROPT_TASK_ID },
  { "keep", required_argument, NULL, OPT_KEEP },
  XVA_REMOTE_COMMON_OPTIONS,
  XVA_CLI_S3_NET_OPTIONS,
  { NULL, 0, NULL, 0 },
};

static void
usage (FILE *f)
{
  /* clang-format off */
  fprintf (f,
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
    "URL is http://HOST[:PORT], https://HOST[:PORT] or unix:PATH.\n"
    "\n"
    "Options:\n"
    "      --url URL             the host\n"
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
    XVA_REMOTE_COMMON_HELP
    "\n"
    XVA_CLI_S3_NET_HELP
    "\n"
    XVA_REMOTE_EXIT_HELP);
  /* clang-format on */
}

static int
bad_usage (const char *msg)
{
  Xva_cli_error (CMD, "%s", msg);
  Xva_cli_usage_hint (CMD);
  return XVA_EXIT_USAGE;
}

int
Xva_cmd_export (int argc, char **argv)
{
  struct Xva_export_req req;
  struct Xva_client_result res;
  struct Xva_client_cb cb;
  struct xva_remote_side side;
  struct xva_remote r;
  struct xva_cli_s3 s3;
  uint64_t keep = 0;
  int c, rc, nsel = 0, have_compress = 0, s3r;

  Xva_cli_s3_init (&s3);

  Xva_remote_init (&r, CMD);
  Xva_remote_side_init (&side, "XVA_USER", "XVA_PASSWORD");
  Xva_client_result_init (&res);
  memset (&req, 0, sizeof req);
  req.output = NULL;
  opterr = 0;
  while ((c = getopt_long (argc, argv, ":o:qh", long_options, NULL)) != -1) {
    if (Xva_remote_option (&r, &side, c, optarg))
      continue;
    switch (c) {
    case XVA_ROPT_URL:
      side.url = optarg;
      break;
    case OPT_UUID:
      req.uuid = optarg;
      nsel++;
      break;
    case OPT_REF:
      req.ref = optarg;
      nsel++;
      break;
    case OPT_NAME:
      req.name = optarg;
      nsel++;
      break;
    case 'o':
      req.output = optarg;
      break;
    case XVA_ROPT_COMPRESS:
      if (Xva_remote_parse_compress (&r, optarg, &req.compress) != 0)
        return XVA_EXIT_USAGE;
      have_compress = req.compress != XVA_COMPRESS_NONE;
      break;
    case OPT_METADATA:
      req.metadata = 1;
      break;
    case OPT_ALL:
      req.all = 1;
      break;
    case XVA_ROPT_TASK_ID:
      req.task_id = optarg;
      break;
    case OPT_KEEP:
      if (Xva_cli_parse_uint (optarg, 1, 1000000, &keep) != 0)
        return bad_usage ("--keep wants a number of at least 1");
      break;
    case 'h':
      usage (stdout);
      return XVA_EXIT_OK;
    default:
      s3r = Xva_cli_s3_option (&s3, CMD, c, optarg);
      if (s3r == 1)
        break;
      if (s3r == -1)
        return bad_usage ("bad object storage option");
      return Xva_cli_bad_option (CMD, c, argc, argv);
    }
  }
  if (optind < argc)
    return bad_usage ("unexpected arguments");
  if (side.url == NULL)
    return bad_usage ("--url is required");
  if (req.all && !req.metadata)
    return bad_usage ("--all goes with --metadata");
  if (req.all && nsel > 0)
    return bad_usage ("--all exports every VM: no --uuid, --ref or --name");
  if (!req.all && nsel != 1)
    return bad_usage ("give one of --uuid, --ref or --name");
  if (req.metadata && have_compress)
    return bad_usage ("metadata exports are never compressed");
  if (req.output == NULL) {
    if (isatty (STDOUT_FILENO))
      return bad_usage (
        "refusing to write an archive to a terminal "
        "(give -o FILE or redirect standard output)");
    req.output = "-";
  }
  if (strcmp (req.output, "-") == 0) {
    if (isatty (STDOUT_FILENO))
      return bad_usage ("refusing to write an archive to a terminal");
    if (r.json)
      return bad_usage (
        "--json needs -o FILE (standard output holds the "
        "archive)");
    if (keep > 0)
      return bad_usage ("--keep needs -o with a {date} template");
  }
  if (keep > 0 && !Xva_target_has_date (req.output))
    return bad_usage ("--keep needs {date} in the -o file name");
  req.keep = (unsigned) keep;
  if (xva_s3_is_url (req.output)) {
    /* The bucket and the keys are checked before the export starts. */
    rc = Xva_cli_s3_target_check (&s3, CMD, req.output);
    if (rc != XVA_EXIT_OK)
      goto out;
    if (Xva_sink_s3_setup (&s3.opts) != XVA_OK) {
      Xva_cli_error (CMD, "out of memory");
      rc = XVA_EXIT_FAIL;
      goto out;
    }
  }
  rc = Xva_remote_host (&r, &side, &req.host);
  if (rc != XVA_EXIT_OK)
    goto out;
  /* A file size limit is a full disk: fail cleanly instead of dying. */
  signal (SIGXFSZ, SIG_IGN);
  Xva_remote_callbacks (&r, &cb);
  Xva_client_export (&req, &cb, &res);
  Xva_remote_progress_end (&r);
  if (res.status != XVA_OK) {
    rc = Xva_remote_fail (&r, &res);
    goto out;
  }
  if (r.json)
    Xva_remote_json (stdout, &res, 1 | 4);
  rc = XVA_EXIT_OK;
out:
  Xva_client_result_clear (&res);
  Xva_remote_side_clear (&side);
  Xva_sink_s3_clear ();
  Xva_cli_s3_free (&s3);
  return rc;
}
