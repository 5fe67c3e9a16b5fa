/* xva import: an archive (file or standard input) into a host. */
#include <ctype.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "remote.h"
#include "s3opt.h"
#include "../client/sink-s3.h"

#define CMD "import"
#define MAX_VDI_MAP 256

enum {
  OPT_SR_UUID = 256,
  OPT_SR_ID,
  OPT_RESTORE,
  OPT_FORCE,
  OPT_METADATA,
  OPT_DRY_RUN,
  OPT_VDI,
};

static const struct option long_options[] = {
  { "url", required_argument, NULL, XVA_ROPT_URL },
  { "input", required_argument, NULL, 'i' },
  { "sr-uuid", required_argument, NULL, OPT_SR_UUID },
  { "sr-id", required_argument, NULL, OPT_SR_ID },
  { "restore", no_argument, NULL, OPT_RESTORE },
  { "force", no_argument, NULL, OPT_FORCE },
  { "metadata", no_argument, NULL, OPT_METADATA },
  { "dry-run", no_argument, NULL, OPT_DRY_RUN },
  { "vdi", required_argument, NULL, OPT_VDI },
  { "task-id", required_argument, NULL, XVA_ROPT_TASK_ID },
  XVA_REMOTE_COMMON_OPTIONS,
  XVA_CLI_S3_NET_OPTIONS,
  { NULL, 0, NULL, 0 },
};

static void
usage (FILE *f)
{
  /* clang-format off */
  fprintf (f,
    "Usage: xva import --url URL [-i FILE|-] [OPTIONS]\n"
    "\n"
    "Imports an XVA archive into a XenServer / XCP-ng host or `xva serve`\n"
    "(PUT /import) and prints the uuids of the new VMs, one a line.  The\n"
    "archive is checked on the way; a file is sent with its length, a\n"
    "pipe as a stream.  The import succeeds only when the host's task\n"
    "does.\n"
    "\n"
    "URL is http://HOST[:PORT], https://HOST[:PORT] or unix:PATH.\n"
    "\n"
    "Options:\n"
    "      --url URL             the host\n"
    "  -i, --input FILE          the archive ('-': standard input, the\n"
    "                            default; s3://BUCKET/KEY: an object)\n"
    "      --sr-uuid U           into the SR with this uuid\n"
    "      --sr-id REF           into the SR with this ref (default: the\n"
    "                            pool's default SR)\n"
    "      --restore             keep the VM's uuid and MACs, replacing an\n"
    "                            older VM of the same uuid\n"
    "      --force               keep going past checksum mismatches (and\n"
    "                            other checks the host makes)\n"
    "      --metadata            only VM records, over disks already in the\n"
    "                            SRs (PUT /import_metadata)\n"
    "      --dry-run             with --metadata: check, create nothing\n"
    "      --vdi SRC=DST         with --metadata: use VDI DST for the\n"
    "                            archive's VDI SRC (repeatable)\n"
    "      --task-id REF         report into this task (not destroyed)\n"
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

/* SRC=DST, each a uuid or an SCSI id: letters, digits, . _ : - */
static int
vdi_map_ok (const char *s)
{
  const char *eq = strchr (s, '=');
  const char *p;

  if (eq == NULL || eq == s || eq[1] == '\0' || strlen (s) > 500)
    return 0;
  for (p = s; *p != '\0'; p++) {
    if (p == eq)
      continue;
    if (!isalnum ((unsigned char) *p) && *p != '-' && *p != '_' && *p != '.'
        && *p != ':')
      return 0;
  }
  return 1;
}

int
Xva_cmd_import (int argc, char **argv)
{
  const char *vdi[MAX_VDI_MAP];
  struct Xva_import_req req;
  struct Xva_client_result res;
  struct Xva_client_cb cb;
  struct xva_remote_side side;
  struct xva_remote r;
  struct xva_cli_s3 s3;
  size_t i, nvdi = 0;
  int c, rc, s3r;

  Xva_cli_s3_init (&s3);

  Xva_remote_init (&r, CMD);
  Xva_remote_side_init (&side, "XVA_USER", "XVA_PASSWORD");
  Xva_client_result_init (&res);
  memset (&req, 0, sizeof req);
  req.input = "-";
  opterr = 0;
  while ((c = getopt_long (argc, argv, ":i:qh", long_options, NULL)) != -1) {
    if (Xva_remote_option (&r, &side, c, optarg))
      continue;
    switch (c) {
    case XVA_ROPT_URL:
      side.url = optarg;
      break;
    case 'i':
      req.input = optarg;
      break;
    case OPT_SR_UUID:
      req.sr_uuid = optarg;
      break;
    case OPT_SR_ID:
      req.sr_ref = optarg;
      break;
    case OPT_RESTORE:
      req.restore = 1;
      break;
    case OPT_FORCE:
      req.force = 1;
      break;
    case OPT_METADATA:
      req.metadata = 1;
      break;
    case OPT_DRY_RUN:
      req.dry_run = 1;
      break;
    case OPT_VDI:
      if (!vdi_map_ok (optarg))
        return bad_usage ("--vdi wants SRC=DST (uuids or SCSI ids)");
      if (nvdi >= MAX_VDI_MAP)
        return bad_usage ("too many --vdi");
      vdi[nvdi++] = optarg;
      break;
    case XVA_ROPT_TASK_ID:
      req.task_id = optarg;
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
    return bad_usage ("unexpected arguments (the archive goes with -i)");
  if (side.url == NULL)
    return bad_usage ("--url is required");
  if (req.sr_uuid != NULL && req.sr_ref != NULL)
    return bad_usage ("give --sr-uuid or --sr-id, not both");
  if ((req.dry_run || nvdi > 0) && !req.metadata)
    return bad_usage ("--dry-run and --vdi go with --metadata");
  if (strcmp (req.input, "-") == 0 && isatty (STDIN_FILENO))
    return bad_usage (
      "refusing to read an archive from a terminal (give "
      "-i FILE or redirect standard input)");
  req.vdi_map = vdi;
  req.nvdi_map = nvdi;
  if (xva_s3_is_url (req.input)) {
    rc = Xva_cli_s3_setup (&s3, CMD);
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
  Xva_remote_callbacks (&r, &cb);
  Xva_client_import (&req, &cb, &res);
  Xva_remote_progress_end (&r);
  if (res.status != XVA_OK) {
    rc = Xva_remote_fail (&r, &res);
    goto out;
  }
  if (r.json)
    Xva_remote_json (stdout, &res, 2);
  else
    for (i = 0; i < res.nvm; i++)
      printf ("%s\n", res.vm_uuids[i]);
  if (res.mismatches > 0 && !r.quiet)
    Xva_cli_warn (CMD, "imported with %llu checksum mismatch%s (--force)",
                  (unsigned long long) res.mismatches,
                  res.mismatches == 1 ? "" : "es");
  rc = XVA_EXIT_OK;
out:
  Xva_client_result_clear (&res);
  Xva_remote_side_clear (&side);
  Xva_sink_s3_clear ();
  Xva_cli_s3_free (&s3);
  return rc;
}
