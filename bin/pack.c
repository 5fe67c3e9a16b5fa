/* xva pack: an archive of a new, halted VM from raw disk images. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "backup.h"
#include "cli.h"
#include "s3opt.h"

#define CMD "pack"
#define MAX_DISKS 1024u
#define SECTOR 512u

enum {
  OPT_NAME = 256,
  OPT_DESCRIPTION,
  OPT_MEMORY,
  OPT_VCPUS,
  OPT_CHECKSUM,
  OPT_COMPRESS,
  OPT_LEVEL,
  OPT_VIF,
  OPT_THREADS,
  OPT_KEEP,
};

static const struct option long_options[] = {
  { "output", required_argument, NULL, 'o' },
  { "name", required_argument, NULL, OPT_NAME },
  { "description", required_argument, NULL, OPT_DESCRIPTION },
  { "memory", required_argument, NULL, OPT_MEMORY },
  { "vcpus", required_argument, NULL, OPT_VCPUS },
  { "checksum", required_argument, NULL, OPT_CHECKSUM },
  { "compress", required_argument, NULL, OPT_COMPRESS },
  { "level", required_argument, NULL, OPT_LEVEL },
  { "vif", no_argument, NULL, OPT_VIF },
  { "threads", required_argument, NULL, OPT_THREADS },
  { "keep", required_argument, NULL, OPT_KEEP },
  { "quiet", no_argument, NULL, 'q' },
  { "verbose", no_argument, NULL, 'v' },
  { "help", no_argument, NULL, 'h' },
  XVA_CLI_S3_OPTIONS,
  { NULL, 0, NULL, 0 },
};

/* clang-format off */
static const char usage_text[] =
  "Usage: xva pack [OPTIONS] DISK...\n"
  "\n"
  "Writes an XVA archive of a new, halted VM whose disks are the given\n"
  "raw disk images or block devices (disk 0 first).  The archive goes\n"
  "to standard output unless -o is given; it is never written to a\n"
  "terminal.  A disk whose size is not a multiple of 512 bytes is\n"
  "padded with zeros up to the next multiple (with a warning).\n"
  "\n"
  "Options:\n"
  "  -o, --output=OUT        write the archive to OUT ('-': standard\n"
  "                          output, the default; s3://BUCKET/KEY: an\n"
  "                          object); OUT is replaced only once the\n"
  "                          archive is complete.  {name}, {uuid} and\n"
  "                          {date} in OUT become the VM's name, uuid\n"
  "                          and the time (20260102T030405Z, UTC)\n"
  "      --keep=N            with a -o template holding {date}:\n"
  "                          afterwards, delete all but the newest N\n"
  "                          complete backups of this VM name that the\n"
  "                          template names\n"
  "      --name=NAME         the VM's name (default: the first DISK's\n"
  "                          file name)\n"
  "      --description=TEXT  the VM's description\n"
  "      --memory=SIZE       memory, bytes or with K/M/G/T suffix\n"
  "                          (default 1G)\n"
  "      --vcpus=N           virtual CPUs (default 1)\n"
  "      --checksum=KIND     xxhash (default) or sha1\n"
  "      --compress=ALG      none (default), gzip or zstd\n"
  "      --level=N           compression level (gzip 1-9, zstd 1-19)\n"
  "      --vif               give the VM one network interface\n"
  "      --threads=N         worker threads (default: one per core)\n"
  "  -q, --quiet             no progress display and no warnings\n"
  "  -v, --verbose           print a summary line when done\n"
  "  -h, --help              show this help\n"
  "\n"
  XVA_CLI_S3_HELP
  "\n"
  "Each disk's VDI is named after its file.  An archive written to\n"
  "object storage goes up as a multipart upload, is read back through\n"
  "a checker as it is written, and the upload is completed only when\n"
  "the archive is complete and checks; on any failure or signal it is\n"
  "aborted and nothing is left.  Its metadata (x-amz-meta-*) holds\n"
  "vm-name, vm-uuid, date, checksum, size (disk bytes), disks,\n"
  "compression and complete=true.\n"
  "\n"
  "Exit status: 0 success, 1 failure, 2 bad usage, 3 the archive\n"
  "written does not check, 4 local I/O error, 5 S3 credentials\n"
  "refused, 6 no such bucket, 7 network failure, 8 other S3 failure.\n";
/* clang-format on */

/* ------------------------------------------------------------------ */
/* A source that reads past the end of a file as zeros.                */

struct pad_source {
  struct xva_source_io inner; /* xva_source_fds over fds */
  unsigned n;
  int *fds;       /* in stream order */
  uint64_t *real; /* bytes in each file */
  uint64_t *size; /* virtual size of each disk */
};

static int
pad_pread (void *opaque, unsigned disk, void *buf, size_t n, uint64_t off)
{
  struct pad_source *ps = opaque;
  uint64_t real;
  size_t head;

  if (disk >= ps->n) {
    errno = EINVAL;
    return -1;
  }
  real = ps->real[disk];
  if (off >= real) {
    memset (buf, 0, n);
    return 0;
  }
  if (n <= real - off)
    return ps->inner.pread (ps->inner.opaque, disk, buf, n, off);
  head = (size_t) (real - off);
  if (ps->inner.pread (ps->inner.opaque, disk, buf, head, off) == -1)
    return -1;
  memset ((unsigned char *) buf + head, 0, n - head);
  return 0;
}

static int
pad_extent (void *opaque, unsigned disk, uint64_t off, uint64_t *start,
            uint64_t *end)
{
  struct pad_source *ps = opaque;
  uint64_t real, s, e;

  if (disk >= ps->n) {
    errno = EINVAL;
    return -1;
  }
  real = ps->real[disk];
  if (off >= real) {
    *start = *end = ps->size[disk];
    return 0;
  }
  if (ps->inner.extent == NULL) {
    *start = off;
    *end = real;
    return 0;
  }
  if (ps->inner.extent (ps->inner.opaque, disk, off, &s, &e) == -1)
    return -1;
  if (s >= real)
    s = e = ps->size[disk];
  else if (e > real)
    e = real;
  *start = s;
  *end = e;
  return 0;
}

static void
pad_free (void *opaque)
{
  struct pad_source *ps = opaque;

  if (ps == NULL)
    return;
  if (ps->inner.free != NULL)
    ps->inner.free (ps->inner.opaque);
  free (ps->fds);
  free (ps->real);
  free (ps->size);
  free (ps);
}

/* ------------------------------------------------------------------ */
/* Disks and output                                                     */

struct disk {
  const char *path;
  char *name; /* file name: the VDI's name_label */
  int fd;
  uint64_t real; /* bytes in the file or device */
  uint64_t size; /* virtual size, rounded up to 512 */
};

/* Opens d->path and finds its size.  Returns an exit code. */
static int
open_disk (struct disk *d, int quiet)
{
  struct stat st;
  uint64_t bytes;

  d->fd = open (d->path, O_RDONLY | O_CLOEXEC);
  if (d->fd == -1) {
    Xva_cli_error (CMD, "cannot open %s: %s", d->path, strerror (errno));
    return XVA_EXIT_IO;
  }
  if (fstat (d->fd, &st) == -1) {
    Xva_cli_error (CMD, "cannot stat %s: %s", d->path, strerror (errno));
    return XVA_EXIT_IO;
  }
  if (S_ISREG (st.st_mode)) {
    if (st.st_size < 0) {
      Xva_cli_error (CMD, "%s: bad file size", d->path);
      return XVA_EXIT_FAIL;
    }
    bytes = (uint64_t) st.st_size;
  }
  else if (S_ISBLK (st.st_mode)) {
    if (ioctl (d->fd, BLKGETSIZE64, &bytes) == -1) {
      Xva_cli_error (CMD, "cannot get the size of %s: %s", d->path,
                     strerror (errno));
      return XVA_EXIT_IO;
    }
  }
  else {
    Xva_cli_error (CMD, "%s: not a regular file or block device", d->path);
    return XVA_EXIT_FAIL;
  }
  d->real = bytes;
  d->size = bytes;
  if (bytes % SECTOR != 0) {
    if (bytes > UINT64_MAX - SECTOR) {
      Xva_cli_error (CMD, "%s: the disk is too large", d->path);
      return XVA_EXIT_FAIL;
    }
    d->size = bytes + (SECTOR - bytes % SECTOR);
    if (!quiet)
      Xva_cli_warn (CMD,
                    "%s: size %" PRIu64
                    " is not a multiple of 512; "
                    "the archive's virtual_size is rounded up to %" PRIu64
                    " (the tail reads as zeros)",
                    d->path, bytes, d->size);
  }
  d->name = Xva_cli_basename (d->path);
  if (d->name == NULL) {
    Xva_cli_error (CMD, "out of memory");
    return XVA_EXIT_FAIL;
  }
  return XVA_EXIT_OK;
}

struct output {
  const char *path;
  char *tmp; /* temporary file beside path, or NULL */
  int fd;
  /* Object storage: the upload, and a reader that checks every byte
   * that goes up. */
  struct xva_s3_upload *up;
  struct xva_reader *check;
  int check_done; /* the checker saw the end of the archive */
  int completed;  /* the upload was completed */
};

/* Sets o to path, with nothing open yet. */
static void
output_init (struct output *o, const char *path)
{
  memset (o, 0, sizeof *o);
  o->path = path;
  o->fd = -1;
}

/* Opens the output: standard output, an existing non-regular file
 * (device, FIFO) as it is, or a temporary file beside path.  Returns an
 * exit code. */
static int
open_output (struct output *o, const char *path)
{
  struct stat st;
  mode_t mask;
  size_t len;

  output_init (o, path);
  if (strcmp (path, "-") == 0) {
    o->fd = STDOUT_FILENO;
    return XVA_EXIT_OK;
  }
  if (stat (path, &st) == 0) {
    if (S_ISDIR (st.st_mode)) {
      Xva_cli_error (CMD, "%s: is a directory", path);
      return XVA_EXIT_IO;
    }
    if (!S_ISREG (st.st_mode)) {
      o->fd = open (path, O_WRONLY | O_CLOEXEC);
      if (o->fd == -1) {
        Xva_cli_error (CMD, "cannot open %s: %s", path, strerror (errno));
        return XVA_EXIT_IO;
      }
      return XVA_EXIT_OK;
    }
  }
  len = strlen (path);
  o->tmp = malloc (len + sizeof ".tmp-XXXXXX");
  if (o->tmp == NULL) {
    Xva_cli_error (CMD, "out of memory");
    return XVA_EXIT_FAIL;
  }
  memcpy (o->tmp, path, len);
  memcpy (o->tmp + len, ".tmp-XXXXXX", sizeof ".tmp-XXXXXX");
  o->fd = mkostemp (o->tmp, O_CLOEXEC);
  if (o->fd == -1) {
    Xva_cli_error (CMD, "cannot create %s: %s", o->tmp, strerror (errno));
    free (o->tmp);
    o->tmp = NULL;
    return XVA_EXIT_IO;
  }
  mask = umask (0);
  umask (mask);
  if (fchmod (o->fd, 0666 & ~mask) == -1) {
    Xva_cli_error (CMD, "cannot set the mode of %s: %s", o->tmp,
                   strerror (errno));
    return XVA_EXIT_IO;
  }
  return XVA_EXIT_OK;
}

/* Syncs, closes and renames the temporary file.  Returns an exit
 * code. */
static int
commit_output (struct output *o)
{
  char *dir;
  size_t n;
  int dfd;

  if (o->tmp == NULL)
    return XVA_EXIT_OK;
  if (fsync (o->fd) == -1) {
    Xva_cli_error (CMD, "cannot sync %s: %s", o->tmp, strerror (errno));
    return XVA_EXIT_IO;
  }
  if (close (o->fd) == -1) {
    o->fd = -1;
    Xva_cli_error (CMD, "cannot close %s: %s", o->tmp, strerror (errno));
    return XVA_EXIT_IO;
  }
  o->fd = -1;
  if (rename (o->tmp, o->path) == -1) {
    Xva_cli_error (CMD, "cannot rename %s to %s: %s", o->tmp, o->path,
                   strerror (errno));
    return XVA_EXIT_IO;
  }
  free (o->tmp);
  o->tmp = NULL;
  /* Make the rename durable (best effort). */
  n = strlen (o->path);
  while (n > 0 && o->path[n - 1] != '/')
    n--;
  dir = n == 0 ? strdup (".") : strndup (o->path, n);
  if (dir != NULL) {
    dfd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd != -1) {
      fsync (dfd);
      close (dfd);
    }
    free (dir);
  }
  return XVA_EXIT_OK;
}

/* Starts the upload to url, and the reader that checks the archive as
 * it is written.  Returns an exit code. */
static int
open_s3_output (struct output *o, const char *url, struct xva_cli_s3 *s3,
                const struct xva_s3_pair *meta, size_t nmeta,
                uint64_t expected, unsigned threads)
{
  struct xva_reader_opts ro;
  struct xva_sink_io io;
  char err[1200];
  int status;

  output_init (o, url);
  xva_reader_opts_init (&ro);
  ro.mode = XVA_READ_FULL;
  ro.threads = threads;
  memset (&io, 0, sizeof io);
  status = XVA_OK;
  o->check = xva_reader_new (&ro, io, &status);
  if (o->check == NULL) {
    Xva_cli_error (CMD, "cannot start checking the archive: %s",
                   xva_strerror (status));
    return Xva_cli_exit_code (status);
  }
  err[0] = '\0';
  status = XVA_OK;
  o->up = xva_s3_upload_new (&s3->opts, url, meta, nmeta, expected, &status,
                             err, sizeof err);
  if (o->up == NULL)
    return Xva_cli_s3_fail (CMD, status, err);
  return XVA_EXIT_OK;
}

/* Checks buf[0..len) and sends it up.  Returns an exit code. */
static int
put_s3 (struct output *o, const void *buf, size_t len)
{
  struct xva_in in;
  int s;

  in.src = buf;
  in.size = len;
  in.pos = 0;
  /* After the end the checker saw, only the zero blocks that end a tar
   * stream may follow. */
  s = o->check_done ? XVA_EOF : xva_reader_feed (o->check, &in);
  if (s == XVA_EOF) {
    o->check_done = 1;
    if (!xva_is_zero ((const unsigned char *) buf + in.pos, len - in.pos)) {
      Xva_cli_error (CMD,
                     "the archive written does not check: data "
                     "after its end");
      return XVA_EXIT_ARCHIVE;
    }
  }
  else if (s < 0) {
    Xva_cli_error (CMD, "the archive written does not check: %s",
                   xva_reader_errmsg (o->check));
    return XVA_EXIT_ARCHIVE;
  }
  s = xva_s3_upload_write (o->up, buf, len);
  if (s < 0) {
    if (s == XVA_ECANCELLED && Xva_cli_interrupted ()) {
      Xva_cli_error (CMD, "interrupted");
      return XVA_EXIT_FAIL;
    }
    return Xva_cli_s3_fail (CMD, s, xva_s3_upload_errmsg (o->up));
  }
  return XVA_EXIT_OK;
}

/* The archive is written: checks that the checker saw all of it, then
 * completes the upload.  Returns an exit code. */
static int
commit_s3 (struct output *o, uint64_t written)
{
  struct xva_reader_stats st;
  int s;

  s = xva_reader_finish (o->check);
  xva_reader_stats (o->check, &st);
  if (s != XVA_OK || !st.complete || st.bytes_in > written) {
    Xva_cli_error (CMD, "the archive written does not check: %s",
                   s != XVA_OK ? xva_reader_errmsg (o->check)
                               : "it was not read to its end");
    return XVA_EXIT_ARCHIVE;
  }
  if (Xva_cli_interrupted ()) {
    Xva_cli_error (CMD, "interrupted");
    return XVA_EXIT_FAIL;
  }
  s = xva_s3_upload_complete (o->up);
  if (s != XVA_OK)
    return Xva_cli_s3_fail (CMD, s, xva_s3_upload_errmsg (o->up));
  o->completed = 1;
  return XVA_EXIT_OK;
}

/* Aborts the upload: no object and no pending upload is left. */
static void
abort_s3 (struct output *o)
{
  int s;

  if (o->up == NULL)
    return;
  s = xva_s3_upload_abort (o->up);
  if (s != XVA_OK)
    Xva_cli_error (CMD,
                   "cannot abort the upload to %s (%s); parts of it "
                   "may remain: see 'xva ls --pending'",
                   o->path, xva_s3_upload_errmsg (o->up));
}

/* Removes the temporary file, if any. */
static void
abort_output (struct output *o)
{
  if (o->up != NULL) {
    abort_s3 (o);
    return;
  }
  if (o->tmp != NULL) {
    if (o->fd != -1)
      close (o->fd);
    unlink (o->tmp);
    free (o->tmp);
    o->tmp = NULL;
  }
  else if (o->fd != -1 && o->fd != STDOUT_FILENO)
    close (o->fd);
  o->fd = -1;
}

/* ------------------------------------------------------------------ */
/* Options                                                              */

struct options {
  const char *out;
  const char *name;
  const char *description;
  uint64_t memory;
  unsigned vcpus;
  int checksum;
  int compress;
  int level;
  int level_set;
  int vif;
  unsigned threads;
  unsigned keep; /* --keep N, or 0 */
  int quiet;
  int verbose;
  int s3_out; /* out is an s3:// address */
  struct xva_cli_s3 s3;
};

/* The value of --name in [min, max] into *out; 0, or -1 (said so, with
 * the range when say_range). */
static int
uint_option (const char *name, const char *arg, uint64_t min, uint64_t max,
             int say_range, uint64_t *out)
{
  if (Xva_cli_parse_uint (arg, min, max, out) == 0)
    return 0;
  if (say_range)
    Xva_cli_error (CMD, "bad --%s '%s' (%" PRIu64 " to %" PRIu64 ")", name,
                   arg, min, max);
  else
    Xva_cli_error (CMD, "bad --%s '%s'", name, arg);
  Xva_cli_usage_hint (CMD);
  return -1;
}

/* Returns -1 to go on, or an exit code. */
static int
parse_options (struct options *o, int argc, char **argv)
{
  struct xva_cli_date d;
  char err[1200], *probe = NULL;
  const char *base;
  uint64_t v;
  int c, rc;

  memset (o, 0, sizeof *o);
  Xva_cli_s3_init (&o->s3);
  o->out = "-";
  o->memory = (uint64_t) 1 << 30;
  o->vcpus = 1;
  o->checksum = XVA_CHECKSUM_XXHASH;
  o->compress = XVA_COMPRESS_NONE;
  opterr = 0;
  while ((c = getopt_long (argc, argv, ":o:qvh", long_options, NULL)) != -1) {
    switch (c) {
    case 'o':
      o->out = optarg;
      break;
    case OPT_NAME:
      o->name = optarg;
      break;
    case OPT_DESCRIPTION:
      o->description = optarg;
      break;
    case OPT_MEMORY:
      if (Xva_cli_parse_size (optarg, &o->memory) != 0 || o->memory == 0)
        return Xva_cli_usage_error (CMD,
                                    "bad --memory '%s' (bytes, or a number "
                                    "with K, M, G or T)",
                                    optarg);
      break;
    case OPT_VCPUS:
      if (uint_option ("vcpus", optarg, 1, 65535, 1, &v) != 0)
        return XVA_EXIT_USAGE;
      o->vcpus = (unsigned) v;
      break;
    case OPT_CHECKSUM:
      if (Xva_cli_parse_name (optarg, xva_checksum_name, XVA_CHECKSUM_SHA1,
                              &o->checksum)
          != 0)
        return Xva_cli_usage_error (CMD,
                                    "bad --checksum '%s' (xxhash or sha1)",
                                    optarg);
      break;
    case OPT_COMPRESS:
      if (Xva_cli_parse_name (optarg, xva_compress_name, XVA_COMPRESS_ZSTD,
                              &o->compress)
          != 0)
        return Xva_cli_usage_error (CMD,
                                    "bad --compress '%s' (none, gzip or zstd)",
                                    optarg);
      break;
    case OPT_LEVEL:
      if (uint_option ("level", optarg, 1, 22, 0, &v) != 0)
        return XVA_EXIT_USAGE;
      o->level = (int) v;
      o->level_set = 1;
      break;
    case OPT_VIF:
      o->vif = 1;
      break;
    case OPT_THREADS:
      if (Xva_cli_threads_option (CMD, optarg, &o->threads) != 0)
        return XVA_EXIT_USAGE;
      break;
    case OPT_KEEP:
      if (uint_option ("keep", optarg, 1, 100000, 1, &v) != 0)
        return XVA_EXIT_USAGE;
      o->keep = (unsigned) v;
      break;
    case 'q':
      o->quiet = 1;
      break;
    case 'v':
      o->verbose = 1;
      break;
    case 'h':
      fputs (usage_text, stdout);
      return XVA_EXIT_OK;
    default:
      rc = Xva_cli_s3_last_option (&o->s3, CMD, c, argc, argv);
      if (rc != -1)
        return rc;
    }
  }
  o->s3_out = xva_s3_is_url (o->out);
  if (strcmp (o->out, "-") != 0
      && Xva_cli_template_check (o->out, err, sizeof err) == -1)
    return Xva_cli_usage_error (CMD, "-o: %s", err);
  if (o->s3_out) {
    if (strchr (o->out + 5, '{') != NULL
        && strchr (o->out + 5, '{') < o->out + 5 + strcspn (o->out + 5, "/"))
      return Xva_cli_usage_error (
        CMD, "-o: placeholders may not be in the bucket name");
    /* The address with sample values must be valid. */
    Xva_cli_date_set (&d, 0);
    if (Xva_cli_template_expand (o->out, "vm",
                                 "00000000-0000-0000-0000-000000000000", &d,
                                 &probe)
        == -1) {
      Xva_cli_error (CMD, "out of memory");
      return XVA_EXIT_FAIL;
    }
    err[0] = '\0';
    rc = xva_s3_url_check (probe, 1, err, sizeof err);
    free (probe);
    if (rc != XVA_OK)
      return Xva_cli_usage_error (CMD, "-o: %s", err);
  }
  base = strrchr (o->out, '/') != NULL ? strrchr (o->out, '/') : o->out;
  if (o->keep > 0 && !o->s3_out
      && (strcmp (o->out, "-") == 0 || strstr (base, "{date}") == NULL))
    return Xva_cli_usage_error (
      CMD, "--keep needs -o with {date} in the file name");
  if (o->keep > 0 && o->s3_out && strstr (o->out, "{date}") == NULL
      && strstr (o->out, "{uuid}") == NULL)
    return Xva_cli_usage_error (CMD,
                                "--keep needs {date} or {uuid} in -o (each "
                                "backup needs a name of its own)");
  if (o->level_set && o->compress == XVA_COMPRESS_NONE)
    return Xva_cli_usage_error (CMD, "--level needs --compress gzip or zstd");
  if (o->level_set && o->compress == XVA_COMPRESS_GZIP && o->level > 9)
    return Xva_cli_usage_error (CMD, "bad --level %d for gzip (1 to 9)",
                                o->level);
  if (o->level_set && o->compress == XVA_COMPRESS_ZSTD && o->level > 19)
    return Xva_cli_usage_error (CMD, "bad --level %d for zstd (1 to 19)",
                                o->level);
  if (optind >= argc)
    return Xva_cli_usage_error (CMD, "no DISK given");
  if ((unsigned) (argc - optind) > MAX_DISKS)
    return Xva_cli_usage_error (CMD, "too many disks (at most %u)", MAX_DISKS);
  if (strcmp (o->out, "-") == 0 && isatty (STDOUT_FILENO))
    return Xva_cli_usage_error (CMD,
                                "refusing to write an archive to a terminal "
                                "(use -o FILE or redirect standard output)");
  return -1;
}

/* ------------------------------------------------------------------ */
/* The command                                                          */

/* Builds ova.xml and the stream-order mapping.  On success *xml and
 * *meta are set, and order[i] is the index of the DISK argument that
 * the archive streams as disk i. */
static int
build_metadata (const struct options *o, struct disk *disks, unsigned nd,
                char **xml, size_t *xml_len, struct xva_meta **meta,
                unsigned *order)
{
  struct xva_vm_spec spec;
  struct xva_value *root = NULL, *copy;
  struct xva_meta *m = NULL;
  const char **names = NULL, **vdi_ids = NULL;
  uint64_t *sizes = NULL;
  unsigned char *used = NULL;
  const struct xva_disk *d;
  char err[256];
  unsigned i, k, nvdi;
  size_t j;
  int status, r = XVA_EXIT_FAIL;

  names = calloc (nd, sizeof *names);
  vdi_ids = calloc (nd, sizeof *vdi_ids);
  sizes = calloc (nd, sizeof *sizes);
  used = calloc (nd, 1);
  if (names == NULL || vdi_ids == NULL || sizes == NULL || used == NULL) {
    Xva_cli_error (CMD, "out of memory");
    goto out;
  }
  for (i = 0; i < nd; i++) {
    names[i] = disks[i].name;
    sizes[i] = disks[i].size;
  }
  memset (&spec, 0, sizeof spec);
  spec.name = o->name != NULL ? o->name : disks[0].name;
  spec.description = o->description;
  spec.memory = o->memory;
  spec.vcpus = o->vcpus;
  spec.ndisks = nd;
  spec.disk_sizes = sizes;
  spec.disk_names = names;
  spec.nvifs = o->vif ? 1 : 0;
  status = XVA_OK;
  root = xva_meta_build_vm (&spec, &status);
  if (root == NULL) {
    Xva_cli_error (CMD, "cannot build the VM records: %s",
                   xva_strerror (status));
    r = Xva_cli_exit_code (status);
    goto out;
  }
  status = xva_value_to_xml (root, xml, xml_len);
  if (status != XVA_OK) {
    Xva_cli_error (CMD, "cannot write ova.xml: %s", xva_strerror (status));
    goto out;
  }
  copy = xva_value_copy (root);
  if (copy == NULL) {
    Xva_cli_error (CMD, "out of memory");
    goto out;
  }
  err[0] = '\0';
  status = xva_meta_from_value (copy, &m, err, sizeof err);
  if (status != XVA_OK) {
    Xva_cli_error (CMD, "the VM records do not check: %s",
                   err[0] != '\0' ? err : xva_strerror (status));
    goto out;
  }
  /* Disk k of the spec is the k-th VDI object. */
  nvdi = 0;
  for (j = 0; j < xva_meta_nobjects (m); j++) {
    const char *cls = xva_meta_object_class (m, j);
    if (cls != NULL && strcmp (cls, "VDI") == 0) {
      if (nvdi < nd)
        vdi_ids[nvdi] = xva_meta_object_id (m, j);
      nvdi++;
    }
  }
  if (nvdi != nd || xva_meta_ndisks (m) != nd) {
    Xva_cli_error (CMD,
                   "the VM records have %u VDIs and %u streamed "
                   "disks for %u DISKs",
                   nvdi, xva_meta_ndisks (m), nd);
    goto out;
  }
  for (i = 0; i < nd; i++) {
    d = xva_meta_disk (m, i);
    for (k = 0; k < nd; k++)
      if (!used[k] && d != NULL && d->id != NULL && vdi_ids[k] != NULL
          && strcmp (d->id, vdi_ids[k]) == 0)
        break;
    if (k == nd || d->virtual_size != disks[k].size) {
      Xva_cli_error (CMD, "cannot match streamed disk %u to a DISK", i);
      goto out;
    }
    used[k] = 1;
    order[i] = k;
  }
  *meta = m;
  m = NULL;
  r = XVA_EXIT_OK;
out:
  if (r != XVA_EXIT_OK) {
    free (*xml);
    *xml = NULL;
  }
  xva_meta_free (m);
  xva_value_free (root);
  free (names);
  free (vdi_ids);
  free (sizes);
  free (used);
  return r;
}

/* Makes the writer's source: the files in stream order, zero-filled
 * past their ends. */
static int
make_source (const struct disk *disks, const unsigned *order, unsigned nd,
             struct xva_source_io *io)
{
  struct pad_source *ps;
  unsigned i;

  ps = calloc (1, sizeof *ps);
  if (ps == NULL)
    return -1;
  ps->n = nd;
  ps->fds = calloc (nd, sizeof *ps->fds);
  ps->real = calloc (nd, sizeof *ps->real);
  ps->size = calloc (nd, sizeof *ps->size);
  if (ps->fds == NULL || ps->real == NULL || ps->size == NULL) {
    pad_free (ps);
    return -1;
  }
  for (i = 0; i < nd; i++) {
    ps->fds[i] = disks[order[i]].fd;
    ps->real[i] = disks[order[i]].real;
    ps->size[i] = disks[order[i]].size;
  }
  ps->inner = xva_source_fds (ps->fds, nd);
  if (ps->inner.pread == NULL) {
    pad_free (ps);
    return -1;
  }
  memset (io, 0, sizeof *io);
  io->pread = pad_pread;
  io->extent = pad_extent;
  io->opaque = ps;
  io->free = pad_free;
  return 0;
}

static int
write_archive (struct xva_writer *w, struct output *out,
               struct xva_cli_progress *pg, uint64_t *written_out)
{
  struct xva_progress p;
  const void *buf;
  uint64_t written = 0;
  size_t len;
  int s, rc;

  for (;;) {
    if (Xva_cli_interrupted ()) {
      Xva_cli_error (CMD, "interrupted");
      return XVA_EXIT_FAIL;
    }
    buf = NULL;
    len = 0;
    s = xva_writer_next (w, &buf, &len);
    if (s < 0) {
      Xva_cli_error (CMD, "%s", xva_writer_errmsg (w));
      return Xva_cli_exit_code (s);
    }
    if (len > 0 && out->up != NULL) {
      rc = put_s3 (out, buf, len);
      if (rc != XVA_EXIT_OK)
        return rc;
      written += len;
    }
    else if (len > 0) {
      if (Xva_cli_write_all (out->fd, buf, len) == -1) {
        if (errno == ECANCELED) {
          Xva_cli_error (CMD, "interrupted");
          return XVA_EXIT_FAIL;
        }
        Xva_cli_error (CMD, "cannot write %s: %s",
                       strcmp (out->path, "-") == 0 ? "standard output"
                                                    : out->path,
                       strerror (errno));
        return XVA_EXIT_IO;
      }
      written += len;
    }
    *written_out = written;
    xva_writer_progress (w, &p);
    Xva_cli_progress_update (pg, written, &p);
    if (s == XVA_EOF)
      return XVA_EXIT_OK;
  }
}

/* The uuid of the VM of m, or "". */
static const char *
vm_uuid (const struct xva_meta *m)
{
  const struct xva_value *rec;
  const char *cls, *id, *uuid;
  size_t i;

  for (i = 0; i < xva_meta_nobjects (m); i++) {
    cls = xva_meta_object_class (m, i);
    id = xva_meta_object_id (m, i);
    if (cls == NULL || strcmp (cls, "VM") != 0 || id == NULL)
      continue;
    rec = xva_meta_find (m, id);
    uuid = rec != NULL ? xva_value_get_string (rec, "uuid") : NULL;
    if (uuid != NULL)
      return uuid;
  }
  return "";
}

/* The metadata that goes with an archive on object storage. */
struct s3_meta {
  char name[1024];
  char uuid[64];
  char size[24];
  char disks[16];
  struct xva_s3_pair pairs[8];
  size_t n;
};

static void
make_s3_meta (struct s3_meta *sm, const char *name, const char *uuid,
              const struct xva_cli_date *d, const struct options *o,
              uint64_t disk_bytes, unsigned nd)
{
  const char *cs = xva_checksum_name (o->checksum);
  const char *comp = xva_compress_name (o->compress);

  Xva_cli_meta_encode (name, sm->name, sizeof sm->name);
  Xva_cli_meta_encode (uuid, sm->uuid, sizeof sm->uuid);
  snprintf (sm->size, sizeof sm->size, "%" PRIu64, disk_bytes);
  snprintf (sm->disks, sizeof sm->disks, "%u", nd);
  sm->n = 0;
  sm->pairs[sm->n].name = XVA_BACKUP_META_NAME;
  sm->pairs[sm->n++].value = sm->name;
  sm->pairs[sm->n].name = XVA_BACKUP_META_UUID;
  sm->pairs[sm->n++].value = sm->uuid;
  sm->pairs[sm->n].name = XVA_BACKUP_META_DATE;
  sm->pairs[sm->n++].value = d->iso;
  sm->pairs[sm->n].name = XVA_BACKUP_META_CHECKSUM;
  sm->pairs[sm->n++].value = cs != NULL ? cs : "unknown";
  sm->pairs[sm->n].name = XVA_BACKUP_META_SIZE;
  sm->pairs[sm->n++].value = sm->size;
  sm->pairs[sm->n].name = XVA_BACKUP_META_DISKS;
  sm->pairs[sm->n++].value = sm->disks;
  sm->pairs[sm->n].name = XVA_BACKUP_META_COMPRESS;
  sm->pairs[sm->n++].value = comp != NULL ? comp : "none";
  /* The object only appears once the upload is completed, which happens
   * only when the archive is complete and checks. */
  sm->pairs[sm->n].name = XVA_BACKUP_META_COMPLETE;
  sm->pairs[sm->n++].value = "true";
}

int
Xva_cmd_pack (int argc, char **argv)
{
  struct options o;
  struct disk *disks = NULL;
  struct output out;
  struct xva_writer_disk *wdisks = NULL;
  struct xva_writer_opts wo;
  struct xva_writer *w = NULL;
  struct xva_source_io io;
  struct xva_meta *meta = NULL;
  struct xva_cli_progress pg;
  struct xva_progress p;
  struct xva_cli_date date;
  struct xva_cli_backup_id bid;
  struct xva_s3_upload_stats us;
  struct s3_meta *sm = NULL;
  const char *vm_name;
  unsigned *order = NULL;
  char *xml = NULL, *out_path = NULL;
  size_t xml_len = 0;
  uint64_t disk_bytes = 0, written = 0;
  unsigned nd = 0, i;
  int r, status, out_open = 0;
  double secs;
  char b1[32], b2[32], b3[32];

  output_init (&out, NULL);
  Xva_cli_date_set (&date, time (NULL));
  r = parse_options (&o, argc, argv);
  if (r >= 0)
    return r;
  if (o.s3_out) {
    r = Xva_cli_s3_target_check (&o.s3, CMD, o.out);
    if (r != XVA_EXIT_OK)
      goto out;
  }
  nd = (unsigned) (argc - optind);
  disks = calloc (nd, sizeof *disks);
  order = calloc (nd, sizeof *order);
  wdisks = calloc (nd, sizeof *wdisks);
  if (disks == NULL || order == NULL || wdisks == NULL) {
    Xva_cli_error (CMD, "out of memory");
    r = XVA_EXIT_FAIL;
    goto out;
  }
  for (i = 0; i < nd; i++) {
    disks[i].fd = -1;
    disks[i].path = argv[optind + (int) i];
  }
  for (i = 0; i < nd; i++) {
    r = open_disk (&disks[i], o.quiet);
    if (r != XVA_EXIT_OK)
      goto out;
  }
  r = build_metadata (&o, disks, nd, &xml, &xml_len, &meta, order);
  if (r != XVA_EXIT_OK)
    goto out;
  for (i = 0; i < nd; i++) {
    wdisks[i].id = xva_meta_disk (meta, i)->id;
    wdisks[i].size = disks[order[i]].size;
    disk_bytes += disks[order[i]].size;
  }
  vm_name = o.name != NULL ? o.name : disks[0].name;
  if (strcmp (o.out, "-") != 0) {
    if (Xva_cli_template_expand (o.out, vm_name, vm_uuid (meta), &date,
                                 &out_path)
        == -1) {
      Xva_cli_error (CMD, "out of memory");
      r = XVA_EXIT_FAIL;
      goto out;
    }
  }
  if (make_source (disks, order, nd, &io) == -1) {
    Xva_cli_error (CMD, "out of memory");
    r = XVA_EXIT_FAIL;
    goto out;
  }
  xva_writer_opts_init (&wo);
  wo.checksum = o.checksum;
  wo.compress = o.compress;
  wo.level = o.level_set ? o.level : 0;
  wo.threads = o.threads;
  status = XVA_OK;
  w = xva_writer_new (xml, xml_len, wdisks, nd, &wo, io, &status);
  if (w == NULL) {
    Xva_cli_error (CMD, "cannot start the archive: %s", xva_strerror (status));
    r = Xva_cli_exit_code (status);
    goto out;
  }
  if (o.s3_out) {
    sm = calloc (1, sizeof *sm);
    if (sm == NULL) {
      Xva_cli_error (CMD, "out of memory");
      r = XVA_EXIT_FAIL;
      goto out;
    }
    make_s3_meta (sm, vm_name, vm_uuid (meta), &date, &o, disk_bytes, nd);
    r = open_s3_output (&out, out_path, &o.s3, sm->pairs, sm->n,
                        disk_bytes + ((uint64_t) 1 << 20), o.threads);
  }
  else
    r = open_output (&out, out_path != NULL ? out_path : o.out);
  out_open = 1;
  if (r != XVA_EXIT_OK)
    goto out;
  Xva_cli_progress_start (&pg, !o.quiet);
  r = write_archive (w, &out, &pg, &written);
  Xva_cli_progress_end (&pg);
  if (r != XVA_EXIT_OK)
    goto out;
  r = out.up != NULL ? commit_s3 (&out, written) : commit_output (&out);
  if (r != XVA_EXIT_OK)
    goto out;
  secs = Xva_cli_progress_elapsed (&pg);
  if (o.verbose) {
    xva_writer_progress (w, &p);
    fprintf (stderr,
             "xva pack: %s: %u disk%s (%s), %" PRIu64
             " chunks, "
             "%s written in %.1f s (%s/s)",
             out.path != NULL && strcmp (out.path, "-") != 0
               ? out.path
               : "standard output",
             nd, nd == 1 ? "" : "s",
             Xva_cli_human_bytes (p.total, b1, sizeof b1), p.chunks,
             Xva_cli_human_bytes (p.bytes, b2, sizeof b2), secs,
             Xva_cli_human_bytes (secs > 0.0
                                    ? (uint64_t) ((double) p.bytes / secs)
                                    : p.bytes,
                                  b3, sizeof b3));
    if (out.up != NULL) {
      xva_s3_upload_stats (out.up, &us);
      fprintf (stderr, ", %u part%s (at most %u in flight), %u retr%s",
               us.parts, us.parts == 1 ? "" : "s", us.max_inflight, us.retries,
               us.retries == 1 ? "y" : "ies");
    }
    fputc ('\n', stderr);
  }
  if (o.keep > 0) {
    bid.name = vm_name;
    bid.uuid = vm_uuid (meta);
    bid.by_uuid = 0; /* pack makes a fresh uuid every time */
    r = o.s3_out ? Xva_cli_s3_keep (CMD, &o.s3, o.out, out_path, &bid, o.keep,
                                    o.quiet)
                 : Xva_cli_local_keep (CMD, o.out, out_path, vm_name, o.keep,
                                       o.quiet);
  }
out:
  if (out_open && r != XVA_EXIT_OK && !out.completed)
    abort_output (&out);
  else if (out_open && out.fd != -1 && out.fd != STDOUT_FILENO)
    close (out.fd);
  xva_s3_upload_free (out.up);
  xva_reader_free (out.check);
  free (sm);
  free (out_path);
  xva_writer_free (w);
  xva_meta_free (meta);
  free (xml);
  if (disks != NULL) {
    for (i = 0; i < nd; i++) {
      if (disks[i].fd != -1)
        close (disks[i].fd);
      free (disks[i].name);
    }
  }
  free (disks);
  free (order);
  free (wdisks);
  Xva_cli_s3_free (&o.s3);
  return r;
}
