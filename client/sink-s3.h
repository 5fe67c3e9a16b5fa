/* Object storage as a kind of the client's outputs and inputs
 * (client/sink.h): `s3://bucket/key` targets for `xva export -o`, sources
 * for `xva import -i`, and --keep among the backups under a prefix.
 *
 * The connection settings are process-wide: the command sets them once
 * (Xva_sink_s3_setup) before a transfer that names an s3:// target.
 * Built on the public xva_s3_* API. */
#ifndef XVA_CLIENT_SINK_S3_H
#define XVA_CLIENT_SINK_S3_H

#include <stddef.h>

#include <xva/xva.h>

#include "sink.h"

/* Keeps a copy of o for every later s3:// target.  XVA_OK or
 * XVA_ENOMEM. */
int Xva_sink_s3_setup (const struct xva_s3_opts *o);
/* Forgets the settings (wiping the secret). */
void Xva_sink_s3_clear (void);

/* An output that streams to url as a multipart upload, published by
 * Xva_sink_commit and aborted (nothing left) otherwise.  The object's
 * metadata (vm-name, vm-uuid, date, checksum, size, disks, compression,
 * complete=true, as `xva pack` writes it) is read from the start of the
 * archive, which is held back until it is known (at most 32 MiB). */
int Xva_sink_open_s3 (const char *url, struct Xva_sink **out, char *err,
                      size_t errlen);
/* An input that reads url (ranged GETs, several in flight); its size is
 * the object's. */
int Xva_source_open_s3 (const char *url, struct Xva_source **out, char *err,
                        size_t errlen);
/* --keep: the names directly under the prefix dir (an s3:// address
 * ending in '/') of the objects that are complete backups (metadata
 * complete=true), as Xva_target_list gives a directory's. */
int Xva_target_list_s3 (const char *dir, char ***names, size_t *n, char *err,
                        size_t errlen);
/* Deletes one object. */
int Xva_target_remove_s3 (const char *url, char *err, size_t errlen);

#endif /* XVA_CLIENT_SINK_S3_H */
