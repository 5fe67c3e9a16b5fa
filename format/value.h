/* Internal helpers of the XML-RPC value codec (format/value.c,
 * xmlrpc.c, json.c, meta.c). */
#ifndef XVA_FORMAT_VALUE_H
#define XVA_FORMAT_VALUE_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <xva/xva.h>

#if defined(__GNUC__) || defined(__clang__)
#define XVA_VALUE_PRINTF(f, a) __attribute__ ((format (printf, f, a)))
#else
#define XVA_VALUE_PRINTF(f, a)
#endif

/* A growing output buffer.  After a failed allocation `oom` is set and
 * further additions do nothing; the caller checks `oom` once at the
 * end. */
struct Xva_vbuf {
  char *p;
  size_t len;
  size_t cap;
  int oom;
};

void Xva_vbuf_add (struct Xva_vbuf *b, const char *s, size_t n);
void Xva_vbuf_adds (struct Xva_vbuf *b, const char *s);
void Xva_vbuf_addc (struct Xva_vbuf *b, char c);
/* Hands the NUL-terminated text to *out (and its length to *len, if
 * not NULL) and empties b.  XVA_OK, or XVA_ENOMEM (b is then freed). */
int Xva_vbuf_finish (struct Xva_vbuf *b, char **out, size_t *len);
void Xva_vbuf_free (struct Xva_vbuf *b);

/* Writes a message into err[0..errlen) when err is not NULL. */
void Xva_value_err (char *err, size_t errlen, const char *fmt, ...)
  XVA_VALUE_PRINTF (3, 4);

/* The length of a STRING or DATE value's text (which may hold NUL
 * bytes when made by xva_value_new_stringn); 0 for other types. */
size_t Xva_value_strlen (const struct xva_value *v);

/* xva_value_set taking over key (malloc'd), which is freed on failure
 * or when it replaces a member. */
int Xva_value_set_owned (struct xva_value *st, char *key,
                         struct xva_value *item);

/* 1 when a and b are the same tree (types, values, member order and
 * keys), else 0.  Doubles compare by bits, so NaN equals itself. */
int Xva_value_equal (const struct xva_value *a, const struct xva_value *b);

/* Limits with zero fields replaced by the defaults (lim may be NULL). */
void Xva_limits_fill (struct xva_limits *dst, const struct xva_limits *lim);

/* Serialises v in the ova.xml form (see xva_value_to_xml) onto b. */
void Xva_value_xml_append (struct Xva_vbuf *b, const struct xva_value *v);

/* Parses an XML document whose root is <value>.  With for_meta set,
 * the messages speak of ova.xml and a legacy <appliance> root gives
 * XVA_EVERSION.  Otherwise as xva_value_from_xml. */
int Xva_value_parse_xml (const char *xml, size_t len,
                         const struct xva_limits *lim, int for_meta,
                         struct xva_value **out, char *err, size_t errlen);

#endif
