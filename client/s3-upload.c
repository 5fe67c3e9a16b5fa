/* Streaming multipart upload with bounded memory.
 *
 * The caller's thread fills one part buffer at a time.  A full part goes
 * into a queue that worker threads (one libcurl handle each) drain with
 * UploadPart, several at once.  Part buffers come from a small pool:
 * when every buffer is full or in flight, the writer waits, which is
 * the back-pressure that keeps memory flat.  The multipart upload is
 * created with the first full part; an upload that ends before that is
 * sent as one PUT.  Complete lists the parts' ETags; any failure aborts
 * the multipart upload so that no parts are left behind. */
#include "client/s3-priv.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PARTS_PER_STEP 1000u /* the part size doubles every so many */

enum { U_OPEN, U_FAILED, U_DONE, U_ABORTED };

struct part {
  unsigned char *buf;
  size_t cap;
  size_t len;
  unsigned number; /* 1-based */
};

struct Xva_s3_upload {
  struct Xva_s3_conf conf;
  char *bucket;
  char *key;
  struct curl_slist *meta; /* x-amz-meta-* headers */
  struct Xva_s3_conn main; /* create, complete, abort, HEAD, PUT */
  int state;
  int fatal; /* the status that poisoned the handle */
  struct Xva_s3_err err;

  uint64_t total;
  uint64_t expected; /* size hint, or 0 */
  struct part *cur;  /* being filled */
  unsigned queued;   /* parts handed to the workers */
  char upload_id[XVA_S3_UPLOAD_ID_MAX + 1];

  struct Xva_s3_crew crew;
  struct part **queue; /* FIFO of full parts */
  size_t qhead, qlen, qcap;
  struct part **pool; /* free part buffers */
  size_t npool, pool_cap;
  size_t nbufs; /* part buffers that exist */
  unsigned inflight;
  atomic_uint max_inflight;
  char (*etags)[XVA_S3_ETAG_MAX + 1];
  size_t netags;
};

static int
fail (struct Xva_s3_upload *u, int status)
{
  if (status < 0 && u->state == U_OPEN) {
    u->state = U_FAILED;
    u->fatal = status;
  }
  return status;
}

/* Size of part number n (1-based). */
static size_t
part_size (const struct Xva_s3_upload *u, unsigned n)
{
  return Xva_s3_part_size (u->conf.c.part_size, u->expected, n);
}

size_t
Xva_s3_part_size (size_t first_size, uint64_t expected, unsigned n)
{
  unsigned step = n > 0 ? (n - 1) / PARTS_PER_STEP : 0;
  uint64_t s = first_size;

  /* A size hint leaves 1000 parts spare at the first size. */
  if (expected / (XVA_S3_PARTS_MAX - PARTS_PER_STEP) >= s) {
    s = expected / (XVA_S3_PARTS_MAX - PARTS_PER_STEP) + 1;
    s = (s + ((1u << 20) - 1)) & ~(uint64_t) ((1u << 20) - 1);
  }
  while (step-- > 0 && s < XVA_S3_PART_MAX)
    s *= 2;
  return s > XVA_S3_PART_MAX ? XVA_S3_PART_MAX : (size_t) s;
}

/* How many part buffers of this size the memory budget allows. */
static size_t
max_bufs (const struct Xva_s3_upload *u, size_t size)
{
  size_t n = u->conf.c.max_memory / size;

  if (n < 2)
    n = 2;
  if (n > u->conf.c.parallel + 1u)
    n = u->conf.c.parallel + 1u;
  return n;
}

static void
part_free (struct part *p)
{
  if (p == NULL)
    return;
  free (p->buf);
  free (p);
}

/* ---- Workers ------------------------------------------------------------- */

/* One part's tries: an answer without an ETag is a failure. */
struct part_try {
  struct Xva_s3_upload *u;
  const struct part *p;
};

static int
part_after (void *opaque, struct Xva_s3_req *r, int status,
            struct Xva_s3_err *err)
{
  struct part_try *pt = opaque;

  if (status == XVA_OK && r->etag[0] == '\0')
    status = Xva_s3_set_err (err, XVA_ESERVER, r->api,
                             "PUT s3://%s/%.300s part %u: no ETag",
                             pt->u->bucket, pt->u->key, pt->p->number);
  return status;
}

static int
send_part (struct Xva_s3_worker *w, struct part *p, char *etag,
           size_t etagsize)
{
  struct Xva_s3_upload *u = w->owner;
  struct Xva_s3_pair q[2];
  char query[XVA_S3_QUERY_MAX], num[16], what[32];
  struct part_try pt = { u, p };
  struct Xva_s3_tries t = {
    .after = part_after,
    .opaque = &pt,
    .transfers = &u->crew.transfers,
    .retries = &u->crew.retries,
    .note_tries = 1,
  };
  struct Xva_s3_req r;
  int status;

  snprintf (num, sizeof num, "%u", p->number);
  snprintf (what, sizeof what, "part %u", p->number);
  q[0].name = "partNumber";
  q[0].value = num;
  q[1].name = "uploadId";
  q[1].value = u->upload_id;
  if (Xva_s3_query_build (q, 2, query, sizeof query) < 0)
    return Xva_s3_set_err (&w->err, XVA_EINVAL, "Xva_s3_upload_write",
                           "upload id too long");
  Xva_s3_req_init (&r, "Xva_s3_upload_write", "PUT", u->bucket, u->key, query);
  r.what = what;
  r.body = p->buf;
  r.body_len = p->len;
  r.unsigned_payload = u->conf.c.unsigned_payload;
  status = Xva_s3_perform_tries (&w->conn, &r, &w->err, &t);
  if (status == XVA_OK)
    Xva_s3_copy_text (etag, etagsize, r.etag, strlen (r.etag));
  Xva_s3_req_clear (&r);
  return status;
}

/* Keeps the ETag of part n.  Called with mu held. */
static int
keep_etag (struct Xva_s3_upload *u, unsigned n, const char *etag)
{
  if (n > u->netags) {
    size_t cap = u->netags ? u->netags : 64;
    char (*v)[XVA_S3_ETAG_MAX + 1];
    while (cap < n)
      cap *= 2;
    if (cap > XVA_S3_PARTS_MAX)
      cap = XVA_S3_PARTS_MAX;
    v = realloc (u->etags, cap * sizeof *v);
    if (v == NULL)
      return XVA_ENOMEM;
    memset (v + u->netags, 0, (cap - u->netags) * sizeof *v);
    u->etags = v;
    u->netags = cap;
  }
  Xva_s3_copy_text (u->etags[n - 1], sizeof u->etags[0], etag, strlen (etag));
  return XVA_OK;
}

/* Returns a buffer to the pool and wakes the writer.  mu held. */
static void
pool_put (struct Xva_s3_upload *u, struct part *p)
{
  p->len = 0;
  u->pool[u->npool++] = p;
  pthread_cond_broadcast (&u->crew.cv);
}

static void *
worker_main (void *opaque)
{
  struct Xva_s3_worker *w = opaque;
  struct Xva_s3_upload *u = w->owner;
  char etag[XVA_S3_ETAG_MAX + 1];

  pthread_mutex_lock (&u->crew.mu);
  for (;;) {
    struct part *p;
    int status;

    while (!u->crew.stop && u->qlen == 0)
      pthread_cond_wait (&u->crew.cv, &u->crew.mu);
    if (u->qlen == 0)
      break;
    p = u->queue[u->qhead];
    u->qhead = (u->qhead + 1) % u->qcap;
    u->qlen--;
    if (u->crew.failed) {
      pool_put (u, p);
      continue;
    }
    u->inflight++;
    if (u->inflight > atomic_load (&u->max_inflight))
      atomic_store (&u->max_inflight, u->inflight);
    pthread_mutex_unlock (&u->crew.mu);

    status = send_part (w, p, etag, sizeof etag);

    pthread_mutex_lock (&u->crew.mu);
    u->inflight--;
    if (status == XVA_OK && keep_etag (u, p->number, etag) != XVA_OK)
      status = Xva_s3_set_err (&w->err, XVA_ENOMEM, "Xva_s3_upload_write",
                               "out of memory");
    if (status != XVA_OK)
      Xva_s3_crew_fail (&u->crew, status, &w->err);
    pool_put (u, p);
  }
  pthread_mutex_unlock (&u->crew.mu);
  return NULL;
}

/* ---- The caller's side ---------------------------------------------------- */

/* CreateMultipartUpload: sets upload_id. */
static int
create_upload (struct Xva_s3_upload *u)
{
  struct Xva_s3_pair q = { "uploads", "" };
  char query[64];
  struct Xva_s3_req r;
  xmlDocPtr doc = NULL;
  long n;
  int status;

  Xva_s3_query_build (&q, 1, query, sizeof query);
  Xva_s3_req_init (&r, "Xva_s3_upload_write", "POST", u->bucket, u->key,
                   query);
  r.what = "(create multipart upload)";
  r.headers = u->meta;
  r.xml_max = (size_t) 64 << 10;
  status = Xva_s3_perform_retry (&u->main, &r, &u->err);
  if (status == XVA_OK)
    status = Xva_s3_xml_parse (&r, "InitiateMultipartUploadResult", &doc,
                               &u->err);
  if (status == XVA_OK) {
    n = Xva_s3_xml_text (xmlDocGetRootElement (doc), "UploadId", u->upload_id,
                         sizeof u->upload_id);
    if (n <= 0) {
      u->upload_id[0] = '\0';
      status = Xva_s3_set_err (&u->err, XVA_ESERVER, r.api,
                               "POST s3://%s/%.300s?uploads: no valid "
                               "<UploadId>",
                               u->bucket, u->key);
    }
  }
  if (doc != NULL)
    xmlFreeDoc (doc);
  Xva_s3_req_clear (&r);
  return status;
}

/* A buffer for the next part, waiting while all are in use. */
static int
get_buffer (struct Xva_s3_upload *u, size_t size, struct part **out)
{
  struct part *p = NULL;
  size_t limit = max_bufs (u, size);
  int status;

  pthread_mutex_lock (&u->crew.mu);
  while (u->npool > 0 && u->nbufs > limit) {
    part_free (u->pool[--u->npool]);
    u->nbufs--;
  }
  while (!u->crew.failed && u->npool == 0 && u->nbufs >= limit)
    pthread_cond_wait (&u->crew.cv, &u->crew.mu);
  status = Xva_s3_crew_failure (&u->crew, &u->err);
  if (status == XVA_OK) {
    if (u->npool > 0)
      p = u->pool[--u->npool];
    else if ((p = calloc (1, sizeof *p)) != NULL)
      u->nbufs++;
  }
  pthread_mutex_unlock (&u->crew.mu);
  if (status != XVA_OK)
    return status;
  if (p == NULL)
    return Xva_s3_set_err (&u->err, XVA_ENOMEM, "Xva_s3_upload_write",
                           "out of memory");
  if (p->cap != size) {
    free (p->buf);
    p->cap = 0;
    p->buf = malloc (size);
    if (p->buf == NULL) {
      pthread_mutex_lock (&u->crew.mu);
      pool_put (u, p);
      pthread_mutex_unlock (&u->crew.mu);
      return Xva_s3_set_err (&u->err, XVA_ENOMEM, "Xva_s3_upload_write",
                             "out of memory for a %zu-byte part", size);
    }
    p->cap = size;
  }
  p->len = 0;
  *out = p;
  return XVA_OK;
}

/* Hands the current part to the workers (creating the upload first). */
static int
send_current (struct Xva_s3_upload *u)
{
  struct part *p = u->cur;
  int status;

  if (u->queued >= XVA_S3_PARTS_MAX)
    return Xva_s3_set_err (&u->err, XVA_ELIMIT, "Xva_s3_upload_write",
                           "more than %u parts", XVA_S3_PARTS_MAX);
  if (u->upload_id[0] == '\0') {
    status = create_upload (u);
    if (status != XVA_OK)
      return status;
    status = Xva_s3_crew_start (&u->crew, u->conf.c.parallel, &u->conf,
                                worker_main, u, "upload",
                                "Xva_s3_upload_write", &u->err);
    if (status != XVA_OK)
      return status;
  }
  p->number = ++u->queued;
  u->cur = NULL;
  pthread_mutex_lock (&u->crew.mu);
  u->queue[(u->qhead + u->qlen) % u->qcap] = p;
  u->qlen++;
  pthread_cond_broadcast (&u->crew.cv);
  pthread_mutex_unlock (&u->crew.mu);
  return XVA_OK;
}

struct Xva_s3_upload *
Xva_s3_upload_new (const struct Xva_s3_config *c, const char *bucket,
                   const char *key, const struct Xva_s3_pair *meta,
                   size_t nmeta, uint64_t expected_size, int *status,
                   struct Xva_s3_err *err)
{
  static const char api[] = "Xva_s3_upload_new";
  struct Xva_s3_err local;
  struct Xva_s3_upload *u = NULL;
  size_t cap;
  int st;

  if (err == NULL)
    err = &local;
  Xva_s3_err_clear (err);
  st = Xva_s3_check_object (api, bucket, key, err);
  if (st == XVA_OK && expected_size > XVA_S3_OBJECT_MAX)
    st = Xva_s3_set_err (err, XVA_ELIMIT, api,
                         "expected size %llu exceeds 5 TiB",
                         (unsigned long long) expected_size);
  if (st != XVA_OK)
    goto fail;
  u = calloc (1, sizeof *u);
  if (u == NULL) {
    st = Xva_s3_set_err (err, XVA_ENOMEM, api, "out of memory");
    goto fail;
  }
  st = Xva_s3_conf_copy (&u->conf, c, api, err);
  if (st != XVA_OK)
    goto fail;
  st = Xva_s3_meta_headers (meta, nmeta, &u->meta, api, err);
  if (st != XVA_OK)
    goto fail;
  u->bucket = strdup (bucket);
  u->key = strdup (key);
  cap = u->conf.c.parallel + 2u;
  u->queue = calloc (cap, sizeof *u->queue);
  u->pool = calloc (cap, sizeof *u->pool);
  if (u->bucket == NULL || u->key == NULL || u->queue == NULL
      || u->pool == NULL
      || Xva_s3_conn_init (&u->main, &u->conf, NULL) != XVA_OK) {
    st = Xva_s3_set_err (err, XVA_ENOMEM, api, "out of memory");
    goto fail;
  }
  u->qcap = cap;
  u->pool_cap = cap;
  st = Xva_s3_crew_init (&u->crew, api, err);
  if (st != XVA_OK)
    goto fail;
  atomic_init (&u->max_inflight, 0);

  u->expected = expected_size;
  u->state = U_OPEN;
  *status = XVA_OK;
  return u;

fail:
  *status = st;
  Xva_s3_upload_free (u);
  return NULL;
}

static int
check_open (struct Xva_s3_upload *u, const char *api)
{
  if (u == NULL)
    return XVA_EINVAL;
  if (u->state == U_FAILED)
    return u->fatal;
  if (u->state != U_OPEN)
    return Xva_s3_set_err (&u->err, XVA_ESTATE, api, "upload is %s",
                           u->state == U_DONE ? "complete" : "aborted");
  return XVA_OK;
}

int
Xva_s3_upload_write (struct Xva_s3_upload *u, const void *buf, size_t len)
{
  static const char api[] = "Xva_s3_upload_write";
  const unsigned char *src = buf;
  int status = check_open (u, api);

  if (status != XVA_OK)
    return status;
  if (len > 0 && buf == NULL)
    return Xva_s3_set_err (&u->err, XVA_EINVAL, api, "NULL buffer");
  if (atomic_load (&u->crew.cancel)) {
    /* A part failed: report it now rather than at the next part. */
    pthread_mutex_lock (&u->crew.mu);
    status = Xva_s3_crew_failure (&u->crew, &u->err);
    pthread_mutex_unlock (&u->crew.mu);
    if (status != XVA_OK)
      return fail (u, status);
  }
  if (u->total + len > XVA_S3_OBJECT_MAX || u->total + len < u->total)
    return fail (u, Xva_s3_set_err (&u->err, XVA_ELIMIT, api,
                                    "object larger than 5 TiB"));
  while (len > 0) {
    size_t size = part_size (u, u->queued + 1), n;

    if (u->cur == NULL) {
      status = get_buffer (u, size, &u->cur);
      if (status != XVA_OK)
        return fail (u, status);
    }
    n = size - u->cur->len;
    if (n > len)
      n = len;
    memcpy (u->cur->buf + u->cur->len, src, n);
    u->cur->len += n;
    u->total += n;
    src += n;
    len -= n;
    if (u->cur->len == size) {
      status = send_current (u);
      if (status != XVA_OK)
        return fail (u, status);
    }
  }
  return XVA_OK;
}

/* The object is smaller than one part: one PUT. */
static int
put_single (struct Xva_s3_upload *u)
{
  struct Xva_s3_req r;
  int status;

  Xva_s3_req_init (&r, "Xva_s3_upload_complete", "PUT", u->bucket, u->key,
                   NULL);
  r.headers = u->meta;
  r.body = u->cur != NULL ? u->cur->buf : NULL;
  r.body_len = u->cur != NULL ? u->cur->len : 0;
  r.unsigned_payload = u->conf.c.unsigned_payload;
  status = Xva_s3_perform_retry (&u->main, &r, &u->err);
  Xva_s3_req_clear (&r);
  return status;
}

/* 200 may still carry <Error>: check the body, not the ETag.  The
 * document goes to *opaque. */
static int
complete_after (void *opaque, struct Xva_s3_req *r, int status,
                struct Xva_s3_err *err)
{
  if (status == XVA_OK)
    status = Xva_s3_xml_parse (r, "CompleteMultipartUploadResult", opaque,
                               err);
  return status;
}

/* CompleteMultipartUpload with the ETags of parts 1..queued. */
static int
complete_multipart (struct Xva_s3_upload *u)
{
  static const char api[] = "Xva_s3_upload_complete";
  struct Xva_s3_pair q = { "uploadId", u->upload_id };
  char query[XVA_S3_QUERY_MAX];
  struct curl_slist *hdr = NULL;
  struct Xva_s3_req r;
  xmlDocPtr doc = NULL;
  size_t cap = 128 + (size_t) u->queued * (XVA_S3_ETAG_MAX * 6 + 64), o;
  char *body = malloc (cap);
  /* A retry that finds the upload gone: the earlier try may have
   * completed it; the HEAD that follows tells. */
  struct Xva_s3_tries t = {
    .after = complete_after,
    .opaque = &doc,
    .gone_is_done = 1,
  };
  unsigned i;
  int status, w;

  Xva_s3_req_init (&r, api, "POST", u->bucket, u->key, NULL);
  if (body == NULL || Xva_s3_query_build (&q, 1, query, sizeof query) < 0
      || (hdr = curl_slist_append (NULL, "Content-Type: application/xml"))
           == NULL) {
    status = Xva_s3_set_err (&u->err, XVA_ENOMEM, api, "out of memory");
    goto out;
  }
  o = (size_t) snprintf (body, cap, "<CompleteMultipartUpload>");
  for (i = 0; i < u->queued; i++) {
    const char *e = u->etags[i];
    if (i >= u->netags || e[0] == '\0') {
      status = Xva_s3_set_err (&u->err, XVA_ESERVER, api,
                               "part %u has no ETag", i + 1);
      goto out;
    }
    w = snprintf (body + o, cap - o,
                  "<Part><PartNumber>%u</PartNumber>"
                  "<ETag>",
                  i + 1);
    if (w < 0)
      goto overflow;
    o += (size_t) w;
    for (; *e; e++) {
      const char *rep = *e == '&'   ? "&amp;"
                        : *e == '<' ? "&lt;"
                        : *e == '>' ? "&gt;"
                                    : NULL;
      if (o + 8 >= cap)
        goto overflow;
      if (rep != NULL) {
        memcpy (body + o, rep, strlen (rep));
        o += strlen (rep);
      }
      else
        body[o++] = *e;
    }
    w = snprintf (body + o, cap - o, "</ETag></Part>");
    if (w < 0 || (size_t) w >= cap - o)
      goto overflow;
    o += (size_t) w;
  }
  w = snprintf (body + o, cap - o, "</CompleteMultipartUpload>");
  if (w < 0 || (size_t) w >= cap - o)
    goto overflow;
  o += (size_t) w;

  r.query = query;
  r.what = "(complete multipart upload)";
  r.headers = hdr;
  r.body = body;
  r.body_len = o;
  r.xml_max = (size_t) 64 << 10;
  status = Xva_s3_perform_tries (&u->main, &r, &u->err, &t);
  goto out;
overflow:
  status = Xva_s3_set_err (&u->err, XVA_ELIMIT, api,
                           "completion request too large");
out:
  if (doc != NULL)
    xmlFreeDoc (doc);
  Xva_s3_req_clear (&r);
  curl_slist_free_all (hdr);
  free (body);
  return status;
}

/* HEAD the new object and compare its size with what was written. */
static int
verify_object (struct Xva_s3_upload *u)
{
  static const char api[] = "Xva_s3_upload_complete";
  struct Xva_s3_info info;
  int status;

  memset (&info, 0, sizeof info);
  status = Xva_s3_head_on (&u->main, api, u->bucket, u->key, &info, &u->err);
  if (status == XVA_OK && info.size != u->total)
    status = Xva_s3_set_err (&u->err, XVA_ESERVER, api,
                             "s3://%s/%.300s has %llu bytes after upload, "
                             "%llu were written",
                             u->bucket, u->key, (unsigned long long) info.size,
                             (unsigned long long) u->total);
  Xva_s3_info_clear (&info);
  return status;
}

static int
abort_upload (struct Xva_s3_upload *u, const char *api)
{
  struct Xva_s3_err e;
  int status = XVA_OK;

  Xva_s3_crew_stop (&u->crew, 1);
  if (u->upload_id[0] != '\0') {
    status = Xva_s3_abort_on (&u->main, api, u->bucket, u->key, u->upload_id,
                              &e);
    /* Already gone (aborted elsewhere): nothing is pending either. */
    if (status == XVA_ENOTFOUND && strcmp (e.code, "NoSuchUpload") == 0)
      status = XVA_OK;
    if (status == XVA_OK)
      u->upload_id[0] = '\0';
    else if (u->state != U_FAILED)
      u->err = e;
  }
  return status;
}

int
Xva_s3_upload_complete (struct Xva_s3_upload *u)
{
  static const char api[] = "Xva_s3_upload_complete";
  int status = check_open (u, api);

  if (status != XVA_OK) {
    if (u != NULL && u->state == U_FAILED)
      abort_upload (u, api);
    return status;
  }
  if (u->upload_id[0] == '\0') {
    status = put_single (u);
    goto done;
  }
  if (u->cur != NULL && u->cur->len > 0) {
    status = send_current (u);
    if (status != XVA_OK)
      goto done;
  }
  pthread_mutex_lock (&u->crew.mu);
  if (u->cur != NULL) {
    pool_put (u, u->cur);
    u->cur = NULL;
  }
  while (!u->crew.failed && (u->qlen > 0 || u->inflight > 0))
    pthread_cond_wait (&u->crew.cv, &u->crew.mu);
  status = Xva_s3_crew_failure (&u->crew, &u->err);
  pthread_mutex_unlock (&u->crew.mu);
  Xva_s3_crew_stop (&u->crew, 0);
  if (status == XVA_OK)
    status = complete_multipart (u);
done:
  if (status == XVA_OK)
    status = verify_object (u);
  if (status != XVA_OK) {
    fail (u, status);
    abort_upload (u, api);
    return status;
  }
  u->upload_id[0] = '\0';
  u->state = U_DONE;
  return XVA_OK;
}

int
Xva_s3_upload_abort (struct Xva_s3_upload *u)
{
  static const char api[] = "Xva_s3_upload_abort";
  int status;

  if (u == NULL)
    return XVA_EINVAL;
  if (u->state == U_DONE)
    return Xva_s3_set_err (&u->err, XVA_ESTATE, api,
                           "upload is already complete");
  if (u->state == U_ABORTED)
    return XVA_OK;
  status = abort_upload (u, api);
  if (status == XVA_OK)
    u->state = U_ABORTED;
  return status;
}

uint64_t
Xva_s3_upload_bytes (const struct Xva_s3_upload *u)
{
  return u != NULL ? u->total : 0;
}

unsigned
Xva_s3_upload_parts (const struct Xva_s3_upload *u)
{
  return u != NULL ? u->queued : 0;
}

unsigned
Xva_s3_upload_retries (const struct Xva_s3_upload *u)
{
  return u != NULL ? atomic_load (&u->crew.retries) : 0;
}

unsigned
Xva_s3_upload_max_inflight (const struct Xva_s3_upload *u)
{
  return u != NULL ? atomic_load (&u->max_inflight) : 0;
}

const char *
Xva_s3_upload_id (const struct Xva_s3_upload *u)
{
  return u != NULL ? u->upload_id : "";
}

const char *
Xva_s3_upload_errmsg (const struct Xva_s3_upload *u)
{
  return u != NULL ? u->err.msg : "no upload";
}

const struct Xva_s3_err *
Xva_s3_upload_error (const struct Xva_s3_upload *u)
{
  return u != NULL ? &u->err : NULL;
}

void
Xva_s3_upload_free (struct Xva_s3_upload *u)
{
  size_t i;

  if (u == NULL)
    return;
  if (u->crew.sync_ok && (u->state == U_OPEN || u->state == U_FAILED))
    abort_upload (u, "Xva_s3_upload_free");
  else if (u->crew.sync_ok)
    Xva_s3_crew_stop (&u->crew, 0);
  part_free (u->cur);
  for (i = 0; u->queue != NULL && i < u->qlen; i++)
    part_free (u->queue[(u->qhead + i) % u->qcap]);
  for (i = 0; u->pool != NULL && i < u->npool; i++)
    part_free (u->pool[i]);
  free (u->queue);
  free (u->pool);
  free (u->etags);
  Xva_s3_crew_free (&u->crew);
  Xva_s3_conn_close (&u->main);
  curl_slist_free_all (u->meta);
  free (u->bucket);
  free (u->key);
  Xva_s3_conf_free (&u->conf);
  free (u);
}
