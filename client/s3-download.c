/* Ranged download with bounded memory, delivered in order.
 *
 * HEAD gives the size and ETag.  The object is cut into ranges; range i
 * goes into slot i % nslots.  Worker threads (one libcurl handle each)
 * take the next range while its slot is free, i.e. while it is fewer
 * than nslots ranges ahead of the reader, and GET it bound to the ETag
 * (If-Match).  A transfer that breaks is resumed from the byte where it
 * stopped.  The reader copies from the slot of the range it is at and
 * frees the slot when done with it. */
#include "client/s3-priv.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct slot {
  unsigned char *buf;
  size_t len; /* bytes of the range */
  size_t got; /* bytes received */
  uint64_t index;
  int ready;
};

struct dworker {
  struct Xva_s3_download *d;
  pthread_t tid;
  struct Xva_s3_conn conn;
  struct Xva_s3_err err;
};

struct Xva_s3_download {
  struct Xva_s3_conf conf;
  char *bucket;
  char *key;
  struct Xva_s3_info info;
  struct Xva_s3_err err;
  int fatal;
  atomic_int cancel;
  atomic_uint transfers;
  atomic_uint retries;

  size_t range_size;
  uint64_t nranges;
  struct slot *slots;
  size_t nslots;
  uint64_t next_assign; /* next range a worker takes */
  uint64_t next_read;   /* range the reader is at */
  size_t read_pos;

  pthread_mutex_t mu;
  pthread_cond_t cv;
  int sync_ok;
  int stop;
  int failed;
  struct Xva_s3_err werr;
  struct dworker *workers;
  unsigned nworkers;
};

struct sink_state {
  struct slot *s;
};

static size_t
range_sink (void *opaque, const char *data, size_t n)
{
  struct sink_state *st = opaque;
  struct slot *s = st->s;

  if (n > s->len - s->got)
    return 0;
  memcpy (s->buf + s->got, data, n);
  s->got += n;
  return n;
}

/* The tries of one range: each asks for the bytes still missing. */
struct range_try {
  struct dworker *w;
  struct slot *s;
  uint64_t start;         /* the range's first byte */
  struct curl_slist *hdr; /* this try's headers */
  size_t before;          /* bytes received before this try */
};

static int
range_before (void *opaque, struct Xva_s3_req *r, struct Xva_s3_err *err)
{
  struct range_try *rt = opaque;
  struct Xva_s3_download *d = rt->w->d;
  struct slot *s = rt->s;
  uint64_t from = rt->start + s->got, to = rt->start + s->len - 1;
  char range[96], ifmatch[XVA_S3_ETAG_MAX + 16];
  struct curl_slist *l;

  rt->before = s->got;
  curl_slist_free_all (rt->hdr);
  snprintf (range, sizeof range, "Range: bytes=%" PRIu64 "-%" PRIu64, from,
            to);
  rt->hdr = curl_slist_append (NULL, range);
  if (rt->hdr != NULL && d->info.etag[0] != '\0') {
    snprintf (ifmatch, sizeof ifmatch, "If-Match: %s", d->info.etag);
    l = curl_slist_append (rt->hdr, ifmatch);
    if (l == NULL) {
      curl_slist_free_all (rt->hdr);
      rt->hdr = NULL;
    }
  }
  if (rt->hdr == NULL)
    return Xva_s3_set_err (err, XVA_ENOMEM, r->api, "out of memory");
  r->headers = rt->hdr;
  return XVA_OK;
}

static int
range_after (void *opaque, struct Xva_s3_req *r, int status,
             struct Xva_s3_err *err)
{
  struct range_try *rt = opaque;
  struct Xva_s3_download *d = rt->w->d;
  struct slot *s = rt->s;

  if (status == XVA_OK && r->http != 206
      && !(r->http == 200 && rt->start == 0 && s->len == d->info.size))
    status = Xva_s3_set_err (err, XVA_ESERVER, r->api,
                             "GET s3://%s/%.300s %s: HTTP %ld instead of "
                             "206 Partial Content",
                             d->bucket, d->key, r->what, r->http);
  else if (status == XVA_OK && s->got != s->len) {
    /* The answer ended early: go on from there. */
    status = Xva_s3_set_err (err, XVA_ENET, r->api,
                             "GET s3://%s/%.300s %s: %zu of %zu bytes",
                             d->bucket, d->key, r->what, s->got, s->len);
  }
  return status;
}

/* Progress made: the retry budget counts from here again. */
static int
range_more (void *opaque, unsigned attempt)
{
  struct range_try *rt = opaque;

  return rt->s->got > rt->before && attempt < 4 * rt->w->d->conf.c.retries;
}

/* GETs range i into s, resuming after failures. */
static int
fetch_range (struct dworker *w, uint64_t i, struct slot *s)
{
  struct Xva_s3_download *d = w->d;
  char what[64];
  struct sink_state st = { s };
  struct range_try rt = { w, s, i * d->range_size, NULL, 0 };
  struct Xva_s3_tries t = {
    .before = range_before,
    .after = range_after,
    .more = range_more,
    .opaque = &rt,
    .transfers = &d->transfers,
    .retries = &d->retries,
    .note_tries = 1,
  };
  struct Xva_s3_req r;
  int status;

  snprintf (what, sizeof what, "range %" PRIu64, i);
  Xva_s3_req_init (&r, "Xva_s3_download_read", "GET", d->bucket, d->key, NULL);
  r.what = what;
  r.sink = range_sink;
  r.sink_opaque = &st;
  status = Xva_s3_perform_tries (&w->conn, &r, &w->err, &t);
  Xva_s3_req_clear (&r);
  curl_slist_free_all (rt.hdr);
  return status;
}

static void *
worker_main (void *opaque)
{
  struct dworker *w = opaque;
  struct Xva_s3_download *d = w->d;

  pthread_mutex_lock (&d->mu);
  for (;;) {
    uint64_t i;
    struct slot *s;
    int status;

    while (!d->stop && !d->failed && d->next_assign < d->nranges
           && d->next_assign >= d->next_read + d->nslots)
      pthread_cond_wait (&d->cv, &d->mu);
    if (d->stop || d->failed || d->next_assign >= d->nranges)
      break;
    i = d->next_assign++;
    s = &d->slots[i % d->nslots];
    s->index = i;
    s->ready = 0;
    s->got = 0;
    s->len = d->range_size;
    if (i == d->nranges - 1)
      s->len = (size_t) (d->info.size - i * d->range_size);
    pthread_mutex_unlock (&d->mu);

    status = fetch_range (w, i, s);

    pthread_mutex_lock (&d->mu);
    if (status == XVA_OK)
      s->ready = 1;
    else if (!d->failed) {
      d->failed = status;
      d->werr = w->err;
      atomic_store (&d->cancel, 1);
    }
    pthread_cond_broadcast (&d->cv);
  }
  pthread_mutex_unlock (&d->mu);
  return NULL;
}

static void
stop_workers (struct Xva_s3_download *d)
{
  unsigned i;

  if (d->workers == NULL)
    return;
  atomic_store (&d->cancel, 1);
  pthread_mutex_lock (&d->mu);
  d->stop = 1;
  pthread_cond_broadcast (&d->cv);
  pthread_mutex_unlock (&d->mu);
  for (i = 0; i < d->nworkers; i++) {
    pthread_join (d->workers[i].tid, NULL);
    Xva_s3_conn_close (&d->workers[i].conn);
  }
  free (d->workers);
  d->workers = NULL;
  d->nworkers = 0;
}

struct Xva_s3_download *
Xva_s3_download_new (const struct Xva_s3_config *c, const char *bucket,
                     const char *key, int *status, struct Xva_s3_err *err)
{
  static const char api[] = "Xva_s3_download_new";
  struct Xva_s3_err local;
  struct Xva_s3_download *d = NULL;
  struct Xva_s3_conn conn = { NULL, NULL, NULL };
  size_t i, nslots;
  unsigned nw;
  int st;

  if (err == NULL)
    err = &local;
  Xva_s3_err_clear (err);
  st = Xva_s3_check_names (api, bucket, key, err);
  if (st == XVA_OK && key == NULL)
    st = Xva_s3_set_err (err, XVA_EINVAL, api, "no key");
  if (st != XVA_OK)
    goto fail;
  d = calloc (1, sizeof *d);
  if (d == NULL) {
    st = Xva_s3_set_err (err, XVA_ENOMEM, api, "out of memory");
    goto fail;
  }
  d->info.mtime = -1;
  st = Xva_s3_conf_copy (&d->conf, c, api, err);
  if (st != XVA_OK)
    goto fail;
  d->bucket = strdup (bucket);
  d->key = strdup (key);
  if (d->bucket == NULL || d->key == NULL
      || Xva_s3_conn_init (&conn, &d->conf, NULL) != XVA_OK) {
    st = Xva_s3_set_err (err, XVA_ENOMEM, api, "out of memory");
    goto fail;
  }
  st = Xva_s3_head_on (&conn, api, bucket, key, &d->info, err);
  Xva_s3_conn_close (&conn);
  if (st != XVA_OK)
    goto fail;

  d->range_size = d->conf.c.range_size;
  d->nranges = (d->info.size + d->range_size - 1) / d->range_size;
  nslots = d->conf.c.max_memory / d->range_size;
  if (nslots < 2)
    nslots = 2;
  if (nslots > d->conf.c.parallel + 1u)
    nslots = d->conf.c.parallel + 1u;
  if (nslots > d->nranges)
    nslots = d->nranges > 0 ? (size_t) d->nranges : 1;
  d->nslots = nslots;
  d->slots = calloc (nslots, sizeof *d->slots);
  if (d->slots == NULL) {
    st = Xva_s3_set_err (err, XVA_ENOMEM, api, "out of memory");
    goto fail;
  }
  for (i = 0; d->nranges > 0 && i < nslots; i++) {
    size_t size = d->info.size < d->range_size ? (size_t) d->info.size
                                               : d->range_size;
    d->slots[i].buf = malloc (size);
    if (d->slots[i].buf == NULL) {
      st = Xva_s3_set_err (err, XVA_ENOMEM, api,
                           "out of memory for %zu-byte ranges", size);
      goto fail;
    }
  }
  if (pthread_mutex_init (&d->mu, NULL) != 0) {
    st = Xva_s3_set_err (err, XVA_ENOMEM, api, "cannot create a mutex");
    goto fail;
  }
  if (pthread_cond_init (&d->cv, NULL) != 0) {
    pthread_mutex_destroy (&d->mu);
    st = Xva_s3_set_err (err, XVA_ENOMEM, api, "cannot create a mutex");
    goto fail;
  }
  d->sync_ok = 1;
  atomic_init (&d->cancel, 0);
  atomic_init (&d->transfers, 0);
  atomic_init (&d->retries, 0);

  nw = d->conf.c.parallel;
  if (nw > d->nranges)
    nw = (unsigned) d->nranges;
  if (nw > 0) {
    d->workers = calloc (nw, sizeof *d->workers);
    if (d->workers == NULL) {
      st = Xva_s3_set_err (err, XVA_ENOMEM, api, "out of memory");
      goto fail;
    }
  }
  for (i = 0; i < nw; i++) {
    struct dworker *w = &d->workers[i];
    w->d = d;
    if (Xva_s3_conn_init (&w->conn, &d->conf, &d->cancel) != XVA_OK)
      break;
    if (pthread_create (&w->tid, NULL, worker_main, w) != 0) {
      Xva_s3_conn_close (&w->conn);
      break;
    }
    d->nworkers++;
  }
  if (nw > 0 && d->nworkers == 0) {
    st = Xva_s3_set_err (err, XVA_ENOMEM, api,
                         "cannot start download threads");
    goto fail;
  }
  *status = XVA_OK;
  return d;

fail:
  Xva_s3_conn_close (&conn);
  *status = st;
  Xva_s3_download_free (d);
  return NULL;
}

const struct Xva_s3_info *
Xva_s3_download_info (const struct Xva_s3_download *d)
{
  return d != NULL ? &d->info : NULL;
}

int
Xva_s3_download_read (struct Xva_s3_download *d, void *buf, size_t len,
                      size_t *nread)
{
  unsigned char *dst = buf;
  size_t done = 0;
  int status = XVA_OK;

  *nread = 0;
  if (d == NULL)
    return XVA_EINVAL;
  if (d->fatal)
    return d->fatal;
  if (len > 0 && buf == NULL)
    return Xva_s3_set_err (&d->err, XVA_EINVAL, "Xva_s3_download_read",
                           "NULL buffer");
  while (done < len && d->next_read < d->nranges) {
    struct slot *s = &d->slots[d->next_read % d->nslots];
    size_t n;

    pthread_mutex_lock (&d->mu);
    /* Wait only for the first bytes of this call. */
    while (!d->failed && !(s->ready && s->index == d->next_read) && done == 0)
      pthread_cond_wait (&d->cv, &d->mu);
    n = (s->ready && s->index == d->next_read) ? 1 : 0;
    if (n == 0 && d->failed && done == 0) {
      d->err = d->werr;
      d->fatal = status = d->failed;
    }
    pthread_mutex_unlock (&d->mu);
    if (status != XVA_OK)
      return status;
    if (n == 0)
      break;
    n = s->len - d->read_pos;
    if (n > len - done)
      n = len - done;
    memcpy (dst + done, s->buf + d->read_pos, n);
    done += n;
    d->read_pos += n;
    if (d->read_pos == s->len) {
      pthread_mutex_lock (&d->mu);
      s->ready = 0;
      d->next_read++;
      d->read_pos = 0;
      pthread_cond_broadcast (&d->cv);
      pthread_mutex_unlock (&d->mu);
    }
  }
  *nread = done;
  return done > 0 || len == 0 ? XVA_OK : XVA_EOF;
}

unsigned
Xva_s3_download_retries (const struct Xva_s3_download *d)
{
  return d != NULL ? atomic_load (&d->retries) : 0;
}

const char *
Xva_s3_download_errmsg (const struct Xva_s3_download *d)
{
  return d != NULL ? d->err.msg : "no download";
}

const struct Xva_s3_err *
Xva_s3_download_error (const struct Xva_s3_download *d)
{
  return d != NULL ? &d->err : NULL;
}

void
Xva_s3_download_free (struct Xva_s3_download *d)
{
  size_t i;

  if (d == NULL)
    return;
  if (d->sync_ok) {
    stop_workers (d);
    pthread_cond_destroy (&d->cv);
    pthread_mutex_destroy (&d->mu);
  }
  for (i = 0; d->slots != NULL && i < d->nslots; i++)
    free (d->slots[i].buf);
  free (d->slots);
  Xva_s3_info_clear (&d->info);
  free (d->bucket);
  free (d->key);
  Xva_s3_conf_free (&d->conf);
  free (d);
}
