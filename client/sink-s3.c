/* Object storage as a kind of the client's outputs and inputs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sink-s3.h"

#define HEAD_MAX ((size_t) 32 << 20) /* held back for the metadata */
#define META_NAME_MAX 1024

/* ---- Settings ------------------------------------------------------------ */

static struct xva_s3_opts settings;
static char *settings_strings; /* the copied strings, one block */
static size_t settings_len;
static int settings_ready;

static char *
put_string (char **p, const char *s)
{
  char *at = *p;
  size_t n;

  if (s == NULL)
    return NULL;
  n = strlen (s) + 1;
  memcpy (at, s, n);
  *p += n;
  return at;
}

int
Xva_sink_s3_setup (const struct xva_s3_opts *o)
{
  const char *const v[] = { o->endpoint, o->region, o->access_key,
                            o->secret_key, o->ca_file };
  size_t i, len = 0;
  char *block, *p;

  for (i = 0; i < sizeof v / sizeof v[0]; i++)
    if (v[i] != NULL)
      len += strlen (v[i]) + 1;
  block = malloc (len + 1);
  if (block == NULL)
    return XVA_ENOMEM;
  Xva_sink_s3_clear ();
  settings = *o;
  p = block;
  settings.endpoint = put_string (&p, o->endpoint);
  settings.region = put_string (&p, o->region);
  settings.access_key = put_string (&p, o->access_key);
  settings.secret_key = put_string (&p, o->secret_key);
  settings.ca_file = put_string (&p, o->ca_file);
  settings_strings = block;
  settings_len = len;
  settings_ready = 1;
  return XVA_OK;
}

void
Xva_sink_s3_clear (void)
{
  if (settings_strings != NULL) {
    volatile char *p = settings_strings;
    size_t i;
    for (i = 0; i < settings_len; i++)
      p[i] = 0;
    free (settings_strings);
  }
  settings_strings = NULL;
  settings_len = 0;
  settings_ready = 0;
  memset (&settings, 0, sizeof settings);
}

static int
need_settings (char *err, size_t errlen)
{
  if (settings_ready)
    return XVA_OK;
  return Xva_sink_err (err, errlen, XVA_EINVAL,
                       "s3:// targets need the object storage settings "
                       "(--s3-endpoint, credentials)");
}

/* ---- Output -------------------------------------------------------------- */

struct s3_sink {
  struct xva_s3_upload *up; /* once the metadata is known */
  struct xva_reader *peek;  /* reads the start for the metadata */
  int peek_done;
  unsigned char *head; /* bytes held until the upload starts */
  size_t head_len, head_cap;
  char date[24];
  char name[META_NAME_MAX];
  char uuid[64];
  char size[24];
  char disks[16];
};

/* The same encoding as `xva pack`: printable ASCII but '%' as is, every
 * other byte %XX, cut on a whole character. */
static void
meta_encode (const char *s, char *out, size_t outsize)
{
  static const char hex[] = "0123456789ABCDEF";
  const unsigned char *p = (const unsigned char *) s;
  size_t o = 0;

  for (; *p != '\0'; p++) {
    if (*p >= 0x20 && *p < 0x7f && *p != '%') {
      if (o + 1 >= outsize)
        break;
      out[o++] = (char) *p;
    }
    else {
      if (o + 3 >= outsize)
        break;
      out[o++] = '%';
      out[o++] = hex[*p >> 4];
      out[o++] = hex[*p & 15];
    }
  }
  out[o] = '\0';
}

/* Name and uuid of the archive's VM (the first that is not a snapshot or
 * template), and its disks. */
static int
on_peek_begin (void *opaque, const struct xva_meta *m)
{
  struct s3_sink *k = opaque;
  const struct xva_value *rec, *first = NULL;
  const char *cls, *id;
  uint64_t total = 0;
  unsigned i;
  size_t j;
  int snap, tmpl;

  for (j = 0; j < xva_meta_nobjects (m); j++) {
    cls = xva_meta_object_class (m, j);
    id = xva_meta_object_id (m, j);
    if (cls == NULL || strcmp (cls, "VM") != 0 || id == NULL)
      continue;
    rec = xva_meta_find (m, id);
    if (rec == NULL)
      continue;
    if (first == NULL)
      first = rec;
    snap = tmpl = 0;
    xva_value_get_bool (xva_value_get (rec, "is_a_snapshot"), &snap);
    xva_value_get_bool (xva_value_get (rec, "is_a_template"), &tmpl);
    if (!snap && !tmpl) {
      first = rec;
      break;
    }
  }
  if (first != NULL) {
    const char *n = xva_value_get_string (first, "name_label");
    const char *u = xva_value_get_string (first, "uuid");
    meta_encode (n != NULL ? n : "", k->name, sizeof k->name);
    meta_encode (u != NULL ? u : "", k->uuid, sizeof k->uuid);
  }
  for (i = 0; i < xva_meta_ndisks (m); i++)
    total += xva_meta_disk (m, i)->virtual_size;
  snprintf (k->size, sizeof k->size, "%llu", (unsigned long long) total);
  snprintf (k->disks, sizeof k->disks, "%u", xva_meta_ndisks (m));
  return 0;
}

/* Starts the upload with what is known, then sends the held bytes. */
static int
start_upload (struct Xva_sink *s)
{
  struct s3_sink *k = s->impl;
  struct xva_reader_stats st;
  struct xva_s3_pair meta[8];
  const char *cs = NULL, *comp = NULL;
  char err[1200];
  size_t n = 0;
  int status;

  memset (&st, 0, sizeof st);
  if (k->peek != NULL)
    xva_reader_stats (k->peek, &st);
  if (st.checksum_kinds == (1u << XVA_CHECKSUM_XXHASH))
    cs = "xxhash";
  else if (st.checksum_kinds == (1u << XVA_CHECKSUM_SHA1))
    cs = "sha1";
  comp = xva_compress_name (st.compress);
  if (k->name[0] != '\0') {
    meta[n].name = "vm-name";
    meta[n++].value = k->name;
  }
  if (k->uuid[0] != '\0') {
    meta[n].name = "vm-uuid";
    meta[n++].value = k->uuid;
  }
  meta[n].name = "date";
  meta[n++].value = k->date;
  if (cs != NULL) {
    meta[n].name = "checksum";
    meta[n++].value = cs;
  }
  if (k->size[0] != '\0') {
    meta[n].name = "size";
    meta[n++].value = k->size;
    meta[n].name = "disks";
    meta[n++].value = k->disks;
  }
  meta[n].name = "compression";
  meta[n++].value = comp != NULL ? comp : "none";
  /* The object appears only at the commit, after every check. */
  meta[n].name = "complete";
  meta[n++].value = "true";
  err[0] = '\0';
  status = XVA_OK;
  k->up = xva_s3_upload_new (&settings, s->name, meta, n, 0, &status, err,
                             sizeof err);
  xva_reader_free (k->peek);
  k->peek = NULL;
  if (k->up == NULL)
    return Xva_sink_fail (s, status, "%s", err);
  if (k->head_len > 0) {
    status = xva_s3_upload_write (k->up, k->head, k->head_len);
    if (status != XVA_OK)
      return Xva_sink_fail (s, status, "%s", xva_s3_upload_errmsg (k->up));
  }
  free (k->head);
  k->head = NULL;
  k->head_len = k->head_cap = 0;
  return XVA_OK;
}

static int
s3_write (struct Xva_sink *s, const void *buf, size_t n)
{
  struct s3_sink *k = s->impl;
  struct xva_reader_stats st;
  struct xva_in in;
  int r;

  if (k->up != NULL) {
    r = xva_s3_upload_write (k->up, buf, n);
    return r == XVA_OK
             ? XVA_OK
             : Xva_sink_fail (s, r, "%s", xva_s3_upload_errmsg (k->up));
  }
  if (k->head_len + n > k->head_cap) {
    size_t cap = k->head_cap != 0 ? k->head_cap : (size_t) 1 << 20;
    unsigned char *p;
    while (cap < k->head_len + n)
      cap *= 2;
    p = realloc (k->head, cap);
    if (p == NULL)
      return Xva_sink_fail (s, XVA_ENOMEM, "out of memory");
    k->head = p;
    k->head_cap = cap;
  }
  memcpy (k->head + k->head_len, buf, n);
  k->head_len += n;
  if (!k->peek_done && k->peek != NULL) {
    in.src = buf;
    in.size = n;
    in.pos = 0;
    r = xva_reader_feed (k->peek, &in);
    xva_reader_stats (k->peek, &st);
    /* Enough: the records and the first chunk's checksum kind, or the
     * end, or something the transfer's own checks will report. */
    if (r != XVA_OK || st.checksum_kinds != 0)
      k->peek_done = 1;
  }
  if (k->peek_done || k->head_len >= HEAD_MAX)
    return start_upload (s);
  return XVA_OK;
}

static int
s3_commit (struct Xva_sink *s)
{
  struct s3_sink *k = s->impl;
  int r;

  if (k->up == NULL) {
    r = start_upload (s);
    if (r != XVA_OK)
      return r;
  }
  r = xva_s3_upload_complete (k->up);
  return r == XVA_OK
           ? XVA_OK
           : Xva_sink_fail (s, r, "%s", xva_s3_upload_errmsg (k->up));
}

static void
s3_abort (struct Xva_sink *s)
{
  struct s3_sink *k = s->impl;
  int r;

  if (k->up == NULL)
    return;
  r = xva_s3_upload_abort (k->up);
  if (r != XVA_OK)
    Xva_sink_fail (s, r, "%s (parts may remain: xva ls --pending)",
                   xva_s3_upload_errmsg (k->up));
}

static void
s3_destroy (struct Xva_sink *s)
{
  struct s3_sink *k = s->impl;

  if (k == NULL)
    return;
  xva_s3_upload_free (k->up);
  xva_reader_free (k->peek);
  free (k->head);
  free (k);
}

static const struct Xva_sink_ops s3_sink_ops = {
  "s3", s3_write, s3_commit, s3_abort, s3_destroy,
};

int
Xva_sink_open_s3 (const char *url, struct Xva_sink **out, char *err,
                  size_t errlen)
{
  struct xva_reader_opts ro;
  struct xva_sink_io io;
  struct s3_sink *k;
  struct tm tm;
  time_t now = time (NULL);
  int status;

  *out = NULL;
  status = need_settings (err, errlen);
  if (status != XVA_OK)
    return status;
  status = xva_s3_url_check (url, 1, err, errlen);
  if (status != XVA_OK)
    return status;
  k = calloc (1, sizeof *k);
  if (k == NULL)
    goto nomem;
  if (gmtime_r (&now, &tm) != NULL)
    strftime (k->date, sizeof k->date, "%Y-%m-%dT%H:%M:%SZ", &tm);
  xva_reader_opts_init (&ro);
  ro.mode = XVA_READ_ANY;
  ro.force = 1;
  ro.threads = 1;
  memset (&io, 0, sizeof io);
  io.begin = on_peek_begin;
  io.opaque = k;
  status = XVA_OK;
  k->peek = xva_reader_new (&ro, io, &status);
  if (k->peek == NULL) {
    free (k);
    goto nomem;
  }
  *out = Xva_sink_new (&s3_sink_ops, url, k);
  if (*out == NULL) {
    xva_reader_free (k->peek);
    free (k);
    goto nomem;
  }
  return XVA_OK;
nomem:
  return Xva_sink_err (err, errlen, XVA_ENOMEM, "out of memory");
}

/* ---- Input ---------------------------------------------------------------- */

static ssize_t
s3_read (struct Xva_source *src, void *buf, size_t n)
{
  struct xva_s3_download *d = src->impl;
  size_t got = 0;
  int r;

  r = xva_s3_download_read (d, buf, n, &got);
  if (r == XVA_EOF)
    return 0;
  if (r < 0) {
    src->status = r;
    snprintf (src->errmsg, sizeof src->errmsg, "%s",
              xva_s3_download_errmsg (d));
    return -1;
  }
  return (ssize_t) got;
}

static void
s3_source_destroy (struct Xva_source *src)
{
  xva_s3_download_free (src->impl);
}

static const struct Xva_source_ops s3_source_ops = {
  "s3",
  s3_read,
  s3_source_destroy,
};

int
Xva_source_open_s3 (const char *url, struct Xva_source **out, char *err,
                    size_t errlen)
{
  struct xva_s3_download *d;
  uint64_t size;
  int status;

  *out = NULL;
  status = need_settings (err, errlen);
  if (status != XVA_OK)
    return status;
  d = xva_s3_download_new (&settings, url, &status, err, errlen);
  if (d == NULL)
    return status;
  size = xva_s3_download_size (d);
  *out = Xva_source_new (&s3_source_ops, url, d,
                         size <= (uint64_t) INT64_MAX ? (int64_t) size : -1);
  if (*out == NULL) {
    xva_s3_download_free (d);
    return Xva_sink_err (err, errlen, XVA_ENOMEM, "out of memory");
  }
  return XVA_OK;
}

/* ---- --keep --------------------------------------------------------------- */

int
Xva_target_list_s3 (const char *dir, char ***names, size_t *n, char *err,
                    size_t errlen)
{
  struct xva_s3_listing *l = NULL;
  const char *key, *slash, *complete;
  char **v = NULL;
  size_t i, cnt = 0, plen;
  int status;

  *names = NULL;
  *n = 0;
  status = need_settings (err, errlen);
  if (status != XVA_OK)
    return status;
  slash = strchr (dir + 5, '/');
  plen = slash != NULL ? strlen (slash + 1) : 0;
  status = xva_s3_list (&settings, dir, XVA_S3_LIST_META, &l, err, errlen);
  if (status != XVA_OK)
    return status;
  v = calloc (xva_s3_listing_count (l) + 1, sizeof *v);
  if (v == NULL)
    goto nomem;
  for (i = 0; i < xva_s3_listing_count (l); i++) {
    key = xva_s3_listing_key (l, i);
    complete = xva_s3_listing_meta (l, i, "complete");
    /* Directly under the prefix, and a complete backup. */
    if (key == NULL || strlen (key) <= plen || strchr (key + plen, '/')
        || complete == NULL || strcmp (complete, "true") != 0)
      continue;
    v[cnt] = strdup (key + plen);
    if (v[cnt] == NULL)
      goto nomem;
    cnt++;
  }
  xva_s3_listing_free (l);
  *names = v;
  *n = cnt;
  return XVA_OK;
nomem:
  Xva_target_names_free (v, cnt);
  xva_s3_listing_free (l);
  return Xva_sink_err (err, errlen, XVA_ENOMEM, "out of memory");
}

int
Xva_target_remove_s3 (const char *url, char *err, size_t errlen)
{
  int status = need_settings (err, errlen);

  if (status != XVA_OK)
    return status;
  return xva_s3_delete (&settings, url, err, errlen);
}
