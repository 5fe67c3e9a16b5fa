/* S3 objects: HEAD, DELETE, listings and pending multipart uploads. */
#include "client/s3-priv.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- HEAD and DELETE -------------------------------------------------- */

void
Xva_s3_info_clear (struct Xva_s3_info *info)
{
  if (info == NULL)
    return;
  Xva_s3_meta_free (info->meta, info->nmeta);
  memset (info, 0, sizeof *info);
  info->mtime = -1;
}

const char *
Xva_s3_info_meta (const struct Xva_s3_info *info, const char *name)
{
  size_t i;

  for (i = 0; info != NULL && i < info->nmeta; i++)
    if (strcasecmp (info->meta[i].name, name) == 0)
      return info->meta[i].value;
  return NULL;
}

int
Xva_s3_head_on (struct Xva_s3_conn *conn, const char *api, const char *bucket,
                const char *key, struct Xva_s3_info *info,
                struct Xva_s3_err *err)
{
  struct Xva_s3_req r;
  int status;

  Xva_s3_info_clear (info);
  Xva_s3_req_init (&r, api, "HEAD", bucket, key, NULL);
  r.want_meta = 1;
  status = Xva_s3_perform_retry (conn, &r, err);
  if (status != XVA_OK)
    goto out;
  if (!r.have_length) {
    status = Xva_s3_set_err (err, XVA_ESERVER, api,
                             "HEAD s3://%s/%.300s: no Content-Length", bucket,
                             key);
    goto out;
  }
  info->size = r.content_length;
  Xva_s3_copy_text (info->etag, sizeof info->etag, r.etag, strlen (r.etag));
  Xva_s3_copy_text (info->last_modified, sizeof info->last_modified,
                    r.last_modified, strlen (r.last_modified));
  info->mtime = Xva_s3_parse_time (r.last_modified);
  info->meta = r.meta;
  info->nmeta = r.nmeta;
  r.meta = NULL;
  r.nmeta = 0;
out:
  Xva_s3_req_clear (&r);
  return status;
}

int
Xva_s3_check_names (const char *api, const char *bucket, const char *key,
                    struct Xva_s3_err *err)
{
  if (bucket == NULL || !Xva_s3_bucket_valid (bucket))
    return Xva_s3_set_err (err, XVA_EINVAL, api, "bad bucket name '%.64s'",
                           bucket ? bucket : "(null)");
  if (key != NULL && !Xva_s3_key_valid (key))
    return Xva_s3_set_err (err, XVA_EINVAL, api, "bad key '%.200s'", key);
  return XVA_OK;
}

int
Xva_s3_check_object (const char *api, const char *bucket, const char *key,
                     struct Xva_s3_err *err)
{
  int status = Xva_s3_check_names (api, bucket, key, err);

  if (status == XVA_OK && key == NULL)
    status = Xva_s3_set_err (err, XVA_EINVAL, api, "no key");
  return status;
}

/* A one-shot call's own connection, and its error. */
struct call {
  struct Xva_s3_conf conf;
  struct Xva_s3_conn conn;
  struct Xva_s3_err local_err;
  struct Xva_s3_err *err; /* the caller's, or local_err */
};

/* The start of a one-shot call: k->err (err, or k's own when err is
 * NULL) cleared; XVA_EINVAL with the message refuse unless that is
 * NULL; then checks bucket, key and prefix (NULL: none), copies c into
 * k->conf and opens k->conn on it.  XVA_OK (close with call_close), or
 * the status with k->err set. */
static int
call_open (struct call *k, const struct Xva_s3_config *c, const char *api,
           const char *refuse, const char *bucket, const char *key,
           const char *prefix, struct Xva_s3_err *err)
{
  int status;

  k->err = err != NULL ? err : &k->local_err;
  Xva_s3_err_clear (k->err);
  if (refuse != NULL)
    return Xva_s3_set_err (k->err, XVA_EINVAL, api, "%s", refuse);
  status = Xva_s3_check_names (api, bucket, key, k->err);
  if (status != XVA_OK)
    return status;
  if (prefix != NULL && strlen (prefix) > XVA_S3_KEY_MAX)
    return Xva_s3_set_err (k->err, XVA_EINVAL, api, "prefix too long");
  status = Xva_s3_conf_copy (&k->conf, c, api, k->err);
  if (status != XVA_OK)
    return status;
  if (Xva_s3_conn_init (&k->conn, &k->conf, NULL) != XVA_OK) {
    Xva_s3_conf_free (&k->conf);
    return Xva_s3_set_err (k->err, XVA_ENOMEM, api, "out of memory");
  }
  return XVA_OK;
}

static void
call_close (struct call *k)
{
  Xva_s3_conn_close (&k->conn);
  Xva_s3_conf_free (&k->conf);
}

int
Xva_s3_head (const struct Xva_s3_config *c, const char *bucket,
             const char *key, struct Xva_s3_info *info, struct Xva_s3_err *err)
{
  static const char api[] = "Xva_s3_head";
  struct call k;
  int status;

  Xva_s3_info_clear (info);
  status = call_open (&k, c, api, key == NULL ? "no key" : NULL, bucket, key,
                      NULL, err);
  if (status != XVA_OK)
    return status;
  status = Xva_s3_head_on (&k.conn, api, bucket, key, info, k.err);
  call_close (&k);
  return status;
}

int
Xva_s3_delete (const struct Xva_s3_config *c, const char *bucket,
               const char *key, struct Xva_s3_err *err)
{
  static const char api[] = "Xva_s3_delete";
  struct call k;
  struct Xva_s3_req r;
  int status;

  status = call_open (&k, c, api, key == NULL ? "no key" : NULL, bucket, key,
                      NULL, err);
  if (status != XVA_OK)
    return status;
  Xva_s3_req_init (&r, api, "DELETE", bucket, key, NULL);
  status = Xva_s3_perform_retry (&k.conn, &r, k.err);
  Xva_s3_req_clear (&r);
  call_close (&k);
  return status;
}

/* ---- Listing ---------------------------------------------------------- */

static void
entry_free (struct Xva_s3_entry *e)
{
  free (e->key);
  Xva_s3_info_clear (&e->info);
}

void
Xva_s3_list_free (struct Xva_s3_list *list)
{
  size_t i;

  if (list == NULL)
    return;
  for (i = 0; i < list->n; i++)
    entry_free (&list->v[i]);
  free (list->v);
  free (list);
}

static int
parse_u64 (const char *s, uint64_t *v)
{
  unsigned long long x;
  char *end;

  if (s[0] < '0' || s[0] > '9')
    return -1;
  errno = 0;
  x = strtoull (s, &end, 10);
  if (errno != 0 || *end != '\0')
    return -1;
  *v = x;
  return 0;
}

/* "true" in <IsTruncated>. */
static int
truncated (xmlNodePtr root)
{
  char t[16];

  return Xva_s3_xml_text (root, "IsTruncated", t, sizeof t) >= 0
         && strcmp (t, "true") == 0;
}

/* Room for entry n of the array v (*cap allocated, of size bytes each:
 * first, then doubling; *cap updated), zeroed.  More than max entries
 * are XVA_ELIMIT ("more than <max> <many>").  The array (v, or v moved),
 * or NULL with err set (v is left as it was). */
static void *
one_more (void *v, size_t n, size_t *cap, size_t size, size_t first,
          size_t max, const char *many, const char *api,
          struct Xva_s3_err *err)
{
  unsigned char *nv = v;
  size_t ncap;

  if (n >= max) {
    Xva_s3_set_err (err, XVA_ELIMIT, api, "more than %zu %s", max, many);
    return NULL;
  }
  if (n >= *cap) {
    ncap = *cap ? *cap * 2 : first;
    nv = realloc (v, ncap * size);
    if (nv == NULL) {
      Xva_s3_set_err (err, XVA_ENOMEM, api, "out of memory");
      return NULL;
    }
    *cap = ncap;
  }
  memset (nv + n * size, 0, size);
  return nv;
}

/* The <Key> of the listed entry c (newly allocated), or NULL with err
 * set ("<listing>: entry without a valid <Key>"). */
static char *
entry_key (xmlNodePtr c, const char *listing, const char *api,
           struct Xva_s3_err *err)
{
  char *key = Xva_s3_xml_strdup (c, "Key", XVA_S3_KEY_MAX);

  if (key == NULL)
    Xva_s3_set_err (err, XVA_ESERVER, api, "%s: entry without a valid <Key>",
                    listing);
  return key;
}

/* The start of what one paged listing builds: the list (a struct
 * Xva_s3_list or Xva_s3_pending_list) and its array's allocation. */
struct listing {
  void *list;
  size_t cap;
};

/* What one paged listing (ListObjectsV2, ListMultipartUploads) adds to
 * the loop of list_pages. */
struct pager {
  const char *kind;       /* the first query pair: "list-type" */
  const char *kind_value; /* "2" */
  const char *page_param; /* the page size pair: "max-keys" */
  const char *root_name;  /* the answer's root: "ListBucketResult" */
  const char *elem;       /* one entry of a page: "Contents" */
  size_t max_pages;       /* more: XVA_ELIMIT */
  size_t list_size;       /* bytes of the list that is built */
  void (*list_free) (void *list);
  /* Puts the query pairs that continue the listing (none for the first
   * page) into p; returns how many (at most 2). */
  size_t (*markers) (void *opaque, struct Xva_s3_pair *p);
  /* Takes one entry element. */
  int (*take) (void *opaque, xmlNodePtr e, const char *api,
               struct Xva_s3_err *err);
  /* After a truncated page that gave n entries: keeps where the next
   * page starts.  XVA_OK, or XVA_ESERVER when the answer does not say. */
  int (*next) (void *opaque, xmlNodePtr root, size_t n, const char *api,
               struct Xva_s3_err *err);
};

/* Lists the entries of bucket under prefix (NULL: all) page by page
 * into a new list at l->list, giving each entry to pg->take; opaque
 * (which holds l) goes to pg's functions.  err may be NULL.  On failure
 * l->list is NULL. */
static int
list_pages (const struct Xva_s3_config *c, const char *bucket,
            const char *prefix, const struct pager *pg, struct listing *l,
            void *opaque, const char *api, struct Xva_s3_err *err)
{
  struct call k;
  struct Xva_s3_req r;
  struct Xva_s3_pair params[6];
  char query[XVA_S3_QUERY_MAX], page[16];
  xmlDocPtr doc = NULL;
  size_t np, n, pages;
  int status;

  l->list = NULL;
  if (prefix == NULL)
    prefix = "";
  status = call_open (&k, c, api, NULL, bucket, NULL, prefix, err);
  if (status != XVA_OK)
    return status;
  err = k.err;
  l->list = calloc (1, pg->list_size);
  if (l->list == NULL) {
    status = Xva_s3_set_err (err, XVA_ENOMEM, api, "out of memory");
    goto out;
  }
  snprintf (page, sizeof page, "%u", k.conf.c.list_page);
  for (pages = 0;; pages++) {
    xmlNodePtr root, e;
    if (pages > pg->max_pages) {
      status = Xva_s3_set_err (err, XVA_ELIMIT, api, "too many pages");
      goto out;
    }
    params[0].name = pg->kind;
    params[0].value = pg->kind_value;
    params[1].name = pg->page_param;
    params[1].value = page;
    np = 2;
    if (prefix[0] != '\0') {
      params[np].name = "prefix";
      params[np++].value = prefix;
    }
    np += pg->markers (opaque, params + np);
    if (Xva_s3_query_build (params, np, query, sizeof query) < 0) {
      status = Xva_s3_set_err (err, XVA_EINVAL, api, "query too long");
      goto out;
    }
    Xva_s3_req_init (&r, api, "GET", bucket, NULL, query);
    status = Xva_s3_perform_retry (&k.conn, &r, err);
    if (status == XVA_OK)
      status = Xva_s3_xml_parse (&r, pg->root_name, &doc, err);
    Xva_s3_req_clear (&r);
    if (status != XVA_OK)
      goto out;
    root = xmlDocGetRootElement (doc);
    n = 0;
    for (e = root->children; e != NULL; e = e->next) {
      if (e->type != XML_ELEMENT_NODE
          || xmlStrcmp (e->name, (const xmlChar *) pg->elem) != 0)
        continue;
      status = pg->take (opaque, e, api, err);
      if (status != XVA_OK)
        goto out;
      n++;
    }
    if (!truncated (root))
      break;
    status = pg->next (opaque, root, n, api, err);
    if (status != XVA_OK)
      goto out;
    xmlFreeDoc (doc);
    doc = NULL;
  }
  status = XVA_OK;
out:
  if (doc != NULL)
    xmlFreeDoc (doc);
  call_close (&k);
  if (status != XVA_OK && l->list != NULL) {
    pg->list_free (l->list);
    l->list = NULL;
  }
  return status;
}

/* ListObjectsV2 into a Xva_s3_list. */
struct objects {
  struct listing l;
  size_t max_keys;
  char token[1100]; /* continuation token, or "" */
};

static size_t
objects_markers (void *opaque, struct Xva_s3_pair *p)
{
  struct objects *o = opaque;

  if (o->token[0] == '\0')
    return 0;
  p[0].name = "continuation-token";
  p[0].value = o->token;
  return 1;
}

/* Appends one <Contents> to the list. */
static int
objects_take (void *opaque, xmlNodePtr c, const char *api,
              struct Xva_s3_err *err)
{
  struct objects *o = opaque;
  struct Xva_s3_list *list = o->l.list;
  struct Xva_s3_entry *v, *e;
  char num[32], lm[64];

  v = one_more (list->v, list->n, &o->l.cap, sizeof *v, 64, o->max_keys,
                "keys", api, err);
  if (v == NULL)
    return err->status;
  list->v = v;
  e = &list->v[list->n];
  e->mtime = -1;
  e->info.mtime = -1;
  e->key = entry_key (c, "listing", api, err);
  if (e->key == NULL)
    return err->status;
  list->n++;
  if (Xva_s3_xml_text (c, "Size", num, sizeof num) < 0
      || parse_u64 (num, &e->size) < 0)
    return Xva_s3_set_err (err, XVA_ESERVER, api,
                           "listing: bad <Size> for '%.200s'", e->key);
  if (Xva_s3_xml_text (c, "LastModified", lm, sizeof lm) >= 0)
    e->mtime = Xva_s3_parse_time (lm);
  if (Xva_s3_xml_text (c, "ETag", e->etag, sizeof e->etag) < 0)
    e->etag[0] = '\0';
  return XVA_OK;
}

static int
objects_next (void *opaque, xmlNodePtr root, size_t n, const char *api,
              struct Xva_s3_err *err)
{
  struct objects *o = opaque;
  char prev[sizeof o->token];

  (void) n;
  memcpy (prev, o->token, sizeof prev);
  if (Xva_s3_xml_text (root, "NextContinuationToken", o->token,
                       sizeof o->token)
        <= 0
      || strcmp (prev, o->token) == 0)
    return Xva_s3_set_err (err, XVA_ESERVER, api,
                           "listing truncated without a new "
                           "continuation token");
  return XVA_OK;
}

static void
objects_free (void *list)
{
  Xva_s3_list_free (list);
}

static const struct pager objects_pager = {
  .kind = "list-type",
  .kind_value = "2",
  .page_param = "max-keys",
  .root_name = "ListBucketResult",
  .elem = "Contents",
  .max_pages = SIZE_MAX, /* none: max_keys bounds the list */
  .list_size = sizeof (struct Xva_s3_list),
  .list_free = objects_free,
  .markers = objects_markers,
  .take = objects_take,
  .next = objects_next,
};

int
Xva_s3_list (const struct Xva_s3_config *c, const char *bucket,
             const char *prefix, size_t max_keys, struct Xva_s3_list **out,
             struct Xva_s3_err *err)
{
  struct objects o;
  int status;

  memset (&o, 0, sizeof o);
  o.max_keys = max_keys != 0 ? max_keys : XVA_S3_LIST_DEFAULT_MAX;
  status = list_pages (c, bucket, prefix, &objects_pager, &o.l, &o,
                       "Xva_s3_list", err);
  *out = o.l.list;
  return status;
}

int
Xva_s3_list_fetch_info (const struct Xva_s3_config *c, const char *bucket,
                        struct Xva_s3_list *list, struct Xva_s3_err *err)
{
  static const char api[] = "Xva_s3_list_fetch_info";
  struct call k;
  size_t i = 0;
  int status;

  status = call_open (&k, c, api, NULL, bucket, NULL, NULL, err);
  if (status != XVA_OK)
    return status;
  while (list != NULL && i < list->n) {
    struct Xva_s3_entry *e = &list->v[i];
    status = Xva_s3_head_on (&k.conn, api, bucket, e->key, &e->info, k.err);
    if (status == XVA_ENOTFOUND) {
      /* Deleted since the listing: drop it. */
      entry_free (e);
      memmove (e, e + 1, (list->n - i - 1) * sizeof *e);
      list->n--;
      continue;
    }
    if (status != XVA_OK)
      goto out;
    e->have_info = 1;
    i++;
  }
  Xva_s3_err_clear (k.err);
  status = XVA_OK;
out:
  call_close (&k);
  return status;
}

/* ---- Pending multipart uploads -------------------------------------- */

void
Xva_s3_pending_free (struct Xva_s3_pending_list *list)
{
  size_t i;

  if (list == NULL)
    return;
  for (i = 0; i < list->n; i++)
    free (list->v[i].key);
  free (list->v);
  free (list);
}

#define PENDING_MAX 100000u

/* ListMultipartUploads into a Xva_s3_pending_list. */
struct uploads {
  struct listing l;
  char key_marker[XVA_S3_KEY_MAX + 1]; /* "" on the first page */
  char id_marker[XVA_S3_UPLOAD_ID_MAX + 1];
};

static size_t
uploads_markers (void *opaque, struct Xva_s3_pair *p)
{
  struct uploads *u = opaque;

  if (u->key_marker[0] == '\0')
    return 0;
  p[0].name = "key-marker";
  p[0].value = u->key_marker;
  p[1].name = "upload-id-marker";
  p[1].value = u->id_marker;
  return 2;
}

/* Appends one <Upload> to the list. */
static int
uploads_take (void *opaque, xmlNodePtr c, const char *api,
              struct Xva_s3_err *err)
{
  struct uploads *u = opaque;
  struct Xva_s3_pending_list *list = u->l.list;
  struct Xva_s3_pending *v, *p;

  v = one_more (list->v, list->n, &u->l.cap, sizeof *v, 16, PENDING_MAX,
                "pending uploads", api, err);
  if (v == NULL)
    return err->status;
  list->v = v;
  p = &list->v[list->n];
  p->key = entry_key (c, "upload listing", api, err);
  if (p->key == NULL)
    return err->status;
  list->n++;
  if (Xva_s3_xml_text (c, "UploadId", p->upload_id, sizeof p->upload_id) <= 0)
    return Xva_s3_set_err (err, XVA_ESERVER, api,
                           "upload listing: bad <UploadId> for '%.200s'",
                           p->key);
  if (Xva_s3_xml_text (c, "Initiated", p->initiated, sizeof p->initiated) < 0)
    p->initiated[0] = '\0';
  return XVA_OK;
}

static int
uploads_next (void *opaque, xmlNodePtr root, size_t n, const char *api,
              struct Xva_s3_err *err)
{
  struct uploads *u = opaque;

  if (n == 0
      || Xva_s3_xml_text (root, "NextKeyMarker", u->key_marker,
                          sizeof u->key_marker)
           <= 0
      || Xva_s3_xml_text (root, "NextUploadIdMarker", u->id_marker,
                          sizeof u->id_marker)
           < 0)
    return Xva_s3_set_err (err, XVA_ESERVER, api,
                           "upload listing truncated without markers");
  return XVA_OK;
}

static void
uploads_free (void *list)
{
  Xva_s3_pending_free (list);
}

static const struct pager uploads_pager = {
  .kind = "uploads",
  .kind_value = "",
  .page_param = "max-uploads",
  .root_name = "ListMultipartUploadsResult",
  .elem = "Upload",
  .max_pages = PENDING_MAX,
  .list_size = sizeof (struct Xva_s3_pending_list),
  .list_free = uploads_free,
  .markers = uploads_markers,
  .take = uploads_take,
  .next = uploads_next,
};

int
Xva_s3_list_uploads (const struct Xva_s3_config *c, const char *bucket,
                     const char *prefix, struct Xva_s3_pending_list **out,
                     struct Xva_s3_err *err)
{
  struct uploads u;
  int status;

  memset (&u, 0, sizeof u);
  status = list_pages (c, bucket, prefix, &uploads_pager, &u.l, &u,
                       "Xva_s3_list_uploads", err);
  *out = u.l.list;
  return status;
}

int
Xva_s3_abort_pending (const struct Xva_s3_config *c, const char *bucket,
                      const char *key, const char *upload_id,
                      struct Xva_s3_err *err)
{
  static const char api[] = "Xva_s3_abort_pending";
  struct call k;
  int status;

  status = call_open (&k, c, api,
                      key == NULL || upload_id == NULL || upload_id[0] == '\0'
                        ? "no key or upload id"
                        : NULL,
                      bucket, key, NULL, err);
  if (status != XVA_OK)
    return status;
  status = Xva_s3_abort_on (&k.conn, api, bucket, key, upload_id, k.err);
  call_close (&k);
  return status;
}

int
Xva_s3_abort_on (struct Xva_s3_conn *conn, const char *api, const char *bucket,
                 const char *key, const char *upload_id,
                 struct Xva_s3_err *err)
{
  struct Xva_s3_pair p = { "uploadId", upload_id };
  char query[XVA_S3_QUERY_MAX];
  struct Xva_s3_req r;
  /* A retry that finds the upload gone: the first try did it. */
  struct Xva_s3_tries t = { .gone_is_done = 1 };
  int status;

  if (Xva_s3_query_build (&p, 1, query, sizeof query) < 0)
    return Xva_s3_set_err (err, XVA_EINVAL, api, "upload id too long");
  Xva_s3_req_init (&r, api, "DELETE", bucket, key, query);
  r.what = "(abort multipart upload)";
  status = Xva_s3_perform_tries (conn, &r, err, &t);
  Xva_s3_req_clear (&r);
  return status;
}
