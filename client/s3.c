/* S3 basics: configuration, addresses, percent-encoding, canonical
 * queries, metadata headers and small helpers. */
#include "client/s3-priv.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <libxml/parser.h>
#include <openssl/evp.h>

#define ENDPOINT_MAX 1024
#define CRED_MAX 256

/* ---- Process-wide initialisation ------------------------------------ */

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static int global_status = XVA_OK;

static void
global_init (void)
{
  if (curl_global_init (CURL_GLOBAL_DEFAULT) != CURLE_OK)
    global_status = XVA_ENOMEM;
  xmlInitParser ();
}

/* ---- Errors ------------------------------------------------------------ */

void
Xva_s3_err_clear (struct Xva_s3_err *err)
{
  if (err == NULL)
    return;
  err->status = XVA_OK;
  err->permanent = 0;
  err->http_status = 0;
  err->code[0] = '\0';
  err->msg[0] = '\0';
}

int
Xva_s3_set_err (struct Xva_s3_err *err, int status, const char *api,
                const char *fmt, ...)
{
  va_list ap;
  int n;

  if (err == NULL)
    return status;
  err->status = status;
  err->permanent = 0;
  n = snprintf (err->msg, sizeof err->msg, "%s: ", api);
  if (n < 0 || (size_t) n >= sizeof err->msg)
    return status;
  va_start (ap, fmt);
  vsnprintf (err->msg + n, sizeof err->msg - (size_t) n, fmt, ap);
  va_end (ap);
  return status;
}

/* ---- Configuration ---------------------------------------------------- */

void
Xva_s3_config_init (struct Xva_s3_config *c)
{
  memset (c, 0, sizeof *c);
  c->region = "us-east-1";
  c->path_style = 1;
  c->part_size = XVA_S3_PART_DEFAULT;
  c->range_size = (size_t) 8 << 20;
  c->parallel = 4;
  c->retries = 4;
  c->max_memory = (size_t) 128 << 20;
  c->list_page = 1000;
  c->connect_timeout = 15;
  c->stall_timeout = 60;
}

static const char *
env2 (const char *a, const char *b, const char *c)
{
  const char *v = getenv (a);

  if ((v == NULL || *v == '\0') && b != NULL)
    v = getenv (b);
  if ((v == NULL || *v == '\0') && c != NULL)
    v = getenv (c);
  return v != NULL && *v != '\0' ? v : NULL;
}

int
Xva_s3_config_from_env (struct Xva_s3_config *c)
{
  const char *v;

  if ((v = env2 ("XVA_S3_ENDPOINT", NULL, NULL)) != NULL)
    c->endpoint = v;
  if ((v = env2 ("XVA_S3_REGION", "AWS_REGION", "AWS_DEFAULT_REGION")))
    c->region = v;
  if ((v = env2 ("XVA_S3_ACCESS_KEY", "AWS_ACCESS_KEY_ID", NULL)) != NULL)
    c->access_key = v;
  if ((v = env2 ("XVA_S3_SECRET_KEY", "AWS_SECRET_ACCESS_KEY", NULL)))
    c->secret_key = v;
  if ((v = env2 ("XVA_S3_CA_FILE", NULL, NULL)) != NULL)
    c->ca_file = v;
  if ((v = env2 ("XVA_S3_INSECURE", NULL, NULL)) != NULL)
    c->insecure = strcmp (v, "1") == 0;
  if ((v = env2 ("XVA_S3_PATH_STYLE", NULL, NULL)) != NULL)
    c->path_style = strcmp (v, "0") != 0;
  if (c->endpoint == NULL || c->access_key == NULL || c->secret_key == NULL)
    return XVA_EINVAL;
  return XVA_OK;
}

static int
printable (const char *s, size_t max)
{
  size_t i;

  for (i = 0; s[i]; i++)
    if (i >= max || (unsigned char) s[i] < 0x20
        || (unsigned char) s[i] >= 0x7f)
      return 0;
  return 1;
}

/* "http(s)://host[:port][/]": no path, query, user info or spaces. */
static int
endpoint_valid (const char *e, size_t *keep)
{
  const char *host;
  size_t n;

  if (strncmp (e, "http://", 7) == 0)
    host = e + 7;
  else if (strncmp (e, "https://", 8) == 0)
    host = e + 8;
  else
    return 0;
  if (!printable (e, ENDPOINT_MAX))
    return 0;
  n = strcspn (host, "/?#@ \\");
  if (n == 0)
    return 0;
  if (host[n] != '\0' && !(host[n] == '/' && host[n + 1] == '\0'))
    return 0;
  *keep = (size_t) (host - e) + n;
  return 1;
}

static int
region_valid (const char *r)
{
  size_t i;

  for (i = 0; r[i]; i++)
    if (i >= 64
        || !(islower ((unsigned char) r[i]) || isdigit ((unsigned char) r[i])
             || r[i] == '-'))
      return 0;
  return i > 0;
}

int
Xva_s3_conf_copy (struct Xva_s3_conf *dst, const struct Xva_s3_config *c,
                  const char *api, struct Xva_s3_err *err)
{
  struct Xva_s3_config *o = &dst->c;
  size_t ep_len = 0, lr, la, ls, lc, total;
  const char *region;
  char *p;

  memset (dst, 0, sizeof *dst);
  pthread_once (&global_once, global_init);
  if (global_status != XVA_OK)
    return Xva_s3_set_err (err, global_status, api, "libcurl init failed");
  if (c == NULL || c->endpoint == NULL
      || !endpoint_valid (c->endpoint, &ep_len))
    return Xva_s3_set_err (
      err, XVA_EINVAL, api,
      "endpoint must be http(s)://host[:port], got %.200s",
      c && c->endpoint ? c->endpoint : "(none)");
  region = c->region != NULL ? c->region : "us-east-1";
  if (!region_valid (region))
    return Xva_s3_set_err (err, XVA_EINVAL, api, "bad region '%.64s'", region);
  if (c->access_key == NULL || c->access_key[0] == '\0'
      || !printable (c->access_key, CRED_MAX)
      || strchr (c->access_key, ':') != NULL)
    return Xva_s3_set_err (err, XVA_EINVAL, api, "missing or bad access key");
  if (c->secret_key == NULL || c->secret_key[0] == '\0'
      || !printable (c->secret_key, CRED_MAX))
    return Xva_s3_set_err (err, XVA_EINVAL, api, "missing or bad secret key");
  if (c->ca_file != NULL && strlen (c->ca_file) > 4096)
    return Xva_s3_set_err (err, XVA_EINVAL, api, "CA file name too long");

  *o = *c;
  if (o->part_size == 0)
    o->part_size = XVA_S3_PART_DEFAULT;
  if (o->range_size == 0)
    o->range_size = (size_t) 8 << 20;
  if (o->parallel == 0)
    o->parallel = 4;
  if (o->retries == 0)
    o->retries = 4;
  if (o->max_memory == 0)
    o->max_memory = (size_t) 128 << 20;
  if (o->list_page == 0 || o->list_page > 1000)
    o->list_page = 1000;
  if (o->connect_timeout <= 0)
    o->connect_timeout = 15;
  if (o->stall_timeout <= 0)
    o->stall_timeout = 60;
  if (o->part_size < XVA_S3_PART_MIN || o->part_size > XVA_S3_PART_MAX)
    return Xva_s3_set_err (err, XVA_EINVAL, api,
                           "part size %zu outside 5 MiB .. 5 GiB",
                           o->part_size);
  if (o->range_size < ((size_t) 64 << 10)
      || o->range_size > ((size_t) 1 << 30))
    return Xva_s3_set_err (err, XVA_EINVAL, api,
                           "range size %zu outside 64 KiB .. 1 GiB",
                           o->range_size);
  if (o->parallel > XVA_S3_PARALLEL_MAX || o->retries > 20)
    return Xva_s3_set_err (err, XVA_EINVAL, api,
                           "parallel %u (max %d) or retries %u (max 20)",
                           o->parallel, XVA_S3_PARALLEL_MAX, o->retries);

  lr = strlen (region);
  la = strlen (c->access_key);
  ls = strlen (c->secret_key);
  lc = c->ca_file != NULL ? strlen (c->ca_file) : 0;
  total = ep_len + lr + la + ls + lc + 5;
  dst->strings = malloc (total);
  if (dst->strings == NULL)
    return Xva_s3_set_err (err, XVA_ENOMEM, api, "out of memory");
  p = dst->strings;
  memcpy (p, c->endpoint, ep_len);
  p[ep_len] = '\0';
  o->endpoint = p;
  p += ep_len + 1;
  memcpy (p, region, lr + 1);
  o->region = p;
  p += lr + 1;
  memcpy (p, c->access_key, la + 1);
  o->access_key = p;
  p += la + 1;
  memcpy (p, c->secret_key, ls + 1);
  o->secret_key = p;
  p += ls + 1;
  if (c->ca_file != NULL) {
    memcpy (p, c->ca_file, lc + 1);
    o->ca_file = p;
  }
  return XVA_OK;
}

void
Xva_s3_conf_free (struct Xva_s3_conf *conf)
{
  if (conf == NULL)
    return;
  free (conf->strings);
  conf->strings = NULL;
}

/* ---- Addresses ------------------------------------------------------- */

int
Xva_s3_bucket_valid (const char *name)
{
  size_t i, n = strlen (name);

  if (n < 3 || n > XVA_S3_BUCKET_MAX)
    return 0;
  for (i = 0; i < n; i++) {
    unsigned char ch = (unsigned char) name[i];
    int alnum = islower (ch) || isdigit (ch);
    if (!alnum && ch != '-' && ch != '.')
      return 0;
    if ((i == 0 || i == n - 1) && !alnum)
      return 0;
    if (ch == '.' && name[i + 1] == '.')
      return 0;
  }
  return 1;
}

int
Xva_s3_key_valid (const char *key)
{
  size_t i, n = strlen (key), seg = 0;

  if (n == 0 || n > XVA_S3_KEY_MAX)
    return 0;
  for (i = 0; i <= n; i++) {
    unsigned char ch = (unsigned char) key[i];
    if (ch == '/' || ch == '\0') {
      size_t len = i - seg;
      if ((len == 1 && key[seg] == '.')
          || (len == 2 && key[seg] == '.' && key[seg + 1] == '.'))
        return 0;
      seg = i + 1;
      continue;
    }
    if (ch < 0x20 || ch == 0x7f)
      return 0;
  }
  return 1;
}

int
Xva_s3_url_parse (const char *url, struct Xva_s3_url *out,
                  struct Xva_s3_err *err)
{
  static const char api[] = "Xva_s3_url_parse";
  const char *b, *slash;
  size_t bl;

  memset (out, 0, sizeof *out);
  Xva_s3_err_clear (err);
  if (url == NULL || strncmp (url, "s3://", 5) != 0)
    return Xva_s3_set_err (err, XVA_EINVAL, api,
                           "'%.200s' is not an s3://bucket/key address",
                           url ? url : "(null)");
  b = url + 5;
  slash = strchr (b, '/');
  bl = slash != NULL ? (size_t) (slash - b) : strlen (b);
  if (bl > XVA_S3_BUCKET_MAX || bl == 0) {
    return Xva_s3_set_err (err, XVA_EINVAL, api, "bad bucket name in '%.200s'",
                           url);
  }
  memcpy (out->bucket, b, bl);
  out->bucket[bl] = '\0';
  if (!Xva_s3_bucket_valid (out->bucket))
    return Xva_s3_set_err (err, XVA_EINVAL, api,
                           "bad bucket name '%s' (3-63 of a-z 0-9 . -)",
                           out->bucket);
  if (slash != NULL && slash[1] != '\0') {
    size_t kl = strlen (slash + 1);
    if (kl > XVA_S3_KEY_MAX)
      return Xva_s3_set_err (err, XVA_EINVAL, api, "key longer than %d bytes",
                             XVA_S3_KEY_MAX);
    memcpy (out->key, slash + 1, kl + 1);
    if (!Xva_s3_key_valid (out->key))
      return Xva_s3_set_err (err, XVA_EINVAL, api,
                             "bad key '%.200s' (control characters or "
                             "'.'/'..' segments)",
                             out->key);
  }
  return XVA_OK;
}

long
Xva_s3_uri_encode (const char *s, int keep_slash, char *out, size_t outsize)
{
  static const char hex[] = "0123456789ABCDEF";
  size_t o = 0;

  for (; *s; s++) {
    unsigned char ch = (unsigned char) *s;
    if (isalnum (ch) || ch == '-' || ch == '.' || ch == '_' || ch == '~'
        || (keep_slash && ch == '/')) {
      if (o + 1 >= outsize)
        return -1;
      out[o++] = (char) ch;
    }
    else {
      if (o + 3 >= outsize)
        return -1;
      out[o++] = '%';
      out[o++] = hex[ch >> 4];
      out[o++] = hex[ch & 15];
    }
  }
  if (o >= outsize)
    return -1;
  out[o] = '\0';
  return (long) o;
}

struct qpair {
  char *name;
  char *value;
};

static int
qpair_cmp (const void *a, const void *b)
{
  const struct qpair *x = a, *y = b;
  int c = strcmp (x->name, y->name);
  return c != 0 ? c : strcmp (x->value, y->value);
}

long
Xva_s3_query_build (const struct Xva_s3_pair *params, size_t n, char *out,
                    size_t outsize)
{
  struct qpair q[64];
  size_t i, o = 0;
  long r = -1;

  if (n > 64 || outsize == 0)
    return -1;
  memset (q, 0, sizeof q);
  for (i = 0; i < n; i++) {
    const char *v = params[i].value ? params[i].value : "";
    size_t nl = strlen (params[i].name) * 3 + 1;
    size_t vl = strlen (v) * 3 + 1;
    q[i].name = malloc (nl);
    q[i].value = malloc (vl);
    if (q[i].name == NULL || q[i].value == NULL)
      goto out;
    Xva_s3_uri_encode (params[i].name, 0, q[i].name, nl);
    Xva_s3_uri_encode (v, 0, q[i].value, vl);
  }
  qsort (q, n, sizeof q[0], qpair_cmp);
  out[0] = '\0';
  for (i = 0; i < n; i++) {
    int w = snprintf (out + o, outsize - o, "%s%s=%s", i ? "&" : "", q[i].name,
                      q[i].value);
    if (w < 0 || (size_t) w >= outsize - o)
      goto out;
    o += (size_t) w;
  }
  r = (long) o;
out:
  for (i = 0; i < n; i++) {
    free (q[i].name);
    free (q[i].value);
  }
  return r;
}

/* ---- Small helpers ------------------------------------------------------ */

void
Xva_s3_sha256_hex (const void *buf, size_t n, char hex[65])
{
  static const char digits[] = "0123456789abcdef";
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int mdlen = 0, i;

  if (EVP_Digest (buf, n, md, &mdlen, EVP_sha256 (), NULL) != 1
      || mdlen != 32) {
    hex[0] = '\0';
    return;
  }
  for (i = 0; i < 32; i++) {
    hex[2 * i] = digits[md[i] >> 4];
    hex[2 * i + 1] = digits[md[i] & 15];
  }
  hex[64] = '\0';
}

static int
digits_at (const char *s, size_t n, int *v)
{
  size_t i;
  int x = 0;

  for (i = 0; i < n; i++) {
    if (!isdigit ((unsigned char) s[i]))
      return 0;
    x = x * 10 + (s[i] - '0');
  }
  *v = x;
  return 1;
}

int64_t
Xva_s3_parse_time (const char *s)
{
  struct tm tm;
  int y, mo, d, h, mi, se;
  time_t t;

  if (s == NULL || *s == '\0')
    return -1;
  if (strlen (s) >= 19 && s[4] == '-' && s[7] == '-' && s[10] == 'T'
      && s[13] == ':' && s[16] == ':' && digits_at (s, 4, &y)
      && digits_at (s + 5, 2, &mo) && digits_at (s + 8, 2, &d)
      && digits_at (s + 11, 2, &h) && digits_at (s + 14, 2, &mi)
      && digits_at (s + 17, 2, &se)) {
    memset (&tm, 0, sizeof tm);
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = se;
    t = timegm (&tm);
    return t == (time_t) -1 ? -1 : (int64_t) t;
  }
  t = curl_getdate (s, NULL);
  return t == (time_t) -1 ? -1 : (int64_t) t;
}

void
Xva_s3_meta_free (struct Xva_s3_meta *meta, size_t n)
{
  size_t i;

  if (meta == NULL)
    return;
  for (i = 0; i < n; i++) {
    free (meta[i].name);
    free (meta[i].value);
  }
  free (meta);
}

int
Xva_s3_meta_headers (const struct Xva_s3_pair *meta, size_t nmeta,
                     struct curl_slist **list, const char *api,
                     struct Xva_s3_err *err)
{
  char line[XVA_S3_META_BYTES + XVA_S3_META_NAME_MAX + 32];
  size_t i, j, total = 0;

  if (nmeta > XVA_S3_META_MAX)
    return Xva_s3_set_err (err, XVA_EINVAL, api, "%zu metadata pairs (max %d)",
                           nmeta, XVA_S3_META_MAX);
  for (i = 0; i < nmeta; i++) {
    const char *name = meta[i].name, *value = meta[i].value;
    size_t nl, vl;
    struct curl_slist *l;
    int w;

    if (name == NULL || (nl = strlen (name)) == 0 || nl > XVA_S3_META_NAME_MAX)
      return Xva_s3_set_err (err, XVA_EINVAL, api, "bad metadata name");
    for (j = 0; j < nl; j++) {
      unsigned char ch = (unsigned char) name[j];
      if (!isalnum (ch) && ch != '-' && ch != '_')
        return Xva_s3_set_err (err, XVA_EINVAL, api,
                               "metadata name '%.128s': only A-Z a-z 0-9 "
                               "- _",
                               name);
    }
    if (value == NULL)
      value = "";
    vl = strlen (value);
    if (!printable (value, XVA_S3_META_BYTES))
      return Xva_s3_set_err (err, XVA_EINVAL, api,
                             "metadata '%s': value is not printable ASCII",
                             name);
    total += nl + vl;
    if (total > XVA_S3_META_BYTES)
      return Xva_s3_set_err (err, XVA_EINVAL, api,
                             "metadata larger than %d bytes",
                             XVA_S3_META_BYTES);
    w = snprintf (line, sizeof line, "x-amz-meta-%s: %s", name, value);
    if (w < 0 || (size_t) w >= sizeof line)
      return Xva_s3_set_err (err, XVA_EINVAL, api, "metadata too long");
    for (j = 11; j < 11 + nl; j++)
      line[j] = (char) tolower ((unsigned char) line[j]);
    l = curl_slist_append (*list, line);
    if (l == NULL)
      return Xva_s3_set_err (err, XVA_ENOMEM, api, "out of memory");
    *list = l;
  }
  return XVA_OK;
}

void
Xva_s3_copy_text (char *dst, size_t dstsize, const char *s, size_t n)
{
  if (dstsize == 0)
    return;
  if (n >= dstsize)
    n = dstsize - 1;
  memcpy (dst, s, n);
  dst[n] = '\0';
}
