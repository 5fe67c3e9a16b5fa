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
/* Adds i in decimal. */
void Xva_vbuf_addi (struct Xva_vbuf *b, int64_t i);
/* Hands the NUL-terminated text to *out (and its length to *len, if
 * not NULL) and empties b.  XVA_OK, or XVA_ENOMEM (b is then freed). */
int Xva_vbuf_finish (struct Xva_vbuf *b, char **out, size_t *len);
void Xva_vbuf_free (struct Xva_vbuf *b);

/* Writes one value onto b. */
typedef void (*Xva_value_add_fn) (struct Xva_vbuf *b,
                                  const struct xva_value *v);
/* Serialises v with add, after head and before tail (each may be NULL),
 * into a new NUL-terminated text *out (the caller frees it) of length
 * *len (len may be NULL).  XVA_EINVAL when out or v is NULL (*out is
 * NULL then, *len 0), else as Xva_vbuf_finish. */
int Xva_value_write (const struct xva_value *v, Xva_value_add_fn add,
                     const char *head, const char *tail, char **out,
                     size_t *len);

/* Writes a message into err[0..errlen) when err is not NULL (also the
 * server's HTTP adapter's error texts). */
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

/* The bool or int (or their text) of member key of rec; dflt when it
 * is missing or not one. */
int Xva_value_bool_or (const struct xva_value *rec, const char *key, int dflt);
int64_t Xva_value_int_or (const struct xva_value *rec, const char *key,
                          int64_t dflt);

/* ---- Record edits: ova.xml records rewritten on export and import ---- */

#define XVA_VALUE_NULL_REF "OpaqueRef:NULL"

/* Sets key of the struct rec to item only when rec has key; takes item
 * either way.  0, or -1 when item is NULL (out of memory) or cannot be
 * set. */
int Xva_value_replace (struct xva_value *rec, const char *key,
                       struct xva_value *item);
/* Xva_value_replace with XVA_VALUE_NULL_REF, or with an empty value of
 * type (XVA_TYPE_ARRAY or XVA_TYPE_STRUCT). */
int Xva_value_replace_null (struct xva_value *rec, const char *key);
int Xva_value_replace_empty (struct xva_value *rec, const char *key,
                             enum xva_type type);
/* Clears, where present, the fields of the VM record vm that tie it to
 * a pool or a host: suspend_SR, appliance, protection_policy and
 * snapshot_schedule become null, and consoles, crash_dumps,
 * attached_PCIs, VGPUs, VTPMs and VUSBs empty (format/meta.c).  All are
 * tried; 0, or -1 when one failed. */
int Xva_value_clear_vm_links (struct xva_value *vm);
/* What the reference ref (NULL when not a string) of class cls (NULL:
 * any) becomes; never NULL. */
typedef const char *(*Xva_value_ref_fn) (const void *opaque, const char *ref,
                                         const char *cls);
/* When rec has key: sets it to what map makes of its reference.  0, or
 * -1 when out of memory. */
int Xva_value_map_ref (struct xva_value *rec, const char *key, const char *cls,
                       Xva_value_ref_fn map, const void *opaque);
/* When rec has key: sets it to an array of what map makes of each
 * reference in it, leaving out those that become XVA_VALUE_NULL_REF.
 * 0, or -1 when out of memory. */
int Xva_value_map_set (struct xva_value *rec, const char *key, const char *cls,
                       Xva_value_ref_fn map, const void *opaque);

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
