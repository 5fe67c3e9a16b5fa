/* The host's state for `xva serve`: XenAPI objects in SQLite, disks as
 * sparse files in SR directories, users with hashed passwords.
 *
 * Layout of a data directory:
 *
 *   <dir>/xva.db                        SQLite (WAL, synchronous=FULL)
 *   <dir>/xva.lock                      held (flock) while a handle is open
 *   <dir>/sr/<sr-uuid>/                 one directory per SR
 *   <dir>/sr/<sr-uuid>/<vdi-uuid>.img   a VDI's sparse raw image; the VDI
 *                                       record's `location` is its uuid
 *   <dir>/sr/<sr-uuid>/.import-<task>/  staging of a running import
 *
 * Records are XenAPI records (XML-RPC structs) stored as their compact
 * XML-RPC text, so every field survives.  Integers are written bare by
 * that encoding (as in ova.xml) and so read back as STRING values;
 * read them with xva_value_get_int, which takes both.
 *
 * Threads.  One handle serves every thread of a process.  It holds one
 * write connection behind a mutex and a small pool of read-only
 * connections.  Writers are serialised: a transaction (Xva_store_begin)
 * owns the write connection until it is committed or rolled back, so
 * keep transactions short (build records in memory first, then write
 * them all).  Reads without a transaction use a pooled connection and
 * see the last committed state; thanks to WAL they never wait for a
 * writer.  Reads given a transaction see its uncommitted writes.  A
 * thread that holds a transaction must pass it to its writes: a write
 * without it returns XVA_ESTATE instead of deadlocking.
 *
 * Processes.  One handle per data directory at a time: Xva_store_open
 * takes an exclusive lock and fails with XVA_ESTATE when another
 * process (or another handle) has the directory open.
 *
 * Errors.  Functions return an enum xva_status.  The message of the
 * calling thread's last failure is Xva_store_errmsg; it starts with the
 * function's name.
 *
 * Crash safety.  Every write is an SQLite transaction: a crash at any
 * moment leaves the old state or the new one.  Disk images are staged
 * in `.import-<task>/`, fsynced and renamed into place right before the
 * commit; the sweep at open removes staging directories and images that
 * no VDI record names.  Passwords are kept only as PBKDF2-HMAC-SHA256
 * hashes with a random salt.
 */
#ifndef XVA_STORE_STORE_H
#define XVA_STORE_STORE_H

#include <stddef.h>

#include <xva/xva.h>

#define XVA_STORE_SCHEMA_VERSION 1
#define XVA_STORE_REF_MAX 255       /* bytes of a ref */
#define XVA_STORE_CLASS_MAX 64      /* bytes of a class name */
#define XVA_STORE_UUID_MAX 255      /* bytes of a record's uuid field */
#define XVA_STORE_UUID_LEN 36       /* a canonical uuid */
#define XVA_STORE_NAME_MAX 4096     /* bytes of a name_label */
#define XVA_STORE_USER_MAX 255      /* bytes of a user name */
#define XVA_STORE_PASSWORD_MAX 1024 /* bytes of a password */
#define XVA_STORE_RECORD_MAX ((size_t) 64 << 20) /* record text */
#define XVA_STORE_PBKDF2_ITERATIONS 150000
#define XVA_STORE_READERS 8 /* pooled read connections */

struct Xva_store;     /* opaque; one per data directory */
struct Xva_store_txn; /* opaque; a write transaction */

/* What a sweep removed. */
struct Xva_store_sweep_report {
  unsigned staging_dirs;  /* `.import-*` directories */
  unsigned orphan_images; /* `<uuid>.img` that no VDI record names */
  unsigned empty_sr_dirs; /* empty SR directories no SR record names */
  unsigned failures;      /* entries that could not be removed */
};

/* Called with the path of each removed entry (or one that could not be
 * removed, with removed == 0) so that the caller can log it. */
typedef void (*Xva_store_sweep_fn) (void *opaque, const char *path,
                                    int removed);

/* ---- Handle ---------------------------------------------------------- */

/* Opens the data directory dir, creating it (mode 0700), `sr/` and the
 * database as needed, and sweeps leftovers of crashed imports (see
 * Xva_store_sweep; the result is kept for Xva_store_last_sweep).  A new
 * directory is empty until Xva_store_init.  On success *out is a new
 * handle the caller frees with Xva_store_close; on failure a message
 * goes to err[0..errlen) (err may be NULL).  Returns XVA_OK,
 * XVA_EINVAL (bad path), XVA_ESTATE (directory in use), XVA_EVERSION
 * (schema newer than this program), XVA_EIO, XVA_ENOMEM. */
int Xva_store_open (const char *dir, struct Xva_store **out, char *err,
                    size_t errlen);
/* Closes the handle.  No transaction may be open.  NULL is fine. */
void Xva_store_close (struct Xva_store *s);
/* The calling thread's last failure message ("" if none).  Valid until
 * the thread's next store call.  s may be NULL. */
const char *Xva_store_errmsg (const struct Xva_store *s);
/* The data directory (as given to open); valid until close. */
const char *Xva_store_dir (const struct Xva_store *s);

/* 1 if the directory holds an initialised host, 0 if not, < 0 error. */
int Xva_store_initialised (struct Xva_store *s);
/* Initialises a fresh directory in one transaction: a pool, one host
 * (name_label and hostname from gethostname, address 127.0.0.1, API
 * version 2.21), the default SR "Local storage" with its directory, and
 * the user `root` with root_password (required: NULL or "" gives
 * XVA_EINVAL).  XVA_EEXIST if already initialised. */
int Xva_store_init (struct Xva_store *s, const char *root_password);

/* ---- Transactions ---------------------------------------------------- */

/* Starts a write transaction (BEGIN IMMEDIATE) owned by the calling
 * thread; waits for other writers of this handle.  *out is freed by
 * exactly one of commit and rollback. */
int Xva_store_begin (struct Xva_store *s, struct Xva_store_txn **out);
/* Commits and frees t.  On failure the transaction is rolled back (and
 * t still freed).  XVA_ENOSPC when the disk is full.  When SQLite ends
 * a transaction by itself after an error (disk full, I/O error), the
 * transaction is poisoned: later calls through it fail with that error
 * and so does the commit, so nothing runs outside it. */
int Xva_store_commit (struct Xva_store_txn *t);
/* Rolls back and frees t.  NULL is fine. */
void Xva_store_rollback (struct Xva_store_txn *t);

/* ---- Records ----------------------------------------------------------
 * Every function takes t == NULL (reads: committed state on a pooled
 * connection; writes: their own short transaction) or a transaction of
 * s.  `cls` is a XenAPI class name ("VM", "VDI", "pool", ...). */

/* The record of ref.  cls_out (XVA_STORE_CLASS_MAX + 1 bytes, may be
 * NULL) gets its class; *rec (rec may be NULL: existence check) a new
 * tree the caller frees.  XVA_ENOTFOUND when no such ref. */
int Xva_store_get (struct Xva_store *s, struct Xva_store_txn *t,
                   const char *ref, char *cls_out, struct xva_value **rec);
/* The ref (XVA_STORE_REF_MAX + 1 bytes) of the object whose uuid field
 * is uuid, in class cls (NULL: any class; the oldest one wins).
 * cls_out as above.  XVA_ENOTFOUND when none. */
int Xva_store_find_uuid (struct Xva_store *s, struct Xva_store_txn *t,
                         const char *cls, const char *uuid, char *ref_out,
                         char *cls_out);

/* A result set: n refs and, when asked for, their records (recs[i] is
 * refs[i]'s).  Free the contents with Xva_store_list_free. */
struct Xva_store_list {
  size_t n;
  char **refs;
  struct xva_value **recs; /* NULL unless records were asked for */
};
/* Frees what l holds and zeroes it; l itself is the caller's.  NULL is
 * fine. */
void Xva_store_list_free (struct Xva_store_list *l);
/* Every object of class cls in insertion order; with_records 1 also
 * parses their records.  *out is filled on success, zeroed on
 * failure. */
int Xva_store_list (struct Xva_store *s, struct Xva_store_txn *t,
                    const char *cls, int with_records,
                    struct Xva_store_list *out);
/* The objects of class cls whose name_label is name (may be none). */
int Xva_store_by_name (struct Xva_store *s, struct Xva_store_txn *t,
                       const char *cls, const char *name, int with_records,
                       struct Xva_store_list *out);
/* Number of objects of class cls. */
int Xva_store_count (struct Xva_store *s, struct Xva_store_txn *t,
                     const char *cls, size_t *n);
/* Inserts or replaces the record of ref (rec must be a STRUCT; it is
 * copied, not taken).  The uuid and name_label columns follow the
 * record's `uuid` and `name_label` string fields.  XVA_EEXIST when ref
 * exists with another class, XVA_ELIMIT when the text exceeds
 * XVA_STORE_RECORD_MAX or a field is too long. */
int Xva_store_put (struct Xva_store *s, struct Xva_store_txn *t,
                   const char *ref, const char *cls,
                   const struct xva_value *rec);
/* Deletes ref.  XVA_ENOTFOUND when no such ref. */
int Xva_store_delete (struct Xva_store *s, struct Xva_store_txn *t,
                      const char *ref);
/* The pool's default_SR ref (XVA_STORE_REF_MAX + 1 bytes); XVA_ENOTFOUND
 * when there is no pool or its default_SR is null or names no SR. */
int Xva_store_default_sr (struct Xva_store *s, struct Xva_store_txn *t,
                          char *ref_out);

/* ---- Identifiers ----------------------------------------------------- */

/* A random (v4) uuid, lowercase, into out (XVA_STORE_UUID_LEN + 1). */
int Xva_store_new_uuid (char *out);
/* "OpaqueRef:<new uuid>" into out (XVA_STORE_REF_MAX + 1 bytes). */
int Xva_store_new_ref (char *out);
/* 1 if u is a canonical 8-4-4-4-12 hex uuid (all lowercase or all
 * uppercase), the only form allowed in a path; 0 otherwise. */
int Xva_store_uuid_valid (const char *u);

/* ---- Users ----------------------------------------------------------- */

/* Sets (creating the user if needed) the password of user.  Stores a
 * PBKDF2-HMAC-SHA256 hash with a new 16-byte salt.  XVA_EINVAL for an
 * empty password, XVA_ELIMIT for too long a name or password. */
int Xva_store_set_password (struct Xva_store *s, const char *user,
                            const char *password);
/* XVA_OK when password is user's, XVA_EAUTH when not (or no such
 * user), < 0 other errors.  Takes about as long either way. */
int Xva_store_check_password (struct Xva_store *s, const char *user,
                              const char *password);

/* ---- SRs and disks ----------------------------------------------------
 * Paths go to buf[0..len); XVA_ELIMIT when it is too small, XVA_EINVAL
 * when a uuid is not canonical. */

/* <dir>/sr/<sr_uuid> */
int Xva_store_sr_dir (const struct Xva_store *s, const char *sr_uuid,
                      char *buf, size_t len);
/* <dir>/sr/<sr_uuid>/<vdi_uuid>.img */
int Xva_store_vdi_path (const struct Xva_store *s, const char *sr_uuid,
                        const char *vdi_uuid, char *buf, size_t len);
/* Makes a directory SR named name: its directory, then its record (type
 * "ext", content_type "user", physical_size from statvfs).  ref_out
 * (XVA_STORE_REF_MAX + 1) and uuid_out (XVA_STORE_UUID_LEN + 1, may be
 * NULL) get the new SR's. */
int Xva_store_sr_create (struct Xva_store *s, const char *name, char *ref_out,
                         char *uuid_out);
/* Removes the image of a VDI whose record is gone (after VM.destroy, or
 * after a restore replaced it).  A missing file is fine. */
int Xva_store_vdi_remove (struct Xva_store *s, const char *sr_uuid,
                          const char *vdi_uuid);

/* ---- Staging of imports -----------------------------------------------
 * An import writes its disks as <staging>/<vdi-uuid>.img, then calls
 * Xva_store_staging_publish, then commits its records in one
 * transaction, then Xva_store_staging_remove.  On any failure it calls
 * Xva_store_staging_abort instead. */

/* Creates (mode 0700, existing is fine) and names the staging
 * directory <dir>/sr/<sr_uuid>/.import-<task_uuid>.  XVA_ENOTFOUND when
 * the SR directory does not exist. */
int Xva_store_staging_dir (struct Xva_store *s, const char *sr_uuid,
                           const char *task_uuid, char *buf, size_t len);
/* <staging>/<vdi_uuid>.img (does not create anything). */
int Xva_store_staging_path (const struct Xva_store *s, const char *sr_uuid,
                            const char *task_uuid, const char *vdi_uuid,
                            char *buf, size_t len);
/* Fsyncs the staged images of vdi_uuids[0..n) and renames each to its
 * final name in the SR directory (never over an existing file:
 * XVA_EEXIST), then fsyncs both directories.  On failure the images
 * already moved are moved back.  Call right before the commit. */
int Xva_store_staging_publish (struct Xva_store *s, const char *sr_uuid,
                               const char *task_uuid,
                               const char *const *vdi_uuids, size_t n);
/* Removes the staging directory and what it holds.  Missing is fine. */
int Xva_store_staging_remove (struct Xva_store *s, const char *sr_uuid,
                              const char *task_uuid);
/* After a failed import: removes the published images of
 * vdi_uuids[0..n) that no VDI record names, then the staging
 * directory. */
int Xva_store_staging_abort (struct Xva_store *s, const char *sr_uuid,
                             const char *task_uuid,
                             const char *const *vdi_uuids, size_t n);

/* ---- Sweep ------------------------------------------------------------ */

/* Removes every `.import-*` directory under every SR directory, every
 * `<uuid>.img` whose uuid no VDI record has, and SR directories that
 * are empty and named by no SR record.  fn (may be NULL) hears of each
 * entry; report (may be NULL) gets the counts.  Only safe while no
 * import runs: Xva_store_open runs it. */
int Xva_store_sweep (struct Xva_store *s, Xva_store_sweep_fn fn, void *opaque,
                     struct Xva_store_sweep_report *report);
/* The report of the sweep that Xva_store_open ran. */
void Xva_store_last_sweep (const struct Xva_store *s,
                           struct Xva_store_sweep_report *report);

/* ---- Consistency check ------------------------------------------------ */

/* What Xva_store_check found. */
struct Xva_store_check_report {
  unsigned vms;             /* VM records */
  unsigned vdis;            /* VDI records */
  unsigned images;          /* `<uuid>.img` files in SR directories */
  unsigned missing_images;  /* VDIs whose image is missing */
  unsigned orphan_images;   /* images that no VDI record names */
  unsigned staging_dirs;    /* `.import-*` directories */
  unsigned problems;        /* everything wrong, the above included */
  char problems_text[2048]; /* the first problems, one a line */
};

/* Checks the directory: SQLite's PRAGMA integrity_check; every VM
 * whole (its VBDs and VIFs exist and name it, the VDIs of its VBDs
 * exist); no VBD or VIF of a missing VM; every VDI's SR exists; every
 * SR's directory exists, holds the image of each of its VDIs and no
 * image that no VDI names, and no staging directory.  Read-only (note
 * that Xva_store_open sweeps leftovers first).  Returns XVA_OK when the
 * check ran, whatever it found (rep->problems), else a status. */
int Xva_store_check (struct Xva_store *s, struct Xva_store_check_report *rep);

#endif
