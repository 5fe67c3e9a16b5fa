/* Fault injection in the value codec: parsing and writing ova.xml,
 * JSON and XML-RPC messages, copying values and building a VM's
 * ova.xml, with the Nth allocation or read failing for every N up to
 * what a successful run makes.  Each must fail with XVA_ENOMEM (or
 * XVA_EIO for a read) and a message where the API has one, or succeed
 * with the same result as without faults; never leak. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xva/xva.h>

#include "common.h"
#include "harness.h"
#include "wrap.h"

struct inputs {
  const struct xva_value *root;
  const char *xml, *json, *call, *resp;
  size_t xml_len, json_len, call_len, resp_len;
  const struct fault_disks *d;
};

/* One operation: returns a status, and in *text a serialised result
 * (malloc'd with the real allocator's free) to compare, or NULL. */
typedef int (*op_fn) (const struct inputs *in, char **text, char *err,
                      size_t errlen);

static char *
to_text (const struct xva_value *v)
{
  char *s = NULL;
  size_t n;

  /* The test's own work: not counted. */
  fault_pause ();
  if (xva_value_to_xml (v, &s, &n) != XVA_OK)
    s = NULL;
  fault_resume ();
  return s;
}

static int
finish_value (struct xva_value *v, int st, char **text)
{
  if (st == XVA_OK || st == XVA_ESERVER) {
    *text = to_text (v);
    if (!*text)
      st = XVA_ENOMEM;
  }
  xva_value_free (v);
  return st;
}

static int
op_from_xml (const struct inputs *in, char **text, char *err, size_t el)
{
  struct xva_value *v = NULL;
  int st = xva_value_from_xml (in->xml, in->xml_len, NULL, &v, err, el);
  return finish_value (v, st, text);
}

static int
op_meta_parse (const struct inputs *in, char **text, char *err, size_t el)
{
  struct xva_meta *m = NULL;
  int st = xva_meta_parse (in->xml, in->xml_len, NULL, &m, err, el);

  if (st == XVA_OK) {
    *text = to_text (xva_meta_root (m));
    if (!*text)
      st = XVA_ENOMEM;
  }
  xva_meta_free (m);
  return st;
}

static int
op_from_json (const struct inputs *in, char **text, char *err, size_t el)
{
  struct xva_value *v = NULL;
  int st = xva_value_from_json (in->json, in->json_len, NULL, &v, err, el);
  return finish_value (v, st, text);
}

static int
op_parse_call (const struct inputs *in, char **text, char *err, size_t el)
{
  struct xva_value *v = NULL;
  char *method = NULL;
  int st = xva_xmlrpc_parse_call (in->call, in->call_len, NULL, &method, &v,
                                  err, el);

  if (st == XVA_OK && strcmp (method, "VM.import") != 0)
    st = XVA_EFORMAT;
  free (method);
  return finish_value (v, st, text);
}

static int
op_parse_response (const struct inputs *in, char **text, char *err, size_t el)
{
  struct xva_value *v = NULL;
  int st = xva_xmlrpc_parse_response (in->resp, in->resp_len, NULL, &v, err,
                                      el);
  return finish_value (v, st, text);
}

static int
op_to_json (const struct inputs *in, char **text, char *err, size_t el)
{
  size_t n;

  (void) err;
  (void) el;
  return xva_value_to_json (in->root, text, &n);
}

static int
op_format_call (const struct inputs *in, char **text, char *err, size_t el)
{
  struct xva_value *params = xva_value_new_array ();
  size_t n;
  int st;

  (void) err;
  (void) el;
  if (!params)
    return XVA_ENOMEM;
  if (xva_value_append (params, xva_value_copy (in->root)) != 0) {
    xva_value_free (params);
    return XVA_ENOMEM;
  }
  st = xva_xmlrpc_format_call ("VM.import", params, text, &n);
  xva_value_free (params);
  return st;
}

static int
op_format_response (const struct inputs *in, char **text, char *err, size_t el)
{
  size_t n;

  (void) err;
  (void) el;
  return xva_xmlrpc_format_response (in->root, text, &n);
}

/* Uuids differ from run to run: compare the disk count only. */
static int
op_build_vm (const struct inputs *in, char **text, char *err, size_t el)
{
  struct xva_vm_spec spec;
  struct xva_value *v;
  struct xva_meta *m = NULL;
  int st = 0;

  (void) err;
  (void) el;
  memset (&spec, 0, sizeof spec);
  spec.name = "fault";
  spec.memory = (uint64_t) 1 << 30;
  spec.vcpus = 2;
  spec.ndisks = FAULT_NDISKS;
  spec.disk_sizes = in->d->size;
  spec.nvifs = 1;
  v = xva_meta_build_vm (&spec, &st);
  if (!v)
    return st;
  st = xva_meta_from_value (v, &m, NULL, 0);
  if (st == XVA_OK) {
    char buf[32];
    snprintf (buf, sizeof buf, "%u disks", xva_meta_ndisks (m));
    *text = __real_strdup (buf);
  }
  xva_meta_free (m);
  return st;
}

struct op {
  const char *name;
  op_fn fn;
  int has_err; /* writes a message into err */
};

static const struct op ops[] = {
  { "xva_value_from_xml", op_from_xml, 1 },
  { "xva_meta_parse", op_meta_parse, 1 },
  { "xva_value_from_json", op_from_json, 1 },
  { "xva_xmlrpc_parse_call", op_parse_call, 1 },
  { "xva_xmlrpc_parse_response", op_parse_response, 1 },
  { "xva_value_to_json", op_to_json, 0 },
  { "xva_xmlrpc_format_call", op_format_call, 0 },
  { "xva_xmlrpc_format_response", op_format_response, 0 },
  { "xva_meta_build_vm", op_build_vm, 0 },
};

static unsigned long injected, survived;

static void
run_op (const struct inputs *in, const struct op *o)
{
  unsigned long calls, n;
  char *want = NULL, *got;
  char err[512];
  int st;

  err[0] = '\0';
  fault_arm (0);
  st = o->fn (in, &want, err, sizeof err);
  calls = fault_disarm ();
  CHECK_MSG (st == XVA_OK && want != NULL, err);
  fprintf (stderr, "%s: %lu calls\n", o->name, calls);

  for (n = 1; n <= calls; n++) {
    enum fault_kind kind;
    int before = harness_failures;

    got = NULL;
    err[0] = '\0';
    fault_arm (n);
    st = o->fn (in, &got, err, sizeof err);
    fault_disarm ();
    kind = fault_fired ();
    if (st == XVA_OK) {
      CHECK (got != NULL && want != NULL && strcmp (got, want) == 0);
    }
    else {
      if (kind == FAULT_NONE || st != fault_expected_status (kind))
        fprintf (stderr, "%s: fault %lu (kind %d): %s: %s\n", o->name, n,
                 (int) kind, xva_status_name (st), err);
      CHECK (kind != FAULT_NONE && st == fault_expected_status (kind));
      CHECK (got == NULL);
      if (o->has_err && err[0] == '\0')
        fprintf (stderr, "%s: fault %lu (kind %d): %s without a message\n",
                 o->name, n, (int) kind, xva_status_name (st));
      if (o->has_err)
        CHECK (err[0] != '\0');
    }
    free (got);
    if (fault_leak_each () && fault_leak_check ()) {
      fprintf (stderr, "%s: leak after fault %lu\n", o->name, n);
      CHECK_MSG (0, "leak");
    }
    if (kind != FAULT_NONE) {
      injected++;
      if (harness_failures == before)
        survived++;
    }
  }
  free (want);
  if (fault_leak_check ()) {
    fprintf (stderr,
             "%s: leak in this series (set FAULT_LEAK_EACH=1 to "
             "find the fault)\n",
             o->name);
    CHECK_MSG (0, "leak");
  }
}

int
main (void)
{
  struct xva_writer_disk wd[FAULT_NDISKS];
  struct xva_value *params, *root;
  struct xva_meta *meta = NULL;
  struct fault_disks d;
  struct inputs in;
  char *xml, *json = NULL, *call = NULL, *resp = NULL;
  size_t i;

  fault_disks_make (&d);
  memset (&in, 0, sizeof in);
  xml = fault_meta (&d, &meta, &in.xml_len, wd);
  if (!xml)
    return 1;
  root = xva_value_copy (xva_meta_root (meta));
  params = xva_value_new_array ();
  if (!root || !params || xva_value_append (params, xva_value_copy (root))
      || xva_value_to_json (root, &json, &in.json_len)
      || xva_xmlrpc_format_call ("VM.import", params, &call, &in.call_len)
      || xva_xmlrpc_format_response (root, &resp, &in.resp_len))
    return 1;
  in.root = root;
  in.xml = xml;
  in.json = json;
  in.call = call;
  in.resp = resp;
  in.d = &d;
  for (i = 0; i < sizeof ops / sizeof ops[0]; i++)
    run_op (&in, &ops[i]);
  printf ("parse: %lu faults injected, %lu survived\n", injected, survived);
  CHECK (injected > 0);
  free (xml);
  free (json);
  free (call);
  free (resp);
  xva_value_free (params);
  xva_value_free (root);
  xva_meta_free (meta);
  fault_disks_free (&d);
  HARNESS_DONE ();
}
