/* The RPC surface: every method with the right and a wrong number of
 * params, none (but login and listMethods) without a session, the
 * getters over a populated store, pool.set_default_SR, the other_config
 * maps and VM.destroy. */
#include "server/srv-test.h"

#include "store/busy.h"

/* ---- A populated store --------------------------------------------------- */

/* Named objects: name -> ref / uuid. */
#define NOBJ 32
static struct {
  char name[32];
  char ref[XVA_SRV_REF_MAX + 1];
  char uuid[XVA_STORE_UUID_LEN + 1];
} objs[NOBJ];
static size_t nobjs;

static const char *
obj (const char *name, int want_uuid)
{
  size_t i;

  for (i = 0; i < nobjs; i++)
    if (strcmp (objs[i].name, name) == 0)
      return want_uuid ? objs[i].uuid : objs[i].ref;
  fprintf (stderr, "no test object %s\n", name);
  exit (1);
}

static void
obj_set (const char *name, const char *ref, const char *uuid)
{
  if (nobjs == NOBJ)
    exit (1);
  snprintf (objs[nobjs].name, sizeof objs[nobjs].name, "%s", name);
  snprintf (objs[nobjs].ref, sizeof objs[nobjs].ref, "%s", ref);
  snprintf (objs[nobjs].uuid, sizeof objs[nobjs].uuid, "%s", uuid);
  nobjs++;
}

static void
obj_new (const char *name)
{
  char ref[XVA_STORE_REF_MAX + 1], uuid[XVA_STORE_UUID_LEN + 1];

  if (Xva_store_new_ref (ref) != XVA_OK || Xva_store_new_uuid (uuid) != XVA_OK)
    exit (1);
  obj_set (name, ref, uuid);
}

/* Replaces @name (ref) and @name.uuid in tpl. */
static void
subst (char *out, size_t len, const char *tpl)
{
  size_t o = 0;

  while (*tpl && o + 1 < len) {
    if (*tpl == '@') {
      char name[40];
      size_t n = 0;
      int uuid = 0;
      const char *v;

      tpl++;
      while ((*tpl >= 'a' && *tpl <= 'z') || (*tpl >= '0' && *tpl <= '9'))
        if (n + 1 < sizeof name)
          name[n++] = *tpl++;
      name[n] = '\0';
      if (strncmp (tpl, ".uuid", 5) == 0) {
        uuid = 1;
        tpl += 5;
      }
      v = obj (name, uuid);
      o += (size_t) snprintf (out + o, len - o, "%s", v);
      if (o >= len)
        o = len - 1;
    }
    else
      out[o++] = *tpl++;
  }
  out[o] = '\0';
}

static void
put (struct t_env *e, const char *cls, const char *name, const char *tpl)
{
  char json[4096];
  struct xva_value *rec;

  subst (json, sizeof json, tpl);
  rec = t_json ("%s", json);
  if (Xva_store_put (e->store, NULL, obj (name, 0), cls, rec) != XVA_OK) {
    fprintf (stderr, "put %s: %s\n", name, Xva_store_errmsg (NULL));
    exit (1);
  }
  xva_value_free (rec);
}

static char img_a[4096], img_b[4096];

static void
populate (struct t_env *e)
{
  struct Xva_store_list l;
  char ref[XVA_STORE_REF_MAX + 1];
  struct xva_value *rec = NULL;
  FILE *f;

  if (Xva_store_list (e->store, NULL, "pool", 1, &l) != XVA_OK || l.n != 1)
    exit (1);
  obj_set ("pool", l.refs[0], xva_value_get_string (l.recs[0], "uuid"));
  Xva_store_list_free (&l);
  if (Xva_store_list (e->store, NULL, "host", 1, &l) != XVA_OK || l.n != 1)
    exit (1);
  obj_set ("host", l.refs[0], xva_value_get_string (l.recs[0], "uuid"));
  Xva_store_list_free (&l);
  if (Xva_store_default_sr (e->store, NULL, ref) != XVA_OK
      || Xva_store_get (e->store, NULL, ref, NULL, &rec) != XVA_OK)
    exit (1);
  obj_set ("sr", ref, xva_value_get_string (rec, "uuid"));
  xva_value_free (rec);

  obj_new ("vm");
  obj_new ("vm2");
  obj_new ("vm3");
  obj_new ("vbd");
  obj_new ("vbd2");
  obj_new ("vbdcd");
  obj_new ("vbd3");
  obj_new ("vdi");
  obj_new ("vdib");
  obj_new ("vif");
  obj_new ("net");
  obj_new ("metrics");

  put (
    e, "VM", "vm",
    "{\"uuid\": \"@vm.uuid\", \"name_label\": \"vm1\","
    " \"power_state\": \"Halted\", \"memory_static_max\": \"1073741824\","
    " \"VCPUs_max\": \"2\", \"domid\": \"-1\", \"is_control_domain\": false,"
    " \"VBDs\": [\"@vbd\", \"@vbd2\", \"@vbdcd\"], \"VIFs\": [\"@vif\"],"
    " \"suspend_VDI\": \"OpaqueRef:NULL\", \"metrics\": \"@metrics\","
    " \"other_config\": {}}");
  put (e, "VM_metrics", "metrics", "{\"uuid\": \"@metrics.uuid\"}");
  put (e, "VM", "vm2",
       "{\"uuid\": \"@vm2.uuid\", \"name_label\": \"vm2\","
       " \"power_state\": \"Running\", \"VBDs\": [\"@vbd3\"], \"VIFs\": []}");
  put (e, "VM", "vm3",
       "{\"uuid\": \"@vm3.uuid\", \"name_label\": \"vm3\","
       " \"power_state\": \"Halted\", \"VBDs\": [], \"VIFs\": []}");
  put (e, "VBD", "vbd",
       "{\"uuid\": \"@vbd.uuid\", \"VM\": \"@vm\", \"VDI\": \"@vdi\","
       " \"type\": \"Disk\", \"userdevice\": \"0\"}");
  put (e, "VBD", "vbd2",
       "{\"uuid\": \"@vbd2.uuid\", \"VM\": \"@vm\", \"VDI\": \"@vdib\","
       " \"type\": \"Disk\", \"userdevice\": \"1\"}");
  put (
    e, "VBD", "vbdcd",
    "{\"uuid\": \"@vbdcd.uuid\", \"VM\": \"@vm\","
    " \"VDI\": \"OpaqueRef:NULL\", \"type\": \"CD\", \"userdevice\": \"3\"}");
  put (e, "VBD", "vbd3",
       "{\"uuid\": \"@vbd3.uuid\", \"VM\": \"@vm2\", \"VDI\": \"@vdib\","
       " \"type\": \"Disk\", \"userdevice\": \"0\"}");
  put (e, "VDI", "vdi",
       "{\"uuid\": \"@vdi.uuid\", \"name_label\": \"disk-a\","
       " \"location\": \"@vdi.uuid\", \"SR\": \"@sr\","
       " \"virtual_size\": \"1048576\", \"physical_utilisation\": \"4096\","
       " \"VBDs\": [\"@vbd\"]}");
  put (e, "VDI", "vdib",
       "{\"uuid\": \"@vdib.uuid\", \"name_label\": \"disk-b\","
       " \"location\": \"@vdib.uuid\", \"SR\": \"@sr\","
       " \"virtual_size\": \"2097152\", \"VBDs\": [\"@vbd2\", \"@vbd3\"]}");
  put (
    e, "VIF", "vif",
    "{\"uuid\": \"@vif.uuid\", \"VM\": \"@vm\", \"network\": \"@net\","
    " \"MAC\": \"aa:bb:cc:dd:ee:ff\", \"MTU\": \"1500\", \"device\": \"0\"}");
  put (e, "network", "net",
       "{\"uuid\": \"@net.uuid\", \"name_label\": \"net0\","
       " \"VIFs\": [\"@vif\"], \"MTU\": \"1500\", \"bridge\": \"xenbr0\"}");

  /* The SR lists both disks; both have images. */
  if (Xva_store_get (e->store, NULL, obj ("sr", 0), NULL, &rec) != XVA_OK)
    exit (1);
  xva_value_set (rec, "VDIs",
                 t_json ("[\"%s\", \"%s\"]", obj ("vdi", 0), obj ("vdib", 0)));
  if (Xva_store_put (e->store, NULL, obj ("sr", 0), "SR", rec) != XVA_OK)
    exit (1);
  xva_value_free (rec);
  if (Xva_store_vdi_path (e->store, obj ("sr", 1), obj ("vdi", 1), img_a,
                          sizeof img_a)
        != XVA_OK
      || Xva_store_vdi_path (e->store, obj ("sr", 1), obj ("vdib", 1), img_b,
                             sizeof img_b)
           != XVA_OK)
    exit (1);
  f = fopen (img_a, "w");
  if (f == NULL || fclose (f) != 0)
    exit (1);
  f = fopen (img_b, "w");
  if (f == NULL || fclose (f) != 0)
    exit (1);
  obj_new ("task");
  obj_new ("task2");
  obj_new ("task3");
}

/* ---- Every method, right and wrong param counts ---------------------------- */

struct mcase {
  const char *method;
  const char *args; /* JSON after the session ("" for none) */
  const char *want; /* NULL: success; else the error code */
};

static const struct mcase cases[] = {
  { "pool.get_all", "", NULL },
  { "pool.get_all_records", "", NULL },
  { "pool.get_record", ", \"@pool\"", NULL },
  { "pool.get_by_uuid", ", \"@pool.uuid\"", NULL },
  { "pool.get_uuid", ", \"@pool\"", NULL },
  { "pool.get_default_SR", ", \"@pool\"", NULL },
  { "pool.set_default_SR", ", \"@pool\", \"@sr\"", NULL },
  { "pool.get_other_config", ", \"@pool\"", NULL },
  { "pool.add_to_other_config", ", \"@pool\", \"k\", \"v\"", NULL },
  { "pool.remove_from_other_config", ", \"@pool\", \"k\"", NULL },
  { "host.get_all", "", NULL },
  { "host.get_all_records", "", NULL },
  { "host.get_record", ", \"@host\"", NULL },
  { "host.get_by_uuid", ", \"@host.uuid\"", NULL },
  { "host.get_uuid", ", \"@host\"", NULL },
  { "host.get_by_name_label", ", \"no such host\"", NULL },
  { "host.get_name_label", ", \"@host\"", NULL },
  { "host.get_other_config", ", \"@host\"", NULL },
  { "host.add_to_other_config", ", \"@host\", \"k\", \"v\"", NULL },
  { "host.remove_from_other_config", ", \"@host\", \"k\"", NULL },
  { "VM.get_all", "", NULL },
  { "VM.get_all_records", "", NULL },
  { "VM.get_record", ", \"@vm\"", NULL },
  { "VM.get_by_uuid", ", \"@vm.uuid\"", NULL },
  { "VM.get_uuid", ", \"@vm\"", NULL },
  { "VM.get_by_name_label", ", \"vm1\"", NULL },
  { "VM.get_name_label", ", \"@vm\"", NULL },
  { "VM.destroy", ", \"@vm3\"", NULL },
  { "VM.get_VBDs", ", \"@vm\"", NULL },
  { "VM.get_VIFs", ", \"@vm\"", NULL },
  { "VM.get_power_state", ", \"@vm\"", NULL },
  { "VM.get_other_config", ", \"@vm\"", NULL },
  { "VM.add_to_other_config", ", \"@vm\", \"k\", \"v\"", NULL },
  { "VM.remove_from_other_config", ", \"@vm\", \"k\"", NULL },
  { "VBD.get_all", "", NULL },
  { "VBD.get_all_records", "", NULL },
  { "VBD.get_record", ", \"@vbd\"", NULL },
  { "VBD.get_by_uuid", ", \"@vbd.uuid\"", NULL },
  { "VBD.get_uuid", ", \"@vbd\"", NULL },
  { "VBD.get_other_config", ", \"@vbd\"", NULL },
  { "VBD.add_to_other_config", ", \"@vbd\", \"k\", \"v\"", NULL },
  { "VBD.remove_from_other_config", ", \"@vbd\", \"k\"", NULL },
  { "VDI.get_all", "", NULL },
  { "VDI.get_all_records", "", NULL },
  { "VDI.get_record", ", \"@vdi\"", NULL },
  { "VDI.get_by_uuid", ", \"@vdi.uuid\"", NULL },
  { "VDI.get_uuid", ", \"@vdi\"", NULL },
  { "VDI.get_by_name_label", ", \"disk-a\"", NULL },
  { "VDI.get_name_label", ", \"@vdi\"", NULL },
  { "VDI.get_virtual_size", ", \"@vdi\"", NULL },
  { "VDI.get_other_config", ", \"@vdi\"", NULL },
  { "VDI.add_to_other_config", ", \"@vdi\", \"k\", \"v\"", NULL },
  { "VDI.remove_from_other_config", ", \"@vdi\", \"k\"", NULL },
  { "VIF.get_all", "", NULL },
  { "VIF.get_all_records", "", NULL },
  { "VIF.get_record", ", \"@vif\"", NULL },
  { "VIF.get_by_uuid", ", \"@vif.uuid\"", NULL },
  { "VIF.get_uuid", ", \"@vif\"", NULL },
  { "VIF.get_other_config", ", \"@vif\"", NULL },
  { "VIF.add_to_other_config", ", \"@vif\", \"k\", \"v\"", NULL },
  { "VIF.remove_from_other_config", ", \"@vif\", \"k\"", NULL },
  { "SR.get_all", "", NULL },
  { "SR.get_all_records", "", NULL },
  { "SR.get_record", ", \"@sr\"", NULL },
  { "SR.get_by_uuid", ", \"@sr.uuid\"", NULL },
  { "SR.get_uuid", ", \"@sr\"", NULL },
  { "SR.get_by_name_label", ", \"Local storage\"", NULL },
  { "SR.get_name_label", ", \"@sr\"", NULL },
  { "SR.get_other_config", ", \"@sr\"", NULL },
  { "SR.add_to_other_config", ", \"@sr\", \"k\", \"v\"", NULL },
  { "SR.remove_from_other_config", ", \"@sr\", \"k\"", NULL },
  { "network.get_all", "", NULL },
  { "network.get_all_records", "", NULL },
  { "network.get_record", ", \"@net\"", NULL },
  { "network.get_by_uuid", ", \"@net.uuid\"", NULL },
  { "network.get_uuid", ", \"@net\"", NULL },
  { "network.get_by_name_label", ", \"net0\"", NULL },
  { "network.get_name_label", ", \"@net\"", NULL },
  { "network.get_other_config", ", \"@net\"", NULL },
  { "network.add_to_other_config", ", \"@net\", \"k\", \"v\"", NULL },
  { "network.remove_from_other_config", ", \"@net\", \"k\"", NULL },
  { "task.create", ", \"t0\", \"d0\"", NULL },
  { "task.get_all", "", NULL },
  { "task.get_all_records", "", NULL },
  { "task.get_record", ", \"@task\"", NULL },
  { "task.get_by_uuid", ", \"@task.uuid\"", NULL },
  { "task.get_uuid", ", \"@task\"", NULL },
  { "task.get_by_name_label", ", \"t1\"", NULL },
  { "task.get_name_label", ", \"@task\"", NULL },
  { "task.get_status", ", \"@task\"", NULL },
  { "task.get_progress", ", \"@task\"", NULL },
  { "task.get_result", ", \"@task\"", NULL },
  { "task.get_error_info", ", \"@task\"", NULL },
  { "task.cancel", ", \"@task2\"", NULL },
  { "task.destroy", ", \"@task3\"", NULL },
  { "task.set_status", ", \"@task\", \"pending\"", NULL },
  { "task.set_progress", ", \"@task\", 0.5", NULL },
  { "event.inject", ", \"pool\", \"@pool\"", NULL },
  { "event.from", ", [\"pool\"], \"\", 0.0", NULL },
  /* Errors of the right shape. */
  { "VM.get_record", ", \"@vdi\"", "HANDLE_INVALID" },
  { "VM.get_by_uuid", ", \"00000000-0000-0000-0000-000000000000\"",
    "UUID_INVALID" },
  { "VM.get_record", ", 5", "FIELD_TYPE_ERROR" },
  { "VM.frobnicate", ", \"@vm\"", "MESSAGE_METHOD_UNKNOWN" },
};

#define NCASES (sizeof cases / sizeof cases[0])

static size_t
count_args (const char *json_after_session)
{
  char buf[4200];
  struct xva_value *v;
  size_t n;

  snprintf (buf, sizeof buf, "[\"s\"%s]", json_after_session);
  v = t_json ("%s", buf);
  n = xva_value_len (v);
  xva_value_free (v);
  return n;
}

/* Makes the real tasks the cases name (@task, @task2, @task3). */
static void
make_tasks (struct t_env *e)
{
  const char *names[3] = { "task", "task2", "task3" };
  char ref[XVA_SRV_REF_MAX + 1];
  struct xva_value *rec = NULL;
  size_t i, k;

  for (i = 0; i < 3; i++) {
    CHECK (t_call_str (e->srv, ref, sizeof ref, "task.create",
                       "[\"%s\", \"t1\", \"\"]", e->session)
           == 0);
    for (k = 0; k < nobjs; k++)
      if (strcmp (objs[k].name, names[i]) == 0) {
        snprintf (objs[k].ref, sizeof objs[k].ref, "%s", ref);
        if (Xva_store_get (e->store, NULL, ref, NULL, &rec) == XVA_OK)
          snprintf (objs[k].uuid, sizeof objs[k].uuid, "%s",
                    xva_value_get_string (rec, "uuid"));
        xva_value_free (rec);
        rec = NULL;
      }
  }
}

static void
test_counts (struct t_env *e, const struct xva_value *listed)
{
  char args[4096], code[64], want[16], got[16];
  struct xva_value *v;
  size_t i, j, n;

  for (i = 0; i < NCASES; i++) {
    const struct mcase *mc = &cases[i];

    subst (args, sizeof args, mc->args);
    n = count_args (args);
    /* One param too many: refused before anything is done. */
    v = t_call (e->srv, code, mc->method, "[\"%s\"%s, \"extra\"]", e->session,
                args);
    if (mc->want && strcmp (mc->want, "MESSAGE_METHOD_UNKNOWN") == 0) {
      CHECK_MSG (v == NULL && strcmp (code, mc->want) == 0, mc->method);
      CHECK_MSG (strcmp (t_err_param (1), mc->method) == 0, mc->method);
      xva_value_free (v);
      continue;
    }
    CHECK_MSG (v == NULL
                 && strcmp (code, "MESSAGE_PARAMETER_COUNT_MISMATCH") == 0,
               mc->method);
    snprintf (want, sizeof want, "%zu", n);
    snprintf (got, sizeof got, "%zu", n + 1);
    CHECK_MSG (strcmp (t_err_param (1), mc->method) == 0, mc->method);
    CHECK_MSG (strcmp (t_err_param (2), want) == 0, mc->method);
    CHECK_MSG (strcmp (t_err_param (3), got) == 0, mc->method);
    xva_value_free (v);
    /* One too few (the session alone, or nothing). */
    if (n > 1)
      v = t_call (e->srv, code, mc->method, "[\"%s\"]", e->session);
    else
      v = t_call (e->srv, code, mc->method, "[]");
    CHECK_MSG (v == NULL
                 && strcmp (code, "MESSAGE_PARAMETER_COUNT_MISMATCH") == 0,
               mc->method);
    xva_value_free (v);
    /* The right count. */
    v = t_call (e->srv, code, mc->method, "[\"%s\"%s]", e->session, args);
    if (mc->want == NULL)
      CHECK_MSG (v != NULL && code[0] == '\0', mc->method);
    else
      CHECK_MSG (v == NULL && strcmp (code, mc->want) == 0, mc->method);
    if (v == NULL && mc->want == NULL)
      fprintf (stderr, "  %s: %s %s\n", mc->method, code, t_err_param (1));
    xva_value_free (v);
  }
  /* Every listed method (bar the two without a session) is covered. */
  for (j = 0; j < xva_value_len (listed); j++) {
    const char *m = xva_value_string (xva_value_at (listed, j));
    int found = strcmp (m, "system.listMethods") == 0
                || strcmp (m, "session.login_with_password") == 0
                || strcmp (m, "session.logout") == 0;
    for (i = 0; !found && i < NCASES; i++)
      found = strcmp (cases[i].method, m) == 0 && cases[i].want == NULL;
    CHECK_MSG (found, m);
  }
  /* The three without cases above. */
  v = t_call (e->srv, code, "system.listMethods", "[\"x\"]");
  CHECK (v == NULL && strcmp (code, "MESSAGE_PARAMETER_COUNT_MISMATCH") == 0);
  xva_value_free (v);
  v = t_call (e->srv, code, "system.listMethods", NULL);
  CHECK (v != NULL);
  xva_value_free (v);
  v = t_call (e->srv, code, "session.logout", "[\"%s\", 1]", e->session);
  CHECK (v == NULL && strcmp (code, "MESSAGE_PARAMETER_COUNT_MISMATCH") == 0);
  xva_value_free (v);
}

/* Every method but login and listMethods refuses a bad session, found
 * from system.listMethods so that none is missed. */
static void
test_no_session (struct t_env *e, const struct xva_value *listed)
{
  char json[1024], code[64], dead[XVA_SRV_REF_MAX + 1];
  const char *sessions[3];
  struct xva_value *v;
  size_t i, k, n, s;

  CHECK (Xva_session_login (e->srv, "root", NULL, 1, dead) == XVA_OK);
  Xva_session_logout (e->srv, dead);
  sessions[0] = "OpaqueRef:bogus";
  sessions[1] = dead;
  sessions[2] = "";
  for (i = 0; i < xva_value_len (listed); i++) {
    const char *m = xva_value_string (xva_value_at (listed, i));

    if (strcmp (m, "system.listMethods") == 0
        || strcmp (m, "session.login_with_password") == 0)
      continue;
    /* Learn the count from the mismatch error, then call with it. */
    v = t_call (e->srv, code, m, "[\"OpaqueRef:bogus\", 1, 2, 3, 4, 5, 6]");
    CHECK_MSG (v == NULL
                 && strcmp (code, "MESSAGE_PARAMETER_COUNT_MISMATCH") == 0,
               m);
    xva_value_free (v);
    n = (size_t) strtoul (t_err_param (2), NULL, 10);
    CHECK_MSG (n >= 1 && n <= 4, m);
    for (s = 0; s < 3; s++) {
      size_t o = (size_t) snprintf (json, sizeof json, "[\"%s\"", sessions[s]);
      for (k = 1; k < n && o < sizeof json; k++)
        o += (size_t) snprintf (json + o, sizeof json - o, ", \"x\"");
      snprintf (json + o, sizeof json - o, "]");
      v = t_call (e->srv, code, m, "%s", json);
      CHECK_MSG (v == NULL && strcmp (code, "SESSION_INVALID") == 0, m);
      xva_value_free (v);
    }
  }
}

/* ---- Getters and records ----------------------------------------------------- */

static void
test_getters (struct t_env *e)
{
  char code[64];
  struct xva_value *v, *r;
  int64_t i;

  v = t_call (e->srv, code, "VDI.get_virtual_size", "[\"%s\", \"%s\"]",
              e->session, obj ("vdi", 0));
  CHECK (xva_value_type (v) == XVA_TYPE_INT);
  CHECK (xva_value_get_int (v, &i) == 0 && i == 1048576);
  xva_value_free (v);

  v = t_call (e->srv, code, "VM.get_record", "[\"%s\", \"%s\"]", e->session,
              obj ("vm", 0));
  CHECK (xva_value_type (xva_value_get (v, "memory_static_max"))
         == XVA_TYPE_INT);
  CHECK (xva_value_get_int (xva_value_get (v, "memory_static_max"), &i) == 0
         && i == 1073741824);
  CHECK (xva_value_type (xva_value_get (v, "VCPUs_max")) == XVA_TYPE_INT);
  CHECK (xva_value_get_int (xva_value_get (v, "domid"), &i) == 0 && i == -1);
  CHECK (xva_value_type (xva_value_get (v, "name_label")) == XVA_TYPE_STRING);
  CHECK (xva_value_type (xva_value_get (v, "is_control_domain"))
         == XVA_TYPE_BOOL);
  xva_value_free (v);

  v = t_call (e->srv, code, "SR.get_all_records", "[\"%s\"]", e->session);
  r = xva_value_get (v, obj ("sr", 0));
  CHECK (r != NULL);
  CHECK (xva_value_type (xva_value_get (r, "physical_size")) == XVA_TYPE_INT);
  xva_value_free (v);

  v = t_call (e->srv, code, "VM.get_all_records", "[\"%s\"]", e->session);
  CHECK (xva_value_type (v) == XVA_TYPE_STRUCT && xva_value_len (v) == 3);
  r = xva_value_get (v, obj ("vm", 0));
  CHECK (r != NULL
         && strcmp (xva_value_get_string (r, "name_label"), "vm1") == 0);
  xva_value_free (v);

  v = t_call (e->srv, code, "VM.get_all", "[\"%s\"]", e->session);
  CHECK (xva_value_type (v) == XVA_TYPE_ARRAY && xva_value_len (v) == 3);
  xva_value_free (v);

  v = t_call (e->srv, code, "VM.get_VBDs", "[\"%s\", \"%s\"]", e->session,
              obj ("vm", 0));
  CHECK (xva_value_len (v) == 3);
  xva_value_free (v);
  v = t_call (e->srv, code, "VM.get_VIFs", "[\"%s\", \"%s\"]", e->session,
              obj ("vm", 0));
  CHECK (xva_value_len (v) == 1
         && strcmp (xva_value_string (xva_value_at (v, 0)), obj ("vif", 0))
              == 0);
  xva_value_free (v);
  v = t_call (e->srv, code, "VM.get_power_state", "[\"%s\", \"%s\"]",
              e->session, obj ("vm", 0));
  CHECK (v && strcmp (xva_value_string (v), "Halted") == 0);
  xva_value_free (v);

  v = t_call (e->srv, code, "VM.get_by_name_label", "[\"%s\", \"vm1\"]",
              e->session);
  CHECK (xva_value_len (v) == 1
         && strcmp (xva_value_string (xva_value_at (v, 0)), obj ("vm", 0))
              == 0);
  xva_value_free (v);
  v = t_call (e->srv, code, "VM.get_by_name_label", "[\"%s\", \"none\"]",
              e->session);
  CHECK (xva_value_type (v) == XVA_TYPE_ARRAY && xva_value_len (v) == 0);
  xva_value_free (v);
  v = t_call (e->srv, code, "VM.get_by_uuid", "[\"%s\", \"%s\"]", e->session,
              obj ("vm", 1));
  CHECK (v && strcmp (xva_value_string (v), obj ("vm", 0)) == 0);
  xva_value_free (v);
  v = t_call (e->srv, code, "VM.get_uuid", "[\"%s\", \"%s\"]", e->session,
              obj ("vm", 0));
  CHECK (v && strcmp (xva_value_string (v), obj ("vm", 1)) == 0);
  xva_value_free (v);

  /* A uuid of another class is no VM. */
  v = t_call (e->srv, code, "VM.get_by_uuid", "[\"%s\", \"%s\"]", e->session,
              obj ("vdi", 1));
  CHECK (v == NULL && strcmp (code, "UUID_INVALID") == 0);
  CHECK (strcmp (t_err_param (1), "VM") == 0);
  CHECK (strcmp (t_err_param (2), obj ("vdi", 1)) == 0);
  xva_value_free (v);
  v = t_call (e->srv, code, "VM.get_record", "[\"%s\", \"%s\"]", e->session,
              obj ("vdi", 0));
  CHECK (v == NULL && strcmp (code, "HANDLE_INVALID") == 0);
  CHECK (strcmp (t_err_param (1), "VM") == 0);
  CHECK (strcmp (t_err_param (2), obj ("vdi", 0)) == 0);
  xva_value_free (v);
  v = t_call (e->srv, code, "VDI.get_record", "[\"%s\", \"OpaqueRef:NULL\"]",
              e->session);
  CHECK (v == NULL && strcmp (code, "HANDLE_INVALID") == 0);
  xva_value_free (v);

  /* pool and host as clients read them. */
  v = t_call (e->srv, code, "pool.get_all_records", "[\"%s\"]", e->session);
  CHECK (xva_value_len (v) == 1);
  r = xva_value_at (v, 0);
  CHECK (xva_value_get_string (r, "default_SR") != NULL);
  CHECK (xva_value_get_string (r, "master") != NULL
         && strcmp (xva_value_get_string (r, "master"), obj ("host", 0)) == 0);
  CHECK (xva_value_get_string (r, "name_label") != NULL);
  CHECK (xva_value_get_string (r, "uuid") != NULL);
  CHECK (xva_value_type (xva_value_get (r, "other_config"))
         == XVA_TYPE_STRUCT);
  xva_value_free (v);
  v = t_call (e->srv, code, "host.get_record", "[\"%s\", \"%s\"]", e->session,
              obj ("host", 0));
  CHECK (v && xva_value_get_string (v, "address") != NULL);
  CHECK (xva_value_type (xva_value_get (v, "API_version_major"))
         == XVA_TYPE_INT);
  xva_value_free (v);
}

static void
test_default_sr (struct t_env *e)
{
  char sr2[XVA_STORE_REF_MAX + 1], got[XVA_SRV_REF_MAX + 1], code[64];
  struct xva_value *v;

  CHECK (Xva_store_sr_create (e->store, "second", sr2, NULL) == XVA_OK);
  v = t_call (e->srv, code, "pool.set_default_SR", "[\"%s\", \"%s\", \"%s\"]",
              e->session, obj ("pool", 0), sr2);
  CHECK (v != NULL);
  xva_value_free (v);
  CHECK (t_call_str (e->srv, got, sizeof got, "pool.get_default_SR",
                     "[\"%s\", \"%s\"]", e->session, obj ("pool", 0))
         == 0);
  CHECK (strcmp (got, sr2) == 0);
  CHECK (Xva_store_default_sr (e->store, NULL, got) == XVA_OK
         && strcmp (got, sr2) == 0);
  v = t_call (e->srv, code, "pool.set_default_SR", "[\"%s\", \"%s\", \"%s\"]",
              e->session, obj ("pool", 0), obj ("vm", 0));
  CHECK (v == NULL && strcmp (code, "HANDLE_INVALID") == 0);
  CHECK (strcmp (t_err_param (1), "SR") == 0);
  xva_value_free (v);
  v = t_call (e->srv, code, "pool.set_default_SR", "[\"%s\", \"%s\", \"%s\"]",
              e->session, obj ("vm", 0), sr2);
  CHECK (v == NULL && strcmp (code, "HANDLE_INVALID") == 0);
  CHECK (strcmp (t_err_param (1), "pool") == 0);
  xva_value_free (v);
  /* Back to the first one. */
  v = t_call (e->srv, code, "pool.set_default_SR", "[\"%s\", \"%s\", \"%s\"]",
              e->session, obj ("pool", 0), obj ("sr", 0));
  CHECK (v != NULL);
  xva_value_free (v);
}

/* ---- VM.destroy ---------------------------------------------------------------- */

static int
exists (struct t_env *e, const char *name)
{
  return Xva_store_get (e->store, NULL, obj (name, 0), NULL, NULL) == XVA_OK;
}

static void
test_destroy (struct t_env *e)
{
  char code[64], token[64];
  struct xva_value *v, *rec = NULL, *evs;
  size_t i;
  int del_vm = 0, del_vdi = 0, del_vdib = 0;

  /* Running: refused. */
  v = t_call (e->srv, code, "VM.destroy", "[\"%s\", \"%s\"]", e->session,
              obj ("vm2", 0));
  CHECK (v == NULL && strcmp (code, "VM_BAD_POWER_STATE") == 0);
  CHECK (strcmp (t_err_param (1), obj ("vm2", 0)) == 0);
  CHECK (strcmp (t_err_param (2), "halted") == 0);
  CHECK (strcmp (t_err_param (3), "running") == 0);
  xva_value_free (v);
  CHECK (exists (e, "vm2"));

  /* Busy (an export holds it): refused. */
  CHECK (Xva_store_busy_acquire (e->store, obj ("vm", 0)) == XVA_OK);
  v = t_call (e->srv, code, "VM.destroy", "[\"%s\", \"%s\"]", e->session,
              obj ("vm", 0));
  CHECK (v == NULL && strcmp (code, "OTHER_OPERATION_IN_PROGRESS") == 0);
  xva_value_free (v);
  Xva_store_busy_release (e->store, obj ("vm", 0));
  CHECK (exists (e, "vm") && t_exists (img_a));

  CHECK (t_call_str (e->srv, token, sizeof token, "event.inject",
                     "[\"%s\", \"pool\", \"%s\"]", e->session, obj ("pool", 0))
         == 0);
  v = t_call (e->srv, code, "VM.destroy", "[\"%s\", \"%s\"]", e->session,
              obj ("vm", 0));
  CHECK (v != NULL && strcmp (xva_value_string (v), "") == 0);
  xva_value_free (v);
  CHECK (Xva_store_busy (e->store, obj ("vm", 0)) == 0);

  /* The VM, its devices and its unshared disk are gone. */
  CHECK (!exists (e, "vm"));
  CHECK (!exists (e, "vbd"));
  CHECK (!exists (e, "vbd2"));
  CHECK (!exists (e, "vbdcd"));
  CHECK (!exists (e, "vif"));
  CHECK (!exists (e, "vdi"));
  CHECK (!exists (e, "metrics"));
  CHECK (!t_exists (img_a));
  /* The disk vm2 also uses stays, and forgets the deleted VBD. */
  CHECK (exists (e, "vdib") && exists (e, "vbd3") && exists (e, "vm2"));
  CHECK (t_exists (img_b));
  CHECK (exists (e, "net") && exists (e, "sr"));
  CHECK (Xva_store_get (e->store, NULL, obj ("vdib", 0), NULL, &rec)
         == XVA_OK);
  v = xva_value_get (rec, "VBDs");
  CHECK (xva_value_len (v) == 1
         && strcmp (xva_value_string (xva_value_at (v, 0)), obj ("vbd3", 0))
              == 0);
  xva_value_free (rec);
  rec = NULL;
  CHECK (Xva_store_get (e->store, NULL, obj ("sr", 0), NULL, &rec) == XVA_OK);
  v = xva_value_get (rec, "VDIs");
  CHECK (xva_value_len (v) == 1
         && strcmp (xva_value_string (xva_value_at (v, 0)), obj ("vdib", 0))
              == 0);
  xva_value_free (rec);
  rec = NULL;
  CHECK (Xva_store_get (e->store, NULL, obj ("net", 0), NULL, &rec) == XVA_OK);
  CHECK (xva_value_len (xva_value_get (rec, "VIFs")) == 0);
  xva_value_free (rec);

  /* Events tell of it. */
  v = t_call (e->srv, code, "event.from", "[\"%s\", [\"*\"], \"%s\", 1.0]",
              e->session, token);
  evs = xva_value_get (v, "events");
  CHECK (xva_value_len (evs) > 0);
  for (i = 0; i < xva_value_len (evs); i++) {
    const struct xva_value *ev = xva_value_at (evs, i);
    const char *ref = xva_value_get_string (ev, "ref");
    const char *op = xva_value_get_string (ev, "operation");
    if (ref == NULL || op == NULL)
      continue;
    if (strcmp (op, "del") == 0 && strcmp (ref, obj ("vm", 0)) == 0) {
      del_vm = 1;
      CHECK (strcmp (xva_value_get_string (ev, "class"), "vm") == 0);
      CHECK (xva_value_get (ev, "snapshot") == NULL);
    }
    del_vdi |= strcmp (op, "del") == 0 && strcmp (ref, obj ("vdi", 0)) == 0;
    del_vdib |= strcmp (op, "del") == 0 && strcmp (ref, obj ("vdib", 0)) == 0;
  }
  CHECK (del_vm && del_vdi && !del_vdib);
  xva_value_free (v);

  /* Gone: a second destroy is refused. */
  v = t_call (e->srv, code, "VM.destroy", "[\"%s\", \"%s\"]", e->session,
              obj ("vm", 0));
  CHECK (v == NULL && strcmp (code, "HANDLE_INVALID") == 0);
  xva_value_free (v);
}

int
main (void)
{
  struct t_env e;
  struct xva_value *listed;
  char code[64];
  static const char *const classes[] = { "pool", "host", "VM", "VBD",
                                         "VDI",  "VIF",  "SR", "network",
                                         "task", NULL };
  size_t i, j;

  t_env_open (&e);
  populate (&e);
  make_tasks (&e);

  listed = t_call (e.srv, code, "system.listMethods", "[]");
  CHECK (xva_value_type (listed) == XVA_TYPE_ARRAY);
  for (i = 0; classes[i] != NULL; i++) {
    char want[64];
    int found = 0;
    snprintf (want, sizeof want, "%s.get_all_records", classes[i]);
    for (j = 0; j < xva_value_len (listed); j++)
      found |= strcmp (xva_value_string (xva_value_at (listed, j)), want) == 0;
    CHECK_MSG (found, want);
  }

  test_getters (&e);
  test_default_sr (&e);
  test_no_session (&e, listed);
  test_counts (&e, listed);
  test_destroy (&e);

  xva_value_free (listed);
  t_env_close (&e);
  xva_value_free (t_last_err);
  HARNESS_DONE ();
}
