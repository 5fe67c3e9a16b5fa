/* Shared helpers of the `xva` command. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

/* ------------------------------------------------------------------ */
/* Messages                                                             */

static void vmessage (const char *cmd, const char *kind, const char *fmt,
                      va_list ap) XVA_CLI_PRINTF (3, 0);

static void
vmessage (const char *cmd, const char *kind, const char *fmt, va_list ap)
{
  fflush (stdout);
  if (cmd != NULL && cmd[0] != '\0')
    fprintf (stderr, "xva %s: %s", cmd, kind);
  else
    fprintf (stderr, "xva: %s", kind);
  vfprintf (stderr, fmt, ap);
  fputc ('\n', stderr);
}

void
Xva_cli_error (const char *cmd, const char *fmt, ...)
{
  va_list ap;

  va_start (ap, fmt);
  vmessage (cmd, "", fmt, ap);
  va_end (ap);
}

void
Xva_cli_warn (const char *cmd, const char *fmt, ...)
{
  va_list ap;

  va_start (ap, fmt);
  vmessage (cmd, "warning: ", fmt, ap);
  va_end (ap);
}

void
Xva_cli_usage_hint (const char *cmd)
{
  if (cmd != NULL && cmd[0] != '\0')
    fprintf (stderr, "Try 'xva %s --help'.\n", cmd);
  else
    fprintf (stderr, "Try 'xva --help'.\n");
}

int
Xva_cli_usage_error (const char *cmd, const char *fmt, ...)
{
  va_list ap;

  va_start (ap, fmt);
  vmessage (cmd, "", fmt, ap);
  va_end (ap);
  Xva_cli_usage_hint (cmd);
  return XVA_EXIT_USAGE;
}

int
Xva_cli_bad_option (const char *cmd, int c, int argc, char **argv)
{
  const char *arg = NULL;
  size_t namelen;

  if (optind >= 1 && optind - 1 < argc)
    arg = argv[optind - 1];
  if (arg != NULL && strncmp (arg, "--", 2) == 0) {
    namelen = strcspn (arg, "=");
    if (c == ':')
      Xva_cli_error (cmd, "option '%.*s' needs an argument", (int) namelen,
                     arg);
    else
      Xva_cli_error (cmd, "unknown or ambiguous option '%.*s'", (int) namelen,
                     arg);
  }
  else if (c == ':')
    Xva_cli_error (cmd, "option '-%c' needs an argument", optopt);
  else if (isprint (optopt))
    Xva_cli_error (cmd, "unknown option '-%c'", optopt);
  else
    Xva_cli_error (cmd, "unknown option");
  Xva_cli_usage_hint (cmd);
  return XVA_EXIT_USAGE;
}

int
Xva_cli_exit_code (int status)
{
  switch (status) {
  case XVA_OK:
  case XVA_EOF:
    return XVA_EXIT_OK;
  case XVA_EFORMAT:
  case XVA_ECHECKSUM:
  case XVA_ETRUNCATED:
  case XVA_EVERSION:
  case XVA_ECOMPRESS:
  case XVA_ELIMIT:
    return XVA_EXIT_ARCHIVE;
  case XVA_EIO:
  case XVA_ENOSPC:
    return XVA_EXIT_IO;
  case XVA_EAUTH:
    return XVA_EXIT_AUTH;
  case XVA_ENOTFOUND:
    return XVA_EXIT_NOTFOUND;
  case XVA_ENET:
    return XVA_EXIT_NET;
  case XVA_ESERVER:
    return XVA_EXIT_SERVER;
  default:
    return XVA_EXIT_FAIL;
  }
}

/* ------------------------------------------------------------------ */
/* Signals                                                              */

static volatile sig_atomic_t stop_signal;
static volatile sig_atomic_t main_hits;
static pthread_t main_thread;

static void
on_signal (int sig)
{
  int saved = errno;

  if (stop_signal == 0)
    stop_signal = sig;
  if (!pthread_equal (pthread_self (), main_thread)) {
    /* Wake the main thread so that its blocking call returns EINTR. */
    pthread_kill (main_thread, sig);
  }
  else if (++main_hits > 1) {
    /* Asked twice: stop now. */
    signal (sig, SIG_DFL);
    raise (sig);
  }
  errno = saved;
}

void
Xva_cli_signals_init (void)
{
  static const int sigs[] = { SIGINT, SIGTERM, SIGHUP };
  struct sigaction sa;
  size_t i;

  main_thread = pthread_self ();
  memset (&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset (&sa.sa_mask);
  sa.sa_flags = 0; /* no SA_RESTART: blocking calls see EINTR */
  for (i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
    sigaction (sigs[i], &sa, NULL);
  signal (SIGPIPE, SIG_IGN);
}

int
Xva_cli_interrupted (void)
{
  return (int) stop_signal;
}

/* ------------------------------------------------------------------ */
/* Files                                                                */

int
Xva_cli_open_input (const char *cmd, const char *path, int *exit_code)
{
  int fd;

  if (strcmp (path, "-") == 0) {
    if (isatty (STDIN_FILENO)) {
      Xva_cli_error (cmd,
                     "refusing to read an archive from a terminal "
                     "(give a FILE or redirect standard input)");
      Xva_cli_usage_hint (cmd);
      *exit_code = XVA_EXIT_USAGE;
      return -1;
    }
    return STDIN_FILENO;
  }
  fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd == -1) {
    Xva_cli_error (cmd, "cannot open %s: %s", path, strerror (errno));
    *exit_code = XVA_EXIT_IO;
    return -1;
  }
  return fd;
}

int
Xva_cli_write_all (int fd, const void *buf, size_t n)
{
  const unsigned char *p = buf;
  ssize_t w;

  while (n > 0) {
    if (Xva_cli_interrupted ()) {
      errno = ECANCELED;
      return -1;
    }
    w = write (fd, p, n);
    if (w < 0) {
      if (errno == EINTR)
        continue;
      return -1;
    }
    if (w == 0) {
      errno = EIO;
      return -1;
    }
    p += w;
    n -= (size_t) w;
  }
  return 0;
}

char *
Xva_cli_basename (const char *path)
{
  size_t end = strlen (path);
  size_t start;
  char *out;

  while (end > 1 && path[end - 1] == '/')
    end--;
  start = end;
  while (start > 0 && path[start - 1] != '/')
    start--;
  out = malloc (end - start + 1);
  if (out == NULL)
    return NULL;
  memcpy (out, path + start, end - start);
  out[end - start] = '\0';
  return out;
}

char *
Xva_cli_path_join (const char *dir, const char *name)
{
  size_t dl = strlen (dir);
  size_t nl = strlen (name);
  int slash = dl > 0 && dir[dl - 1] != '/';
  char *out;

  if (dl > SIZE_MAX / 2 || nl > SIZE_MAX / 2)
    return NULL;
  out = malloc (dl + nl + 2);
  if (out == NULL)
    return NULL;
  memcpy (out, dir, dl);
  if (slash)
    out[dl] = '/';
  memcpy (out + dl + (size_t) slash, name, nl);
  out[dl + (size_t) slash + nl] = '\0';
  return out;
}

/* ------------------------------------------------------------------ */
/* Parsing                                                              */

int
Xva_cli_parse_uint (const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
  unsigned long long v;
  char *end;

  if (s == NULL || !isdigit ((unsigned char) s[0]))
    return -1;
  errno = 0;
  v = strtoull (s, &end, 10);
  if (errno != 0 || *end != '\0')
    return -1;
  if ((uint64_t) v < min || (uint64_t) v > max)
    return -1;
  *out = (uint64_t) v;
  return 0;
}

int
Xva_cli_threads_option (const char *cmd, const char *arg, unsigned *out)
{
  uint64_t v;

  if (Xva_cli_parse_uint (arg, 0, 1024, &v) != 0) {
    Xva_cli_error (cmd, "bad --threads '%s' (0 to 1024)", arg);
    Xva_cli_usage_hint (cmd);
    return -1;
  }
  *out = (unsigned) v;
  return 0;
}

int
Xva_cli_parse_name (const char *s, const char *(*name) (int), int last,
                    int *out)
{
  const char *n;
  int v;

  for (v = 0; v <= last; v++) {
    n = name (v);
    if (n != NULL && strcmp (s, n) == 0) {
      *out = v;
      return 0;
    }
  }
  return -1;
}

int
Xva_cli_parse_size (const char *s, uint64_t *out)
{
  unsigned long long v;
  unsigned shift = 0;
  char *end;
  const char *p;

  if (s == NULL || !isdigit ((unsigned char) s[0]))
    return -1;
  errno = 0;
  v = strtoull (s, &end, 10);
  if (errno != 0)
    return -1;
  p = end;
  switch (toupper ((unsigned char) *p)) {
  case '\0':
    break;
  case 'B':
    p++;
    break;
  case 'K':
    shift = 10;
    p++;
    break;
  case 'M':
    shift = 20;
    p++;
    break;
  case 'G':
    shift = 30;
    p++;
    break;
  case 'T':
    shift = 40;
    p++;
    break;
  case 'P':
    shift = 50;
    p++;
    break;
  default:
    return -1;
  }
  if (shift > 0) {
    if (toupper ((unsigned char) p[0]) == 'I'
        && toupper ((unsigned char) p[1]) == 'B')
      p += 2;
    else if (toupper ((unsigned char) p[0]) == 'B')
      p++;
  }
  if (*p != '\0')
    return -1;
  if (shift > 0 && (uint64_t) v > (UINT64_MAX >> shift))
    return -1;
  *out = (uint64_t) v << shift;
  return 0;
}

/* ------------------------------------------------------------------ */
/* Progress                                                             */

static double
now_seconds (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

void
Xva_cli_progress_start (struct xva_cli_progress *pg, int want)
{
  memset (pg, 0, sizeof *pg);
  pg->enabled = want && isatty (STDERR_FILENO);
  pg->start = now_seconds ();
  pg->last = pg->start;
}

double
Xva_cli_progress_elapsed (const struct xva_cli_progress *pg)
{
  return now_seconds () - pg->start;
}

static void
format_duration (double secs, char *buf, size_t len)
{
  uint64_t s;

  if (!(secs >= 0.0) || secs > 360000.0) {
    snprintf (buf, len, "--:--");
    return;
  }
  s = (uint64_t) (secs + 0.5);
  if (s >= 3600)
    snprintf (buf, len, "%" PRIu64 ":%02u:%02u", s / 3600,
              (unsigned) (s / 60 % 60), (unsigned) (s % 60));
  else
    snprintf (buf, len, "%u:%02u", (unsigned) (s / 60), (unsigned) (s % 60));
}

int
Xva_cli_progress_due (struct xva_cli_progress *pg, double *elapsed)
{
  double t;

  if (!pg->enabled)
    return 0;
  t = now_seconds ();
  if (pg->shown && t - pg->last < 0.2)
    return 0;
  pg->last = t;
  *elapsed = t - pg->start;
  return 1;
}

size_t
Xva_cli_progress_head (char *line, size_t len, uint64_t bytes, double elapsed)
{
  char size[32], rate[32];
  int w;

  Xva_cli_human_bytes (bytes, size, sizeof size);
  if (elapsed > 0.0)
    Xva_cli_human_bytes ((uint64_t) ((double) bytes / elapsed), rate,
                         sizeof rate);
  else
    snprintf (rate, sizeof rate, "-");
  w = snprintf (line, len, "%s  %s/s", size, rate);
  if (w <= 0)
    return 0;
  return (size_t) w < len ? (size_t) w : len - 1;
}

void
Xva_cli_progress_show (struct xva_cli_progress *pg, const char *line, size_t n)
{
  fprintf (stderr, "\r%s", line);
  if (n < pg->width)
    fprintf (stderr, "%*s", (int) (pg->width - n), "");
  fflush (stderr);
  pg->width = n;
  pg->shown = 1;
}

void
Xva_cli_progress_update (struct xva_cli_progress *pg, uint64_t bytes,
                         const struct xva_progress *p)
{
  char line[160], eta[32];
  double elapsed;
  size_t used;
  int w;

  if (!Xva_cli_progress_due (pg, &elapsed))
    return;
  used = Xva_cli_progress_head (line, sizeof line, bytes, elapsed);
  if (p != NULL && p->total > 0) {
    uint64_t done = p->done < p->total ? p->done : p->total;
    unsigned pct = (unsigned) ((double) done * 100.0 / (double) p->total);
    if (done > 0 && elapsed > 0.0)
      format_duration (elapsed * (double) (p->total - done) / (double) done,
                       eta, sizeof eta);
    else
      snprintf (eta, sizeof eta, "--:--");
    w = snprintf (line + used, sizeof line - used, "  %3u%%  ETA %s", pct,
                  eta);
    if (w > 0)
      used += (size_t) w;
    if (used >= sizeof line)
      used = sizeof line - 1;
  }
  Xva_cli_progress_show (pg, line, used);
}

void
Xva_cli_progress_end (struct xva_cli_progress *pg)
{
  if (!pg->enabled || !pg->shown)
    return;
  fprintf (stderr, "\r%*s\r", (int) pg->width, "");
  fflush (stderr);
  pg->shown = 0;
  pg->width = 0;
}

/* ------------------------------------------------------------------ */
/* Reading an archive                                                   */

/* A regular file is mapped rather than read: the chunks are checked
 * (and written, for extract) straight from the page cache on every
 * core, without read()'s copy.  It is fed in MAP_WINDOW slices whose
 * pages are let go once done, so resident memory stays bounded.
 *
 * A mapped file that shrinks under us (another program truncating it)
 * would raise SIGBUS.  The handler maps a page of zeros over the one
 * that is gone and notes it; the read then fails with a clear
 * message instead of a crash.  One mapping at a time per process. */
#define MAP_WINDOW ((size_t) 16 << 20)

static const char *volatile map_lo;
static const char *volatile map_hi;
static uintptr_t map_page; /* page size, read before the handler runs */
static volatile sig_atomic_t map_cut;
static struct sigaction old_bus;

static void
on_sigbus (int sig, siginfo_t *si, void *ctx)
{
  const char *a = si != NULL ? (const char *) si->si_addr : NULL;

  (void) ctx;
  if (a != NULL && map_lo != NULL && a >= map_lo && a < map_hi) {
    void *page = (void *) ((uintptr_t) a & ~(map_page - 1));

    if (mmap (page, (size_t) map_page, PROT_READ,
              MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
        != MAP_FAILED) {
      map_cut = 1;
      return;
    }
  }
  /* Not ours: die of it as without the handler. */
  sigaction (sig, &old_bus, NULL);
  raise (sig);
}

/* Feeds r from a mapping of the regular file fd (size bytes).
 * Returns 1 when it did (the status in *status), 0 when the file cannot
 * be mapped (the caller reads it instead). */
static int
read_mapped (int fd, uint64_t size, struct xva_reader *r,
             struct xva_cli_progress *pg, int *read_errno, uint64_t *total,
             int *status)
{
  struct sigaction sa;
  struct xva_progress p;
  struct xva_in in;
  struct stat sb;
  const unsigned char *base;
  size_t len, off = 0;
  int s = XVA_OK;

  if (size == 0 || size > (uint64_t) SIZE_MAX)
    return 0;
  len = (size_t) size;
  base = mmap (NULL, len, PROT_READ, MAP_SHARED, fd, 0);
  if (base == MAP_FAILED)
    return 0;
  (void) madvise ((void *) (uintptr_t) base, len, MADV_SEQUENTIAL);
  memset (&sa, 0, sizeof sa);
  sa.sa_sigaction = on_sigbus;
  sa.sa_flags = SA_SIGINFO;
  sigemptyset (&sa.sa_mask);
  map_cut = 0;
  map_page = (uintptr_t) sysconf (_SC_PAGESIZE);
  map_lo = (const char *) base;
  map_hi = (const char *) base + len;
  if (sigaction (SIGBUS, &sa, &old_bus) != 0) {
    map_lo = map_hi = NULL;
    munmap ((void *) (uintptr_t) base, len);
    return 0;
  }
  while (off < len) {
    size_t n = len - off < MAP_WINDOW ? len - off : MAP_WINDOW;

    if (Xva_cli_interrupted ()) {
      s = XVA_ECANCELLED;
      break;
    }
    in.src = base + off;
    in.size = n;
    in.pos = 0;
    s = xva_reader_feed (r, &in);
    /* Every chunk in the window is done: let its pages go. */
    (void) madvise ((void *) (uintptr_t) (base + off), n, MADV_DONTNEED);
    off += n;
    *total = off;
    if (map_cut)
      break;
    if (pg != NULL) {
      xva_reader_progress (r, &p);
      Xva_cli_progress_update (pg, off, &p);
    }
    if (s == XVA_EOF || s < 0)
      break;
  }
  /* Cut inside a page, the rest of that page reads as zeros. */
  if (!map_cut && fstat (fd, &sb) == 0 && (uint64_t) sb.st_size < size)
    map_cut = 1;
  if (map_cut) {
    *read_errno = XVA_CLI_ESHRUNK;
    s = XVA_EIO;
  }
  else if (s == XVA_OK || s == XVA_EOF)
    s = xva_reader_finish (r);
  sigaction (SIGBUS, &old_bus, NULL);
  map_lo = map_hi = NULL;
  munmap ((void *) (uintptr_t) base, len);
  *status = s;
  return 1;
}

int
Xva_cli_feed (struct xva_reader *r, struct xva_cli_progress *pg,
              int (*read_fn) (void *opaque, void *buf, size_t len,
                              size_t *got),
              void *opaque, uint64_t *total)
{
  struct xva_progress p;
  struct xva_in in;
  unsigned char *buf;
  size_t got;
  int s;

  buf = aligned_alloc (4096, XVA_CLI_READ_SIZE); /* aligned: faster reads */
  if (buf == NULL)
    return XVA_ENOMEM;
  for (;;) {
    if (Xva_cli_interrupted ()) {
      s = XVA_ECANCELLED;
      goto out;
    }
    got = 0;
    s = read_fn (opaque, buf, XVA_CLI_READ_SIZE, &got);
    if (s < 0)
      goto out;
    if (s == XVA_EOF || got == 0)
      break;
    *total += got;
    in.src = buf;
    in.size = got;
    in.pos = 0;
    s = xva_reader_feed (r, &in);
    if (pg != NULL) {
      xva_reader_progress (r, &p);
      Xva_cli_progress_update (pg, *total, &p);
    }
    if (s == XVA_EOF)
      break;
    if (s < 0)
      goto out;
  }
  s = xva_reader_finish (r);
out:
  free (buf);
  return s;
}

/* A file descriptor for Xva_cli_feed; read errors go to *read_errno. */
struct fd_source {
  int fd;
  int *read_errno;
};

static int
read_fd (void *opaque, void *buf, size_t len, size_t *got)
{
  struct fd_source *src = opaque;
  ssize_t n;

  while ((n = read (src->fd, buf, len)) < 0) {
    if (errno != EINTR) {
      *src->read_errno = errno;
      return XVA_EIO;
    }
    if (Xva_cli_interrupted ())
      return XVA_ECANCELLED;
  }
  *got = (size_t) n;
  return XVA_OK;
}

int
Xva_cli_read_archive (int fd, struct xva_reader *r,
                      struct xva_cli_progress *pg, int *read_errno,
                      uint64_t *bytes_read)
{
  struct fd_source src;
  struct stat sb;
  uint64_t total = 0;
  int s;

  *read_errno = 0;
  if (fstat (fd, &sb) != 0 || !S_ISREG (sb.st_mode)
      || lseek (fd, 0, SEEK_CUR) != 0
      || !read_mapped (fd, (uint64_t) sb.st_size, r, pg, read_errno, &total,
                       &s)) {
    src.fd = fd;
    src.read_errno = read_errno;
    s = Xva_cli_feed (r, pg, read_fd, &src, &total);
  }
  if (bytes_read != NULL)
    *bytes_read = total;
  return s;
}

/* ------------------------------------------------------------------ */
/* Formatting                                                           */

const char *
Xva_cli_checksum_kinds (unsigned kinds)
{
  unsigned x = 1u << XVA_CHECKSUM_XXHASH;
  unsigned s = 1u << XVA_CHECKSUM_SHA1;

  if (kinds == 0)
    return "none";
  if (kinds == x)
    return "xxhash";
  if (kinds == s)
    return "sha1";
  return "mixed";
}

const char *
Xva_cli_human_bytes (uint64_t n, char *buf, size_t len)
{
  static const char *const units[] = {
    "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"
  };
  double v = (double) n;
  size_t u = 0;

  if (n < 1024) {
    snprintf (buf, len, "%" PRIu64 " B", n);
    return buf;
  }
  v /= 1024.0;
  while (v >= 1024.0 && u + 1 < sizeof units / sizeof units[0]) {
    v /= 1024.0;
    u++;
  }
  snprintf (buf, len, "%.1f %s", v, units[u]);
  return buf;
}

const char *
Xva_cli_value_text (const struct xva_value *v, char *buf, size_t len)
{
  int64_t i;
  double d;
  int b;

  if (v == NULL)
    return NULL;
  switch (xva_value_type (v)) {
  case XVA_TYPE_STRING:
  case XVA_TYPE_DATE:
    return xva_value_string (v);
  case XVA_TYPE_INT:
    if (xva_value_get_int (v, &i) != 0)
      return NULL;
    snprintf (buf, len, "%" PRId64, i);
    return buf;
  case XVA_TYPE_BOOL:
    if (xva_value_get_bool (v, &b) != 0)
      return NULL;
    snprintf (buf, len, "%s", b ? "true" : "false");
    return buf;
  case XVA_TYPE_DOUBLE:
    if (xva_value_get_double (v, &d) != 0)
      return NULL;
    snprintf (buf, len, "%.16g", d);
    return buf;
  default:
    return NULL;
  }
}

void
Xva_cli_print_safe (FILE *f, const char *s)
{
  const unsigned char *p;

  if (s == NULL)
    return;
  for (p = (const unsigned char *) s; *p != '\0'; p++)
    fputc (*p < 0x20 || *p == 0x7f ? '?' : *p, f);
}

/* Length of the valid UTF-8 sequence at p (1..4), or 0 if invalid. */
static size_t
utf8_len (const unsigned char *p)
{
  unsigned char c = p[0];
  size_t n, i;

  if (c < 0x80)
    return 1;
  if (c >= 0xc2 && c <= 0xdf)
    n = 2;
  else if (c >= 0xe0 && c <= 0xef)
    n = 3;
  else if (c >= 0xf0 && c <= 0xf4)
    n = 4;
  else
    return 0;
  for (i = 1; i < n; i++)
    if (p[i] < 0x80 || p[i] > 0xbf)
      return 0;
  if (c == 0xe0 && p[1] < 0xa0)
    return 0;
  if (c == 0xed && p[1] > 0x9f)
    return 0;
  if (c == 0xf0 && p[1] < 0x90)
    return 0;
  if (c == 0xf4 && p[1] > 0x8f)
    return 0;
  return n;
}

void
Xva_cli_json_string (FILE *f, const char *s)
{
  const unsigned char *p;
  size_t n;

  if (s == NULL) {
    fputs ("null", f);
    return;
  }
  fputc ('"', f);
  p = (const unsigned char *) s;
  while (*p != '\0') {
    switch (*p) {
    case '"':
      fputs ("\\\"", f);
      p++;
      continue;
    case '\\':
      fputs ("\\\\", f);
      p++;
      continue;
    case '\b':
      fputs ("\\b", f);
      p++;
      continue;
    case '\f':
      fputs ("\\f", f);
      p++;
      continue;
    case '\n':
      fputs ("\\n", f);
      p++;
      continue;
    case '\r':
      fputs ("\\r", f);
      p++;
      continue;
    case '\t':
      fputs ("\\t", f);
      p++;
      continue;
    default:
      break;
    }
    if (*p < 0x20 || *p == 0x7f) {
      fprintf (f, "\\u%04x", (unsigned) *p);
      p++;
      continue;
    }
    n = utf8_len (p);
    if (n == 0) {
      fputs ("\\ufffd", f);
      p++;
      continue;
    }
    fwrite (p, 1, n, f);
    p += n;
  }
  fputc ('"', f);
}
