/* libFuzzer: tar framing (format/tar.h).  The input is parsed as one
 * header block and as pax extended header records; a header made by
 * Xva_tar_header from a name and size taken from the input must parse
 * back to the same entry. */
#include <stdint.h>
#include <string.h>

#include "format/tar.h"
#include "fuzz.h"

static void
check_header (const uint8_t *data, size_t size)
{
  unsigned char blk[XVA_TAR_BLOCK];
  struct Xva_tar_entry e;
  char err[128];
  int st;

  memset (blk, 0, sizeof blk);
  memcpy (blk, data, size < sizeof blk ? size : sizeof blk);
  memset (err, 'x', sizeof err);
  st = Xva_tar_parse (blk, &e, err, sizeof err);
  FUZZ_CHECK (st == XVA_TAR_HEADER_OK || st == XVA_TAR_HEADER_ZERO
              || st == XVA_TAR_HEADER_BAD);
  if (st == XVA_TAR_HEADER_OK) {
    FUZZ_CHECK (memchr (e.name, '\0', sizeof e.name) != NULL);
    FUZZ_CHECK (e.type != '\0');
  }
  else if (st == XVA_TAR_HEADER_BAD)
    FUZZ_CHECK (memchr (err, '\0', sizeof err) != NULL && err[0] != '\0');
}

static void
check_pax (const uint8_t *data, size_t size)
{
  /* An exact-size path buffer, so that an overflow is caught. */
  size_t pathlen = 1 + (size ? data[0] % 128 : 0);
  char *path = malloc (pathlen);
  char err[128];
  uint64_t psize = 0;
  int have_path = 0, have_size = 0, r;

  FUZZ_CHECK (path != NULL);
  path[0] = '\0';
  err[0] = '\0';
  r = Xva_tar_pax ((const char *) data, size, path, pathlen, &have_path,
                   &psize, &have_size, err, sizeof err);
  FUZZ_CHECK (r == 0 || r == -1);
  if (r == -1)
    FUZZ_CHECK (err[0] != '\0');
  if (have_path)
    FUZZ_CHECK (strnlen (path, pathlen) < pathlen);
  free (path);
}

/* Xva_tar_header then Xva_tar_parse give back name and size. */
static void
check_roundtrip (const uint8_t *data, size_t size)
{
  unsigned char blk[XVA_TAR_BLOCK];
  struct Xva_tar_entry e;
  char name[128], err[128];
  uint64_t esize = 0;
  int64_t mtime = 0;
  size_t n, i;

  if (size < 17)
    return;
  for (i = 0; i < 8; i++)
    esize = (esize << 8) | data[i];
  for (i = 8; i < 16; i++)
    mtime = (int64_t) (((uint64_t) mtime << 8) | data[i]);
  n = data[16] % 110;
  if (n > size - 17)
    n = size - 17;
  for (i = 0; i < n; i++)
    name[i] = data[17 + i] ? (char) data[17 + i] : 'a';
  name[n] = '\0';
  if (Xva_tar_header (blk, name, esize, mtime) != 0) {
    /* Refused only when it cannot be written as a V7 header. */
    FUZZ_CHECK (n >= 100 || mtime < 0 || esize >= ((uint64_t) 1 << 33)
                || (uint64_t) mtime >= ((uint64_t) 1 << 33));
    return;
  }
  FUZZ_CHECK (n < 100 && esize < ((uint64_t) 1 << 33));
  FUZZ_CHECK (Xva_tar_parse (blk, &e, err, sizeof err) == XVA_TAR_HEADER_OK);
  FUZZ_CHECK (strcmp (e.name, name) == 0);
  FUZZ_CHECK (e.size == esize);
  FUZZ_CHECK (e.type == '0');
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  check_header (data, size);
  check_pax (data, size);
  check_roundtrip (data, size);
  return 0;
}
