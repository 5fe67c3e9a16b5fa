/* Regression: a first disk shorter than a chunk misplaced the data of
 * the disks after it.
 *
 * Readers (xapi's among them) step over the chunks an archive skips by
 * the length of the stream's first chunk, not by 1 MiB.  When the first
 * disk was 4 KiB, the writer still skipped the zero chunks of a later
 * disk, and a reader put that disk's data at 4 KiB steps instead of
 * 1 MiB ones (found by tests/fuzz/roundtrip.c, which packs random disks
 * and reads them back).  The writer now skips nothing when the stream's
 * first chunk is short.
 *
 * A VM with a 4 KiB disk and a 6 MiB disk whose middle chunks are zero
 * is packed and read back; both disks must come back exactly and every
 * chunk of the second disk must be in the archive. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xva/xva.h>

#include "harness.h"

#define MIB ((uint64_t) 1 << 20)
#define SMALL 4096
#define BIG (6 * MIB)

static unsigned char *disk[2];
static const uint64_t size[2] = { SMALL, BIG };

static int
src_pread (void *opaque, unsigned d, void *buf, size_t n, uint64_t off)
{
  (void) opaque;
  memcpy (buf, disk[d] + off, n);
  return 0;
}

struct sink {
  unsigned char *got[2];
  int bad;
};

static int
sink_pwrite (void *opaque, unsigned d, const void *buf, size_t n, uint64_t off)
{
  struct sink *s = opaque;

  if (d > 1 || off > BIG || n > BIG - off)
    s->bad = 1;
  else
    memcpy (s->got[d] + off, buf, n);
  return 0;
}

int
main (void)
{
  struct xva_vm_spec spec;
  struct xva_value *root;
  struct xva_meta *meta = NULL;
  struct xva_writer_disk wd[2];
  struct xva_writer_opts wo;
  struct xva_source_io io;
  struct xva_reader_opts ro;
  struct xva_reader_stats rs;
  struct xva_sink_io so;
  struct xva_writer *w;
  struct xva_reader *r;
  struct sink s;
  char *xml = NULL;
  size_t len = 0;
  unsigned k;
  int st = 0;

  disk[0] = calloc (1, SMALL);
  disk[1] = calloc (1, BIG);
  s.got[0] = calloc (1, BIG);
  s.got[1] = calloc (1, BIG);
  s.bad = 0;
  if (!disk[0] || !disk[1] || !s.got[0] || !s.got[1])
    return 99;
  disk[0][7] = 1;
  /* Data in the first, third and last chunks; zeros in between. */
  memset (disk[1] + 100, 0xa5, 5000);
  memset (disk[1] + 2 * MIB + 12345, 0x5a, 3000);
  memset (disk[1] + BIG - 512, 0x33, 512);

  memset (&spec, 0, sizeof spec);
  spec.name = "short first disk";
  spec.memory = 256 * MIB;
  spec.vcpus = 1;
  spec.ndisks = 2;
  spec.disk_sizes = size;
  root = xva_meta_build_vm (&spec, &st);
  CHECK (root != NULL);
  CHECK (xva_value_to_xml (root, &xml, &len) == XVA_OK);
  CHECK (xva_meta_from_value (root, &meta, NULL, 0) == XVA_OK);
  for (k = 0; k < 2; k++) {
    const struct xva_disk *dk = xva_meta_disk (meta, k);
    unsigned i = (unsigned) strtoul (dk->userdevice, NULL, 10);

    wd[i].id = dk->id;
    wd[i].size = dk->virtual_size;
  }

  xva_writer_opts_init (&wo);
  memset (&io, 0, sizeof io);
  io.pread = src_pread;
  w = xva_writer_new (xml, len, wd, 2, &wo, io, &st);
  CHECK (w != NULL);

  xva_reader_opts_init (&ro);
  ro.require_end = 1;
  memset (&so, 0, sizeof so);
  so.pwrite = sink_pwrite;
  so.opaque = &s;
  r = xva_reader_new (&ro, so, &st);
  CHECK (r != NULL);

  while (w != NULL && r != NULL) {
    const void *p;
    size_t n;
    struct xva_in in;

    st = xva_writer_next (w, &p, &n);
    if (st != XVA_OK)
      break;
    in.src = p;
    in.size = n;
    in.pos = 0;
    st = xva_reader_feed (r, &in);
    if (st != XVA_OK)
      break;
  }
  CHECK_MSG (st == XVA_EOF, "the writer and the reader both reach the end");
  if (r != NULL) {
    CHECK (xva_reader_finish (r) == XVA_OK);
    xva_reader_stats (r, &rs);
    /* One chunk of the small disk, all six of the big one. */
    CHECK_MSG (rs.chunks == 1 + 6, "no chunk skipped after a short first");
  }
  CHECK (!s.bad);
  /* The reader numbers disks in its own ova.xml order; compare each
   * image with the disk of the same size. */
  for (k = 0; r != NULL && k < 2; k++) {
    const struct xva_disk *dk = xva_meta_disk (xva_reader_meta (r), k);
    unsigned i = dk->virtual_size == SMALL ? 0 : 1;

    CHECK_MSG (memcmp (s.got[k], disk[i], (size_t) size[i]) == 0,
               "every disk comes back in place");
  }

  xva_reader_free (r);
  xva_writer_free (w);
  xva_meta_free (meta);
  free (xml);
  free (disk[0]);
  free (disk[1]);
  free (s.got[0]);
  free (s.got[1]);
  HARNESS_DONE ();
}
