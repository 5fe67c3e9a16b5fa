/* Archive -> VM: the core of PUT /import and /import_metadata.
 * Internal (not installed).
 *
 * Atomicity (design.md): disks are written under the SR's staging
 * directory for this import; records are built in memory while the
 * stream is read; when the archive is complete and verified the images
 * are published and every record is committed in one transaction (for
 * restore, the replaced VM is removed in that transaction and its old
 * images deleted after it).  Any failure removes the staging directory:
 * nothing of the import remains. */
#ifndef XVA_IMPORT_IMPORT_H
#define XVA_IMPORT_IMPORT_H

#include <stddef.h>
#include <stdint.h>

#include <xva/xva.h>

#include "store/store.h"

struct Xva_vdi_map {
  const char *from; /* source VDI uuid or SCSIid */
  const char *to;   /* target VDI uuid or SCSIid */
};

struct Xva_import_opts {
  const char *sr_ref; /* target SR; NULL: the pool's default SR */
  int restore;        /* keep VM/VBD/VIF uuids and MACs; replace */
  int force;          /* keep going past checksum mismatches */
  int metadata_only;  /* /import_metadata */
  int dry_run;        /* metadata: check, create nothing */
  const struct Xva_vdi_map *vdi_map; /* metadata: vdi: pairs */
  size_t nvdi_map;
  const char *task_uuid; /* names the staging directory */
  unsigned threads;      /* 0: one per core */
};

struct Xva_import;

/* Starts an import into s.  Errors before any byte (with err and
 * error_info): XVA_ENOTFOUND (SR: HANDLE_INVALID / UUID_INVALID, or no
 * default SR: DEFAULT_SR_NOT_FOUND). */
int Xva_import_new (struct Xva_store *s, const struct Xva_import_opts *o,
                    struct Xva_import **out, char *err, size_t errlen);
/* Feeds archive bytes (pieces of any size).  XVA_OK: feed more;
 * XVA_EOF: the archive is complete (the rest of the input is not part
 * of it); < 0: failed (see Xva_import_error). */
int Xva_import_feed (struct Xva_import *im, struct xva_in *in);
/* Ends the input: checks the archive is complete, then publishes and
 * commits.  On success *vm_refs (may be NULL) is a new ARRAY of the
 * new VM refs (for the task result).  On failure everything of this
 * import is removed. */
int Xva_import_finish (struct Xva_import *im, struct xva_value **vm_refs);
/* The failure as XenAPI error_info: an ARRAY of strings, code first
 * (IMPORT_ERROR, IMPORT_ERROR_PREMATURE_EOF, IMPORT_INCOMPATIBLE_VERSION,
 * SR_FULL, VDI_LOCATION_MISSING, VM_BAD_POWER_STATE,
 * VM_TO_IMPORT_IS_NOT_NEWER_VERSION, DUPLICATE_MAC_SEED,
 * DEFAULT_SR_NOT_FOUND, HANDLE_INVALID, TASK_CANCELLED, ...).  NULL
 * before any failure; owned by im. */
const struct xva_value *Xva_import_error (const struct Xva_import *im);
/* The failure's message (for logs). */
const char *Xva_import_errmsg (const struct Xva_import *im);
/* HTTP status for the failure: 400 bad archive, 404 unknown SR, 409
 * conflict, 507 no space, 500 otherwise. */
int Xva_import_http_status (const struct Xva_import *im);
void Xva_import_progress (const struct Xva_import *im, struct xva_progress *p);
/* The checksum mismatches kept with force. */
uint64_t Xva_import_mismatches (const struct Xva_import *im);
/* Cancels (from any thread): the next feed or finish fails with
 * TASK_CANCELLED and cleans up. */
void Xva_import_cancel (struct Xva_import *im);
/* Aborts if not finished (removes everything), then frees.  NULL is
 * fine. */
void Xva_import_free (struct Xva_import *im);

#endif
