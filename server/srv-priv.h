/* Internals shared by server/srv.c, session.c, task.c, event.c, rpc.c
 * and methods.c.  Internal (not installed). */
#ifndef XVA_SERVER_SRV_PRIV_H
#define XVA_SERVER_SRV_PRIV_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "server/srv.h"

#if defined(__GNUC__) || defined(__clang__)
#define XVA_SRV_SENTINEL __attribute__ ((sentinel))
#else
#define XVA_SRV_SENTINEL
#endif

#define XVA_SRV_NULL_REF "OpaqueRef:NULL"
#define XVA_SRV_SESSION_REF_LEN 46      /* "OpaqueRef:" and a uuid */
#define XVA_SRV_TASKS_KEPT 1000         /* completed tasks kept */
#define XVA_SRV_TASKS_PENDING_MAX 10000 /* pending tasks at once */
#define XVA_SRV_TASK_DESC_MAX 4096      /* bytes of a description */
#define XVA_SRV_PROGRESS_MS 250         /* between two progress writes */
#define XVA_SRV_EVENTS_MAX 10000        /* events kept for event.from */
/* Bytes of the events' snapshots (estimated, see event.c) kept at most:
 * the oldest go first.  Without it, snapshots of big records (up to
 * XVA_STORE_RECORD_MAX each) times XVA_SRV_EVENTS_MAX could take any
 * amount of memory. */
#define XVA_SRV_EVENTS_BYTES_MAX ((size_t) 8 << 20)
#define XVA_SRV_EVENT_INITIAL_MAX 100000 /* records of a first event.from */
#define XVA_SRV_EVENT_CLASSES_MAX 64     /* subscriptions of one call */
/* The fuzz targets' copy is built with 10 ms (tests/fuzz). */
#ifndef XVA_SRV_EVENT_TIMEOUT_MAX
#define XVA_SRV_EVENT_TIMEOUT_MAX 600.0 /* seconds one event.from waits */
#endif
#define XVA_SRV_RPC_MAX_BYTES ((size_t) 16 << 20) /* a request body */
#define XVA_SRV_RPC_MAX_NODES ((size_t) 1 << 20)  /* values in a request */
/* The fuzz targets' copy is built with both 0 (tests/fuzz). */
#ifndef XVA_SRV_LOGIN_DELAY_MS
#define XVA_SRV_LOGIN_DELAY_MS 250 /* after a failed login, plus */
#endif
#ifndef XVA_SRV_LOGIN_JITTER_MS
#define XVA_SRV_LOGIN_JITTER_MS 250 /* up to this much at random */
#endif
#define XVA_SRV_LOG_LINE_MAX 1024
#define XVA_SRV_MAP_KEY_MAX 1024     /* bytes of a map key */
#define XVA_SRV_MAP_VALUE_MAX 65536  /* bytes of a map value */
#define XVA_SRV_MAP_ENTRIES_MAX 4096 /* entries of one map field */

/* ---- Classes ----------------------------------------------------------
 * The XenAPI classes the RPC surface serves. */
struct Xva_cls {
  const char *name;        /* "VM": the store's class */
  const char *lower;       /* "vm": event.from's spelling */
  const char *const *ints; /* int fields (stored as strings) */
};

/* The class named name, compared without case; NULL if unknown. */
const struct Xva_cls *Xva_cls_find (const char *name);
/* Class i (0..Xva_cls_count()-1). */
const struct Xva_cls *Xva_cls_at (size_t i);
size_t Xva_cls_count (void);
/* A copy of rec (a STRUCT) as the wire shows it: the int fields of cls
 * as INT values and an `other_config` map present.  cls may be NULL
 * (plain copy).  NULL when out of memory. */
struct xva_value *Xva_rec_export (const struct Xva_cls *cls,
                                  const struct xva_value *rec);

/* ---- State ------------------------------------------------------------ */

struct Xva_session {
  char ref[XVA_SRV_SESSION_REF_LEN + 1]; /* "" when the slot is free */
  char user[XVA_STORE_USER_MAX + 1];
  int64_t last_ms; /* last use (monotonic) */
  uint64_t seq;    /* order of last use */
};

/* A pending task's state in memory. */
struct Xva_task_rt {
  struct Xva_task_rt *next;
  char ref[XVA_SRV_REF_MAX + 1];
  int attached; /* a transfer runs it */
  int cancel_requested;
  Xva_task_cancel_fn cancel_fn;
  void *cancel_opaque;
  int cb_running;        /* cancel_fn is being called */
  pthread_t cb_thread;   /* by this thread */
  int64_t last_write_ms; /* of the progress */
};

/* A completed task, oldest first. */
struct Xva_task_done {
  struct Xva_task_done *next;
  char ref[XVA_SRV_REF_MAX + 1];
};

enum { XVA_EV_ADD = 0, XVA_EV_MOD = 1, XVA_EV_DEL = 2 };

struct Xva_event {
  uint64_t id;
  const struct Xva_cls *cls;              /* NULL: cls_name is not served */
  char cls_name[XVA_STORE_CLASS_MAX + 1]; /* lowercase */
  char *ref;
  int op;
  double ts;                  /* seconds since the epoch */
  struct xva_value *snapshot; /* NULL for del */
  size_t bytes;               /* estimated memory of it all */
};

struct Xva_srv {
  struct Xva_store *store;
  Xva_srv_log_fn log;
  void *log_opaque;
  char host_ref[XVA_SRV_REF_MAX + 1]; /* tasks' resident_on */

  pthread_mutex_t slock; /* sessions */
  struct Xva_session sessions[XVA_SRV_MAX_SESSIONS];
  uint64_t session_seq; /* last seq given */
  int64_t skew_ms;      /* added to the session clock (tests) */

  pthread_mutex_t tlock;     /* tasks in memory */
  pthread_cond_t tcond;      /* a cancel callback returned */
  struct Xva_task_rt *tasks; /* pending tasks */
  size_t npending;
  struct Xva_task_done *done_head, *done_tail;
  size_t ndone;
  size_t keep; /* completed tasks kept */

  pthread_mutex_t elock; /* events */
  pthread_cond_t econd;  /* an event was added (monotonic) */
  struct Xva_event *ring;
  size_t ring_start, ring_n;
  size_t ring_bytes; /* sum of the events' bytes */
  uint64_t next_id;  /* of the next event; ids start at 1 */
  unsigned active;   /* RPC calls running */
  int closing;       /* Xva_srv_free: calls end at once */
};

/* Milliseconds of the monotonic clock. */
int64_t Xva_srv_mono_ms (void);
/* Now as an XML-RPC date "YYYYMMDDTHH:MM:SSZ" into out (>= 20 bytes). */
void Xva_srv_date_now (char *out, size_t len);
/* Copies s into out[0..len) replacing control bytes and bytes that are
 * not valid UTF-8 with '?' and cutting at len - 1 bytes, between
 * characters (for log lines and client text echoed in replies). */
void Xva_srv_clean (char *out, size_t len, const char *s);

/* Test hooks: shift the session clock; change the completed-task bound
 * (dropping the excess at once). */
void Xva_srv_test_skew (struct Xva_srv *srv, int64_t ms);
void Xva_srv_test_keep (struct Xva_srv *srv, size_t keep);

/* ---- Pieces of Xva_srv_new / Xva_srv_free ------------------------------ */

/* Marks tasks a crash left pending as failed and loads the completed
 * ones (oldest first), dropping those beyond the bound. */
int Xva_task_startup (struct Xva_srv *srv, char *err, size_t errlen);
/* Cancels and forgets every pending task. */
void Xva_task_shutdown (struct Xva_srv *srv);
/* Drops completed tasks beyond srv->keep (records and events). */
void Xva_task_trim (struct Xva_srv *srv);
void Xva_event_free_all (struct Xva_srv *srv);
/* Like Xva_event_add; returns the new event's id (0 when none was
 * added: out of memory, bad arguments, or an add/mod of a record that
 * is gone). */
uint64_t Xva_event_add_id (struct Xva_srv *srv, const char *cls,
                           const char *ref, const char *op);

/* ---- RPC ----------------------------------------------------------------
 * A handler gets the whole params array (the session first, when the
 * method takes one) and sets c->result, or returns Xva_rpc_fail. */
struct Xva_rpc_ctx {
  struct Xva_srv *srv;
  const char *method;
  const struct xva_value *params;
  size_t nparams;
  const struct Xva_cls *cls; /* of a per-class method */
  const char *field;         /* of a field getter */
  int trusted;
  struct xva_value *result;
  struct xva_value *error;
};
typedef int (*Xva_rpc_fn) (struct Xva_rpc_ctx *c);

/* Sets c->error to [code, params...] (a NULL-terminated list of
 * strings; a NULL param ends it) and returns XVA_ESERVER, or XVA_ENOMEM
 * when out of memory. */
int Xva_rpc_fail (struct Xva_rpc_ctx *c, const char *code,
                  ...) XVA_SRV_SENTINEL;
/* INTERNAL_ERROR with the store's message for status r (also logged). */
int Xva_rpc_store_fail (struct Xva_rpc_ctx *c, int r);
/* Sets c->result to v (taken; NULL means out of memory). */
int Xva_rpc_ok (struct Xva_rpc_ctx *c, struct xva_value *v);
int Xva_rpc_ok_str (struct Xva_rpc_ctx *c, const char *s);
/* Param i as a string without NUL bytes, or NULL. */
const char *Xva_rpc_arg (const struct Xva_rpc_ctx *c, size_t i);
/* FIELD_TYPE_ERROR [name]. */
int Xva_rpc_type_error (struct Xva_rpc_ctx *c, const char *name);
/* Xva_store_get of ref (in t, may be NULL) that gives XVA_ENOTFOUND
 * also for a malformed ref (XVA_EINVAL) and for an object of a class
 * other than cls.  *rec (rec may be NULL) is the stored record, NULL
 * when not found; the caller frees it. */
int Xva_rpc_get_class (struct Xva_store *s, struct Xva_store_txn *t,
                       const char *ref, const char *cls,
                       struct xva_value **rec);
/* The record of ref if it is of class c->cls (*rec exported, may be
 * NULL: existence check); else HANDLE_INVALID [class, ref]. */
int Xva_rpc_get_typed (struct Xva_rpc_ctx *c, const char *ref,
                       struct xva_value **rec);

/* session.c */
int Xva_m_session_login (struct Xva_rpc_ctx *c);
int Xva_m_session_logout (struct Xva_rpc_ctx *c);
/* methods.c */
int Xva_m_get_all (struct Xva_rpc_ctx *c);
int Xva_m_get_all_records (struct Xva_rpc_ctx *c);
int Xva_m_get_record (struct Xva_rpc_ctx *c);
int Xva_m_get_by_uuid (struct Xva_rpc_ctx *c);
int Xva_m_get_by_name_label (struct Xva_rpc_ctx *c);
int Xva_m_get_field (struct Xva_rpc_ctx *c);
int Xva_m_pool_set_default_sr (struct Xva_rpc_ctx *c);
int Xva_m_vm_get_vbds (struct Xva_rpc_ctx *c);
int Xva_m_vm_get_vifs (struct Xva_rpc_ctx *c);
int Xva_m_vm_destroy (struct Xva_rpc_ctx *c);
/* <class>.add_to_<field> (self, key, value) and .remove_from_<field>
 * (self, key) on the map field c->field. */
int Xva_m_map_add (struct Xva_rpc_ctx *c);
int Xva_m_map_remove (struct Xva_rpc_ctx *c);
/* Param 1 into *ref, an object of class c->cls: FIELD_TYPE_ERROR
 * [name] when it is not a string, else as Xva_rpc_get_typed (rec may
 * be NULL). */
int Xva_rpc_self (struct Xva_rpc_ctx *c, const char *name, const char **ref,
                  struct xva_value **rec);
/* task.c */
int Xva_m_task_create (struct Xva_rpc_ctx *c);
int Xva_m_task_cancel (struct Xva_rpc_ctx *c);
int Xva_m_task_destroy (struct Xva_rpc_ctx *c);
int Xva_m_task_set_status (struct Xva_rpc_ctx *c);
int Xva_m_task_set_progress (struct Xva_rpc_ctx *c);
/* event.c */
int Xva_m_event_inject (struct Xva_rpc_ctx *c);
int Xva_m_event_from (struct Xva_rpc_ctx *c);
/* rpc.c */
int Xva_m_list_methods (struct Xva_rpc_ctx *c);

#endif
