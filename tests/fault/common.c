/* Shared parts of the fault-injection tests (common.h). */
#include "common.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wrap.h"

#define MIB ((uint64_t) 1 << 20)

void
fault_disks_make (struct fault_disks *d)
{
  uint64_t x = 0x243F6A8885A308D3u;
  unsigned i;
  size_t j;

  d->size[0] = MIB + MIB / 2;
  d->size[1] = 5000;
  d->size[2] = 0;
  for (i = 0; i < FAULT_NDISKS; i++) {
    d->data[i] = __real_calloc (1, d->size[i] ? d->size[i] : 1);
    if (!d->data[i])
      abort ();
  }
  /* Disk 0: data in [4 KiB, 8 KiB) and in the second chunk; the rest of
   * the first chunk is a hole. */
  for (j = 4096; j < d->size[0]; j++) {
    if (j == 8192)
      j = MIB;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    d->data[0][j] = (unsigned char) (x | 1);
  }
  for (j = 0; j < d->size[1]; j++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    d->data[1][j] = (unsigned char) x;
  }
}

void
fault_disks_free (struct fault_disks *d)
{
  unsigned i;

  for (i = 0; i < FAULT_NDISKS; i++)
    free (d->data[i]);
}

char *
fault_meta (const struct fault_disks *d, struct xva_meta **meta, size_t *len,
            struct xva_writer_disk *wd)
{
  struct xva_vm_spec spec;
  struct xva_value *root;
  char *xml = NULL;
  unsigned k;
  int status = 0;

  memset (&spec, 0, sizeof spec);
  spec.name = "fault injection";
  spec.memory = 256 * MIB;
  spec.vcpus = 1;
  spec.ndisks = FAULT_NDISKS;
  spec.disk_sizes = d->size;
  root = xva_meta_build_vm (&spec, &status);
  if (!root)
    return NULL;
  if (xva_value_to_xml (root, &xml, len) != XVA_OK) {
    xva_value_free (root);
    return NULL;
  }
  if (xva_meta_from_value (root, meta, NULL, 0) != XVA_OK) {
    free (xml);
    return NULL;
  }
  for (k = 0; k < xva_meta_ndisks (*meta); k++) {
    const struct xva_disk *dk = xva_meta_disk (*meta, k);
    unsigned long i = strtoul (dk->userdevice, NULL, 10);
    if (i >= FAULT_NDISKS)
      abort ();
    wd[i].id = dk->id;
    wd[i].size = dk->virtual_size;
  }
  return xml;
}

void
fault_buf_add (struct fault_buf *b, const void *p, size_t n)
{
  if (b->len + n > b->cap) {
    size_t cap = b->cap ? b->cap : 65536;
    while (cap < b->len + n)
      cap *= 2;
    b->p = __real_realloc (b->p, cap);
    if (!b->p)
      abort ();
    b->cap = cap;
  }
  if (n)
    memcpy (b->p + b->len, p, n);
  b->len += n;
}

static int
mem_pread (void *opaque, unsigned disk, void *buf, size_t n, uint64_t off)
{
  struct fault_disks *d = opaque;

  if (disk >= FAULT_NDISKS || off > d->size[disk] || n > d->size[disk] - off) {
    errno = EINVAL;
    return -1;
  }
  memcpy (buf, d->data[disk] + off, n);
  return 0;
}

struct xva_source_io
fault_mem_source (struct fault_disks *d)
{
  struct xva_source_io io;

  memset (&io, 0, sizeof io);
  io.pread = mem_pread;
  io.opaque = d;
  return io;
}

int
fault_write (struct fault_disks *d, const char *xml, size_t xlen,
             const struct xva_writer_disk *wd, int checksum, int compress,
             unsigned threads, struct xva_source_io io, struct fault_buf *out,
             char *msg, size_t msglen)
{
  struct xva_writer_opts wo;
  struct xva_writer *w;
  unsigned char tmp[100000];
  int status = 0, rc;

  (void) d;
  xva_writer_opts_init (&wo);
  wo.checksum = checksum;
  wo.compress = compress;
  wo.threads = threads;
  wo.keepalive_ms = UINT32_MAX;
  wo.mtime = 0;
  msg[0] = '\0';
  w = xva_writer_new (xml, xlen, wd, FAULT_NDISKS, &wo, io, &status);
  if (!w) {
    snprintf (msg, msglen, "xva_writer_new: %s", xva_strerror (status));
    return status;
  }
  out->len = 0;
  for (;;) {
    struct xva_out o = { tmp, sizeof tmp, 0 };

    rc = xva_writer_step (w, &o);
    fault_buf_add (out, tmp, o.pos);
    if (rc != XVA_OK)
      break;
  }
  snprintf (msg, msglen, "%s", xva_writer_errmsg (w));
  xva_writer_free (w);
  return rc;
}

struct mem_sink {
  const struct fault_disks *d;
  unsigned char *data[FAULT_NDISKS];
  unsigned map[FAULT_NDISKS];
  int bad;
};

static int
mem_begin (void *opaque, const struct xva_meta *m)
{
  struct mem_sink *s = opaque;
  unsigned k;

  if (xva_meta_ndisks (m) != FAULT_NDISKS) {
    s->bad = 1;
    return 0;
  }
  for (k = 0; k < FAULT_NDISKS; k++) {
    unsigned long i = strtoul (xva_meta_disk (m, k)->userdevice, NULL, 10);
    if (i >= FAULT_NDISKS)
      s->bad = 1;
    else
      s->map[k] = (unsigned) i;
  }
  return 0;
}

static int
mem_pwrite (void *opaque, unsigned disk, const void *buf, size_t n,
            uint64_t off)
{
  struct mem_sink *s = opaque;
  unsigned i;

  if (disk >= FAULT_NDISKS) {
    s->bad = 1;
    return 0;
  }
  i = s->map[disk];
  if (off > s->d->size[i] || n > s->d->size[i] - off) {
    s->bad = 1;
    return 0;
  }
  memcpy (s->data[i] + off, buf, n);
  return 0;
}

int
fault_read_back (const unsigned char *a, size_t len,
                 const struct fault_disks *d)
{
  struct xva_sink_io io;
  struct xva_reader *r;
  struct mem_sink s;
  struct xva_in in = { a, len, 0 };
  unsigned i;
  int status = 0, rc, ok = 0;

  memset (&s, 0, sizeof s);
  s.d = d;
  for (i = 0; i < FAULT_NDISKS; i++) {
    s.data[i] = __real_calloc (1, d->size[i] ? d->size[i] : 1);
    if (!s.data[i])
      abort ();
  }
  memset (&io, 0, sizeof io);
  io.begin = mem_begin;
  io.pwrite = mem_pwrite;
  io.opaque = &s;
  r = xva_reader_new (NULL, io, &status);
  if (r) {
    rc = xva_reader_feed (r, &in);
    if (rc == XVA_OK || rc == XVA_EOF)
      rc = xva_reader_finish (r);
    if (rc != XVA_OK)
      fprintf (stderr, "read back: %s\n", xva_reader_errmsg (r));
    ok = rc == XVA_OK && !s.bad;
    for (i = 0; ok && i < FAULT_NDISKS; i++)
      if (d->size[i] && memcmp (s.data[i], d->data[i], d->size[i]) != 0)
        ok = 0;
    xva_reader_free (r);
  }
  for (i = 0; i < FAULT_NDISKS; i++)
    free (s.data[i]);
  return ok;
}

int
fault_msg_ok (const char *msg, const char *api)
{
  size_t n = strlen (api);

  return msg && strncmp (msg, api, n) == 0 && msg[n] == ':'
         && strstr (msg, "no error") == NULL && strlen (msg) > n + 2;
}

int
fault_expected_status (int kind)
{
  switch (kind) {
  case FAULT_ALLOC:
    return XVA_ENOMEM;
  case FAULT_READ:
    return XVA_EIO;
  case FAULT_WRITE:
    return XVA_ENOSPC;
  default:
    return XVA_OK;
  }
}
