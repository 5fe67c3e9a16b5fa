/* Streaming gzip (zlib) and zstd (libzstd). */
#include "format/compress.h"
#include "format/pgzip.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zlib.h>
#include <zstd.h>

struct Xva_zout {
  int kind;
  z_stream gz;
  ZSTD_CCtx *zs;
  struct Xva_pgzip *pgz; /* gzip on several threads */
};

struct Xva_zin {
  int kind;
  z_stream gz;
  ZSTD_DCtx *zs;
  int boundary; /* last call ended a member or frame */
};

/* zlib counts in uInt: feed at most this much per call. */
#define ZCHUNK ((size_t) 1 << 30)

struct Xva_zout *
Xva_zout_new (int kind, int level, unsigned threads, int *status)
{
  struct Xva_zout *z = calloc (1, sizeof *z);

  if (!z) {
    *status = XVA_ENOMEM;
    return NULL;
  }
  z->kind = kind;
  if (threads == 0) {
    long n = sysconf (_SC_NPROCESSORS_ONLN);
    threads = n > 0 ? (unsigned) n : 1;
  }
  if (kind == XVA_COMPRESS_GZIP) {
    if (level <= 0 || level > 9)
      level = level <= 0 ? 1 : 9;
    if (threads > 1) {
      z->pgz = Xva_pgzip_new (level, threads, status);
      if (!z->pgz) {
        free (z);
        return NULL;
      }
      return z;
    }
    if (deflateInit2 (&z->gz, level, Z_DEFLATED, 15 + 16, 8,
                      Z_DEFAULT_STRATEGY)
        != Z_OK)
      goto nomem;
  }
  else if (kind == XVA_COMPRESS_ZSTD) {
    z->zs = ZSTD_createCCtx ();
    if (!z->zs)
      goto nomem;
    if (level <= 0)
      level = 1;
    if (level > ZSTD_maxCLevel ())
      level = ZSTD_maxCLevel ();
    ZSTD_CCtx_setParameter (z->zs, ZSTD_c_compressionLevel, level);
    ZSTD_CCtx_setParameter (z->zs, ZSTD_c_checksumFlag, 1);
    /* Fails harmlessly where libzstd has no threads. */
    if (threads > 1)
      ZSTD_CCtx_setParameter (z->zs, ZSTD_c_nbWorkers, (int) threads);
  }
  else {
    free (z);
    *status = XVA_EINVAL;
    return NULL;
  }
  *status = XVA_OK;
  return z;

nomem:
  ZSTD_freeCCtx (z->zs);
  free (z);
  *status = XVA_ENOMEM;
  return NULL;
}

static int
gz_run (struct Xva_zout *z, struct xva_in *in, struct xva_out *out, int mode)
{
  for (;;) {
    size_t avail_in = in->size - in->pos;
    size_t avail_out = out->size - out->pos;
    int flush, r;
    size_t fin, fout;

    fin = avail_in > ZCHUNK ? ZCHUNK : avail_in;
    fout = avail_out > ZCHUNK ? ZCHUNK : avail_out;
    if (fout == 0)
      return 0;
    flush = Z_NO_FLUSH;
    if (fin == avail_in)
      flush = mode == XVA_Z_END     ? Z_FINISH
              : mode == XVA_Z_FLUSH ? Z_SYNC_FLUSH
                                    : Z_NO_FLUSH;
    z->gz.next_in = (Bytef *) (uintptr_t) ((const char *) in->src + in->pos);
    z->gz.avail_in = (uInt) fin;
    z->gz.next_out = (Bytef *) out->dst + out->pos;
    z->gz.avail_out = (uInt) fout;
    r = deflate (&z->gz, flush);
    in->pos += fin - z->gz.avail_in;
    out->pos += fout - z->gz.avail_out;
    if (r == Z_STREAM_END)
      return 1;
    if (r != Z_OK && r != Z_BUF_ERROR)
      return XVA_ECOMPRESS;
    if (in->pos < in->size)
      continue;
    if (flush == Z_NO_FLUSH)
      return 1;
    if (flush == Z_SYNC_FLUSH && z->gz.avail_out != 0)
      return 1;
    if (z->gz.avail_out != 0)
      return XVA_ECOMPRESS; /* Z_FINISH made no progress */
  }
}

static int
zs_run (struct Xva_zout *z, struct xva_in *in, struct xva_out *out, int mode)
{
  ZSTD_EndDirective d = mode == XVA_Z_END     ? ZSTD_e_end
                        : mode == XVA_Z_FLUSH ? ZSTD_e_flush
                                              : ZSTD_e_continue;

  for (;;) {
    ZSTD_inBuffer zi = { in->src, in->size, in->pos };
    ZSTD_outBuffer zo = { out->dst, out->size, out->pos };
    size_t r;

    if (zo.pos == zo.size)
      return 0;
    r = ZSTD_compressStream2 (z->zs, &zo, &zi, d);
    in->pos = zi.pos;
    out->pos = zo.pos;
    if (ZSTD_isError (r))
      return XVA_ECOMPRESS;
    if (d == ZSTD_e_continue) {
      if (zi.pos == zi.size)
        return 1;
    }
    else if (r == 0)
      return 1;
  }
}

int
Xva_zout_run (struct Xva_zout *z, struct xva_in *in, struct xva_out *out,
              int mode)
{
  if (z->pgz)
    return Xva_pgzip_run (z->pgz, in, out, mode);
  return z->kind == XVA_COMPRESS_GZIP ? gz_run (z, in, out, mode)
                                      : zs_run (z, in, out, mode);
}

void
Xva_zout_free (struct Xva_zout *z)
{
  if (!z)
    return;
  if (z->pgz)
    Xva_pgzip_free (z->pgz);
  else if (z->kind == XVA_COMPRESS_GZIP)
    deflateEnd (&z->gz);
  ZSTD_freeCCtx (z->zs);
  free (z);
}

struct Xva_zin *
Xva_zin_new (int kind, int *status)
{
  struct Xva_zin *z = calloc (1, sizeof *z);

  if (!z) {
    *status = XVA_ENOMEM;
    return NULL;
  }
  z->kind = kind;
  if (kind == XVA_COMPRESS_GZIP) {
    if (inflateInit2 (&z->gz, 15 + 16) != Z_OK)
      goto nomem;
  }
  else if (kind == XVA_COMPRESS_ZSTD) {
    z->zs = ZSTD_createDCtx ();
    if (!z->zs)
      goto nomem;
  }
  else {
    free (z);
    *status = XVA_EINVAL;
    return NULL;
  }
  *status = XVA_OK;
  return z;

nomem:
  free (z);
  *status = XVA_ENOMEM;
  return NULL;
}

static int
gz_in (struct Xva_zin *z, struct xva_in *in, struct xva_out *out, char *err,
       size_t errlen)
{
  while (in->pos < in->size && out->pos < out->size) {
    size_t avail_in = in->size - in->pos, avail_out = out->size - out->pos;
    size_t fin = avail_in > ZCHUNK ? ZCHUNK : avail_in;
    size_t fout = avail_out > ZCHUNK ? ZCHUNK : avail_out;
    int r;

    if (z->boundary) {
      /* Another gzip member follows (pigz and parallel writers). */
      if (inflateReset (&z->gz) != Z_OK)
        return XVA_ECOMPRESS;
      z->boundary = 0;
    }
    z->gz.next_in = (Bytef *) (uintptr_t) ((const char *) in->src + in->pos);
    z->gz.avail_in = (uInt) fin;
    z->gz.next_out = (Bytef *) out->dst + out->pos;
    z->gz.avail_out = (uInt) fout;
    r = inflate (&z->gz, Z_NO_FLUSH);
    in->pos += fin - z->gz.avail_in;
    out->pos += fout - z->gz.avail_out;
    if (r == Z_STREAM_END)
      z->boundary = 1;
    else if (r == Z_MEM_ERROR)
      return XVA_ENOMEM;
    else if (r != Z_OK && r != Z_BUF_ERROR) {
      snprintf (err, errlen, "gzip data is corrupt: %s",
                z->gz.msg ? z->gz.msg : "inflate failed");
      return XVA_ECOMPRESS;
    }
  }
  return 0;
}

static int
zs_in (struct Xva_zin *z, struct xva_in *in, struct xva_out *out, char *err,
       size_t errlen)
{
  while (in->pos < in->size && out->pos < out->size) {
    ZSTD_inBuffer zi = { in->src, in->size, in->pos };
    ZSTD_outBuffer zo = { out->dst, out->size, out->pos };
    size_t r = ZSTD_decompressStream (z->zs, &zo, &zi);

    in->pos = zi.pos;
    out->pos = zo.pos;
    if (ZSTD_isError (r)) {
      snprintf (err, errlen, "zstd data is corrupt: %s",
                ZSTD_getErrorName (r));
      return XVA_ECOMPRESS;
    }
    z->boundary = r == 0;
  }
  return 0;
}

int
Xva_zin_run (struct Xva_zin *z, struct xva_in *in, struct xva_out *out,
             char *err, size_t errlen)
{
  return z->kind == XVA_COMPRESS_GZIP ? gz_in (z, in, out, err, errlen)
                                      : zs_in (z, in, out, err, errlen);
}

int
Xva_zin_at_boundary (const struct Xva_zin *z)
{
  return z->boundary;
}

void
Xva_zin_free (struct Xva_zin *z)
{
  if (!z)
    return;
  if (z->kind == XVA_COMPRESS_GZIP)
    inflateEnd (&z->gz);
  ZSTD_freeDCtx (z->zs);
  free (z);
}
