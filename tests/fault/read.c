/* Fault injection while reading an archive into sparse files
 * (xva_pwrite_sparse): for every N from 1 to the number of allocations
 * and writes a successful run makes, the Nth one fails.  Archives: no
 * compression, gzip and zstd, with xxhash and SHA-1 checksums, fed at
 * once or in pieces.  Each run must end in XVA_ENOMEM or XVA_ENOSPC with
 * a message, or report success only with every disk file exactly
 * right; LeakSanitizer checks every run. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <xva/xva.h>

#include "common.h"
#include "harness.h"
#include "wrap.h"

struct config {
  int compress;
  int checksum;
  size_t piece; /* 0: all at once */
};

static const struct config configs[] = {
  { XVA_COMPRESS_NONE, XVA_CHECKSUM_XXHASH, 0 },
  { XVA_COMPRESS_NONE, XVA_CHECKSUM_SHA1, 4099 },
  { XVA_COMPRESS_GZIP, XVA_CHECKSUM_XXHASH, 513 },
  { XVA_COMPRESS_GZIP, XVA_CHECKSUM_SHA1, 0 },
  { XVA_COMPRESS_ZSTD, XVA_CHECKSUM_XXHASH, 0 },
  { XVA_COMPRESS_ZSTD, XVA_CHECKSUM_SHA1, 70001 },
};

static unsigned long injected, survived;

/* Disk files, indexed by userdevice. */
struct files {
  int fd[FAULT_NDISKS];
  unsigned map[FAULT_NDISKS]; /* reader disk -> userdevice */
  const struct fault_disks *d;
};

static int
file_begin (void *opaque, const struct xva_meta *m)
{
  struct files *f = opaque;
  unsigned k;

  if (xva_meta_ndisks (m) != FAULT_NDISKS)
    abort ();
  for (k = 0; k < FAULT_NDISKS; k++) {
    unsigned long i = strtoul (xva_meta_disk (m, k)->userdevice, NULL, 10);
    if (i >= FAULT_NDISKS)
      abort ();
    f->map[k] = (unsigned) i;
  }
  return 0;
}

static int
file_pwrite (void *opaque, unsigned disk, const void *buf, size_t n,
             uint64_t off)
{
  struct files *f = opaque;
  unsigned i;

  if (disk >= FAULT_NDISKS)
    abort ();
  i = f->map[disk];
  if (off > f->d->size[i] || n > f->d->size[i] - off)
    abort ();
  return xva_pwrite_sparse (f->fd[i], buf, n, off);
}

/* Empties the files (a new sparse file each time). */
static void
reset_files (struct files *f)
{
  unsigned i;

  for (i = 0; i < FAULT_NDISKS; i++)
    if (ftruncate (f->fd[i], 0) == -1
        || ftruncate (f->fd[i], (off_t) f->d->size[i]) == -1)
      abort ();
}

/* 1 when the files hold exactly the disks. */
static int
files_equal (const struct files *f)
{
  static unsigned char buf[2 << 20];
  unsigned i;

  for (i = 0; i < FAULT_NDISKS; i++) {
    size_t n = (size_t) f->d->size[i];
    if (n > sizeof buf || __real_pread (f->fd[i], buf, n, 0) != (ssize_t) n
        || memcmp (buf, f->d->data[i], n) != 0)
      return 0;
  }
  return 1;
}

static int
read_once (const struct fault_buf *a, const struct config *c, struct files *f,
           char *msg, size_t msglen)
{
  struct xva_sink_io io;
  struct xva_reader *r;
  size_t pos = 0;
  int status = 0, rc = XVA_OK;

  memset (&io, 0, sizeof io);
  io.begin = file_begin;
  io.pwrite = file_pwrite;
  io.opaque = f;
  msg[0] = '\0';
  r = xva_reader_new (NULL, io, &status);
  if (!r) {
    snprintf (msg, msglen, "xva_reader_new: %s", xva_strerror (status));
    return status;
  }
  while (pos < a->len) {
    size_t n = c->piece ? c->piece : a->len;
    struct xva_in in;

    if (n > a->len - pos)
      n = a->len - pos;
    in.src = a->p + pos;
    in.size = n;
    in.pos = 0;
    rc = xva_reader_feed (r, &in);
    pos += in.pos;
    if (rc != XVA_OK)
      break;
  }
  if (rc >= 0)
    rc = xva_reader_finish (r);
  snprintf (msg, msglen, "%s", xva_reader_errmsg (r));
  xva_reader_free (r);
  return rc;
}

static void
run_config (struct fault_disks *d, const char *xml, size_t xlen,
            const struct xva_writer_disk *wd, struct files *f,
            const struct config *c)
{
  struct fault_buf a = { NULL, 0, 0 };
  unsigned long calls, n;
  char msg[1024];
  int rc;

  rc = fault_write (d, xml, xlen, wd, c->checksum, c->compress, 1,
                    fault_mem_source (d), &a, msg, sizeof msg);
  CHECK_MSG (rc == XVA_EOF, msg);
  if (rc != XVA_EOF)
    return;

  reset_files (f);
  fault_arm (0);
  rc = read_once (&a, c, f, msg, sizeof msg);
  calls = fault_disarm ();
  CHECK_MSG (rc == XVA_OK, msg);
  CHECK (files_equal (f));
  fprintf (stderr, "read %s %s, pieces of %zu: %lu calls\n",
           xva_compress_name (c->compress), xva_checksum_name (c->checksum),
           c->piece, calls);

  for (n = 1; n <= calls; n++) {
    enum fault_kind kind;
    int before = harness_failures;

    reset_files (f);
    fault_arm (n);
    rc = read_once (&a, c, f, msg, sizeof msg);
    fault_disarm ();
    kind = fault_fired ();
    if (rc == XVA_OK) {
      /* Success only with every byte in place. */
      if (!files_equal (f))
        fprintf (stderr,
                 "fault %lu (kind %d): success but the disks "
                 "differ\n",
                 n, (int) kind);
      CHECK (files_equal (f));
    }
    else {
      if (kind == FAULT_NONE || rc != fault_expected_status (kind))
        fprintf (stderr, "fault %lu (kind %d): %s: %s\n", n, (int) kind,
                 xva_status_name (rc), msg);
      CHECK (kind != FAULT_NONE);
      CHECK (rc == fault_expected_status (kind));
      CHECK_MSG (fault_msg_ok (msg, "xva_reader")
                   || fault_msg_ok (msg, "xva_reader_new"),
                 msg);
    }
    if (fault_leak_each () && fault_leak_check ()) {
      fprintf (stderr, "leak after fault %lu\n", n);
      CHECK_MSG (0, "leak");
    }
    if (kind != FAULT_NONE) {
      injected++;
      if (harness_failures == before)
        survived++;
    }
  }
  free (a.p);
  if (fault_leak_check ()) {
    fprintf (stderr,
             "%s: leak in this series (set FAULT_LEAK_EACH=1 to "
             "find the fault)\n",
             "read");
    CHECK_MSG (0, "leak");
  }
}

int
main (void)
{
  struct xva_writer_disk wd[FAULT_NDISKS];
  struct fault_disks d;
  struct xva_meta *meta = NULL;
  struct files f;
  size_t xlen = 0, i;
  char *xml;

  fault_disks_make (&d);
  memset (wd, 0, sizeof wd);
  xml = fault_meta (&d, &meta, &xlen, wd);
  if (!xml) {
    fprintf (stderr, "setup failed\n");
    return 1;
  }
  memset (&f, 0, sizeof f);
  f.d = &d;
  for (i = 0; i < FAULT_NDISKS; i++) {
    char path[] = "/tmp/xva-fault-XXXXXX";
    f.fd[i] = mkstemp (path);
    if (f.fd[i] == -1)
      return 1;
    unlink (path);
  }
  for (i = 0; i < sizeof configs / sizeof configs[0]; i++)
    run_config (&d, xml, xlen, wd, &f, &configs[i]);
  printf ("read: %lu faults injected, %lu survived\n", injected, survived);
  CHECK (injected > 0);
  for (i = 0; i < FAULT_NDISKS; i++)
    close (f.fd[i]);
  free (xml);
  xva_meta_free (meta);
  fault_disks_free (&d);
  HARNESS_DONE ();
}
