/* xva copy: a VM from one host to another, streamed, no temporary file. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "remote.h"

#define CMD "copy"

enum {
  OPT_FROM = 256,
  OPT_TO,
  OPT_UUID,
  OPT_NAME,
  OPT_SR_UUID,
  OPT_TO_USER,
  OPT_TO_PASSWORD_FILE,
  OPT_TO_SESSION,
};

static const struct option long_options[] = {
  { "from", required_argument, NULL, OPT_FROM },
  { "to", required_argument, NULL, OPT_TO },
  { "uuid", required_argument, NULL, OPT_UUID },
  { "name", required_argument, NULL, OPT_NAME },
  { "sr-uuid", required_argument, NULL, OPT_SR_UUID },
  { "compress", required_argument, NULL, XVA_ROPT_COMPRESS },
  { "to-user", required_argument, NULL, OPT_TO_USER },
  { "to-password-file", required_argument, NULL, OPT_TO_PASSWORD_FILE },
  { "to-session", required_argument, NULL, OPT_TO_SESSION },
  XVA_REMOTE_COMMON_OPTIONS,
  { NULL, 0, NULL, 0 },
};

static void
usage (FILE *f)
{
  /* clang-format off */
  fprintf (f,
    "Usage: xva copy --from URL --to URL (--uuid U | --name NAME)\n"
    "                [--sr-uuid U] [OPTIONS]\n"
    "\n"
    "Copies a VM from one host to another: the export (GET /export) is\n"
    "streamed into the import (PUT /import) without a temporary file,\n"
    "every chunk checked on the way.  Prints the new VM's uuid.\n"
    "\n"
    "Options:\n"
    "      --from URL            the source host\n"
    "      --to URL              the target host\n"
    "      --uuid U              the VM with this uuid\n"
    "      --name NAME           the VM with this name_label (one only)\n"
    "      --sr-uuid U           into the target's SR with this uuid\n"
    "                            (default: its pool's default SR)\n"
    "      --compress ALG        none (default), gzip or zstd on the wire\n"
    "      --to-user NAME        user on the target (default: XVA_TO_USER,\n"
    "                            ~/.netrc, XVA_USER, root)\n"
    "      --to-password-file F  the target's password (else\n"
    "                            XVA_TO_PASSWORD, ~/.netrc, XVA_PASSWORD)\n"
    "      --to-session REF      use this session on the target\n"
    "  (--user, --password-file and --session are for the source)\n"
    XVA_REMOTE_COMMON_HELP
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
Xva_cmd_copy (int argc, char **argv)
{
  struct Xva_copy_req req;
  struct Xva_client_result res;
  struct Xva_client_cb cb;
  struct xva_remote_side from, to;
  struct xva_remote r;
  size_t i;
  int c, rc, nsel = 0;

  Xva_remote_init (&r, CMD);
  Xva_remote_side_init (&from, "XVA_USER", "XVA_PASSWORD");
  Xva_remote_side_init (&to, "XVA_TO_USER", "XVA_TO_PASSWORD");
  to.fallback_user_env = "XVA_USER";
  to.fallback_password_env = "XVA_PASSWORD";
  Xva_client_result_init (&res);
  memset (&req, 0, sizeof req);
  opterr = 0;
  while ((c = getopt_long (argc, argv, ":qh", long_options, NULL)) != -1) {
    if (Xva_remote_option (&r, &from, c, optarg))
      continue;
    switch (c) {
    case OPT_FROM:
      from.url = optarg;
      break;
    case OPT_TO:
      to.url = optarg;
      break;
    case OPT_UUID:
      req.uuid = optarg;
      nsel++;
      break;
    case OPT_NAME:
      req.name = optarg;
      nsel++;
      break;
    case OPT_SR_UUID:
      req.sr_uuid = optarg;
      break;
    case XVA_ROPT_COMPRESS:
      if (Xva_remote_parse_compress (&r, optarg, &req.compress) != 0)
        return XVA_EXIT_USAGE;
      break;
    case OPT_TO_USER:
      to.user = optarg;
      break;
    case OPT_TO_PASSWORD_FILE:
      to.password_file = optarg;
      break;
    case OPT_TO_SESSION:
      to.session = optarg;
      break;
    case 'h':
      usage (stdout);
      return XVA_EXIT_OK;
    default:
      return Xva_cli_bad_option (CMD, c, argc, argv);
    }
  }
  if (optind < argc)
    return bad_usage ("unexpected arguments");
  if (from.url == NULL || to.url == NULL)
    return bad_usage ("--from and --to are required");
  if (nsel != 1)
    return bad_usage ("give one of --uuid or --name");
  rc = Xva_remote_host (&r, &from, &req.from);
  if (rc == XVA_EXIT_OK)
    rc = Xva_remote_host (&r, &to, &req.to);
  if (rc != XVA_EXIT_OK)
    goto out;
  Xva_remote_callbacks (&r, &cb);
  Xva_client_copy (&req, &cb, &res);
  Xva_remote_progress_end (&r);
  if (res.status != XVA_OK) {
    rc = Xva_remote_fail (&r, &res);
    goto out;
  }
  if (r.json)
    Xva_remote_json (stdout, &res, 1 | 2);
  else
    for (i = 0; i < res.nvm; i++)
      printf ("%s\n", res.vm_uuids[i]);
  rc = XVA_EXIT_OK;
out:
  Xva_client_result_clear (&res);
  Xva_remote_side_clear (&from);
  Xva_remote_side_clear (&to);
  return rc;
}
