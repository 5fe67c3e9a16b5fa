/* Backups in the `xva` command: output names from templates, archive
 * metadata on object storage, and retention there. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backup.h"

#define NAME_MAX_BYTES 100 /* of {name} in a file name or key */
#define PLACEHOLDERS_MAX 8
/* In a name pattern: a uuid (36 of 0-9 a-f A-F -) and a date
 * (YYYYMMDDTHHMMSSZ) of any value. */
#define WILD_UUID '\001'
#define WILD_DATE '\002'
#define UUID_LEN 36
#define DATE_LEN 16

void
Xva_cli_date_set (struct xva_cli_date *d, time_t t)
{
  struct tm tm;

  if (gmtime_r (&t, &tm) == NULL)
    memset (&tm, 0, sizeof tm);
  strftime (d->key, sizeof d->key, "%Y%m%dT%H%M%SZ", &tm);
  strftime (d->iso, sizeof d->iso, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* ------------------------------------------------------------------ */
/* Templates                                                            */

int
Xva_cli_template_has (const char *tmpl)
{
  return tmpl != NULL && strchr (tmpl, '{') != NULL;
}

/* The placeholder at p ('{'): 'n', 'u', 'd', or 0; *len its length. */
static int
placeholder (const char *p, size_t *len)
{
  static const struct {
    const char *text;
    int kind;
  } known[] = {
    { "{name}", 'n' },
    { "{uuid}", 'u' },
    { "{date}", 'd' },
  };
  size_t i;

  for (i = 0; i < sizeof known / sizeof known[0]; i++) {
    size_t n = strlen (known[i].text);
    if (strncmp (p, known[i].text, n) == 0) {
      *len = n;
      return known[i].kind;
    }
  }
  return 0;
}

int
Xva_cli_template_check (const char *tmpl, char *err, size_t errlen)
{
  const char *p;
  size_t len;
  unsigned count = 0;

  for (p = tmpl; (p = strchr (p, '{')) != NULL; p += len) {
    if (placeholder (p, &len) == 0) {
      snprintf (err, errlen,
                "unknown placeholder '%.*s' in '%s' (use "
                "{name}, {uuid} or {date})",
                (int) strcspn (p, "}") + 1, p, tmpl);
      return -1;
    }
    if (++count > PLACEHOLDERS_MAX) {
      snprintf (err, errlen, "more than %u placeholders in '%s'",
                PLACEHOLDERS_MAX, tmpl);
      return -1;
    }
  }
  if (strchr (tmpl, '}') != NULL && count == 0) {
    snprintf (err, errlen, "a '}' without '{' in '%s'", tmpl);
    return -1;
  }
  return 0;
}

/* The name made safe for a file name or key, in out: letters, digits
 * and . _ - + kept, every other byte '_', no leading dot, at most
 * NAME_MAX_BYTES (the same rule as the client's output names). */
static void
safe_name (const char *s, char *out, size_t outsize)
{
  const unsigned char *p = (const unsigned char *) (s != NULL ? s : "");
  size_t j = 0, max = outsize - 1;

  if (max > NAME_MAX_BYTES)
    max = NAME_MAX_BYTES;
  while (p[j] != '\0' && j < max) {
    unsigned char c = p[j];
    int keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
               || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'
               || c == '+';
    out[j] = (char) (!keep || (j == 0 && c == '.') ? '_' : c);
    j++;
  }
  out[j] = '\0';
  if (j == 0)
    snprintf (out, outsize, "vm");
}

/* Appends s[0..n) to the growing string *buf. */
static int
append (char **buf, size_t *len, size_t *cap, const char *s, size_t n)
{
  if (*len + n + 1 > *cap) {
    size_t c = *cap != 0 ? *cap : 64;
    char *p;
    while (c < *len + n + 1)
      c *= 2;
    p = realloc (*buf, c);
    if (p == NULL)
      return -1;
    *buf = p;
    *cap = c;
  }
  memcpy (*buf + *len, s, n);
  *len += n;
  (*buf)[*len] = '\0';
  return 0;
}

/* Expands tmpl; a NULL uuid or date becomes one WILD_UUID or WILD_DATE
 * byte (a NULL name is not allowed). */
static int
expand (const char *tmpl, const char *name, const char *uuid, const char *date,
        char **out)
{
  char safe[NAME_MAX_BYTES + 1];
  char wild_uuid[2] = { WILD_UUID, '\0' }, wild_date[2] = { WILD_DATE, '\0' };
  const char *p, *rep;
  char *buf = NULL;
  size_t len = 0, cap = 0, plen;
  int kind;

  *out = NULL;
  safe_name (name, safe, sizeof safe);
  if (append (&buf, &len, &cap, "", 0) == -1)
    return -1;
  for (p = tmpl; *p != '\0';) {
    if (*p != '{') {
      size_t n = strcspn (p, "{");
      if (append (&buf, &len, &cap, p, n) == -1)
        goto fail;
      p += n;
      continue;
    }
    kind = placeholder (p, &plen);
    if (kind == 0) {
      errno = EINVAL;
      goto fail;
    }
    rep = kind == 'n'   ? safe
          : kind == 'u' ? (uuid != NULL ? uuid : wild_uuid)
                        : (date != NULL ? date : wild_date);
    if (append (&buf, &len, &cap, rep, strlen (rep)) == -1)
      goto fail;
    p += plen;
  }
  *out = buf;
  return 0;
fail:
  free (buf);
  return -1;
}

int
Xva_cli_template_expand (const char *tmpl, const char *name, const char *uuid,
                         const struct xva_cli_date *d, char **out)
{
  return expand (tmpl, name != NULL ? name : "vm", uuid != NULL ? uuid : "",
                 d->key, out);
}

/* ------------------------------------------------------------------ */
/* Metadata values                                                      */

void
Xva_cli_meta_encode (const char *s, char *out, size_t outsize)
{
  static const char hex[] = "0123456789ABCDEF";
  const unsigned char *p = (const unsigned char *) s;
  size_t o = 0;

  if (outsize == 0)
    return;
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

static int
hexval (char c)
{
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

void
Xva_cli_meta_decode (const char *s, char *out, size_t outsize)
{
  size_t o = 0;
  int h, l;

  if (outsize == 0)
    return;
  while (*s != '\0' && o + 1 < outsize) {
    if (s[0] == '%' && (h = hexval (s[1])) >= 0 && (l = hexval (s[2])) >= 0
        && (h != 0 || l != 0)) {
      out[o++] = (char) (h * 16 + l);
      s += 3;
    }
    else
      out[o++] = *s++;
  }
  out[o] = '\0';
}

/* ------------------------------------------------------------------ */
/* Retention on object storage                                          */

static int
is_hex (char c)
{
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')
         || (c >= 'A' && c <= 'F');
}

/* 1 if s starts with a date as {date} writes it. */
static int
is_date (const char *s)
{
  static const char shape[] = "DDDDDDDDTDDDDDDZ";
  size_t i;

  for (i = 0; i < DATE_LEN; i++) {
    if (shape[i] == 'D' ? !(s[i] >= '0' && s[i] <= '9') : s[i] != shape[i])
      return 0;
  }
  return 1;
}

/* 1 if name matches pat (WILD_UUID and WILD_DATE match one uuid or
 * date); *date_at (may be NULL) gets where the first date is. */
static int
name_matches (const char *pat, const char *name, const char **date_at)
{
  size_t i;

  if (date_at != NULL)
    *date_at = NULL;
  while (*pat != '\0') {
    if (*pat == WILD_UUID) {
      for (i = 0; i < UUID_LEN; i++)
        if (!is_hex (name[i]) && name[i] != '-')
          return 0;
      name += UUID_LEN;
    }
    else if (*pat == WILD_DATE) {
      if (!is_date (name))
        return 0;
      if (date_at != NULL && *date_at == NULL)
        *date_at = name;
      name += DATE_LEN;
    }
    else if (*name++ != *pat)
      return 0;
    pat++;
  }
  return *name == '\0';
}

struct candidate {
  size_t index; /* in the listing */
  const char *date;
  const char *key;
};

static int
candidate_newer_first (const void *a, const void *b)
{
  const struct candidate *x = a, *y = b;
  int c = strcmp (y->date, x->date);

  return c != 0 ? c : strcmp (y->key, x->key);
}

/* 1 when entry i of l is a complete backup of the VM id. */
static int
same_vm (const struct xva_s3_listing *l, size_t i,
         const struct xva_cli_backup_id *id)
{
  const char *complete, *v;
  char name[1100];

  complete = xva_s3_listing_meta (l, i, XVA_BACKUP_META_COMPLETE);
  if (complete == NULL || strcmp (complete, "true") != 0)
    return 0;
  if (xva_s3_listing_meta (l, i, XVA_BACKUP_META_DATE) == NULL)
    return 0;
  if (id->by_uuid) {
    v = xva_s3_listing_meta (l, i, XVA_BACKUP_META_UUID);
    return v != NULL && id->uuid != NULL && strcmp (v, id->uuid) == 0;
  }
  v = xva_s3_listing_meta (l, i, XVA_BACKUP_META_NAME);
  if (v == NULL || id->name == NULL)
    return 0;
  Xva_cli_meta_decode (v, name, sizeof name);
  return strcmp (name, id->name) == 0;
}

int
Xva_cli_s3_keep (const char *cmd, struct xva_cli_s3 *s3, const char *tmpl,
                 const char *new_url, const struct xva_cli_backup_id *id,
                 unsigned keep, int quiet)
{
  struct xva_s3_listing *l = NULL;
  struct candidate *cand = NULL;
  char bucket_url[80], err[1200], *pattern = NULL, *list_url = NULL;
  char *del_url = NULL;
  const char *key_pat, *new_key, *key;
  size_t i, n = 0, plen, bl, kept;
  int status, rc = XVA_EXIT_FAIL, failures = 0, first_fail = XVA_OK;

  if (keep == 0
      || Xva_cli_s3_bucket_url (tmpl, bucket_url, sizeof bucket_url) == -1) {
    Xva_cli_error (cmd, "--keep: bad template '%s'", tmpl);
    return XVA_EXIT_USAGE;
  }
  bl = strlen (bucket_url);
  if (strncmp (new_url, bucket_url, bl) != 0 || new_url[bl] != '/') {
    Xva_cli_error (cmd, "--keep: %s is not in %s", new_url, bucket_url);
    return XVA_EXIT_FAIL;
  }
  new_key = new_url + bl + 1;
  if (expand (tmpl, id->name, id->by_uuid ? id->uuid : NULL, NULL, &pattern)
      == -1) {
    Xva_cli_error (cmd, "out of memory");
    return XVA_EXIT_FAIL;
  }
  key_pat = pattern + bl + (pattern[bl] == '/' ? 1 : 0);
  /* List what starts with the pattern's literal beginning. */
  plen = strcspn (key_pat, (char[]) { WILD_UUID, WILD_DATE, '\0' });
  list_url = malloc (bl + plen + 2);
  if (list_url == NULL) {
    Xva_cli_error (cmd, "out of memory");
    goto out;
  }
  memcpy (list_url, bucket_url, bl);
  list_url[bl] = '/';
  memcpy (list_url + bl + 1, key_pat, plen);
  list_url[bl + 1 + plen] = '\0';

  err[0] = '\0';
  status = xva_s3_list (&s3->opts, list_url, XVA_S3_LIST_META, &l, err,
                        sizeof err);
  if (status != XVA_OK) {
    Xva_cli_error (cmd,
                   "--keep: the new backup %s is complete, but the "
                   "old ones cannot be listed:",
                   new_url);
    rc = Xva_cli_s3_fail (cmd, status, err);
    goto out;
  }
  cand = calloc (xva_s3_listing_count (l) + 1, sizeof *cand);
  if (cand == NULL) {
    Xva_cli_error (cmd, "out of memory");
    goto out;
  }
  for (i = 0; i < xva_s3_listing_count (l); i++) {
    key = xva_s3_listing_key (l, i);
    if (key == NULL || strcmp (key, new_key) == 0
        || !name_matches (key_pat, key, NULL) || !same_vm (l, i, id))
      continue;
    cand[n].index = i;
    cand[n].key = key;
    cand[n].date = xva_s3_listing_meta (l, i, XVA_BACKUP_META_DATE);
    n++;
  }
  if (n > 1)
    qsort (cand, n, sizeof *cand, candidate_newer_first);
  kept = 1; /* the new backup */
  for (i = 0; i < n; i++) {
    if (kept < keep) {
      kept++;
      continue;
    }
    free (del_url);
    del_url = malloc (bl + strlen (cand[i].key) + 2);
    if (del_url == NULL) {
      Xva_cli_error (cmd, "out of memory");
      goto out;
    }
    memcpy (del_url, bucket_url, bl);
    del_url[bl] = '/';
    memcpy (del_url + bl + 1, cand[i].key, strlen (cand[i].key) + 1);
    err[0] = '\0';
    status = xva_s3_delete (&s3->opts, del_url, err, sizeof err);
    if (status != XVA_OK) {
      Xva_cli_error (cmd, "--keep: cannot delete %s: %s", del_url, err);
      if (failures++ == 0)
        first_fail = status;
      continue;
    }
    if (!quiet)
      fprintf (stderr, "xva %s: removed old backup %s (%s)\n", cmd, del_url,
               cand[i].date);
  }
  rc = failures == 0 ? XVA_EXIT_OK : Xva_cli_exit_code (first_fail);
  if (rc == XVA_EXIT_OK && failures > 0)
    rc = XVA_EXIT_FAIL;
out:
  free (del_url);
  free (cand);
  free (list_url);
  free (pattern);
  xva_s3_listing_free (l);
  return rc;
}

/* ------------------------------------------------------------------ */
/* Retention of local files                                             */

struct local_cand {
  char *name;
  char date[DATE_LEN + 1];
};

static int
local_newer_first (const void *a, const void *b)
{
  const struct local_cand *x = a, *y = b;
  int c = strcmp (y->date, x->date);

  return c != 0 ? c : strcmp (y->name, x->name);
}

int
Xva_cli_local_keep (const char *cmd, const char *tmpl, const char *new_path,
                    const char *name, unsigned keep, int quiet)
{
  struct local_cand *cand = NULL;
  struct dirent *de;
  struct stat st;
  DIR *d = NULL;
  char *pattern = NULL, *dir = NULL, *path = NULL;
  const char *base_pat, *new_base, *date_at, *slash;
  size_t n = 0, cap = 0, i, dlen;
  int rc = XVA_EXIT_FAIL, failures = 0;

  if (expand (tmpl, name, NULL, NULL, &pattern) == -1) {
    Xva_cli_error (cmd, "out of memory");
    return XVA_EXIT_FAIL;
  }
  slash = strrchr (pattern, '/');
  dlen = slash != NULL ? (size_t) (slash - pattern) + 1 : 0;
  base_pat = pattern + dlen;
  if (memchr (pattern, WILD_DATE, dlen) != NULL
      || memchr (pattern, WILD_UUID, dlen) != NULL
      || strchr (base_pat, WILD_DATE) == NULL) {
    Xva_cli_error (cmd,
                   "--keep needs {date} in the file name (not in the "
                   "directory) of -o");
    rc = XVA_EXIT_USAGE;
    goto out;
  }
  dir = dlen > 0 ? strndup (pattern, dlen) : strdup ("./");
  if (dir == NULL) {
    Xva_cli_error (cmd, "out of memory");
    goto out;
  }
  slash = strrchr (new_path, '/');
  new_base = slash != NULL ? slash + 1 : new_path;
  d = opendir (dir);
  if (d == NULL) {
    Xva_cli_error (cmd, "--keep: cannot list %s: %s", dir, strerror (errno));
    rc = XVA_EXIT_IO;
    goto out;
  }
  while ((de = readdir (d)) != NULL) {
    if (strcmp (de->d_name, new_base) == 0
        || !name_matches (base_pat, de->d_name, &date_at) || date_at == NULL)
      continue;
    if (n == cap) {
      struct local_cand *v;
      cap = cap != 0 ? cap * 2 : 16;
      v = realloc (cand, cap * sizeof *cand);
      if (v == NULL) {
        Xva_cli_error (cmd, "out of memory");
        goto out;
      }
      cand = v;
    }
    cand[n].name = strdup (de->d_name);
    if (cand[n].name == NULL) {
      Xva_cli_error (cmd, "out of memory");
      goto out;
    }
    memcpy (cand[n].date, date_at, DATE_LEN);
    cand[n].date[DATE_LEN] = '\0';
    n++;
  }
  if (n > 1)
    qsort (cand, n, sizeof *cand, local_newer_first);
  /* The new archive is one of the keep. */
  for (i = keep - 1; i < n; i++) {
    free (path);
    path = Xva_cli_path_join (dir, cand[i].name);
    if (path == NULL) {
      Xva_cli_error (cmd, "out of memory");
      goto out;
    }
    /* Only regular files: never a directory or a link someone made. */
    if (lstat (path, &st) != 0 || !S_ISREG (st.st_mode))
      continue;
    if (unlink (path) != 0) {
      Xva_cli_error (cmd, "--keep: cannot remove %s: %s", path,
                     strerror (errno));
      failures++;
      continue;
    }
    if (!quiet)
      fprintf (stderr, "xva %s: removed old backup %s\n", cmd, path);
  }
  rc = failures > 0 ? XVA_EXIT_IO : XVA_EXIT_OK;
out:
  if (d != NULL)
    closedir (d);
  for (i = 0; i < n; i++)
    free (cand[i].name);
  free (cand);
  free (path);
  free (dir);
  free (pattern);
  return rc;
}
