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
  { "input", required_argument, NULL, 'i' },
  { "sr-uuid", required_argument, NULL, OPT_SR_UUID },
  { "sr-id", required_argument, NULL, OPT_SR_ID },
  { "restore", no_argument, NULL, OPT_RESTORE },
  { "force", no_argument, NULL, OPT_FORCE },
  { "metadata", no_argument, NULL, OPT_METADATA },
  { "dry-run", no_argument, NULL, OPT_DRY_RUN },
  { "vdi", required_argument, NULL, OPT_VDI },
  XVA_REMOTE_HOST_OPTIONS,
  { NULL, 0, NULL, 0 },
};

/* clang-format off */
static const char usage_text[] =
  "Usage: xva import --url URL [-i FILE|-] [OPTIONS]\n"
  "\n"
  "Imports an XVA archive into a XenServer / XCP-ng host or `xva serve`\n"
  "(PUT /import) and prints the uuids of the new VMs, one a line.  The\n"
  "archive is checked on the way; a file is sent with its length, a\n"
  "pipe as a stream.  The import succeeds only when the host's task\n"
  "does.\n"
  "\n"
  XVA_REMOTE_HOST_HELP_START
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
  XVA_REMOTE_HOST_HELP_END;
/* clang-format on */

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
  struct xva_remote_side side;
  struct xva_remote r;
  size_t nvdi = 0;
  int c, rc;

  Xva_remote_init (&r, CMD, usage_text);
  Xva_remote_side_init (&side, "XVA_USER", "XVA_PASSWORD");
  memset (&req, 0, sizeof req);
  req.input = "-";
  while ((c = Xva_remote_getopt (&r, &side, argc, argv, ":i:qh", long_options,
                                 &rc))
         != -1) {
    switch (c) {
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
        return Xva_cli_usage_error (CMD,
                                    "--vdi wants SRC=DST (uuids or SCSI ids)");
      if (nvdi >= MAX_VDI_MAP)
        return Xva_cli_usage_error (CMD, "too many --vdi");
      vdi[nvdi++] = optarg;
      break;
    }
  }
  if (rc != -1)
    return rc;
  if (optind < argc)
    return Xva_cli_usage_error (
      CMD, "unexpected arguments (the archive goes with -i)");
  if (side.url == NULL)
    return Xva_cli_usage_error (CMD, "--url is required");
  if (req.sr_uuid != NULL && req.sr_ref != NULL)
    return Xva_cli_usage_error (CMD, "give --sr-uuid or --sr-id, not both");
  if ((req.dry_run || nvdi > 0) && !req.metadata)
    return Xva_cli_usage_error (CMD, "--dry-run and --vdi go with --metadata");
  if (strcmp (req.input, "-") == 0 && isatty (STDIN_FILENO))
    return Xva_cli_usage_error (CMD,
                                "refusing to read an archive from a terminal "
                                "(give -i FILE or redirect standard input)");
  req.vdi_map = vdi;
  req.nvdi_map = nvdi;
  req.task_id = r.task_id;
  rc = Xva_remote_s3 (&r, req.input, 0);
  if (rc == XVA_EXIT_OK)
    rc = Xva_remote_host (&r, &side, &req.host);
  if (rc != XVA_EXIT_OK)
    goto out;
  Xva_client_import (&req, Xva_remote_callbacks (&r), &r.res);
  rc = Xva_remote_finish (&r, 2);
  if (rc == XVA_EXIT_OK && r.res.mismatches > 0 && !r.quiet)
    Xva_cli_warn (CMD, "imported with %llu checksum mismatch%s (--force)",
                  (unsigned long long) r.res.mismatches,
                  r.res.mismatches == 1 ? "" : "es");
out:
  Xva_remote_side_clear (&side);
  Xva_remote_free (&r);
  return rc;
}
