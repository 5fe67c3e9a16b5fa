/* Events: a bounded ring of {id, class, ref, operation, snapshot} in
 * memory, and event.from / event.inject over it.  Ids are consecutive
 * from 1; a token is the id of the last event a client has seen.
 * Snapshots of refs turn changes made outside the RPC surface (imports)
 * into events. */
#include "server/srv-priv.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define TOKEN_MAX 20 /* digits of a token */

#define NODE_BYTES 48      /* a value node and its malloc */
#define BYTES_DEPTH_MAX 64 /* records nest far less */

static void
ev_clear (struct Xva_srv *srv, struct Xva_event *e)
{
  free (e->ref);
  xva_value_free (e->snapshot);
  srv->ring_bytes -= e->bytes < srv->ring_bytes ? e->bytes : srv->ring_bytes;
  memset (e, 0, sizeof *e);
}

static struct Xva_event *
ev_at (struct Xva_srv *srv, size_t i)
{
  return &srv->ring[(srv->ring_start + i) % XVA_SRV_EVENTS_MAX];
}

void
Xva_event_free_all (struct Xva_srv *srv)
{
  size_t i;

  for (i = 0; i < srv->ring_n; i++)
    ev_clear (srv, ev_at (srv, i));
  srv->ring_n = 0;
  srv->ring_start = 0;
  srv->ring_bytes = 0;
}

/* Roughly the memory a value tree takes: a node each, plus its text
 * and keys. */
static size_t
value_bytes (const struct xva_value *v, unsigned depth)
{
  size_t n = NODE_BYTES, i, len;
  const char *s;

  if (v == NULL)
    return 0;
  s = xva_value_string (v);
  if (s != NULL)
    n += strlen (s) + 1;
  len = xva_value_len (v);
  if (depth >= BYTES_DEPTH_MAX)
    return n + len * NODE_BYTES;
  for (i = 0; i < len; i++) {
    const char *k = xva_value_key_at (v, i);

    if (k != NULL)
      n += strlen (k) + 1 + 2 * sizeof (void *);
    n += value_bytes (xva_value_at (v, i), depth + 1);
  }
  return n;
}

static double
wall_now (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_REALTIME, &ts);
  return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static void
lower_copy (char *out, size_t len, const char *s)
{
  size_t i;

  for (i = 0; s[i] != '\0' && i + 1 < len; i++)
    out[i] = (char) tolower ((unsigned char) s[i]);
  out[i] = '\0';
}

uint64_t
Xva_event_add_id (struct Xva_srv *srv, const char *cls, const char *ref,
                  const char *op)
{
  char got[XVA_STORE_CLASS_MAX + 1];
  const struct Xva_cls *k;
  struct xva_value *rec = NULL, *snap = NULL;
  struct Xva_event *e;
  char *refcopy;
  uint64_t id;
  size_t bytes;
  int opn;

  if (srv == NULL || cls == NULL || ref == NULL || op == NULL || cls[0] == '\0'
      || ref[0] == '\0' || strlen (cls) > XVA_STORE_CLASS_MAX
      || strlen (ref) > XVA_SRV_REF_MAX)
    return 0;
  if (strcmp (op, "add") == 0)
    opn = XVA_EV_ADD;
  else if (strcmp (op, "mod") == 0)
    opn = XVA_EV_MOD;
  else if (strcmp (op, "del") == 0)
    opn = XVA_EV_DEL;
  else
    return 0;
  k = Xva_cls_find (cls);
  if (opn != XVA_EV_DEL) {
    /* The record as it is now; none means a del follows (or came). */
    if (Xva_store_get (srv->store, NULL, ref, got, &rec) != XVA_OK)
      return 0;
    if (strcasecmp (got, cls) == 0)
      snap = Xva_rec_export (k, rec);
    xva_value_free (rec);
    if (snap == NULL)
      return 0;
  }
  refcopy = strdup (ref);
  if (refcopy == NULL) {
    xva_value_free (snap);
    return 0;
  }
  bytes = sizeof *e + strlen (ref) + 1 + value_bytes (snap, 0);

  pthread_mutex_lock (&srv->elock);
  /* The oldest go while the ring is full by count or by bytes (a
   * single event bigger than the bound is kept alone). */
  while (srv->ring_n > 0
         && (srv->ring_n == XVA_SRV_EVENTS_MAX
             || srv->ring_bytes + bytes > XVA_SRV_EVENTS_BYTES_MAX)) {
    ev_clear (srv, ev_at (srv, 0));
    srv->ring_start = (srv->ring_start + 1) % XVA_SRV_EVENTS_MAX;
    srv->ring_n--;
  }
  e = ev_at (srv, srv->ring_n);
  e->id = id = srv->next_id++;
  e->cls = k;
  lower_copy (e->cls_name, sizeof e->cls_name, k ? k->name : cls);
  e->ref = refcopy;
  e->op = opn;
  e->ts = wall_now ();
  e->snapshot = snap;
  e->bytes = bytes;
  srv->ring_bytes += bytes;
  srv->ring_n++;
  pthread_cond_broadcast (&srv->econd);
  pthread_mutex_unlock (&srv->elock);
  return id;
}

void
Xva_event_add (struct Xva_srv *srv, const char *cls, const char *ref,
               const char *op)
{
  (void) Xva_event_add_id (srv, cls, ref, op);
}

/* ---- event.from ------------------------------------------------------ */

struct sub {
  int all;
  char cls[XVA_STORE_CLASS_MAX + 1]; /* lowercase */
  char ref[XVA_SRV_REF_MAX + 1];     /* "" for any */
};

static int
sub_parse (const char *s, struct sub *out)
{
  const char *slash;
  size_t n;

  memset (out, 0, sizeof *out);
  if (strcmp (s, "*") == 0) {
    out->all = 1;
    return 0;
  }
  slash = strchr (s, '/');
  n = slash ? (size_t) (slash - s) : strlen (s);
  if (n == 0 || n > XVA_STORE_CLASS_MAX)
    return -1;
  if (slash && (slash[1] == '\0' || strlen (slash + 1) > XVA_SRV_REF_MAX))
    return -1;
  memcpy (out->cls, s, n);
  out->cls[n] = '\0';
  lower_copy (out->cls, sizeof out->cls, out->cls);
  if (slash)
    snprintf (out->ref, sizeof out->ref, "%s", slash + 1);
  return 0;
}

static int
subs_match (const struct sub *subs, size_t n, const char *cls_lower,
            const char *ref)
{
  size_t i;

  for (i = 0; i < n; i++) {
    if (subs[i].all)
      return 1;
    if (strcmp (subs[i].cls, cls_lower) == 0
        && (ref == NULL || subs[i].ref[0] == '\0'
            || strcmp (subs[i].ref, ref) == 0))
      return 1;
  }
  return 0;
}

static const char *const op_names[] = { "add", "mod", "del" };

/* {id, timestamp, class, operation, ref[, snapshot]}; snap copied. */
static struct xva_value *
ev_value (uint64_t id, double ts, const char *cls_lower, const char *ref,
          int op, const struct xva_value *snap)
{
  struct xva_value *v = xva_value_new_struct ();
  char num[64];
  int bad = 0;

  if (v == NULL)
    return NULL;
  snprintf (num, sizeof num, "%llu", (unsigned long long) id);
  bad |= xva_value_set_string (v, "id", num);
  snprintf (num, sizeof num, "%.6f", ts);
  bad |= xva_value_set_string (v, "timestamp", num);
  bad |= xva_value_set_string (v, "class", cls_lower);
  bad |= xva_value_set_string (v, "operation", op_names[op]);
  bad |= xva_value_set_string (v, "ref", ref);
  if (snap)
    bad |= xva_value_set (v, "snapshot", xva_value_copy (snap));
  if (bad) {
    xva_value_free (v);
    return NULL;
  }
  return v;
}

/* The current objects of the subscribed classes as add events (a first
 * event.from), at most XVA_SRV_EVENT_INITIAL_MAX. */
static int
initial_events (struct Xva_rpc_ctx *c, const struct sub *subs, size_t nsubs,
                uint64_t id, struct xva_value *events)
{
  struct Xva_store_list l;
  double ts = wall_now ();
  size_t i, j, total = 0;
  int r;

  for (i = 0; i < Xva_cls_count (); i++) {
    const struct Xva_cls *k = Xva_cls_at (i);

    if (!subs_match (subs, nsubs, k->lower, NULL))
      continue;
    r = Xva_store_list (c->srv->store, NULL, k->name, 1, &l);
    if (r < 0)
      return Xva_rpc_store_fail (c, r);
    for (j = 0; j < l.n && total < XVA_SRV_EVENT_INITIAL_MAX; j++) {
      struct xva_value *snap;

      if (!subs_match (subs, nsubs, k->lower, l.refs[j]))
        continue;
      snap = Xva_rec_export (k, l.recs[j]);
      if (snap == NULL
          || xva_value_append (events, ev_value (id, ts, k->lower, l.refs[j],
                                                 XVA_EV_ADD, snap))
               < 0) {
        xva_value_free (snap);
        Xva_store_list_free (&l);
        return XVA_ENOMEM;
      }
      xva_value_free (snap);
      total++;
    }
    Xva_store_list_free (&l);
  }
  return XVA_OK;
}

/* Absolute CLOCK_MONOTONIC time of a deadline in ms. */
static struct timespec
mono_abs (int64_t ms)
{
  struct timespec ts;

  ts.tv_sec = (time_t) (ms / 1000);
  ts.tv_nsec = (long) (ms % 1000) * 1000000L;
  return ts;
}

/* Waits for events after *from that match, until deadline_ms.  Sets
 * *from to the last id looked at.  1: events lost; 0: fine; < 0. */
static int
wait_events (struct Xva_srv *srv, const struct sub *subs, size_t nsubs,
             uint64_t *from, int64_t deadline_ms, struct xva_value *events)
{
  int r = 0;

  pthread_mutex_lock (&srv->elock);
  for (;;) {
    uint64_t last = srv->next_id - 1;
    uint64_t oldest = srv->ring_n ? ev_at (srv, 0)->id : srv->next_id;
    uint64_t id;
    struct timespec ts;

    /* A token from the future (an earlier run) or one whose events
     * were dropped: the client must start over. */
    if (*from > last || *from + 1 < oldest) {
      r = 1;
      break;
    }
    for (id = *from + 1; id <= last; id++) {
      const struct Xva_event *e = ev_at (srv, (size_t) (id - oldest));

      if (!subs_match (subs, nsubs, e->cls_name, e->ref))
        continue;
      if (xva_value_append (events, ev_value (e->id, e->ts, e->cls_name,
                                              e->ref, e->op, e->snapshot))
          < 0) {
        r = XVA_ENOMEM;
        break;
      }
    }
    if (r < 0)
      break;
    *from = last;
    if (xva_value_len (events) > 0 || srv->closing
        || Xva_srv_mono_ms () >= deadline_ms)
      break;
    ts = mono_abs (deadline_ms);
    pthread_cond_timedwait (&srv->econd, &srv->elock, &ts);
  }
  pthread_mutex_unlock (&srv->elock);
  return r;
}

static int
parse_token (const char *s, uint64_t *out)
{
  unsigned long long v;
  char *end;
  size_t i, n = strlen (s);

  if (n == 0 || n > TOKEN_MAX)
    return -1;
  for (i = 0; i < n; i++)
    if (!isdigit ((unsigned char) s[i]))
      return -1;
  errno = 0;
  v = strtoull (s, &end, 10);
  if (errno != 0 || *end != '\0')
    return -1;
  *out = (uint64_t) v;
  return 0;
}

static int
ref_counts (struct Xva_rpc_ctx *c, struct xva_value **out)
{
  struct xva_value *v = xva_value_new_struct ();
  size_t i, n;
  int r;

  *out = NULL;
  if (v == NULL)
    return XVA_ENOMEM;
  for (i = 0; i < Xva_cls_count (); i++) {
    const struct Xva_cls *k = Xva_cls_at (i);

    r = Xva_store_count (c->srv->store, NULL, k->name, &n);
    if (r < 0) {
      xva_value_free (v);
      return Xva_rpc_store_fail (c, r);
    }
    if (xva_value_set_int (v, k->lower, (int64_t) n) < 0) {
      xva_value_free (v);
      return XVA_ENOMEM;
    }
  }
  *out = v;
  return XVA_OK;
}

int
Xva_m_event_from (struct Xva_rpc_ctx *c)
{
  struct sub subs[XVA_SRV_EVENT_CLASSES_MAX];
  const struct xva_value *classes = xva_value_at (c->params, 1);
  const char *token = Xva_rpc_arg (c, 2);
  struct xva_value *events = NULL, *counts = NULL, *res = NULL;
  char num[32];
  uint64_t from = 0;
  double timeout;
  size_t i, nsubs;
  int r;

  if (xva_value_type (classes) != XVA_TYPE_ARRAY)
    return Xva_rpc_type_error (c, "classes");
  if (token == NULL)
    return Xva_rpc_type_error (c, "token");
  if (xva_value_get_double (xva_value_at (c->params, 3), &timeout) != 0)
    return Xva_rpc_type_error (c, "timeout");
  if (!(timeout > 0.0))
    timeout = 0.0;
  if (timeout > XVA_SRV_EVENT_TIMEOUT_MAX)
    timeout = XVA_SRV_EVENT_TIMEOUT_MAX;
  nsubs = xva_value_len (classes);
  if (nsubs > XVA_SRV_EVENT_CLASSES_MAX)
    return Xva_rpc_fail (c, "EVENT_SUBSCRIPTION_PARSE_FAILURE",
                         "too many classes", NULL);
  for (i = 0; i < nsubs; i++) {
    const struct xva_value *it = xva_value_at (classes, i);
    const char *s = xva_value_string (it);

    if (xva_value_type (it) != XVA_TYPE_STRING || s == NULL
        || sub_parse (s, &subs[i]) < 0) {
      char shown[128];
      Xva_srv_clean (shown, sizeof shown, s ? s : "");
      return Xva_rpc_fail (c, "EVENT_SUBSCRIPTION_PARSE_FAILURE", shown, NULL);
    }
  }
  if (token[0] != '\0' && parse_token (token, &from) < 0) {
    char shown[64];
    Xva_srv_clean (shown, sizeof shown, token);
    return Xva_rpc_fail (c, "EVENT_FROM_TOKEN_PARSE_FAILURE", shown, NULL);
  }
  events = xva_value_new_array ();
  if (events == NULL)
    return XVA_ENOMEM;
  if (token[0] == '\0') {
    /* The objects as they are now, then events after this id. */
    pthread_mutex_lock (&c->srv->elock);
    from = c->srv->next_id - 1;
    pthread_mutex_unlock (&c->srv->elock);
    r = initial_events (c, subs, nsubs, from, events);
  }
  else {
    int64_t wait_ms = (int64_t) (timeout * 1000.0);
    r = wait_events (c->srv, subs, nsubs, &from, Xva_srv_mono_ms () + wait_ms,
                     events);
    if (r == 1)
      r = Xva_rpc_fail (c, "EVENTS_LOST", NULL);
  }
  if (r < 0)
    goto out;
  r = ref_counts (c, &counts);
  if (r < 0)
    goto out;
  res = xva_value_new_struct ();
  snprintf (num, sizeof num, "%llu", (unsigned long long) from);
  if (res == NULL || xva_value_set (res, "events", events) < 0) {
    events = NULL;
    r = XVA_ENOMEM;
    goto out;
  }
  events = NULL;
  if (xva_value_set (res, "valid_ref_counts", counts) < 0) {
    counts = NULL;
    r = XVA_ENOMEM;
    goto out;
  }
  counts = NULL;
  if (xva_value_set_string (res, "token", num) < 0) {
    r = XVA_ENOMEM;
    goto out;
  }
  r = Xva_rpc_ok (c, res);
  res = NULL;

out:
  xva_value_free (events);
  xva_value_free (counts);
  xva_value_free (res);
  return r;
}

int
Xva_m_event_inject (struct Xva_rpc_ctx *c)
{
  char got[XVA_STORE_CLASS_MAX + 1], num[32];
  const char *cls = Xva_rpc_arg (c, 1), *ref = Xva_rpc_arg (c, 2);
  const struct Xva_cls *k;
  uint64_t id;
  int r;

  if (cls == NULL)
    return Xva_rpc_type_error (c, "class");
  if (ref == NULL)
    return Xva_rpc_type_error (c, "ref");
  k = Xva_cls_find (cls);
  if (k == NULL || strlen (ref) > XVA_SRV_REF_MAX)
    return Xva_rpc_fail (c, "HANDLE_INVALID", cls, ref, NULL);
  r = Xva_store_get (c->srv->store, NULL, ref, got, NULL);
  if (r == XVA_ENOTFOUND || (r == XVA_OK && strcmp (got, k->name) != 0))
    return Xva_rpc_fail (c, "HANDLE_INVALID", k->name, ref, NULL);
  if (r < 0)
    return Xva_rpc_store_fail (c, r);
  id = Xva_event_add_id (c->srv, k->name, ref, "mod");
  if (id == 0)
    return Xva_rpc_fail (c, "HANDLE_INVALID", k->name, ref, NULL);
  /* A token that the injected event itself comes after. */
  snprintf (num, sizeof num, "%llu", (unsigned long long) (id - 1));
  return Xva_rpc_ok_str (c, num);
}

/* ---- Snapshots: changes made outside the RPC surface -------------- */

/* The classes an import changes, in the order their add events go out
 * (dels go out in reverse), and the field that links each to the list
 * of another object (a VDI is in its SR's VDIs, a VBD in its VDI's
 * VBDs, a VIF in its network's VIFs). */
static const struct {
  const char *cls;
  const char *link; /* NULL: none */
  size_t target;    /* index of the linked class */
} snap_classes[] = {
  { "SR", NULL, 0 }, { "network", NULL, 0 }, { "VDI", "SR", 0 },
  { "VM", NULL, 0 }, { "VBD", "VDI", 2 },    { "VIF", "network", 1 },
};

#define NSNAP (sizeof snap_classes / sizeof snap_classes[0])

struct snap_ent {
  char *ref;
  char *link; /* the linked ref, or NULL */
};

struct Xva_event_snap {
  struct snap_ent *e[NSNAP]; /* sorted by ref */
  size_t n[NSNAP];
};

static int
ent_cmp (const void *a, const void *b)
{
  const struct snap_ent *x = a, *y = b;

  return strcmp (x->ref, y->ref);
}

static const struct snap_ent *
snap_find (const struct Xva_event_snap *sn, size_t k, const char *ref)
{
  struct snap_ent key;

  if (sn->n[k] == 0)
    return NULL;
  key.ref = (char *) (uintptr_t) ref;
  key.link = NULL;
  return bsearch (&key, sn->e[k], sn->n[k], sizeof key, ent_cmp);
}

void
Xva_event_snap_free (struct Xva_event_snap *sn)
{
  size_t k, i;

  if (sn == NULL)
    return;
  for (k = 0; k < NSNAP; k++) {
    for (i = 0; i < sn->n[k]; i++) {
      free (sn->e[k][i].ref);
      free (sn->e[k][i].link);
    }
    free (sn->e[k]);
  }
  free (sn);
}

/* Class k's refs (and links) into sn. */
static int
snap_class (struct Xva_srv *srv, struct Xva_event_snap *sn, size_t k)
{
  struct Xva_store_list l;
  const char *link;
  size_t i;
  int r;

  r = Xva_store_list (srv->store, NULL, snap_classes[k].cls,
                      snap_classes[k].link != NULL, &l);
  if (r < 0)
    return r;
  if (l.n > 0) {
    sn->e[k] = calloc (l.n, sizeof *sn->e[k]);
    if (sn->e[k] == NULL) {
      Xva_store_list_free (&l);
      return XVA_ENOMEM;
    }
  }
  for (i = 0; i < l.n; i++) {
    struct snap_ent *e = &sn->e[k][i];

    e->ref = strdup (l.refs[i]);
    link = snap_classes[k].link != NULL
             ? xva_value_get_string (l.recs[i], snap_classes[k].link)
             : NULL;
    e->link = link != NULL ? strdup (link) : NULL;
    sn->n[k] = i + 1;
    if (e->ref == NULL || (link != NULL && e->link == NULL)) {
      Xva_store_list_free (&l);
      return XVA_ENOMEM;
    }
  }
  Xva_store_list_free (&l);
  if (sn->n[k] > 1)
    qsort (sn->e[k], sn->n[k], sizeof *sn->e[k], ent_cmp);
  return XVA_OK;
}

int
Xva_event_snap_take (struct Xva_srv *srv, struct Xva_event_snap **out)
{
  struct Xva_event_snap *sn;
  size_t k;
  int r;

  if (out == NULL)
    return XVA_EINVAL;
  *out = NULL;
  if (srv == NULL)
    return XVA_EINVAL;
  sn = calloc (1, sizeof *sn);
  if (sn == NULL)
    return XVA_ENOMEM;
  for (k = 0; k < NSNAP; k++) {
    r = snap_class (srv, sn, k);
    if (r < 0) {
      Xva_event_snap_free (sn);
      return r;
    }
  }
  *out = sn;
  return XVA_OK;
}

/* Marks (in mod, one flag per entry of now's class k) the object that
 * link names, when it exists now and is not new (a new one has its add
 * event). */
static void
mark_link (const struct Xva_event_snap *before,
           const struct Xva_event_snap *now, size_t k, const char *link,
           unsigned char *mod)
{
  const struct snap_ent *e;

  if (link == NULL || link[0] == '\0' || mod == NULL)
    return;
  e = snap_find (now, k, link);
  if (e != NULL && snap_find (before, k, link) != NULL)
    mod[e - now->e[k]] = 1;
}

/* The del (gone set) or add events of class k: its entries in before
 * and not now, or in now and not before; each marks what it links to. */
static void
emit_diff (struct Xva_srv *srv, const struct Xva_event_snap *before,
           const struct Xva_event_snap *now, int gone, size_t k,
           unsigned char *const *mod)
{
  const struct Xva_event_snap *from = gone ? before : now;
  const struct Xva_event_snap *other = gone ? now : before;
  size_t i;

  for (i = 0; i < from->n[k]; i++) {
    const struct snap_ent *e = &from->e[k][i];

    if (snap_find (other, k, e->ref) != NULL)
      continue;
    Xva_event_add (srv, snap_classes[k].cls, e->ref, gone ? "del" : "add");
    if (snap_classes[k].link != NULL)
      mark_link (before, now, snap_classes[k].target, e->link,
                 mod[snap_classes[k].target]);
  }
}

void
Xva_event_snap_emit (struct Xva_srv *srv, struct Xva_event_snap *before)
{
  struct Xva_event_snap *now = NULL;
  unsigned char *mod[NSNAP];
  size_t k, i;
  int r;

  memset (mod, 0, sizeof mod);
  if (srv == NULL || before == NULL)
    goto out;
  r = Xva_event_snap_take (srv, &now);
  if (r < 0) {
    Xva_srv_logf (srv, "events of a change: %s", xva_strerror (r));
    goto out;
  }
  for (k = 0; k < NSNAP; k++)
    if (now->n[k] > 0 && (mod[k] = calloc (now->n[k], 1)) == NULL)
      goto out;
  /* Gone: devices before their VM and disks. */
  for (k = NSNAP; k-- > 0;)
    emit_diff (srv, before, now, 1, k, mod);
  /* New. */
  for (k = 0; k < NSNAP; k++)
    emit_diff (srv, before, now, 0, k, mod);
  /* Those whose lists changed. */
  for (k = 0; k < NSNAP; k++)
    for (i = 0; mod[k] != NULL && i < now->n[k]; i++)
      if (mod[k][i])
        Xva_event_add (srv, snap_classes[k].cls, now->e[k][i].ref, "mod");

out:
  for (k = 0; k < NSNAP; k++)
    free (mod[k]);
  Xva_event_snap_free (now);
  Xva_event_snap_free (before);
}
