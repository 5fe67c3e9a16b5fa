/* The state of `xva serve` behind the HTTP adapter: the store,
 * sessions, tasks, events and the XenAPI RPC surface.  Nothing here
 * includes microhttpd.h; server/http*.c are the adapter.  Internal. */
#ifndef XVA_SERVER_SRV_H
#define XVA_SERVER_SRV_H

#include <stddef.h>
#include <stdint.h>

#include <xva/xva.h>

#include "store/store.h"

#define XVA_SRV_REF_MAX XVA_STORE_REF_MAX
#define XVA_SRV_MAX_SESSIONS 200
#define XVA_SRV_SESSION_IDLE_S (24 * 3600)

struct Xva_srv;

/* Log sink: one line per request and per task.  Never passed a password
 * or a session ref. */
typedef void (*Xva_srv_log_fn) (void *opaque, const char *line);

/* A server state over an open store (not owned).  On start-up, tasks
 * left pending by a crash are marked failed. */
int Xva_srv_new (struct Xva_store *s, Xva_srv_log_fn log, void *opaque,
                 struct Xva_srv **out, char *err, size_t errlen);
/* Makes waiting event.from calls return now, and later ones at once
 * (before stopping the listeners).  NULL is fine. */
void Xva_srv_close_polls (struct Xva_srv *srv);
/* Cancels every running task and frees.  NULL is fine. */
void Xva_srv_free (struct Xva_srv *srv);
struct Xva_store *Xva_srv_store (struct Xva_srv *srv);
void Xva_srv_logf (struct Xva_srv *srv, const char *fmt, ...)
  __attribute__ ((format (printf, 2, 3)));

/* 1 when s is UTF-8 text without control bytes (fit for a record: the
 * store keeps records as XML), else 0. */
int Xva_srv_text_ok (const char *s);

/* ---- Sessions --------------------------------------------------------
 * At most XVA_SRV_MAX_SESSIONS live (the least recently used is evicted
 * by a new login), 24 h idle expiry.  trusted: the Unix socket (any
 * credentials succeed, as root). */
int Xva_session_login (struct Xva_srv *srv, const char *user,
                       const char *password, int trusted, char *ref_out);
/* XVA_OK (and touches it) or XVA_EAUTH (unknown, expired, logged out). */
int Xva_session_check (struct Xva_srv *srv, const char *ref);
void Xva_session_logout (struct Xva_srv *srv, const char *ref);

/* ---- Tasks -----------------------------------------------------------
 * Task records (class "task") with XenAPI fields: uuid, name_label,
 * name_description, status (pending|success|failure|cancelling|
 * cancelled), progress, result, error_info, created, finished,
 * allowed_operations, current_operations, other_config, subtask_of,
 * subtasks, resident_on, backtrace, type.  Completed tasks are kept up
 * to a bound (oldest dropped first); pending ones never. */
int Xva_task_create (struct Xva_srv *srv, const char *label,
                     const char *description, char *ref_out);
/* Takes over an existing pending task for a transfer: progress 0,
 * cancellable.  XVA_ENOTFOUND if no such task. */
int Xva_task_adopt (struct Xva_srv *srv, const char *ref);
/* Progress 0..1 (written at most a few times a second). */
void Xva_task_set_progress (struct Xva_srv *srv, const char *ref,
                            double progress);
/* 1 once task.cancel was called on it. */
int Xva_task_cancel_requested (struct Xva_srv *srv, const char *ref);
void Xva_task_succeed (struct Xva_srv *srv, const char *ref,
                       const char *result);
/* error_info: ARRAY of strings, code first (copied). */
void Xva_task_fail (struct Xva_srv *srv, const char *ref,
                    const struct xva_value *error_info);
void Xva_task_fail_code (struct Xva_srv *srv, const char *ref,
                         const char *code, const char *param);
void Xva_task_cancelled (struct Xva_srv *srv, const char *ref);
/* A function the HTTP adapter registers per running transfer so that
 * task.cancel can stop it at once (called from the RPC thread). */
typedef void (*Xva_task_cancel_fn) (void *opaque);
void Xva_task_on_cancel (struct Xva_srv *srv, const char *ref,
                         Xva_task_cancel_fn fn, void *opaque);

/* ---- Events ----------------------------------------------------------
 * Every change of a record (through the RPC surface, tasks, imports)
 * is recorded for event.from. */
void Xva_event_add (struct Xva_srv *srv, const char *cls, const char *ref,
                    const char *op);
/* Changes committed outside the RPC surface (an import) become events:
 * a snapshot of the refs of the VM, VBD, VDI, VIF, network and SR
 * classes is taken before, and Xva_event_snap_emit compares it with
 * the store after: del for each ref gone, add for each new one, mod
 * for the VDIs, networks and SRs whose lists of VBDs, VIFs or VDIs that
 * changed.  Take returns XVA_OK or XVA_ENOMEM / a store error (*out
 * NULL).  Emit frees the snapshot; free (NULL is fine) drops it. */
struct Xva_event_snap;
int Xva_event_snap_take (struct Xva_srv *srv, struct Xva_event_snap **out);
void Xva_event_snap_emit (struct Xva_srv *srv, struct Xva_event_snap *before);
void Xva_event_snap_free (struct Xva_event_snap *sn);

/* ---- RPC -------------------------------------------------------------
 * One XenAPI call.  *result on success; on failure XVA_ESERVER and
 * *error_info an ARRAY of strings (code first).  May block (event.from)
 * without blocking other callers. */
int Xva_rpc_call (struct Xva_srv *srv, const char *method,
                  const struct xva_value *params, int trusted,
                  struct xva_value **result, struct xva_value **error_info);
/* Whole request bodies to whole response bodies (malloc'd). */
int Xva_rpc_xmlrpc (struct Xva_srv *srv, const char *body, size_t len,
                    int trusted, char **out, size_t *outlen);
int Xva_rpc_jsonrpc (struct Xva_srv *srv, const char *body, size_t len,
                     int trusted, char **out, size_t *outlen);

#endif
