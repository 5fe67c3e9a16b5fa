/* The public object storage API (xva_s3_* in xva.h): thin wrappers over
 * the S3 layer that take s3:// addresses and report errors as text. */
#include "client/s3-priv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct xva_s3_upload {
  struct Xva_s3_upload *u;
  char msg[1100];
};

struct xva_s3_download {
  struct Xva_s3_download *d;
  char msg[1100];
};

struct listing_entry {
  char *key;
  uint64_t size;
  int64_t mtime;
  char *upload_id;         /* pending uploads only */
  struct Xva_s3_info info; /* metadata, when fetched */
};

struct xva_s3_listing {
  char bucket[XVA_S3_BUCKET_MAX + 1];
  size_t n;
  struct listing_entry *v;
};

/* ---- Helpers ------------------------------------------------------------ */

/* Copies an error message of the layer into out, naming the public call
 * instead of the layer's ("Xva_s3_list: GET ..." -> "xva_s3_list: GET
 * ..."). */
static void
put_msg (char *out, size_t outsize, const char *api, const char *msg)
{
  const char *rest = msg != NULL ? msg : "";
  const char *colon;

  if (out == NULL || outsize == 0)
    return;
  if (strncmp (rest, "Xva_s3_", 7) == 0
      && (colon = strstr (rest, ": ")) != NULL)
    rest = colon + 2;
  snprintf (out, outsize, "%s: %s", api, rest[0] != '\0' ? rest : "failed");
}

static int
set_msg (char *out, size_t outsize, int status, const char *api,
         const char *msg)
{
  put_msg (out, outsize, api, msg);
  return status;
}

static void
to_config (const struct xva_s3_opts *o, struct Xva_s3_config *c)
{
  Xva_s3_config_init (c);
  c->endpoint = o->endpoint;
  if (o->region != NULL)
    c->region = o->region;
  c->access_key = o->access_key;
  c->secret_key = o->secret_key;
  c->ca_file = o->ca_file;
  c->insecure = o->insecure;
  c->path_style = o->path_style;
  if (o->part_size != 0)
    c->part_size = o->part_size;
  if (o->range_size != 0)
    c->range_size = o->range_size;
  if (o->parallel != 0)
    c->parallel = o->parallel;
  if (o->max_memory != 0)
    c->max_memory = o->max_memory;
  if (o->retries != 0)
    c->retries = o->retries;
}

/* Parses url into *u; with need_key a key is required.  XVA_OK or
 * XVA_EINVAL (message in out). */
static int
parse_url (const char *url, int need_key, struct Xva_s3_url *u,
           const char *api, char *out, size_t outsize)
{
  struct Xva_s3_err e;
  int status;

  Xva_s3_err_clear (&e);
  status = Xva_s3_url_parse (url, u, &e);
  if (status != XVA_OK)
    return set_msg (out, outsize, status, api, e.msg);
  if (need_key && u->key[0] == '\0') {
    char m[320];
    snprintf (m, sizeof m,
              "'%.200s' names a bucket, not an object "
              "(s3://bucket/key)",
              url);
    return set_msg (out, outsize, XVA_EINVAL, api, m);
  }
  return XVA_OK;
}

/* What a call on an s3:// address gives the layer: the address, the
 * config and the layer's error. */
struct call {
  struct Xva_s3_url u;
  struct Xva_s3_config c;
  struct Xva_s3_err e;
};

/* The start of a call on url: checks o and url (with need_key, a key is
 * required) into k->u, makes the layer's config k->c from o and clears
 * k->e.  XVA_OK, or the status with the message in out. */
static int
call_begin (const struct xva_s3_opts *o, const char *url, int need_key,
            const char *api, struct call *k, char *out, size_t outsize)
{
  int status;

  if (o == NULL)
    return set_msg (out, outsize, XVA_EINVAL, api, "no options");
  status = parse_url (url, need_key, &k->u, api, out, outsize);
  if (status != XVA_OK)
    return status;
  to_config (o, &k->c);
  Xva_s3_err_clear (&k->e);
  return XVA_OK;
}

/* The end of a call: the message of a failure (the layer's, in e) into
 * out.  Returns status. */
static int
call_end (int status, const struct Xva_s3_err *e, const char *api, char *out,
          size_t outsize)
{
  if (status != XVA_OK)
    put_msg (out, outsize, api, e->msg);
  return status;
}

/* A constructor's failure: st into *status (when given).  Returns
 * NULL. */
static void *
new_failed (int *status, int st)
{
  if (status != NULL)
    *status = st;
  return NULL;
}

/* The start of a constructor on url (a key required): as call_begin,
 * then a zeroed handle of size bytes.  The handle, or NULL with *status
 * set and the message in out. */
static void *
handle_begin (const struct xva_s3_opts *o, const char *url, const char *api,
              size_t size, struct call *k, int *status, char *out,
              size_t outsize)
{
  void *h;
  int st;

  st = call_begin (o, url, 1, api, k, out, outsize);
  if (st != XVA_OK)
    return new_failed (status, st);
  h = calloc (1, size);
  if (h == NULL)
    return new_failed (status, set_msg (out, outsize, XVA_ENOMEM, api,
                                        "out of memory"));
  return h;
}

/* The end of a constructor: h once the layer's handle (layer) is made;
 * else h is freed and NULL returned with st in *status and the layer's
 * message (in k->e) in out. */
static void *
handle_end (void *h, const void *layer, int st, const struct call *k,
            const char *api, int *status, char *out, size_t outsize)
{
  if (layer == NULL) {
    free (h);
    return new_failed (status, set_msg (out, outsize, st, api, k->e.msg));
  }
  *status = XVA_OK;
  return h;
}

/* A handle's message: none without a handle, idle before a failure. */
static const char *
handle_msg (const char *msg, const char *none, const char *idle)
{
  if (msg == NULL)
    return none;
  return msg[0] != '\0' ? msg : idle;
}

/* ---- Options and addresses ---------------------------------------------- */

void
xva_s3_opts_init (struct xva_s3_opts *o)
{
  if (o == NULL)
    return;
  memset (o, 0, sizeof *o);
  o->path_style = 1;
}

int
xva_s3_opts_from_env (struct xva_s3_opts *o)
{
  struct Xva_s3_config c;
  int status;

  if (o == NULL)
    return XVA_EINVAL;
  Xva_s3_config_init (&c);
  c.endpoint = o->endpoint;
  c.region = o->region;
  c.access_key = o->access_key;
  c.secret_key = o->secret_key;
  c.ca_file = o->ca_file;
  c.insecure = o->insecure;
  c.path_style = o->path_style;
  status = Xva_s3_config_from_env (&c);
  o->endpoint = c.endpoint;
  o->region = c.region;
  o->access_key = c.access_key;
  o->secret_key = c.secret_key;
  o->ca_file = c.ca_file;
  o->insecure = c.insecure;
  o->path_style = c.path_style;
  return status;
}

int
xva_s3_is_url (const char *s)
{
  return s != NULL && strncmp (s, "s3://", 5) == 0;
}

int
xva_s3_url_check (const char *url, int need_key, char *err, size_t errlen)
{
  struct Xva_s3_url u;

  return parse_url (url, need_key, &u, "xva_s3_url_check", err, errlen);
}

/* ---- One-shot calls ----------------------------------------------------- */

int
xva_s3_bucket_check (const struct xva_s3_opts *o, const char *url, char *err,
                     size_t errlen)
{
  static const char api[] = "xva_s3_bucket_check";
  struct Xva_s3_conf conf;
  struct Xva_s3_conn conn = { NULL, NULL, NULL };
  struct Xva_s3_pair params[3];
  struct call k;
  struct Xva_s3_req r;
  char query[XVA_S3_QUERY_MAX];
  xmlDocPtr doc = NULL;
  int status;

  status = call_begin (o, url, 0, api, &k, err, errlen);
  if (status != XVA_OK)
    return status;
  status = Xva_s3_conf_copy (&conf, &k.c, "Xva_s3_bucket_check", &k.e);
  if (status != XVA_OK)
    return call_end (status, &k.e, api, err, errlen);
  Xva_s3_req_init (&r, "Xva_s3_bucket_check", "GET", k.u.bucket, NULL, NULL);
  params[0].name = "list-type";
  params[0].value = "2";
  params[1].name = "max-keys";
  params[1].value = "1";
  params[2].name = "prefix";
  params[2].value = k.u.key;
  if (Xva_s3_query_build (params, k.u.key[0] != '\0' ? 3 : 2, query,
                          sizeof query)
      < 0) {
    status = Xva_s3_set_err (&k.e, XVA_EINVAL, api, "key too long");
    goto out;
  }
  if (Xva_s3_conn_init (&conn, &conf, NULL) != XVA_OK) {
    status = Xva_s3_set_err (&k.e, XVA_ENOMEM, api, "out of memory");
    goto out;
  }
  r.query = query;
  r.what = "(listing)";
  status = Xva_s3_perform_retry (&conn, &r, &k.e);
  if (status == XVA_OK)
    status = Xva_s3_xml_parse (&r, "ListBucketResult", &doc, &k.e);
  /* Credentials allowed to write but not to list. */
  if (status == XVA_EAUTH && strcmp (k.e.code, "AccessDenied") == 0)
    status = XVA_OK;
out:
  if (doc != NULL)
    xmlFreeDoc (doc);
  Xva_s3_req_clear (&r);
  Xva_s3_conn_close (&conn);
  Xva_s3_conf_free (&conf);
  return call_end (status, &k.e, api, err, errlen);
}

int
xva_s3_delete (const struct xva_s3_opts *o, const char *url, char *err,
               size_t errlen)
{
  static const char api[] = "xva_s3_delete";
  struct call k;
  int status;

  status = call_begin (o, url, 1, api, &k, err, errlen);
  if (status != XVA_OK)
    return status;
  status = Xva_s3_delete (&k.c, k.u.bucket, k.u.key, &k.e);
  return call_end (status, &k.e, api, err, errlen);
}

int
xva_s3_abort_pending (const struct xva_s3_opts *o, const char *url,
                      const char *upload_id, char *err, size_t errlen)
{
  static const char api[] = "xva_s3_abort_pending";
  struct call k;
  int status;

  status = call_begin (o, url, 1, api, &k, err, errlen);
  if (status != XVA_OK)
    return status;
  status = Xva_s3_abort_pending (&k.c, k.u.bucket, k.u.key, upload_id, &k.e);
  if (status == XVA_ENOTFOUND && strcmp (k.e.code, "NoSuchUpload") == 0)
    status = XVA_OK;
  return call_end (status, &k.e, api, err, errlen);
}

/* ---- Upload ------------------------------------------------------------- */

struct xva_s3_upload *
xva_s3_upload_new (const struct xva_s3_opts *o, const char *url,
                   const struct xva_s3_pair *meta, size_t nmeta,
                   uint64_t expected_size, int *status, char *err,
                   size_t errlen)
{
  static const char api[] = "xva_s3_upload_new";
  struct Xva_s3_pair pairs[XVA_S3_META_MAX];
  struct xva_s3_upload *h;
  struct call k;
  size_t i;
  int st;

  if (o == NULL || status == NULL || (nmeta > 0 && meta == NULL))
    return new_failed (status, set_msg (err, errlen, XVA_EINVAL, api,
                                        "NULL argument"));
  if (nmeta > XVA_S3_META_MAX)
    return new_failed (status, set_msg (err, errlen, XVA_EINVAL, api,
                                        "too many metadata pairs"));
  h = handle_begin (o, url, api, sizeof *h, &k, status, err, errlen);
  if (h == NULL)
    return NULL;
  for (i = 0; i < nmeta; i++) {
    pairs[i].name = meta[i].name;
    pairs[i].value = meta[i].value;
  }
  h->u = Xva_s3_upload_new (&k.c, k.u.bucket, k.u.key, pairs, nmeta,
                            expected_size, &st, &k.e);
  return handle_end (h, h->u, st, &k, api, status, err, errlen);
}

/* Keeps the layer's message of a failed call under the public name. */
static int
upload_status (struct xva_s3_upload *u, int status, const char *api)
{
  if (status < 0)
    put_msg (u->msg, sizeof u->msg, api, Xva_s3_upload_errmsg (u->u));
  return status;
}

int
xva_s3_upload_write (struct xva_s3_upload *u, const void *buf, size_t len)
{
  if (u == NULL)
    return XVA_EINVAL;
  return upload_status (u, Xva_s3_upload_write (u->u, buf, len),
                        "xva_s3_upload_write");
}

int
xva_s3_upload_complete (struct xva_s3_upload *u)
{
  if (u == NULL)
    return XVA_EINVAL;
  return upload_status (u, Xva_s3_upload_complete (u->u),
                        "xva_s3_upload_complete");
}

int
xva_s3_upload_abort (struct xva_s3_upload *u)
{
  if (u == NULL)
    return XVA_EINVAL;
  return upload_status (u, Xva_s3_upload_abort (u->u), "xva_s3_upload_abort");
}

void
xva_s3_upload_stats (const struct xva_s3_upload *u,
                     struct xva_s3_upload_stats *s)
{
  if (s == NULL)
    return;
  memset (s, 0, sizeof *s);
  if (u == NULL)
    return;
  s->bytes = Xva_s3_upload_bytes (u->u);
  s->parts = Xva_s3_upload_parts (u->u);
  s->retries = Xva_s3_upload_retries (u->u);
  s->max_inflight = Xva_s3_upload_max_inflight (u->u);
}

const char *
xva_s3_upload_errmsg (const struct xva_s3_upload *u)
{
  return handle_msg (u != NULL ? u->msg : NULL, "xva_s3_upload: no upload",
                     "xva_s3_upload: no error");
}

void
xva_s3_upload_free (struct xva_s3_upload *u)
{
  if (u == NULL)
    return;
  Xva_s3_upload_free (u->u);
  free (u);
}

/* ---- Download ------------------------------------------------------------- */

struct xva_s3_download *
xva_s3_download_new (const struct xva_s3_opts *o, const char *url, int *status,
                     char *err, size_t errlen)
{
  static const char api[] = "xva_s3_download_new";
  struct xva_s3_download *h;
  struct call k;
  int st;

  if (o == NULL || status == NULL)
    return new_failed (status, set_msg (err, errlen, XVA_EINVAL, api,
                                        "NULL argument"));
  h = handle_begin (o, url, api, sizeof *h, &k, status, err, errlen);
  if (h == NULL)
    return NULL;
  h->d = Xva_s3_download_new (&k.c, k.u.bucket, k.u.key, &st, &k.e);
  return handle_end (h, h->d, st, &k, api, status, err, errlen);
}

uint64_t
xva_s3_download_size (const struct xva_s3_download *d)
{
  const struct Xva_s3_info *info;

  if (d == NULL)
    return 0;
  info = Xva_s3_download_info (d->d);
  return info != NULL ? info->size : 0;
}

const char *
xva_s3_download_meta (const struct xva_s3_download *d, const char *name)
{
  if (d == NULL || name == NULL)
    return NULL;
  return Xva_s3_info_meta (Xva_s3_download_info (d->d), name);
}

int
xva_s3_download_read (struct xva_s3_download *d, void *buf, size_t len,
                      size_t *nread)
{
  int status;

  if (d == NULL || nread == NULL) {
    if (nread != NULL)
      *nread = 0;
    return XVA_EINVAL;
  }
  status = Xva_s3_download_read (d->d, buf, len, nread);
  if (status < 0)
    put_msg (d->msg, sizeof d->msg, "xva_s3_download_read",
             Xva_s3_download_errmsg (d->d));
  return status;
}

unsigned
xva_s3_download_retries (const struct xva_s3_download *d)
{
  return d != NULL ? Xva_s3_download_retries (d->d) : 0;
}

const char *
xva_s3_download_errmsg (const struct xva_s3_download *d)
{
  return handle_msg (d != NULL ? d->msg : NULL, "xva_s3_download: no download",
                     "xva_s3_download: no error");
}

void
xva_s3_download_free (struct xva_s3_download *d)
{
  if (d == NULL)
    return;
  Xva_s3_download_free (d->d);
  free (d);
}

/* ---- Listings --------------------------------------------------------------- */

void
xva_s3_listing_free (struct xva_s3_listing *l)
{
  size_t i;

  if (l == NULL)
    return;
  for (i = 0; i < l->n; i++) {
    free (l->v[i].key);
    free (l->v[i].upload_id);
    Xva_s3_info_clear (&l->v[i].info);
  }
  free (l->v);
  free (l);
}

/* Room for n entries in l (none when n is 0).  XVA_OK or XVA_ENOMEM. */
static int
listing_room (struct xva_s3_listing *l, size_t n)
{
  if (n == 0)
    return XVA_OK;
  l->v = calloc (n, sizeof *l->v);
  return l->v != NULL ? XVA_OK : XVA_ENOMEM;
}

/* Moves a pending-upload listing into l. */
static int
take_pending (struct xva_s3_listing *l, struct Xva_s3_pending_list *p)
{
  size_t i;

  if (listing_room (l, p->n) != XVA_OK)
    return XVA_ENOMEM;
  for (i = 0; i < p->n; i++) {
    struct listing_entry *e = &l->v[l->n];
    e->upload_id = strdup (p->v[i].upload_id);
    if (e->upload_id == NULL)
      return XVA_ENOMEM;
    e->key = p->v[i].key;
    p->v[i].key = NULL;
    e->size = 0;
    e->mtime = Xva_s3_parse_time (p->v[i].initiated);
    e->info.mtime = -1;
    l->n++;
  }
  return XVA_OK;
}

/* Moves an object listing into l. */
static int
take_objects (struct xva_s3_listing *l, struct Xva_s3_list *o)
{
  size_t i;

  if (listing_room (l, o->n) != XVA_OK)
    return XVA_ENOMEM;
  for (i = 0; i < o->n; i++) {
    struct listing_entry *e = &l->v[l->n];
    e->key = o->v[i].key;
    o->v[i].key = NULL;
    e->size = o->v[i].size;
    e->mtime = o->v[i].mtime;
    if (o->v[i].have_info) {
      e->info = o->v[i].info;
      memset (&o->v[i].info, 0, sizeof o->v[i].info);
      o->v[i].info.mtime = -1;
      e->size = e->info.size;
      if (e->info.mtime >= 0)
        e->mtime = e->info.mtime;
    }
    else
      e->info.mtime = -1;
    l->n++;
  }
  return XVA_OK;
}

int
xva_s3_list (const struct xva_s3_opts *o, const char *url, unsigned flags,
             struct xva_s3_listing **out, char *err, size_t errlen)
{
  static const char api[] = "xva_s3_list";
  struct xva_s3_listing *l = NULL;
  struct Xva_s3_list *objs = NULL;
  struct Xva_s3_pending_list *pend = NULL;
  struct call k;
  int status;

  if (out == NULL || o == NULL)
    return set_msg (err, errlen, XVA_EINVAL, api, "NULL argument");
  *out = NULL;
  status = call_begin (o, url, 0, api, &k, err, errlen);
  if (status != XVA_OK)
    return status;
  l = calloc (1, sizeof *l);
  if (l == NULL)
    return set_msg (err, errlen, XVA_ENOMEM, api, "out of memory");
  memcpy (l->bucket, k.u.bucket, sizeof l->bucket);
  if (flags & XVA_S3_LIST_PENDING) {
    status = Xva_s3_list_uploads (&k.c, k.u.bucket, k.u.key, &pend, &k.e);
    if (status == XVA_OK && take_pending (l, pend) != XVA_OK)
      status = Xva_s3_set_err (&k.e, XVA_ENOMEM, api, "out of memory");
  }
  else {
    status = Xva_s3_list (&k.c, k.u.bucket, k.u.key, 0, &objs, &k.e);
    if (status == XVA_OK && (flags & XVA_S3_LIST_META))
      status = Xva_s3_list_fetch_info (&k.c, k.u.bucket, objs, &k.e);
    if (status == XVA_OK && take_objects (l, objs) != XVA_OK)
      status = Xva_s3_set_err (&k.e, XVA_ENOMEM, api, "out of memory");
  }
  Xva_s3_list_free (objs);
  Xva_s3_pending_free (pend);
  if (status != XVA_OK) {
    xva_s3_listing_free (l);
    return call_end (status, &k.e, api, err, errlen);
  }
  *out = l;
  return XVA_OK;
}

size_t
xva_s3_listing_count (const struct xva_s3_listing *l)
{
  return l != NULL ? l->n : 0;
}

const char *
xva_s3_listing_bucket (const struct xva_s3_listing *l)
{
  return l != NULL ? l->bucket : NULL;
}

const char *
xva_s3_listing_key (const struct xva_s3_listing *l, size_t i)
{
  return l != NULL && i < l->n ? l->v[i].key : NULL;
}

uint64_t
xva_s3_listing_size (const struct xva_s3_listing *l, size_t i)
{
  return l != NULL && i < l->n ? l->v[i].size : 0;
}

int64_t
xva_s3_listing_mtime (const struct xva_s3_listing *l, size_t i)
{
  return l != NULL && i < l->n ? l->v[i].mtime : -1;
}

const char *
xva_s3_listing_meta (const struct xva_s3_listing *l, size_t i,
                     const char *name)
{
  if (l == NULL || i >= l->n || name == NULL)
    return NULL;
  return Xva_s3_info_meta (&l->v[i].info, name);
}

const char *
xva_s3_listing_upload_id (const struct xva_s3_listing *l, size_t i)
{
  return l != NULL && i < l->n ? l->v[i].upload_id : NULL;
}
