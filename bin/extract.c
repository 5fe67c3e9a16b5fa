/* xva extract: write an archive's ova.xml and one sparse raw image per
 * disk into a directory. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "s3opt.h"

#define CMD "extract"
#define NAME_MAX_BYTES 100
#define USERDEVICE_MAX_BYTES 32

static const struct option long_options[] = {
  { "directory", required_argument, NULL, 'C' },
  { "force", no_argument, NULL, 'f' },
  { "sync", no_argument, NULL, 's' },
  XVA_CLI_READ_OPTIONS,
  { NULL, 0, NULL, 0 },
};

/* clang-format off */
static const char usage_text[] =
  "Usage: xva extract [OPTIONS] [FILE|-|s3://BUCKET/KEY]\n"
  "\n"
  "Reads an XVA archive (default: standard input) and writes, in DIR,\n"
  "its ova.xml and one sparse raw image per disk, named\n"
  "<userdevice>-<VDI name>.img.  Every chunk is checked before it is\n"
  "written.  On any failure every file this run created is removed.\n"
  "The files written are listed on standard output.\n"
  "\n"
  "Options:\n"
  "  -C, --directory=DIR  write into DIR (default: .); created if\n"
  "                       missing\n"
  "  -f, --force          overwrite existing files, and keep going past\n"
  "                       checksum mismatches (reported as warnings)\n"
  "  -s, --sync           flush the files to the disk (fsync) before\n"
  "                       exiting, so that they survive a crash\n"
  "  -q, --quiet          no progress display and no list of files\n"
  "      --threads=N      threads checking chunks (default: one per\n"
  "                       core)\n"
  "  -h, --help           show this help\n"
  "\n"
  XVA_CLI_S3_HELP
  "\n"
  "Exit status: 0 success, 1 failure (a file exists, without --force),\n"
  "2 bad usage, 3 invalid, corrupt or truncated archive, 4 local I/O\n"
  "error, 5 S3 credentials refused, 6 no such bucket or object, 7\n"
  "network failure, 8 other S3 failure.\n";
/* clang-format on */

struct out_file {
  char *path;
  int fd;
  int created; /* opened (and so created or replaced) */
};

struct extract_ctx {
  const char *dir;
  int force;
  int sync; /* fsync the files at the end */
  int dir_created;
  struct out_file xml;
  struct out_file *img; /* one per disk, in xva_meta_disk order */
  unsigned nimg;
  uint64_t mismatches;
  int fail_exit; /* set when a callback failed */
  char fail_msg[768];
};

static void
set_fail (struct extract_ctx *ctx, int exit_code, const char *what,
          const char *path, int err)
{
  if (ctx->fail_exit != 0)
    return;
  ctx->fail_exit = exit_code;
  snprintf (ctx->fail_msg, sizeof ctx->fail_msg, "%s %s: %s", what, path,
            strerror (err));
}

/* Copies s into out (at most max bytes, plus NUL), replacing '/',
 * control bytes and leading dots with '_', and not cutting a UTF-8
 * sequence in two. */
static void
sanitise (const char *s, char *out, size_t max)
{
  const unsigned char *p = (const unsigned char *) s;
  size_t j = 0;
  int leading = 1;

  while (p[j] != '\0' && j < max) {
    unsigned char c = p[j];
    if (leading && c == '.')
      out[j] = '_';
    else {
      leading = 0;
      out[j] = (char) (c == '/' || c < 0x20 || c == 0x7f ? '_' : c);
    }
    j++;
  }
  if (p[j] != '\0' && (p[j] & 0xc0) == 0x80) {
    /* Cut inside a multi-byte sequence: drop its start. */
    while (j > 0 && (p[j - 1] & 0xc0) == 0x80)
      j--;
    if (j > 0 && p[j - 1] >= 0xc0)
      j--;
  }
  out[j] = '\0';
}

/* Sets ctx->img[i].path for every disk: DIR/<userdevice>-<name>.img,
 * unique. */
static int
name_images (struct extract_ctx *ctx, const struct xva_meta *m)
{
  char ud[USERDEVICE_MAX_BYTES + 1], name[NAME_MAX_BYTES + 1];
  char file[USERDEVICE_MAX_BYTES + NAME_MAX_BYTES + 32];
  const struct xva_disk *d;
  const char *label;
  unsigned i, k, suffix;
  int dup;

  for (i = 0; i < ctx->nimg; i++) {
    d = xva_meta_disk (m, i);
    if (d == NULL)
      return -1;
    if (d->userdevice != NULL && d->userdevice[0] != '\0')
      sanitise (d->userdevice, ud, USERDEVICE_MAX_BYTES);
    else
      snprintf (ud, sizeof ud, "%u", i);
    label = d->name_label;
    if (label == NULL || label[0] == '\0')
      label = d->vdi_uuid;
    if (label == NULL || label[0] == '\0')
      label = "disk";
    sanitise (label, name, NAME_MAX_BYTES);
    if (name[0] == '\0')
      snprintf (name, sizeof name, "disk");
    for (suffix = 1;; suffix++) {
      if (suffix == 1)
        snprintf (file, sizeof file, "%s-%s.img", ud, name);
      else
        snprintf (file, sizeof file, "%s-%s-%u.img", ud, name, suffix);
      free (ctx->img[i].path);
      ctx->img[i].path = Xva_cli_path_join (ctx->dir, file);
      if (ctx->img[i].path == NULL)
        return -1;
      dup = 0;
      for (k = 0; k < i && !dup; k++)
        dup = strcmp (ctx->img[k].path, ctx->img[i].path) == 0;
      if (!dup)
        break;
    }
  }
  return 0;
}

/* Opens f->path for writing: O_EXCL, or O_TRUNC with --force. */
static int
open_out (struct extract_ctx *ctx, struct out_file *f)
{
  int flags = O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW;

  flags |= ctx->force ? O_TRUNC : O_EXCL;
  f->fd = open (f->path, flags, 0666);
  if (f->fd == -1) {
    int err = errno;
    if (err == EEXIST) {
      ctx->fail_exit = XVA_EXIT_FAIL;
      snprintf (ctx->fail_msg, sizeof ctx->fail_msg,
                "%s already exists (use --force to overwrite it)", f->path);
    }
    else
      set_fail (ctx, XVA_EXIT_IO, "cannot create", f->path, err);
    errno = err;
    return -1;
  }
  f->created = 1;
  return 0;
}

/* Creates DIR unless it exists. */
static int
make_dir (struct extract_ctx *ctx)
{
  struct stat st;

  if (mkdir (ctx->dir, 0777) == 0) {
    ctx->dir_created = 1;
    return 0;
  }
  if (errno == EEXIST && stat (ctx->dir, &st) == 0 && S_ISDIR (st.st_mode))
    return 0;
  if (errno == EEXIST)
    errno = ENOTDIR;
  set_fail (ctx, XVA_EXIT_IO, "cannot create directory", ctx->dir, errno);
  return -1;
}

static int
on_begin (void *opaque, const struct xva_meta *m)
{
  struct extract_ctx *ctx = opaque;
  const struct xva_disk *d;
  char *xml = NULL;
  size_t len = 0;
  unsigned i;
  int err;

  if (make_dir (ctx) == -1)
    return -1;
  if (xva_meta_ndisks (m) > 0) {
    ctx->img = calloc (xva_meta_ndisks (m), sizeof *ctx->img);
    if (ctx->img == NULL)
      goto nomem;
    ctx->nimg = xva_meta_ndisks (m);
    for (i = 0; i < ctx->nimg; i++)
      ctx->img[i].fd = -1;
    if (name_images (ctx, m) == -1)
      goto nomem;
  }

  ctx->xml.path = Xva_cli_path_join (ctx->dir, "ova.xml");
  if (ctx->xml.path == NULL)
    goto nomem;
  if (xva_value_to_xml (xva_meta_root (m), &xml, &len) != XVA_OK)
    goto nomem;
  if (open_out (ctx, &ctx->xml) == -1)
    goto fail;
  if (Xva_cli_write_all (ctx->xml.fd, xml, len) == -1) {
    set_fail (ctx, XVA_EXIT_IO, "cannot write", ctx->xml.path, errno);
    goto fail;
  }
  free (xml);
  xml = NULL;

  for (i = 0; i < ctx->nimg; i++) {
    d = xva_meta_disk (m, i);
    if (open_out (ctx, &ctx->img[i]) == -1)
      goto fail;
    if (d->virtual_size > (uint64_t) INT64_MAX) {
      errno = EFBIG;
      set_fail (ctx, XVA_EXIT_IO, "cannot size", ctx->img[i].path, EFBIG);
      goto fail;
    }
    if (ftruncate (ctx->img[i].fd, (off_t) d->virtual_size) == -1) {
      set_fail (ctx, XVA_EXIT_IO, "cannot size", ctx->img[i].path, errno);
      goto fail;
    }
  }
  return 0;

nomem:
  ctx->fail_exit = XVA_EXIT_FAIL;
  snprintf (ctx->fail_msg, sizeof ctx->fail_msg, "out of memory");
  errno = ENOMEM;
fail:
  err = errno;
  free (xml);
  errno = err;
  return -1;
}

static int
on_pwrite (void *opaque, unsigned disk, const void *buf, size_t n,
           uint64_t off)
{
  struct extract_ctx *ctx = opaque;

  if (Xva_cli_interrupted ()) {
    errno = ECANCELED;
    return -1;
  }
  if (disk >= ctx->nimg || ctx->img[disk].fd == -1) {
    errno = EINVAL;
    return -1;
  }
  if (xva_pwrite_sparse (ctx->img[disk].fd, buf, n, off) == -1) {
    int err = errno;
    set_fail (ctx, XVA_EXIT_IO, "cannot write", ctx->img[disk].path, err);
    errno = err;
    return -1;
  }
  return 0;
}

static void
on_notice (void *opaque, int status, const char *msg)
{
  struct extract_ctx *ctx = opaque;

  if (status == XVA_ECHECKSUM)
    ctx->mismatches++;
  Xva_cli_warn (CMD, "%s", msg != NULL ? msg : "(no message)");
}

/* Syncs (with --sync) and closes f.  0 or -1 (recorded in ctx). */
static int
sync_close (struct extract_ctx *ctx, struct out_file *f)
{
  int fd = f->fd;

  if (fd == -1)
    return 0;
  f->fd = -1;
  if (ctx->sync && fsync (fd) == -1) {
    set_fail (ctx, XVA_EXIT_IO, "cannot sync", f->path, errno);
    close (fd);
    return -1;
  }
  if (close (fd) == -1) {
    set_fail (ctx, XVA_EXIT_IO, "cannot close", f->path, errno);
    return -1;
  }
  return 0;
}

static int
finish_files (struct extract_ctx *ctx)
{
  unsigned i;
  int dfd, r = 0;

  for (i = 0; i < ctx->nimg; i++)
    if (sync_close (ctx, &ctx->img[i]) == -1)
      r = -1;
  if (sync_close (ctx, &ctx->xml) == -1)
    r = -1;
  if (r == 0 && ctx->sync) {
    dfd = open (ctx->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd != -1) {
      fsync (dfd);
      close (dfd);
    }
  }
  return r;
}

/* Closes everything and removes what this run created. */
static void
remove_files (struct extract_ctx *ctx)
{
  unsigned i;

  for (i = 0; i < ctx->nimg; i++) {
    if (ctx->img[i].fd != -1)
      close (ctx->img[i].fd);
    ctx->img[i].fd = -1;
    if (ctx->img[i].created)
      unlink (ctx->img[i].path);
  }
  if (ctx->xml.fd != -1)
    close (ctx->xml.fd);
  ctx->xml.fd = -1;
  if (ctx->xml.created)
    unlink (ctx->xml.path);
  if (ctx->dir_created)
    rmdir (ctx->dir);
}

int
Xva_cmd_extract (int argc, char **argv)
{
  struct extract_ctx ctx;
  struct xva_sink_io io;
  struct xva_cli_read rd;
  int c, rc;
  unsigned i;

  Xva_cli_read_init (&rd, CMD, usage_text);
  memset (&ctx, 0, sizeof ctx);
  ctx.dir = ".";
  ctx.xml.fd = -1;
  while ((c = Xva_cli_read_getopt (&rd, argc, argv, ":C:fsqh", long_options,
                                   &rc))
         != -1) {
    switch (c) {
    case 'C':
      if (optarg[0] == '\0')
        return Xva_cli_usage_error (CMD, "empty directory name");
      ctx.dir = optarg;
      break;
    case 'f':
      ctx.force = 1;
      break;
    case 's':
      ctx.sync = 1;
      break;
    }
  }
  if (rc != -1)
    return rc;
  memset (&io, 0, sizeof io);
  io.begin = on_begin;
  io.pwrite = on_pwrite;
  io.notice = on_notice;
  io.opaque = &ctx;
  rc = Xva_cli_read_start (&rd, argc, argv, ctx.force ? XVA_CLI_READ_FORCE : 0,
                           io);
  if (rc != XVA_EXIT_OK)
    goto out;

  Xva_cli_read_run (&rd);
  if (rd.status == XVA_OK && xva_reader_meta (rd.r) == NULL) {
    Xva_cli_error (CMD, "%s: no ova.xml was read", rd.in.shown);
    rc = XVA_EXIT_ARCHIVE;
    goto fail;
  }
  if (rd.status == XVA_OK && finish_files (&ctx) == 0) {
    if (!rd.quiet) {
      Xva_cli_print_safe (stdout, ctx.xml.path);
      fputc ('\n', stdout);
      for (i = 0; i < ctx.nimg; i++) {
        Xva_cli_print_safe (stdout, ctx.img[i].path);
        fputc ('\n', stdout);
      }
    }
    if (ctx.mismatches > 0)
      Xva_cli_warn (CMD,
                    "%s: %" PRIu64
                    " checksum mismatch%s kept "
                    "(--force)",
                    rd.in.shown, ctx.mismatches,
                    ctx.mismatches == 1 ? "" : "es");
    rc = XVA_EXIT_OK;
    goto out;
  }

  if (ctx.fail_exit != 0) {
    Xva_cli_error (CMD, "%s", ctx.fail_msg);
    rc = ctx.fail_exit;
  }
  else
    rc = Xva_cli_read_fail (&rd, XVA_EXIT_FAIL);
fail:
  remove_files (&ctx);
out:
  Xva_cli_read_free (&rd);
  for (i = 0; i < ctx.nimg; i++) {
    if (ctx.img[i].fd != -1)
      close (ctx.img[i].fd);
    free (ctx.img[i].path);
  }
  free (ctx.img);
  if (ctx.xml.fd != -1)
    close (ctx.xml.fd);
  free (ctx.xml.path);
  return rc;
}
