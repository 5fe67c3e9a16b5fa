/* The spec's hash vectors (xva-format.md section 8), the extension and
 * name of each kind, zero detection and status texts. */
#include <stdlib.h>
#include <string.h>

#include <xva/xva.h>

#include "harness.h"

int
main (void)
{
  static unsigned char mib[1 << 20];
  char hex[XVA_CHECKSUM_HEX_MAX + 1];
  int i;

  CHECK (xva_checksum_hex (XVA_CHECKSUM_XXHASH, "", 0, hex) == 16);
  CHECK (strcmp (hex, "EF46DB3751D8E999") == 0);
  CHECK (xva_checksum_hex (XVA_CHECKSUM_SHA1, "", 0, hex) == 40);
  CHECK (strcmp (hex, "da39a3ee5e6b4b0d3255bfef95601890afd80709") == 0);

  memset (mib, 0, sizeof mib);
  xva_checksum_hex (XVA_CHECKSUM_XXHASH, mib, sizeof mib, hex);
  CHECK (strcmp (hex, "87D2A1B6E1163EF1") == 0);
  xva_checksum_hex (XVA_CHECKSUM_SHA1, mib, sizeof mib, hex);
  CHECK (strcmp (hex, "3b71f43ff30f4b15b5cd85dd9e95ebc7e84eb5a3") == 0);
  memset (mib, 'A', sizeof mib);
  xva_checksum_hex (XVA_CHECKSUM_XXHASH, mib, sizeof mib, hex);
  CHECK (strcmp (hex, "25E9982AE4F7E71F") == 0);
  CHECK (xva_checksum_hex (7, mib, 1, hex) == -1);

  CHECK (strcmp (xva_checksum_ext (XVA_CHECKSUM_XXHASH), ".xxhash") == 0);
  CHECK (strcmp (xva_checksum_ext (XVA_CHECKSUM_SHA1), ".checksum") == 0);
  CHECK (xva_checksum_ext (2) == NULL);
  CHECK (strcmp (xva_checksum_name (XVA_CHECKSUM_SHA1), "sha1") == 0);

  memset (mib, 0, sizeof mib);
  CHECK (xva_is_zero (mib, sizeof mib));
  CHECK (xva_is_zero (mib, 0));
  CHECK (xva_is_zero (mib, 5));
  for (i = 0; i < 40; i++) {
    size_t at = i < 20 ? (size_t) i : sizeof mib - (size_t) (i - 19);
    mib[at] = 1;
    CHECK (!xva_is_zero (mib, sizeof mib));
    mib[at] = 0;
  }

  /* Every status has a text and a name. */
  for (i = -17; i <= 1; i++) {
    CHECK (strcmp (xva_strerror (i), "unknown status") != 0);
    CHECK (strcmp (xva_status_name (i), "XVA_UNKNOWN") != 0);
  }
  CHECK (strcmp (xva_strerror (-999), "unknown status") == 0);
  CHECK (strcmp (xva_status_name (XVA_ECHECKSUM), "XVA_ECHECKSUM") == 0);
  CHECK (strcmp (xva_compress_name (XVA_COMPRESS_ZSTD), "zstd") == 0);
  CHECK (xva_compress_name (9) == NULL);
  HARNESS_DONE ();
}
