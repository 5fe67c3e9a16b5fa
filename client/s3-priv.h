/* Internals shared by the S3 files: owned configuration, one signed
 * request on a libcurl easy handle, error mapping and XML responses. */
#ifndef XVA_CLIENT_S3_PRIV_H
#define XVA_CLIENT_S3_PRIV_H

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>
#include <libxml/tree.h>

#include "client/s3.h"

#if defined(__GNUC__) || defined(__clang__)
#define XVA_S3_PRINTF(f, a) __attribute__ ((format (printf, f, a)))
#else
#define XVA_S3_PRINTF(f, a)
#endif

#define XVA_S3_XML_MAX ((size_t) 8 << 20)      /* an XML response */
#define XVA_S3_ERRBODY_MAX ((size_t) 64 << 10) /* an error body */
#define XVA_S3_QUERY_MAX 4096
#define XVA_S3_META_RECV_MAX 128 /* x-amz-meta-* headers kept by HEAD */

/* A config with its strings copied into one owned block. */
struct Xva_s3_conf {
  struct Xva_s3_config c;
  char *strings;
};

/* Copies c (checking it) and fills in defaults.  XVA_OK, XVA_EINVAL
 * (err says which field), XVA_ENOMEM. */
int Xva_s3_conf_copy (struct Xva_s3_conf *dst, const struct Xva_s3_config *c,
                      const char *api, struct Xva_s3_err *err);
void Xva_s3_conf_free (struct Xva_s3_conf *conf);

/* One connection: a libcurl easy handle reused from request to request
 * (keep-alive), and a flag that, once set, makes a running transfer
 * stop with XVA_ECANCELLED. */
struct Xva_s3_conn {
  CURL *curl;
  const struct Xva_s3_conf *conf;
  atomic_int *cancel; /* may be NULL */
};

int Xva_s3_conn_init (struct Xva_s3_conn *conn, const struct Xva_s3_conf *conf,
                      atomic_int *cancel);
void Xva_s3_conn_close (struct Xva_s3_conn *conn);

/* One worker thread of an upload or download, on a connection of its
 * own. */
struct Xva_s3_worker {
  void *owner; /* the upload or download */
  pthread_t tid;
  struct Xva_s3_conn conn;
  struct Xva_s3_err err; /* its failure */
};

/* The worker threads of an upload or download and what they share with
 * the caller's thread: a lock and condition, the first failure, the
 * cancel flag of their connections and counters. */
struct Xva_s3_crew {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int sync_ok; /* mu and cv exist */
  int stop;    /* the workers end once their work is done */
  int failed;  /* the first worker failure (status), or 0 */
  struct Xva_s3_err werr;
  atomic_int cancel;
  atomic_uint transfers; /* data transfers started (fault_every) */
  atomic_uint retries;   /* data transfers retried */
  struct Xva_s3_worker *workers;
  unsigned nworkers;
};

/* Makes k's lock and condition and clears its flags and counters.
 * XVA_OK, or XVA_ENOMEM ("<api>: cannot create a mutex" in err). */
int Xva_s3_crew_init (struct Xva_s3_crew *k, const char *api,
                      struct Xva_s3_err *err);
/* Starts n workers (none when n is 0) running main, each given its
 * struct Xva_s3_worker (owner set) with a connection on conf stopped by
 * k's cancel flag.  XVA_OK when n is 0 or at least one started; else
 * XVA_ENOMEM ("out of memory", or "cannot start <what> threads"). */
int Xva_s3_crew_start (struct Xva_s3_crew *k, unsigned n,
                       const struct Xva_s3_conf *conf, void *(*main) (void *),
                       void *owner, const char *what, const char *api,
                       struct Xva_s3_err *err);
/* Tells the workers to stop and joins them: once their work is done,
 * or at once with cancel (which sets the cancel flag). */
void Xva_s3_crew_stop (struct Xva_s3_crew *k, int cancel);
/* Keeps a worker's failure (status, err) unless one is kept already,
 * and sets the cancel flag.  mu held. */
void Xva_s3_crew_fail (struct Xva_s3_crew *k, int status,
                       const struct Xva_s3_err *err);
/* XVA_OK, or the kept failure with its error copied into err.  mu
 * held. */
int Xva_s3_crew_failure (const struct Xva_s3_crew *k, struct Xva_s3_err *err);
/* Stops the workers at once and destroys the lock and condition. */
void Xva_s3_crew_free (struct Xva_s3_crew *k);

/* One request.  Inputs first; the rest is filled by Xva_s3_perform. */
struct Xva_s3_req {
  const char *api;    /* for messages: "Xva_s3_head" */
  const char *method; /* GET HEAD PUT POST DELETE */
  const char *bucket;
  const char *key;            /* NULL or "": the bucket itself */
  const char *query;          /* canonical query (Xva_s3_query_build) */
  const char *what;           /* extra words for messages ("part 3") */
  struct curl_slist *headers; /* extra headers, caller's */
  const void *body;           /* request body (PUT, POST) */
  size_t body_len;
  int unsigned_payload; /* body hash as UNSIGNED-PAYLOAD */
  int fault;            /* fail the transfer half-way (tests) */
  /* Response body: given to sink when set (only for 2xx answers),
   * else kept in resp up to xml_max bytes (0: XVA_S3_XML_MAX). */
  size_t (*sink) (void *opaque, const char *data, size_t n);
  void *sink_opaque;
  size_t xml_max;
  int want_meta; /* collect x-amz-meta-* headers */

  /* Results. */
  long http;
  char etag[XVA_S3_ETAG_MAX + 1];
  char last_modified[64];
  int have_length;
  uint64_t content_length;
  char *resp; /* response body (NUL-terminated), or NULL */
  size_t resp_len;
  int resp_over; /* the body was longer than kept */
  size_t nmeta;
  struct Xva_s3_meta *meta;
  uint64_t sent; /* request body bytes read by libcurl */
};

/* Clears r and sets its first inputs (key and query may be NULL). */
void Xva_s3_req_init (struct Xva_s3_req *r, const char *api,
                      const char *method, const char *bucket, const char *key,
                      const char *query);

/* Performs r once on conn.  A 2xx answer is XVA_OK (with an XML body
 * still to check with Xva_s3_xml_parse, which finds <Error>); any other
 * outcome is mapped to a status with the message in err.  Call
 * Xva_s3_req_clear afterwards, whatever the result. */
int Xva_s3_perform (struct Xva_s3_conn *conn, struct Xva_s3_req *r,
                    struct Xva_s3_err *err);
/* Frees the results of r (resp, meta) and zeroes them. */
void Xva_s3_req_clear (struct Xva_s3_req *r);

/* What Xva_s3_perform_tries adds to each try of one request.  Every
 * member may be NULL or 0. */
struct Xva_s3_tries {
  /* Before each try: sets r's inputs for it.  A status other than
   * XVA_OK (err set) ends the tries with it. */
  int (*before) (void *opaque, struct Xva_s3_req *r, struct Xva_s3_err *err);
  /* After each try: judges the answer; returns the try's status (the
   * given one, or another with err set). */
  int (*after) (void *opaque, struct Xva_s3_req *r, int status,
                struct Xva_s3_err *err);
  /* When the configured retries are used up after try attempt (0-based):
   * 1 to try again all the same (the last try made progress). */
  int (*more) (void *opaque, unsigned attempt);
  void *opaque;
  atomic_uint *transfers; /* counts every try, for the config's
                             fault_every (tests) */
  atomic_uint *retries;   /* counts every retry */
  int gone_is_done;       /* NoSuchUpload on a retry: an earlier try did it */
  int note_tries;         /* a failure after retries ends " (after N tries)" */
};

/* Performs r on conn, again after a backoff (Xva_s3_backoff, woken by
 * conn's cancel flag) while the failure is worth another try
 * (Xva_s3_retryable), up to the configured retries; t (NULL: nothing)
 * adds to each try.  Call Xva_s3_req_clear afterwards. */
int Xva_s3_perform_tries (struct Xva_s3_conn *conn, struct Xva_s3_req *r,
                          struct Xva_s3_err *err,
                          const struct Xva_s3_tries *t);
/* Xva_s3_perform_tries with nothing added. */
int Xva_s3_perform_retry (struct Xva_s3_conn *conn, struct Xva_s3_req *r,
                          struct Xva_s3_err *err);

/* HEAD bucket/key on an open connection into *info (cleared first). */
int Xva_s3_head_on (struct Xva_s3_conn *conn, const char *api,
                    const char *bucket, const char *key,
                    struct Xva_s3_info *info, struct Xva_s3_err *err);

/* AbortMultipartUpload of bucket/key upload_id on an open connection,
 * with retries (a retry that finds it gone counts as done). */
int Xva_s3_abort_on (struct Xva_s3_conn *conn, const char *api,
                     const char *bucket, const char *key,
                     const char *upload_id, struct Xva_s3_err *err);

/* XVA_EINVAL with a message unless bucket is valid and key is NULL or
 * valid. */
int Xva_s3_check_names (const char *api, const char *bucket, const char *key,
                        struct Xva_s3_err *err);
/* The same with a key required ("no key" when it is NULL). */
int Xva_s3_check_object (const char *api, const char *bucket, const char *key,
                         struct Xva_s3_err *err);

/* 1 when the failure in err is worth another try (network, HTTP 5xx,
 * 429, S3's RequestTimeout / SlowDown / InternalError, a body hash
 * mismatch). */
int Xva_s3_retryable (const struct Xva_s3_err *err);

/* Sleeps before retry number attempt (0-based): 250 ms doubling up to
 * 8 s, waking early when *cancel is set.  Returns 1 if cancelled. */
int Xva_s3_backoff (unsigned attempt, atomic_int *cancel);

/* Writes a message into err: "<api>: <formatted>", and the status. */
int Xva_s3_set_err (struct Xva_s3_err *err, int status, const char *api,
                    const char *fmt, ...) XVA_S3_PRINTF (4, 5);

/* Parses an XML response (bounded, no network, no DTD or entities).
 * An <Error> document gives its mapped status and message in err;
 * a root other than root_name gives XVA_ESERVER.  On XVA_OK *doc is
 * the caller's (xmlFreeDoc). */
int Xva_s3_xml_parse (const struct Xva_s3_req *r, const char *root_name,
                      xmlDocPtr *doc, struct Xva_s3_err *err);
/* The first element child of node named name (local name), or NULL. */
xmlNodePtr Xva_s3_xml_child (xmlNodePtr node, const char *name);
/* The text of child name of node into out (NUL-terminated).  Returns
 * its length, -1 when there is no such child, -2 when it does not fit. */
long Xva_s3_xml_text (xmlNodePtr node, const char *name, char *out,
                      size_t outsize);
/* The same, newly allocated (at most max bytes); NULL if absent, too
 * long or out of memory. */
char *Xva_s3_xml_strdup (xmlNodePtr node, const char *name, size_t max);

/* Seconds since the epoch of an ISO 8601 time ("2026-01-02T03:04:05.678Z")
 * or an HTTP date; -1 if neither. */
int64_t Xva_s3_parse_time (const char *s);

/* Frees an array of n metadata pairs. */
void Xva_s3_meta_free (struct Xva_s3_meta *meta, size_t n);

/* Builds the x-amz-meta-* headers of nmeta pairs (validated) onto *list.
 * XVA_OK, XVA_EINVAL, XVA_ENOMEM. */
int Xva_s3_meta_headers (const struct Xva_s3_pair *meta, size_t nmeta,
                         struct curl_slist **list, const char *api,
                         struct Xva_s3_err *err);

/* Copies s[0..n) into dst, truncated to dstsize - 1, NUL-terminated. */
void Xva_s3_copy_text (char *dst, size_t dstsize, const char *s, size_t n);

/* Hex SHA-256 of buf[0..n) into hex (65 bytes). */
void Xva_s3_sha256_hex (const void *buf, size_t n, char hex[65]);

#endif
