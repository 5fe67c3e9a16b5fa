/* Xva_event_snap_take / _emit: changes committed straight to the store
 * (as an import commits them) become events for event.from: add for
 * each new VM, VBD, VDI, VIF and network, del for each one gone, mod
 * for the objects whose lists changed (the SR of a new or gone VDI, the
 * existing VDI a new VBD uses, the existing network of a new VIF), and
 * nothing for objects that did not change.  A NULL snapshot emits
 * nothing. */
#include "server/srv-test.h"

struct ev {
  char cls[32], op[8], ref[XVA_SRV_REF_MAX + 1];
};

#define MAXEV 64
static struct ev evs[MAXEV];
static size_t nevs;

static void
fresh_token (struct t_env *e, char *tok, size_t len)
{
  char code[64];
  struct xva_value *v;

  v = t_call (e->srv, code, "event.from", "[\"%s\", [\"*\"], \"\", 0.0]",
              e->session);
  CHECK (v != NULL && xva_value_get_string (v, "token") != NULL);
  snprintf (tok, len, "%s", v ? xva_value_get_string (v, "token") : "");
  xva_value_free (v);
}

/* The events after tok into evs[]. */
static void
collect (struct t_env *e, const char *tok)
{
  const struct xva_value *list;
  struct xva_value *v;
  char code[64];
  size_t i;

  nevs = 0;
  v = t_call (e->srv, code, "event.from", "[\"%s\", [\"*\"], \"%s\", 0.5]",
              e->session, tok);
  CHECK_MSG (v != NULL, code);
  list = xva_value_get (v, "events");
  for (i = 0; i < xva_value_len (list) && nevs < MAXEV; i++) {
    const struct xva_value *it = xva_value_at (list, i);
    const char *c = xva_value_get_string (it, "class");
    const char *o = xva_value_get_string (it, "operation");
    const char *r = xva_value_get_string (it, "ref");

    snprintf (evs[nevs].cls, sizeof evs[nevs].cls, "%s", c ? c : "");
    snprintf (evs[nevs].op, sizeof evs[nevs].op, "%s", o ? o : "");
    snprintf (evs[nevs].ref, sizeof evs[nevs].ref, "%s", r ? r : "");
    nevs++;
  }
  xva_value_free (v);
}

/* How many collected events are (cls, op, ref); ref NULL: any. */
static size_t
count (const char *cls, const char *op, const char *ref)
{
  size_t i, n = 0;

  for (i = 0; i < nevs; i++)
    if (strcmp (evs[i].cls, cls) == 0 && strcmp (evs[i].op, op) == 0
        && (ref == NULL || strcmp (evs[i].ref, ref) == 0))
      n++;
  return n;
}

static void
new_ref (char *out)
{
  if (Xva_store_new_ref (out) != XVA_OK)
    exit (1);
}

static void put (struct t_env *e, const char *ref, const char *cls,
                 const char *fmt, ...) __attribute__ ((format (printf, 4, 5)));
static void
put (struct t_env *e, const char *ref, const char *cls, const char *fmt, ...)
{
  char json[4096];
  struct xva_value *rec = NULL;
  va_list ap;

  va_start (ap, fmt);
  vsnprintf (json, sizeof json, fmt, ap);
  va_end (ap);
  CHECK (xva_value_from_json (json, strlen (json), NULL, &rec, NULL, 0)
         == XVA_OK);
  CHECK (Xva_store_put (e->store, NULL, ref, cls, rec) == XVA_OK);
  xva_value_free (rec);
}

int
main (void)
{
  char sr[XVA_SRV_REF_MAX + 1], net[XVA_SRV_REF_MAX + 1];
  char vm[XVA_SRV_REF_MAX + 1], vbd[XVA_SRV_REF_MAX + 1];
  char vdi[XVA_SRV_REF_MAX + 1], vif[XVA_SRV_REF_MAX + 1];
  char vm2[XVA_SRV_REF_MAX + 1], vbd2[XVA_SRV_REF_MAX + 1];
  char vif2[XVA_SRV_REF_MAX + 1], net2[XVA_SRV_REF_MAX + 1];
  char tok[64];
  struct Xva_event_snap *snap = NULL;
  struct t_env e;

  t_env_open (&e);
  CHECK (Xva_store_default_sr (e.store, NULL, sr) == XVA_OK);
  new_ref (net);
  put (&e, net, "network",
       "{\"uuid\": \"n-1\", \"name_label\": \"net0\","
       " \"VIFs\": []}");

  /* An import: a VM with one new disk and a VIF on the existing
   * network, and a network of its own. */
  CHECK (Xva_event_snap_take (e.srv, &snap) == XVA_OK && snap != NULL);
  new_ref (vm);
  new_ref (vbd);
  new_ref (vdi);
  new_ref (vif);
  new_ref (net2);
  new_ref (vif2);
  put (&e, vdi, "VDI",
       "{\"uuid\": \"d-1\", \"SR\": \"%s\", \"VBDs\": "
       "[\"%s\"]}",
       sr, vbd);
  put (&e, vm, "VM",
       "{\"uuid\": \"v-1\", \"name_label\": \"new\","
       " \"power_state\": \"Halted\", \"VBDs\": [\"%s\"],"
       " \"VIFs\": [\"%s\", \"%s\"]}",
       vbd, vif, vif2);
  put (&e, vbd, "VBD",
       "{\"uuid\": \"b-1\", \"VM\": \"%s\", \"VDI\": \"%s\","
       " \"type\": \"Disk\"}",
       vm, vdi);
  put (&e, vif, "VIF",
       "{\"uuid\": \"i-1\", \"VM\": \"%s\", \"network\": "
       "\"%s\"}",
       vm, net);
  put (&e, net2, "network", "{\"uuid\": \"n-2\", \"VIFs\": [\"%s\"]}", vif2);
  put (&e, vif2, "VIF",
       "{\"uuid\": \"i-2\", \"VM\": \"%s\", \"network\": "
       "\"%s\"}",
       vm, net2);
  fresh_token (&e, tok, sizeof tok);
  Xva_event_snap_emit (e.srv, snap);
  collect (&e, tok);
  CHECK (count ("vm", "add", vm) == 1);
  CHECK (count ("vbd", "add", vbd) == 1);
  CHECK (count ("vdi", "add", vdi) == 1);
  CHECK (count ("vif", "add", vif) == 1);
  CHECK (count ("vif", "add", vif2) == 1);
  CHECK (count ("network", "add", net2) == 1);
  /* Lists that changed: the SR (a new VDI), the old network (a new
   * VIF); once each.  The new network has its add. */
  CHECK (count ("sr", "mod", sr) == 1);
  CHECK (count ("network", "mod", net) == 1);
  CHECK (count ("network", "mod", net2) == 0);
  CHECK (count ("vdi", "mod", NULL) == 0);
  CHECK (count ("pool", "mod", NULL) == 0 && count ("host", "mod", NULL) == 0);
  CHECK_MSG (nevs == 8, "8 events");
  /* Adds carry the record: the VM is before its devices. */
  {
    size_t i, at_vm = nevs, at_vbd = nevs;
    for (i = 0; i < nevs; i++) {
      if (strcmp (evs[i].ref, vm) == 0)
        at_vm = i;
      if (strcmp (evs[i].ref, vbd) == 0)
        at_vbd = i;
    }
    CHECK (at_vm < at_vbd);
  }

  /* A metadata import over the existing disk: a second VM whose VBD
   * uses the VDI above (mod), no new VDI (the SR is unchanged). */
  CHECK (Xva_event_snap_take (e.srv, &snap) == XVA_OK);
  new_ref (vm2);
  new_ref (vbd2);
  put (&e, vm2, "VM", "{\"uuid\": \"v-2\", \"VBDs\": [\"%s\"], \"VIFs\": []}",
       vbd2);
  put (&e, vbd2, "VBD", "{\"uuid\": \"b-2\", \"VM\": \"%s\", \"VDI\": \"%s\"}",
       vm2, vdi);
  fresh_token (&e, tok, sizeof tok);
  Xva_event_snap_emit (e.srv, snap);
  collect (&e, tok);
  CHECK (count ("vm", "add", vm2) == 1 && count ("vbd", "add", vbd2) == 1);
  CHECK (count ("vdi", "mod", vdi) == 1);
  CHECK (count ("sr", "mod", NULL) == 0);
  CHECK_MSG (nevs == 3, "3 events");

  /* A restore that replaced the first VM: its VM, VBD, VIFs and VDI
   * are gone (del, devices first); the SR and the old network lost
   * entries (mod). */
  CHECK (Xva_event_snap_take (e.srv, &snap) == XVA_OK);
  CHECK (Xva_store_delete (e.store, NULL, vbd) == XVA_OK);
  CHECK (Xva_store_delete (e.store, NULL, vif) == XVA_OK);
  CHECK (Xva_store_delete (e.store, NULL, vdi) == XVA_OK);
  CHECK (Xva_store_delete (e.store, NULL, vm) == XVA_OK);
  fresh_token (&e, tok, sizeof tok);
  Xva_event_snap_emit (e.srv, snap);
  collect (&e, tok);
  CHECK (count ("vm", "del", vm) == 1 && count ("vbd", "del", vbd) == 1);
  CHECK (count ("vif", "del", vif) == 1 && count ("vdi", "del", vdi) == 1);
  CHECK (count ("sr", "mod", sr) == 1);
  CHECK (count ("network", "mod", net) == 1);
  CHECK_MSG (nevs == 6, "6 events");
  {
    size_t i, at_vm = nevs, at_vbd = nevs;
    for (i = 0; i < nevs; i++) {
      if (strcmp (evs[i].ref, vm) == 0)
        at_vm = i;
      if (strcmp (evs[i].ref, vbd) == 0)
        at_vbd = i;
    }
    CHECK (at_vbd < at_vm);
  }

  /* Nothing changed: no event.  NULL: nothing, no crash. */
  CHECK (Xva_event_snap_take (e.srv, &snap) == XVA_OK);
  fresh_token (&e, tok, sizeof tok);
  Xva_event_snap_emit (e.srv, snap);
  Xva_event_snap_emit (e.srv, NULL);
  Xva_event_snap_free (NULL);
  collect (&e, tok);
  CHECK_MSG (nevs == 0, "no events");
  CHECK (Xva_event_snap_take (NULL, &snap) == XVA_EINVAL && snap == NULL);

  t_env_close (&e);
  xva_value_free (t_last_err);
  HARNESS_DONE ();
}
