/* Chunk checksums as XVA archives carry them. */
#include "checksum/checksum.h"

#include <string.h>

#include <openssl/sha.h>
#include <xxhash.h>

static const char hexu[] = "0123456789ABCDEF";
static const char hexl[] = "0123456789abcdef";

int
xva_checksum_hex (int kind, const void *buf, size_t n, char *out)
{
  switch (kind) {
  case XVA_CHECKSUM_XXHASH:
    Xva_hex64 (XXH64 (buf, n, 0), out);
    return 16;
  case XVA_CHECKSUM_SHA1: {
    unsigned char md[SHA_DIGEST_LENGTH];
    SHA1 (buf, n, md);
    Xva_hex_lower (md, sizeof md, out);
    return 40;
  }
  default:
    return -1;
  }
}

void
Xva_hex64 (uint64_t h, char *out)
{
  int i;

  for (i = 15; i >= 0; i--) {
    out[i] = hexu[h & 15];
    h >>= 4;
  }
  out[16] = '\0';
}

void
Xva_hex_lower (const unsigned char *md, size_t n, char *out)
{
  size_t i;

  for (i = 0; i < n; i++) {
    out[2 * i] = hexl[md[i] >> 4];
    out[2 * i + 1] = hexl[md[i] & 15];
  }
  out[2 * n] = '\0';
}

const char *
xva_checksum_ext (int kind)
{
  switch (kind) {
  case XVA_CHECKSUM_XXHASH:
    return ".xxhash";
  case XVA_CHECKSUM_SHA1:
    return ".checksum";
  default:
    return NULL;
  }
}

const char *
xva_checksum_name (int kind)
{
  switch (kind) {
  case XVA_CHECKSUM_XXHASH:
    return "xxhash";
  case XVA_CHECKSUM_SHA1:
    return "sha1";
  default:
    return NULL;
  }
}

int
xva_is_zero (const void *buf, size_t n)
{
  const unsigned char *p = buf;
  size_t i;

  /* Check a short head byte-wise, then compare the buffer with itself
   * shifted by 16 bytes: memcmp is vectorised by libc. */
  for (i = 0; i < n && i < 16; i++)
    if (p[i] != 0)
      return 0;
  if (n <= 16)
    return 1;
  return memcmp (p, p + 16, n - 16) == 0;
}
