/* gzip compression on several threads: the stream is cut into blocks,
 * each compressed as an independent gzip member (as pigz --independent
 * does); any gzip decoder reads the concatenation. */
#ifndef XVA_FORMAT_PGZIP_H
#define XVA_FORMAT_PGZIP_H

#include <xva/xva.h>

struct Xva_pgzip;

/* threads >= 2 (this thread helps, so threads - 1 workers start). */
struct Xva_pgzip *Xva_pgzip_new (int level, unsigned threads, int *status);
/* As Xva_zout_run (compress.h). */
int Xva_pgzip_run (struct Xva_pgzip *p, struct xva_in *in, struct xva_out *out,
                   int mode);
void Xva_pgzip_free (struct Xva_pgzip *p);

#endif
