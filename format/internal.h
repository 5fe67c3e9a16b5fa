/* Constants and helpers shared inside the library. */
#ifndef XVA_FORMAT_INTERNAL_H
#define XVA_FORMAT_INTERNAL_H

#include <stdint.h>

#define XVA_PRINTF(f, a) __attribute__ ((format (printf, f, a)))

#define XVA_CHUNK_SIZE (1024 * 1024)        /* bytes per data entry */
#define XVA_ID_MAX 64                       /* length of a Ref:N id */
#define XVA_MAX_DISKS 65536
#define XVA_DISK_SIZE_MAX ((uint64_t) 1 << 50)    /* 1 PiB */
#define XVA_XML_MAX ((size_t) 1 << 30)      /* ova.xml the writer takes */
#define XVA_COUNTER_MAX 99999999u           /* 8 digits */

#endif
