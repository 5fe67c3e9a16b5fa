/* Constants and helpers shared inside the library. */
#ifndef XVA_FORMAT_INTERNAL_H
#define XVA_FORMAT_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#define XVA_PRINTF(f, a) __attribute__ ((format (printf, f, a)))

#define XVA_CHUNK_SIZE (1024 * 1024) /* bytes per data entry */
#define XVA_ID_MAX 64                /* length of a Ref:N id */
#define XVA_MAX_DISKS 65536
#define XVA_DISK_SIZE_MAX ((uint64_t) 1 << 50) /* 1 PiB */
#define XVA_XML_MAX ((size_t) 1 << 30)         /* ova.xml the writer takes */
#define XVA_COUNTER_MAX 99999999u              /* 8 digits */

/* Zero-copy reading for the writer, inside the library only (the
 * server's export of its own store files): map returns the n bytes of
 * disk (the index given to the writer) at off in memory that stays
 * valid until unmap is called for that range, or NULL to have them
 * read with io.pread instead.  Both run on any thread.  Set before the
 * first xva_writer_next or xva_writer_step. */
struct xva_writer;
typedef const void *(*Xva_writer_map_fn) (void *opaque, unsigned disk,
                                          uint64_t off, size_t n);
typedef void (*Xva_writer_unmap_fn) (void *opaque, unsigned disk, uint64_t off,
                                     size_t n);
void Xva_writer_set_map (struct xva_writer *w, Xva_writer_map_fn map,
                         Xva_writer_unmap_fn unmap, void *opaque);

#endif
