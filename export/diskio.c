/* Reading disks from file descriptors, skipping holes. */
#include <xva/xva.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct fds {
  unsigned n;
  int fd[];
};

static int
fds_pread (void *opaque, unsigned disk, void *buf, size_t n, uint64_t off)
{
  struct fds *f = opaque;
  char *p = buf;

  if (disk >= f->n) {
    errno = EINVAL;
    return -1;
  }
  while (n > 0) {
    ssize_t r = pread (f->fd[disk], p, n, (off_t) off);
    if (r == -1) {
      if (errno == EINTR)
        continue;
      return -1;
    }
    if (r == 0) {
      /* The file is shorter than the disk: the rest reads as zeros. */
      memset (p, 0, n);
      return 0;
    }
    p += r;
    n -= (size_t) r;
    off += (uint64_t) r;
  }
  return 0;
}

static int
fds_extent (void *opaque, unsigned disk, uint64_t off, uint64_t *start,
            uint64_t *end)
{
  struct fds *f = opaque;
  struct stat st;
  off_t d, h;

  if (disk >= f->n) {
    errno = EINVAL;
    return -1;
  }
  if (fstat (f->fd[disk], &st) == -1)
    return -1;
  if (!S_ISREG (st.st_mode)) { /* block devices: all data */
    *start = off;
    *end = UINT64_MAX;
    return 0;
  }
  if ((uint64_t) st.st_size <= off) { /* past the end: zeros */
    *start = *end = UINT64_MAX;
    return 0;
  }
  d = lseek (f->fd[disk], (off_t) off, SEEK_DATA);
  if (d == -1) {
    if (errno == ENXIO) { /* only a hole follows */
      *start = *end = UINT64_MAX;
      return 0;
    }
    if (errno == EINVAL || errno == ENOTSUP) {
      *start = off;
      *end = UINT64_MAX;
      return 0;
    }
    return -1;
  }
  h = lseek (f->fd[disk], d, SEEK_HOLE);
  if (h == -1)
    return -1;
  *start = (uint64_t) d;
  *end = (uint64_t) h;
  return 0;
}

struct xva_source_io
xva_source_fds (const int *fds, unsigned n)
{
  struct xva_source_io io;
  struct fds *f;

  memset (&io, 0, sizeof io);
  f = malloc (sizeof *f + (size_t) n * sizeof (int));
  if (!f)
    return io; /* pread NULL: the writer refuses it */
  f->n = n;
  if (n)
    memcpy (f->fd, fds, (size_t) n * sizeof (int));
  io.pread = fds_pread;
  io.extent = fds_extent;
  io.opaque = f;
  io.free = free;
  return io;
}
