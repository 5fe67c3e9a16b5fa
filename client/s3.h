/* Object storage (S3) access for backups: AWS S3, Ceph RADOS Gateway,
 * MinIO and the like, over libcurl.
 *
 * Requests are signed with AWS Signature Version 4 (libcurl's
 * CURLOPT_AWS_SIGV4 plus what it leaves out: the `x-amz-content-sha256`
 * header and a canonical query string).  Archives go up as streaming
 * multipart uploads with bounded memory and come back as ranged GETs,
 * several in flight, delivered in order.
 *
 * Addresses.  `s3://bucket/key`: the bucket follows S3's naming rules
 * (3-63 of a-z 0-9 . -, starting and ending with a letter or digit); the
 * key is 1-1024 bytes without control characters and without `.` or
 * `..` path segments.  Keys travel percent-encoded (RFC 3986, `/` kept).
 *
 * Errors.  Every call returns an enum xva_status.  Failures are mapped:
 * AccessDenied, SignatureDoesNotMatch, InvalidAccessKeyId (and HTTP 401
 * / 403) -> XVA_EAUTH; NoSuchBucket, NoSuchKey, NoSuchUpload (and HTTP
 * 404) -> XVA_ENOTFOUND; connection, TLS and timeout failures ->
 * XVA_ENET; a bad argument -> XVA_EINVAL; every other S3 error ->
 * XVA_ESERVER.  The details (the call, method, s3:// address, HTTP
 * status, S3 error code and message) are kept in a struct Xva_s3_err:
 * the caller's for one-shot calls, the handle's for uploads and
 * downloads.  The library never prints.
 *
 * Threads.  Each handle belongs to one caller thread at a time; uploads
 * and downloads run their own worker threads (one libcurl easy handle
 * each).  One-shot calls may run in any number of threads at once.
 */
#ifndef XVA_CLIENT_S3_H
#define XVA_CLIENT_S3_H

#include <stddef.h>
#include <stdint.h>

#include <xva/xva.h>

#define XVA_S3_BUCKET_MAX 63
#define XVA_S3_KEY_MAX 1024
#define XVA_S3_ETAG_MAX 127
#define XVA_S3_UPLOAD_ID_MAX 255
#define XVA_S3_META_MAX 32       /* metadata pairs sent with an upload */
#define XVA_S3_META_NAME_MAX 128 /* bytes of a metadata name */
#define XVA_S3_META_BYTES 2048   /* all names and values together */
#define XVA_S3_PART_MIN ((size_t) 5 << 20)
#define XVA_S3_PART_MAX ((size_t) 5 << 30)
#define XVA_S3_PART_DEFAULT ((size_t) 8 << 20)
#define XVA_S3_PARTS_MAX 10000u
#define XVA_S3_OBJECT_MAX ((uint64_t) 5 << 40)
#define XVA_S3_PARALLEL_MAX 32
#define XVA_S3_LIST_DEFAULT_MAX 1000000u /* keys kept by one list */

/* ---- Configuration -------------------------------------------------- */

/* Where and how to connect.  The strings belong to the caller and are
 * copied by every call and constructor that takes a config, so they
 * only need to live during that call. */
struct Xva_s3_config {
  const char *endpoint;   /* "http(s)://host[:port]"; required */
  const char *region;     /* signing region; NULL: "us-east-1" */
  const char *access_key; /* required */
  const char *secret_key; /* required */
  const char *ca_file;    /* PEM bundle for TLS; NULL: system store */
  int path_style;         /* 1: http://host/bucket/key (default);
                           * 0: http://bucket.host/key */
  int insecure;           /* 1: do not verify the TLS peer (default 0) */
  int unsigned_payload;   /* 1: send part bodies as UNSIGNED-PAYLOAD
                           * instead of their SHA-256 (default 0) */
  size_t part_size;       /* first part size; 0: 8 MiB; >= 5 MiB */
  size_t range_size;      /* download range; 0: 8 MiB; 64 KiB-1 GiB */
  unsigned parallel;      /* transfers in flight; 0: 4; <= 32 */
  unsigned retries;       /* retries of a failed request; 0: 4 */
  size_t max_memory;      /* part/range buffers of one handle;
                           * 0: 128 MiB (at least two buffers) */
  unsigned list_page;     /* keys per listing request; 0: 1000 */
  long connect_timeout;   /* seconds; 0: 15 */
  long stall_timeout;     /* seconds without progress; 0: 60 */
  /* For tests: make every Nth data transfer (part upload or range
   * download) fail half-way, as a dropped connection would; 0: never. */
  unsigned fault_every;
};

/* Sets every field to its default (endpoint and keys NULL). */
void Xva_s3_config_init (struct Xva_s3_config *c);

/* Fills the connection fields from the environment: XVA_S3_ENDPOINT,
 * XVA_S3_REGION (or AWS_REGION, AWS_DEFAULT_REGION), XVA_S3_ACCESS_KEY
 * (or AWS_ACCESS_KEY_ID), XVA_S3_SECRET_KEY (or AWS_SECRET_ACCESS_KEY),
 * XVA_S3_CA_FILE, XVA_S3_INSECURE=1, XVA_S3_PATH_STYLE=0|1.  Fields
 * whose variables are unset are left alone.  The pointers are getenv's
 * (valid until the environment changes).  XVA_OK, or XVA_EINVAL when
 * endpoint or keys are still missing. */
int Xva_s3_config_from_env (struct Xva_s3_config *c);

/* ---- Errors ------------------------------------------------------------ */

struct Xva_s3_err {
  int status;       /* the enum xva_status returned */
  long http_status; /* 0 when no response came */
  char code[64];    /* S3 error code ("NoSuchKey"), or "" */
  char msg[1024];   /* starts with the API name */
  int permanent;    /* 1: retrying cannot help (a TLS certificate
                     * or CA file problem) */
};

/* Empties an error (status XVA_OK). */
void Xva_s3_err_clear (struct Xva_s3_err *err);

/* ---- Addresses ------------------------------------------------------- */

struct Xva_s3_url {
  char bucket[XVA_S3_BUCKET_MAX + 1];
  char key[XVA_S3_KEY_MAX + 1]; /* "" for s3://bucket or s3://bucket/ */
};

/* Parses `s3://bucket[/key]`.  The key is taken literally (no percent
 * decoding).  XVA_OK or XVA_EINVAL (err says why; err may be NULL). */
int Xva_s3_url_parse (const char *url, struct Xva_s3_url *out,
                      struct Xva_s3_err *err);

/* 1 if name is a valid bucket name, else 0. */
int Xva_s3_bucket_valid (const char *name);
/* 1 if key is a valid non-empty object key, else 0. */
int Xva_s3_key_valid (const char *key);

/* Percent-encodes s per RFC 3986 into out (NUL-terminated): unreserved
 * characters (A-Z a-z 0-9 - . _ ~) stay, and `/` too when keep_slash;
 * every other byte becomes %XX (upper-case hex).  Returns the length,
 * or -1 when out (outsize bytes) is too small. */
long Xva_s3_uri_encode (const char *s, int keep_slash, char *out,
                        size_t outsize);

/* A name/value pair: query parameters and object metadata. */
struct Xva_s3_pair {
  const char *name;
  const char *value; /* NULL is the same as "" */
};

/* Builds a canonical query string for SigV4 into out: every name and
 * value encoded with Xva_s3_uri_encode (keep_slash 0), pairs sorted by
 * encoded name then value, `name=` for empty values, joined by `&`.
 * Returns the length, or -1 when out is too small or n > 64. */
long Xva_s3_query_build (const struct Xva_s3_pair *params, size_t n, char *out,
                         size_t outsize);

/* ---- Objects ---------------------------------------------------------- */

struct Xva_s3_meta {
  char *name; /* lower case, without "x-amz-meta-" */
  char *value;
};

/* What HEAD says about an object.  Owns its meta array: release with
 * Xva_s3_info_clear. */
struct Xva_s3_info {
  uint64_t size;
  int64_t mtime;                  /* seconds since the epoch; -1 if unknown */
  char etag[XVA_S3_ETAG_MAX + 1]; /* with its quotes */
  char last_modified[64];         /* as the server wrote it */
  size_t nmeta;
  struct Xva_s3_meta *meta;
};

/* Frees the metadata of info and zeroes it; NULL ok. */
void Xva_s3_info_clear (struct Xva_s3_info *info);
/* The value of metadata name (case-insensitive), or NULL.  Valid until
 * info is cleared. */
const char *Xva_s3_info_meta (const struct Xva_s3_info *info,
                              const char *name);

/* HEAD: size, ETag, Last-Modified and x-amz-meta-* of bucket/key into
 * *info (cleared first; the caller clears it after). */
int Xva_s3_head (const struct Xva_s3_config *c, const char *bucket,
                 const char *key, struct Xva_s3_info *info,
                 struct Xva_s3_err *err);

/* DELETE bucket/key.  Deleting a key that does not exist succeeds (as
 * S3 answers 204 for it). */
int Xva_s3_delete (const struct Xva_s3_config *c, const char *bucket,
                   const char *key, struct Xva_s3_err *err);

/* ---- Listing ---------------------------------------------------------- */

struct Xva_s3_entry {
  char *key;
  uint64_t size;
  int64_t mtime; /* seconds since the epoch; -1 if unknown */
  char etag[XVA_S3_ETAG_MAX + 1];
  int have_info; /* 1 once Xva_s3_list_fetch_info filled info */
  struct Xva_s3_info info;
};

struct Xva_s3_list {
  size_t n;
  struct Xva_s3_entry *v; /* sorted by key, as S3 returns them */
};

/* ListObjectsV2 of the keys that start with prefix (NULL or "": all),
 * following continuation tokens.  At most max_keys entries are kept
 * (0: XVA_S3_LIST_DEFAULT_MAX); more gives XVA_ELIMIT.  *out is the
 * caller's: free it with Xva_s3_list_free. */
int Xva_s3_list (const struct Xva_s3_config *c, const char *bucket,
                 const char *prefix, size_t max_keys, struct Xva_s3_list **out,
                 struct Xva_s3_err *err);

/* HEADs every entry of list (one connection, in order) to fill its
 * info, metadata included.  A key deleted since the listing is dropped
 * from the list.  Stops at the first other failure. */
int Xva_s3_list_fetch_info (const struct Xva_s3_config *c, const char *bucket,
                            struct Xva_s3_list *list, struct Xva_s3_err *err);

void Xva_s3_list_free (struct Xva_s3_list *list); /* NULL ok */

/* A pending (started, neither completed nor aborted) multipart upload. */
struct Xva_s3_pending {
  char *key;
  char upload_id[XVA_S3_UPLOAD_ID_MAX + 1];
  char initiated[64]; /* as the server wrote it */
};

struct Xva_s3_pending_list {
  size_t n;
  struct Xva_s3_pending *v;
};

/* GET /bucket?uploads=: the pending multipart uploads of keys that
 * start with prefix (NULL: all), following the markers; at most 100 000.
 * Free *out with Xva_s3_pending_free. */
int Xva_s3_list_uploads (const struct Xva_s3_config *c, const char *bucket,
                         const char *prefix, struct Xva_s3_pending_list **out,
                         struct Xva_s3_err *err);

void Xva_s3_pending_free (struct Xva_s3_pending_list *list); /* NULL ok */

/* AbortMultipartUpload of one pending upload (for clean-up). */
int Xva_s3_abort_pending (const struct Xva_s3_config *c, const char *bucket,
                          const char *key, const char *upload_id,
                          struct Xva_s3_err *err);

/* ---- Upload ------------------------------------------------------------ */

struct Xva_s3_upload; /* opaque */

/* Starts a streaming upload to bucket/key with metadata (nmeta pairs,
 * sent as x-amz-meta-<name>; names of A-Z a-z 0-9 - _, sent lower case;
 * values printable ASCII; XVA_S3_META_BYTES in all).  expected_size is
 * a hint for the part size (0: unknown).  Nothing is sent until the
 * first part is full (or until complete).  Returns NULL with *status
 * (and err, when not NULL) on failure.  Free with Xva_s3_upload_free. */
struct Xva_s3_upload *Xva_s3_upload_new (const struct Xva_s3_config *c,
                                         const char *bucket, const char *key,
                                         const struct Xva_s3_pair *meta,
                                         size_t nmeta, uint64_t expected_size,
                                         int *status, struct Xva_s3_err *err);

/* The size of part number n (1-based) of an upload: first_size (the
 * config's part_size, or larger when expected, a size hint, needs more
 * than 9000 such parts), doubling every 1000 parts, at most 5 GiB.  At
 * 8 MiB, 10 000 parts hold about 8 TiB. */
size_t Xva_s3_part_size (size_t first_size, uint64_t expected, unsigned n);

/* Appends buf[0..len).  Full parts go to worker threads; this blocks
 * while every part buffer is in use.  The first part starts the
 * multipart upload.  Part sizes start at config part_size (or larger
 * when expected_size asks) and double every 1000 parts, so 5 TiB fits
 * in 10 000 parts.  XVA_OK or an error, which poisons the handle (then
 * call Xva_s3_upload_abort or _free). */
int Xva_s3_upload_write (struct Xva_s3_upload *u, const void *buf, size_t len);

/* Sends the last part, waits for every part and completes the upload
 * (an upload smaller than one part is sent as one PUT instead), then
 * checks with HEAD that the object has the size written.  On failure
 * the multipart upload is aborted, so nothing is left pending. */
int Xva_s3_upload_complete (struct Xva_s3_upload *u);

/* Stops the workers and aborts the multipart upload: no object and no
 * pending upload is left.  Idempotent; XVA_ESTATE after a successful
 * complete. */
int Xva_s3_upload_abort (struct Xva_s3_upload *u);

/* Bytes written so far, and parts sent or being sent. */
uint64_t Xva_s3_upload_bytes (const struct Xva_s3_upload *u);
unsigned Xva_s3_upload_parts (const struct Xva_s3_upload *u);
/* Part transfers that failed and were retried. */
unsigned Xva_s3_upload_retries (const struct Xva_s3_upload *u);
/* The most parts that were in flight at once. */
unsigned Xva_s3_upload_max_inflight (const struct Xva_s3_upload *u);
/* The multipart upload id, or "" (none yet, or a single PUT). */
const char *Xva_s3_upload_id (const struct Xva_s3_upload *u);

/* The last failure; valid until the next call on u. */
const char *Xva_s3_upload_errmsg (const struct Xva_s3_upload *u);
const struct Xva_s3_err *Xva_s3_upload_error (const struct Xva_s3_upload *u);

/* Aborts an upload that was not completed, then frees u.  NULL ok. */
void Xva_s3_upload_free (struct Xva_s3_upload *u);

/* ---- Download ---------------------------------------------------------- */

struct Xva_s3_download; /* opaque */

/* HEADs bucket/key (size, ETag, metadata), then fetches it in ranges of
 * config range_size, several in flight, each GET bound to the HEAD's
 * ETag (If-Match) so a replaced object fails instead of mixing.  A range
 * that fails is retried from the byte where it stopped.  Returns NULL
 * with *status (and err, when not NULL) on failure. */
struct Xva_s3_download *Xva_s3_download_new (const struct Xva_s3_config *c,
                                             const char *bucket,
                                             const char *key, int *status,
                                             struct Xva_s3_err *err);

/* What HEAD said; valid until Xva_s3_download_free. */
const struct Xva_s3_info *Xva_s3_download_info (
  const struct Xva_s3_download *d);

/* Copies the next bytes, in order, into buf[0..len), blocking until
 * they arrive.  XVA_OK with *nread > 0; XVA_EOF with *nread == 0 after
 * the last byte; < 0 on failure (poisons the handle). */
int Xva_s3_download_read (struct Xva_s3_download *d, void *buf, size_t len,
                          size_t *nread);

/* Range transfers that failed and were resumed. */
unsigned Xva_s3_download_retries (const struct Xva_s3_download *d);

const char *Xva_s3_download_errmsg (const struct Xva_s3_download *d);
const struct Xva_s3_err *Xva_s3_download_error (
  const struct Xva_s3_download *d);

/* Stops the workers and frees d.  NULL ok. */
void Xva_s3_download_free (struct Xva_s3_download *d);

#endif
