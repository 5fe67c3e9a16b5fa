/* Helpers of the server-side fuzz targets (rpc.c, http.c): a data
 * directory in a scratch folder with what calls can reach, made once
 * and again when the fuzzer has used it enough.
 *
 * A data directory holds the pool, the host, the default SR and root
 * (Xva_store_init), a second SR ("fuzz SR") and one VM imported from
 * an archive made here: two small disks and a VIF, so that VM, VBD,
 * VDI, VIF and network records exist. */
#ifndef XVA_TESTS_FUZZ_SRV_FUZZ_H
#define XVA_TESTS_FUZZ_SRV_FUZZ_H

#include <dlfcn.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xva/xva.h>

#include <openssl/evp.h>

#include "fuzz.h"
#include "import/import.h"
#include "store/store.h"

#define FZ_PASSWORD "fuzz-pw"

/* Passwords are hashed with PBKDF2 (store/store-users.c), at a cost
 * meant to slow guessing down; under AddressSanitizer one hash takes
 * most of a second, which every login would pay.  The targets' own
 * PKCS5_PBKDF2_HMAC, which the store's code binds to, runs libcrypto's
 * with one iteration: setting and checking still agree. */
int
PKCS5_PBKDF2_HMAC (const char *pass, int passlen, const unsigned char *salt,
                   int saltlen, int iter, const EVP_MD *digest, int keylen,
                   unsigned char *out)
{
  typedef int (*pbkdf2_fn) (const char *, int, const unsigned char *, int, int,
                            const EVP_MD *, int, unsigned char *);
  static pbkdf2_fn real;

  (void) iter;
  if (real == NULL) {
    void *p = dlsym (RTLD_NEXT, "PKCS5_PBKDF2_HMAC");

    FUZZ_CHECK (p != NULL);
    memcpy (&real, &p, sizeof real);
  }
  return real (pass, passlen, salt, saltlen, 1, digest, keylen, out);
}
#define FZ_DISK_SIZE 4096

/* The server's log sink in the targets: a log line never holds a
 * control character (one line per event, nothing forged). */
static inline void
fz_log_line (void *opaque, const char *line)
{
  size_t i;

  (void) opaque;
  FUZZ_CHECK (line != NULL);
  for (i = 0; line[i] != '\0'; i++)
    if ((unsigned char) line[i] < 0x20 || line[i] == 0x7f) {
      fprintf (stderr, "log line with a control character: %s\n", line);
      abort ();
    }
}

static inline int
fz_rm_one (const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
  (void) sb;
  (void) flag;
  (void) ftw;
  return remove (path);
}

static inline void
fz_rmtree (const char *path)
{
  if (path[0] != '\0')
    nftw (path, fz_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* A new scratch folder (TMPDIR or /tmp) into buf. */
static inline void
fz_tmpdir (char *buf, size_t len)
{
  const char *base = getenv ("TMPDIR");

  if (base == NULL || base[0] == '\0')
    base = "/tmp";
  snprintf (buf, len, "%s/xva-fuzz-XXXXXX", base);
  FUZZ_CHECK (mkdtemp (buf) != NULL);
}

/* Disk i of the archive: a pattern, never all zeros. */
static inline int
fz_pread (void *opaque, unsigned disk, void *buf, size_t n, uint64_t off)
{
  unsigned char *p = buf;
  size_t i;

  (void) opaque;
  for (i = 0; i < n; i++)
    p[i] = (unsigned char) (((off + i) * 13u + disk * 101u) | 1u);
  return 0;
}

/* The archive of a halted VM "fuzz vm" with two disks of FZ_DISK_SIZE
 * and one VIF (appended to out). */
static inline void
fz_archive (struct fz_buf *out)
{
  uint64_t sizes[2] = { FZ_DISK_SIZE, FZ_DISK_SIZE };
  struct xva_vm_spec spec;
  struct xva_writer_disk d[2];
  struct xva_writer_opts wo;
  struct xva_source_io io;
  struct xva_value *root;
  struct xva_meta *m = NULL;
  struct xva_writer *w;
  char *xml = NULL;
  size_t xlen = 0;
  unsigned i;
  int st = 0;

  memset (&spec, 0, sizeof spec);
  spec.name = "fuzz vm";
  spec.memory = 1 << 20;
  spec.vcpus = 1;
  spec.ndisks = 2;
  spec.disk_sizes = sizes;
  spec.nvifs = 1;
  root = xva_meta_build_vm (&spec, &st);
  FUZZ_CHECK (root != NULL);
  FUZZ_CHECK (xva_value_to_xml (root, &xml, &xlen) == XVA_OK);
  FUZZ_CHECK (xva_meta_from_value (root, &m, NULL, 0) == XVA_OK);
  FUZZ_CHECK (xva_meta_ndisks (m) == 2);
  for (i = 0; i < 2; i++) {
    d[i].id = xva_meta_disk (m, i)->id;
    d[i].size = xva_meta_disk (m, i)->virtual_size;
  }
  xva_writer_opts_init (&wo);
  wo.threads = 1;
  wo.mtime = 0;
  memset (&io, 0, sizeof io);
  io.pread = fz_pread;
  w = xva_writer_new (xml, xlen, d, 2, &wo, io, &st);
  FUZZ_CHECK (w != NULL);
  for (;;) {
    const void *p;
    size_t l;

    st = xva_writer_next (w, &p, &l);
    FUZZ_CHECK (st >= 0);
    fz_put (out, p, l);
    if (st == XVA_EOF)
      break;
  }
  xva_writer_free (w);
  xva_meta_free (m);
  free (xml);
}

/* Imports archive a into the default SR of s. */
static inline void
fz_import (struct Xva_store *s, const struct fz_buf *a)
{
  struct Xva_import_opts o;
  struct Xva_import *im = NULL;
  struct xva_in in;
  char err[512];
  int st;

  memset (&o, 0, sizeof o);
  o.threads = 1;
  st = Xva_import_new (s, &o, &im, err, sizeof err);
  if (st != XVA_OK) {
    fprintf (stderr, "fuzz setup: import: %s\n", err);
    abort ();
  }
  in.src = a->p;
  in.size = a->len;
  in.pos = 0;
  st = Xva_import_feed (im, &in);
  if (st >= 0)
    st = Xva_import_finish (im, NULL);
  if (st != XVA_OK) {
    fprintf (stderr, "fuzz setup: import: %s\n", Xva_import_errmsg (im));
    abort ();
  }
  Xva_import_free (im);
}

/* A new data directory (in a new scratch folder, name into dir): the
 * store initialised with root's password FZ_PASSWORD, the SR "fuzz SR"
 * and the VM of fz_archive.  Closed again. */
static inline void
fz_datadir (char *dir, size_t len)
{
  struct Xva_store *s = NULL;
  struct fz_buf a = { 0 };
  char err[512], ref[XVA_STORE_REF_MAX + 1];

  fz_tmpdir (dir, len);
  if (Xva_store_open (dir, &s, err, sizeof err) != XVA_OK
      || Xva_store_init (s, FZ_PASSWORD) != XVA_OK
      || Xva_store_sr_create (s, "fuzz SR", ref, NULL) != XVA_OK) {
    fprintf (stderr, "fuzz setup: store: %s %s\n", err, Xva_store_errmsg (s));
    abort ();
  }
  fz_archive (&a);
  fz_import (s, &a);
  free (a.p);
  Xva_store_close (s);
}

#endif
