/* Regression (found by tests/fuzz/http.c): the request log took the
 * HTTP method as it came.  libmicrohttpd lets any byte but a space into
 * a method, so a request line such as "GE<TAB><TAB>T /export HTTP/1.1"
 * or one with a control byte wrote those bytes into the server's one
 * line per request.  The method is now logged percent-encoded, like
 * the target.
 *
 * Starts a server on 127.0.0.1 (port 0) over a fresh data directory,
 * sends such requests, stops it and checks every log line. */
#include "server/http-test.h"

int
main (void)
{
  static const char tabs[] =
    "GE\t\tT /export HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  static const char ctl[] =
    "G\x01T /export HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  struct Xva_serve *sv;
  char dir[256], reply[4096];
  unsigned port;

  sv = h_start (dir, sizeof dir);
  port = h_port (sv);
  CHECK (port != 0);
  CHECK (h_exchange (port, tabs, sizeof tabs - 1, reply, sizeof reply) == 0);
  /* Answered (405: no such method on /export), not dropped. */
  CHECK (strncmp (reply, "HTTP/1.1 405", 12) == 0);
  CHECK (h_exchange (port, ctl, sizeof ctl - 1, reply, sizeof reply) == 0);
  Xva_serve_stop (sv);

  /* Both requests were logged, their methods encoded. */
  CHECK (t_log_has (" GE%09%09T /export "));
  CHECK (t_log_has (" G%01T /export "));
  CHECK (!h_log_has_control ());
  t_rmtree (dir);
  HARNESS_DONE ();
}
