/* S3 requests: one signed request on a libcurl easy handle, error
 * mapping, retries and XML answers. */
#include "client/s3-priv.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <libxml/parser.h>

#define EMPTY_SHA256                                                          \
  "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

/* ---- Connections ---------------------------------------------------------- */

int
Xva_s3_conn_init (struct Xva_s3_conn *conn, const struct Xva_s3_conf *conf,
                  atomic_int *cancel)
{
  conn->conf = conf;
  conn->cancel = cancel;
  conn->curl = curl_easy_init ();
  return conn->curl != NULL ? XVA_OK : XVA_ENOMEM;
}

void
Xva_s3_conn_close (struct Xva_s3_conn *conn)
{
  if (conn == NULL)
    return;
  if (conn->curl != NULL)
    curl_easy_cleanup (conn->curl);
  conn->curl = NULL;
}

/* ---- Worker crews ---------------------------------------------------------- */

int
Xva_s3_crew_init (struct Xva_s3_crew *k, const char *api,
                  struct Xva_s3_err *err)
{
  if (pthread_mutex_init (&k->mu, NULL) != 0)
    return Xva_s3_set_err (err, XVA_ENOMEM, api, "cannot create a mutex");
  if (pthread_cond_init (&k->cv, NULL) != 0) {
    pthread_mutex_destroy (&k->mu);
    return Xva_s3_set_err (err, XVA_ENOMEM, api, "cannot create a mutex");
  }
  k->sync_ok = 1;
  atomic_init (&k->cancel, 0);
  atomic_init (&k->transfers, 0);
  atomic_init (&k->retries, 0);
  return XVA_OK;
}

int
Xva_s3_crew_start (struct Xva_s3_crew *k, unsigned n,
                   const struct Xva_s3_conf *conf, void *(*main) (void *),
                   void *owner, const char *what, const char *api,
                   struct Xva_s3_err *err)
{
  unsigned i;

  if (n == 0)
    return XVA_OK;
  k->workers = calloc (n, sizeof *k->workers);
  if (k->workers == NULL)
    return Xva_s3_set_err (err, XVA_ENOMEM, api, "out of memory");
  for (i = 0; i < n; i++) {
    struct Xva_s3_worker *w = &k->workers[i];
    w->owner = owner;
    if (Xva_s3_conn_init (&w->conn, conf, &k->cancel) != XVA_OK)
      break;
    if (pthread_create (&w->tid, NULL, main, w) != 0) {
      Xva_s3_conn_close (&w->conn);
      break;
    }
    k->nworkers++;
  }
  if (k->nworkers == 0) {
    free (k->workers);
    k->workers = NULL;
    return Xva_s3_set_err (err, XVA_ENOMEM, api, "cannot start %s threads",
                           what);
  }
  return XVA_OK;
}

void
Xva_s3_crew_stop (struct Xva_s3_crew *k, int cancel)
{
  unsigned i;

  if (cancel)
    atomic_store (&k->cancel, 1);
  if (k->workers == NULL)
    return;
  pthread_mutex_lock (&k->mu);
  k->stop = 1;
  pthread_cond_broadcast (&k->cv);
  pthread_mutex_unlock (&k->mu);
  for (i = 0; i < k->nworkers; i++) {
    pthread_join (k->workers[i].tid, NULL);
    Xva_s3_conn_close (&k->workers[i].conn);
  }
  free (k->workers);
  k->workers = NULL;
  k->nworkers = 0;
}

void
Xva_s3_crew_fail (struct Xva_s3_crew *k, int status,
                  const struct Xva_s3_err *err)
{
  if (k->failed)
    return;
  k->failed = status;
  k->werr = *err;
  atomic_store (&k->cancel, 1);
}

int
Xva_s3_crew_failure (const struct Xva_s3_crew *k, struct Xva_s3_err *err)
{
  if (!k->failed)
    return XVA_OK;
  *err = k->werr;
  return k->failed;
}

void
Xva_s3_crew_free (struct Xva_s3_crew *k)
{
  if (!k->sync_ok)
    return;
  Xva_s3_crew_stop (k, 1);
  pthread_cond_destroy (&k->cv);
  pthread_mutex_destroy (&k->mu);
  k->sync_ok = 0;
}

/* ---- One request ----------------------------------------------------------- */

struct xfer {
  struct Xva_s3_req *r;
  atomic_int *cancel;
  size_t body_pos;
  uint64_t received;
  int fault_hit;
  int sink_failed;
  int meta_over;
};

static size_t
read_cb (char *buf, size_t size, size_t nmemb, void *opaque)
{
  struct xfer *x = opaque;
  struct Xva_s3_req *r = x->r;
  size_t want = size * nmemb, left = r->body_len - x->body_pos;

  if (r->fault && x->body_pos >= r->body_len / 2 && r->body_len > 0) {
    x->fault_hit = 1;
    return CURL_READFUNC_ABORT;
  }
  if (r->fault && x->body_pos < r->body_len / 2
      && left > r->body_len / 2 - x->body_pos)
    left = r->body_len / 2 - x->body_pos;
  if (want > left)
    want = left;
  if (want > 0)
    memcpy (buf, (const char *) r->body + x->body_pos, want);
  x->body_pos += want;
  r->sent = x->body_pos;
  return want;
}

static int
seek_cb (void *opaque, curl_off_t offset, int origin)
{
  struct xfer *x = opaque;

  if (origin != SEEK_SET || offset < 0 || (uint64_t) offset > x->r->body_len)
    return CURL_SEEKFUNC_FAIL;
  x->body_pos = (size_t) offset;
  return CURL_SEEKFUNC_OK;
}

static size_t
write_cb (char *data, size_t size, size_t nmemb, void *opaque)
{
  struct xfer *x = opaque;
  struct Xva_s3_req *r = x->r;
  size_t n = size * nmemb, max;

  if (r->sink != NULL && r->http >= 200 && r->http < 300) {
    if (r->fault && r->have_length
        && x->received + n > r->content_length / 2) {
      x->fault_hit = 1;
      return 0;
    }
    x->received += n;
    if (r->sink (r->sink_opaque, data, n) != n) {
      x->sink_failed = 1;
      return 0;
    }
    return n;
  }
  max = r->xml_max ? r->xml_max : XVA_S3_XML_MAX;
  if (r->http < 200 || r->http >= 300)
    max = XVA_S3_ERRBODY_MAX;
  if (r->resp_len + n > max) {
    r->resp_over = 1;
    n = max - r->resp_len;
  }
  if (n > 0) {
    char *p = realloc (r->resp, r->resp_len + n + 1);
    if (p == NULL)
      return 0;
    memcpy (p + r->resp_len, data, n);
    r->resp = p;
    r->resp_len += n;
    r->resp[r->resp_len] = '\0';
  }
  return size * nmemb;
}

static void
trim (const char **s, size_t *n)
{
  while (*n > 0 && (**s == ' ' || **s == '\t')) {
    (*s)++;
    (*n)--;
  }
  while (*n > 0
         && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t'
             || (*s)[*n - 1] == '\r' || (*s)[*n - 1] == '\n'))
    (*n)--;
}

static int
add_meta (struct xfer *x, const char *name, size_t nl, const char *value,
          size_t vl)
{
  struct Xva_s3_req *r = x->r;
  struct Xva_s3_meta *m;
  size_t i;

  if (r->nmeta >= XVA_S3_META_RECV_MAX || nl > XVA_S3_META_NAME_MAX
      || vl > XVA_S3_META_BYTES) {
    x->meta_over = 1;
    return 0;
  }
  m = realloc (r->meta, (r->nmeta + 1) * sizeof *m);
  if (m == NULL)
    return -1;
  r->meta = m;
  m = &r->meta[r->nmeta];
  m->name = malloc (nl + 1);
  m->value = malloc (vl + 1);
  if (m->name == NULL || m->value == NULL) {
    free (m->name);
    free (m->value);
    return -1;
  }
  for (i = 0; i < nl; i++)
    m->name[i] = (char) tolower ((unsigned char) name[i]);
  m->name[nl] = '\0';
  memcpy (m->value, value, vl);
  m->value[vl] = '\0';
  r->nmeta++;
  return 0;
}

static size_t
header_cb (char *line, size_t size, size_t nmemb, void *opaque)
{
  struct xfer *x = opaque;
  struct Xva_s3_req *r = x->r;
  size_t n = size * nmemb, nl, vl;
  const char *colon, *v;

  if (n >= 5 && strncmp (line, "HTTP/", 5) == 0) {
    const char *sp = memchr (line, ' ', n);
    long code = 0;
    if (sp != NULL && (size_t) (sp - line) + 4 <= n
        && isdigit ((unsigned char) sp[1]) && isdigit ((unsigned char) sp[2])
        && isdigit ((unsigned char) sp[3]))
      code = (sp[1] - '0') * 100 + (sp[2] - '0') * 10 + (sp[3] - '0');
    if (code == 100)
      return n;
    /* A new answer: forget the headers of an earlier one. */
    r->http = code;
    r->etag[0] = '\0';
    r->last_modified[0] = '\0';
    r->have_length = 0;
    Xva_s3_meta_free (r->meta, r->nmeta);
    r->meta = NULL;
    r->nmeta = 0;
    return n;
  }
  colon = memchr (line, ':', n);
  if (colon == NULL)
    return n;
  nl = (size_t) (colon - line);
  v = colon + 1;
  vl = n - nl - 1;
  trim (&v, &vl);
  if (nl == 4 && strncasecmp (line, "ETag", 4) == 0)
    Xva_s3_copy_text (r->etag, sizeof r->etag, v, vl);
  else if (nl == 13 && strncasecmp (line, "Last-Modified", 13) == 0)
    Xva_s3_copy_text (r->last_modified, sizeof r->last_modified, v, vl);
  else if (nl == 14 && strncasecmp (line, "Content-Length", 14) == 0) {
    char num[32];
    char *end;
    unsigned long long len;
    Xva_s3_copy_text (num, sizeof num, v, vl);
    errno = 0;
    len = strtoull (num, &end, 10);
    if (errno == 0 && end != num && *end == '\0' && num[0] != '-') {
      r->content_length = len;
      r->have_length = 1;
    }
  }
  else if (r->want_meta && nl > 11
           && strncasecmp (line, "x-amz-meta-", 11) == 0) {
    if (add_meta (x, line + 11, nl - 11, v, vl) < 0)
      return 0;
  }
  return n;
}

static int
progress_cb (void *opaque, curl_off_t dt, curl_off_t dn, curl_off_t ut,
             curl_off_t un)
{
  struct xfer *x = opaque;

  (void) dt;
  (void) dn;
  (void) ut;
  (void) un;
  return x->cancel != NULL && atomic_load (x->cancel) ? 1 : 0;
}

/* The request URL: endpoint, bucket (path or host), encoded key, query. */
static char *
make_url (const struct Xva_s3_config *c, const struct Xva_s3_req *r)
{
  const char *key = r->key ? r->key : "";
  size_t klen = strlen (key) * 3 + 1;
  size_t qlen = r->query ? strlen (r->query) : 0;
  size_t size = strlen (c->endpoint) + strlen (r->bucket) + klen + qlen + 8;
  char *url = malloc (size), *ekey = malloc (klen);
  const char *host;
  size_t o;
  int w;

  if (url == NULL || ekey == NULL)
    goto fail;
  if (Xva_s3_uri_encode (key, 1, ekey, klen) < 0)
    goto fail;
  if (c->path_style)
    w = snprintf (url, size, "%s/%s%s%s", c->endpoint, r->bucket,
                  ekey[0] ? "/" : "", ekey);
  else {
    host = strstr (c->endpoint, "://") + 3;
    w = snprintf (url, size, "%.*s%s.%s/%s", (int) (host - c->endpoint),
                  c->endpoint, r->bucket, host, ekey);
  }
  if (w < 0 || (size_t) w >= size)
    goto fail;
  o = (size_t) w;
  if (qlen > 0) {
    w = snprintf (url + o, size - o, "?%s", r->query);
    if (w < 0 || (size_t) w >= size - o)
      goto fail;
  }
  free (ekey);
  return url;
fail:
  free (url);
  free (ekey);
  return NULL;
}

static int
map_code (const char *code, long http)
{
  static const char *const auth[] = {
    "AccessDenied",         "SignatureDoesNotMatch",
    "InvalidAccessKeyId",   "ExpiredToken",
    "InvalidToken",         "AuthorizationHeaderMalformed",
    "RequestTimeTooSkewed", "AccountProblem",
    "UserSuspended",
  };
  static const char *const missing[] = {
    "NoSuchBucket",
    "NoSuchKey",
    "NoSuchUpload",
    "NotFound",
  };
  size_t i;

  if (code != NULL && code[0] != '\0') {
    for (i = 0; i < sizeof auth / sizeof auth[0]; i++)
      if (strcmp (code, auth[i]) == 0)
        return XVA_EAUTH;
    for (i = 0; i < sizeof missing / sizeof missing[0]; i++)
      if (strcmp (code, missing[i]) == 0)
        return XVA_ENOTFOUND;
    return XVA_ESERVER;
  }
  if (http == 401 || http == 403)
    return XVA_EAUTH;
  if (http == 404)
    return XVA_ENOTFOUND;
  return XVA_ESERVER;
}

/* "s3://bucket/key" for messages. */
static void
where (const struct Xva_s3_req *r, char *buf, size_t size)
{
  snprintf (buf, size, "%s s3://%s/%.300s%s%s", r->method, r->bucket,
            r->key ? r->key : "", r->what ? " " : "", r->what ? r->what : "");
}

/* Reads <Code> and <Message> of an <Error> document. */
static void
error_fields (xmlNodePtr root, char *code, size_t codesize, char *msg,
              size_t msgsize)
{
  char *s;

  code[0] = '\0';
  msg[0] = '\0';
  if ((s = Xva_s3_xml_strdup (root, "Code", 4096)) != NULL) {
    Xva_s3_copy_text (code, codesize, s, strlen (s));
    free (s);
  }
  if ((s = Xva_s3_xml_strdup (root, "Message", XVA_S3_ERRBODY_MAX)) != NULL) {
    Xva_s3_copy_text (msg, msgsize, s, strlen (s));
    free (s);
  }
}

static xmlDocPtr
parse_doc (const char *buf, size_t len)
{
  xmlDocPtr doc;

  /* Servers may send spaces to keep a long CompleteMultipartUpload
   * alive before the document itself. */
  while (buf != NULL && len > 0
         && (*buf == ' ' || *buf == '\n' || *buf == '\r' || *buf == '\t')) {
    buf++;
    len--;
  }
  if (buf == NULL || len == 0 || len > INT32_MAX)
    return NULL;
  doc = xmlReadMemory (buf, (int) len, "s3.xml", NULL,
                       XML_PARSE_NONET | XML_PARSE_NOERROR
                         | XML_PARSE_NOWARNING);
  if (doc == NULL)
    return NULL;
  /* No DTD at all: no entity can be declared, let alone expanded. */
  if (doc->intSubset != NULL || doc->extSubset != NULL
      || xmlDocGetRootElement (doc) == NULL) {
    xmlFreeDoc (doc);
    return NULL;
  }
  return doc;
}

/* The mapped status and message of a failed answer (or a 200 that
 * carries <Error>). */
static int
answer_error (const struct Xva_s3_req *r, xmlDocPtr doc,
              struct Xva_s3_err *err)
{
  char w[512], code[64], msg[512];
  xmlDocPtr own = NULL;
  xmlNodePtr root;
  int status;

  code[0] = '\0';
  msg[0] = '\0';
  if (doc == NULL && r->resp != NULL && !r->resp_over)
    doc = own = parse_doc (r->resp, r->resp_len);
  if (doc != NULL) {
    root = xmlDocGetRootElement (doc);
    if (root != NULL && xmlStrcmp (root->name, BAD_CAST "Error") == 0)
      error_fields (root, code, sizeof code, msg, sizeof msg);
  }
  if (own != NULL)
    xmlFreeDoc (own);
  if (msg[0] == '\0' && code[0] == '\0' && r->resp != NULL) {
    /* Not S3's XML: keep the start of the body, printable only. */
    size_t i, n = r->resp_len < 200 ? r->resp_len : 200;
    for (i = 0; i < n; i++)
      msg[i] = (r->resp[i] >= 0x20 && r->resp[i] < 0x7f) ? r->resp[i] : ' ';
    msg[n] = '\0';
  }
  status = map_code (code, r->http);
  where (r, w, sizeof w);
  if (err != NULL) {
    err->http_status = r->http;
    Xva_s3_copy_text (err->code, sizeof err->code, code, strlen (code));
  }
  if (code[0] != '\0')
    return Xva_s3_set_err (err, status, r->api, "%s: HTTP %ld %s%s%s", w,
                           r->http, code, msg[0] ? ": " : "", msg);
  if (msg[0] == '\0')
    snprintf (msg, sizeof msg, "%s",
              r->http == 401 || r->http == 403 ? "access denied"
              : r->http == 404                 ? "not found"
              : r->http == 412 ? "precondition failed (object changed?)"
              : r->http == 416 ? "range not satisfiable"
              : r->http >= 500 ? "server error"
                               : "unexpected answer");
  return Xva_s3_set_err (err, status, r->api, "%s: HTTP %ld: %s", w, r->http,
                         msg);
}

int
Xva_s3_perform (struct Xva_s3_conn *conn, struct Xva_s3_req *r,
                struct Xva_s3_err *err)
{
  const struct Xva_s3_config *c = &conn->conf->c;
  char sig[96], hash[65], hdr[128], errbuf[CURL_ERROR_SIZE], w[512];
  char *url = NULL, *userpwd = NULL;
  struct curl_slist *headers = NULL, *l;
  struct xfer x;
  CURL *h = conn->curl;
  CURLcode cc;
  size_t ul;
  int status;

  Xva_s3_err_clear (err);
  memset (&x, 0, sizeof x);
  x.r = r;
  x.cancel = conn->cancel;
  r->http = 0;
  r->etag[0] = '\0';
  r->last_modified[0] = '\0';
  r->have_length = 0;
  r->sent = 0;
  errbuf[0] = '\0';
  if (conn->cancel != NULL && atomic_load (conn->cancel)) {
    status = Xva_s3_set_err (err, XVA_ECANCELLED, r->api, "cancelled");
    goto out;
  }

  url = make_url (c, r);
  ul = strlen (c->access_key) + strlen (c->secret_key) + 2;
  userpwd = malloc (ul);
  if (url == NULL || userpwd == NULL) {
    status = Xva_s3_set_err (err, XVA_ENOMEM, r->api, "out of memory");
    goto out;
  }
  snprintf (userpwd, ul, "%s:%s", c->access_key, c->secret_key);
  snprintf (sig, sizeof sig, "aws:amz:%s:s3", c->region);

  if (r->body != NULL && r->body_len > 0 && !r->unsigned_payload)
    Xva_s3_sha256_hex (r->body, r->body_len, hash);
  else if (r->body != NULL && r->body_len > 0)
    snprintf (hash, sizeof hash, "UNSIGNED-PAYLOAD");
  else
    snprintf (hash, sizeof hash, "%s", EMPTY_SHA256);
  snprintf (hdr, sizeof hdr, "x-amz-content-sha256: %s", hash);
  headers = curl_slist_append (NULL, hdr);
  for (l = r->headers; headers != NULL && l != NULL; l = l->next) {
    struct curl_slist *n = curl_slist_append (headers, l->data);
    if (n == NULL) {
      curl_slist_free_all (headers);
      headers = NULL;
    }
    else
      headers = n;
  }
  if (headers == NULL) {
    status = Xva_s3_set_err (err, XVA_ENOMEM, r->api, "out of memory");
    goto out;
  }

  curl_easy_reset (h);
  curl_easy_setopt (h, CURLOPT_URL, url);
  curl_easy_setopt (h, CURLOPT_PATH_AS_IS, 1L);
  curl_easy_setopt (h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt (h, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt (h, CURLOPT_AWS_SIGV4, sig);
  curl_easy_setopt (h, CURLOPT_USERPWD, userpwd);
  curl_easy_setopt (h, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt (h, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt (h, CURLOPT_CONNECTTIMEOUT, c->connect_timeout);
  curl_easy_setopt (h, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt (h, CURLOPT_LOW_SPEED_TIME, c->stall_timeout);
  curl_easy_setopt (h, CURLOPT_SSL_VERIFYPEER, c->insecure ? 0L : 1L);
  curl_easy_setopt (h, CURLOPT_SSL_VERIFYHOST, c->insecure ? 0L : 2L);
  if (c->ca_file != NULL)
    curl_easy_setopt (h, CURLOPT_CAINFO, c->ca_file);
  curl_easy_setopt (h, CURLOPT_HEADERFUNCTION, header_cb);
  curl_easy_setopt (h, CURLOPT_HEADERDATA, &x);
  curl_easy_setopt (h, CURLOPT_WRITEFUNCTION, write_cb);
  curl_easy_setopt (h, CURLOPT_WRITEDATA, &x);
  curl_easy_setopt (h, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt (h, CURLOPT_XFERINFOFUNCTION, progress_cb);
  curl_easy_setopt (h, CURLOPT_XFERINFODATA, &x);
  curl_easy_setopt (h, CURLOPT_BUFFERSIZE, 256L * 1024);
  curl_easy_setopt (h, CURLOPT_UPLOAD_BUFFERSIZE, 512L * 1024);

  if (strcmp (r->method, "GET") == 0)
    curl_easy_setopt (h, CURLOPT_HTTPGET, 1L);
  else if (strcmp (r->method, "HEAD") == 0)
    curl_easy_setopt (h, CURLOPT_NOBODY, 1L);
  else if (strcmp (r->method, "PUT") == 0) {
    curl_easy_setopt (h, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt (h, CURLOPT_INFILESIZE_LARGE, (curl_off_t) r->body_len);
  }
  else if (strcmp (r->method, "POST") == 0) {
    curl_easy_setopt (h, CURLOPT_POST, 1L);
    curl_easy_setopt (h, CURLOPT_POSTFIELDSIZE_LARGE,
                      (curl_off_t) r->body_len);
  }
  else
    curl_easy_setopt (h, CURLOPT_CUSTOMREQUEST, r->method);
  if (r->body != NULL || strcmp (r->method, "PUT") == 0
      || strcmp (r->method, "POST") == 0) {
    curl_easy_setopt (h, CURLOPT_READFUNCTION, read_cb);
    curl_easy_setopt (h, CURLOPT_READDATA, &x);
    curl_easy_setopt (h, CURLOPT_SEEKFUNCTION, seek_cb);
    curl_easy_setopt (h, CURLOPT_SEEKDATA, &x);
  }

  cc = curl_easy_perform (h);
  where (r, w, sizeof w);
  if (x.fault_hit) {
    status = Xva_s3_set_err (err, XVA_ENET, r->api,
                             "%s: connection dropped (injected fault)", w);
    goto out;
  }
  if (cc == CURLE_ABORTED_BY_CALLBACK) {
    status = Xva_s3_set_err (err, XVA_ECANCELLED, r->api, "%s: cancelled", w);
    goto out;
  }
  if (x.sink_failed) {
    status = Xva_s3_set_err (err, XVA_ESERVER, r->api,
                             "%s: more data than asked for", w);
    goto out;
  }
  if (cc != CURLE_OK) {
    status = XVA_ENET;
    if (cc == CURLE_URL_MALFORMAT || cc == CURLE_UNSUPPORTED_PROTOCOL)
      status = XVA_EINVAL;
    else if (cc == CURLE_OUT_OF_MEMORY)
      status = XVA_ENOMEM;
    status = Xva_s3_set_err (err, status, r->api, "%s: %s%s%s", w,
                             curl_easy_strerror (cc), errbuf[0] ? ": " : "",
                             errbuf);
    if (err != NULL)
      err->permanent = cc == CURLE_PEER_FAILED_VERIFICATION
                       || cc == CURLE_SSL_CACERT_BADFILE
                       || cc == CURLE_SSL_CERTPROBLEM || cc == CURLE_SSL_CIPHER
                       || cc == CURLE_URL_MALFORMAT
                       || cc == CURLE_UNSUPPORTED_PROTOCOL;
    goto out;
  }
  curl_easy_getinfo (h, CURLINFO_RESPONSE_CODE, &r->http);
  if (r->http < 200 || r->http >= 300) {
    status = answer_error (r, NULL, err);
    goto out;
  }
  if (x.meta_over) {
    status = Xva_s3_set_err (err, XVA_ELIMIT, r->api,
                             "%s: more than %d metadata headers, or one "
                             "larger than %d bytes",
                             w, XVA_S3_META_RECV_MAX, XVA_S3_META_BYTES);
    goto out;
  }
  if (err != NULL)
    err->http_status = r->http;
  status = XVA_OK;
out:
  curl_slist_free_all (headers);
  if (userpwd != NULL) {
    memset (userpwd, 0, strlen (userpwd));
    free (userpwd);
  }
  free (url);
  return status;
}

void
Xva_s3_req_init (struct Xva_s3_req *r, const char *api, const char *method,
                 const char *bucket, const char *key, const char *query)
{
  memset (r, 0, sizeof *r);
  r->api = api;
  r->method = method;
  r->bucket = bucket;
  r->key = key;
  r->query = query;
}

void
Xva_s3_req_clear (struct Xva_s3_req *r)
{
  free (r->resp);
  r->resp = NULL;
  r->resp_len = 0;
  r->resp_over = 0;
  Xva_s3_meta_free (r->meta, r->nmeta);
  r->meta = NULL;
  r->nmeta = 0;
}

int
Xva_s3_retryable (const struct Xva_s3_err *err)
{
  static const char *const codes[] = {
    "RequestTimeout",
    "SlowDown",
    "InternalError",
    "ServiceUnavailable",
    "XAmzContentSHA256Mismatch",
    "BadDigest",
    "RequestTimeTooSkewed",
  };
  size_t i;

  if (err->permanent)
    return 0;
  if (err->status == XVA_ENET)
    return 1;
  for (i = 0; i < sizeof codes / sizeof codes[0]; i++)
    if (strcmp (err->code, codes[i]) == 0)
      return 1;
  return err->http_status >= 500 || err->http_status == 429;
}

int
Xva_s3_backoff (unsigned attempt, atomic_int *cancel)
{
  long ms = 250L << (attempt < 5 ? attempt : 5);
  struct timespec ts = { 0, 50 * 1000 * 1000 };
  long slept;

  for (slept = 0; slept < ms; slept += 50) {
    if (cancel != NULL && atomic_load (cancel))
      return 1;
    nanosleep (&ts, NULL);
  }
  return cancel != NULL && atomic_load (cancel);
}

/* ---- Retries -------------------------------------------------------------- */

int
Xva_s3_perform_tries (struct Xva_s3_conn *conn, struct Xva_s3_req *r,
                      struct Xva_s3_err *err, const struct Xva_s3_tries *t)
{
  static const struct Xva_s3_tries plain;
  unsigned retries = conn->conf->c.retries, attempt;
  int status;

  if (t == NULL)
    t = &plain;
  for (attempt = 0;; attempt++) {
    if (t->before != NULL) {
      status = t->before (t->opaque, r, err);
      if (status != XVA_OK)
        break;
    }
    if (t->transfers != NULL) {
      unsigned nth = atomic_fetch_add (t->transfers, 1) + 1;
      unsigned every = conn->conf->c.fault_every;
      r->fault = every != 0 && nth % every == 0;
    }
    Xva_s3_req_clear (r);
    status = Xva_s3_perform (conn, r, err);
    if (t->after != NULL)
      status = t->after (t->opaque, r, status, err);
    if (t->gone_is_done && status == XVA_ENOTFOUND && attempt > 0
        && strcmp (err->code, "NoSuchUpload") == 0)
      status = XVA_OK;
    if (status == XVA_OK || !Xva_s3_retryable (err))
      break;
    if (attempt >= retries
        && (t->more == NULL || !t->more (t->opaque, attempt)))
      break;
    if (t->retries != NULL)
      atomic_fetch_add (t->retries, 1);
    /* Past the retries (progress made): the shortest wait. */
    if (Xva_s3_backoff (attempt < retries ? attempt : 0, conn->cancel))
      break;
  }
  if (status != XVA_OK && attempt > 0 && t->note_tries) {
    size_t n = strlen (err->msg);
    snprintf (err->msg + n, sizeof err->msg - n, " (after %u tries)",
              attempt + 1);
  }
  return status;
}

int
Xva_s3_perform_retry (struct Xva_s3_conn *conn, struct Xva_s3_req *r,
                      struct Xva_s3_err *err)
{
  return Xva_s3_perform_tries (conn, r, err, NULL);
}

/* ---- XML ---------------------------------------------------------------- */

int
Xva_s3_xml_parse (const struct Xva_s3_req *r, const char *root_name,
                  xmlDocPtr *out, struct Xva_s3_err *err)
{
  char w[512];
  xmlDocPtr doc;
  xmlNodePtr root;

  *out = NULL;
  where (r, w, sizeof w);
  if (r->resp_over)
    return Xva_s3_set_err (err, XVA_ELIMIT, r->api,
                           "%s: response larger than %zu bytes", w,
                           r->xml_max ? r->xml_max : XVA_S3_XML_MAX);
  doc = parse_doc (r->resp, r->resp_len);
  if (doc == NULL)
    return Xva_s3_set_err (err, XVA_ESERVER, r->api,
                           "%s: HTTP %ld with no valid XML answer", w,
                           r->http);
  root = xmlDocGetRootElement (doc);
  if (xmlStrcmp (root->name, BAD_CAST "Error") == 0) {
    int status = answer_error (r, doc, err);
    xmlFreeDoc (doc);
    return status;
  }
  if (root_name != NULL
      && xmlStrcmp (root->name, (const xmlChar *) root_name) != 0) {
    Xva_s3_set_err (err, XVA_ESERVER, r->api,
                    "%s: answer is <%.64s>, expected <%s>", w,
                    (const char *) root->name, root_name);
    xmlFreeDoc (doc);
    return XVA_ESERVER;
  }
  *out = doc;
  return XVA_OK;
}

xmlNodePtr
Xva_s3_xml_child (xmlNodePtr node, const char *name)
{
  xmlNodePtr c;

  if (node == NULL)
    return NULL;
  for (c = node->children; c != NULL; c = c->next)
    if (c->type == XML_ELEMENT_NODE
        && xmlStrcmp (c->name, (const xmlChar *) name) == 0)
      return c;
  return NULL;
}

long
Xva_s3_xml_text (xmlNodePtr node, const char *name, char *out, size_t outsize)
{
  xmlNodePtr c = Xva_s3_xml_child (node, name);
  xmlChar *t;
  size_t n;

  if (outsize > 0)
    out[0] = '\0';
  if (c == NULL)
    return -1;
  t = xmlNodeGetContent (c);
  if (t == NULL)
    return 0;
  n = strlen ((const char *) t);
  if (n >= outsize) {
    xmlFree (t);
    return -2;
  }
  memcpy (out, t, n + 1);
  xmlFree (t);
  return (long) n;
}

char *
Xva_s3_xml_strdup (xmlNodePtr node, const char *name, size_t max)
{
  xmlNodePtr c = Xva_s3_xml_child (node, name);
  xmlChar *t;
  char *s;
  size_t n;

  if (c == NULL || (t = xmlNodeGetContent (c)) == NULL)
    return NULL;
  n = strlen ((const char *) t);
  s = n <= max ? malloc (n + 1) : NULL;
  if (s != NULL)
    memcpy (s, t, n + 1);
  xmlFree (t);
  return s;
}
