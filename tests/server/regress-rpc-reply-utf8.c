/* Regression (found by tests/fuzz/rpc.c): client text echoed in an RPC
 * error could make the reply invalid UTF-8, which no XML parser takes
 * (and jansson neither).  Two ways:
 *   - the XML-RPC parser's message for a bad request quotes the bytes
 *     it choked on, e.g. "<methodName>event&\xffr6;from</methodName>";
 *   - a long unknown method name of multi-byte characters is echoed
 *     cut at a byte count, in the middle of a character.
 * Echoed text now keeps only whole, valid UTF-8 sequences (others are
 * '?').  Each reply must parse back. */
#include "server/srv-test.h"

/* The reply of an XML-RPC body must be a well-formed methodResponse
 * with a Failure and its ErrorDescription. */
static void
check_xml (struct t_env *e, const char *body, const char *code)
{
  struct xva_value *v = NULL;
  const char *got;
  char *out = NULL, err[256] = "";
  size_t outlen = 0;
  int r;

  CHECK (Xva_rpc_xmlrpc (e->srv, body, strlen (body), 1, &out, &outlen)
         == XVA_OK);
  if (out == NULL)
    return;
  r = xva_xmlrpc_parse_response (out, outlen, NULL, &v, err, sizeof err);
  CHECK_MSG (r == XVA_OK, err);
  got = xva_value_string (xva_value_at (xva_value_get (v, "ErrorDescription"),
                                        0));
  CHECK (got != NULL && strcmp (got, code) == 0);
  xva_value_free (v);
  free (out);
}

static void
check_json (struct t_env *e, const char *body)
{
  struct xva_value *v = NULL;
  char *out = NULL, err[256] = "";
  size_t outlen = 0;

  CHECK (Xva_rpc_jsonrpc (e->srv, body, strlen (body), 1, &out, &outlen)
         == XVA_OK);
  if (out == NULL)
    return;
  CHECK_MSG (xva_value_from_json (out, outlen, NULL, &v, err, sizeof err)
               == XVA_OK,
             err);
  CHECK (xva_value_get (v, "error") != NULL);
  xva_value_free (v);
  free (out);
}

int
main (void)
{
  struct t_env e;
  char name[1024], body[2048];
  size_t i, n = 0;

  t_env_open (&e);
  /* A byte that is not UTF-8 inside an entity reference. */
  check_xml (&e,
             "<methodCall><methodName>event&\xffr6;from</methodName>"
             "</methodCall>",
             "XMLRPC_UNMARSHAL_FAILURE");
  check_xml (&e,
             "<methodCall><methodName>a&\xc3;b</methodName>"
             "</methodCall>",
             "XMLRPC_UNMARSHAL_FAILURE");
  /* An unknown method of 2-byte characters, echoed cut; at each offset
   * of the cut. */
  for (i = 0; i < 3; i++) {
    size_t k;

    n = 0;
    for (k = 0; k < i; k++)
      name[n++] = 'x';
    for (k = 0; k < 300; k++) {
      name[n++] = '\xc3';
      name[n++] = '\xa9'; /* U+00E9 */
    }
    name[n] = '\0';
    snprintf (body, sizeof body,
              "<methodCall><methodName>%s</methodName>"
              "</methodCall>",
              name);
    check_xml (&e, body, "MESSAGE_METHOD_UNKNOWN");
    snprintf (body, sizeof body,
              "{\"jsonrpc\":\"2.0\",\"method\":\"%s\","
              "\"params\":[],\"id\":1}",
              name);
    check_json (&e, body);
  }
  t_env_close (&e);
  xva_value_free (t_last_err);
  HARNESS_DONE ();
}
