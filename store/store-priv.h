/* Internals shared by the files of store/. */
#ifndef XVA_STORE_STORE_PRIV_H
#define XVA_STORE_STORE_PRIV_H

#include <pthread.h>
#include <stddef.h>

#include <sqlite3.h>

#include "store/store.h"

#if defined(__GNUC__) || defined(__clang__)
#define XVA_STORE_PRINTF(a, b) __attribute__ ((format (printf, a, b)))
#else
#define XVA_STORE_PRINTF(a, b)
#endif

struct Xva_store {
  char *dir;             /* as given to open */
  int lock_fd;           /* <dir>/xva.lock, flock'd */
  pthread_mutex_t wlock; /* owns wdb while a txn runs */
  sqlite3 *wdb;          /* the write connection */
  pthread_mutex_t plock; /* guards the reader pool */
  pthread_cond_t pcond;  /* a reader came back */
  sqlite3 *readers[XVA_STORE_READERS];
  unsigned char rbusy[XVA_STORE_READERS];
  unsigned nreaders;
  struct Xva_store_sweep_report last_sweep;
};

struct Xva_store_txn {
  struct Xva_store *s;
  int failed; /* < 0: poisoned, commit refuses */
};

/* A connection borrowed for one call (see Xva_store_conn_get). */
struct Xva_store_conn {
  sqlite3 *db;
  int reader;                /* index in readers, or -1 */
  struct Xva_store_txn *own; /* a txn made for this call */
  struct Xva_store_txn *txn; /* the caller's txn, or NULL */
};

/* Sets the calling thread's message (prefixed by nothing: callers start
 * it with their name) and returns status. */
int Xva_store_error (int status, const char *fmt, ...) XVA_STORE_PRINTF (2, 3);
/* Maps an SQLite result code to a status and sets the message
 * "<fn>: <what>: <sqlite message>". */
int Xva_store_sqlite_error (sqlite3 *db, int rc, const char *fn,
                            const char *what);

/* Picks the connection for a call: t's (checked to belong to s), a
 * pooled reader (write 0, t NULL) or a new transaction of its own
 * (write 1, t NULL).  fn names the caller in messages. */
int Xva_store_conn_get (struct Xva_store *s, struct Xva_store_txn *t,
                        int write, struct Xva_store_conn *c, const char *fn);
/* Gives c back: a reader to the pool; its own transaction committed
 * when status is XVA_OK, else rolled back; the caller's transaction
 * poisoned if SQLite ended it after an error.  Returns the final
 * status. */
int Xva_store_conn_put (struct Xva_store *s, struct Xva_store_conn *c,
                        int status);

/* Checks a class name, ref or other bounded string argument. */
int Xva_store_check_class (const char *cls, const char *fn);
int Xva_store_check_ref (const char *ref, const char *fn);

/* Stores a user's salted hash through t (or its own transaction). */
int Xva_store_password_put (struct Xva_store *s, struct Xva_store_txn *t,
                            const char *user, const char *password);

/* Builds a new SR record (name, uuid, physical_size from statvfs of
 * path).  NULL on out of memory. */
struct xva_value *Xva_store_sr_record (const char *name, const char *uuid,
                                       const char *path);

/* Fills buf with n random bytes (getrandom).  XVA_OK or XVA_EIO. */
int Xva_store_random (void *buf, size_t n);
/* snprintf into buf[0..len); XVA_ELIMIT (with a message naming fn) when
 * it does not fit. */
int Xva_store_path (char *buf, size_t len, const char *fn, const char *fmt,
                    ...) XVA_STORE_PRINTF (4, 5);
/* fsync of a directory by path.  0 or -1 and errno. */
int Xva_store_fsync_dir (const char *path);
/* Creates a directory (mode 0700) and fsyncs its parent; an existing
 * directory is fine.  0 or -1 and errno. */
int Xva_store_mkdir (const char *path);
/* 0 if path is a directory (with follow, a link to one counts), else -1
 * and errno (ENOTDIR when it is something else). */
int Xva_store_is_dir (const char *path, int follow);
/* 1 if name is "<uuid>.img" (the uuid copied into uuid, which holds
 * XVA_STORE_UUID_LEN + 1 bytes), else 0. */
int Xva_store_image_name (const char *name, char *uuid);
/* Removes name (a file, or a directory and what it holds, up to depth
 * levels) under dirfd without following links.  0 or -1 and errno. */
int Xva_store_rmtree_at (int dirfd, const char *name, unsigned depth);
/* Marks the directory initialised, through t. */
int Xva_store_mark_initialised (struct Xva_store *s, struct Xva_store_txn *t);

#endif
