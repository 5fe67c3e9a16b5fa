/* The command line reads a regular archive file through a mapping: the
 * disk comes out exactly, and a file cut short while it is read (by
 * another program) ends in a clear error, not SIGBUS.  A pipe takes
 * the read() path and gives the same bytes. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <xva/xva.h>

#include "bin/cli.h"
#include "harness.h"

#define MIB ((uint64_t) 1024 * 1024)
#define DISK (40 * MIB + 4096)

static unsigned char *disk;
static unsigned char *got;

static int
src_pread (void *opaque, unsigned d, void *buf, size_t n, uint64_t off)
{
  (void) opaque;
  (void) d;
  memcpy (buf, disk + off, n);
  return 0;
}

/* Writes the archive of one VM with the disk into path. */
static int
write_archive (const char *path)
{
  struct xva_vm_spec spec;
  struct xva_value *root;
  struct xva_meta *meta = NULL;
  struct xva_writer_disk wd;
  struct xva_writer_opts o;
  struct xva_source_io io;
  struct xva_writer *w;
  uint64_t size = DISK;
  char *xml = NULL;
  size_t len = 0;
  int st = 0, fd, ok = -1;

  memset (&spec, 0, sizeof spec);
  spec.name = "mapped";
  spec.memory = 256 * MIB;
  spec.vcpus = 1;
  spec.ndisks = 1;
  spec.disk_sizes = &size;
  root = xva_meta_build_vm (&spec, &st);
  if (root == NULL || xva_value_to_xml (root, &xml, &len) != XVA_OK
      || xva_meta_from_value (root, &meta, NULL, 0) != XVA_OK)
    return -1;
  wd.id = xva_meta_disk (meta, 0)->id;
  wd.size = size;
  xva_writer_opts_init (&o);
  memset (&io, 0, sizeof io);
  io.pread = src_pread;
  w = xva_writer_new (xml, len, &wd, 1, &o, io, &st);
  fd = open (path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (w != NULL && fd >= 0) {
    for (;;) {
      const void *p;
      size_t n;

      st = xva_writer_next (w, &p, &n);
      if (st == XVA_EOF) {
        ok = 0;
        break;
      }
      if (st < 0 || write (fd, p, n) != (ssize_t) n)
        break;
    }
  }
  if (fd >= 0)
    close (fd);
  xva_writer_free (w);
  xva_meta_free (meta); /* root with it */
  free (xml);
  return ok;
}

struct sink {
  int cut_fd;  /* >= 0: truncate this file at the first write */
  int aligned; /* ... to a whole page, else inside one */
  uint64_t written;
};

static int
sink_pwrite (void *opaque, unsigned d, const void *buf, size_t n, uint64_t off)
{
  struct sink *s = opaque;

  (void) d;
  if (off > DISK || n > DISK - off)
    return errno = EINVAL, -1;
  if (s->cut_fd >= 0) {
    struct stat sb;

    if (fstat (s->cut_fd, &sb) == 0)
      (void) ftruncate (s->cut_fd, s->aligned ? (sb.st_size / 2) & ~4095
                                              : sb.st_size / 2 + 100);
    s->cut_fd = -1;
  }
  memcpy (got + off, buf, n);
  s->written += n;
  return 0;
}

static int
read_with (int fd, int cut_fd, int aligned, int *read_errno, uint64_t *bytes)
{
  struct xva_reader_opts o;
  struct xva_sink_io io;
  struct xva_reader *r;
  struct sink s = { cut_fd, aligned, 0 };
  int st;

  xva_reader_opts_init (&o);
  o.require_end = 1;
  memset (&io, 0, sizeof io);
  io.pwrite = sink_pwrite;
  io.opaque = &s;
  memset (got, 0, DISK);
  r = xva_reader_new (&o, io, &st);
  if (r == NULL)
    return st;
  st = Xva_cli_read_archive (fd, r, NULL, read_errno, bytes);
  xva_reader_free (r);
  return st;
}

int
main (void)
{
  char dir[] = "/tmp/xva-read-mapped.XXXXXX", path[64];
  struct stat sb;
  uint64_t i, bytes = 0, x = 0x9E3779B97F4A7C15u;
  int fd, st, err = 0, pfd[2];
  pid_t pid;

  disk = malloc (DISK);
  got = malloc (DISK);
  if (disk == NULL || got == NULL || mkdtemp (dir) == NULL)
    return 99;
  for (i = 0; i < DISK; i += 8) {
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    memcpy (disk + i, &x, 8);
  }
  snprintf (path, sizeof path, "%s/a.xva", dir);
  CHECK (write_archive (path) == 0);
  CHECK (stat (path, &sb) == 0);

  /* A whole file: every byte of the disk, every byte of the file. */
  fd = open (path, O_RDONLY);
  CHECK (fd >= 0);
  st = read_with (fd, -1, 0, &err, &bytes);
  CHECK_MSG (st == XVA_OK, "reading the mapped file");
  CHECK (err == 0);
  CHECK (bytes == (uint64_t) sb.st_size);
  CHECK (memcmp (got, disk, DISK) == 0);
  close (fd);

  /* A pipe: the same by read(). */
  CHECK (pipe (pfd) == 0);
  pid = fork ();
  if (pid == 0) {
    int in = open (path, O_RDONLY);
    ssize_t n;
    static char b[65536];

    close (pfd[0]);
    while (in >= 0 && (n = read (in, b, sizeof b)) > 0)
      if (write (pfd[1], b, (size_t) n) != n)
        _exit (1);
    _exit (0);
  }
  close (pfd[1]);
  st = read_with (pfd[0], -1, 0, &err, &bytes);
  CHECK_MSG (st == XVA_OK, "reading a pipe");
  CHECK (bytes == (uint64_t) sb.st_size);
  CHECK (memcmp (got, disk, DISK) == 0);
  close (pfd[0]);
  waitpid (pid, NULL, 0);

  /* Cut while it is read, at a page boundary (SIGBUS beyond) and
   * inside a page (zeros to its end): an error naming the cut. */
  for (i = 0; i < 2; i++) {
    CHECK (write_archive (path) == 0);
    fd = open (path, O_RDWR);
    CHECK (fd >= 0);
    err = 0;
    st = read_with (fd, fd, i == 0, &err, &bytes);
    CHECK_MSG (st == XVA_EIO, "a file cut short while read fails");
    CHECK_MSG (err == XVA_CLI_ESHRUNK, "the cut is named");
    close (fd);
  }

  /* SIGBUS outside the mapping still kills (the handler is gone). */
  CHECK (signal (SIGBUS, SIG_DFL) != SIG_ERR);

  unlink (path);
  rmdir (dir);
  free (disk);
  free (got);
  HARNESS_DONE ();
}
