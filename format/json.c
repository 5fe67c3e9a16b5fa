/* XML-RPC values in JSON (the JSON-RPC wire form).
 *
 * Reading uses jansson and then walks its tree once, bounding depth,
 * values and string lengths.  Writing streams the value tree straight
 * into a buffer (no second tree for large metadata). */
#include "format/value.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

/* ------------------------------------------------------------------ */
/* Writing                                                              */

/* Length of the valid UTF-8 sequence at s[0..n), or 0 if invalid. */
static size_t
utf8_len (const unsigned char *s, size_t n)
{
  size_t len, i;
  uint32_t c;

  if (s[0] < 0x80)
    return 1;
  if (s[0] >= 0xc2 && s[0] <= 0xdf) {
    len = 2;
    c = s[0] & 0x1fu;
  }
  else if (s[0] >= 0xe0 && s[0] <= 0xef) {
    len = 3;
    c = s[0] & 0x0fu;
  }
  else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
    len = 4;
    c = s[0] & 0x07u;
  }
  else
    return 0;
  if (len > n)
    return 0;
  for (i = 1; i < len; i++) {
    if ((s[i] & 0xc0) != 0x80)
      return 0;
    c = (c << 6) | (s[i] & 0x3fu);
  }
  if ((len == 3 && c < 0x800) || (len == 4 && (c < 0x10000 || c > 0x10ffff))
      || (c >= 0xd800 && c <= 0xdfff))
    return 0;
  return len;
}

/* Appends s[0..n) as a JSON string; bytes that are not UTF-8 become
 * U+FFFD. */
static void
add_json_string (struct Xva_vbuf *b, const char *s, size_t n)
{
  const unsigned char *u = (const unsigned char *) s;
  size_t i = 0, start = 0, k;
  char esc[8];

  Xva_vbuf_addc (b, '"');
  while (i < n) {
    const char *rep = NULL;

    if (u[i] >= 0x20 && u[i] != '"' && u[i] != '\\' && u[i] < 0x80) {
      i++;
      continue;
    }
    if (u[i] >= 0x80) {
      k = utf8_len (u + i, n - i);
      if (k > 0) {
        i += k;
        continue;
      }
      rep = "\xef\xbf\xbd";
    }
    else if (u[i] == '"')
      rep = "\\\"";
    else if (u[i] == '\\')
      rep = "\\\\";
    else if (u[i] == '\n')
      rep = "\\n";
    else if (u[i] == '\r')
      rep = "\\r";
    else if (u[i] == '\t')
      rep = "\\t";
    else {
      snprintf (esc, sizeof esc, "\\u%04x", (unsigned) u[i]);
      rep = esc;
    }
    Xva_vbuf_add (b, s + start, i - start);
    Xva_vbuf_adds (b, rep);
    i++;
    start = i;
  }
  Xva_vbuf_add (b, s + start, n - start);
  Xva_vbuf_addc (b, '"');
}

/* The shortest of %.15g, %.16g, %.17g that reads back as d, always
 * with a fraction or exponent so that it reads back as a double. */
static void
add_json_double (struct Xva_vbuf *b, double d)
{
  char num[40];
  int prec;

  if (!isfinite (d)) {
    Xva_vbuf_adds (b, "null");
    return;
  }
  for (prec = 15; prec <= 17; prec++) {
    snprintf (num, sizeof num, "%.*g", prec, d);
    if (strtod (num, NULL) == d)
      break;
  }
  Xva_vbuf_adds (b, num);
  if (strpbrk (num, ".eE") == NULL)
    Xva_vbuf_adds (b, ".0");
}

static void
add_json (struct Xva_vbuf *b, const struct xva_value *v)
{
  size_t i, n;
  int64_t iv;
  double d;
  int bv;

  switch (xva_value_type (v)) {
  case XVA_TYPE_STRING:
  case XVA_TYPE_DATE:
    add_json_string (b, xva_value_string (v), Xva_value_strlen (v));
    break;
  case XVA_TYPE_INT:
    xva_value_get_int (v, &iv);
    Xva_vbuf_addi (b, iv);
    break;
  case XVA_TYPE_BOOL:
    xva_value_get_bool (v, &bv);
    Xva_vbuf_adds (b, bv ? "true" : "false");
    break;
  case XVA_TYPE_DOUBLE:
    xva_value_get_double (v, &d);
    add_json_double (b, d);
    break;
  case XVA_TYPE_ARRAY:
    Xva_vbuf_addc (b, '[');
    n = xva_value_len (v);
    for (i = 0; i < n; i++) {
      if (i)
        Xva_vbuf_addc (b, ',');
      add_json (b, xva_value_at (v, i));
    }
    Xva_vbuf_addc (b, ']');
    break;
  case XVA_TYPE_STRUCT:
    Xva_vbuf_addc (b, '{');
    n = xva_value_len (v);
    for (i = 0; i < n; i++) {
      const char *key = xva_value_key_at (v, i);
      if (i)
        Xva_vbuf_addc (b, ',');
      add_json_string (b, key, strlen (key));
      Xva_vbuf_addc (b, ':');
      add_json (b, xva_value_at (v, i));
    }
    Xva_vbuf_addc (b, '}');
    break;
  case XVA_TYPE_NIL:
  default:
    Xva_vbuf_adds (b, "null");
    break;
  }
}

int
xva_value_to_json (const struct xva_value *v, char **out, size_t *len)
{
  return Xva_value_write (v, add_json, NULL, NULL, out, len);
}

/* ------------------------------------------------------------------ */
/* Reading                                                              */

struct walk {
  struct xva_limits lim;
  size_t nodes;
  int status;
  char msg[256];
};

static struct xva_value *walk_fail (struct walk *w, int status,
                                    const char *fmt, ...)
  XVA_VALUE_PRINTF (3, 4);

static struct xva_value *
walk_fail (struct walk *w, int status, const char *fmt, ...)
{
  va_list ap;

  if (w->status == XVA_OK) {
    w->status = status;
    va_start (ap, fmt);
    vsnprintf (w->msg, sizeof w->msg, fmt, ap);
    va_end (ap);
  }
  return NULL;
}

static struct xva_value *
convert (struct walk *w, json_t *j, size_t depth)
{
  struct xva_value *v = NULL;
  size_t n;

  if (w->nodes >= w->lim.max_nodes)
    return walk_fail (w, XVA_ELIMIT, "JSON: more than %zu values",
                      w->lim.max_nodes);
  w->nodes++;
  if ((json_is_object (j) || json_is_array (j))
      && depth + 1 > w->lim.max_depth)
    return walk_fail (w, XVA_ELIMIT,
                      "JSON: objects and arrays nested "
                      "deeper than %zu",
                      w->lim.max_depth);
  switch (json_typeof (j)) {
  case JSON_OBJECT: {
    const char *key;
    json_t *item;

    v = xva_value_new_struct ();
    if (v == NULL)
      goto nomem;
    json_object_foreach (j, key, item)
    {
      struct xva_value *c;
      size_t klen = json_object_iter_key_len (json_object_key_to_iter (key));

      if (klen != strlen (key)) {
        xva_value_free (v);
        return walk_fail (w, XVA_EFORMAT, "JSON: NUL in an object key");
      }
      if (klen > w->lim.max_string) {
        xva_value_free (v);
        return walk_fail (w, XVA_ELIMIT,
                          "JSON: a key longer than %zu "
                          "bytes",
                          w->lim.max_string);
      }
      c = convert (w, item, depth + 1);
      if (c == NULL) {
        xva_value_free (v);
        return NULL;
      }
      if (xva_value_set (v, key, c) < 0) {
        xva_value_free (v);
        goto nomem;
      }
    }
    return v;
  }
  case JSON_ARRAY: {
    size_t i;

    v = xva_value_new_array ();
    if (v == NULL)
      goto nomem;
    for (i = 0; i < json_array_size (j); i++) {
      struct xva_value *c = convert (w, json_array_get (j, i), depth + 1);
      if (c == NULL) {
        xva_value_free (v);
        return NULL;
      }
      if (xva_value_append (v, c) < 0) {
        xva_value_free (v);
        goto nomem;
      }
    }
    return v;
  }
  case JSON_STRING:
    n = json_string_length (j);
    if (n > w->lim.max_string)
      return walk_fail (w, XVA_ELIMIT,
                        "JSON: a string longer than %zu "
                        "bytes",
                        w->lim.max_string);
    v = xva_value_new_stringn (json_string_value (j), n);
    break;
  case JSON_INTEGER:
    v = xva_value_new_int ((int64_t) json_integer_value (j));
    break;
  case JSON_REAL:
    v = xva_value_new_double (json_real_value (j));
    break;
  case JSON_TRUE:
    v = xva_value_new_bool (1);
    break;
  case JSON_FALSE:
    v = xva_value_new_bool (0);
    break;
  case JSON_NULL:
  default:
    v = xva_value_new_nil ();
    break;
  }
  if (v != NULL)
    return v;
nomem:
  return walk_fail (w, XVA_ENOMEM, "JSON: out of memory");
}

int
xva_value_from_json (const char *json, size_t len,
                     const struct xva_limits *lim, struct xva_value **out,
                     char *err, size_t errlen)
{
  struct walk w;
  json_error_t e;
  json_t *j;
  int r;

  if (out == NULL)
    return XVA_EINVAL;
  *out = NULL;
  memset (&w, 0, sizeof w);
  Xva_limits_fill (&w.lim, lim);
  if (json == NULL && len > 0)
    return XVA_EINVAL;
  if (len > w.lim.max_bytes) {
    Xva_value_err (err, errlen,
                   "JSON: %zu bytes is more than the limit "
                   "of %zu",
                   len, w.lim.max_bytes);
    return XVA_ELIMIT;
  }
  j = json_loadb (json ? json : "", len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);
  if (j == NULL) {
    switch (json_error_code (&e)) {
    case json_error_out_of_memory:
      r = XVA_ENOMEM;
      break;
    case json_error_stack_overflow:
      r = XVA_ELIMIT;
      break;
    default:
      r = XVA_EFORMAT;
      break;
    }
    Xva_value_err (err, errlen, "JSON line %d column %d: %s", e.line, e.column,
                   e.text);
    return r;
  }
  *out = convert (&w, j, 0);
  json_decref (j);
  if (*out == NULL) {
    Xva_value_err (err, errlen, "%s", w.msg);
    return w.status != XVA_OK ? w.status : XVA_ENOMEM;
  }
  return XVA_OK;
}
