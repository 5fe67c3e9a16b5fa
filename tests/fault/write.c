/* Fault injection while writing an archive: for every N from 1 to the
 * number of allocations and reads a successful run makes, the Nth one
 * fails.  Sources: memory and files (xva_source_fds, with a hole);
 * no compression, gzip (also on two threads) and zstd.  Each run must
 * end in XVA_ENOMEM or XVA_EIO with a message, or succeed with an
 * archive that reads back exactly; LeakSanitizer checks every run. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <xva/xva.h>

#include "common.h"
#include "harness.h"
#include "wrap.h"

struct config {
  int files;
  int compress;
  int checksum;
  unsigned threads;
};

static const struct config configs[] = {
  { 0, XVA_COMPRESS_NONE, XVA_CHECKSUM_XXHASH, 1 },
  { 1, XVA_COMPRESS_NONE, XVA_CHECKSUM_SHA1, 1 },
  { 0, XVA_COMPRESS_GZIP, XVA_CHECKSUM_SHA1, 1 },
  { 1, XVA_COMPRESS_GZIP, XVA_CHECKSUM_XXHASH, 1 },
  { 0, XVA_COMPRESS_GZIP, XVA_CHECKSUM_XXHASH, 2 },
  { 0, XVA_COMPRESS_ZSTD, XVA_CHECKSUM_XXHASH, 1 },
  { 1, XVA_COMPRESS_ZSTD, XVA_CHECKSUM_SHA1, 1 },
};

static unsigned long injected, survived, tolerated;

/* Disk files with holes where the disk is zero. */
static int
make_files (const struct fault_disks *d, int *fds)
{
  unsigned i;

  for (i = 0; i < FAULT_NDISKS; i++) {
    char path[] = "/tmp/xva-fault-XXXXXX";

    fds[i] = mkstemp (path);
    if (fds[i] == -1)
      return -1;
    unlink (path);
    if (ftruncate (fds[i], (off_t) d->size[i]) == -1
        || xva_pwrite_sparse (fds[i], d->data[i], d->size[i], 0) == -1)
      return -1;
  }
  return 0;
}

static int
write_once (struct fault_disks *d, const int *fds, const char *xml,
            size_t xlen, const struct xva_writer_disk *wd,
            const struct config *c, struct fault_buf *out, char *msg,
            size_t msglen)
{
  struct xva_source_io io;

  if (c->files) {
    io = xva_source_fds (fds, FAULT_NDISKS);
    if (!io.pread) {
      snprintf (msg, msglen, "xva_source_fds: out of memory");
      return XVA_ENOMEM;
    }
  }
  else
    io = fault_mem_source (d);
  return fault_write (d, xml, xlen, wd, c->checksum, c->compress, c->threads,
                      io, out, msg, msglen);
}

static void
run_config (struct fault_disks *d, const int *fds, const char *xml,
            size_t xlen, const struct xva_writer_disk *wd,
            const struct config *c)
{
  struct fault_buf out = { NULL, 0, 0 };
  unsigned long calls, n;
  char msg[1024];
  int rc;

  fault_arm (0);
  rc = write_once (d, fds, xml, xlen, wd, c, &out, msg, sizeof msg);
  calls = fault_disarm ();
  CHECK_MSG (rc == XVA_EOF, msg);
  CHECK (fault_read_back (out.p, out.len, d));
  fprintf (stderr, "write %s %s %s, %u thread(s): %lu calls\n",
           c->files ? "files" : "memory", xva_compress_name (c->compress),
           xva_checksum_name (c->checksum), c->threads, calls);

  for (n = 1; n <= calls; n++) {
    enum fault_kind kind;
    int before = harness_failures;

    fault_arm (n);
    rc = write_once (d, fds, xml, xlen, wd, c, &out, msg, sizeof msg);
    fault_disarm ();
    kind = fault_fired ();
    if (kind == FAULT_NONE) {
      /* With threads the calls may come in another order. */
      CHECK_MSG (rc == XVA_EOF, msg);
      CHECK (rc != XVA_EOF || fault_read_back (out.p, out.len, d));
    }
    else {
      injected++;
      if (rc == XVA_EOF) {
        /* Tolerated: the archive must then be whole. */
        tolerated++;
        CHECK (fault_read_back (out.p, out.len, d));
      }
      else {
        if (rc != fault_expected_status (kind))
          fprintf (stderr, "fault %lu (kind %d): %s: %s\n", n, (int) kind,
                   xva_status_name (rc), msg);
        CHECK (rc == fault_expected_status (kind));
        CHECK_MSG (fault_msg_ok (msg, "xva_writer")
                     || fault_msg_ok (msg, "xva_writer_new")
                     || fault_msg_ok (msg, "xva_source_fds"),
                   msg);
      }
    }
    if (fault_leak_each () && fault_leak_check ()) {
      fprintf (stderr, "leak after fault %lu\n", n);
      CHECK_MSG (0, "leak");
    }
    if (kind != FAULT_NONE && harness_failures == before)
      survived++;
  }
  free (out.p);
  if (fault_leak_check ()) {
    fprintf (stderr,
             "%s: leak in this series (set FAULT_LEAK_EACH=1 to "
             "find the fault)\n",
             "write");
    CHECK_MSG (0, "leak");
  }
}

int
main (void)
{
  struct xva_writer_disk wd[FAULT_NDISKS];
  struct fault_disks d;
  struct xva_meta *meta = NULL;
  int fds[FAULT_NDISKS];
  size_t xlen = 0, i;
  char *xml;

  fault_disks_make (&d);
  memset (wd, 0, sizeof wd);
  xml = fault_meta (&d, &meta, &xlen, wd);
  if (!xml || make_files (&d, fds) == -1) {
    fprintf (stderr, "setup failed\n");
    return 1;
  }
  for (i = 0; i < sizeof configs / sizeof configs[0]; i++)
    run_config (&d, fds, xml, xlen, wd, &configs[i]);
  printf (
    "write: %lu faults injected, %lu survived (%lu of them "
    "tolerated with a whole archive)\n",
    injected, survived, tolerated);
  CHECK (injected > 0);
  for (i = 0; i < FAULT_NDISKS; i++)
    close (fds[i]);
  free (xml);
  xva_meta_free (meta);
  fault_disks_free (&d);
  HARNESS_DONE ();
}
