/* The client's transfers: `xva export`, `xva import` and `xva copy`
 * against `xva serve` or a real XenServer / XCP-ng host.
 *
 * Each transfer logs in (or reuses a session), follows a XenAPI task
 * (given, or made and destroyed here), streams the archive, and
 * succeeds only when the bytes and the task both say so.  What comes
 * from a host (export, and the source side of a copy) goes through an
 * xva_reader that checks it as it goes and must end with the archive's
 * end marker; what goes to a host (import) is sent as it is and only
 * watched by a reader, since the host judges it and its task decides.  Output goes through an Xva_sink
 * (client/sink.h), input comes from an Xva_source.  Nothing here prints:
 * progress and warnings go to the caller's callbacks, the outcome to a
 * struct Xva_client_result.
 */
#ifndef XVA_CLIENT_TRANSFER_H
#define XVA_CLIENT_TRANSFER_H

#include <stddef.h>
#include <stdint.h>

#include <xva/xva.h>

#include "sink.h"
#include "xapi.h"

/* One host and how to log in. */
struct Xva_client_host {
  struct Xva_xapi_conf conf; /* url, TLS, retries (the stop and notice
                              * hooks are filled from the callbacks) */
  const char *user;          /* for login */
  const char *password;
  const char *session; /* reuse this session: no login/logout */
  unsigned task_wait;  /* seconds to wait for a task to end after
                        * the transfer (default 600) */
};

struct Xva_client_progress {
  uint64_t bytes; /* archive bytes moved so far */
  uint64_t size;  /* archive size when known, else 0 */
  uint64_t done;  /* disk bytes checked (reader) */
  uint64_t total; /* disk bytes in the archive, 0 unknown */
  double task;    /* the task's progress 0..1, -1 unknown */
};

struct Xva_client_cb {
  /* About ten times a second while bytes move (one thread at a time). */
  void (*progress) (void *opaque, const struct Xva_client_progress *p);
  /* Warnings (retries, kept checksum mismatches, removed old exports);
   * may come from two threads during a copy. */
  void (*notice) (void *opaque, const char *msg);
  /* Nonzero: stop now (a signal). */
  int (*stop) (void *opaque);
  void *opaque;
};

struct Xva_export_req {
  struct Xva_client_host host;
  const char *uuid; /* exactly one of uuid, ref, name, or */
  const char *ref;
  const char *name;
  int all;             /* with metadata: every VM */
  int metadata;        /* GET /export_metadata */
  int compress;        /* enum xva_compress */
  const char *output;  /* "-", a path, or a template with {name},
                        * {uuid}, {date} */
  const char *task_id; /* adopt this task (not destroyed) */
  unsigned keep;       /* 0: keep everything */
};

struct Xva_import_req {
  struct Xva_client_host host;
  const char *input;   /* "-" or a path */
  const char *sr_uuid; /* at most one of sr_uuid, sr_ref */
  const char *sr_ref;
  int restore;
  int force;
  int metadata;               /* PUT /import_metadata */
  int dry_run;                /* with metadata */
  const char *const *vdi_map; /* "SRC=DST" items, with metadata */
  size_t nvdi_map;
  const char *task_id;
};

struct Xva_copy_req {
  struct Xva_client_host from;
  struct Xva_client_host to;
  const char *uuid; /* one of uuid, name */
  const char *name;
  const char *sr_uuid; /* target SR; NULL: the pool's default */
  int compress;
};

struct Xva_client_result {
  int status;                         /* enum xva_status */
  char msg[2048];                     /* what failed ("" on success) */
  char code[64];                      /* XenAPI error code of a failed task */
  char vm_uuid[XVA_XAPI_REF_MAX + 1]; /* the exported VM ("" for all) */
  char **vm_uuids;                    /* imported VMs */
  size_t nvm;
  char *output;   /* the file written (export) */
  uint64_t bytes; /* archive bytes moved */
  double seconds;
  unsigned checksum_kinds; /* bit (1 << kind) of checksums seen */
  uint64_t mismatches;     /* kept by force */
};

void Xva_client_result_init (struct Xva_client_result *r);
void Xva_client_result_clear (struct Xva_client_result *r);

int Xva_client_export (const struct Xva_export_req *req,
                       const struct Xva_client_cb *cb,
                       struct Xva_client_result *res);
int Xva_client_import (const struct Xva_import_req *req,
                       const struct Xva_client_cb *cb,
                       struct Xva_client_result *res);
int Xva_client_copy (const struct Xva_copy_req *req,
                     const struct Xva_client_cb *cb,
                     struct Xva_client_result *res);

#endif /* XVA_CLIENT_TRANSFER_H */
