/* Where the client's archives go and come from.
 *
 * An output sink takes an export's bytes and makes them visible only
 * when told the archive is complete and checked: Xva_sink_open (pick the
 * kind by the target's form), Xva_sink_write (any number of times),
 * then exactly one of Xva_sink_commit (publish) or Xva_sink_abort
 * (remove every trace), then Xva_sink_free.  Kinds: a file (written as
 * `TARGET.tmp-XXXXXX` beside it, synced, renamed over TARGET on commit,
 * removed on abort), standard output (`-`: written as it comes; commit
 * and abort only flush), and an in-memory pipe to an input source
 * (xva copy).  A new kind (an object store, say) is one more set of
 * Xva_sink_ops, one more branch in Xva_sink_open, and, for --keep, one
 * more branch in Xva_target_list and Xva_target_remove.
 *
 * An input source gives an import its bytes: Xva_source_open (a file,
 * or `-` for standard input), Xva_source_size (exact size, or -1 when
 * unknown, which makes the upload stream with a fake length),
 * Xva_source_read until it returns 0, Xva_source_free.
 *
 * Every call returns an enum xva_status (XVA_ENOSPC for a full disk or
 * a file size limit, XVA_EIO for other I/O errors) and keeps a message
 * on the handle.  Nothing here prints.
 */
#ifndef XVA_CLIENT_SINK_H
#define XVA_CLIENT_SINK_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <xva/xva.h>

#define XVA_SINK_MSG_MAX 1024

struct Xva_sink;

struct Xva_sink_ops {
  const char *kind; /* "file", "stdout", "pipe", ... */
  int (*write) (struct Xva_sink *s, const void *buf, size_t n);
  int (*commit) (struct Xva_sink *s);
  void (*abort) (struct Xva_sink *s);
  void (*destroy) (struct Xva_sink *s); /* frees impl; NULL ok */
};

struct Xva_sink {
  const struct Xva_sink_ops *ops;
  char *name; /* the final name (path, "-", ...) */
  void *impl;
  int done; /* committed or aborted */
  int committed;
  uint64_t bytes;
  char errmsg[XVA_SINK_MSG_MAX];
};

/* Opens target: "-" standard output, anything else a file path.  *out
 * is the caller's (Xva_sink_free).  XVA_OK, or a status with a message
 * in err. */
int Xva_sink_open (const char *target, struct Xva_sink **out, char *err,
                   size_t errlen);
int Xva_sink_write (struct Xva_sink *s, const void *buf, size_t n);
/* Publishes the output; after a failure the output is aborted. */
int Xva_sink_commit (struct Xva_sink *s);
/* Removes the partial output (idempotent; nothing after a commit). */
void Xva_sink_abort (struct Xva_sink *s);
/* Aborts an output neither committed nor aborted, then frees.  NULL ok. */
void Xva_sink_free (struct Xva_sink *s);
const char *Xva_sink_errmsg (const struct Xva_sink *s);

/* Helper for new kinds: a sink with ops and impl, named name (copied).
 * NULL when out of memory (impl is then not touched). */
struct Xva_sink *Xva_sink_new (const struct Xva_sink_ops *ops,
                               const char *name, void *impl);
/* Stores a message on s; returns status. */
int Xva_sink_fail (struct Xva_sink *s, int status, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
  __attribute__ ((format (printf, 3, 4)))
#endif
  ;
/* Writes a message into err (errlen bytes; nothing when err is NULL) for
 * a failed open, listing or removal; returns status. */
int Xva_sink_err (char *err, size_t errlen, int status, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
  __attribute__ ((format (printf, 4, 5)))
#endif
  ;

/* ---- Input sources ------------------------------------------------------- */

struct Xva_source;

struct Xva_source_ops {
  const char *kind;
  /* > 0 bytes, 0 at the end, -1 on failure (message on the source). */
  ssize_t (*read) (struct Xva_source *src, void *buf, size_t n);
  void (*destroy) (struct Xva_source *src);
};

struct Xva_source {
  const struct Xva_source_ops *ops;
  char *name;
  void *impl;
  int64_t size; /* -1: unknown */
  int status;   /* of the failure of the last read */
  char errmsg[XVA_SINK_MSG_MAX];
};

/* Opens spec: "-" standard input (its size is known when it is a
 * regular file), else a file. */
int Xva_source_open (const char *spec, struct Xva_source **out, char *err,
                     size_t errlen);
ssize_t Xva_source_read (struct Xva_source *src, void *buf, size_t n);
int64_t Xva_source_size (const struct Xva_source *src);
const char *Xva_source_errmsg (const struct Xva_source *src);
void Xva_source_free (struct Xva_source *src); /* NULL ok */
struct Xva_source *Xva_source_new (const struct Xva_source_ops *ops,
                                   const char *name, void *impl, int64_t size);

/* ---- A pipe: a sink whose bytes an input source reads (xva copy) --------- */

/* The sink side may run in another thread than the source side.  Memory
 * is bounded (a few MiB): write blocks while the reader is behind.
 * Commit ends the stream (the source reads 0); abort makes the source's
 * next read fail (-1), so that the upload is reset, never ended.  The
 * source side's Xva_source_free makes later writes fail.  Both handles
 * must be freed; the shared state goes with the last. */
int Xva_pipe_new (struct Xva_sink **sink, struct Xva_source **source);

/* ---- Listing and removing outputs (--keep) ----------------------------- */

/* The names (not paths) of the entries directly in dir ("" or a path
 * ending in '/'; "" is the current directory).  *names is malloc'd, each
 * name too; free with Xva_target_names_free. */
int Xva_target_list (const char *dir, char ***names, size_t *n, char *err,
                     size_t errlen);
void Xva_target_names_free (char **names, size_t n);
/* Removes one output (dir + name). */
int Xva_target_remove (const char *target, char *err, size_t errlen);

/* ---- Output names -------------------------------------------------------- */

/* Expands {name} (name sanitised: letters, digits and . _ - + kept, other
 * bytes '_', no leading dot, at most 100 bytes), {uuid} and {date}
 * (YYYYMMDDTHHMMSSZ, UTC) in template into a new string.  NULL when out
 * of memory or for an unknown {...}. */
char *Xva_target_expand (const char *template, const char *name,
                         const char *uuid, int64_t when);
/* --keep: among the entries of template's directory that match template
 * with this name and uuid and any date, removes all but the newest keep
 * (by date), never `just_written`.  The template needs {date} once, in
 * its last component.  *removed counts the files removed.  notice (may
 * be NULL) hears about each removal. */
int Xva_target_prune (const char *template, const char *name, const char *uuid,
                      const char *just_written, unsigned keep,
                      unsigned *removed,
                      void (*notice) (void *opaque, const char *msg),
                      void *opaque, char *err, size_t errlen);
/* Whether template holds {date} once, in its last component. */
int Xva_target_has_date (const char *template);

#endif /* XVA_CLIENT_SINK_H */
