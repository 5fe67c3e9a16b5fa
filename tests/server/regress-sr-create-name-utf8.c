/* Regression (the invariant of tests/fuzz/http.c that records stay
 * servable): POST /xva/sr-create?name=%FF%0A on the control socket, or
 * `xva sr-create` with such a name, stored the SR with a name_label
 * that is not UTF-8 text.  The store keeps records as XML, so every
 * listing of SRs failed from then on ("stored record unreadable").
 * A name must now be UTF-8 text without control bytes (400, or
 * XVA_EINVAL from Xva_serve_sr_create). */
#include <sys/un.h>

#include "server/http-test.h"

/* req on the control socket of dir; the reply into reply. */
static int
ctl_exchange (const char *dir, const char *req, char *reply, size_t cap)
{
  struct sockaddr_un sa;

  memset (&sa, 0, sizeof sa);
  sa.sun_family = AF_UNIX;
  snprintf (sa.sun_path, sizeof sa.sun_path, "%s/xva.sock", dir);
  return h_talk (AF_UNIX, (const struct sockaddr *) &sa, sizeof sa, req,
                 strlen (req), reply, cap);
}

/* Every SR record of dir can be read; returns how many there are. */
static size_t
srs_readable (const char *dir)
{
  struct Xva_store *s = NULL;
  struct Xva_store_list l = { 0, NULL, NULL };
  char err[256];
  size_t n = 0;
  int r;

  CHECK (Xva_store_open (dir, &s, err, sizeof err) == XVA_OK);
  r = Xva_store_list (s, NULL, "SR", 1, &l);
  CHECK_MSG (r == XVA_OK, Xva_store_errmsg (s));
  if (r == XVA_OK)
    n = l.n;
  Xva_store_list_free (&l);
  Xva_store_close (s);
  return n;
}

int
main (void)
{
  static const char *const bad[] = {
    "/xva/sr-create?name=%FF%0A",
    "/xva/sr-create?name=a%C3",
    "/xva/sr-create?name=tab%09",
    "/xva/sr-create?name=%ED%A0%80",
  };
  struct Xva_serve *sv;
  char dir[256], req[512], reply[4096], uuid[64], err[256];
  size_t i, before;

  sv = h_start (dir, sizeof dir);
  for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    snprintf (req, sizeof req,
              "POST %s HTTP/1.1\r\nHost: x\r\n"
              "Content-Length: 0\r\nConnection: close\r\n\r\n",
              bad[i]);
    CHECK (ctl_exchange (dir, req, reply, sizeof reply) == 0);
    CHECK_MSG (strncmp (reply, "HTTP/1.1 400", 12) == 0, bad[i]);
  }
  /* A good name still works, and one of several bytes per character. */
  snprintf (req, sizeof req,
            "POST /xva/sr-create?name=caf%%C3%%A9 "
            "HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n"
            "Connection: close\r\n\r\n");
  CHECK (ctl_exchange (dir, req, reply, sizeof reply) == 0);
  CHECK (strncmp (reply, "HTTP/1.1 200", 12) == 0);
  Xva_serve_stop (sv);

  before = srs_readable (dir);
  CHECK (before == 2); /* the default SR and "café" */
  /* Without a server. */
  CHECK (Xva_serve_sr_create (dir, "\xff\n", uuid, err, sizeof err)
         == XVA_EINVAL);
  CHECK (Xva_serve_sr_create (dir, "second", uuid, err, sizeof err) == XVA_OK);
  CHECK (srs_readable (dir) == before + 1);
  t_rmtree (dir);
  HARNESS_DONE ();
}
