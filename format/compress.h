/* Streaming gzip and zstd, both directions. */
#ifndef XVA_FORMAT_COMPRESS_H
#define XVA_FORMAT_COMPRESS_H

#include <stddef.h>

#include <xva/xva.h>

enum Xva_zmode {
  XVA_Z_CONTINUE = 0, /* consume input */
  XVA_Z_FLUSH = 1,    /* consume input, then flush what is pending */
  XVA_Z_END = 2,      /* consume input, then end the stream */
};

struct Xva_zout;
struct Xva_zin;

/* A compressor of kind XVA_COMPRESS_GZIP or _ZSTD; level 0: default;
 * threads: worker threads (0: one per core, 1: none). */
struct Xva_zout *Xva_zout_new (int kind, int level, unsigned threads,
                               int *status);
/* Moves input into out.  Returns 1 when the mode's work is done (input
 * consumed; for FLUSH and END also everything written out), 0 when out
 * is full (call again with room), or a status < 0. */
int Xva_zout_run (struct Xva_zout *z, struct xva_in *in, struct xva_out *out,
                  int mode);
void Xva_zout_free (struct Xva_zout *z);

struct Xva_zin *Xva_zin_new (int kind, int *status);
/* Decompresses from in into out until one of them is used up.  Returns
 * 0, or XVA_ECOMPRESS / XVA_ENOMEM with a reason in err. */
int Xva_zin_run (struct Xva_zin *z, struct xva_in *in, struct xva_out *out,
                 char *err, size_t errlen);
/* 1 if the compressed stream ended at a frame or member boundary. */
int Xva_zin_at_boundary (const struct Xva_zin *z);
void Xva_zin_free (struct Xva_zin *z);

#endif
