/* The busy set: VMs that an export or import is working on, kept in
 * memory for the life of the process (no record field changes, so a
 * crash leaves nothing to clean up).
 *
 * Entries are keyed by the store handle and the ref and are
 * refcounted: exports of one VM may run side by side, each holding the
 * VM once.  An import that replaces a VM takes it exclusively
 * (Xva_store_busy_try), so that it never removes a VM an export is
 * reading, and a VM being replaced is not exported or destroyed.  The
 * set is guarded by one mutex; every function may be called from any
 * thread.  Internal (not installed). */
#ifndef XVA_STORE_BUSY_H
#define XVA_STORE_BUSY_H

#include "store/store.h"

/* Most refs held at once by the whole process. */
#define XVA_STORE_BUSY_MAX 65536

/* Adds one hold on ref (copied).  XVA_OK, XVA_EINVAL (NULL or empty
 * ref), XVA_ELIMIT (ref longer than XVA_STORE_REF_MAX, or the set is
 * full), XVA_ENOMEM. */
int Xva_store_busy_acquire (struct Xva_store *s, const char *ref);
/* Adds the first hold on ref, only if nobody holds it: XVA_OK, or
 * XVA_EEXIST when ref is busy (nothing changes); other errors as for
 * acquire. */
int Xva_store_busy_try (struct Xva_store *s, const char *ref);
/* Drops one hold on ref; the entry goes away with its last hold.
 * Releasing a ref that is not held does nothing. */
void Xva_store_busy_release (struct Xva_store *s, const char *ref);
/* 1 if ref of s is held, 0 if not (also for NULL arguments). */
int Xva_store_busy (struct Xva_store *s, const char *ref);
/* Number of holds on ref (0 when free). */
unsigned Xva_store_busy_count (struct Xva_store *s, const char *ref);

#endif
