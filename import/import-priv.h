/* Internals shared by import/vm.c (the handle, the sink, the commit)
 * and import/meta.c (the plan made from ova.xml). */
#ifndef XVA_IMPORT_IMPORT_PRIV_H
#define XVA_IMPORT_IMPORT_PRIV_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "import/import.h"

#if defined(__GNUC__) || defined(__clang__)
#define IM_PRINTF(a, b) __attribute__ ((format (printf, a, b)))
#else
#define IM_PRINTF(a, b)
#endif

#define IM_NULL_REF "OpaqueRef:NULL"
#define IM_REF_LEN (XVA_STORE_REF_MAX + 1)
#define IM_UUID_LEN (XVA_STORE_UUID_LEN + 1)

enum im_state { IM_READING, IM_EOF, IM_DONE, IM_FAILED };

/* What becomes of an object of ova.xml. */
enum im_act {
  IM_NONE = 0, /* nothing: references to it become null */
  IM_CREATE,   /* a new record (ref, uuid) */
  IM_MAP,      /* an object of the store (ref) */
};

struct im_obj {
  const char *cls; /* these three belong to the reader's meta */
  const char *id;
  const struct xva_value *snap;
  enum im_act act;
  int candidate; /* VDI (full import): may be created */
  int snapshot;  /* VM: is_a_snapshot */
  char ref[IM_REF_LEN];
  char uuid[IM_UUID_LEN];
  struct xva_value *rec; /* IM_CREATE: the record to put (owned) */
  long disk;             /* VDI: index of its staged image, or -1 */
  int64_t version;       /* VM: the version it gets */
  long replaces;         /* VM: index in repl, or -1 */
};

struct im_id {
  const char *id;
  size_t i;
};

/* A staged image. */
struct im_disk {
  int fd;   /* -1: the archive's data is dropped */
  long obj; /* the VDI object, or -1 */
  uint64_t size;
};

/* A reference to add to or remove from a set field of a record of the
 * store (the back references xapi keeps: SR.VDIs, VDI.VBDs,
 * network.VIFs). */
struct im_backref {
  char target[IM_REF_LEN];
  const char *field; /* a string constant */
  char ref[IM_REF_LEN];
  int add;
};

struct Xva_import {
  struct Xva_store *s;
  int restore, force, metadata_only, dry_run;
  struct Xva_vdi_map *map; /* copies */
  size_t nmap;
  unsigned threads;
  char task_uuid[IM_UUID_LEN];
  char sr_ref[IM_REF_LEN]; /* target SR ("" for metadata only) */
  char sr_uuid[IM_UUID_LEN];

  struct xva_reader *r;
  atomic_int cancelled;
  enum im_state state;
  int status; /* the failure's status */
  struct xva_value *error_info;
  char errmsg[1024];
  int http;
  uint64_t mismatches;
  pthread_mutex_t plock; /* guards prog */
  struct xva_progress prog;

  /* The plan (import/meta.c). */
  int planned;
  const struct xva_meta *meta;
  struct im_obj *objs;
  size_t nobjs;
  struct im_id *by_id;   /* objects sorted by id */
  struct im_disk *disks; /* in xva_meta_disk order */
  unsigned ndisks;
  char (*repl)[IM_REF_LEN]; /* VMs replaced by restore */
  size_t nrepl;
  struct im_backref *brefs;
  size_t nbrefs, cbrefs;
  int staging; /* the staging directory exists */
  char **busy; /* refs held in the busy set */
  size_t nbusy;
};

/* Records the failure (the first one wins) as XenAPI error_info [code,
 * params...] with an HTTP status and a message; returns status. */
int Xva_import_fail (struct Xva_import *im, int status, int http,
                     const char *code, const char *const *params,
                     size_t nparams, const char *fmt, ...) IM_PRINTF (7, 8);
/* Records SR_FULL [requested, maximum] (the size of the disks being
 * imported and the free space of the target SR); returns XVA_ENOSPC. */
int Xva_import_sr_full (struct Xva_import *im, const char *msg);
/* Holds ref in the busy set for the life of the import; exclusive
 * fails with XVA_EEXIST when it is already busy. */
int Xva_import_hold (struct Xva_import *im, const char *ref, int exclusive);
/* Queues a back reference edit for the commit. */
int Xva_import_backref (struct Xva_import *im, const char *target,
                        const char *field, const char *ref, int add);

/* Makes the plan from ova.xml (the reader's begin): checks, new refs
 * and uuids, the records, the staged images.  On failure the error is
 * recorded (Xva_import_fail) and returned. */
int Xva_import_plan (struct Xva_import *im, const struct xva_meta *m);
/* Frees the plan's records and closes the staged images. */
void Xva_import_plan_free (struct Xva_import *im);
/* A random locally administered unicast MAC into out (18 bytes). */
int Xva_import_new_mac (char *out);

#endif
