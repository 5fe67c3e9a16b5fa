/* Helpers of the export and import tests: a store with a host, archives
 * made with xva_meta_build_vm and the writer, feeding in odd pieces,
 * and looking at records and images. */
#ifndef XVA_TESTS_XPORT_TEST_H
#define XVA_TESTS_XPORT_TEST_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>

#include "store-test.h"
#include "export/export.h"
#include "import/import.h"
#include "store/busy.h"

#define MiB ((uint64_t) 1 << 20)

struct buf {
  unsigned char *p;
  size_t n, cap;
};

static inline void
buf_add (struct buf *b, const void *p, size_t n)
{
  if (b->n + n > b->cap) {
    size_t c = b->cap ? b->cap : 65536;
    while (c < b->n + n)
      c *= 2;
    b->p = realloc (b->p, c);
    if (b->p == NULL) {
      perror ("realloc");
      exit (1);
    }
    b->cap = c;
  }
  memcpy (b->p + b->n, p, n);
  b->n += n;
}

/* A fresh initialised store in a new directory. */
static inline struct Xva_store *
xt_store (char *dir, size_t len)
{
  struct Xva_store *s = NULL;
  char err[512];

  test_tmpdir (dir, len);
  if (Xva_store_open (dir, &s, err, sizeof err) != XVA_OK) {
    fprintf (stderr, "open: %s\n", err);
    exit (1);
  }
  if (Xva_store_init (s, "secret") != XVA_OK) {
    fprintf (stderr, "init: %s\n", Xva_store_errmsg (s));
    exit (1);
  }
  return s;
}

/* Disk content: a pattern unique to (seed, offset), with whole zero
 * MiBs and zero 4 KiB blocks in between so that skipping and sparse
 * writes are exercised. */
static inline void
xt_fill (unsigned char *p, uint64_t size, unsigned seed)
{
  uint64_t i;

  for (i = 0; i < size; i++) {
    uint64_t mib = i >> 20, blk = i >> 12;
    if (mib % 3 == 1 || blk % 5 == 2)
      p[i] = 0;
    else
      p[i] = (unsigned char) ((i * 31u + seed * 7u + (i >> 9)) | 1u);
  }
}

/* An archive of the tree root (taken) whose disk i holds data[i];
 * returns XVA_OK. */
static inline int
xt_archive (struct xva_value *root, unsigned char **data,
            const uint64_t *sizes, unsigned n, struct buf *out)
{
  struct xva_meta *m = NULL;
  struct xva_writer_disk d[64];
  struct xva_writer_opts wo;
  struct xva_writer *w;
  int fds[64], st;
  char *xml = NULL, err[256];
  size_t len;
  unsigned i, k;

  if (xva_value_to_xml (root, &xml, &len) != XVA_OK)
    return XVA_ENOMEM;
  st = xva_meta_from_value (root, &m, err, sizeof err);
  if (st != XVA_OK) {
    fprintf (stderr, "meta: %s\n", err);
    free (xml);
    return st;
  }
  /* The writer's disks are the streamed ones; match them to the
   * build's disks by VDI name "disk <i>". */
  for (i = 0; i < xva_meta_ndisks (m); i++) {
    const struct xva_disk *dk = xva_meta_disk (m, i);
    char path[] = "/tmp/xva-xt-XXXXXX";
    unsigned idx = 0;

    if (sscanf (dk->name_label, "disk %u", &idx) != 1 || idx >= n)
      return XVA_EINVAL;
    fds[i] = mkstemp (path);
    unlink (path);
    if (fds[i] < 0
        || write (fds[i], data[idx], (size_t) sizes[idx])
             != (ssize_t) sizes[idx])
      return XVA_EIO;
    d[i].id = dk->id;
    d[i].size = dk->virtual_size;
  }
  xva_writer_opts_init (&wo);
  wo.threads = 2;
  w = xva_writer_new (xml, len, d, xva_meta_ndisks (m), &wo,
                      xva_source_fds (fds, xva_meta_ndisks (m)), &st);
  free (xml);
  if (w == NULL)
    return st;
  for (;;) {
    const void *p;
    size_t l;

    st = xva_writer_next (w, &p, &l);
    if (st < 0) {
      fprintf (stderr, "writer: %s\n", xva_writer_errmsg (w));
      break;
    }
    if (l)
      buf_add (out, p, l);
    if (st == XVA_EOF) {
      st = XVA_OK;
      break;
    }
  }
  xva_writer_free (w);
  for (k = 0; k < xva_meta_ndisks (m); k++)
    close (fds[k]);
  xva_meta_free (m);
  return st;
}

/* The tree of a VM with n disks named "disk <i>" and one VIF. */
static inline struct xva_value *
xt_tree (const char *name, const uint64_t *sizes, unsigned n, unsigned nvifs)
{
  static const char *const names[] = {
    "disk 0", "disk 1", "disk 2", "disk 3",
    "disk 4", "disk 5", "disk 6", "disk 7",
  };
  struct xva_vm_spec spec;
  int st;

  memset (&spec, 0, sizeof spec);
  spec.name = name;
  spec.memory = 256 * MiB;
  spec.vcpus = 1;
  spec.ndisks = n;
  spec.disk_sizes = sizes;
  spec.disk_names = names;
  spec.nvifs = nvifs;
  return xva_meta_build_vm (&spec, &st);
}

/* The snapshot of the first object of class cls in tree root. */
static inline struct xva_value *
xt_object (struct xva_value *root, const char *cls)
{
  struct xva_value *objs = xva_value_get (root, "objects");
  size_t i;

  for (i = 0; i < xva_value_len (objs); i++) {
    struct xva_value *o = xva_value_at (objs, i);
    if (strcmp (xva_value_get_string (o, "class"), cls) == 0)
      return xva_value_get (o, "snapshot");
  }
  return NULL;
}

/* Feeds archive a into a new import in pieces of odd sizes; returns
 * the finish status (or the first failure). */
static inline int
xt_feed (struct Xva_import *im, const unsigned char *a, size_t n)
{
  static const size_t sizes[] = {
    1, 7, 511, 512, 513, 4093, 65537, 1048577, 3
  };
  size_t off = 0, k = 0;
  int st = XVA_OK;

  while (off < n) {
    size_t piece = sizes[k++ % (sizeof sizes / sizeof sizes[0])];
    struct xva_in in;

    if (piece > n - off)
      piece = n - off;
    in.src = a + off;
    in.size = piece;
    in.pos = 0;
    st = Xva_import_feed (im, &in);
    if (st < 0)
      return st;
    off += in.pos;
    if (st == XVA_EOF)
      break;
  }
  return XVA_OK;
}

/* Runs a whole import of archive a; *refs gets the result. */
static inline int
xt_import (struct Xva_store *s, const struct Xva_import_opts *o,
           const unsigned char *a, size_t n, struct xva_value **refs,
           char *code, size_t codelen)
{
  struct Xva_import *im = NULL;
  char err[512];
  int st;

  if (code && codelen)
    code[0] = '\0';
  st = Xva_import_new (s, o, &im, err, sizeof err);
  if (st == XVA_OK)
    st = xt_feed (im, a, n);
  if (st == XVA_OK)
    st = Xva_import_finish (im, refs);
  if (st != XVA_OK && im && code && codelen) {
    const struct xva_value *e = Xva_import_error (im);
    snprintf (code, codelen, "%s",
              e ? xva_value_string (xva_value_at (e, 0)) : "(none)");
    if (getenv ("XT_VERBOSE"))
      fprintf (stderr, "import: %s: %s\n", code, Xva_import_errmsg (im));
  }
  Xva_import_free (im);
  return st;
}

/* The whole output of an export. */
static inline int
xt_drain (struct Xva_export *e, struct buf *out)
{
  struct xva_writer *w = Xva_export_writer (e);
  int st;

  for (;;) {
    const void *p;
    size_t l;

    st = xva_writer_next (w, &p, &l);
    if (st < 0) {
      fprintf (stderr, "export writer: %s\n", xva_writer_errmsg (w));
      return st;
    }
    if (l)
      buf_add (out, p, l);
    if (st == XVA_EOF)
      return XVA_OK;
  }
}

static inline size_t
xt_count (struct Xva_store *s, const char *cls)
{
  size_t n = 0;

  if (Xva_store_count (s, NULL, cls, &n) != XVA_OK)
    return (size_t) -1;
  return n;
}

/* Entries in directory path (not . and ..), or -1; *staging counts
 * those named .import-*. */
static inline int
xt_entries (const char *path, int *staging)
{
  DIR *d = opendir (path);
  struct dirent *de;
  int n = 0;

  if (staging)
    *staging = 0;
  if (d == NULL)
    return -1;
  while ((de = readdir (d)) != NULL) {
    if (strcmp (de->d_name, ".") == 0 || strcmp (de->d_name, "..") == 0)
      continue;
    n++;
    if (staging && strncmp (de->d_name, ".import-", 8) == 0)
      (*staging)++;
  }
  closedir (d);
  return n;
}

/* The default SR's directory. */
static inline void
xt_sr_dir (struct Xva_store *s, char *path, size_t len, char *uuid_out)
{
  char ref[XVA_STORE_REF_MAX + 1];
  struct xva_value *sr = NULL;

  if (Xva_store_default_sr (s, NULL, ref) != XVA_OK
      || Xva_store_get (s, NULL, ref, NULL, &sr) != XVA_OK) {
    fprintf (stderr, "no default SR\n");
    exit (1);
  }
  Xva_store_sr_dir (s, xva_value_get_string (sr, "uuid"), path, len);
  if (uuid_out)
    snprintf (uuid_out, XVA_STORE_UUID_LEN + 1, "%s",
              xva_value_get_string (sr, "uuid"));
  xva_value_free (sr);
}

/* 1 if the image of VDI ref holds exactly data[0..size). */
static inline int
xt_image_is (struct Xva_store *s, const char *vdi_ref,
             const unsigned char *data, uint64_t size)
{
  struct xva_value *vdi = NULL, *sr = NULL;
  char path[4096];
  unsigned char *got = NULL;
  int fd = -1, ok = 0;
  struct stat st;

  if (Xva_store_get (s, NULL, vdi_ref, NULL, &vdi) != XVA_OK
      || Xva_store_get (s, NULL, xva_value_get_string (vdi, "SR"), NULL, &sr)
           != XVA_OK
      || Xva_store_vdi_path (s, xva_value_get_string (sr, "uuid"),
                             xva_value_get_string (vdi, "location"), path,
                             sizeof path)
           != XVA_OK)
    goto out;
  fd = open (path, O_RDONLY);
  if (fd < 0 || fstat (fd, &st) != 0 || (uint64_t) st.st_size != size)
    goto out;
  got = malloc (size ? (size_t) size : 1);
  if (got == NULL || pread (fd, got, (size_t) size, 0) != (ssize_t) size)
    goto out;
  ok = memcmp (got, data, (size_t) size) == 0;
out:
  if (fd >= 0)
    close (fd);
  free (got);
  xva_value_free (vdi);
  xva_value_free (sr);
  return ok;
}

/* The record of ref (a new tree), or NULL. */
static inline struct xva_value *
xt_get (struct Xva_store *s, const char *ref)
{
  struct xva_value *v = NULL;

  if (ref == NULL || Xva_store_get (s, NULL, ref, NULL, &v) != XVA_OK)
    return NULL;
  return v;
}

static inline int64_t
xt_int (const struct xva_value *rec, const char *key)
{
  int64_t i = -999;

  xva_value_get_int (xva_value_get (rec, key), &i);
  return i;
}

static inline int
xt_bool (const struct xva_value *rec, const char *key)
{
  int b = -1;

  xva_value_get_bool (xva_value_get (rec, key), &b);
  return b;
}

static inline const char *
xt_str (const struct xva_value *rec, const char *key)
{
  const char *v = xva_value_get_string (rec, key);
  return v ? v : "";
}

#endif
