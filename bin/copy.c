/* xva copy: a VM from one host to another, streamed, no temporary file. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "remote.h"

#define CMD "copy"

enum {
  OPT_FROM = 256,
  OPT_TO,
  OPT_SR_UUID,
  OPT_TO_USER,
  OPT_TO_PASSWORD_FILE,
  OPT_TO_SESSION,
};

static const struct option long_options[] = {
  { "from", required_argument, NULL, OPT_FROM },
  { "to", required_argument, NULL, OPT_TO },
  { "uuid", required_argument, NULL, XVA_ROPT_UUID },
  { "name", required_argument, NULL, XVA_ROPT_NAME },
  { "sr-uuid", required_argument, NULL, OPT_SR_UUID },
  { "compress", required_argument, NULL, XVA_ROPT_COMPRESS },
  { "to-user", required_argument, NULL, OPT_TO_USER },
  { "to-password-file", required_argument, NULL, OPT_TO_PASSWORD_FILE },
  { "to-session", required_argument, NULL, OPT_TO_SESSION },
  XVA_REMOTE_COMMON_OPTIONS,
  { NULL, 0, NULL, 0 },
};

/* clang-format off */
static const char usage_text[] =
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
  XVA_REMOTE_EXIT_HELP;
/* clang-format on */

int
Xva_cmd_copy (int argc, char **argv)
{
  struct Xva_copy_req req;
  struct xva_remote_side from, to;
  struct xva_remote r;
  int c, rc;

  Xva_remote_init (&r, CMD, usage_text);
  Xva_remote_side_init (&from, "XVA_USER", "XVA_PASSWORD");
  Xva_remote_side_init (&to, "XVA_TO_USER", "XVA_TO_PASSWORD");
  to.fallback_user_env = "XVA_USER";
  to.fallback_password_env = "XVA_PASSWORD";
  memset (&req, 0, sizeof req);
  while ((c = Xva_remote_getopt (&r, &from, argc, argv, ":qh", long_options,
                                 &rc))
         != -1) {
    switch (c) {
    case OPT_FROM:
      from.url = optarg;
      break;
    case OPT_TO:
      to.url = optarg;
      break;
    case OPT_SR_UUID:
      req.sr_uuid = optarg;
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
    }
  }
  if (rc != -1)
    return rc;
  if (optind < argc)
    return Xva_cli_usage_error (CMD, "unexpected arguments");
  if (from.url == NULL || to.url == NULL)
    return Xva_cli_usage_error (CMD, "--from and --to are required");
  if (r.nvm != 1)
    return Xva_cli_usage_error (CMD, "give one of --uuid or --name");
  req.uuid = r.uuid;
  req.name = r.name;
  req.compress = r.compress;
  rc = Xva_remote_host (&r, &from, &req.from);
  if (rc == XVA_EXIT_OK)
    rc = Xva_remote_host (&r, &to, &req.to);
  if (rc != XVA_EXIT_OK)
    goto out;
  Xva_client_copy (&req, Xva_remote_callbacks (&r), &r.res);
  rc = Xva_remote_finish (&r, 1 | 2);
out:
  Xva_remote_side_clear (&from);
  Xva_remote_side_clear (&to);
  Xva_remote_free (&r);
  return rc;
}
