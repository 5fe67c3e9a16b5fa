/* Writing disks into sparse files. */
#include <xva/xva.h>

#include <errno.h>
#include <unistd.h>

#define BLOCK 4096

static int
write_all (int fd, const unsigned char *p, size_t n, uint64_t off)
{
  while (n > 0) {
    ssize_t r = pwrite (fd, p, n, (off_t) off);
    if (r == -1) {
      if (errno == EINTR)
        continue;
      return -1;
    }
    p += r;
    n -= (size_t) r;
    off += (uint64_t) r;
  }
  return 0;
}

int
xva_pwrite_sparse (int fd, const void *buf, size_t n, uint64_t off)
{
  const unsigned char *p = buf;
  size_t i = 0;

  /* Write runs of non-zero blocks; leave whole zero blocks as holes. */
  while (i < n) {
    size_t start, blen;

    while (i < n) {
      blen = n - i < BLOCK ? n - i : BLOCK;
      if (!xva_is_zero (p + i, blen))
        break;
      i += blen;
    }
    if (i >= n)
      break;
    start = i;
    while (i < n) {
      blen = n - i < BLOCK ? n - i : BLOCK;
      if (xva_is_zero (p + i, blen))
        break;
      i += blen;
    }
    if (write_all (fd, p + start, i - start, off + start) == -1)
      return -1;
  }
  return 0;
}
