/* Shared parts of the fault-injection tests: three small disks, their
 * ova.xml, archives in memory and reading them back. */
#ifndef XVA_TESTS_FAULT_COMMON_H
#define XVA_TESTS_FAULT_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include <xva/xva.h>

#define FAULT_NDISKS 3

/* Disks in userdevice order: 1.5 MiB with a hole in the first MiB,
 * 5000 random bytes, and an empty one. */
struct fault_disks {
  unsigned char *data[FAULT_NDISKS];
  uint64_t size[FAULT_NDISKS];
};
void fault_disks_make (struct fault_disks *d);
void fault_disks_free (struct fault_disks *d);

/* The VM's ova.xml (malloc'd) and the writer's disk list, whose ids
 * point into *meta.  NULL on failure. */
char *fault_meta (const struct fault_disks *d, struct xva_meta **meta,
                  size_t *len, struct xva_writer_disk *wd);

/* A growing buffer that allocates with __real_realloc, so that it is
 * never made to fail. */
struct fault_buf {
  unsigned char *p;
  size_t len, cap;
};
void fault_buf_add (struct fault_buf *b, const void *p, size_t n);

/* A source reading d from memory. */
struct xva_source_io fault_mem_source (struct fault_disks *d);

/* Writes the archive of d with io (taken over) into out: the status of
 * the last writer call (XVA_EOF on success) or of xva_writer_new; the
 * message into msg. */
int fault_write (struct fault_disks *d, const char *xml, size_t xlen,
                 const struct xva_writer_disk *wd, int checksum, int compress,
                 unsigned threads, struct xva_source_io io,
                 struct fault_buf *out, char *msg, size_t msglen);

/* 1 when the archive a reads back to exactly d (no fault armed). */
int fault_read_back (const unsigned char *a, size_t len,
                     const struct fault_disks *d);

/* 1 when msg is a real message of the named API ("xva_writer"). */
int fault_msg_ok (const char *msg, const char *api);

/* The status a failed call of this kind must give. */
int fault_expected_status (int kind);

#endif
