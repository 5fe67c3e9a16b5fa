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
Xva_s3_perform_retry (struct Xva_s3_conn *conn, struct Xva_s3_req *r,
                      struct Xva_s3_err *err)
{
  unsigned attempt;
  int status = XVA_EINVAL;

  for (attempt = 0;; attempt++) {
    Xva_s3_req_clear (r);
    status = Xva_s3_perform (conn, r, err);
    if (status == XVA_OK || attempt >= conn->conf->c.retries
        || !Xva_s3_retryable (err))
      break;
    if (Xva_s3_backoff (attempt, conn->cancel))
      break;
  }
  return status;
}

int
Xva_s3_head_on (struct Xva_s3_conn *conn, const char *api, const char *bucket,
                const char *key, struct Xva_s3_info *info,
                struct Xva_s3_err *err)
{
  struct Xva_s3_req r;
  int status;

  Xva_s3_info_clear (info);
  memset (&r, 0, sizeof r);
  r.api = api;
  r.method = "HEAD";
  r.bucket = bucket;
  r.key = key;
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
Xva_s3_head (const struct Xva_s3_config *c, const char *bucket,
             const char *key, struct Xva_s3_info *info, struct Xva_s3_err *err)
{
  struct Xva_s3_err local_err;
  static const char api[] = "Xva_s3_head";
  struct Xva_s3_conf conf;
  struct Xva_s3_conn conn = { NULL, NULL, NULL };
  int status;

  if (err == NULL)
    err = &local_err;
  Xva_s3_err_clear (err);
  Xva_s3_info_clear (info);
  if (key == NULL)
    return Xva_s3_set_err (err, XVA_EINVAL, api, "no key");
  status = Xva_s3_check_names (api, bucket, key, err);
  if (status != XVA_OK)
    return status;
  status = Xva_s3_conf_copy (&conf, c, api, err);
  if (status != XVA_OK)
    return status;
  status = Xva_s3_conn_init (&conn, &conf, NULL);
  if (status == XVA_OK)
    status = Xva_s3_head_on (&conn, api, bucket, key, info, err);
  else
    Xva_s3_set_err (err, status, api, "out of memory");
  Xva_s3_conn_close (&conn);
  Xva_s3_conf_free (&conf);
  return status;
}

int
Xva_s3_delete (const struct Xva_s3_config *c, const char *bucket,
               const char *key, struct Xva_s3_err *err)
{
  struct Xva_s3_err local_err;
  static const char api[] = "Xva_s3_delete";
  struct Xva_s3_conf conf;
  struct Xva_s3_conn conn = { NULL, NULL, NULL };
  struct Xva_s3_req r;
  int status;

  if (err == NULL)
    err = &local_err;
  Xva_s3_err_clear (err);
  if (key == NULL)
    return Xva_s3_set_err (err, XVA_EINVAL, api, "no key");
  status = Xva_s3_check_names (api, bucket, key, err);
  if (status != XVA_OK)
    return status;
  status = Xva_s3_conf_copy (&conf, c, api, err);
  if (status != XVA_OK)
    return status;
  memset (&r, 0, sizeof r);
  r.api = api;
  r.method = "DELETE";
  r.bucket = bucket;
  r.key = key;
  status = Xva_s3_conn_init (&conn, &conf, NULL);
  if (status == XVA_OK)
    status = Xva_s3_perform_retry (&conn, &r, err);
  else
    Xva_s3_set_err (err, status, api, "out of memory");
  Xva_s3_req_clear (&r);
  Xva_s3_conn_close (&conn);
  Xva_s3_conf_free (&conf);
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

/* Appends the <Contents> of one ListObjectsV2 page to list. */
static int
list_page (xmlNodePtr root, struct Xva_s3_list *list, size_t *cap,
           size_t max_keys, const char *api, struct Xva_s3_err *err)
{
  xmlNodePtr c;
  char num[32], lm[64];

  for (c = root->children; c != NULL; c = c->next) {
    struct Xva_s3_entry *e;
    if (c->type != XML_ELEMENT_NODE
        || xmlStrcmp (c->name, BAD_CAST "Contents") != 0)
      continue;
    if (list->n >= max_keys)
      return Xva_s3_set_err (err, XVA_ELIMIT, api, "more than %zu keys",
                             max_keys);
    if (list->n == *cap) {
      size_t ncap = *cap ? *cap * 2 : 64;
      struct Xva_s3_entry *v = realloc (list->v, ncap * sizeof *v);
      if (v == NULL)
        return Xva_s3_set_err (err, XVA_ENOMEM, api, "out of memory");
      list->v = v;
      *cap = ncap;
    }
    e = &list->v[list->n];
    memset (e, 0, sizeof *e);
    e->mtime = -1;
    e->info.mtime = -1;
    e->key = Xva_s3_xml_strdup (c, "Key", XVA_S3_KEY_MAX);
    if (e->key == NULL)
      return Xva_s3_set_err (err, XVA_ESERVER, api,
                             "listing: entry without a valid <Key>");
    list->n++;
    if (Xva_s3_xml_text (c, "Size", num, sizeof num) < 0
        || parse_u64 (num, &e->size) < 0)
      return Xva_s3_set_err (err, XVA_ESERVER, api,
                             "listing: bad <Size> for '%.200s'", e->key);
    if (Xva_s3_xml_text (c, "LastModified", lm, sizeof lm) >= 0)
      e->mtime = Xva_s3_parse_time (lm);
    if (Xva_s3_xml_text (c, "ETag", e->etag, sizeof e->etag) < 0)
      e->etag[0] = '\0';
  }
  return XVA_OK;
}

/* "true" in <IsTruncated>. */
static int
truncated (xmlNodePtr root)
{
  char t[16];

  return Xva_s3_xml_text (root, "IsTruncated", t, sizeof t) >= 0
         && strcmp (t, "true") == 0;
}

int
Xva_s3_list (const struct Xva_s3_config *c, const char *bucket,
             const char *prefix, size_t max_keys, struct Xva_s3_list **out,
             struct Xva_s3_err *err)
{
  struct Xva_s3_err local_err;
  static const char api[] = "Xva_s3_list";
  struct Xva_s3_conf conf;
  struct Xva_s3_conn conn = { NULL, NULL, NULL };
  struct Xva_s3_list *list = NULL;
  struct Xva_s3_req r;
  struct Xva_s3_pair params[4];
  char query[XVA_S3_QUERY_MAX], token[1100], prev[1100], page[16];
  xmlDocPtr doc = NULL;
  size_t cap = 0, np;
  int status;

  if (err == NULL)
    err = &local_err;
  *out = NULL;
  Xva_s3_err_clear (err);
  memset (&r, 0, sizeof r);
  if (prefix == NULL)
    prefix = "";
  if (max_keys == 0)
    max_keys = XVA_S3_LIST_DEFAULT_MAX;
  status = Xva_s3_check_names (api, bucket, NULL, err);
  if (status != XVA_OK)
    return status;
  if (strlen (prefix) > XVA_S3_KEY_MAX)
    return Xva_s3_set_err (err, XVA_EINVAL, api, "prefix too long");
  status = Xva_s3_conf_copy (&conf, c, api, err);
  if (status != XVA_OK)
    return status;
  list = calloc (1, sizeof *list);
  if (list == NULL || Xva_s3_conn_init (&conn, &conf, NULL) != XVA_OK) {
    status = Xva_s3_set_err (err, XVA_ENOMEM, api, "out of memory");
    goto out;
  }
  token[0] = '\0';
  for (;;) {
    xmlNodePtr root;
    np = 0;
    params[np].name = "list-type";
    params[np++].value = "2";
    snprintf (page, sizeof page, "%u", conf.c.list_page);
    params[np].name = "max-keys";
    params[np++].value = page;
    if (prefix[0] != '\0') {
      params[np].name = "prefix";
      params[np++].value = prefix;
    }
    if (token[0] != '\0') {
      params[np].name = "continuation-token";
      params[np++].value = token;
    }
    if (Xva_s3_query_build (params, np, query, sizeof query) < 0) {
      status = Xva_s3_set_err (err, XVA_EINVAL, api, "query too long");
      goto out;
    }
    memset (&r, 0, sizeof r);
    r.api = api;
    r.method = "GET";
    r.bucket = bucket;
    r.query = query;
    status = Xva_s3_perform_retry (&conn, &r, err);
    if (status == XVA_OK)
      status = Xva_s3_xml_parse (&r, "ListBucketResult", &doc, err);
    Xva_s3_req_clear (&r);
    if (status != XVA_OK)
      goto out;
    root = xmlDocGetRootElement (doc);
    status = list_page (root, list, &cap, max_keys, api, err);
    if (status != XVA_OK)
      goto out;
    if (!truncated (root))
      break;
    memcpy (prev, token, sizeof prev);
    if (Xva_s3_xml_text (root, "NextContinuationToken", token, sizeof token)
          <= 0
        || strcmp (prev, token) == 0) {
      status = Xva_s3_set_err (err, XVA_ESERVER, api,
                               "listing truncated without a new "
                               "continuation token");
      goto out;
    }
    xmlFreeDoc (doc);
    doc = NULL;
  }
  *out = list;
  list = NULL;
  status = XVA_OK;
out:
  if (doc != NULL)
    xmlFreeDoc (doc);
  Xva_s3_list_free (list);
  Xva_s3_conn_close (&conn);
  Xva_s3_conf_free (&conf);
  return status;
}

int
Xva_s3_list_fetch_info (const struct Xva_s3_config *c, const char *bucket,
                        struct Xva_s3_list *list, struct Xva_s3_err *err)
{
  struct Xva_s3_err local_err;
  static const char api[] = "Xva_s3_list_fetch_info";
  struct Xva_s3_conf conf;
  struct Xva_s3_conn conn = { NULL, NULL, NULL };
  size_t i = 0;
  int status;

  if (err == NULL)
    err = &local_err;
  Xva_s3_err_clear (err);
  status = Xva_s3_check_names (api, bucket, NULL, err);
  if (status != XVA_OK)
    return status;
  status = Xva_s3_conf_copy (&conf, c, api, err);
  if (status != XVA_OK)
    return status;
  if (Xva_s3_conn_init (&conn, &conf, NULL) != XVA_OK) {
    status = Xva_s3_set_err (err, XVA_ENOMEM, api, "out of memory");
    goto out;
  }
  while (list != NULL && i < list->n) {
    struct Xva_s3_entry *e = &list->v[i];
    status = Xva_s3_head_on (&conn, api, bucket, e->key, &e->info, err);
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
  Xva_s3_err_clear (err);
  status = XVA_OK;
out:
  Xva_s3_conn_close (&conn);
  Xva_s3_conf_free (&conf);
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

static int
pending_page (xmlNodePtr root, struct Xva_s3_pending_list *list, size_t *cap,
              const char *api, struct Xva_s3_err *err)
{
  xmlNodePtr c;

  for (c = root->children; c != NULL; c = c->next) {
    struct Xva_s3_pending *p;
    if (c->type != XML_ELEMENT_NODE
        || xmlStrcmp (c->name, BAD_CAST "Upload") != 0)
      continue;
    if (list->n >= PENDING_MAX)
      return Xva_s3_set_err (err, XVA_ELIMIT, api,
                             "more than %u pending uploads", PENDING_MAX);
    if (list->n == *cap) {
      size_t ncap = *cap ? *cap * 2 : 16;
      struct Xva_s3_pending *v = realloc (list->v, ncap * sizeof *v);
      if (v == NULL)
        return Xva_s3_set_err (err, XVA_ENOMEM, api, "out of memory");
      list->v = v;
      *cap = ncap;
    }
    p = &list->v[list->n];
    memset (p, 0, sizeof *p);
    p->key = Xva_s3_xml_strdup (c, "Key", XVA_S3_KEY_MAX);
    if (p->key == NULL)
      return Xva_s3_set_err (err, XVA_ESERVER, api,
                             "upload listing: entry without a valid <Key>");
    list->n++;
    if (Xva_s3_xml_text (c, "UploadId", p->upload_id, sizeof p->upload_id)
        <= 0)
      return Xva_s3_set_err (err, XVA_ESERVER, api,
                             "upload listing: bad <UploadId> for '%.200s'",
                             p->key);
    if (Xva_s3_xml_text (c, "Initiated", p->initiated, sizeof p->initiated)
        < 0)
      p->initiated[0] = '\0';
  }
  return XVA_OK;
}

int
Xva_s3_list_uploads (const struct Xva_s3_config *c, const char *bucket,
                     const char *prefix, struct Xva_s3_pending_list **out,
                     struct Xva_s3_err *err)
{
  struct Xva_s3_err local_err;
  static const char api[] = "Xva_s3_list_uploads";
  struct Xva_s3_conf conf;
  struct Xva_s3_conn conn = { NULL, NULL, NULL };
  struct Xva_s3_pending_list *list = NULL;
  struct Xva_s3_req r;
  struct Xva_s3_pair params[6];
  char query[XVA_S3_QUERY_MAX];
  char key_marker[XVA_S3_KEY_MAX + 1], id_marker[XVA_S3_UPLOAD_ID_MAX + 1];
  char page[16];
  xmlDocPtr doc = NULL;
  size_t cap = 0, np, pages;
  int status;

  if (err == NULL)
    err = &local_err;
  *out = NULL;
  Xva_s3_err_clear (err);
  memset (&r, 0, sizeof r);
  if (prefix == NULL)
    prefix = "";
  status = Xva_s3_check_names (api, bucket, NULL, err);
  if (status != XVA_OK)
    return status;
  if (strlen (prefix) > XVA_S3_KEY_MAX)
    return Xva_s3_set_err (err, XVA_EINVAL, api, "prefix too long");
  status = Xva_s3_conf_copy (&conf, c, api, err);
  if (status != XVA_OK)
    return status;
  list = calloc (1, sizeof *list);
  if (list == NULL || Xva_s3_conn_init (&conn, &conf, NULL) != XVA_OK) {
    status = Xva_s3_set_err (err, XVA_ENOMEM, api, "out of memory");
    goto out;
  }
  key_marker[0] = '\0';
  id_marker[0] = '\0';
  for (pages = 0;; pages++) {
    xmlNodePtr root;
    size_t before = list->n;
    if (pages > PENDING_MAX) {
      status = Xva_s3_set_err (err, XVA_ELIMIT, api, "too many pages");
      goto out;
    }
    np = 0;
    snprintf (page, sizeof page, "%u", conf.c.list_page);
    params[np].name = "uploads";
    params[np++].value = "";
    params[np].name = "max-uploads";
    params[np++].value = page;
    if (prefix[0] != '\0') {
      params[np].name = "prefix";
      params[np++].value = prefix;
    }
    if (key_marker[0] != '\0') {
      params[np].name = "key-marker";
      params[np++].value = key_marker;
      params[np].name = "upload-id-marker";
      params[np++].value = id_marker;
    }
    if (Xva_s3_query_build (params, np, query, sizeof query) < 0) {
      status = Xva_s3_set_err (err, XVA_EINVAL, api, "query too long");
      goto out;
    }
    memset (&r, 0, sizeof r);
    r.api = api;
    r.method = "GET";
    r.bucket = bucket;
    r.query = query;
    status = Xva_s3_perform_retry (&conn, &r, err);
    if (status == XVA_OK)
      status = Xva_s3_xml_parse (&r, "ListMultipartUploadsResult", &doc, err);
    Xva_s3_req_clear (&r);
    if (status != XVA_OK)
      goto out;
    root = xmlDocGetRootElement (doc);
    status = pending_page (root, list, &cap, api, err);
    if (status != XVA_OK)
      goto out;
    if (!truncated (root))
      break;
    if (list->n == before
        || Xva_s3_xml_text (root, "NextKeyMarker", key_marker,
                            sizeof key_marker)
             <= 0
        || Xva_s3_xml_text (root, "NextUploadIdMarker", id_marker,
                            sizeof id_marker)
             < 0) {
      status = Xva_s3_set_err (err, XVA_ESERVER, api,
                               "upload listing truncated without markers");
      goto out;
    }
    xmlFreeDoc (doc);
    doc = NULL;
  }
  *out = list;
  list = NULL;
  status = XVA_OK;
out:
  if (doc != NULL)
    xmlFreeDoc (doc);
  Xva_s3_pending_free (list);
  Xva_s3_conn_close (&conn);
  Xva_s3_conf_free (&conf);
  return status;
}

int
Xva_s3_abort_pending (const struct Xva_s3_config *c, const char *bucket,
                      const char *key, const char *upload_id,
                      struct Xva_s3_err *err)
{
  struct Xva_s3_err local_err;
  static const char api[] = "Xva_s3_abort_pending";
  struct Xva_s3_conf conf;
  struct Xva_s3_conn conn = { NULL, NULL, NULL };
  int status;

  if (err == NULL)
    err = &local_err;
  Xva_s3_err_clear (err);
  if (key == NULL || upload_id == NULL || upload_id[0] == '\0')
    return Xva_s3_set_err (err, XVA_EINVAL, api, "no key or upload id");
  status = Xva_s3_check_names (api, bucket, key, err);
  if (status != XVA_OK)
    return status;
  status = Xva_s3_conf_copy (&conf, c, api, err);
  if (status != XVA_OK)
    return status;
  if (Xva_s3_conn_init (&conn, &conf, NULL) != XVA_OK)
    status = Xva_s3_set_err (err, XVA_ENOMEM, api, "out of memory");
  else
    status = Xva_s3_abort_on (&conn, api, bucket, key, upload_id, err);
  Xva_s3_conn_close (&conn);
  Xva_s3_conf_free (&conf);
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
  unsigned attempt;
  int status = XVA_OK;

  if (Xva_s3_query_build (&p, 1, query, sizeof query) < 0)
    return Xva_s3_set_err (err, XVA_EINVAL, api, "upload id too long");
  memset (&r, 0, sizeof r);
  r.api = api;
  r.method = "DELETE";
  r.bucket = bucket;
  r.key = key;
  r.query = query;
  r.what = "(abort multipart upload)";
  for (attempt = 0;; attempt++) {
    Xva_s3_req_clear (&r);
    status = Xva_s3_perform (conn, &r, err);
    /* A retry that finds the upload gone: the first try did it. */
    if (status == XVA_ENOTFOUND && attempt > 0
        && strcmp (err->code, "NoSuchUpload") == 0)
      status = XVA_OK;
    if (status == XVA_OK || attempt >= conn->conf->c.retries
        || !Xva_s3_retryable (err))
      break;
    if (Xva_s3_backoff (attempt, conn->cancel))
      break;
  }
  Xva_s3_req_clear (&r);
  return status;
}
