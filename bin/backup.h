/* Backups in the `xva` command: output names from templates ({name},
 * {uuid}, {date}), the metadata that travels with an archive on object
 * storage, and retention (--keep) there.  Uses only the public API. */
#ifndef XVA_BIN_BACKUP_H
#define XVA_BIN_BACKUP_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <xva/xva.h>

#include "s3opt.h"

/* Metadata names (x-amz-meta-<name>) of an archive on object storage. */
#define XVA_BACKUP_META_NAME "vm-name" /* percent-encoded UTF-8 */
#define XVA_BACKUP_META_UUID "vm-uuid"
#define XVA_BACKUP_META_DATE "date"         /* 2026-01-02T03:04:05Z */
#define XVA_BACKUP_META_CHECKSUM "checksum" /* xxhash or sha1 */
#define XVA_BACKUP_META_SIZE "size"         /* disk bytes (virtual) */
#define XVA_BACKUP_META_DISKS "disks"
#define XVA_BACKUP_META_COMPRESS "compression"
#define XVA_BACKUP_META_COMPLETE "complete" /* "true" */

/* The time of one backup in the two forms it is written in. */
struct xva_cli_date {
  char key[24]; /* for names: 20260102T030405Z */
  char iso[24]; /* for metadata: 2026-01-02T03:04:05Z */
};
void Xva_cli_date_set (struct xva_cli_date *d, time_t t);

/* 1 if tmpl holds a '{'. */
int Xva_cli_template_has (const char *tmpl);
/* Checks that every {...} of tmpl is {name}, {uuid} or {date}.  0, or
 * -1 with a message in err. */
int Xva_cli_template_check (const char *tmpl, char *err, size_t errlen);
/* Replaces {name}, {uuid} and {date} (d->key) in tmpl; the name is made
 * safe for a file name or key (letters, digits and . _ - + kept, other
 * bytes '_', no leading dot, at most 100 bytes).  *out is malloc'd.  0,
 * or -1 (out of memory, bad template: see Xva_cli_template_check). */
int Xva_cli_template_expand (const char *tmpl, const char *name,
                             const char *uuid, const struct xva_cli_date *d,
                             char **out);

/* Metadata values are printable ASCII: bytes outside 0x20-0x7e and '%'
 * are written as %XX.  Both write at most outsize - 1 bytes plus NUL and
 * never cut a %XX in two. */
void Xva_cli_meta_encode (const char *s, char *out, size_t outsize);
void Xva_cli_meta_decode (const char *s, char *out, size_t outsize);

/* What identifies one backup's VM for retention. */
struct xva_cli_backup_id {
  const char *name; /* VM name_label (plain, not encoded) */
  const char *uuid; /* VM uuid */
  int by_uuid;      /* 1: same VM = same vm-uuid (export);
                     * 0: same vm-name (pack: fresh uuids) */
};

/* Retention on object storage after new_url was completed: lists the
 * objects that the template tmpl (s3://bucket/...{date}...) can produce
 * for this VM, keeps the new one and the newest keep - 1 others that
 * are complete backups of the same VM (by metadata date, then key), and
 * deletes the rest.  Objects without complete=true metadata are never
 * touched.  Prints what it deletes unless quiet.  Returns an exit code. */
int Xva_cli_s3_keep (const char *cmd, struct xva_cli_s3 *s3, const char *tmpl,
                     const char *new_url, const struct xva_cli_backup_id *id,
                     unsigned keep, int quiet);

/* Retention of local files after new_path was written from the -o
 * template tmpl (with {date} in its file name): among the regular files
 * of the template's directory whose names the template gives for this
 * VM name (any {uuid}, any {date}), keeps new_path and the newest
 * keep - 1 others (by the date in their names) and removes the rest.
 * Returns an exit code. */
int Xva_cli_local_keep (const char *cmd, const char *tmpl,
                        const char *new_path, const char *name, unsigned keep,
                        int quiet);

#endif /* XVA_BIN_BACKUP_H */
