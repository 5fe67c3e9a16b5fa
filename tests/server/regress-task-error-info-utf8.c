/* Regression (found by tests/fuzz/http.c): a task's error_info quoted
 * client text as it came, e.g. the ref of GET /export?ref=%FF%FF~...
 * The store keeps records as XML, so the task's record could no longer
 * be read: task.get_all_records (and the task's own calls) failed with
 * INTERNAL_ERROR "stored record unreadable" from then on.  Items of an
 * error_info are now cleaned (control bytes and bytes that are not
 * UTF-8 become '?') before they are stored. */
#include "server/srv-test.h"

int
main (void)
{
  static const char *const bad[] = {
    ("\xff\xff~ )A\x13"
     "3x"), /* one string: \x13 then "3x" */
    "a\xc3",
    "\xed\xa0\x80",
    "\xf4\x90\x80\x80",
    "line\nbreak",
    "ok \xc3\xa9",
  };
  struct t_env e;
  struct xva_value *res, *v = NULL;
  const struct xva_value *status;
  char task[XVA_SRV_REF_MAX + 1], code[64], body[512], *out = NULL;
  char err[256] = "";
  size_t i, outlen = 0;
  const char *s;

  t_env_open (&e);
  for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    CHECK (Xva_task_create (e.srv, "export", "", task) == XVA_OK);
    Xva_task_fail_code (e.srv, task, "HANDLE_INVALID", bad[i]);
    res = t_call (e.srv, code, "task.get_error_info", "[\"%s\", \"%s\"]",
                  e.session, task);
    CHECK_MSG (res != NULL, t_err_param (1));
    s = xva_value_string (xva_value_at (res, 1));
    CHECK (s != NULL);
    if (i == 5)
      CHECK (s != NULL && strcmp (s, "ok \xc3\xa9") == 0);
    xva_value_free (res);
  }
  /* The list of every task, and its XML-RPC reply parses back. */
  res = t_call (e.srv, code, "task.get_all_records", "[\"%s\"]", e.session);
  CHECK_MSG (res != NULL, t_err_param (1));
  xva_value_free (res);
  snprintf (body, sizeof body,
            "<methodCall><methodName>task.get_all_records"
            "</methodName><params><param><value>%s</value></param>"
            "</params></methodCall>",
            e.session);
  CHECK (Xva_rpc_xmlrpc (e.srv, body, strlen (body), 1, &out, &outlen)
         == XVA_OK);
  CHECK_MSG (out != NULL
               && xva_xmlrpc_parse_response (out, outlen, NULL, &v, err,
                                             sizeof err)
                    == XVA_OK,
             err);
  status = xva_value_get (v, "Status");
  CHECK (status != NULL && strcmp (xva_value_string (status), "Success") == 0);
  xva_value_free (v);
  free (out);
  t_env_close (&e);
  xva_value_free (t_last_err);
  HARNESS_DONE ();
}
