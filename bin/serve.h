/* The server subcommands of `xva`: `serve` and `sr-create`. */
#ifndef XVA_BIN_SERVE_H
#define XVA_BIN_SERVE_H

/* Each takes argv[0] = its own name and returns an exit code. */
int Xva_cmd_serve (int argc, char **argv);
int Xva_cmd_sr_create (int argc, char **argv);

/* Prints a failure of the server library ("xva CMD: err", or the
 * status's text when err is empty) and returns its exit code. */
int Xva_cli_server_fail (const char *cmd, int status, const char *err);

#endif /* XVA_BIN_SERVE_H */
