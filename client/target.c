/* Output names of the client: `{name}`, `{uuid}` and `{date}` templates,
 * and --keep (remove all but the newest N exports of a VM). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sink.h"

#define NAME_MAX_BYTES 100
#define DATE_LEN 16 /* YYYYMMDDTHHMMSSZ */

static void
sanitize (const char *in, char *out, size_t outlen)
{
  size_t i, n = 0;
  unsigned char c;

  for (i = 0;
       in != NULL && in[i] != '\0' && n + 1 < outlen && n < NAME_MAX_BYTES;
       i++) {
    c = (unsigned char) in[i];
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
        || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'
        || c == '+')
      out[n++] = (char) c;
    else
      out[n++] = '_';
  }
  out[n] = '\0';
  if (out[0] == '.')
    out[0] = '_';
  if (out[0] == '\0')
    snprintf (out, outlen, "vm");
}

static void
format_date (int64_t when, char *out, size_t outlen)
{
  time_t t = (time_t) when;
  struct tm tm;

  if (gmtime_r (&t, &tm) == NULL
      || strftime (out, outlen, "%Y%m%dT%H%M%SZ", &tm) == 0)
    snprintf (out, outlen, "19700101T000000Z");
}

/* Appends s to the growing string; 0 or -1. */
static int
append (char **buf, size_t *len, size_t *cap, const char *s, size_t n)
{
  char *nb;
  size_t nc;

  if (*len + n + 1 > *cap) {
    nc = *cap ? *cap : 128;
    while (nc < *len + n + 1)
      nc *= 2;
    nb = realloc (*buf, nc);
    if (nb == NULL)
      return -1;
    *buf = nb;
    *cap = nc;
  }
  memcpy (*buf + *len, s, n);
  *len += n;
  (*buf)[*len] = '\0';
  return 0;
}

char *
Xva_target_expand (const char *template, const char *name, const char *uuid,
                   int64_t when)
{
  char sname[NAME_MAX_BYTES + 1], date[32], suuid[NAME_MAX_BYTES + 1];
  char *buf = NULL;
  size_t len = 0, cap = 0;
  const char *p = template, *rep;

  sanitize (name, sname, sizeof sname);
  sanitize (uuid, suuid, sizeof suuid);
  format_date (when, date, sizeof date);
  if (append (&buf, &len, &cap, "", 0) != 0)
    return NULL;
  while (*p != '\0') {
    if (*p == '{') {
      if (strncmp (p, "{name}", 6) == 0)
        rep = sname;
      else if (strncmp (p, "{uuid}", 6) == 0)
        rep = suuid;
      else if (strncmp (p, "{date}", 6) == 0)
        rep = date;
      else {
        free (buf);
        return NULL;
      }
      if (append (&buf, &len, &cap, rep, strlen (rep)) != 0) {
        free (buf);
        return NULL;
      }
      p += 6;
      continue;
    }
    if (append (&buf, &len, &cap, p, 1) != 0) {
      free (buf);
      return NULL;
    }
    p++;
  }
  return buf;
}

int
Xva_target_has_date (const char *template)
{
  const char *slash = strrchr (template, '/');
  const char *d = strstr (template, "{date}");

  if (d == NULL || strstr (d + 6, "{date}") != NULL)
    return 0;
  return slash == NULL || d > slash;
}

/* Is s a date as format_date writes it? */
static int
is_date (const char *s)
{
  static const char shape[] = "DDDDDDDDTDDDDDDZ";
  size_t i;

  for (i = 0; i < DATE_LEN; i++) {
    if (shape[i] == 'D') {
      if (s[i] < '0' || s[i] > '9')
        return 0;
    }
    else if (s[i] != shape[i])
      return 0;
  }
  return 1;
}

struct match {
  char *name;
  char date[DATE_LEN + 1];
};

static int
by_date_desc (const void *a, const void *b)
{
  const struct match *x = a, *y = b;
  int c = strcmp (y->date, x->date);

  return c != 0 ? c : strcmp (y->name, x->name);
}

static void tell (void (*notice) (void *, const char *), void *opaque,
                  const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
  __attribute__ ((format (printf, 3, 4)))
#endif
  ;

static void
tell (void (*notice) (void *, const char *), void *opaque, const char *fmt,
      ...)
{
  char msg[XVA_SINK_MSG_MAX];
  va_list ap;

  if (notice == NULL)
    return;
  va_start (ap, fmt);
  vsnprintf (msg, sizeof msg, fmt, ap);
  va_end (ap);
  notice (opaque, msg);
}

int
Xva_target_prune (const char *template, const char *name, const char *uuid,
                  const char *just_written, unsigned keep, unsigned *removed,
                  void (*notice) (void *opaque, const char *msg), void *opaque,
                  char *err, size_t errlen)
{
  char *full = NULL, *dir = NULL, *prefix, *suffix = NULL, *path;
  const char *slash, *just_base;
  char **names = NULL;
  struct match *m = NULL;
  size_t n = 0, nm = 0, i, plen, slen, dlen;
  int s, failed = 0;

  *removed = 0;
  if (!Xva_target_has_date (template)) {
    if (err != NULL && errlen > 0)
      snprintf (err, errlen, "--keep needs {date} in the file name");
    return XVA_EINVAL;
  }
  /* The parts before and after {date}, expanded. */
  {
    const char *d = strstr (template, "{date}");
    char *pre_t = strndup (template, (size_t) (d - template));

    full = pre_t != NULL ? Xva_target_expand (pre_t, name, uuid, 0) : NULL;
    free (pre_t);
    suffix = Xva_target_expand (d + 6, name, uuid, 0);
    if (full == NULL || suffix == NULL) {
      s = XVA_EINVAL;
      if (err != NULL && errlen > 0)
        snprintf (err, errlen, "bad output name template");
      goto out;
    }
    prefix = full;
  }
  slash = strrchr (prefix, '/');
  if (slash != NULL) {
    dlen = (size_t) (slash - prefix) + 1;
    dir = strndup (prefix, dlen);
    prefix += dlen;
  }
  else {
    dlen = 0;
    dir = strdup ("");
  }
  if (dir == NULL) {
    s = XVA_ENOMEM;
    goto out;
  }
  plen = strlen (prefix);
  slen = strlen (suffix);
  just_base = strrchr (just_written, '/');
  just_base = just_base != NULL ? just_base + 1 : just_written;
  s = Xva_target_list (dir, &names, &n, err, errlen);
  if (s != XVA_OK)
    goto out;
  m = calloc (n ? n : 1, sizeof *m);
  if (m == NULL) {
    s = XVA_ENOMEM;
    goto out;
  }
  for (i = 0; i < n; i++) {
    const char *e = names[i];
    size_t el = strlen (e);
    if (el != plen + DATE_LEN + slen || strncmp (e, prefix, plen) != 0
        || strcmp (e + plen + DATE_LEN, suffix) != 0 || !is_date (e + plen))
      continue;
    m[nm].name = names[i];
    memcpy (m[nm].date, e + plen, DATE_LEN);
    m[nm].date[DATE_LEN] = '\0';
    nm++;
  }
  qsort (m, nm, sizeof *m, by_date_desc);
  for (i = 0; i < nm; i++) {
    if (i < keep || strcmp (m[i].name, just_base) == 0)
      continue;
    path = malloc (strlen (dir) + strlen (m[i].name) + 1);
    if (path == NULL) {
      s = XVA_ENOMEM;
      goto out;
    }
    memcpy (path, dir, strlen (dir));
    memcpy (path + strlen (dir), m[i].name, strlen (m[i].name) + 1);
    if (Xva_target_remove (path, err, errlen) == XVA_OK) {
      (*removed)++;
      tell (notice, opaque, "removed the older export %s", path);
    }
    else {
      failed = 1;
      tell (notice, opaque, "%s", err != NULL ? err : "cannot remove");
    }
    free (path);
  }
  s = failed ? XVA_EIO : XVA_OK;
out:
  if (s == XVA_ENOMEM && err != NULL && errlen > 0)
    snprintf (err, errlen, "out of memory");
  free (m);
  Xva_target_names_free (names, n);
  free (dir);
  free (full);
  free (suffix);
  return s;
}
