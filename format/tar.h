/* Tar framing: V7 headers as xapi writes them, and a reader of V7,
 * ustar, GNU and pax headers. */
#ifndef XVA_FORMAT_TAR_H
#define XVA_FORMAT_TAR_H

#include <stddef.h>
#include <stdint.h>

#define XVA_TAR_BLOCK 512
#define XVA_TAR_NAME_MAX 4096

/* Fills hdr with a V7 header (mode 0400, uid/gid 0, typeflag NUL, no
 * magic) for a regular file.  name must be shorter than 100 bytes and
 * size below 8 GiB.  Returns 0, or -1 when they do not fit. */
int Xva_tar_header (unsigned char hdr[XVA_TAR_BLOCK], const char *name,
                    uint64_t size, int64_t mtime);

/* Bytes of padding after n bytes of entry data. */
static inline size_t
Xva_tar_pad (uint64_t n)
{
  return (size_t) ((XVA_TAR_BLOCK - (n % XVA_TAR_BLOCK)) % XVA_TAR_BLOCK);
}

struct Xva_tar_entry {
  char name[XVA_TAR_NAME_MAX + 1];
  uint64_t size;
  char type; /* typeflag; '0' for a NUL typeflag */
};

enum {
  XVA_TAR_HEADER_OK = 0,
  XVA_TAR_HEADER_ZERO = 1, /* an all-zero block */
  XVA_TAR_HEADER_BAD = -1, /* not a valid header: see err */
};

/* Parses one header block.  Returns one of the values above; on
 * XVA_TAR_HEADER_BAD writes a reason into err. */
int Xva_tar_parse (const unsigned char hdr[XVA_TAR_BLOCK],
                   struct Xva_tar_entry *e, char *err, size_t errlen);

/* Parses pax extended header records, updating path and size fields
 * found there.  Returns 0, or -1 and a reason in err. */
int Xva_tar_pax (const char *data, size_t len, char *path, size_t pathlen,
                 int *have_path, uint64_t *size, int *have_size, char *err,
                 size_t errlen);

#endif
