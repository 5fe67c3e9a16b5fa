/* VM -> archive: the core of GET /export and /export_metadata and of
 * exports from a local store.  Internal (not installed). */
#ifndef XVA_EXPORT_EXPORT_H
#define XVA_EXPORT_EXPORT_H

#include <stddef.h>
#include <stdint.h>

#include <xva/xva.h>

#include "store/store.h"

/* Bits of Xva_export_opts.excluded (excluded_device_types). */
#define XVA_EXCLUDE_VIF 1u
#define XVA_EXCLUDE_VBD 2u
#define XVA_EXCLUDE_VGPU 4u
#define XVA_EXCLUDE_VTPM 8u

struct Xva_export_opts {
  int metadata_only; /* /export_metadata: ova.xml only */
  int all;           /* metadata of every VM (vm_ref ignored) */
  int preserve_power_state;
  int export_snapshots; /* metadata: include snapshots (default 1) */
  int include_vhd_parents;
  unsigned excluded;        /* XVA_EXCLUDE_* */
  struct xva_writer_opts w; /* checksum, compression, threads, keep-alive */
};
/* Defaults as xapi has them (export_snapshots 1, xxhash, no
 * compression). */
void Xva_export_opts_init (struct Xva_export_opts *o);

struct Xva_export;

/* Prepares the export of vm_ref (a VM ref of s; NULL with all): walks
 * VM -> VBD -> VDI -> SR and VIF -> network (xva-format.md 1.3-1.4),
 * rewrites references to Ref:N ids, applies xapi's changes for /export
 * (power state Halted unless preserved, snapshot fields cleared,
 * currently_attached false, ...), builds ova.xml, opens the VDI images
 * and makes the writer.  Marks the VM busy (Xva_store_busy_acquire)
 * until freed.
 * Errors (with err): XVA_ENOTFOUND (no such VM: HANDLE_INVALID),
 * XVA_ESTATE (not Halted/Suspended: VM_BAD_POWER_STATE), XVA_EIO (an
 * image cannot be opened), XVA_ENOMEM. */
int Xva_export_new (struct Xva_store *s, const char *vm_ref,
                    const struct Xva_export_opts *o, struct Xva_export **out,
                    char *err, size_t errlen);
/* The writer producing the archive; owned by e. */
struct xva_writer *Xva_export_writer (struct Xva_export *e);
/* A file name for Content-Disposition: "<name_label>.xva", with
 * characters other than [A-Za-z0-9._ -] replaced; valid until free. */
const char *Xva_export_filename (const struct Xva_export *e);
/* The exported VM's uuid ("" for all=true). */
const char *Xva_export_vm_uuid (const struct Xva_export *e);
/* Closes the images, releases the VM.  NULL is fine. */
void Xva_export_free (struct Xva_export *e);

#endif
