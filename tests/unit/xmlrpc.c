/* XML-RPC values in XML: the exact bytes of each type as xapi writes
 * ova.xml, parsing of compact and indented documents, hostile input
 * (entities, depth, size), and methodCall / methodResponse messages. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <xva/xva.h>

#include "format/value.h"
#include "harness.h"

/* A literal and its length. */
#define LIT(s) (s), strlen (s)

/* 1 when v serialises to exactly want. */
static int
xml_is (struct xva_value *v, const char *want)
{
  char *s = NULL;
  size_t len = 0;
  int ok;

  ok = xva_value_to_xml (v, &s, &len) == XVA_OK && s != NULL
       && len == strlen (s) && strcmp (s, want) == 0;
  if (!ok)
    fprintf (stderr, "got  %s\nwant %s\n", s ? s : "(null)", want);
  free (s);
  xva_value_free (v);
  return ok;
}

static struct xva_value *
parse (const char *xml, int *status, char *err, size_t errlen)
{
  struct xva_value *v = NULL;

  *status = xva_value_from_xml (xml, strlen (xml), NULL, &v, err, errlen);
  return v;
}

static void
test_write (void)
{
  struct xva_value *st, *a;

  CHECK (xml_is (xva_value_new_int (123), "<value>123</value>"));
  CHECK (xml_is (xva_value_new_int (-9223372036854775807LL - 1),
                 "<value>-9223372036854775808</value>"));
  CHECK (xml_is (xva_value_new_string ("text"), "<value>text</value>"));
  CHECK (xml_is (xva_value_new_string (""), "<value></value>"));
  CHECK (xml_is (xva_value_new_string ("a&b<c>d\"e'f"),
                 "<value>a&amp;b&lt;c&gt;d&quot;e'f</value>"));
  /* control bytes other than TAB, LF, CR are dropped; UTF-8 is kept */
  CHECK (xml_is (xva_value_new_string ("x\x01\x02\ty\nz\r\x1f\x7f\xc3\xa9"),
                 "<value>x\ty\nz&#13;\x7f\xc3\xa9</value>"));
  CHECK (xml_is (xva_value_new_stringn ("a\0b", 3), "<value>ab</value>"));
  CHECK (xml_is (xva_value_new_bool (1),
                 "<value><boolean>1</boolean></value>"));
  CHECK (xml_is (xva_value_new_bool (0),
                 "<value><boolean>0</boolean></value>"));
  CHECK (xml_is (xva_value_new_double (1.0),
                 "<value><double>1</double></value>"));
  CHECK (xml_is (xva_value_new_double (0.1),
                 "<value><double>0.1</double></value>"));
  CHECK (xml_is (xva_value_new_double (1.0 / 3),
                 "<value><double>0.3333333333333333</double></value>"));
  CHECK (xml_is (xva_value_new_double (-2.5e-300),
                 "<value><double>-2.5e-300</double></value>"));
  CHECK (xml_is (xva_value_new_date ("19700101T00:00:00Z"),
                 "<value><dateTime.iso8601>19700101T00:00:00Z"
                 "</dateTime.iso8601></value>"));
  CHECK (xml_is (xva_value_new_nil (), "<value><nil/></value>"));
  CHECK (xml_is (xva_value_new_array (),
                 "<value><array><data></data></array></value>"));
  CHECK (xml_is (xva_value_new_struct (), "<value><struct></struct></value>"));

  st = xva_value_new_struct ();
  xva_value_set_string (st, "name_label", "VM <1>");
  xva_value_set_int (st, "VCPUs_max", 2);
  xva_value_set_string (st, "k&y", "v");
  a = xva_value_new_array ();
  xva_value_append (a, xva_value_new_string ("Ref:1"));
  xva_value_append (a, xva_value_new_bool (1));
  xva_value_set (st, "VBDs", a);
  CHECK (xml_is (st,
                 "<value><struct>"
                 "<member><name>name_label</name><value>VM &lt;1&gt;</value>"
                 "</member>"
                 "<member><name>VCPUs_max</name><value>2</value></member>"
                 "<member><name>k&amp;y</name><value>v</value></member>"
                 "<member><name>VBDs</name><value><array><data>"
                 "<value>Ref:1</value><value><boolean>1</boolean></value>"
                 "</data></array></value></member>"
                 "</struct></value>"));
}

static void
test_parse (void)
{
  static const char indented[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<!-- a comment -->\n"
    "<value>\n"
    "  <struct>\n"
    "    <member>\n"
    "      <name>s</name>\n"
    "      <value><string>  spaced  </string></value>\n"
    "    </member>\n"
    "    <member>\n"
    "      <name>i</name>\n"
    "      <value><i4> 42 </i4></value>\n"
    "    </member>\n"
    "    <member><name>i8</name><value><i8>-5000000000</i8></value>"
    "</member>\n"
    "    <member><name>int</name><value><int>7</int></value></member>\n"
    "    <member><name>bare</name><value>123</value></member>\n"
    "    <member><name>empty</name><value/></member>\n"
    "    <member><name>b</name><value><boolean>1</boolean></value></member>\n"
    "    <member><name>d</name><value><double>2.5</double></value></member>\n"
    "    <member><name>t</name><value><dateTime.iso8601>20240101T01:02:03Z"
    "</dateTime.iso8601></value></member>\n"
    "    <member><name>n</name><value><nil/></value></member>\n"
    "    <member>\n"
    "      <name>a</name>\n"
    "      <value>\n"
    "        <array>\n"
    "          <data>\n"
    "            <value>x</value>\n"
    "            <value><string>y</string></value>\n"
    "          </data>\n"
    "        </array>\n"
    "      </value>\n"
    "    </member>\n"
    "    <member><name>esc</name><value>&lt;&amp;&gt;&quot;&apos;&#65;&#x42;"
    "<![CDATA[<c>]]></value></member>\n"
    "    <member><name>i</name><value>last</value></member>\n"
    "  </struct>\n"
    "</value>\n";
  struct xva_value *v, *a;
  char err[256];
  int st;
  int64_t i;
  double d;
  int b;

  v = parse (indented, &st, err, sizeof err);
  CHECK_MSG (st == XVA_OK && v != NULL, err);
  CHECK (xva_value_type (v) == XVA_TYPE_STRUCT);
  CHECK (xva_value_len (v) == 12);
  CHECK (strcmp (xva_value_get_string (v, "s"), "  spaced  ") == 0);
  /* duplicate key: the last wins, in the first one's place */
  CHECK (strcmp (xva_value_key_at (v, 1), "i") == 0);
  CHECK (strcmp (xva_value_get_string (v, "i"), "last") == 0);
  CHECK (xva_value_type (xva_value_get (v, "i8")) == XVA_TYPE_INT);
  CHECK (xva_value_get_int (xva_value_get (v, "i8"), &i) == 0
         && i == -5000000000LL);
  CHECK (xva_value_get_int (xva_value_get (v, "int"), &i) == 0 && i == 7);
  /* a bare value is a string, which reads as an int */
  CHECK (xva_value_type (xva_value_get (v, "bare")) == XVA_TYPE_STRING);
  CHECK (strcmp (xva_value_get_string (v, "bare"), "123") == 0);
  CHECK (xva_value_get_int (xva_value_get (v, "bare"), &i) == 0 && i == 123);
  CHECK (strcmp (xva_value_get_string (v, "empty"), "") == 0);
  CHECK (xva_value_get_bool (xva_value_get (v, "b"), &b) == 0 && b == 1);
  CHECK (xva_value_type (xva_value_get (v, "d")) == XVA_TYPE_DOUBLE);
  CHECK (xva_value_get_double (xva_value_get (v, "d"), &d) == 0 && d == 2.5);
  CHECK (xva_value_type (xva_value_get (v, "t")) == XVA_TYPE_DATE);
  CHECK (strcmp (xva_value_string (xva_value_get (v, "t")),
                 "20240101T01:02:03Z")
         == 0);
  CHECK (xva_value_type (xva_value_get (v, "n")) == XVA_TYPE_NIL);
  a = xva_value_get (v, "a");
  CHECK (xva_value_len (a) == 2);
  CHECK (strcmp (xva_value_string (xva_value_at (a, 0)), "x") == 0);
  CHECK (strcmp (xva_value_string (xva_value_at (a, 1)), "y") == 0);
  CHECK (strcmp (xva_value_get_string (v, "esc"), "<&>\"'AB<c>") == 0);
  xva_value_free (v);

  /* the compact form, without a declaration */
  v = parse (
    "<value><struct><member><name>a</name><value>1</value></member>"
    "<member><name>b</name><value><array><data><value>2</value>"
    "</data></array></value></member></struct></value>",
    &st, err, sizeof err);
  CHECK_MSG (st == XVA_OK, err);
  CHECK (xva_value_len (v) == 2);
  CHECK (strcmp (xva_value_get_string (v, "a"), "1") == 0);
  xva_value_free (v);

  /* bare text with surrounding white space keeps it */
  v = parse ("<value> a b </value>", &st, err, sizeof err);
  CHECK (st == XVA_OK && strcmp (xva_value_string (v), " a b ") == 0);
  xva_value_free (v);

  /* errors */
  v = parse ("<value><i4>12x</i4></value>", &st, err, sizeof err);
  CHECK (st == XVA_EFORMAT && v == NULL);
  CHECK (strstr (err, "line 1") != NULL);
  v = parse ("<value><i4>99999999999999999999</i4></value>", &st, err,
             sizeof err);
  CHECK (st == XVA_EFORMAT);
  v = parse ("<value><boolean>2</boolean></value>", &st, err, sizeof err);
  CHECK (st == XVA_EFORMAT);
  v = parse ("<value>x<string>y</string></value>", &st, err, sizeof err);
  CHECK (st == XVA_EFORMAT);
  v = parse ("<value><string>a</string><string>b</string></value>", &st, err,
             sizeof err);
  CHECK (st == XVA_EFORMAT);
  v = parse (
    "<value><struct><member><value>1</value></member></struct>"
    "</value>",
    &st, err, sizeof err);
  CHECK (st == XVA_EFORMAT && strstr (err, "name") != NULL);
  v = parse ("<value><array><value>1</value></array></value>", &st, err,
             sizeof err);
  CHECK (st == XVA_EFORMAT);
  v = parse ("<value><base64>AA==</base64></value>", &st, err, sizeof err);
  CHECK (st == XVA_EFORMAT && strstr (err, "base64") != NULL);
  v = parse ("<struct></struct>", &st, err, sizeof err);
  CHECK (st == XVA_EFORMAT && strstr (err, "struct") != NULL);
  v = parse ("<value><struct>", &st, err, sizeof err);
  CHECK (st == XVA_EFORMAT && v == NULL);
  v = parse ("<value>\n<struct>\n</value>", &st, err, sizeof err);
  CHECK (st == XVA_EFORMAT && strstr (err, "line") != NULL);
  v = parse ("", &st, err, sizeof err);
  CHECK (st == XVA_EFORMAT);
  v = parse ("<html><body>404</body></html>", &st, err, sizeof err);
  CHECK (st == XVA_EFORMAT && strstr (err, "html") != NULL);
  v = parse ("<value>&unknown;</value>", &st, err, sizeof err);
  CHECK (st == XVA_EFORMAT && v == NULL);
  v = parse (
    "<!DOCTYPE value SYSTEM \"http://127.0.0.1:1/x.dtd\">"
    "<value>&ext;</value>",
    &st, err, sizeof err);
  CHECK (st == XVA_EFORMAT && v == NULL);
  /* a DOCTYPE without entities is fine */
  v = parse ("<!DOCTYPE value [<!ELEMENT value ANY>]><value>ok</value>", &st,
             err, sizeof err);
  CHECK_MSG (st == XVA_OK && strcmp (xva_value_string (v), "ok") == 0, err);
  xva_value_free (v);
}

/* a and b are the same tree, except that an INT of a may be the
 * decimal STRING of b (ints are written bare, so they read back as
 * strings). */
static int
same_tree (const struct xva_value *a, const struct xva_value *b)
{
  size_t i;
  int64_t x, y;

  if (xva_value_type (a) == XVA_TYPE_INT
      && xva_value_type (b) == XVA_TYPE_STRING)
    return xva_value_get_int (a, &x) == 0 && xva_value_get_int (b, &y) == 0
           && x == y;
  if (xva_value_type (a) != xva_value_type (b))
    return 0;
  switch (xva_value_type (a)) {
  case XVA_TYPE_ARRAY:
  case XVA_TYPE_STRUCT:
    if (xva_value_len (a) != xva_value_len (b))
      return 0;
    for (i = 0; i < xva_value_len (a); i++) {
      const char *ka = xva_value_key_at (a, i), *kb = xva_value_key_at (b, i);
      if ((ka || kb) && (!ka || !kb || strcmp (ka, kb) != 0))
        return 0;
      if (!same_tree (xva_value_at (a, i), xva_value_at (b, i)))
        return 0;
    }
    return 1;
  default:
    return Xva_value_equal (a, b);
  }
}

static void
test_round_trip (void)
{
  static const uint64_t sizes[] = { 1 << 20, 12345678901ULL };
  struct xva_vm_spec spec;
  struct xva_value *tree, *back = NULL;
  char *xml = NULL, *xml2 = NULL, err[256];
  size_t len, len2;
  int st;

  memset (&spec, 0, sizeof spec);
  spec.name = "round <trip> & \"quotes\"";
  spec.description = "tab\there\nnewline";
  spec.memory = (uint64_t) 1 << 30;
  spec.vcpus = 2;
  spec.ndisks = 2;
  spec.disk_sizes = sizes;
  spec.nvifs = 1;
  tree = xva_meta_build_vm (&spec, &st);
  CHECK (st == XVA_OK && tree != NULL);
  CHECK (xva_value_to_xml (tree, &xml, &len) == XVA_OK);
  CHECK (xva_value_from_xml (xml, len, NULL, &back, err, sizeof err)
         == XVA_OK);
  CHECK (back != NULL && same_tree (tree, back));
  CHECK (!Xva_value_equal (tree, back)); /* the ints are strings now */
  /* and the serialised forms are the same bytes */
  CHECK (xva_value_to_xml (back, &xml2, &len2) == XVA_OK);
  CHECK (len == len2 && xml && xml2 && memcmp (xml, xml2, len) == 0);
  CHECK (strncmp (xml, "<value><struct><member><name>version</name>", 43)
         == 0);
  CHECK (strchr (xml, '\n') == NULL || strstr (xml, "tab\there\nnewline"));
  free (xml);
  free (xml2);
  xva_value_free (back);

  /* with typed ints the trees are equal */
  {
    struct xva_value *st2 = xva_value_new_struct (),
                     *a = xva_value_new_array ();
    xva_value_set_int (st2, "i", -7);
    xva_value_set (st2, "d", xva_value_new_double (0.1));
    xva_value_set_bool (st2, "b", 0);
    xva_value_set (st2, "t", xva_value_new_date ("20000101T00:00:00Z"));
    xva_value_set (st2, "n", xva_value_new_nil ());
    xva_value_set_string (st2, "s", "<&>\"");
    xva_value_append (a, xva_value_copy (st2));
    xva_value_set (st2, "a", a);
    xml = NULL;
    CHECK (xva_value_to_xml (st2, &xml, &len) == XVA_OK);
    back = NULL;
    CHECK (xva_value_from_xml (xml, len, NULL, &back, err, sizeof err)
           == XVA_OK);
    /* the only difference: the int is a string now */
    CHECK (xva_value_type (xva_value_get (back, "i")) == XVA_TYPE_STRING);
    xva_value_set_int (back, "i", -7);
    xva_value_set_int (xva_value_at (xva_value_get (back, "a"), 0), "i", -7);
    CHECK (Xva_value_equal (st2, back));
    free (xml);
    xva_value_free (back);
    xva_value_free (st2);
  }
  xva_value_free (tree);
}

static double
now (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static void
test_hostile (void)
{
  static const char laughs[] =
    "<?xml version=\"1.0\"?>\n"
    "<!DOCTYPE value [\n"
    " <!ENTITY a \"lollollollollollollollollollol\">\n"
    " <!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\">\n"
    " <!ENTITY c \"&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;\">\n"
    " <!ENTITY d \"&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;\">\n"
    " <!ENTITY e \"&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;\">\n"
    " <!ENTITY f \"&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;\">\n"
    " <!ENTITY g \"&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;\">\n"
    " <!ENTITY h \"&g;&g;&g;&g;&g;&g;&g;&g;&g;&g;\">\n"
    " <!ENTITY i \"&h;&h;&h;&h;&h;&h;&h;&h;&h;&h;\">\n"
    "]>\n"
    "<value>&i;</value>\n";
  struct xva_value *v = NULL;
  struct xva_limits lim;
  char err[256];
  char *buf;
  size_t n, i, depth = 10000;
  double t0;
  int st;

  t0 = now ();
  st = xva_value_from_xml (laughs, strlen (laughs), NULL, &v, err, sizeof err);
  CHECK (st == XVA_EFORMAT || st == XVA_ELIMIT);
  CHECK (v == NULL);
  CHECK (strstr (err, "entit") != NULL);
  CHECK (now () - t0 < 1.0);

  /* deep nesting */
  n = depth * strlen ("<value><array><data>") + 16;
  n += depth * strlen ("</data></array></value>");
  buf = malloc (n + 1);
  CHECK (buf != NULL);
  if (buf) {
    size_t pos = 0;
    for (i = 0; i < depth; i++) {
      memcpy (buf + pos, "<value><array><data>", 20);
      pos += 20;
    }
    for (i = 0; i < depth; i++) {
      memcpy (buf + pos, "</data></array></value>", 23);
      pos += 23;
    }
    t0 = now ();
    st = xva_value_from_xml (buf, pos, NULL, &v, err, sizeof err);
    CHECK_MSG (st == XVA_ELIMIT && v == NULL, err);
    CHECK (strstr (err, "deeper") != NULL);
    CHECK (now () - t0 < 1.0);
    /* a raised depth limit still ends at libxml2's own, as a limit */
    memset (&lim, 0, sizeof lim);
    lim.max_depth = 100000;
    st = xva_value_from_xml (buf, pos, &lim, &v, err, sizeof err);
    CHECK_MSG (st == XVA_ELIMIT && v == NULL, err);
    /* 64 levels pass with the defaults, 65 do not */
    pos = 0;
    for (i = 0; i < 65; i++) {
      memcpy (buf + pos, "<value><array><data>", 20);
      pos += 20;
    }
    for (i = 0; i < 65; i++) {
      memcpy (buf + pos, "</data></array></value>", 23);
      pos += 23;
    }
    st = xva_value_from_xml (buf, pos, NULL, &v, err, sizeof err);
    CHECK (st == XVA_ELIMIT);
    st = xva_value_from_xml (buf + 20, pos - 43, NULL, &v, err, sizeof err);
    CHECK_MSG (st == XVA_OK && v != NULL, err);
    xva_value_free (v);
    v = NULL;
    free (buf);
  }

  /* 70 MB of input */
  n = (size_t) 70 << 20;
  buf = malloc (n);
  CHECK (buf != NULL);
  if (buf) {
    memcpy (buf, "<value>", 7);
    memset (buf + 7, 'x', n - 15);
    memcpy (buf + n - 8, "</value>", 8);
    t0 = now ();
    st = xva_value_from_xml (buf, n, NULL, &v, err, sizeof err);
    CHECK_MSG (st == XVA_ELIMIT && v == NULL, err);
    CHECK (now () - t0 < 1.0);
    free (buf);
  }

  /* node and string limits */
  memset (&lim, 0, sizeof lim);
  lim.max_nodes = 3;
  st = xva_value_from_xml (LIT ("<value><array><data><value>1</value><value>2"
                                "</value></data></array></value>"),
                           &lim, &v, err, sizeof err);
  CHECK_MSG (st == XVA_OK, err);
  xva_value_free (v);
  st = xva_value_from_xml (LIT ("<value><array><data><value>1</value><value>2"
                                "</value><value>3</value></data></array>"
                                "</value>"),
                           &lim, &v, err, sizeof err);
  CHECK (st == XVA_ELIMIT && v == NULL);
  memset (&lim, 0, sizeof lim);
  lim.max_string = 4;
  st = xva_value_from_xml (LIT ("<value>abcd</value>"), &lim, &v, err,
                           sizeof err);
  CHECK (st == XVA_OK);
  xva_value_free (v);
  st = xva_value_from_xml (LIT ("<value>abcde</value>"), &lim, &v, err,
                           sizeof err);
  CHECK (st == XVA_ELIMIT && v == NULL);
  memset (&lim, 0, sizeof lim);
  lim.max_bytes = 10;
  st = xva_value_from_xml (LIT ("<value>abcde</value>"), &lim, &v, err,
                           sizeof err);
  CHECK (st == XVA_ELIMIT);
}

/* Every proper prefix of a compact document is an error, and random
 * byte changes never crash (run under the sanitizers). */
static void
test_slices (void)
{
  static const uint64_t sizes[] = { 1 << 20 };
  struct xva_vm_spec spec;
  struct xva_value *tree, *v;
  char *xml = NULL, *copy, err[256];
  size_t len, i, bad = 0;
  unsigned seed = 12345;
  int st, k;

  memset (&spec, 0, sizeof spec);
  spec.name = "slices";
  spec.memory = 1 << 30;
  spec.vcpus = 1;
  spec.ndisks = 1;
  spec.disk_sizes = sizes;
  spec.nvifs = 1;
  tree = xva_meta_build_vm (&spec, &st);
  CHECK (xva_value_to_xml (tree, &xml, &len) == XVA_OK);
  xva_value_free (tree);
  if (xml == NULL)
    return;
  /* every length up to 1 KiB, then a spread of them */
  for (i = 1; i < len; i += i < 1024 ? 1 : 7) {
    v = NULL;
    st = xva_value_from_xml (xml, i, NULL, &v, err, sizeof err);
    if (st != XVA_EFORMAT || v != NULL)
      bad++;
    xva_value_free (v);
  }
  CHECK (bad == 0);
  copy = malloc (len);
  for (k = 0; copy && k < 2000; k++) {
    memcpy (copy, xml, len);
    for (i = 0; i < 4; i++) {
      seed = seed * 1103515245u + 12345u;
      copy[(seed >> 8) % len] = (char) (seed >> 3);
    }
    v = NULL;
    st = xva_value_from_xml (copy, len, NULL, &v, err, sizeof err);
    if ((st == XVA_OK) != (v != NULL))
      bad++;
    xva_value_free (v);
  }
  CHECK (bad == 0);
  free (copy);
  free (xml);
}

/* A struct of 100000 members and an array of 200000 items parse in
 * linear time. */
static void
test_large (void)
{
  struct Xva_vbuf b = { NULL, 0, 0, 0 };
  struct xva_value *v = NULL;
  char *xml = NULL, err[256], item[96];
  size_t len, i;
  double t0;
  int st;

  Xva_vbuf_adds (&b, "<value><struct>");
  for (i = 0; i < 100000; i++) {
    snprintf (item, sizeof item,
              "<member><name>k%zu</name><value>%zu"
              "</value></member>",
              i, i);
    Xva_vbuf_adds (&b, item);
  }
  /* duplicates of every tenth key, last wins */
  for (i = 0; i < 100000; i += 10) {
    snprintf (item, sizeof item,
              "<member><name>k%zu</name><value>dup"
              "</value></member>",
              i);
    Xva_vbuf_adds (&b, item);
  }
  Xva_vbuf_adds (&b, "</struct></value>");
  CHECK (Xva_vbuf_finish (&b, &xml, &len) == XVA_OK);
  t0 = now ();
  st = xva_value_from_xml (xml, len, NULL, &v, err, sizeof err);
  CHECK_MSG (st == XVA_OK, err);
  CHECK (now () - t0 < 10.0);
  CHECK (xva_value_len (v) == 100000);
  CHECK (strcmp (xva_value_get_string (v, "k99990"), "dup") == 0);
  CHECK (strcmp (xva_value_get_string (v, "k99999"), "99999") == 0);
  CHECK (strcmp (xva_value_key_at (v, 50000), "k50000") == 0);
  xva_value_free (v);
  free (xml);

  Xva_vbuf_adds (&b, "<value><array><data>");
  for (i = 0; i < 200000; i++) {
    snprintf (item, sizeof item, "<value><i4>%zu</i4></value>", i);
    Xva_vbuf_adds (&b, item);
  }
  Xva_vbuf_adds (&b, "</data></array></value>");
  CHECK (Xva_vbuf_finish (&b, &xml, &len) == XVA_OK);
  t0 = now ();
  v = NULL;
  st = xva_value_from_xml (xml, len, NULL, &v, err, sizeof err);
  CHECK_MSG (st == XVA_OK, err);
  CHECK (now () - t0 < 10.0);
  CHECK (xva_value_len (v) == 200000);
  xva_value_free (v);
  free (xml);
}

/* Parses from several threads at once: each keeps its own results and
 * errors (libxml2's handlers are per thread and per parse). */
static void *
parse_loop (void *arg)
{
  static const char good[] =
    "<value><struct><member><name>a</name>"
    "<value><i4>1</i4></value></member></struct></value>";
  static const char bad[] =
    "<!DOCTYPE v [<!ENTITY a \"x\">]><value>&a;"
    "</value>";
  unsigned *fails = arg;
  char err[256];
  int i, st;

  for (i = 0; i < 300; i++) {
    struct xva_value *v = NULL;
    int64_t x = 0;

    st = xva_value_from_xml (good, sizeof good - 1, NULL, &v, err, sizeof err);
    if (st != XVA_OK || xva_value_get_int (xva_value_get (v, "a"), &x) != 0
        || x != 1)
      (*fails)++;
    xva_value_free (v);
    v = NULL;
    err[0] = '\0';
    st = xva_value_from_xml (bad, sizeof bad - 1, NULL, &v, err, sizeof err);
    if (st != XVA_EFORMAT || v != NULL || strstr (err, "entity") == NULL)
      (*fails)++;
  }
  return NULL;
}

static void
test_threads (void)
{
  pthread_t t[4];
  unsigned fails[4] = { 0 };
  int i, started[4];

  for (i = 0; i < 4; i++)
    started[i] = pthread_create (&t[i], NULL, parse_loop, &fails[i]) == 0;
  for (i = 0; i < 4; i++) {
    CHECK (started[i]);
    if (started[i])
      pthread_join (t[i], NULL);
    CHECK (fails[i] == 0);
  }
}

static void
test_messages (void)
{
  static const char call_string[] =
    "<?xml version=\"1.0\"?>\n<methodCall>\n"
    "  <methodName>session.login_with_password</methodName>\n"
    "  <params>\n"
    "    <param><value><string>root</string></value></param>\n"
    "    <param><value>secret</value></param>\n"
    "    <param><value><i4>5</i4></value></param>\n"
    "  </params>\n</methodCall>\n";
  char *method = NULL, *xml = NULL, err[256];
  struct xva_value *params = NULL, *v = NULL, *p;
  size_t len;
  int64_t code;
  int st;

  st = xva_xmlrpc_parse_call (call_string, strlen (call_string), NULL, &method,
                              &params, err, sizeof err);
  CHECK_MSG (st == XVA_OK, err);
  CHECK (method && strcmp (method, "session.login_with_password") == 0);
  CHECK (xva_value_type (params) == XVA_TYPE_ARRAY);
  CHECK (xva_value_len (params) == 3);
  CHECK (strcmp (xva_value_string (xva_value_at (params, 0)), "root") == 0);
  CHECK (strcmp (xva_value_string (xva_value_at (params, 1)), "secret") == 0);
  CHECK (xva_value_type (xva_value_at (params, 2)) == XVA_TYPE_INT);

  /* format_call and back */
  CHECK (xva_xmlrpc_format_call ("VM.get_record", params, &xml, &len)
         == XVA_OK);
  CHECK (xml
         && strcmp (xml,
                    "<?xml version=\"1.0\"?><methodCall><methodName>"
                    "VM.get_record</methodName><params>"
                    "<param><value>root</value></param>"
                    "<param><value>secret</value></param>"
                    "<param><value>5</value></param>"
                    "</params></methodCall>")
              == 0);
  free (method);
  xva_value_free (params);
  method = NULL;
  params = NULL;
  st = xva_xmlrpc_parse_call (xml, len, NULL, &method, &params, err,
                              sizeof err);
  CHECK_MSG (st == XVA_OK && xva_value_len (params) == 3, err);
  CHECK (method && strcmp (method, "VM.get_record") == 0);
  free (xml);
  free (method);
  xva_value_free (params);

  /* a call without params */
  st = xva_xmlrpc_parse_call (LIT ("<methodCall><methodName>system.listMethods"
                                   "</methodName></methodCall>"),
                              NULL, &method, &params, err, sizeof err);
  CHECK_MSG (st == XVA_OK && xva_value_len (params) == 0
               && xva_value_type (params) == XVA_TYPE_ARRAY,
             err);
  free (method);
  xva_value_free (params);
  st = xva_xmlrpc_parse_call (LIT ("<methodCall><params/></methodCall>"), NULL,
                              &method, &params, err, sizeof err);
  CHECK (st == XVA_EFORMAT && method == NULL && params == NULL);
  st = xva_xmlrpc_parse_call (LIT ("<value>1</value>"), NULL, &method, &params,
                              err, sizeof err);
  CHECK (st == XVA_EFORMAT);

  /* responses */
  v = xva_value_new_struct ();
  xva_value_set_string (v, "Status", "Success");
  xva_value_set_string (v, "Value", "OpaqueRef:abc");
  CHECK (xva_xmlrpc_format_response (v, &xml, &len) == XVA_OK);
  CHECK (xml
         && strcmp (xml,
                    "<?xml version=\"1.0\"?><methodResponse><params>"
                    "<param><value><struct><member><name>Status</name>"
                    "<value>Success</value></member><member><name>Value"
                    "</name><value>OpaqueRef:abc</value></member>"
                    "</struct></value></param></params></methodResponse>")
              == 0);
  p = NULL;
  st = xva_xmlrpc_parse_response (xml, len, NULL, &p, err, sizeof err);
  CHECK_MSG (st == XVA_OK && Xva_value_equal (p, v), err);
  xva_value_free (p);
  xva_value_free (v);
  free (xml);

  p = NULL;
  st = xva_xmlrpc_parse_response (
    LIT (
      "<?xml version=\"1.0\"?>\n<methodResponse>\n<fault>\n<value><struct>\n"
      "<member><name>faultCode</name><value><int>-32601</int></value>"
      "</member>\n<member><name>faultString</name><value><string>no such "
      "method</string></value></member>\n</struct></value>\n</fault>\n"
      "</methodResponse>\n"),
    NULL, &p, err, sizeof err);
  CHECK_MSG (st == XVA_ESERVER, err);
  CHECK (xva_value_get_int (xva_value_get (p, "faultCode"), &code) == 0
         && code == -32601);
  CHECK (strcmp (xva_value_get_string (p, "faultString"), "no such method")
         == 0);
  CHECK (strstr (err, "no such method") != NULL);
  xva_value_free (p);

  p = NULL;
  st =
    xva_xmlrpc_parse_response (LIT ("<methodResponse><params><param><value>1"
                                    "</value></param><param><value>2</value>"
                                    "</param></params></methodResponse>"),
                               NULL, &p, err, sizeof err);
  CHECK (st == XVA_EFORMAT && p == NULL);
  st = xva_xmlrpc_parse_response (LIT ("<methodResponse></methodResponse>"),
                                  NULL, &p, err, sizeof err);
  CHECK (st == XVA_EFORMAT && p == NULL);
}

int
main (void)
{
  test_write ();
  test_parse ();
  test_round_trip ();
  test_hostile ();
  test_slices ();
  test_large ();
  test_messages ();
  test_threads ();
  HARNESS_DONE ();
}
