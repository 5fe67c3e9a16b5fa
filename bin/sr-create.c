/* xva sr-create: add a directory SR to a data directory, directly or
 * through the server that runs on it. */
/* Built only together with server/ (XVA_HAVE_SERVER). */
#ifdef XVA_HAVE_SERVER

#include <getopt.h>
#include <string.h>

#include "cli.h"
#include "serve.h"
#include "../server/http.h"

#define CMD "sr-create"

static const struct option long_options[] = {
  { "data", required_argument, NULL, 'd' },
  { "name", required_argument, NULL, 'n' },
  { "help", no_argument, NULL, 'h' },
  { NULL, 0, NULL, 0 },
};

/* clang-format off */
static const char usage_text[] =
  "Usage: xva sr-create --data DIR --name NAME\n"
  "\n"
  "Adds a storage repository named NAME to the data directory DIR (a\n"
  "directory DIR/sr/<uuid> for its disk images) and prints its uuid.\n"
  "When 'xva serve' runs on DIR, the server makes it, asked through\n"
  "DIR/" XVA_SERVE_CTL_NAME ".\n"
  "\n"
  "Options:\n"
  "  -d, --data DIR    the data directory (made by 'xva serve')\n"
  "  -n, --name NAME   the SR's name_label\n"
  "  -h, --help        show this help\n"
  "\n"
  "Exit status: 0 success, 1 failure, 2 bad usage, 7 the running\n"
  "server cannot be reached, 8 the server refused.\n";
/* clang-format on */

int
Xva_cmd_sr_create (int argc, char **argv)
{
  const char *dir = NULL, *name = NULL;
  char uuid[40], err[1024];
  int c, s;

  opterr = 0;
  while ((c = getopt_long (argc, argv, ":d:n:h", long_options, NULL)) != -1) {
    switch (c) {
    case 'd':
      dir = optarg;
      break;
    case 'n':
      name = optarg;
      break;
    case 'h':
      fputs (usage_text, stdout);
      return XVA_EXIT_OK;
    default:
      return Xva_cli_bad_option (CMD, c, argc, argv);
    }
  }
  if (optind < argc)
    return Xva_cli_usage_error (CMD, "unexpected argument '%s'", argv[optind]);
  if (dir == NULL || name == NULL || name[0] == '\0')
    return Xva_cli_usage_error (CMD,
                                "--data DIR and --name NAME are required");
  err[0] = '\0';
  s = Xva_serve_sr_create (dir, name, uuid, err, sizeof err);
  if (s != XVA_OK)
    return Xva_cli_server_fail (CMD, s, err);
  printf ("%s\n", uuid);
  return XVA_EXIT_OK;
}

#else
typedef int xva_no_server_sr_create;
#endif /* XVA_HAVE_SERVER */
