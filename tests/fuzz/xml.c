/* libFuzzer: the XML side of the value codec.  The input goes to
 * xva_value_from_xml, xva_meta_parse, xva_xmlrpc_parse_call and
 * xva_xmlrpc_parse_response; whatever parses must serialise, parse
 * again and serialise to the same text. */
#include <stdint.h>
#include <string.h>

#include <xva/xva.h>

#include "fuzz.h"

/* b, parsed from a and written again, must be a, byte for byte: every
 * writer sends a CR as a character reference, so none is lost to XML's
 * end-of-line handling, in a string or in a method name. */
static void
same_text (const char *what, const char *a, size_t na, const char *b,
           size_t nb)
{
  size_t i = 0, from;

  if (na == nb && memcmp (a, b, na) == 0)
    return;
  while (i < na && i < nb && a[i] == b[i])
    i++;
  from = i > 60 ? i - 60 : 0;
  fprintf (stderr,
           "%s: the text changed at byte %zu\nfirst:  %.*s\n"
           "second: %.*s\n",
           what, i, (int) (na - from < 160 ? na - from : 160), a + from,
           (int) (nb - from < 160 ? nb - from : 160), b + from);
  abort ();
}

/* to_xml, from_xml, to_xml: the same text.  Returns the first text
 * (caller frees). */
static char *
value_roundtrip (const struct xva_value *v, size_t *len)
{
  struct xva_value *w = NULL;
  char *s1 = NULL, *s2 = NULL;
  size_t n1 = 0, n2 = 0;
  char err[256] = "";
  int st;

  FUZZ_CHECK (xva_value_to_xml (v, &s1, &n1) == XVA_OK);
  FUZZ_CHECK (s1 != NULL && strlen (s1) == n1);
  st = xva_value_from_xml (s1, n1, NULL, &w, err, sizeof err);
  if (st != XVA_OK)
    fprintf (stderr, "re-parse of %.*s failed (%s): %s\n", (int) n1, s1,
             xva_status_name (st), err);
  FUZZ_CHECK (st == XVA_OK);
  FUZZ_CHECK (xva_value_to_xml (w, &s2, &n2) == XVA_OK);
  same_text ("value", s1, n1, s2, n2);
  free (s2);
  xva_value_free (w);
  *len = n1;
  return s1;
}

static void
fuzz_value (const char *data, size_t size)
{
  struct xva_value *v = NULL, *r = NULL;
  char *s = NULL, *resp = NULL, *s2 = NULL;
  size_t n = 0, nresp = 0, n2 = 0;
  char err[256] = "";
  int st;

  /* Tight bounds first: refused with XVA_ELIMIT or XVA_EFORMAT, or
   * accepted as with the defaults. */
  {
    struct xva_limits lim = { (size & 1) && size > 1 ? size - 1 : size + 1, 4,
                              40, 24 };
    int tight = xva_value_from_xml (data, size, &lim, &v, err, sizeof err);

    FUZZ_CHECK (tight == XVA_OK || tight == XVA_ELIMIT
                || tight == XVA_EFORMAT);
    FUZZ_CHECK ((tight == XVA_OK) == (v != NULL));
    if (tight == XVA_OK)
      FUZZ_CHECK (xva_value_to_xml (v, &s2, &n2) == XVA_OK);
    xva_value_free (v);
    v = NULL;
  }
  st = xva_value_from_xml (data, size, NULL, &v, err, sizeof err);
  if (st != XVA_OK) {
    FUZZ_CHECK (st < 0 && v == NULL && err[0] != '\0' && s2 == NULL);
    return;
  }
  s = value_roundtrip (v, &n);
  if (s2) {
    /* What fits the tight bounds fits the defaults, to the same tree. */
    FUZZ_CHECK (n2 == n && memcmp (s2, s, n) == 0);
    free (s2);
    s2 = NULL;
    n2 = 0;
  }
  /* The same value as a method response. */
  FUZZ_CHECK (xva_xmlrpc_format_response (v, &resp, &nresp) == XVA_OK);
  st = xva_xmlrpc_parse_response (resp, nresp, NULL, &r, err, sizeof err);
  if (st != XVA_OK)
    fprintf (stderr, "response %.*s: %s: %s\n", (int) nresp, resp,
             xva_status_name (st), err);
  FUZZ_CHECK (st == XVA_OK);
  FUZZ_CHECK (xva_value_to_xml (r, &s2, &n2) == XVA_OK);
  same_text ("response", s, n, s2, n2);
  free (s);
  free (s2);
  free (resp);
  xva_value_free (r);
  xva_value_free (v);
}

static void
fuzz_meta (const char *data, size_t size)
{
  struct xva_meta *m = NULL, *m2 = NULL;
  char err[256] = "";
  char *s;
  size_t n = 0, i;
  unsigned k;
  int st;

  st = xva_meta_parse (data, size, NULL, &m, err, sizeof err);
  if (st != XVA_OK) {
    FUZZ_CHECK (st < 0 && m == NULL && err[0] != '\0');
    return;
  }
  FUZZ_CHECK (xva_meta_root (m) != NULL && xva_meta_version (m) != NULL);
  for (i = 0; i < xva_meta_nobjects (m); i++) {
    const char *id = xva_meta_object_id (m, i);
    FUZZ_CHECK (xva_meta_object_class (m, i) != NULL && id != NULL);
    FUZZ_CHECK (xva_meta_object (m, i) != NULL);
    FUZZ_CHECK (xva_meta_find (m, id) != NULL);
  }
  FUZZ_CHECK (xva_meta_object_id (m, i) == NULL);
  for (k = 0; k < xva_meta_ndisks (m); k++) {
    const struct xva_disk *d = xva_meta_disk (m, k);
    FUZZ_CHECK (d != NULL && d->id != NULL && d->vdi_uuid != NULL
                && d->name_label != NULL && d->userdevice != NULL
                && d->type != NULL && d->vdi != NULL);
    if (k > 0)
      FUZZ_CHECK (strcmp (xva_meta_disk (m, k - 1)->id, d->id) < 0);
  }
  FUZZ_CHECK (xva_meta_disk (m, k) == NULL);
  /* What was accepted is accepted again once written out. */
  s = value_roundtrip (xva_meta_root (m), &n);
  st = xva_meta_parse (s, n, NULL, &m2, err, sizeof err);
  if (st != XVA_OK)
    fprintf (stderr, "ova.xml re-parse: %s: %s\n", xva_status_name (st), err);
  FUZZ_CHECK (st == XVA_OK);
  FUZZ_CHECK (xva_meta_ndisks (m2) == xva_meta_ndisks (m));
  FUZZ_CHECK (xva_meta_nobjects (m2) == xva_meta_nobjects (m));
  free (s);
  xva_meta_free (m2);
  xva_meta_free (m);
}

static void
fuzz_call (const char *data, size_t size)
{
  struct xva_value *params = NULL, *p2 = NULL;
  char *method = NULL, *m2 = NULL, *call = NULL, *s1 = NULL, *s2 = NULL;
  size_t ncall = 0, n1 = 0, n2 = 0;
  char err[256] = "";
  int st;

  st = xva_xmlrpc_parse_call (data, size, NULL, &method, &params, err,
                              sizeof err);
  if (st != XVA_OK) {
    FUZZ_CHECK (st < 0 && err[0] != '\0');
    return;
  }
  FUZZ_CHECK (method != NULL && params != NULL);
  FUZZ_CHECK (xva_value_type (params) == XVA_TYPE_ARRAY);
  FUZZ_CHECK (xva_xmlrpc_format_call (method, params, &call, &ncall)
              == XVA_OK);
  st = xva_xmlrpc_parse_call (call, ncall, NULL, &m2, &p2, err, sizeof err);
  if (st != XVA_OK)
    fprintf (stderr, "call %.*s: %s: %s\n", (int) ncall, call,
             xva_status_name (st), err);
  FUZZ_CHECK (st == XVA_OK);
  same_text ("method", method, strlen (method), m2, strlen (m2));
  FUZZ_CHECK (xva_value_to_xml (params, &s1, &n1) == XVA_OK);
  FUZZ_CHECK (xva_value_to_xml (p2, &s2, &n2) == XVA_OK);
  same_text ("params", s1, n1, s2, n2);
  free (s1);
  free (s2);
  free (call);
  free (method);
  free (m2);
  xva_value_free (params);
  xva_value_free (p2);
}

static void
fuzz_response (const char *data, size_t size)
{
  struct xva_value *v = NULL;
  char *s = NULL;
  size_t n = 0;
  char err[256] = "";
  int st;

  st = xva_xmlrpc_parse_response (data, size, NULL, &v, err, sizeof err);
  if (st == XVA_ESERVER) {
    FUZZ_CHECK (v != NULL && xva_value_type (v) == XVA_TYPE_STRUCT);
    FUZZ_CHECK (xva_value_get (v, "faultCode") != NULL);
    FUZZ_CHECK (xva_value_get (v, "faultString") != NULL);
  }
  else if (st != XVA_OK) {
    FUZZ_CHECK (st < 0 && v == NULL && err[0] != '\0');
    return;
  }
  s = value_roundtrip (v, &n);
  free (s);
  xva_value_free (v);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  const char *x = (const char *) data;

  fuzz_value (x, size);
  fuzz_meta (x, size);
  fuzz_call (x, size);
  fuzz_response (x, size);
  return 0;
}
