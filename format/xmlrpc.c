/* XML-RPC values and messages in XML.
 *
 * Writing follows ova.xml as xapi writes it: one compact <value>, ints
 * and strings bare.  Reading goes through libxml2's SAX interface
 * straight into the value tree (no DOM): no network, no DTD loading,
 * and any entity declaration or reference other than the predefined
 * ones and character references stops the parse, so entity expansion
 * never happens.  Every size and count is bounded by xva_limits. */
#include "format/value.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libxml/SAX2.h>
#include <libxml/globals.h>
#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>

/* ------------------------------------------------------------------ */
/* Writing                                                              */

/* Appends s[0..n) escaped for XML text: & < > " become entities and
 * control bytes other than TAB, LF and CR are dropped; CR is written
 * as a character reference. */
static void
add_escaped (struct Xva_vbuf *b, const char *s, size_t n)
{
  size_t i, start = 0;

  for (i = 0; i < n; i++) {
    unsigned char c = (unsigned char) s[i];
    const char *rep;

    switch (c) {
    case '&':
      rep = "&amp;";
      break;
    case '<':
      rep = "&lt;";
      break;
    case '>':
      rep = "&gt;";
      break;
    case '"':
      rep = "&quot;";
      break;
    /* A raw CR reads back as LF (XML end-of-line handling): a character
     * reference keeps it. */
    case '\r':
      rep = "&#13;";
      break;
    default:
      if (c < 0x20 && c != '\t' && c != '\n')
        rep = "";
      else
        continue;
    }
    Xva_vbuf_add (b, s + start, i - start);
    Xva_vbuf_adds (b, rep);
    start = i + 1;
  }
  Xva_vbuf_add (b, s + start, n - start);
}

void
Xva_value_xml_append (struct Xva_vbuf *b, const struct xva_value *v)
{
  char num[64];
  size_t i, n;
  int64_t iv;
  double d;
  int bv;

  Xva_vbuf_adds (b, "<value>");
  switch (xva_value_type (v)) {
  case XVA_TYPE_STRING:
    add_escaped (b, xva_value_string (v), Xva_value_strlen (v));
    break;
  case XVA_TYPE_INT:
    xva_value_get_int (v, &iv);
    Xva_vbuf_addi (b, iv);
    break;
  case XVA_TYPE_BOOL:
    xva_value_get_bool (v, &bv);
    Xva_vbuf_adds (b, bv ? "<boolean>1</boolean>" : "<boolean>0</boolean>");
    break;
  case XVA_TYPE_DOUBLE:
    xva_value_get_double (v, &d);
    snprintf (num, sizeof num, "%.16g", d);
    Xva_vbuf_adds (b, "<double>");
    Xva_vbuf_adds (b, num);
    Xva_vbuf_adds (b, "</double>");
    break;
  case XVA_TYPE_DATE:
    Xva_vbuf_adds (b, "<dateTime.iso8601>");
    add_escaped (b, xva_value_string (v), Xva_value_strlen (v));
    Xva_vbuf_adds (b, "</dateTime.iso8601>");
    break;
  case XVA_TYPE_ARRAY:
    Xva_vbuf_adds (b, "<array><data>");
    n = xva_value_len (v);
    for (i = 0; i < n; i++)
      Xva_value_xml_append (b, xva_value_at (v, i));
    Xva_vbuf_adds (b, "</data></array>");
    break;
  case XVA_TYPE_STRUCT:
    Xva_vbuf_adds (b, "<struct>");
    n = xva_value_len (v);
    for (i = 0; i < n; i++) {
      const char *key = xva_value_key_at (v, i);
      Xva_vbuf_adds (b, "<member><name>");
      add_escaped (b, key, strlen (key));
      Xva_vbuf_adds (b, "</name>");
      Xva_value_xml_append (b, xva_value_at (v, i));
      Xva_vbuf_adds (b, "</member>");
    }
    Xva_vbuf_adds (b, "</struct>");
    break;
  case XVA_TYPE_NIL:
  default:
    Xva_vbuf_adds (b, "<nil/>");
    break;
  }
  Xva_vbuf_adds (b, "</value>");
}

int
xva_value_to_xml (const struct xva_value *v, char **out, size_t *len)
{
  return Xva_value_write (v, Xva_value_xml_append, NULL, NULL, out, len);
}

int
xva_xmlrpc_format_response (const struct xva_value *v, char **out, size_t *len)
{
  return Xva_value_write (v, Xva_value_xml_append,
                          "<?xml version=\"1.0\"?>"
                          "<methodResponse><params><param>",
                          "</param></params></methodResponse>", out, len);
}

int
xva_xmlrpc_format_call (const char *method, const struct xva_value *params,
                        char **out, size_t *len)
{
  struct Xva_vbuf b = { NULL, 0, 0, 0 };
  size_t i, n;

  if (out == NULL)
    return XVA_EINVAL;
  *out = NULL;
  if (len)
    *len = 0;
  if (method == NULL || method[0] == '\0'
      || (params && xva_value_type (params) != XVA_TYPE_ARRAY))
    return XVA_EINVAL;
  Xva_vbuf_adds (&b, "<?xml version=\"1.0\"?><methodCall><methodName>");
  add_escaped (&b, method, strlen (method));
  Xva_vbuf_adds (&b, "</methodName><params>");
  n = xva_value_len (params);
  for (i = 0; i < n; i++) {
    Xva_vbuf_adds (&b, "<param>");
    Xva_value_xml_append (&b, xva_value_at (params, i));
    Xva_vbuf_adds (&b, "</param>");
  }
  Xva_vbuf_adds (&b, "</params></methodCall>");
  return Xva_vbuf_finish (&b, out, len);
}

/* ------------------------------------------------------------------ */
/* Reading                                                              */

enum mode { MODE_VALUE, MODE_CALL, MODE_RESPONSE };

enum kind {
  K_VALUE,
  K_STRING,
  K_INT,
  K_BOOL,
  K_DOUBLE,
  K_DATE,
  K_NIL,
  K_STRUCT,
  K_MEMBER,
  K_NAME,
  K_ARRAY,
  K_DATA,
  K_CALL,
  K_METHODNAME,
  K_PARAMS,
  K_PARAM,
  K_RESPONSE,
  K_FAULT,
};

static const char *const kind_names[] = {
  "value",      "string",         "int",
  "boolean",    "double",         "dateTime.iso8601",
  "nil",        "struct",         "member",
  "name",       "array",          "data",
  "methodCall", "methodName",     "params",
  "param",      "methodResponse", "fault",
};

struct frame {
  enum kind kind;
  unsigned seen;       /* bits of the children seen (see below) */
  struct xva_value *v; /* VALUE: its value; STRUCT, ARRAY: the
                          container; MEMBER, PARAM, FAULT: the
                          value; owned by the frame */
  char *name;          /* MEMBER: the key */
};

#define SEEN_CHILD 1u /* VALUE, ARRAY, PARAM, FAULT: the child */
#define SEEN_NAME 2u  /* MEMBER, CALL: <name> / <methodName> */
#define SEEN_VALUE 4u /* MEMBER: <value>; CALL: <params> */

struct parser {
  xmlParserCtxtPtr ctxt;
  enum mode mode;
  int for_meta;
  struct xva_limits lim;
  struct frame *stack;
  size_t depth;
  size_t cap;
  size_t containers; /* open arrays and structs */
  size_t nodes;
  struct Xva_vbuf text;
  int root_seen;
  int status;
  char msg[512];
  /* the first error libxml2 reported */
  int xml_errors;
  int xml_line;
  int xml_depth_error;
  char xml_msg[256];
  /* results */
  struct xva_value *result; /* the root value, params or response value */
  char *method;
  int fault;
};

static int
line_of (const struct parser *p)
{
  return xmlSAX2GetLineNumber (p->ctxt);
}

static void fail (struct parser *p, int status, const char *fmt, ...)
  XVA_VALUE_PRINTF (3, 4);

/* Records the first failure ("<doc> line N: what") and stops the
 * parser.  A format starting with '!' is the whole message. */
static void
fail (struct parser *p, int status, const char *fmt, ...)
{
  char what[400];
  va_list ap;

  if (p->status != XVA_OK)
    return;
  va_start (ap, fmt);
  vsnprintf (what, sizeof what, fmt, ap);
  va_end (ap);
  p->status = status;
  if (what[0] == '!')
    snprintf (p->msg, sizeof p->msg, "%s", what + 1);
  else
    snprintf (p->msg, sizeof p->msg, "%s line %d: %s",
              p->for_meta ? "ova.xml" : "XML", line_of (p), what);
  xmlStopParser (p->ctxt);
}

static void
oom (struct parser *p)
{
  fail (p, XVA_ENOMEM, "out of memory");
}

/* Counts one more value against max_nodes. */
static int
count_node (struct parser *p)
{
  if (p->nodes >= p->lim.max_nodes) {
    fail (p, XVA_ELIMIT, "more than %zu values", p->lim.max_nodes);
    return -1;
  }
  p->nodes++;
  return 0;
}

static int
all_space (const char *s, size_t n)
{
  size_t i;

  for (i = 0; i < n; i++)
    if (s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r')
      return 0;
  return 1;
}

/* The text buffer, NUL-terminated, with surrounding XML white space
 * removed when trim is set. */
static const char *
text_get (struct parser *p, int trim, size_t *n)
{
  char *s;
  size_t len;

  Xva_vbuf_addc (&p->text, '\0');
  if (p->text.oom)
    return NULL;
  p->text.len--;
  s = p->text.p;
  len = p->text.len;
  if (trim) {
    while (len && all_space (s, 1)) {
      s++;
      len--;
    }
    while (len && all_space (s + len - 1, 1))
      len--;
    s[len] = '\0';
  }
  *n = len;
  return s;
}

static int
collects_text (enum kind k)
{
  return k == K_VALUE || k == K_STRING || k == K_INT || k == K_BOOL
         || k == K_DOUBLE || k == K_DATE || k == K_NAME || k == K_METHODNAME;
}

static void
on_characters (void *ctx, const xmlChar *ch, int len)
{
  struct parser *p = ctx;
  struct frame *f;
  const char *s = (const char *) ch;
  size_t n = len > 0 ? (size_t) len : 0;

  if (p->status != XVA_OK || p->depth == 0 || n == 0)
    return;
  f = &p->stack[p->depth - 1];
  if (!collects_text (f->kind) || (f->kind == K_VALUE && f->seen)) {
    if (!all_space (s, n))
      fail (p, XVA_EFORMAT, "unexpected text in <%s>", kind_names[f->kind]);
    return;
  }
  if (n > p->lim.max_string || p->text.len > p->lim.max_string - n) {
    fail (p, XVA_ELIMIT, "a string or name longer than %zu bytes",
          p->lim.max_string);
    return;
  }
  Xva_vbuf_add (&p->text, s, n);
  if (p->text.oom)
    oom (p);
}

static const struct {
  const char *name;
  enum kind kind;
} value_children[] = {
  { "string", K_STRING },
  { "i4", K_INT },
  { "int", K_INT },
  { "i8", K_INT },
  { "boolean", K_BOOL },
  { "double", K_DOUBLE },
  { "dateTime.iso8601", K_DATE },
  { "nil", K_NIL },
  { "struct", K_STRUCT },
  { "array", K_ARRAY },
};

/* Which kind of element `name` is as a child of parent, or -1 when it
 * may not appear there (or not again). */
static int
child_kind (const struct frame *parent, const char *name)
{
  size_t i;

  switch (parent->kind) {
  case K_VALUE:
    if (parent->seen)
      return -1;
    for (i = 0; i < sizeof value_children / sizeof value_children[0]; i++)
      if (strcmp (name, value_children[i].name) == 0)
        return (int) value_children[i].kind;
    return -1;
  case K_STRUCT:
    return strcmp (name, "member") == 0 ? K_MEMBER : -1;
  case K_MEMBER:
    if (strcmp (name, "name") == 0 && !(parent->seen & SEEN_NAME))
      return K_NAME;
    if (strcmp (name, "value") == 0 && !(parent->seen & SEEN_VALUE))
      return K_VALUE;
    return -1;
  case K_ARRAY:
    return strcmp (name, "data") == 0 && !parent->seen ? K_DATA : -1;
  case K_DATA:
    return strcmp (name, "value") == 0 ? K_VALUE : -1;
  case K_CALL:
    if (strcmp (name, "methodName") == 0 && !(parent->seen & SEEN_NAME))
      return K_METHODNAME;
    if (strcmp (name, "params") == 0 && !(parent->seen & SEEN_VALUE))
      return K_PARAMS;
    return -1;
  case K_PARAMS:
    return strcmp (name, "param") == 0 ? K_PARAM : -1;
  case K_PARAM:
  case K_FAULT:
    return strcmp (name, "value") == 0 && !parent->seen ? K_VALUE : -1;
  case K_RESPONSE:
    if (parent->seen)
      return -1;
    if (strcmp (name, "params") == 0)
      return K_PARAMS;
    if (strcmp (name, "fault") == 0)
      return K_FAULT;
    return -1;
  default:
    return -1;
  }
}

static void
legacy_root (struct parser *p, int nb_attributes, const xmlChar **attrs)
{
  char ver[24] = "";
  int i;

  for (i = 0; i < nb_attributes; i++) {
    const xmlChar **a = attrs + 5 * i;
    if (a[1] == NULL && strcmp ((const char *) a[0], "version") == 0) {
      size_t n = (size_t) (a[4] - a[3]), j;
      if (n >= sizeof ver)
        n = sizeof ver - 1;
      for (j = 0; j < n; j++) {
        char c = (char) a[3][j];
        ver[j] = (c >= 0x20 && c < 0x7f && c != '"') ? c : '?';
      }
      ver[n] = '\0';
    }
  }
  if (ver[0])
    fail (p, XVA_EVERSION,
          "legacy XVA format <appliance version=\"%s\"> "
          "(XenEnterprise 3.x) is not supported",
          ver);
  else
    fail (p, XVA_EVERSION,
          "legacy XVA format <appliance> "
          "(XenEnterprise 3.x) is not supported");
}

static void
on_start (void *ctx, const xmlChar *localname, const xmlChar *prefix,
          const xmlChar *uri, int nb_namespaces, const xmlChar **namespaces,
          int nb_attributes, int nb_defaulted, const xmlChar **attributes)
{
  struct parser *p = ctx;
  const char *name = (const char *) localname;
  struct frame *f;
  int kind;

  (void) nb_namespaces;
  (void) namespaces;
  (void) nb_defaulted;
  if (p->status != XVA_OK)
    return;
  if (p->depth == 0) {
    static const char *const roots[] = { "value", "methodCall",
                                         "methodResponse" };
    static const enum kind root_kinds[] = { K_VALUE, K_CALL, K_RESPONSE };

    p->root_seen = 1;
    if (p->for_meta && prefix == NULL && strcmp (name, "appliance") == 0) {
      legacy_root (p, nb_attributes, attributes);
      return;
    }
    if (prefix != NULL || uri != NULL || strcmp (name, roots[p->mode]) != 0) {
      const char *pre = prefix ? (const char *) prefix : "";
      const char *colon = prefix ? ":" : "";

      if (p->for_meta)
        fail (p, XVA_EFORMAT,
              "!ova.xml is not an XML-RPC value (root "
              "element <%.32s%s%.64s> at line %d)",
              pre, colon, name, line_of (p));
      else
        fail (p, XVA_EFORMAT, "root element <%.32s%s%.64s> is not <%s>", pre,
              colon, name, roots[p->mode]);
      return;
    }
    kind = (int) root_kinds[p->mode];
  }
  else {
    struct frame *parent = &p->stack[p->depth - 1];

    kind = (prefix || uri) ? -1 : child_kind (parent, name);
    if (kind < 0) {
      fail (p, XVA_EFORMAT, "unexpected element <%.32s%s%.64s> in <%s>",
            prefix ? (const char *) prefix : "", prefix ? ":" : "", name,
            kind_names[parent->kind]);
      return;
    }
    if (parent->kind == K_VALUE) {
      if (!all_space (p->text.p, p->text.len)) {
        fail (p, XVA_EFORMAT, "text and <%.64s> mixed in <value>", name);
        return;
      }
      parent->seen |= SEEN_CHILD;
    }
    else if (parent->kind == K_MEMBER || parent->kind == K_CALL)
      parent->seen |= (kind == K_NAME || kind == K_METHODNAME) ? SEEN_NAME
                                                               : SEEN_VALUE;
    else
      parent->seen |= SEEN_CHILD;
  }

  if (p->depth == p->cap) {
    size_t cap = p->cap ? p->cap * 2 : 32;
    struct frame *s = realloc (p->stack, cap * sizeof *s);
    if (s == NULL) {
      oom (p);
      return;
    }
    p->stack = s;
    p->cap = cap;
  }
  f = &p->stack[p->depth++];
  f->kind = (enum kind) kind;
  f->seen = 0;
  f->v = NULL;
  f->name = NULL;
  if (collects_text (f->kind))
    p->text.len = 0;
  if (f->kind == K_STRUCT || f->kind == K_ARRAY) {
    if (++p->containers > p->lim.max_depth) {
      fail (p, XVA_ELIMIT, "arrays and structs nested deeper than %zu",
            p->lim.max_depth);
      return;
    }
    if (count_node (p) < 0)
      return;
    f->v = f->kind == K_STRUCT ? xva_value_new_struct ()
                               : xva_value_new_array ();
    if (f->v == NULL)
      oom (p);
  }
  else if (f->kind == K_CALL) {
    p->result = xva_value_new_array ();
    if (p->result == NULL)
      oom (p);
  }
}

/* A scalar element's value from the text buffer, or NULL after fail. */
static struct xva_value *
scalar_value (struct parser *p, enum kind kind)
{
  struct xva_value *v = NULL;
  const char *s;
  char *end;
  size_t n;

  s = text_get (p, kind != K_STRING && kind != K_DATE, &n);
  if (s == NULL) {
    oom (p);
    return NULL;
  }
  switch (kind) {
  case K_STRING:
    v = xva_value_new_stringn (s, n);
    break;
  case K_DATE:
    v = xva_value_new_date (s);
    break;
  case K_INT: {
    long long x;
    errno = 0;
    x = strtoll (s, &end, 10);
    if (n == 0 || *end != '\0' || errno != 0 || all_space (s, 1)) {
      fail (p, XVA_EFORMAT, "bad integer \"%.40s\"", s);
      return NULL;
    }
    v = xva_value_new_int ((int64_t) x);
    break;
  }
  case K_BOOL:
    if (strcmp (s, "1") == 0 || strcasecmp (s, "true") == 0)
      v = xva_value_new_bool (1);
    else if (strcmp (s, "0") == 0 || strcasecmp (s, "false") == 0)
      v = xva_value_new_bool (0);
    else {
      fail (p, XVA_EFORMAT, "bad boolean \"%.40s\"", s);
      return NULL;
    }
    break;
  case K_DOUBLE: {
    double d;
    d = strtod (s, &end);
    if (n == 0 || *end != '\0') {
      fail (p, XVA_EFORMAT, "bad double \"%.40s\"", s);
      return NULL;
    }
    v = xva_value_new_double (d);
    break;
  }
  case K_NIL:
    if (n != 0) {
      fail (p, XVA_EFORMAT, "text in <nil/>");
      return NULL;
    }
    v = xva_value_new_nil ();
    break;
  default:
    break;
  }
  if (v == NULL)
    oom (p);
  return v;
}

/* Hands a finished <value> to the element around it. */
static void
deliver_value (struct parser *p, struct xva_value *v)
{
  struct frame *parent;

  if (p->depth == 0) {
    p->result = v;
    return;
  }
  parent = &p->stack[p->depth - 1];
  switch (parent->kind) {
  case K_MEMBER:
  case K_PARAM:
  case K_FAULT:
    parent->v = v;
    break;
  case K_DATA:
    /* the array is held by the <array> frame below <data> */
    if (xva_value_append (p->stack[p->depth - 2].v, v) < 0)
      oom (p);
    break;
  default:
    xva_value_free (v);
    break;
  }
}

static void
on_end (void *ctx, const xmlChar *localname, const xmlChar *prefix,
        const xmlChar *uri)
{
  struct parser *p = ctx;
  struct frame f;
  struct frame *parent;
  struct xva_value *v;
  const char *s;
  size_t n;

  (void) localname;
  (void) prefix;
  (void) uri;
  if (p->status != XVA_OK || p->depth == 0)
    return;
  f = p->stack[--p->depth];
  parent = p->depth ? &p->stack[p->depth - 1] : NULL;
  switch (f.kind) {
  case K_VALUE:
    v = f.v;
    if (!f.seen) {
      if (count_node (p) < 0)
        return;
      s = text_get (p, 0, &n);
      v = s ? xva_value_new_stringn (s, n) : NULL;
      if (v == NULL) {
        oom (p);
        return;
      }
    }
    deliver_value (p, v);
    break;
  case K_STRING:
  case K_INT:
  case K_BOOL:
  case K_DOUBLE:
  case K_DATE:
  case K_NIL:
    if (count_node (p) < 0)
      return;
    v = scalar_value (p, f.kind);
    if (v)
      parent->v = v;
    break;
  case K_STRUCT:
  case K_ARRAY:
    if (f.kind == K_ARRAY && !f.seen) {
      p->stack[p->depth++] = f; /* freed with the stack */
      fail (p, XVA_EFORMAT, "<array> without <data>");
      return;
    }
    p->containers--;
    parent->v = f.v;
    break;
  case K_MEMBER:
    if ((f.seen & (SEEN_NAME | SEEN_VALUE)) != (SEEN_NAME | SEEN_VALUE)) {
      p->stack[p->depth++] = f;
      fail (p, XVA_EFORMAT, "<member> without <%s>",
            (f.seen & SEEN_NAME) ? "value" : "name");
      return;
    }
    if (Xva_value_set_owned (parent->v, f.name, f.v) < 0)
      oom (p);
    break;
  case K_NAME:
    s = text_get (p, 0, &n);
    if (s == NULL) {
      oom (p);
      return;
    }
    if (strlen (s) != n) {
      fail (p, XVA_EFORMAT, "NUL in a member name");
      return;
    }
    parent->name = strdup (s);
    if (parent->name == NULL)
      oom (p);
    break;
  case K_METHODNAME:
    s = text_get (p, 1, &n);
    if (s == NULL) {
      oom (p);
      return;
    }
    if (n == 0 || strlen (s) != n) {
      fail (p, XVA_EFORMAT, "empty <methodName>");
      return;
    }
    p->method = strdup (s);
    if (p->method == NULL)
      oom (p);
    break;
  case K_PARAM:
  case K_FAULT:
    if (!f.seen) {
      fail (p, XVA_EFORMAT, "<%s> without <value>", kind_names[f.kind]);
      return;
    }
    if (f.kind == K_FAULT) {
      p->fault = 1;
      p->result = f.v;
    }
    else if (p->mode == MODE_CALL) {
      if (xva_value_append (p->result, f.v) < 0)
        oom (p);
    }
    else if (p->result != NULL) {
      xva_value_free (f.v);
      fail (p, XVA_EFORMAT, "more than one <param> in <methodResponse>");
    }
    else
      p->result = f.v;
    break;
  case K_CALL:
    if (p->method == NULL)
      fail (p, XVA_EFORMAT, "<methodCall> without <methodName>");
    break;
  case K_RESPONSE:
    if (p->result == NULL)
      fail (p, XVA_EFORMAT, "<methodResponse> without a value");
    break;
  case K_DATA:
  case K_PARAMS:
    break;
  }
}

static void
on_reference (void *ctx, const xmlChar *name)
{
  fail (ctx, XVA_EFORMAT, "entity reference &%.64s; is not allowed",
        (const char *) name);
}

static xmlEntityPtr
on_get_entity (void *ctx, const xmlChar *name)
{
  on_reference (ctx, name);
  return NULL;
}

static xmlEntityPtr
on_get_parameter_entity (void *ctx, const xmlChar *name)
{
  fail (ctx, XVA_EFORMAT, "parameter entity %%%.64s; is not allowed",
        (const char *) name);
  return NULL;
}

static void
on_entity_decl (void *ctx, const xmlChar *name, int type,
                const xmlChar *public_id, const xmlChar *system_id,
                xmlChar *content)
{
  (void) type;
  (void) public_id;
  (void) system_id;
  (void) content;
  fail (ctx, XVA_EFORMAT,
        "the DOCTYPE declares entity %.64s: entity "
        "declarations are not allowed",
        (const char *) name);
}

/* Any other entity declaration is stopped the same way. */

static void
on_unparsed_entity_decl (void *ctx, const xmlChar *name,
                         const xmlChar *public_id, const xmlChar *system_id,
                         const xmlChar *notation)
{
  (void) notation;
  on_entity_decl (ctx, name, 0, public_id, system_id, NULL);
}

static void
on_error (void *ctx, xmlErrorPtr e)
{
  struct parser *p = ctx;
  size_t n, i;

  if (p == NULL || e == NULL || e->level < XML_ERR_ERROR)
    return;
  if (p->xml_errors++ > 0)
    return;
  p->xml_line = e->line;
  snprintf (p->xml_msg, sizeof p->xml_msg, "%s",
            e->message ? e->message : "not well-formed");
  n = strlen (p->xml_msg);
  while (n && (p->xml_msg[n - 1] == '\n' || p->xml_msg[n - 1] == ' '))
    p->xml_msg[--n] = '\0';
  for (i = 0; i < n; i++)
    if (p->xml_msg[i] == '\n' || p->xml_msg[i] == '\r')
      p->xml_msg[i] = ' ';
  if (e->code == XML_ERR_INTERNAL_ERROR && strstr (p->xml_msg, "depth"))
    p->xml_depth_error = 1;
}

static void
on_generic_error (void *ctx, const char *msg, ...)
{
  (void) ctx;
  (void) msg;
}

static pthread_once_t init_once = PTHREAD_ONCE_INIT;

static void
init_libxml (void)
{
  xmlInitParser ();
}

static void
parser_free (struct parser *p)
{
  size_t i;

  for (i = 0; i < p->depth; i++) {
    /* <data> and <value> frames never own a container of an outer
       frame, so every frame frees its own */
    xva_value_free (p->stack[i].v);
    free (p->stack[i].name);
  }
  free (p->stack);
  p->stack = NULL;
  p->depth = 0;
  Xva_vbuf_free (&p->text);
}

/* Parses xml in the given mode.  On success the results are in p. */
static int
parse_doc (struct parser *p, const char *xml, size_t len,
           const struct xva_limits *lim)
{
  xmlGenericErrorFunc saved_generic;
  void *saved_generic_ctx;
  xmlStructuredErrorFunc saved_structured;
  void *saved_structured_ctx;
  xmlSAXHandlerPtr sax;

  Xva_limits_fill (&p->lim, lim);
  if (xml == NULL && len > 0) {
    snprintf (p->msg, sizeof p->msg, "no input");
    return p->status = XVA_EINVAL;
  }
  if (len > p->lim.max_bytes || len > INT_MAX) {
    snprintf (p->msg, sizeof p->msg,
              "%s: %zu bytes is more than the "
              "limit of %zu",
              p->for_meta ? "ova.xml" : "XML document", len,
              p->lim.max_bytes < INT_MAX ? p->lim.max_bytes
                                         : (size_t) INT_MAX);
    return p->status = XVA_ELIMIT;
  }
  if (len == 0 || all_space (xml, len)) {
    snprintf (p->msg, sizeof p->msg, "%s: empty document",
              p->for_meta ? "ova.xml" : "XML");
    return p->status = XVA_EFORMAT;
  }
  pthread_once (&init_once, init_libxml);

  /* Errors raised without a parser context go to this thread's
     handlers: silence them for the duration of the parse. */
  saved_generic = xmlGenericError;
  saved_generic_ctx = xmlGenericErrorContext;
  saved_structured = xmlStructuredError;
  saved_structured_ctx = xmlStructuredErrorContext;
  xmlGenericError = on_generic_error;
  xmlGenericErrorContext = NULL;
  xmlStructuredError = on_error;
  xmlStructuredErrorContext = p;

  p->ctxt = xmlCreateMemoryParserCtxt (xml, (int) len);
  if (p->ctxt == NULL) {
    snprintf (p->msg, sizeof p->msg, "out of memory");
    p->status = XVA_ENOMEM;
    goto restore;
  }
  xmlCtxtUseOptions (p->ctxt, XML_PARSE_NONET | XML_PARSE_NOERROR
                                | XML_PARSE_NOWARNING);
  sax = p->ctxt->sax;
  memset (sax, 0, sizeof *sax);
  sax->initialized = XML_SAX2_MAGIC;
  sax->startElementNs = on_start;
  sax->endElementNs = on_end;
  sax->characters = on_characters;
  sax->ignorableWhitespace = on_characters;
  sax->cdataBlock = on_characters;
  sax->getEntity = on_get_entity;
  sax->getParameterEntity = on_get_parameter_entity;
  sax->entityDecl = on_entity_decl;
  sax->unparsedEntityDecl = on_unparsed_entity_decl;
  sax->reference = on_reference;
  sax->serror = on_error;
  p->ctxt->userData = p;

  xmlParseDocument (p->ctxt);

  if (p->status == XVA_OK && (!p->ctxt->wellFormed || p->xml_errors)) {
    p->status = p->xml_depth_error ? XVA_ELIMIT : XVA_EFORMAT;
    snprintf (p->msg, sizeof p->msg, "%s line %d: %s",
              p->for_meta ? "ova.xml" : "XML",
              p->xml_errors ? p->xml_line : line_of (p),
              p->xml_errors ? p->xml_msg : "not well-formed XML");
  }
  if (p->status == XVA_OK && (!p->root_seen || p->result == NULL)) {
    p->status = XVA_EFORMAT;
    snprintf (p->msg, sizeof p->msg, "%s: no value in the document",
              p->for_meta ? "ova.xml" : "XML");
  }
  /* libxml2 keeps entity declarations in a document of its own even
     in SAX mode; the parser context does not free it */
  if (p->ctxt->myDoc != NULL) {
    xmlFreeDoc (p->ctxt->myDoc);
    p->ctxt->myDoc = NULL;
  }
  xmlFreeParserCtxt (p->ctxt);
  p->ctxt = NULL;
restore:
  xmlGenericError = saved_generic;
  xmlGenericErrorContext = saved_generic_ctx;
  xmlStructuredError = saved_structured;
  xmlStructuredErrorContext = saved_structured_ctx;
  parser_free (p);
  if (p->status != XVA_OK) {
    xva_value_free (p->result);
    p->result = NULL;
    free (p->method);
    p->method = NULL;
  }
  return p->status;
}

/* Parses xml in mode into p (set up here); on failure the message
 * goes to err. */
static int
parse (struct parser *p, enum mode mode, int for_meta, const char *xml,
       size_t len, const struct xva_limits *lim, char *err, size_t errlen)
{
  int r;

  memset (p, 0, sizeof *p);
  p->mode = mode;
  p->for_meta = for_meta;
  p->status = XVA_OK;
  r = parse_doc (p, xml, len, lim);
  if (r != XVA_OK)
    Xva_value_err (err, errlen, "%s", p->msg);
  return r;
}

int
Xva_value_parse_xml (const char *xml, size_t len, const struct xva_limits *lim,
                     int for_meta, struct xva_value **out, char *err,
                     size_t errlen)
{
  struct parser p;
  int r;

  if (out == NULL)
    return XVA_EINVAL;
  *out = NULL;
  r = parse (&p, MODE_VALUE, for_meta, xml, len, lim, err, errlen);
  if (r != XVA_OK)
    return r;
  *out = p.result;
  return XVA_OK;
}

int
xva_value_from_xml (const char *xml, size_t len, const struct xva_limits *lim,
                    struct xva_value **out, char *err, size_t errlen)
{
  return Xva_value_parse_xml (xml, len, lim, 0, out, err, errlen);
}

int
xva_xmlrpc_parse_call (const char *xml, size_t len,
                       const struct xva_limits *lim, char **method,
                       struct xva_value **params, char *err, size_t errlen)
{
  struct parser p;
  int r;

  if (method == NULL || params == NULL)
    return XVA_EINVAL;
  *method = NULL;
  *params = NULL;
  r = parse (&p, MODE_CALL, 0, xml, len, lim, err, errlen);
  if (r != XVA_OK)
    return r;
  *method = p.method;
  *params = p.result;
  return XVA_OK;
}

int
xva_xmlrpc_parse_response (const char *xml, size_t len,
                           const struct xva_limits *lim,
                           struct xva_value **out, char *err, size_t errlen)
{
  struct parser p;
  const struct xva_value *code, *str;
  int64_t c;
  int r;

  if (out == NULL)
    return XVA_EINVAL;
  *out = NULL;
  r = parse (&p, MODE_RESPONSE, 0, xml, len, lim, err, errlen);
  if (r != XVA_OK)
    return r;
  if (!p.fault) {
    *out = p.result;
    return XVA_OK;
  }
  code = xva_value_get (p.result, "faultCode");
  str = xva_value_get (p.result, "faultString");
  if (xva_value_type (p.result) != XVA_TYPE_STRUCT
      || xva_value_get_int (code, &c) < 0 || str == NULL) {
    xva_value_free (p.result);
    Xva_value_err (err, errlen,
                   "XML: <fault> is not a struct with "
                   "faultCode and faultString");
    return XVA_EFORMAT;
  }
  Xva_value_err (err, errlen, "fault %lld: %.200s", (long long) c,
                 xva_value_string (str) ? xva_value_string (str) : "");
  *out = p.result;
  return XVA_ESERVER;
}
