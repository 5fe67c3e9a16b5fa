/* libFuzzer: the JSON value codec.  Whatever xva_value_from_json
 * accepts must serialise, parse again and serialise to the same text. */
#include <stdint.h>
#include <string.h>

#include <xva/xva.h>

#include "fuzz.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  struct xva_value *v = NULL, *w = NULL;
  char *s1 = NULL, *s2 = NULL;
  size_t n1 = 0, n2 = 0;
  char err[256];
  int st;

  /* Tight bounds first: refused with XVA_ELIMIT or XVA_EFORMAT, or
   * accepted as with the defaults. */
  {
    struct xva_limits lim = { (size & 1) && size > 1 ? size - 1 : size + 1, 4,
                              40, 24 };
    int tight;

    err[0] = '\0';
    tight = xva_value_from_json ((const char *) data, size, &lim, &v, err,
                                 sizeof err);
    FUZZ_CHECK (tight == XVA_OK || tight == XVA_ELIMIT
                || tight == XVA_EFORMAT);
    FUZZ_CHECK ((tight == XVA_OK) == (v != NULL));
    if (tight == XVA_OK)
      FUZZ_CHECK (xva_value_to_json (v, &s1, &n1) == XVA_OK);
    xva_value_free (v);
    v = NULL;
  }
  err[0] = '\0';
  st = xva_value_from_json ((const char *) data, size, NULL, &v, err,
                            sizeof err);
  if (s1) {
    /* What fits the tight bounds fits the defaults, to the same tree. */
    FUZZ_CHECK (st == XVA_OK);
    FUZZ_CHECK (xva_value_to_json (v, &s2, &n2) == XVA_OK);
    FUZZ_CHECK (n1 == n2 && memcmp (s1, s2, n1) == 0);
    free (s1);
    free (s2);
    s1 = s2 = NULL;
  }
  if (st != XVA_OK) {
    FUZZ_CHECK (st < 0 && v == NULL);
    FUZZ_CHECK (err[0] != '\0');
    return 0;
  }
  FUZZ_CHECK (v != NULL);
  FUZZ_CHECK (xva_value_to_json (v, &s1, &n1) == XVA_OK);
  FUZZ_CHECK (s1 != NULL && strlen (s1) == n1);
  st = xva_value_from_json (s1, n1, NULL, &w, err, sizeof err);
  if (st != XVA_OK)
    fprintf (stderr, "re-parse failed (%s): %s\n", xva_status_name (st), err);
  FUZZ_CHECK (st == XVA_OK);
  FUZZ_CHECK (xva_value_to_json (w, &s2, &n2) == XVA_OK);
  if (n1 != n2 || memcmp (s1, s2, n1) != 0)
    fprintf (stderr, "first:  %.*s\nsecond: %.*s\n", (int) n1, s1, (int) n2,
             s2);
  FUZZ_CHECK (n1 == n2 && memcmp (s1, s2, n1) == 0);
  free (s1);
  free (s2);
  xva_value_free (v);
  xva_value_free (w);
  return 0;
}
