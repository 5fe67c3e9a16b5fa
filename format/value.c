/* XML-RPC values: a tree owned by its root.
 *
 * Strings live in the same allocation as their value.  Struct members
 * keep insertion order; structs of more than a few members also carry
 * a hash index so that lookups (and parsing with "last key wins") stay
 * linear in the size of the input. */
#include "format/value.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Arrays and structs hold at most this many entries. */
#define MAX_ENTRIES (UINT32_MAX / 4)
/* A struct gets its hash index once its member array holds this many. */
#define INDEX_MIN_CAP 16

struct member {
  char *key;
  struct xva_value *val;
};

struct xva_value {
  unsigned char type;
  union {
    int64_t i;
    double d;
    int b;
    size_t len; /* STRING, DATE: the text follows */
    struct {
      struct xva_value **items;
      uint32_t n;
      uint32_t cap;
    } a;
    struct {
      struct member *m;
      uint32_t *index; /* 2 * cap slots: member + 1, 0 empty */
      uint32_t n;
      uint32_t cap;
    } s;
  } u;
};

/* ------------------------------------------------------------------ */
/* Internal helpers shared by the codec files.                          */

void
Xva_vbuf_add (struct Xva_vbuf *b, const char *s, size_t n)
{
  if (b->oom || n == 0)
    return;
  if (n > b->cap - b->len || b->cap == 0) {
    size_t cap = b->cap ? b->cap : 256;
    char *p;

    while (cap - b->len <= n) {
      if (cap > SIZE_MAX / 2) {
        b->oom = 1;
        return;
      }
      cap *= 2;
    }
    p = realloc (b->p, cap);
    if (p == NULL) {
      b->oom = 1;
      return;
    }
    b->p = p;
    b->cap = cap;
  }
  memcpy (b->p + b->len, s, n);
  b->len += n;
}

void
Xva_vbuf_adds (struct Xva_vbuf *b, const char *s)
{
  Xva_vbuf_add (b, s, strlen (s));
}

void
Xva_vbuf_addc (struct Xva_vbuf *b, char c)
{
  Xva_vbuf_add (b, &c, 1);
}

void
Xva_vbuf_addi (struct Xva_vbuf *b, int64_t i)
{
  char num[24];

  snprintf (num, sizeof num, "%lld", (long long) i);
  Xva_vbuf_adds (b, num);
}

int
Xva_vbuf_finish (struct Xva_vbuf *b, char **out, size_t *len)
{
  char *p;

  if (!b->oom && (b->p == NULL || b->len == b->cap)) {
    p = realloc (b->p, b->len + 1);
    if (p == NULL)
      b->oom = 1;
    else {
      b->p = p;
      b->cap = b->len + 1;
    }
  }
  if (b->oom) {
    Xva_vbuf_free (b);
    return XVA_ENOMEM;
  }
  b->p[b->len] = '\0';
  *out = b->p;
  if (len)
    *len = b->len;
  b->p = NULL;
  b->len = b->cap = 0;
  return XVA_OK;
}

void
Xva_vbuf_free (struct Xva_vbuf *b)
{
  free (b->p);
  b->p = NULL;
  b->len = b->cap = 0;
}

int
Xva_value_write (const struct xva_value *v, Xva_value_add_fn add,
                 const char *head, const char *tail, char **out, size_t *len)
{
  struct Xva_vbuf b = { NULL, 0, 0, 0 };

  if (out == NULL)
    return XVA_EINVAL;
  *out = NULL;
  if (len)
    *len = 0;
  if (v == NULL)
    return XVA_EINVAL;
  if (head)
    Xva_vbuf_adds (&b, head);
  add (&b, v);
  if (tail)
    Xva_vbuf_adds (&b, tail);
  return Xva_vbuf_finish (&b, out, len);
}

void
Xva_value_err (char *err, size_t errlen, const char *fmt, ...)
{
  va_list ap;

  if (err == NULL || errlen == 0)
    return;
  va_start (ap, fmt);
  vsnprintf (err, errlen, fmt, ap);
  va_end (ap);
}

void
xva_limits_init (struct xva_limits *lim)
{
  if (lim == NULL)
    return;
  lim->max_bytes = (size_t) 64 << 20;
  lim->max_depth = 64;
  lim->max_nodes = (size_t) 4 << 20;
  lim->max_string = (size_t) 16 << 20;
}

void
Xva_limits_fill (struct xva_limits *dst, const struct xva_limits *lim)
{
  struct xva_limits def;

  xva_limits_init (&def);
  if (lim == NULL) {
    *dst = def;
    return;
  }
  dst->max_bytes = lim->max_bytes ? lim->max_bytes : def.max_bytes;
  dst->max_depth = lim->max_depth ? lim->max_depth : def.max_depth;
  dst->max_nodes = lim->max_nodes ? lim->max_nodes : def.max_nodes;
  dst->max_string = lim->max_string ? lim->max_string : def.max_string;
}

/* ------------------------------------------------------------------ */
/* Constructors                                                         */

static struct xva_value *
new_value (enum xva_type type)
{
  struct xva_value *v = calloc (1, sizeof *v);

  if (v)
    v->type = (unsigned char) type;
  return v;
}

static char *
text_of (const struct xva_value *v)
{
  return (char *) (uintptr_t) (v + 1);
}

static struct xva_value *
new_text (enum xva_type type, const char *s, size_t n)
{
  struct xva_value *v;

  if (n > SIZE_MAX - sizeof *v - 1)
    return NULL;
  v = malloc (sizeof *v + n + 1);
  if (v == NULL)
    return NULL;
  memset (v, 0, sizeof *v);
  v->type = (unsigned char) type;
  v->u.len = n;
  if (n)
    memcpy (text_of (v), s, n);
  text_of (v)[n] = '\0';
  return v;
}

/* A STRING or DATE value of the C string s (NULL: empty). */
static struct xva_value *
new_cstr (enum xva_type type, const char *s)
{
  if (s == NULL)
    s = "";
  return new_text (type, s, strlen (s));
}

struct xva_value *
xva_value_new_string (const char *s)
{
  return new_cstr (XVA_TYPE_STRING, s);
}

struct xva_value *
xva_value_new_stringn (const char *s, size_t n)
{
  if (s == NULL && n > 0)
    return NULL;
  return new_text (XVA_TYPE_STRING, s, n);
}

struct xva_value *
xva_value_new_int (int64_t i)
{
  struct xva_value *v = new_value (XVA_TYPE_INT);

  if (v)
    v->u.i = i;
  return v;
}

struct xva_value *
xva_value_new_bool (int b)
{
  struct xva_value *v = new_value (XVA_TYPE_BOOL);

  if (v)
    v->u.b = b != 0;
  return v;
}

struct xva_value *
xva_value_new_double (double d)
{
  struct xva_value *v = new_value (XVA_TYPE_DOUBLE);

  if (v)
    v->u.d = d;
  return v;
}

struct xva_value *
xva_value_new_date (const char *iso8601)
{
  return new_cstr (XVA_TYPE_DATE, iso8601);
}

struct xva_value *
xva_value_new_array (void)
{
  return new_value (XVA_TYPE_ARRAY);
}

struct xva_value *
xva_value_new_struct (void)
{
  return new_value (XVA_TYPE_STRUCT);
}

struct xva_value *
xva_value_new_nil (void)
{
  return new_value (XVA_TYPE_NIL);
}

void
xva_value_free (struct xva_value *v)
{
  uint32_t i;

  if (v == NULL)
    return;
  switch (v->type) {
  case XVA_TYPE_ARRAY:
    for (i = 0; i < v->u.a.n; i++)
      xva_value_free (v->u.a.items[i]);
    free (v->u.a.items);
    break;
  case XVA_TYPE_STRUCT:
    for (i = 0; i < v->u.s.n; i++) {
      free (v->u.s.m[i].key);
      xva_value_free (v->u.s.m[i].val);
    }
    free (v->u.s.m);
    free (v->u.s.index);
    break;
  default:
    break;
  }
  free (v);
}

/* ------------------------------------------------------------------ */
/* Struct index                                                         */

static uint32_t
hash_key (const char *key)
{
  uint32_t h = 2166136261u;

  for (; *key; key++) {
    h ^= (unsigned char) *key;
    h *= 16777619u;
  }
  return h;
}

/* Slot of key in the index: its member's slot, or the empty slot where
 * it would go. */
static uint32_t
index_slot (const struct xva_value *st, const char *key)
{
  uint32_t mask = 2 * st->u.s.cap - 1;
  uint32_t j = hash_key (key) & mask;

  for (;;) {
    uint32_t e = st->u.s.index[j];
    if (e == 0 || strcmp (st->u.s.m[e - 1].key, key) == 0)
      return j;
    j = (j + 1) & mask;
  }
}

/* (Re)builds the index for the current capacity; -1 when out of
 * memory (the struct is then left without an index, which is still
 * correct, only slower). */
static int
index_rebuild (struct xva_value *st)
{
  uint32_t i;

  free (st->u.s.index);
  st->u.s.index = NULL;
  if (st->u.s.cap < INDEX_MIN_CAP)
    return 0;
  st->u.s.index = calloc ((size_t) st->u.s.cap * 2, sizeof (uint32_t));
  if (st->u.s.index == NULL)
    return -1;
  for (i = 0; i < st->u.s.n; i++)
    st->u.s.index[index_slot (st, st->u.s.m[i].key)] = i + 1;
  return 0;
}

/* Index of member key, or -1. */
static int64_t
find_member (const struct xva_value *st, const char *key)
{
  uint32_t i;

  if (st->u.s.index) {
    uint32_t e = st->u.s.index[index_slot (st, key)];
    return e ? (int64_t) e - 1 : -1;
  }
  for (i = 0; i < st->u.s.n; i++)
    if (strcmp (st->u.s.m[i].key, key) == 0)
      return i;
  return -1;
}

/* ------------------------------------------------------------------ */
/* Getters                                                              */

enum xva_type
xva_value_type (const struct xva_value *v)
{
  return v ? (enum xva_type) v->type : (enum xva_type) 0;
}

const char *
xva_value_string (const struct xva_value *v)
{
  if (v && (v->type == XVA_TYPE_STRING || v->type == XVA_TYPE_DATE))
    return text_of (v);
  return NULL;
}

size_t
Xva_value_strlen (const struct xva_value *v)
{
  if (v && (v->type == XVA_TYPE_STRING || v->type == XVA_TYPE_DATE))
    return v->u.len;
  return 0;
}

int
xva_value_get_int (const struct xva_value *v, int64_t *out)
{
  const char *s;
  char *end;
  long long x;
  size_t k;

  if (v == NULL)
    return -1;
  if (v->type == XVA_TYPE_INT) {
    if (out)
      *out = v->u.i;
    return 0;
  }
  if (v->type != XVA_TYPE_STRING)
    return -1;
  s = text_of (v);
  k = (s[0] == '-' || s[0] == '+') ? 1 : 0;
  if (s[k] < '0' || s[k] > '9' || strlen (s) != v->u.len)
    return -1;
  errno = 0;
  x = strtoll (s, &end, 10);
  if (errno != 0 || *end != '\0')
    return -1;
  if (out)
    *out = (int64_t) x;
  return 0;
}

int
xva_value_get_bool (const struct xva_value *v, int *out)
{
  int b;

  if (v == NULL)
    return -1;
  if (v->type == XVA_TYPE_BOOL)
    b = v->u.b;
  else if (v->type != XVA_TYPE_STRING)
    return -1;
  else if (strcasecmp (text_of (v), "true") == 0
           || strcmp (text_of (v), "1") == 0)
    b = 1;
  else if (strcasecmp (text_of (v), "false") == 0
           || strcmp (text_of (v), "0") == 0)
    b = 0;
  else
    return -1;
  if (out)
    *out = b;
  return 0;
}

int
xva_value_get_double (const struct xva_value *v, double *out)
{
  const char *s;
  char *end;
  double d;

  if (v == NULL)
    return -1;
  if (v->type == XVA_TYPE_DOUBLE)
    d = v->u.d;
  else if (v->type == XVA_TYPE_INT)
    d = (double) v->u.i;
  else if (v->type != XVA_TYPE_STRING)
    return -1;
  else {
    s = text_of (v);
    if (s[0] == '\0' || s[0] == ' ' || (s[0] >= '\t' && s[0] <= '\r')
        || strlen (s) != v->u.len)
      return -1;
    errno = 0;
    d = strtod (s, &end);
    if (*end != '\0' || errno == ERANGE)
      return -1;
  }
  if (out)
    *out = d;
  return 0;
}

size_t
xva_value_len (const struct xva_value *v)
{
  if (v == NULL)
    return 0;
  if (v->type == XVA_TYPE_ARRAY)
    return v->u.a.n;
  if (v->type == XVA_TYPE_STRUCT)
    return v->u.s.n;
  return 0;
}

struct xva_value *
xva_value_at (const struct xva_value *v, size_t i)
{
  if (v == NULL)
    return NULL;
  if (v->type == XVA_TYPE_ARRAY && i < v->u.a.n)
    return v->u.a.items[i];
  if (v->type == XVA_TYPE_STRUCT && i < v->u.s.n)
    return v->u.s.m[i].val;
  return NULL;
}

const char *
xva_value_key_at (const struct xva_value *v, size_t i)
{
  if (v && v->type == XVA_TYPE_STRUCT && i < v->u.s.n)
    return v->u.s.m[i].key;
  return NULL;
}

struct xva_value *
xva_value_get (const struct xva_value *v, const char *key)
{
  int64_t i;

  if (v == NULL || key == NULL || v->type != XVA_TYPE_STRUCT)
    return NULL;
  i = find_member (v, key);
  return i < 0 ? NULL : v->u.s.m[i].val;
}

const char *
xva_value_get_string (const struct xva_value *v, const char *key)
{
  return xva_value_string (xva_value_get (v, key));
}

int
Xva_value_bool_or (const struct xva_value *rec, const char *key, int dflt)
{
  int b;

  if (xva_value_get_bool (xva_value_get (rec, key), &b) < 0)
    return dflt;
  return b;
}

int64_t
Xva_value_int_or (const struct xva_value *rec, const char *key, int64_t dflt)
{
  int64_t i;

  if (xva_value_get_int (xva_value_get (rec, key), &i) < 0)
    return dflt;
  return i;
}

/* ------------------------------------------------------------------ */
/* Changes                                                              */

/* The entries p (of *cap entries of size bytes) grown to twice as many
 * (at least 4), with *cap updated; NULL (p and *cap as they were) when
 * out of memory or at MAX_ENTRIES. */
static void *
grow_entries (void *p, uint32_t *cap, size_t size)
{
  uint32_t ncap = *cap ? *cap * 2 : 4;

  if (*cap >= MAX_ENTRIES)
    return NULL;
  p = realloc (p, (size_t) ncap * size);
  if (p != NULL)
    *cap = ncap;
  return p;
}

int
xva_value_append (struct xva_value *array, struct xva_value *item)
{
  struct xva_value **p;

  if (item == NULL)
    return -1;
  if (array == NULL || array->type != XVA_TYPE_ARRAY || array == item)
    goto fail;
  if (array->u.a.n == array->u.a.cap) {
    p = grow_entries (array->u.a.items, &array->u.a.cap, sizeof *p);
    if (p == NULL)
      goto fail;
    array->u.a.items = p;
  }
  array->u.a.items[array->u.a.n++] = item;
  return 0;
fail:
  xva_value_free (item);
  return -1;
}

/* xva_value_set; with `owned` set, key is malloc'd and taken over. */
static int
set_member (struct xva_value *st, const char *key, char *owned,
            struct xva_value *item)
{
  int64_t i;
  char *k = owned;
  struct member *m;
  size_t klen;
  int grown = 0;

  if (item == NULL || st == NULL || key == NULL || st->type != XVA_TYPE_STRUCT
      || st == item)
    goto fail;
  i = find_member (st, key);
  if (i >= 0) {
    xva_value_free (st->u.s.m[i].val);
    st->u.s.m[i].val = item;
    free (owned);
    return 0;
  }
  if (k == NULL) {
    klen = strlen (key);
    k = malloc (klen + 1);
    if (k == NULL)
      goto fail;
    memcpy (k, key, klen + 1);
  }
  if (st->u.s.n == st->u.s.cap) {
    m = grow_entries (st->u.s.m, &st->u.s.cap, sizeof *m);
    if (m == NULL)
      goto fail;
    st->u.s.m = m;
    grown = 1;
  }
  st->u.s.m[st->u.s.n].key = k;
  st->u.s.m[st->u.s.n].val = item;
  st->u.s.n++;
  if (grown)
    index_rebuild (st); /* without an index lookups stay right */
  else if (st->u.s.index)
    st->u.s.index[index_slot (st, k)] = st->u.s.n;
  return 0;
fail:
  free (k);
  xva_value_free (item);
  return -1;
}

int
xva_value_set (struct xva_value *st, const char *key, struct xva_value *item)
{
  return set_member (st, key, NULL, item);
}

int
Xva_value_set_owned (struct xva_value *st, char *key, struct xva_value *item)
{
  if (key == NULL) {
    xva_value_free (item);
    return -1;
  }
  return set_member (st, key, key, item);
}

int
xva_value_set_string (struct xva_value *st, const char *key, const char *s)
{
  return xva_value_set (st, key, xva_value_new_string (s));
}

int
xva_value_set_int (struct xva_value *st, const char *key, int64_t i)
{
  return xva_value_set (st, key, xva_value_new_int (i));
}

int
xva_value_set_bool (struct xva_value *st, const char *key, int b)
{
  return xva_value_set (st, key, xva_value_new_bool (b));
}

int
Xva_value_replace (struct xva_value *rec, const char *key,
                   struct xva_value *item)
{
  if (xva_value_get (rec, key) == NULL) {
    xva_value_free (item);
    return 0;
  }
  if (item == NULL)
    return -1;
  return xva_value_set (rec, key, item);
}

int
Xva_value_replace_null (struct xva_value *rec, const char *key)
{
  return Xva_value_replace (rec, key,
                            xva_value_new_string (XVA_VALUE_NULL_REF));
}

int
Xva_value_replace_empty (struct xva_value *rec, const char *key,
                         enum xva_type type)
{
  return Xva_value_replace (rec, key,
                            type == XVA_TYPE_STRUCT ? xva_value_new_struct ()
                                                    : xva_value_new_array ());
}

int
Xva_value_map_ref (struct xva_value *rec, const char *key, const char *cls,
                   Xva_value_ref_fn map, const void *opaque)
{
  const struct xva_value *v = xva_value_get (rec, key);

  if (v == NULL)
    return 0;
  return xva_value_set_string (rec, key,
                               map (opaque, xva_value_string (v), cls));
}

int
Xva_value_map_set (struct xva_value *rec, const char *key, const char *cls,
                   Xva_value_ref_fn map, const void *opaque)
{
  const struct xva_value *v = xva_value_get (rec, key);
  struct xva_value *a;
  const char *to;
  size_t i, n;

  if (v == NULL)
    return 0;
  a = xva_value_new_array ();
  if (a == NULL)
    return -1;
  n = xva_value_len (v);
  for (i = 0; i < n; i++) {
    to = map (opaque, xva_value_string (xva_value_at (v, i)), cls);
    if (strcmp (to, XVA_VALUE_NULL_REF) != 0
        && xva_value_append (a, xva_value_new_string (to)) < 0) {
      xva_value_free (a);
      return -1;
    }
  }
  return xva_value_set (rec, key, a);
}

int
xva_value_remove (struct xva_value *st, const char *key)
{
  int64_t i;

  if (st == NULL || key == NULL || st->type != XVA_TYPE_STRUCT)
    return -1;
  i = find_member (st, key);
  if (i < 0)
    return -1;
  free (st->u.s.m[i].key);
  xva_value_free (st->u.s.m[i].val);
  memmove (&st->u.s.m[i], &st->u.s.m[i + 1],
           (st->u.s.n - (size_t) i - 1) * sizeof st->u.s.m[0]);
  st->u.s.n--;
  if (st->u.s.index)
    index_rebuild (st);
  return 0;
}

struct xva_value *
xva_value_copy (const struct xva_value *v)
{
  struct xva_value *c = NULL;
  uint32_t i;

  if (v == NULL)
    return NULL;
  switch (v->type) {
  case XVA_TYPE_STRING:
  case XVA_TYPE_DATE:
    return new_text ((enum xva_type) v->type, text_of (v), v->u.len);
  case XVA_TYPE_ARRAY:
    c = new_value (XVA_TYPE_ARRAY);
    if (c == NULL || v->u.a.n == 0)
      return c;
    c->u.a.items = calloc (v->u.a.n, sizeof *c->u.a.items);
    if (c->u.a.items == NULL)
      goto fail;
    c->u.a.cap = v->u.a.n;
    for (i = 0; i < v->u.a.n; i++) {
      c->u.a.items[i] = xva_value_copy (v->u.a.items[i]);
      if (c->u.a.items[i] == NULL)
        goto fail;
      c->u.a.n++;
    }
    return c;
  case XVA_TYPE_STRUCT:
    c = new_value (XVA_TYPE_STRUCT);
    if (c == NULL || v->u.s.n == 0)
      return c;
    c->u.s.m = calloc (v->u.s.cap, sizeof *c->u.s.m);
    if (c->u.s.m == NULL)
      goto fail;
    c->u.s.cap = v->u.s.cap;
    for (i = 0; i < v->u.s.n; i++) {
      size_t klen = strlen (v->u.s.m[i].key);
      char *k = malloc (klen + 1);
      struct xva_value *val;

      if (k == NULL)
        goto fail;
      memcpy (k, v->u.s.m[i].key, klen + 1);
      val = xva_value_copy (v->u.s.m[i].val);
      if (val == NULL) {
        free (k);
        goto fail;
      }
      c->u.s.m[i].key = k;
      c->u.s.m[i].val = val;
      c->u.s.n++;
    }
    if (index_rebuild (c) == -1)
      goto fail;
    return c;
  default:
    c = new_value ((enum xva_type) v->type);
    if (c)
      c->u = v->u;
    return c;
  }
fail:
  xva_value_free (c);
  return NULL;
}

int
Xva_value_equal (const struct xva_value *a, const struct xva_value *b)
{
  uint32_t i;

  if (a == NULL || b == NULL)
    return a == b;
  if (a->type != b->type)
    return 0;
  switch (a->type) {
  case XVA_TYPE_STRING:
  case XVA_TYPE_DATE:
    return a->u.len == b->u.len
           && memcmp (text_of (a), text_of (b), a->u.len) == 0;
  case XVA_TYPE_INT:
    return a->u.i == b->u.i;
  case XVA_TYPE_BOOL:
    return a->u.b == b->u.b;
  case XVA_TYPE_DOUBLE:
    return memcmp (&a->u.d, &b->u.d, sizeof a->u.d) == 0;
  case XVA_TYPE_NIL:
    return 1;
  case XVA_TYPE_ARRAY:
    if (a->u.a.n != b->u.a.n)
      return 0;
    for (i = 0; i < a->u.a.n; i++)
      if (!Xva_value_equal (a->u.a.items[i], b->u.a.items[i]))
        return 0;
    return 1;
  case XVA_TYPE_STRUCT:
    if (a->u.s.n != b->u.s.n)
      return 0;
    for (i = 0; i < a->u.s.n; i++)
      if (strcmp (a->u.s.m[i].key, b->u.s.m[i].key) != 0
          || !Xva_value_equal (a->u.s.m[i].val, b->u.s.m[i].val))
        return 0;
    return 1;
  default:
    return 0;
  }
}
