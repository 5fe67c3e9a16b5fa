/* xva: the command-line tool.  Dispatches on the subcommand. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "remote.h"
#ifdef XVA_HAVE_SERVER
#include "serve.h"
#endif

struct command {
  const char *name;
  int (*run) (int argc, char **argv);
  const char *summary;
};

static const struct command commands[] = {
  { "pack", Xva_cmd_pack, "make an archive of a new VM from raw disk images" },
  { "verify", Xva_cmd_verify, "check an archive's structure and checksums" },
  { "extract", Xva_cmd_extract, "write an archive's ova.xml and disk images" },
  { "inspect", Xva_cmd_inspect, "describe an archive's VMs and disks" },
  { "export", Xva_cmd_export, "export a VM from a host into an archive" },
  { "import", Xva_cmd_import, "import an archive into a host" },
  { "copy", Xva_cmd_copy, "copy a VM from one host to another" },
  { "ls", Xva_cmd_ls, "list the backups on object storage (s3://)" },
#ifdef XVA_HAVE_SERVER
  { "serve", Xva_cmd_serve, "serve VMs over the XenServer HTTP interface" },
  { "sr-create", Xva_cmd_sr_create,
    "add a storage repository to a data "
    "directory" },
#endif
};

#define NCOMMANDS (sizeof commands / sizeof commands[0])

static void
usage (FILE *f)
{
  size_t i;

  fprintf (f,
           "Usage: xva COMMAND [OPTIONS] [ARGS]\n"
           "       xva help COMMAND\n"
           "       xva --help | --version\n"
           "\n"
           "Writes and reads XVA archives (XenServer / XCP-ng VM exports).\n"
           "\n"
           "Commands:\n");
  for (i = 0; i < NCOMMANDS; i++)
    fprintf (f, "  %-10s %s\n", commands[i].name, commands[i].summary);
  fprintf (f,
           "\n"
           "A FILE of '-' means standard input or output.  Progress is shown\n"
           "on standard error when it is a terminal.\n"
           "\n"
           "Exit status:\n"
           "  0  success\n"
           "  1  other failure\n"
           "  2  bad usage\n"
           "  3  invalid, corrupt or truncated archive\n"
           "  4  local I/O error (open, read, write, no space)\n"
           "  5  authentication failed\n"
           "  6  not found\n"
           "  7  network failure\n"
           "  8  the server reported a failure\n"
           "\n"
           "Run 'xva COMMAND --help' for a command's options.\n");
}

/* Checks that standard output was written; returns the exit code. */
static int
flush_stdout (const char *cmd, int r)
{
  if (fflush (stdout) != 0 || ferror (stdout)) {
    Xva_cli_error (cmd, "cannot write to standard output");
    if (r == XVA_EXIT_OK)
      r = XVA_EXIT_IO;
  }
  return r;
}

/* The command called name, or NULL (said so). */
static const struct command *
find_command (const char *name)
{
  size_t i;

  for (i = 0; i < NCOMMANDS; i++)
    if (strcmp (commands[i].name, name) == 0)
      return &commands[i];
  Xva_cli_usage_error (NULL, "unknown command '%s'", name);
  return NULL;
}

static int
run_command (const struct command *c, int argc, char **argv)
{
  int r, sig;

  r = flush_stdout (c->name, c->run (argc, argv));
  sig = Xva_cli_interrupted ();
  if (sig != 0) {
    /* Cleaned up; now end the way the signal would have. */
    signal (sig, SIG_DFL);
    raise (sig);
  }
  return r;
}

int
main (int argc, char **argv)
{
  const struct command *c;
  char help_opt[] = "--help";
  char *help_argv[3];

  if (argc < 2) {
    usage (stderr);
    return XVA_EXIT_USAGE;
  }
  if (strcmp (argv[1], "--help") == 0 || strcmp (argv[1], "-h") == 0) {
    usage (stdout);
    return flush_stdout (NULL, XVA_EXIT_OK);
  }
  if (strcmp (argv[1], "--version") == 0 || strcmp (argv[1], "-V") == 0) {
    printf ("xva %s\n", XVA_VERSION_STRING);
    return flush_stdout (NULL, XVA_EXIT_OK);
  }
  if (strcmp (argv[1], "help") == 0) {
    if (argc < 3) {
      usage (stdout);
      return flush_stdout (NULL, XVA_EXIT_OK);
    }
    if (argc > 3) {
      Xva_cli_error ("help", "too many arguments");
      Xva_cli_usage_hint (NULL);
      return XVA_EXIT_USAGE;
    }
    c = find_command (argv[2]);
    if (c == NULL)
      return XVA_EXIT_USAGE;
    help_argv[0] = argv[2];
    help_argv[1] = help_opt;
    help_argv[2] = NULL;
    return run_command (c, 2, help_argv);
  }
  if (argv[1][0] == '-')
    return Xva_cli_usage_error (NULL, "unknown option '%s'", argv[1]);
  c = find_command (argv[1]);
  if (c == NULL)
    return XVA_EXIT_USAGE;
  Xva_cli_signals_init ();
  return run_command (c, argc - 1, argv + 1);
}
