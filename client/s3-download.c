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

struct Xva_s3_download {
  struct Xva_s3_conf conf;
  char *bucket;
  char *key;
  struct Xva_s3_info info;
  struct Xva_s3_err err;
  int fatal;

  size_t range_size;
  uint64_t nranges;
  struct slot *slots;
  size_t nslots;
  uint64_t next_assign; /* next range a worker takes */
  uint64_t next_read;   /* range the reader is at */
  size_t read_pos;

  struct Xva_s3_crew crew;
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
  struct Xva_s3_download *d;
  struct slot *s;
  uint64_t start;         /* the range's first byte */
  struct curl_slist *hdr; /* this try's headers */
  size_t before;          /* bytes received before this try */
};

static int
range_before (void *opaque, struct Xva_s3_req *r, struct Xva_s3_err *err)
{
  struct range_try *rt = opaque;
  struct Xva_s3_download *d = rt->d;
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
  struct Xva_s3_download *d = rt->d;
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

  return rt->s->got > rt->before && attempt < 4 * rt->d->conf.c.retries;
}

/* GETs range i into s, resuming after failures. */
static int
fetch_range (struct Xva_s3_worker *w, uint64_t i, struct slot *s)
{
  struct Xva_s3_download *d = w->owner;
  char what[64];
  struct sink_state st = { s };
  struct range_try rt = { d, s, i * d->range_size, NULL, 0 };
  struct Xva_s3_tries t = {
    .before = range_before,
    .after = range_after,
    .more = range_more,
    .opaque = &rt,
    .transfers = &d->crew.transfers,
    .retries = &d->crew.retries,
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
  struct Xva_s3_worker *w = opaque;
  struct Xva_s3_download *d = w->owner;

  pthread_mutex_lock (&d->crew.mu);
  for (;;) {
    uint64_t i;
    struct slot *s;
    int status;

    while (!d->crew.stop && !d->crew.failed && d->next_assign < d->nranges
           && d->next_assign >= d->next_read + d->nslots)
      pthread_cond_wait (&d->crew.cv, &d->crew.mu);
    if (d->crew.stop || d->crew.failed || d->next_assign >= d->nranges)
      break;
    i = d->next_assign++;
    s = &d->slots[i % d->nslots];
    s->index = i;
    s->ready = 0;
    s->got = 0;
    s->len = d->range_size;
    if (i == d->nranges - 1)
      s->len = (size_t) (d->info.size - i * d->range_size);
    pthread_mutex_unlock (&d->crew.mu);

    status = fetch_range (w, i, s);

    pthread_mutex_lock (&d->crew.mu);
    if (status == XVA_OK)
      s->ready = 1;
    else
      Xva_s3_crew_fail (&d->crew, status, &w->err);
    pthread_cond_broadcast (&d->crew.cv);
  }
  pthread_mutex_unlock (&d->crew.mu);
  return NULL;
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
  st = Xva_s3_check_object (api, bucket, key, err);
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
  st = Xva_s3_crew_init (&d->crew, api, err);
  if (st != XVA_OK)
    goto fail;
  nw = d->conf.c.parallel;
  if (nw > d->nranges)
    nw = (unsigned) d->nranges;
  st = Xva_s3_crew_start (&d->crew, nw, &d->conf, worker_main, d, "download",
                          api, err);
  if (st != XVA_OK)
    goto fail;
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

    pthread_mutex_lock (&d->crew.mu);
    /* Wait only for the first bytes of this call. */
    while (!d->crew.failed && !(s->ready && s->index == d->next_read)
           && done == 0)
      pthread_cond_wait (&d->crew.cv, &d->crew.mu);
    n = (s->ready && s->index == d->next_read) ? 1 : 0;
    if (n == 0 && done == 0)
      d->fatal = status = Xva_s3_crew_failure (&d->crew, &d->err);
    pthread_mutex_unlock (&d->crew.mu);
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
      pthread_mutex_lock (&d->crew.mu);
      s->ready = 0;
      d->next_read++;
      d->read_pos = 0;
      pthread_cond_broadcast (&d->crew.cv);
      pthread_mutex_unlock (&d->crew.mu);
    }
  }
  *nread = done;
  return done > 0 || len == 0 ? XVA_OK : XVA_EOF;
}

unsigned
Xva_s3_download_retries (const struct Xva_s3_download *d)
{
  return d != NULL ? atomic_load (&d->crew.retries) : 0;
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
  Xva_s3_crew_free (&d->crew);
  for (i = 0; d->slots != NULL && i < d->nslots; i++)
    free (d->slots[i].buf);
  free (d->slots);
  Xva_s3_info_clear (&d->info);
  free (d->bucket);
  free (d->key);
  Xva_s3_conf_free (&d->conf);
  free (d);
}
