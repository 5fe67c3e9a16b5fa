/* The event ring is bounded in bytes, not only in count: event.inject
 * on a VM whose record is big (an imported VM may carry megabytes of
 * other_config) must not keep a copy of it per event until
 * XVA_SRV_EVENTS_MAX copies pile up.  After the flood, event.from still
 * gives the latest events, and a token older than what is kept gets
 * EVENTS_LOST. */
#include "server/srv-test.h"

#define BIG ((size_t) 1 << 20) /* bytes of the big field */
#define INJECTS 200

int
main (void)
{
  struct t_env e;
  struct xva_value *rec, *v;
  char ref[XVA_SRV_REF_MAX + 1], uuid[XVA_STORE_UUID_LEN + 1], code[64];
  char *blob, token[32];
  size_t i, kept;

  t_env_open (&e);
  blob = malloc (BIG + 1);
  CHECK (blob != NULL);
  if (blob == NULL)
    return 1;
  memset (blob, 'x', BIG);
  blob[BIG] = '\0';
  CHECK (Xva_store_new_ref (ref) == XVA_OK);
  CHECK (Xva_store_new_uuid (uuid) == XVA_OK);
  rec = xva_value_new_struct ();
  CHECK (rec != NULL && xva_value_set_string (rec, "uuid", uuid) == 0
         && xva_value_set_string (rec, "name_label", "big") == 0
         && xva_value_set_string (rec, "blob", blob) == 0);
  CHECK (Xva_store_put (e.store, NULL, ref, "VM", rec) == XVA_OK);
  xva_value_free (rec);
  free (blob);

  /* A token from before the flood. */
  v = t_call (e.srv, code, "event.from", "[\"%s\", [\"vm\"], \"\", 0.1]",
              e.session);
  CHECK (v != NULL);
  snprintf (token, sizeof token, "%s",
            xva_value_get_string (v, "token")
              ? xva_value_get_string (v, "token")
              : "");
  xva_value_free (v);

  for (i = 0; i < INJECTS; i++) {
    v = t_call (e.srv, code, "event.inject", "[\"%s\", \"VM\", \"%s\"]",
                e.session, ref);
    CHECK (v != NULL && code[0] == '\0');
    xva_value_free (v);
  }
  pthread_mutex_lock (&e.srv->elock);
  kept = e.srv->ring_n;
  pthread_mutex_unlock (&e.srv->elock);
  printf ("%d injects of a %zu-byte record: %zu events kept\n", INJECTS, BIG,
          kept);
  /* 8 MiB of snapshots of about 1 MiB each. */
  CHECK (kept >= 1 && kept <= 10);

  /* The old token lost its events; the newest are there. */
  v = t_call (e.srv, code, "event.from", "[\"%s\", [\"vm\"], \"%s\", 0.1]",
              e.session, token);
  CHECK (v == NULL && strcmp (code, "EVENTS_LOST") == 0);
  xva_value_free (v);
  snprintf (token, sizeof token, "%llu",
            (unsigned long long) (e.srv->next_id - 2));
  v = t_call (e.srv, code, "event.from", "[\"%s\", [\"vm\"], \"%s\", 0.1]",
              e.session, token);
  CHECK (v != NULL && code[0] == '\0');
  CHECK (xva_value_len (xva_value_get (v, "events")) == 1);
  xva_value_free (v);

  t_env_close (&e);
  xva_value_free (t_last_err);
  HARNESS_DONE ();
}
