/* The value tree: constructors, getters, set/append/remove, copy, and
 * lookups in a large struct; JSON round trips and JSON limits. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <xva/xva.h>

#include "format/value.h"
#include "harness.h"

static void
test_scalars (void)
{
  struct xva_value *v;
  int64_t i;
  double d;
  int b;

  v = xva_value_new_string ("hello");
  CHECK (xva_value_type (v) == XVA_TYPE_STRING);
  CHECK (strcmp (xva_value_string (v), "hello") == 0);
  CHECK (xva_value_get_int (v, &i) == -1);
  CHECK (xva_value_get_bool (v, &b) == -1);
  CHECK (xva_value_len (v) == 0);
  CHECK (xva_value_at (v, 0) == NULL);
  xva_value_free (v);

  v = xva_value_new_stringn ("abcdef", 3);
  CHECK (strcmp (xva_value_string (v), "abc") == 0);
  CHECK (Xva_value_strlen (v) == 3);
  xva_value_free (v);

  v = xva_value_new_stringn ("a\0b", 3);
  CHECK (Xva_value_strlen (v) == 3);
  CHECK (memcmp (xva_value_string (v), "a\0b", 4) == 0);
  xva_value_free (v);

  v = xva_value_new_int (-42);
  CHECK (xva_value_type (v) == XVA_TYPE_INT);
  CHECK (xva_value_get_int (v, &i) == 0 && i == -42);
  CHECK (xva_value_get_double (v, &d) == 0 && d == -42.0);
  CHECK (xva_value_string (v) == NULL);
  xva_value_free (v);

  v = xva_value_new_int (INT64_MIN);
  CHECK (xva_value_get_int (v, &i) == 0 && i == INT64_MIN);
  xva_value_free (v);

  /* decimal strings count as ints */
  v = xva_value_new_string ("9223372036854775807");
  CHECK (xva_value_get_int (v, &i) == 0 && i == INT64_MAX);
  xva_value_free (v);
  v = xva_value_new_string ("9223372036854775808");
  CHECK (xva_value_get_int (v, &i) == -1);
  xva_value_free (v);
  v = xva_value_new_string ("-17");
  CHECK (xva_value_get_int (v, &i) == 0 && i == -17);
  xva_value_free (v);
  v = xva_value_new_string ("12x");
  CHECK (xva_value_get_int (v, &i) == -1);
  xva_value_free (v);
  v = xva_value_new_string ("");
  CHECK (xva_value_get_int (v, &i) == -1);
  CHECK (xva_value_get_double (v, &d) == -1);
  xva_value_free (v);
  v = xva_value_new_string ("2.5");
  CHECK (xva_value_get_int (v, &i) == -1);
  CHECK (xva_value_get_double (v, &d) == 0 && d == 2.5);
  xva_value_free (v);

  v = xva_value_new_bool (7);
  CHECK (xva_value_type (v) == XVA_TYPE_BOOL);
  CHECK (xva_value_get_bool (v, &b) == 0 && b == 1);
  xva_value_free (v);
  v = xva_value_new_string ("false");
  CHECK (xva_value_get_bool (v, &b) == 0 && b == 0);
  xva_value_free (v);
  v = xva_value_new_string ("1");
  CHECK (xva_value_get_bool (v, &b) == 0 && b == 1);
  xva_value_free (v);
  v = xva_value_new_string ("yes");
  CHECK (xva_value_get_bool (v, &b) == -1);
  xva_value_free (v);

  v = xva_value_new_double (1.5);
  CHECK (xva_value_type (v) == XVA_TYPE_DOUBLE);
  CHECK (xva_value_get_double (v, &d) == 0 && d == 1.5);
  CHECK (xva_value_get_int (v, &i) == -1);
  xva_value_free (v);

  v = xva_value_new_date ("19700101T00:00:00Z");
  CHECK (xva_value_type (v) == XVA_TYPE_DATE);
  CHECK (strcmp (xva_value_string (v), "19700101T00:00:00Z") == 0);
  xva_value_free (v);

  v = xva_value_new_nil ();
  CHECK (xva_value_type (v) == XVA_TYPE_NIL);
  xva_value_free (v);

  xva_value_free (NULL);
  CHECK (xva_value_copy (NULL) == NULL);
  CHECK (xva_value_get_int (NULL, &i) == -1);
  CHECK (xva_value_string (NULL) == NULL);
}

static void
test_containers (void)
{
  struct xva_value *st, *a, *c;
  int64_t i;

  st = xva_value_new_struct ();
  CHECK (xva_value_type (st) == XVA_TYPE_STRUCT);
  CHECK (xva_value_set_string (st, "b", "one") == 0);
  CHECK (xva_value_set_int (st, "a", 2) == 0);
  CHECK (xva_value_set_bool (st, "c", 1) == 0);
  CHECK (xva_value_len (st) == 3);
  CHECK (strcmp (xva_value_key_at (st, 0), "b") == 0);
  CHECK (strcmp (xva_value_key_at (st, 1), "a") == 0);
  CHECK (strcmp (xva_value_key_at (st, 2), "c") == 0);
  CHECK (xva_value_key_at (st, 3) == NULL);
  CHECK (strcmp (xva_value_get_string (st, "b"), "one") == 0);
  CHECK (xva_value_get_string (st, "a") == NULL);
  CHECK (xva_value_get_int (xva_value_get (st, "a"), &i) == 0 && i == 2);
  CHECK (xva_value_get (st, "zz") == NULL);

  /* replacing keeps the position */
  CHECK (xva_value_set_string (st, "a", "two") == 0);
  CHECK (xva_value_len (st) == 3);
  CHECK (strcmp (xva_value_key_at (st, 1), "a") == 0);
  CHECK (strcmp (xva_value_string (xva_value_at (st, 1)), "two") == 0);

  CHECK (xva_value_remove (st, "b") == 0);
  CHECK (xva_value_remove (st, "b") == -1);
  CHECK (xva_value_len (st) == 2);
  CHECK (strcmp (xva_value_key_at (st, 0), "a") == 0);

  /* ownership: set/append take the item even when they fail */
  CHECK (xva_value_set (st, NULL, xva_value_new_int (1)) == -1);
  a = xva_value_new_array ();
  CHECK (xva_value_set (a, "k", xva_value_new_int (1)) == -1);
  CHECK (xva_value_append (st, xva_value_new_int (1)) == -1);
  CHECK (xva_value_append (a, NULL) == -1);
  CHECK (xva_value_append (a, xva_value_new_string ("x")) == 0);
  CHECK (xva_value_append (a, xva_value_new_int (5)) == 0);
  CHECK (xva_value_len (a) == 2);
  CHECK (xva_value_key_at (a, 0) == NULL);
  CHECK (xva_value_get (a, "x") == NULL);
  CHECK (xva_value_get_int (xva_value_at (a, 1), &i) == 0 && i == 5);
  CHECK (xva_value_at (a, 2) == NULL);
  CHECK (xva_value_set (st, "list", a) == 0);

  c = xva_value_copy (st);
  CHECK (c != NULL && c != st);
  CHECK (Xva_value_equal (c, st));
  CHECK (xva_value_set_int (c, "new", 1) == 0);
  CHECK (!Xva_value_equal (c, st));
  CHECK (xva_value_get (st, "new") == NULL);
  xva_value_free (c);
  xva_value_free (st);
}

/* A struct of many members: lookups, replacement in place and removal
 * stay right with the index, and are not quadratic. */
static void
test_big_struct (void)
{
  const unsigned n = 100000;
  struct xva_value *st = xva_value_new_struct (), *c;
  char key[32];
  unsigned i, bad = 0;
  int64_t x;
  clock_t t0 = clock ();

  for (i = 0; i < n; i++) {
    snprintf (key, sizeof key, "key%u", i);
    if (xva_value_set_int (st, key, i) != 0)
      bad++;
  }
  CHECK (bad == 0);
  CHECK (xva_value_len (st) == n);
  /* last wins, in place */
  for (i = 0; i < n; i += 2) {
    snprintf (key, sizeof key, "key%u", i);
    if (xva_value_set_int (st, key, (int64_t) i + 1) != 0)
      bad++;
  }
  CHECK (bad == 0);
  CHECK (xva_value_len (st) == n);
  for (i = 0; i < n; i++) {
    snprintf (key, sizeof key, "key%u", i);
    if (xva_value_get_int (xva_value_get (st, key), &x) != 0
        || x != (int64_t) i + (i % 2 == 0)
        || strcmp (xva_value_key_at (st, i), key) != 0)
      bad++;
  }
  CHECK (bad == 0);
  CHECK (xva_value_remove (st, "key500") == 0);
  CHECK (xva_value_get (st, "key500") == NULL);
  CHECK (xva_value_get (st, "key501") != NULL);
  CHECK (strcmp (xva_value_key_at (st, 500), "key501") == 0);
  c = xva_value_copy (st);
  CHECK (Xva_value_equal (c, st));
  CHECK (xva_value_get_int (xva_value_get (c, "key99999"), &x) == 0
         && x == 99999);
  xva_value_free (c);
  xva_value_free (st);
  /* quadratic would take minutes */
  CHECK ((double) (clock () - t0) / CLOCKS_PER_SEC < 20.0);
}

static void
test_json (void)
{
  struct xva_value *v, *back, *a;
  char *s = NULL, err[256];
  size_t len;
  struct xva_limits lim;
  int64_t i;
  double d;

  v = xva_value_new_struct ();
  xva_value_set_string (v, "s", "a\"b\\c\n\x01 \xc3\xa9");
  xva_value_set_int (v, "i", INT64_MIN);
  xva_value_set_bool (v, "t", 1);
  xva_value_set (v, "d", xva_value_new_double (0.1));
  xva_value_set (v, "one", xva_value_new_double (1.0));
  xva_value_set (v, "n", xva_value_new_nil ());
  a = xva_value_new_array ();
  xva_value_append (a, xva_value_new_int (1));
  xva_value_append (a, xva_value_new_struct ());
  xva_value_set (v, "a", a);
  CHECK (xva_value_to_json (v, &s, &len) == XVA_OK);
  CHECK (s && strlen (s) == len);
  CHECK (s
         && strcmp (s,
                    "{\"s\":\"a\\\"b\\\\c\\n\\u0001 \xc3\xa9\","
                    "\"i\":-9223372036854775808,\"t\":true,\"d\":0.1,"
                    "\"one\":1.0,\"n\":null,\"a\":[1,{}]}")
              == 0);
  CHECK (xva_value_from_json (s, len, NULL, &back, err, sizeof err) == XVA_OK);
  CHECK (Xva_value_equal (v, back));
  xva_value_free (back);
  free (s);
  xva_value_free (v);

  /* DATE is written as its string; invalid UTF-8 becomes U+FFFD */
  v = xva_value_new_array ();
  xva_value_append (v, xva_value_new_date ("20240101T00:00:00Z"));
  xva_value_append (v, xva_value_new_string ("\xff"));
  CHECK (xva_value_to_json (v, &s, NULL) == XVA_OK);
  CHECK (s && strcmp (s, "[\"20240101T00:00:00Z\",\"\xef\xbf\xbd\"]") == 0);
  free (s);
  xva_value_free (v);

  /* parse: integers, doubles, duplicates (last wins) */
  CHECK (xva_value_from_json ("{\"a\":1,\"b\":2.5,\"a\":3}", 21, NULL, &v, err,
                              sizeof err)
         == XVA_OK);
  CHECK (xva_value_len (v) == 2);
  CHECK (xva_value_type (xva_value_get (v, "a")) == XVA_TYPE_INT);
  CHECK (xva_value_get_int (xva_value_get (v, "a"), &i) == 0 && i == 3);
  CHECK (xva_value_type (xva_value_get (v, "b")) == XVA_TYPE_DOUBLE);
  CHECK (xva_value_get_double (xva_value_get (v, "b"), &d) == 0 && d == 2.5);
  xva_value_free (v);

  CHECK (xva_value_from_json ("99999999999999999999", 20, NULL, &v, err,
                              sizeof err)
           < 0
         && v == NULL);
  CHECK (xva_value_from_json ("{\"a\":", 5, NULL, &v, err, sizeof err)
         == XVA_EFORMAT);
  CHECK (strstr (err, "JSON") != NULL);
  CHECK (xva_value_from_json ("", 0, NULL, &v, err, sizeof err)
         == XVA_EFORMAT);

  memset (&lim, 0, sizeof lim);
  lim.max_depth = 3;
  CHECK (xva_value_from_json ("[[[1]]]", 7, &lim, &v, err, sizeof err)
         == XVA_OK);
  xva_value_free (v);
  CHECK (xva_value_from_json ("[[[[1]]]]", 9, &lim, &v, err, sizeof err)
         == XVA_ELIMIT);
  memset (&lim, 0, sizeof lim);
  lim.max_nodes = 3;
  CHECK (xva_value_from_json ("[1,2]", 5, &lim, &v, err, sizeof err)
         == XVA_OK);
  xva_value_free (v);
  CHECK (xva_value_from_json ("[1,2,3]", 7, &lim, &v, err, sizeof err)
         == XVA_ELIMIT);
  memset (&lim, 0, sizeof lim);
  lim.max_string = 3;
  CHECK (xva_value_from_json ("\"abcd\"", 6, &lim, &v, err, sizeof err)
         == XVA_ELIMIT);
  CHECK (xva_value_from_json ("{\"abcd\":1}", 10, &lim, &v, err, sizeof err)
         == XVA_ELIMIT);
  memset (&lim, 0, sizeof lim);
  lim.max_bytes = 4;
  CHECK (xva_value_from_json ("12345", 5, &lim, &v, err, sizeof err)
         == XVA_ELIMIT);
}

static void
test_limits (void)
{
  struct xva_limits lim;

  memset (&lim, 0xff, sizeof lim);
  xva_limits_init (&lim);
  CHECK (lim.max_bytes == (size_t) 64 << 20);
  CHECK (lim.max_depth == 64);
  CHECK (lim.max_nodes == (size_t) 4 << 20);
  CHECK (lim.max_string == (size_t) 16 << 20);
}

int
main (void)
{
  test_scalars ();
  test_containers ();
  test_big_struct ();
  test_json ();
  test_limits ();
  HARNESS_DONE ();
}
