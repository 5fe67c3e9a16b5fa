/* A corrupted chunk: without force the import fails with IMPORT_ERROR
 * naming the checksum (HTTP 400) and leaves nothing; with force it
 * succeeds, counts the mismatch and keeps the data as it came. */
#include "xport-test.h"

/* The offset of the first non-empty data entry's data in a plain tar
 * archive, or 0. */
static size_t
first_chunk (const struct buf *a)
{
  size_t off;

  for (off = 0; off + 512 <= a->n; off += 512) {
    const char *name = (const char *) a->p + off;
    char size[13];
    unsigned long long n;

    if (strncmp (name, "Ref:", 4) != 0 || strstr (name, ".xxhash"))
      continue;
    memcpy (size, a->p + off + 124, 12);
    size[12] = '\0';
    n = strtoull (size, NULL, 8);
    if (n > 0)
      return off + 512;
  }
  return 0;
}

int
main (void)
{
  static const uint64_t sizes[1] = { 2 * MiB };
  char dir[1024], srdir[4096], err[512], code[64];
  unsigned char *data[1];
  struct Xva_store *s;
  struct xva_value *refs = NULL;
  struct Xva_import_opts o;
  struct Xva_import *im = NULL;
  struct buf a = { NULL, 0, 0 };
  size_t at;
  int staging, st;

  s = xt_store (dir, sizeof dir);
  xt_sr_dir (s, srdir, sizeof srdir, NULL);
  data[0] = malloc ((size_t) sizes[0]);
  xt_fill (data[0], sizes[0], 3);
  CHECK (xt_archive (xt_tree ("force vm", sizes, 1, 1), data, sizes, 1, &a)
         == XVA_OK);
  at = first_chunk (&a);
  CHECK (at > 0);
  CHECK (data[0][100] != 0);
  a.p[at + 100] ^= 0x40; /* the first chunk starts at offset 0 */
  data[0][100] ^= 0x40;

  /* Without force. */
  memset (&o, 0, sizeof o);
  CHECK (Xva_import_new (s, &o, &im, err, sizeof err) == XVA_OK);
  st = xt_feed (im, a.p, a.n);
  if (st == XVA_OK)
    st = Xva_import_finish (im, &refs);
  CHECK (st == XVA_ECHECKSUM);
  CHECK (Xva_import_http_status (im) == 400);
  CHECK (Xva_import_error (im) != NULL);
  if (Xva_import_error (im)) {
    const struct xva_value *e = Xva_import_error (im);
    CHECK (strcmp (xva_value_string (xva_value_at (e, 0)), "IMPORT_ERROR")
           == 0);
    CHECK (strstr (xva_value_string (xva_value_at (e, 1)), "checksum")
           != NULL);
  }
  CHECK (strstr (Xva_import_errmsg (im), "checksum") != NULL);
  CHECK (refs == NULL);
  Xva_import_free (im);
  im = NULL;
  CHECK (xt_count (s, "VM") == 0);
  CHECK (xt_count (s, "VDI") == 0);
  CHECK (xt_count (s, "VBD") == 0);
  CHECK (xt_count (s, "network") == 0);
  CHECK (xt_entries (srdir, &staging) == 0);

  /* With force. */
  o.force = 1;
  CHECK (Xva_import_new (s, &o, &im, err, sizeof err) == XVA_OK);
  st = xt_feed (im, a.p, a.n);
  if (st == XVA_OK)
    st = Xva_import_finish (im, &refs);
  CHECK_MSG (st == XVA_OK, Xva_import_errmsg (im));
  CHECK (Xva_import_mismatches (im) == 1);
  CHECK (Xva_import_error (im) == NULL);
  Xva_import_free (im);
  CHECK (xva_value_len (refs) == 1);
  if (xva_value_len (refs) == 1) {
    struct xva_value *vm = xt_get (s,
                                   xva_value_string (xva_value_at (refs, 0)));
    struct xva_value *vbd = xt_get (
      s, xva_value_string (xva_value_at (xva_value_get (vm, "VBDs"), 0)));
    CHECK (vbd != NULL);
    if (vbd)
      CHECK (xt_image_is (s, xt_str (vbd, "VDI"), data[0], sizes[0]));
    xva_value_free (vbd);
    xva_value_free (vm);
  }
  xva_value_free (refs);
  CHECK (xt_entries (srdir, &staging) == 1 && staging == 0);
  (void) code;

  free (data[0]);
  free (a.p);
  Xva_store_close (s);
  test_rmtree (dir);
  HARNESS_DONE ();
}
