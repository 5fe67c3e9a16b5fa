/* Tar header bytes as xapi writes them (xva-format.md 2.5), and the
 * parser's handling of V7, ustar, GNU and pax forms. */
#include <stdint.h>
#include <string.h>

#include <xva/xva.h>

#include "format/tar.h"
#include "harness.h"

static unsigned
sum_of (const unsigned char *h)
{
  unsigned s = 0;
  int i;

  for (i = 0; i < 512; i++)
    s += (i >= 148 && i < 156) ? ' ' : h[i];
  return s;
}

static void
reseal (unsigned char *h)
{
  char buf[16];
  snprintf (buf, sizeof buf, "%07o", sum_of (h));
  memcpy (h + 148, buf, 8);
}

int
main (void)
{
  unsigned char h[512];
  struct Xva_tar_entry e;
  char err[256], path[256];
  int have_path = 0, have_size = 0, i;
  uint64_t size = 0;
  char want_sum[16];
  const char *pax;

  CHECK (Xva_tar_header (h, "Ref:3/00000000", 1048576, 0) == 0);
  CHECK (memcmp (h, "Ref:3/00000000", 15) == 0);
  for (i = 15; i < 100; i++)
    CHECK (h[i] == 0);
  CHECK (memcmp (h + 100, "0000400", 8) == 0);
  CHECK (memcmp (h + 108, "0000000", 8) == 0);
  CHECK (memcmp (h + 116, "0000000", 8) == 0);
  CHECK (memcmp (h + 124, "00004000000", 12) == 0);
  CHECK (memcmp (h + 136, "00000000000", 12) == 0);
  snprintf (want_sum, sizeof want_sum, "%07o", sum_of (h));
  CHECK (memcmp (h + 148, want_sum, 8) == 0);
  CHECK (h[156] == 0);
  for (i = 157; i < 512; i++)
    CHECK (h[i] == 0); /* no linkname, no ustar magic */

  CHECK (Xva_tar_header (h, "ova.xml", 1234, 1700000000) == 0);
  CHECK (memcmp (h + 136, "14524770400", 12) == 0);
  CHECK (Xva_tar_parse (h, &e, err, sizeof err) == XVA_TAR_HEADER_OK);
  CHECK (strcmp (e.name, "ova.xml") == 0);
  CHECK (e.size == 1234);
  CHECK (e.type == '0');

  /* A flipped bit fails the header checksum. */
  h[3] ^= 1;
  CHECK (Xva_tar_parse (h, &e, err, sizeof err) == XVA_TAR_HEADER_BAD);
  CHECK (strstr (err, "checksum") != NULL);

  memset (h, 0, sizeof h);
  CHECK (Xva_tar_parse (h, &e, err, sizeof err) == XVA_TAR_HEADER_ZERO);

  /* ustar with a prefix. */
  CHECK (Xva_tar_header (h, "00000001", 512, 0) == 0);
  memcpy (h + 257,
          "ustar\0"
          "00",
          8);
  memcpy (h + 345, "Ref:12", 6);
  h[156] = '0';
  reseal (h);
  CHECK (Xva_tar_parse (h, &e, err, sizeof err) == XVA_TAR_HEADER_OK);
  CHECK (strcmp (e.name, "Ref:12/00000001") == 0);

  /* GNU magic: the prefix area is not a prefix; base-256 size. */
  CHECK (Xva_tar_header (h, "Ref:1/00000000", 0, 0) == 0);
  memcpy (h + 257, "ustar  \0", 8);
  memset (h + 345, 'x', 10);
  memset (h + 124, 0, 12);
  h[124] = 0x80;
  h[135] = 0x02;
  h[134] = 0x01; /* 0x0102 = 258 */
  reseal (h);
  CHECK (Xva_tar_parse (h, &e, err, sizeof err) == XVA_TAR_HEADER_OK);
  CHECK (strcmp (e.name, "Ref:1/00000000") == 0);
  CHECK (e.size == 258);

  /* Names that do not fit, and sizes that do not fit. */
  CHECK (Xva_tar_header (h,
                         "0123456789012345678901234567890123456789"
                         "0123456789012345678901234567890123456789"
                         "01234567890123456789",
                         1, 0)
         == -1);
  CHECK (Xva_tar_header (h, "big", (uint64_t) 1 << 33, 0) == -1);

  /* pax records. */
  pax = "23 path=Ref:7/00000003\n12 size=512\n";
  CHECK (Xva_tar_pax (pax, strlen (pax), path, sizeof path, &have_path, &size,
                      &have_size, err, sizeof err)
         == 0);
  CHECK (have_path && strcmp (path, "Ref:7/00000003") == 0);
  CHECK (have_size && size == 512);
  pax = "99 path=x\n";
  CHECK (Xva_tar_pax (pax, strlen (pax), path, sizeof path, &have_path, &size,
                      &have_size, err, sizeof err)
         == -1);
  pax = "5 a\n";
  CHECK (Xva_tar_pax (pax, strlen (pax), path, sizeof path, &have_path, &size,
                      &have_size, err, sizeof err)
         == -1);
  HARNESS_DONE ();
}
