/* libFuzzer: the archive reader.  The whole input is an archive (plain,
 * gzip or zstd).  It is fed to xva_reader_feed in pieces of random
 * sizes, then at once, with options (force, XVA_READ_FULL / METADATA /
 * ANY) drawn from a hash of the input.  The sink checks that every
 * pwrite stays inside its disk's virtual_size and that begin comes
 * first; both runs must agree on success and on what was written.
 * Never a crash, a leak, a hang, or a success after an error. */
#include <stdint.h>
#include <string.h>

#include <xva/xva.h>

#include "fuzz.h"

struct sink {
  const struct xva_meta *m;
  unsigned ndisks;
  int begun;
  int frees;
  uint64_t digest; /* of every write: disk, offset, bytes */
  uint64_t written;
};

static int
sink_begin (void *opaque, const struct xva_meta *m)
{
  struct sink *s = opaque;
  unsigned i;

  FUZZ_CHECK (s->begun == 0 && m != NULL);
  s->begun = 1;
  s->m = m;
  s->ndisks = xva_meta_ndisks (m);
  for (i = 0; i < s->ndisks; i++)
    FUZZ_CHECK (xva_meta_disk (m, i) != NULL);
  return 0;
}

static int
sink_pwrite (void *opaque, unsigned disk, const void *buf, size_t n,
             uint64_t off)
{
  struct sink *s = opaque;
  const struct xva_disk *d;

  FUZZ_CHECK (s->begun);
  FUZZ_CHECK (disk < s->ndisks);
  d = xva_meta_disk (s->m, disk);
  FUZZ_CHECK (n > 0);
  FUZZ_CHECK (off <= d->virtual_size && n <= d->virtual_size - off);
  s->digest = fuzz_hash (s->digest, &disk, sizeof disk);
  s->digest = fuzz_hash (s->digest, &off, sizeof off);
  s->digest = fuzz_hash (s->digest, buf, n); /* reads all of buf */
  s->written += n;
  return 0;
}

static void
sink_notice (void *opaque, int status, const char *msg)
{
  (void) opaque;
  FUZZ_CHECK (status == XVA_OK || status == XVA_ECHECKSUM);
  FUZZ_CHECK (msg != NULL && strlen (msg) < 4096);
}

static void
sink_free (void *opaque)
{
  struct sink *s = opaque;
  s->frees++;
}

struct result {
  int ok; /* feed reached XVA_EOF or finish said XVA_OK */
  int status;
  uint64_t digest;
  uint64_t written;
  size_t used;  /* input bytes taken */
  int compress; /* detected */
};

/* Reads data[0..size) in pieces drawn from *rng (NULL: all at once). */
static void
run (const uint8_t *data, size_t size, int force, int mode, uint64_t *rng,
     struct result *res)
{
  struct xva_reader_opts o;
  struct xva_sink_io io;
  struct xva_reader_stats st;
  struct xva_reader *r;
  struct sink s;
  size_t pos = 0;
  int status = 0, rc = XVA_OK;

  memset (&s, 0, sizeof s);
  s.digest = FUZZ_HASH_INIT;
  memset (&io, 0, sizeof io);
  io.begin = sink_begin;
  io.pwrite = sink_pwrite;
  io.notice = sink_notice;
  io.free = sink_free;
  io.opaque = &s;
  xva_reader_opts_init (&o);
  o.force = force;
  o.mode = mode;
  o.threads = 1;
  /* Small bounds keep each run fast; the checks are the same. */
  o.limits.max_bytes = (size_t) 1 << 20;
  o.max_chunk = (uint64_t) 2 << 20;
  o.max_disks = 64;
  r = xva_reader_new (&o, io, &status);
  FUZZ_CHECK (r != NULL && status == XVA_OK);

  while (pos < size) {
    struct xva_in in;
    size_t n = size - pos;

    if (rng) {
      uint64_t x = fuzz_rng (rng);
      size_t lim = (x & 3) == 0   ? 16
                   : (x & 3) == 1 ? 600
                   : (x & 3) == 2 ? 70000
                                  : size;
      n = 1 + (size_t) ((x >> 8) % lim);
      if (n > size - pos)
        n = size - pos;
    }
    in.src = data + pos;
    in.size = n;
    in.pos = 0;
    rc = xva_reader_feed (r, &in);
    FUZZ_CHECK (in.pos <= in.size);
    pos += in.pos;
    if (rc == XVA_OK)
      FUZZ_CHECK (in.pos == in.size);
    else
      break;
  }
  res->used = pos;
  if (rc == XVA_EOF) {
    struct xva_in more = { data, size, 0 };
    /* Done stays done. */
    FUZZ_CHECK (xva_reader_feed (r, &more) == XVA_EOF && more.pos == 0);
    rc = xva_reader_finish (r);
    FUZZ_CHECK (rc == XVA_OK);
  }
  else if (rc == XVA_OK)
    rc = xva_reader_finish (r);
  else {
    struct xva_in more = { data, size, 0 };
    FUZZ_CHECK (rc < 0);
    /* An error poisons the handle. */
    FUZZ_CHECK (xva_reader_feed (r, &more) == rc);
    FUZZ_CHECK (xva_reader_finish (r) == rc);
  }
  xva_reader_stats (r, &st);
  if (rc == XVA_OK) {
    FUZZ_CHECK (st.complete);
    FUZZ_CHECK (s.begun);
    FUZZ_CHECK (xva_reader_meta (r) != NULL);
    if (mode == XVA_READ_METADATA)
      FUZZ_CHECK (st.metadata_only && s.written == 0);
    if (!force)
      FUZZ_CHECK (st.mismatches == 0);
  }
  else {
    const char *msg = xva_reader_errmsg (r);
    FUZZ_CHECK (rc < 0);
    FUZZ_CHECK (msg != NULL && strncmp (msg, "xva_reader: ", 12) == 0
                && msg[12] != '\0');
  }
  /* Every byte taken is counted (after an error the count may stop
   * short of what the failing call took). */
  if (rc == XVA_OK)
    FUZZ_CHECK (st.bytes_in == res->used);
  res->compress = st.compress;
  res->ok = rc == XVA_OK;
  res->status = rc;
  res->digest = s.digest;
  res->written = s.written;
  xva_reader_free (r);
  FUZZ_CHECK (s.frees == 1);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  uint64_t h = fuzz_hash (FUZZ_HASH_INIT, data, size);
  uint64_t rng = h;
  int force = (int) (h & 1);
  int mode = (int) ((h >> 1) % 3);
  struct result a, b;

  run (data, size, force, mode, &rng, &a);
  run (data, size, force, mode, NULL, &b);
  if (a.ok != b.ok
      || (a.ok
          && (a.digest != b.digest || a.written != b.written
              || (a.compress == XVA_COMPRESS_NONE && a.used != b.used)))) {
    fprintf (stderr,
             "pieces: ok %d (%s) written %llu used %zu; at once: "
             "ok %d (%s) written %llu used %zu\n",
             a.ok, xva_status_name (a.status), (unsigned long long) a.written,
             a.used, b.ok, xva_status_name (b.status),
             (unsigned long long) b.written, b.used);
    abort ();
  }
  return 0;
}
