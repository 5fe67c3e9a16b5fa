/* xva: read and write XVA archives (XenServer / XCP-ng VM exports).
 *
 * An XVA archive is a tar stream: `ova.xml` (one XML-RPC value holding
 * the VM's XenAPI records) followed by each disk in 1 MiB chunks named
 * `Ref:N/%08d`, each chunk followed by its checksum entry (`.xxhash`,
 * XXH64, or `.checksum`, SHA-1), then two 512-byte zero blocks.  The
 * whole stream may be gzip or zstd compressed.
 *
 * Conventions:
 * - Every function that can fail returns an `enum xva_status` (or NULL
 *   and a status through `int *status`).  Handles keep a message that
 *   says what failed, where and why (`xva_*_errmsg`).
 * - The library never prints and never exits.
 * - Strings returned as `const char *` belong to the object they come
 *   from and stay valid until it is changed or freed.
 * - Callback bundles are {fn..., opaque, free}: `free` (may be NULL) runs
 *   exactly once, when the handle is freed or its constructor fails.
 */
#ifndef XVA_XVA_H
#define XVA_XVA_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) || defined(__clang__)
#define XVA_API __attribute__ ((visibility ("default")))
#else
#define XVA_API
#endif

#define XVA_VERSION_STRING "0.1.0"

/* ------------------------------------------------------------------ */
/* Status codes.  ABI: numbers are stable and never reused.             */

enum xva_status {
  XVA_OK = 0,
  XVA_EOF = 1,          /* the stream or archive ended normally */
  XVA_ENOMEM = -1,      /* out of memory */
  XVA_EIO = -2,         /* a read or write failed (see errmsg) */
  XVA_EFORMAT = -3,     /* not a valid XVA archive */
  XVA_ECHECKSUM = -4,   /* a chunk does not match its checksum */
  XVA_ESTATE = -5,      /* call not valid in this state */
  XVA_EINVAL = -6,      /* bad argument */
  XVA_ELIMIT = -7,      /* input exceeds a bound */
  XVA_ETRUNCATED = -8,  /* input ended before the archive did */
  XVA_EVERSION = -9,    /* unsupported or incompatible version */
  XVA_ECOMPRESS = -10,  /* corrupt compressed stream */
  XVA_ENOSPC = -11,     /* no space left where data is written */
  XVA_ECANCELLED = -12, /* the operation was cancelled */
  XVA_ENOTFOUND = -13,  /* an object was not found */
  XVA_EAUTH = -14,      /* authentication failed */
  XVA_ENET = -15,       /* network failure */
  XVA_EEXIST = -16,     /* the target already exists */
  XVA_ESERVER = -17,    /* the server reported a failure */
};

/* A short English description of a status; never NULL. */
XVA_API const char *xva_strerror (int status);
/* The enum constant's name ("XVA_EFORMAT"); "XVA_UNKNOWN" if none. */
XVA_API const char *xva_status_name (int status);

/* ------------------------------------------------------------------ */
/* Buffers (caller-owned; `pos` is advanced by the library).             */

struct xva_in {
  const void *src;
  size_t size;
  size_t pos;
};

struct xva_out {
  void *dst;
  size_t size;
  size_t pos;
};

/* ------------------------------------------------------------------ */
/* Checksums                                                            */

enum xva_checksum {
  XVA_CHECKSUM_XXHASH = 0, /* XXH64 seed 0, 16 uppercase hex digits */
  XVA_CHECKSUM_SHA1 = 1,   /* SHA-1, 40 lowercase hex digits */
};

#define XVA_CHECKSUM_HEX_MAX 40

/* Writes the checksum of buf[0..n) as XVA writes it, NUL-terminated,
 * into out (at least XVA_CHECKSUM_HEX_MAX + 1 bytes).  Returns the
 * number of hex digits (16 or 40), or -1 for an unknown kind. */
XVA_API int xva_checksum_hex (int kind, const void *buf, size_t n, char *out);
/* The entry-name extension of a kind: ".xxhash" or ".checksum". */
XVA_API const char *xva_checksum_ext (int kind);
/* The kind's name: "xxhash" or "sha1"; NULL for an unknown kind. */
XVA_API const char *xva_checksum_name (int kind);

/* 1 if buf[0..n) is all zero bytes, else 0. */
XVA_API int xva_is_zero (const void *buf, size_t n);

/* ------------------------------------------------------------------ */
/* Compression                                                          */

enum xva_compress {
  XVA_COMPRESS_NONE = 0,
  XVA_COMPRESS_GZIP = 1,
  XVA_COMPRESS_ZSTD = 2,
};

/* "none", "gzip", "zstd"; NULL for an unknown value. */
XVA_API const char *xva_compress_name (int compress);

/* ------------------------------------------------------------------ */
/* XML-RPC values: the records of ova.xml and of the XenAPI wire.       */

enum xva_type {
  XVA_TYPE_STRING = 1,
  XVA_TYPE_INT = 2,
  XVA_TYPE_BOOL = 3,
  XVA_TYPE_DOUBLE = 4,
  XVA_TYPE_DATE = 5, /* dateTime.iso8601, kept as its text */
  XVA_TYPE_ARRAY = 6,
  XVA_TYPE_STRUCT = 7, /* members keep their order; keys are unique */
  XVA_TYPE_NIL = 8,    /* <nil/> and JSON null */
};

struct xva_value; /* opaque; a tree owned by its root */

/* Bounds for parsing untrusted XML or JSON.  Zero fields take the
 * defaults of xva_limits_init. */
struct xva_limits {
  size_t max_bytes;  /* input size (default 64 MiB) */
  size_t max_depth;  /* nesting of arrays and structs (default 64) */
  size_t max_nodes;  /* values in the tree (default 4 Mi) */
  size_t max_string; /* one string or key (default 16 MiB) */
};
XVA_API void xva_limits_init (struct xva_limits *lim);

/* Constructors return NULL when out of memory.  Strings are copied. */
XVA_API struct xva_value *xva_value_new_string (const char *s);
XVA_API struct xva_value *xva_value_new_stringn (const char *s, size_t n);
XVA_API struct xva_value *xva_value_new_int (int64_t i);
XVA_API struct xva_value *xva_value_new_bool (int b);
XVA_API struct xva_value *xva_value_new_double (double d);
XVA_API struct xva_value *xva_value_new_date (const char *iso8601);
XVA_API struct xva_value *xva_value_new_array (void);
XVA_API struct xva_value *xva_value_new_struct (void);
XVA_API struct xva_value *xva_value_new_nil (void);
/* A deep copy; NULL when out of memory or v is NULL. */
XVA_API struct xva_value *xva_value_copy (const struct xva_value *v);
/* Frees v and everything below it.  NULL is fine.  Never free a value
 * that belongs to an array or struct. */
XVA_API void xva_value_free (struct xva_value *v);

XVA_API enum xva_type xva_value_type (const struct xva_value *v);
/* The text of a STRING or DATE value, NUL-terminated; NULL otherwise. */
XVA_API const char *xva_value_string (const struct xva_value *v);
/* 0 and *out for an INT, or a STRING holding a decimal integer that
 * fits; -1 otherwise. */
XVA_API int xva_value_get_int (const struct xva_value *v, int64_t *out);
/* 0 and *out (0 or 1) for a BOOL, or a STRING "true"/"false"/"1"/"0";
 * -1 otherwise. */
XVA_API int xva_value_get_bool (const struct xva_value *v, int *out);
/* 0 and *out for a DOUBLE or INT, or a STRING holding a number. */
XVA_API int xva_value_get_double (const struct xva_value *v, double *out);

/* Number of items of an ARRAY or members of a STRUCT; 0 otherwise. */
XVA_API size_t xva_value_len (const struct xva_value *v);
/* Item i of an ARRAY (or the value of member i of a STRUCT); NULL when
 * out of range. */
XVA_API struct xva_value *xva_value_at (const struct xva_value *v, size_t i);
/* Key of member i of a STRUCT; NULL when out of range. */
XVA_API const char *xva_value_key_at (const struct xva_value *v, size_t i);
/* The member of a STRUCT named key; NULL if none. */
XVA_API struct xva_value *xva_value_get (const struct xva_value *v,
                                         const char *key);
/* Shortcut: the string of member key, or NULL. */
XVA_API const char *xva_value_get_string (const struct xva_value *v,
                                          const char *key);

/* Appends item to an ARRAY.  Takes ownership of item in every case (it
 * is freed on failure).  0 or -1 (not an array, or out of memory). */
XVA_API int xva_value_append (struct xva_value *array, struct xva_value *item);
/* Sets member key of a STRUCT, replacing (and freeing) an old value in
 * place or adding it at the end.  Takes ownership of item in every
 * case.  0 or -1. */
XVA_API int xva_value_set (struct xva_value *st, const char *key,
                           struct xva_value *item);
/* Shortcuts for xva_value_set with a new STRING / INT / BOOL value. */
XVA_API int xva_value_set_string (struct xva_value *st, const char *key,
                                  const char *s);
XVA_API int xva_value_set_int (struct xva_value *st, const char *key,
                               int64_t i);
XVA_API int xva_value_set_bool (struct xva_value *st, const char *key, int b);
/* Removes and frees member key; 0 if it was there, -1 if not. */
XVA_API int xva_value_remove (struct xva_value *st, const char *key);

/* Serialises v as one compact XML-RPC <value> element, as xapi writes
 * ova.xml: no declaration, no whitespace, ints bare, strings bare and
 * escaped (control bytes other than TAB, LF, CR dropped).  *out is
 * malloc'd and NUL-terminated; the caller frees it.  XVA_OK or
 * XVA_ENOMEM. */
XVA_API int xva_value_to_xml (const struct xva_value *v, char **out,
                              size_t *len);
/* Parses a document whose root element is <value> (compact or
 * indented, with or without a declaration).  No network access, no
 * entity expansion, no DTD loading; lim (NULL: defaults) bounds the
 * input.  On success *out is a new tree the caller frees.  On failure
 * returns XVA_EFORMAT / XVA_ELIMIT / XVA_ENOMEM and, when err is not
 * NULL, a message in err[0..errlen). */
XVA_API int xva_value_from_xml (const char *xml, size_t len,
                                const struct xva_limits *lim,
                                struct xva_value **out, char *err,
                                size_t errlen);

/* JSON forms (for JSON-RPC): INT as an integer, DOUBLE as a number,
 * BOOL as true/false, DATE as its string, NIL as null.  Parsing maps
 * integers to INT, other numbers to DOUBLE, strings to STRING. */
XVA_API int xva_value_to_json (const struct xva_value *v, char **out,
                               size_t *len);
XVA_API int xva_value_from_json (const char *json, size_t len,
                                 const struct xva_limits *lim,
                                 struct xva_value **out, char *err,
                                 size_t errlen);

/* XML-RPC messages.  parse_call sets *method (malloc'd) and *params (an
 * ARRAY).  format_response wraps v as <methodResponse><params><param>.
 * format_call builds a <methodCall>.  parse_response returns the
 * response's value, or for a <fault> a STRUCT with faultCode and
 * faultString and status XVA_ESERVER.  Same error conventions as
 * xva_value_from_xml. */
XVA_API int xva_xmlrpc_parse_call (const char *xml, size_t len,
                                   const struct xva_limits *lim, char **method,
                                   struct xva_value **params, char *err,
                                   size_t errlen);
XVA_API int xva_xmlrpc_format_response (const struct xva_value *v, char **out,
                                        size_t *len);
XVA_API int xva_xmlrpc_format_call (const char *method,
                                    const struct xva_value *params, char **out,
                                    size_t *len);
XVA_API int xva_xmlrpc_parse_response (const char *xml, size_t len,
                                       const struct xva_limits *lim,
                                       struct xva_value **out, char *err,
                                       size_t errlen);

/* ------------------------------------------------------------------ */
/* ova.xml: the archive's metadata                                      */

/* A disk whose data the archive streams: the VDI of a VBD that is not a
 * CD and whose SR is not an ISO SR, or a suspend VDI.  All pointers
 * belong to the xva_meta it came from. */
struct xva_disk {
  const char *id;              /* "Ref:N": the chunk entries' prefix */
  uint64_t virtual_size;       /* bytes of data the archive holds */
  const char *vdi_uuid;        /* "" if the record has none */
  const char *name_label;      /* "" if none */
  const char *userdevice;      /* of the VBD using it ("0", "1", ...); "" */
  const char *type;            /* VDI type: "user", "system", "suspend"... */
  const struct xva_value *vdi; /* the VDI record */
};

struct xva_meta; /* opaque: a parsed, checked ova.xml */

/* Parses and checks ova.xml: the top-level struct with `version` and
 * `objects`, the version keys, each object's class, id and snapshot,
 * and the streamed disks (bounded in number and size).  The legacy
 * `<appliance version="0.1">` format gives XVA_EVERSION with a message
 * that names it.  On success *out is a new object the caller frees with
 * xva_meta_free. */
XVA_API int xva_meta_parse (const char *xml, size_t len,
                            const struct xva_limits *lim,
                            struct xva_meta **out, char *err, size_t errlen);
/* The same checks on a tree built in memory.  Takes ownership of root
 * in every case. */
XVA_API int xva_meta_from_value (struct xva_value *root, struct xva_meta **out,
                                 char *err, size_t errlen);
XVA_API void xva_meta_free (struct xva_meta *m);

/* The whole tree (a STRUCT with `version` and `objects`). */
XVA_API const struct xva_value *xva_meta_root (const struct xva_meta *m);
/* The `version` struct. */
XVA_API const struct xva_value *xva_meta_version (const struct xva_meta *m);
/* version.export_vsn (0 when absent). */
XVA_API int64_t xva_meta_export_vsn (const struct xva_meta *m);
/* The objects, in file order. */
XVA_API size_t xva_meta_nobjects (const struct xva_meta *m);
XVA_API const char *xva_meta_object_class (const struct xva_meta *m, size_t i);
XVA_API const char *xva_meta_object_id (const struct xva_meta *m, size_t i);
XVA_API const struct xva_value *xva_meta_object (const struct xva_meta *m,
                                                 size_t i);
/* The snapshot of the object with that id, or NULL (a `Ref:` that names
 * no object is a null reference). */
XVA_API const struct xva_value *xva_meta_find (const struct xva_meta *m,
                                               const char *id);
/* The streamed disks in stream order (byte-wise order of their id). */
XVA_API unsigned xva_meta_ndisks (const struct xva_meta *m);
XVA_API const struct xva_disk *xva_meta_disk (const struct xva_meta *m,
                                              unsigned i);

/* What `xva pack` puts in an archive. */
struct xva_vm_spec {
  const char *name;        /* VM name_label */
  const char *description; /* may be NULL */
  uint64_t memory;         /* bytes */
  unsigned vcpus;
  unsigned ndisks;
  const uint64_t *disk_sizes;    /* virtual size of each disk, bytes */
  const char *const *disk_names; /* VDI name_label of each (NULL: auto) */
  unsigned nvifs;                /* VIFs on one network, 0 for none */
};
/* Builds a complete ova.xml tree for a new halted VM: the version
 * header, then VM, VBDs (userdevice 0, 1, ...; devices xvda, xvdb...),
 * VIFs, network, VDIs and one SR, with full XenAPI records and fresh
 * uuids.  Disk i is the i-th VDI; ids are Ref:0 (the VM), Ref:1, ....
 * NULL and *status on failure. */
XVA_API struct xva_value *xva_meta_build_vm (const struct xva_vm_spec *spec,
                                             int *status);
/* The `version` struct this program writes (xapi_major/minor, vsn 2). */
XVA_API struct xva_value *xva_meta_version_new (void);

/* ------------------------------------------------------------------ */
/* Writing archives                                                     */

/* How the writer reads disks.  `disk` is the index into the disks array
 * given to xva_writer_new.  Functions return 0, or -1 with errno set. */
struct xva_source_io {
  /* Reads exactly n bytes at off (n > 0, off + n <= disk size). */
  int (*pread) (void *opaque, unsigned disk, void *buf, size_t n,
                uint64_t off);
  /* Optional (NULL: all of the disk is data).  Sets *start and *end to
   * the first extent of data at or after off, with end > start; or both
   * to the disk size when only holes follow.  Holes read as zeros. */
  int (*extent) (void *opaque, unsigned disk, uint64_t off, uint64_t *start,
                 uint64_t *end);
  void *opaque;
  void (*free) (void *opaque);
};

struct xva_writer_disk {
  const char *id; /* "Ref:N", as in ova.xml (copied) */
  uint64_t size;  /* virtual size in bytes */
};

struct xva_writer_opts {
  int checksum;          /* enum xva_checksum (default XXHASH) */
  int compress;          /* enum xva_compress (default NONE) */
  int level;             /* compression level; 0: 1 (fastest) */
  unsigned keepalive_ms; /* silence before a keep-alive (default 5000);
                            UINT32_MAX: never */
  unsigned threads;      /* worker threads; 0: one per core */
  int64_t mtime;         /* ova.xml mtime; -1: now (default) */
};
XVA_API void xva_writer_opts_init (struct xva_writer_opts *o);

/* Progress of a transfer.  `done` and `total` count disk bytes
 * (processed, sent or skipped); bytes counts archive bytes out. */
struct xva_progress {
  uint64_t done;
  uint64_t total;
  uint64_t bytes;
  uint64_t chunks;
};

struct xva_writer;

/* A writer of one archive: ova_xml (copied) then the disks (a metadata
 * export when ndisks is 0).  Disks are written in byte-wise order of
 * their id; each disk's size must match its VDI's virtual_size.  io is
 * taken over in every case.  NULL and *status on failure. */
XVA_API struct xva_writer *xva_writer_new (const char *ova_xml, size_t len,
                                           const struct xva_writer_disk *disks,
                                           unsigned ndisks,
                                           const struct xva_writer_opts *o,
                                           struct xva_source_io io,
                                           int *status);
/* Fills out->dst[out->pos..size).  XVA_OK: pos advanced, call again;
 * XVA_EOF: the archive is complete (pos may have advanced); < 0: error,
 * see errmsg; the handle is then poisoned. */
XVA_API int xva_writer_step (struct xva_writer *w, struct xva_out *out);
/* Zero-copy variant: *buf and *len are the next piece of the archive, valid
 * until the next call on w.  XVA_OK (len > 0), XVA_EOF (len 0), < 0.
 * Do not mix with xva_writer_step on one handle. */
XVA_API int xva_writer_next (struct xva_writer *w, const void **buf,
                             size_t *len);
XVA_API void xva_writer_progress (const struct xva_writer *w,
                                  struct xva_progress *p);
XVA_API const char *xva_writer_errmsg (const struct xva_writer *w);
XVA_API void xva_writer_free (struct xva_writer *w);

/* ------------------------------------------------------------------ */
/* Reading archives                                                     */

/* Where the reader sends what it verified.  Functions return 0, or -1
 * with errno set (the reader then fails with XVA_EIO, or XVA_ENOSPC for
 * ENOSPC/EFBIG/EDQUOT, XVA_ECANCELLED for ECANCELED). */
struct xva_sink_io {
  /* Optional: called once ova.xml is parsed and checked, before any
   * disk data.  m stays valid until the reader is freed. */
  int (*begin) (void *opaque, const struct xva_meta *m);
  /* Optional: n verified bytes of disk `disk` (index in xva_meta_disk
   * order) at off.  Ranges the archive skips are zeros and are never
   * written. */
  int (*pwrite) (void *opaque, unsigned disk, const void *buf, size_t n,
                 uint64_t off);
  /* Optional: a checksum mismatch kept by force mode
   * (XVA_ECHECKSUM), or a warning (XVA_OK), with its message. */
  void (*notice) (void *opaque, int status, const char *msg);
  void *opaque;
  void (*free) (void *opaque);
};

enum xva_meta_mode {
  XVA_READ_FULL = 0,     /* disks must follow ova.xml */
  XVA_READ_METADATA = 1, /* ova.xml only; disk data is an error */
  XVA_READ_ANY = 2,      /* either (verify, inspect) */
};

struct xva_reader_opts {
  int force;                /* keep going past checksum mismatches */
  int mode;                 /* enum xva_meta_mode */
  struct xva_limits limits; /* for ova.xml */
  unsigned max_disks;       /* default 1024 */
  uint64_t max_disk_size;   /* default 64 TiB */
  uint64_t max_chunk;       /* largest data entry, default 16 MiB */
  unsigned threads;         /* hashing workers; 0: one per core */
  int require_end;          /* the end marker must be there: judging a
                               stored archive, not importing one (xapi's
                               importer stops after the last disk) */
};
XVA_API void xva_reader_opts_init (struct xva_reader_opts *o);

struct xva_reader;

/* io is taken over in every case.  NULL and *status on failure. */
XVA_API struct xva_reader *xva_reader_new (const struct xva_reader_opts *o,
                                           struct xva_sink_io io, int *status);
/* Feeds input in pieces of any size.  XVA_OK: all of in was used, feed
 * more; XVA_EOF: the archive is complete (in->pos tells how much was
 * used; the rest is not part of it); < 0: error (poisons the handle). */
XVA_API int xva_reader_feed (struct xva_reader *r, struct xva_in *in);
/* At the end of the input: XVA_OK if the archive is complete (end
 * marker seen, or every disk complete unless require_end), else
 * XVA_ETRUNCATED. */
XVA_API int xva_reader_finish (struct xva_reader *r);
/* The parsed ova.xml, or NULL before it was read. */
XVA_API const struct xva_meta *xva_reader_meta (const struct xva_reader *r);

struct xva_reader_stats {
  uint64_t bytes_in;       /* bytes fed (compressed) */
  uint64_t bytes_tar;      /* bytes of tar stream */
  uint64_t data_bytes;     /* disk bytes in data entries */
  uint64_t chunks;         /* data entries, keep-alives included */
  uint64_t keepalives;     /* zero-length data entries */
  uint64_t mismatches;     /* checksum mismatches (force mode) */
  int compress;            /* enum xva_compress, detected */
  unsigned checksum_kinds; /* bit (1 << kind) for each kind seen */
  int metadata_only;       /* ended after ova.xml */
  int complete;            /* the whole archive was read */
};
XVA_API void xva_reader_stats (const struct xva_reader *r,
                               struct xva_reader_stats *s);

struct xva_disk_stats {
  uint64_t chunks;         /* data entries */
  uint64_t data_bytes;     /* bytes in data entries */
  uint64_t position;       /* position reached (the position rule) */
  unsigned checksum_kinds; /* bit (1 << kind) per kind seen */
  int complete;            /* position reached virtual_size */
};
/* 0, or -1 when disk is out of range. */
XVA_API int xva_reader_disk_stats (const struct xva_reader *r, unsigned disk,
                                   struct xva_disk_stats *s);
XVA_API void xva_reader_progress (const struct xva_reader *r,
                                  struct xva_progress *p);
XVA_API const char *xva_reader_errmsg (const struct xva_reader *r);
XVA_API void xva_reader_free (struct xva_reader *r);

/* ------------------------------------------------------------------ */
/* Disk files                                                           */

/* A source reading disk i from fds[i] with pread, skipping holes with
 * SEEK_DATA/SEEK_HOLE.  The fds are not closed. */
XVA_API struct xva_source_io xva_source_fds (const int *fds, unsigned n);
/* Writes buf at off of fd, leaving holes where whole 4 KiB blocks are
 * zero (the file must read as zeros there already, for instance a new
 * sparse file).  0, or -1 and errno. */
XVA_API int xva_pwrite_sparse (int fd, const void *buf, size_t n,
                               uint64_t off);

/* ------------------------------------------------------------------ */
/* Object storage (S3)                                                  */
/*
 * Archives can be written to and read from S3-compatible object storage
 * (AWS S3, Ceph RADOS Gateway, MinIO...) at addresses `s3://bucket/key`:
 * the bucket follows S3's rules (3-63 of a-z 0-9 . -), the key is 1-1024
 * bytes without control characters or `.` / `..` segments.  Requests are
 * signed with AWS Signature Version 4.
 *
 * Uploads stream as multipart uploads: parts of opts.part_size (growing
 * for very large objects), several in flight, with memory bounded by
 * opts.max_memory.  Nothing is visible at the key until
 * xva_s3_upload_complete succeeds; a failed, aborted or freed upload
 * leaves no object and no pending multipart upload behind.  Downloads are
 * ranged GETs, several in flight, delivered in order; a range that fails
 * is resumed from the byte where it stopped.
 *
 * Errors: XVA_EAUTH (the credentials were refused), XVA_ENOTFOUND (no
 * such bucket or key), XVA_ENET (connection, TLS or timeout), XVA_ESERVER
 * (any other error the server reported), XVA_EINVAL (a bad address or
 * option).  One-shot calls write a message into err[0..errlen) when err
 * is not NULL; handles keep theirs (`_errmsg`).  Each handle is used by
 * one thread at a time and runs worker threads of its own.
 */

/* Where and how to connect.  The strings belong to the caller; every
 * call and constructor that takes opts copies what it needs, so they
 * only need to live during that call. */
struct xva_s3_opts {
  const char *endpoint;   /* "http(s)://host[:port]"; required */
  const char *region;     /* signing region; NULL: "us-east-1" */
  const char *access_key; /* required */
  const char *secret_key; /* required */
  const char *ca_file;    /* PEM bundle for TLS; NULL: system store */
  int insecure;           /* 1: do not verify the TLS peer */
  int path_style;         /* 1 (default): http://host/bucket/key;
                           * 0: http://bucket.host/key */
  size_t part_size;       /* first upload part; 0: 8 MiB; >= 5 MiB */
  size_t range_size;      /* download range; 0: 8 MiB */
  unsigned parallel;      /* transfers in flight; 0: 4; at most 32 */
  size_t max_memory;      /* buffers of one handle; 0: 128 MiB */
  unsigned retries;       /* retries of a failed request (with a
                           * growing pause); 0: 4; at most 20 */
};

/* Sets every field to its default (endpoint and keys NULL). */
XVA_API void xva_s3_opts_init (struct xva_s3_opts *o);
/* Fills the connection fields from the environment: XVA_S3_ENDPOINT,
 * XVA_S3_REGION (or AWS_REGION, AWS_DEFAULT_REGION), XVA_S3_ACCESS_KEY
 * (or AWS_ACCESS_KEY_ID), XVA_S3_SECRET_KEY (or AWS_SECRET_ACCESS_KEY),
 * XVA_S3_CA_FILE, XVA_S3_INSECURE=1, XVA_S3_PATH_STYLE=0|1.  Unset
 * variables leave their fields alone; the pointers are getenv's.
 * XVA_OK, or XVA_EINVAL when endpoint or keys are still missing. */
XVA_API int xva_s3_opts_from_env (struct xva_s3_opts *o);

/* 1 if s starts with "s3://", else 0 (s may be NULL). */
XVA_API int xva_s3_is_url (const char *s);
/* Checks an s3:// address: XVA_OK, or XVA_EINVAL with a message.  With
 * need_key a key is required (an object), else it may be empty or a
 * prefix. */
XVA_API int xva_s3_url_check (const char *url, int need_key, char *err,
                              size_t errlen);

/* A metadata pair, sent as x-amz-meta-<name>: names of A-Z a-z 0-9 - _
 * (sent lower case), values of printable ASCII; at most 32 pairs and
 * 2 KiB in all. */
struct xva_s3_pair {
  const char *name;
  const char *value;
};

/* Checks that the bucket of url exists and that the credentials are
 * accepted, with one small listing request.  Credentials that may
 * write but not list (AccessDenied on the listing) count as XVA_OK. */
XVA_API int xva_s3_bucket_check (const struct xva_s3_opts *o, const char *url,
                                 char *err, size_t errlen);

/* DELETEs the object at url.  Deleting a key that does not exist
 * succeeds. */
XVA_API int xva_s3_delete (const struct xva_s3_opts *o, const char *url,
                           char *err, size_t errlen);

/* ---- Streaming upload ---- */

struct xva_s3_upload; /* opaque */

/* Starts an upload to url (an object) with nmeta metadata pairs (copied).
 * expected_size is a hint for the part size (0: unknown).  Nothing is
 * sent until the first part is full.  NULL with *status (and a message
 * in err) on failure.  Free with xva_s3_upload_free. */
XVA_API struct xva_s3_upload *xva_s3_upload_new (
  const struct xva_s3_opts *o, const char *url, const struct xva_s3_pair *meta,
  size_t nmeta, uint64_t expected_size, int *status, char *err, size_t errlen);
/* Appends buf[0..len).  Blocks while every part buffer is in use.  An
 * error poisons the handle (then abort or free it). */
XVA_API int xva_s3_upload_write (struct xva_s3_upload *u, const void *buf,
                                 size_t len);
/* Sends the last part, waits for all, completes the upload and checks
 * the object's size with HEAD.  On failure the upload is aborted. */
XVA_API int xva_s3_upload_complete (struct xva_s3_upload *u);
/* Stops the transfers and aborts the multipart upload: no object and no
 * pending upload is left.  Idempotent; XVA_ESTATE after a completion. */
XVA_API int xva_s3_upload_abort (struct xva_s3_upload *u);

struct xva_s3_upload_stats {
  uint64_t bytes;        /* written so far */
  unsigned parts;        /* parts sent or being sent */
  unsigned retries;      /* part transfers that failed and were retried */
  unsigned max_inflight; /* the most parts in flight at once */
};
XVA_API void xva_s3_upload_stats (const struct xva_s3_upload *u,
                                  struct xva_s3_upload_stats *s);
/* The last failure, starting with the call's name; valid until the next
 * call on u. */
XVA_API const char *xva_s3_upload_errmsg (const struct xva_s3_upload *u);
/* Aborts an upload that was not completed, then frees u.  NULL ok. */
XVA_API void xva_s3_upload_free (struct xva_s3_upload *u);

/* ---- Streaming download ---- */

struct xva_s3_download; /* opaque */

/* HEADs url (size, ETag, metadata), then fetches it in ranges, several
 * in flight, each bound to that ETag so that a replaced object fails
 * instead of mixing.  NULL with *status (and err) on failure. */
XVA_API struct xva_s3_download *xva_s3_download_new (
  const struct xva_s3_opts *o, const char *url, int *status, char *err,
  size_t errlen);
/* The object's size. */
XVA_API uint64_t xva_s3_download_size (const struct xva_s3_download *d);
/* The value of metadata `name` (without "x-amz-meta-"; case-insensitive),
 * or NULL.  Valid until d is freed. */
XVA_API const char *xva_s3_download_meta (const struct xva_s3_download *d,
                                          const char *name);
/* Copies the next bytes, in order, into buf[0..len), blocking until they
 * arrive: XVA_OK with *nread > 0, XVA_EOF with *nread 0 after the last
 * byte, < 0 on failure (poisons the handle). */
XVA_API int xva_s3_download_read (struct xva_s3_download *d, void *buf,
                                  size_t len, size_t *nread);
/* Range transfers that failed and were resumed. */
XVA_API unsigned xva_s3_download_retries (const struct xva_s3_download *d);
XVA_API const char *xva_s3_download_errmsg (const struct xva_s3_download *d);
/* Stops the transfers and frees d.  NULL ok. */
XVA_API void xva_s3_download_free (struct xva_s3_download *d);

/* ---- Listings ---- */

struct xva_s3_listing; /* opaque; owns everything it returns */

enum xva_s3_list_flags {
  XVA_S3_LIST_META = 1,    /* HEAD each object for its metadata */
  XVA_S3_LIST_PENDING = 2, /* pending multipart uploads, not objects */
};

/* The objects (or, with XVA_S3_LIST_PENDING, the pending multipart
 * uploads) whose key starts with url's key ("s3://bucket" or
 * "s3://bucket/": all), sorted by key; at most 1 000 000.  On XVA_OK
 * *out is the caller's: free it with xva_s3_listing_free. */
XVA_API int xva_s3_list (const struct xva_s3_opts *o, const char *url,
                         unsigned flags, struct xva_s3_listing **out,
                         char *err, size_t errlen);
XVA_API size_t xva_s3_listing_count (const struct xva_s3_listing *l);
/* The bucket listed. */
XVA_API const char *xva_s3_listing_bucket (const struct xva_s3_listing *l);
/* Entry i's key; NULL when i is out of range. */
XVA_API const char *xva_s3_listing_key (const struct xva_s3_listing *l,
                                        size_t i);
/* Entry i's size in bytes (0 for a pending upload). */
XVA_API uint64_t xva_s3_listing_size (const struct xva_s3_listing *l,
                                      size_t i);
/* Entry i's Last-Modified (a pending upload: when it was initiated),
 * seconds since the epoch, or -1 if unknown. */
XVA_API int64_t xva_s3_listing_mtime (const struct xva_s3_listing *l,
                                      size_t i);
/* Metadata `name` of entry i (listed with XVA_S3_LIST_META), or NULL. */
XVA_API const char *xva_s3_listing_meta (const struct xva_s3_listing *l,
                                         size_t i, const char *name);
/* The upload id of pending upload i, or NULL. */
XVA_API const char *xva_s3_listing_upload_id (const struct xva_s3_listing *l,
                                              size_t i);
XVA_API void xva_s3_listing_free (struct xva_s3_listing *l); /* NULL ok */

/* Aborts the pending multipart upload upload_id of url (an object), as
 * listed with XVA_S3_LIST_PENDING.  One already gone counts as done. */
XVA_API int xva_s3_abort_pending (const struct xva_s3_opts *o, const char *url,
                                  const char *upload_id, char *err,
                                  size_t errlen);

#ifdef __cplusplus
}
#endif

#endif /* XVA_XVA_H */
