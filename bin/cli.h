/* Shared helpers of the `xva` command: messages, files, sizes,
 * progress, exit codes and JSON output.  Uses only the public API. */
#ifndef XVA_BIN_CLI_H
#define XVA_BIN_CLI_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <xva/xva.h>

#if defined(__GNUC__) || defined(__clang__)
#define XVA_CLI_PRINTF(a, b) __attribute__ ((format (printf, a, b)))
#else
#define XVA_CLI_PRINTF(a, b)
#endif

/* Exit codes of every subcommand (documented in README.md and in
 * `xva --help`). */
enum xva_cli_exit {
  XVA_EXIT_OK = 0,       /* success */
  XVA_EXIT_FAIL = 1,     /* any other failure */
  XVA_EXIT_USAGE = 2,    /* bad usage */
  XVA_EXIT_ARCHIVE = 3,  /* invalid, corrupt or truncated archive */
  XVA_EXIT_IO = 4,       /* local I/O error */
  XVA_EXIT_AUTH = 5,     /* authentication failed */
  XVA_EXIT_NOTFOUND = 6, /* an object was not found */
  XVA_EXIT_NET = 7,      /* network failure */
  XVA_EXIT_SERVER = 8,   /* the server reported a failure */
};

/* Size of one read of archive input. */
#define XVA_CLI_READ_SIZE ((size_t) 4 << 20)

/* The subcommands: each takes argv[0] = its own name and returns an
 * exit code. */
int Xva_cmd_pack (int argc, char **argv);
int Xva_cmd_verify (int argc, char **argv);
int Xva_cmd_extract (int argc, char **argv);
int Xva_cmd_inspect (int argc, char **argv);
int Xva_cmd_ls (int argc, char **argv);

/* ---- messages (stderr) ---- */

/* "xva <cmd>: <message>\n". */
void Xva_cli_error (const char *cmd, const char *fmt, ...)
  XVA_CLI_PRINTF (2, 3);
/* "xva <cmd>: warning: <message>\n". */
void Xva_cli_warn (const char *cmd, const char *fmt, ...)
  XVA_CLI_PRINTF (2, 3);
/* "Try 'xva <cmd> --help'." */
void Xva_cli_usage_hint (const char *cmd);
/* Xva_cli_error, then Xva_cli_usage_hint; returns XVA_EXIT_USAGE. */
int Xva_cli_usage_error (const char *cmd, const char *fmt, ...)
  XVA_CLI_PRINTF (2, 3);
/* Reports getopt_long's '?' or ':' result (opterr must be 0 and the
 * option string must start with ':') and returns XVA_EXIT_USAGE. */
int Xva_cli_bad_option (const char *cmd, int c, int argc, char **argv);

/* The exit code for a library status. */
int Xva_cli_exit_code (int status);

/* ---- signals ---- */

/* Installs SIGINT/SIGTERM/SIGHUP handlers that set a flag (and make the
 * main thread's blocking calls return EINTR), and ignores SIGPIPE. */
void Xva_cli_signals_init (void);
/* The signal that asked us to stop, or 0. */
int Xva_cli_interrupted (void);

/* ---- files ---- */

/* Opens path for reading ("-": standard input, after checking that it
 * is not a terminal).  Prints a message on failure.  Returns the fd, or
 * -1 with *exit_code set. */
int Xva_cli_open_input (const char *cmd, const char *path, int *exit_code);
/* Writes all of buf (retrying short writes and EINTR).  0, or -1 with
 * errno (ECANCELED when a signal asked us to stop). */
int Xva_cli_write_all (int fd, const void *buf, size_t n);
/* The last component of path (without trailing slashes) as a new
 * string; NULL when out of memory. */
char *Xva_cli_basename (const char *path);
/* dir + "/" + name as a new string; NULL when out of memory. */
char *Xva_cli_path_join (const char *dir, const char *name);

/* ---- parsing ---- */

/* Parses a byte count: digits with an optional K, M, G, T or P suffix
 * (powers of 1024; "KiB"/"KB"/"k" forms accepted).  0 or -1. */
int Xva_cli_parse_size (const char *s, uint64_t *out);
/* --threads=N (0 to 1024; 0: one per core) into *out; on a bad value
 * says so with a usage hint and returns -1. */
int Xva_cli_threads_option (const char *cmd, const char *arg, unsigned *out);
/* Parses a decimal integer in [min, max].  0 or -1. */
int Xva_cli_parse_uint (const char *s, uint64_t min, uint64_t max,
                        uint64_t *out);
/* For an option that takes one of an enum's names (xva_compress_name,
 * xva_checksum_name): the value v in [0, last] whose name (v) is s, into
 * *out.  0, or -1 when no name matches. */
int Xva_cli_parse_name (const char *s, const char *(*name) (int), int last,
                        int *out);

/* ---- progress on a terminal ---- */

struct xva_cli_progress {
  int enabled;
  int shown;    /* a line is on the screen */
  double start; /* monotonic seconds */
  double last;  /* last refresh */
  size_t width; /* length of the line on the screen */
};

/* Enables the display when want is set and stderr is a terminal. */
void Xva_cli_progress_start (struct xva_cli_progress *pg, int want);
/* Refreshes the line (at most 5 times a second): bytes are archive
 * bytes moved so far; p (may be NULL) gives done/total disk bytes. */
void Xva_cli_progress_update (struct xva_cli_progress *pg, uint64_t bytes,
                              const struct xva_progress *p);
/* Clears the line. */
void Xva_cli_progress_end (struct xva_cli_progress *pg);
/* Seconds since pg was started. */
double Xva_cli_progress_elapsed (const struct xva_cli_progress *pg);
/* The parts of a progress line, for a display of its own: */
/* 1 when a line is due (the display is on, and it is the first line or
 * the last is 0.2 s old), with *elapsed set to the seconds since the
 * start; else 0. */
int Xva_cli_progress_due (struct xva_cli_progress *pg, double *elapsed);
/* Writes "SIZE  RATE/s" for bytes moved in elapsed seconds into
 * line[0..len) and returns its length. */
size_t Xva_cli_progress_head (char *line, size_t len, uint64_t bytes,
                              double elapsed);
/* Shows line (n bytes long), blanking the rest of the last one. */
void Xva_cli_progress_show (struct xva_cli_progress *pg, const char *line,
                            size_t n);

/* ---- reading an archive ---- */

/* Reads fd to its end in XVA_CLI_READ_SIZE reads (a regular file is
 * mapped instead), feeding r, then calls xva_reader_finish.  Returns
 * XVA_OK, the reader's status, XVA_EIO with *read_errno set when
 * reading fd failed (XVA_CLI_ESHRUNK: the file was cut short while it
 * was read), or XVA_ECANCELLED on a signal.  *bytes_read (may be NULL)
 * gets the bytes read. */
#define XVA_CLI_ESHRUNK (-1)
int Xva_cli_read_archive (int fd, struct xva_reader *r,
                          struct xva_cli_progress *pg, int *read_errno,
                          uint64_t *bytes_read);
/* Feeds r with what read_fn reads into buf[0..len) (XVA_OK with *got
 * bytes; XVA_EOF or *got == 0 at the end; < 0 on failure, the reason
 * kept by read_fn) until the end, then calls xva_reader_finish.
 * Returns XVA_OK, the reader's or read_fn's status, XVA_ENOMEM, or
 * XVA_ECANCELLED on a signal.  *total (counted from its value) gets
 * the bytes read. */
int Xva_cli_feed (struct xva_reader *r, struct xva_cli_progress *pg,
                  int (*read_fn) (void *opaque, void *buf, size_t len,
                                  size_t *got),
                  void *opaque, uint64_t *total);

/* ---- formatting ---- */

/* "xxhash", "sha1", "mixed" or "none" for a checksum_kinds bit set. */
const char *Xva_cli_checksum_kinds (unsigned kinds);
/* Human form of a byte count ("1.5 GiB") into buf. */
const char *Xva_cli_human_bytes (uint64_t n, char *buf, size_t len);
/* Text of a scalar value (STRING, DATE, INT, BOOL, DOUBLE) into buf, or
 * NULL for a missing or non-scalar value. */
const char *Xva_cli_value_text (const struct xva_value *v, char *buf,
                                size_t len);
/* Prints s with control bytes shown as '?' (for terminal output). */
void Xva_cli_print_safe (FILE *f, const char *s);
/* Prints s as a JSON string (quoted, escaped; invalid UTF-8 becomes
 * U+FFFD); NULL prints null. */
void Xva_cli_json_string (FILE *f, const char *s);

#endif /* XVA_BIN_CLI_H */
