/* Tar headers. */
#include "format/tar.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Writes value as `digits` octal digits and a NUL into f. */
static int
put_octal (unsigned char *f, size_t digits, uint64_t value)
{
  size_t i;

  for (i = digits; i > 0; i--) {
    f[i - 1] = (unsigned char) ('0' + (value & 7));
    value >>= 3;
  }
  f[digits] = '\0';
  return value == 0 ? 0 : -1;
}

static unsigned
header_sum (const unsigned char *hdr, int is_signed)
{
  unsigned sum = 0;
  size_t i;

  for (i = 0; i < XVA_TAR_BLOCK; i++) {
    if (i >= 148 && i < 156)
      sum += ' ';
    else if (is_signed)
      sum += (unsigned) (int) (signed char) hdr[i];
    else
      sum += hdr[i];
  }
  return sum;
}

int
Xva_tar_header (unsigned char hdr[XVA_TAR_BLOCK], const char *name,
                uint64_t size, int64_t mtime)
{
  size_t len = strlen (name);

  if (len >= 100 || mtime < 0)
    return -1;
  memset (hdr, 0, XVA_TAR_BLOCK);
  memcpy (hdr, name, len);
  put_octal (hdr + 100, 7, 0400);
  put_octal (hdr + 108, 7, 0);
  put_octal (hdr + 116, 7, 0);
  if (put_octal (hdr + 124, 11, size) == -1)
    return -1;
  if (put_octal (hdr + 136, 11, (uint64_t) mtime) == -1)
    return -1;
  /* typeflag (156) stays NUL: a V7 regular file. */
  put_octal (hdr + 148, 7, header_sum (hdr, 0));
  return 0;
}

/* Parses a numeric field: octal digits (after optional spaces, ended by
 * NUL or space), or GNU base-256 when the top bit is set. */
static int
get_number (const unsigned char *f, size_t len, uint64_t *out)
{
  uint64_t v = 0;
  size_t i = 0;

  if (len > 0 && (f[0] & 0x80)) {
    if (f[0] != 0x80)
      return -1; /* negative or too large */
    for (i = 1; i < len; i++) {
      if (v >> 56)
        return -1;
      v = (v << 8) | f[i];
    }
    *out = v;
    return 0;
  }
  while (i < len && f[i] == ' ')
    i++;
  if (i == len || f[i] < '0' || f[i] > '7')
    return -1;
  for (; i < len && f[i] >= '0' && f[i] <= '7'; i++) {
    if (v >> 60)
      return -1;
    v = (v << 3) | (uint64_t) (f[i] - '0');
  }
  for (; i < len; i++)
    if (f[i] != ' ' && f[i] != '\0')
      return -1;
  *out = v;
  return 0;
}

int
Xva_tar_parse (const unsigned char hdr[XVA_TAR_BLOCK], struct Xva_tar_entry *e,
               char *err, size_t errlen)
{
  uint64_t stored;
  size_t nlen, plen;
  size_t i;

  for (i = 0; i < XVA_TAR_BLOCK; i++)
    if (hdr[i])
      break;
  if (i == XVA_TAR_BLOCK)
    return XVA_TAR_HEADER_ZERO;

  if (get_number (hdr + 148, 8, &stored) == -1) {
    snprintf (err, errlen, "tar header checksum field is not a number");
    return XVA_TAR_HEADER_BAD;
  }
  if (stored != header_sum (hdr, 0) && stored != header_sum (hdr, 1)) {
    snprintf (err, errlen,
              "tar header checksum mismatch (header says %" PRIo64
              ", block sums to %o)",
              stored, header_sum (hdr, 0));
    return XVA_TAR_HEADER_BAD;
  }
  if (get_number (hdr + 124, 12, &e->size) == -1) {
    snprintf (err, errlen, "tar header size field is not a number");
    return XVA_TAR_HEADER_BAD;
  }

  nlen = strnlen ((const char *) hdr, 100);
  e->name[0] = '\0';
  /* POSIX ustar keeps a prefix; GNU ("ustar  ") uses that space for
   * other fields. */
  if (memcmp (hdr + 257, "ustar\0", 6) == 0) {
    plen = strnlen ((const char *) hdr + 345, 155);
    if (plen > 0) {
      memcpy (e->name, hdr + 345, plen);
      e->name[plen] = '/';
      memcpy (e->name + plen + 1, hdr, nlen);
      e->name[plen + 1 + nlen] = '\0';
    }
  }
  if (e->name[0] == '\0') {
    memcpy (e->name, hdr, nlen);
    e->name[nlen] = '\0';
  }
  e->type = hdr[156] ? (char) hdr[156] : '0';
  return XVA_TAR_HEADER_OK;
}

int
Xva_tar_pax (const char *data, size_t len, char *path, size_t pathlen,
             int *have_path, uint64_t *size, int *have_size, char *err,
             size_t errlen)
{
  size_t pos = 0;

  while (pos < len) {
    size_t reclen = 0, i = pos, klen;
    const char *key, *eq, *val;
    size_t vlen;

    while (i < len && data[i] >= '0' && data[i] <= '9') {
      reclen = reclen * 10 + (size_t) (data[i] - '0');
      if (reclen > len)
        goto bad;
      i++;
    }
    if (i == pos || i >= len || data[i] != ' ' || reclen > len - pos
        || reclen < 5 || data[pos + reclen - 1] != '\n')
      goto bad;
    key = data + i + 1;
    eq = memchr (key, '=', (size_t) (data + pos + reclen - 1 - key));
    if (!eq)
      goto bad;
    klen = (size_t) (eq - key);
    val = eq + 1;
    vlen = (size_t) (data + pos + reclen - 1 - val);
    if (klen == 4 && memcmp (key, "path", 4) == 0) {
      if (vlen >= pathlen || memchr (val, '\0', vlen)) {
        snprintf (err, errlen, "pax path too long");
        return -1;
      }
      memcpy (path, val, vlen);
      path[vlen] = '\0';
      *have_path = 1;
    }
    else if (klen == 4 && memcmp (key, "size", 4) == 0) {
      uint64_t v = 0;
      size_t j;

      if (vlen == 0 || vlen > 19)
        goto bad;
      for (j = 0; j < vlen; j++) {
        if (val[j] < '0' || val[j] > '9')
          goto bad;
        v = v * 10 + (uint64_t) (val[j] - '0');
      }
      *size = v;
      *have_size = 1;
    }
    pos += reclen;
  }
  return 0;

bad:
  snprintf (err, errlen, "malformed pax extended header record at byte %zu",
            pos);
  return -1;
}
