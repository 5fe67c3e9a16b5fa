/* A stream cut anywhere short of the last disk's end fails with
 * IMPORT_ERROR_PREMATURE_EOF and leaves no records, no image files and
 * no staging directory; without the end marker but with every disk
 * complete it succeeds.  Cancelling, abandoning (free without finish)
 * and input that is not an archive leave nothing either. */
#include "xport-test.h"

#define NDISKS 2

static struct Xva_store *s;
static char srdir[4096];
static size_t nvm0, nvdi0;
static int files0;

/* Nothing of a failed import is left. */
static void
check_nothing (int line)
{
  int staging = -1;

  if (xt_count (s, "VM") != nvm0 || xt_count (s, "VDI") != nvdi0
      || xt_count (s, "VBD") != 0 + nvm0 * NDISKS
      || xt_entries (srdir, &staging) != files0 || staging != 0) {
    fprintf (stderr, "line %d: something of a failed import remains\n", line);
    harness_failures++;
  }
}

int
main (void)
{
  static const uint64_t sizes[NDISKS] = { 2 * MiB + 512, 1 * MiB };
  char dir[1024], err[512], code[64];
  unsigned char *data[NDISKS];
  struct Xva_import_opts o;
  struct Xva_import *im;
  struct buf a = { NULL, 0, 0 };
  size_t cuts[16], ncuts = 0, i, first_ref = 0, off;
  unsigned k;
  int st;

  s = xt_store (dir, sizeof dir);
  xt_sr_dir (s, srdir, sizeof srdir, NULL);
  for (k = 0; k < NDISKS; k++) {
    data[k] = malloc ((size_t) sizes[k]);
    xt_fill (data[k], sizes[k], 20 + k);
  }
  CHECK (xt_archive (xt_tree ("cut vm", sizes, NDISKS, 1), data, sizes, NDISKS,
                     &a)
         == XVA_OK);
  for (off = 0; off + 512 <= a.n; off += 512)
    if (strncmp ((const char *) a.p + off, "Ref:", 4) == 0) {
      first_ref = off;
      break;
    }
  CHECK (first_ref > 0);
  memset (&o, 0, sizeof o);
  nvm0 = 0;
  nvdi0 = 0;
  files0 = 0;

  cuts[ncuts++] = 600;                      /* inside ova.xml */
  cuts[ncuts++] = first_ref;                /* right after ova.xml */
  cuts[ncuts++] = first_ref + 512;          /* a chunk's header only */
  cuts[ncuts++] = first_ref + 512 + 300000; /* inside a chunk */
  cuts[ncuts++] = first_ref + 512 + MiB;    /* before its checksum */
  cuts[ncuts++] = a.n / 2;
  cuts[ncuts++] = a.n - 1024 - 1536; /* before the last checksum entry */
  cuts[ncuts++] = a.n - 1024 - 1;    /* one byte short of the last disk */
  for (i = 0; i < ncuts; i++) {
    st = xt_import (s, &o, a.p, cuts[i], NULL, code, sizeof code);
    if (st != XVA_ETRUNCATED
        || strcmp (code, "IMPORT_ERROR_PREMATURE_EOF") != 0) {
      fprintf (stderr, "cut at %zu of %zu: %d %s\n", cuts[i], a.n, st, code);
      harness_failures++;
    }
    check_nothing (__LINE__);
  }

  /* The HTTP status of a premature end. */
  CHECK (Xva_import_new (s, &o, &im, err, sizeof err) == XVA_OK);
  CHECK (xt_feed (im, a.p, a.n / 3) == XVA_OK);
  CHECK (Xva_import_finish (im, NULL) == XVA_ETRUNCATED);
  CHECK (Xva_import_http_status (im) == 400);
  Xva_import_free (im);
  check_nothing (__LINE__);

  /* Cancelled midway: TASK_CANCELLED on the next feed. */
  CHECK (Xva_import_new (s, &o, &im, err, sizeof err) == XVA_OK);
  CHECK (xt_feed (im, a.p, a.n / 2) == XVA_OK);
  Xva_import_cancel (im);
  st = xt_feed (im, a.p + a.n / 2, a.n - a.n / 2);
  CHECK (st == XVA_ECANCELLED);
  CHECK (strcmp (xva_value_string (xva_value_at (Xva_import_error (im), 0)),
                 "TASK_CANCELLED")
         == 0);
  CHECK (Xva_import_finish (im, NULL) == XVA_ECANCELLED);
  check_nothing (__LINE__); /* cleaned before free */
  Xva_import_free (im);
  check_nothing (__LINE__);

  /* Cancelled before finish. */
  CHECK (Xva_import_new (s, &o, &im, err, sizeof err) == XVA_OK);
  CHECK (xt_feed (im, a.p, a.n) == XVA_OK);
  Xva_import_cancel (im);
  CHECK (Xva_import_finish (im, NULL) == XVA_ECANCELLED);
  Xva_import_free (im);
  check_nothing (__LINE__);

  /* Abandoned: freed without finish. */
  CHECK (Xva_import_new (s, &o, &im, err, sizeof err) == XVA_OK);
  CHECK (xt_feed (im, a.p, a.n / 2) == XVA_OK);
  {
    int staging = 0;
    CHECK (xt_entries (srdir, &staging) == 1 && staging == 1);
  }
  Xva_import_free (im);
  check_nothing (__LINE__);

  /* Not an archive at all. */
  {
    static const char page[] = "<html><body>502 Bad Gateway</body></html>";
    st = xt_import (s, &o, (const unsigned char *) page, sizeof page - 1, NULL,
                    code, sizeof code);
    CHECK (st < 0);
    CHECK (strcmp (code, "IMPORT_ERROR") == 0);
    check_nothing (__LINE__);
  }

  /* Every disk complete, no end marker: a success. */
  st = xt_import (s, &o, a.p, a.n - 1024, NULL, code, sizeof code);
  CHECK_MSG (st == XVA_OK, code);
  CHECK (xt_count (s, "VM") == 1);
  CHECK (xt_count (s, "VDI") == NDISKS);

  for (k = 0; k < NDISKS; k++)
    free (data[k]);
  free (a.p);
  Xva_store_close (s);
  test_rmtree (dir);
  HARNESS_DONE ();
}
