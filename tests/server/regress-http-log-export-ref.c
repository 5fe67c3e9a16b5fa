/* Regression (found by tests/fuzz/http.c): an export of an unknown VM
 * logged the exporter's message, which quotes the ref from the query
 * string as it came: GET /export_metadata?ref=%FF%FF~+)A%133... wrote
 * a control byte into the log, and ref=x%0Aforged... a line of its
 * own.  Log lines are now cleaned whatever they quote (control bytes
 * become '?'), and a ref that is not text is refused as unknown (404
 * HANDLE_INVALID) before it reaches the exporter (it gave 500 when it
 * looked like a real ref, OpaqueRef:%13...).
 *
 * Starts a server on 127.0.0.1 (port 0) over a fresh data directory,
 * sends such requests with root's Basic credentials and checks every
 * log line. */
#include "server/http-test.h"

/* base64 of "root:" TEST_PASSWORD */
#define AUTH "Authorization: Basic cm9vdDpzM2NyZXQtcHc=\r\n"

int
main (void)
{
  static const char meta[] =
    "GET /export_metadata?ref=%FF%FF~+)A%133x%0Aforged%20line HTTP/1.1\r\n"
    "Host: x\r\n" AUTH "Connection: close\r\n\r\n";
  static const char full[] =
    "GET /export?ref=x%0D%0Ay%1B[31m%0A HTTP/1.1\r\n"
    "Host: x\r\n" AUTH "Connection: close\r\n\r\n";
  /* A ref shaped like a real one with a control byte in it: unknown
   * (404), not an internal error (500). */
  static const char shaped[] =
    "GET /export?ref=OpaqueRef:%13x HTTP/1.1\r\n"
    "Host: x\r\n" AUTH "Connection: close\r\n\r\n";
  struct Xva_serve *sv;
  char dir[256], reply[4096];
  unsigned port;

  sv = h_start (dir, sizeof dir);
  port = h_port (sv);
  CHECK (port != 0);
  CHECK (h_exchange (port, meta, sizeof meta - 1, reply, sizeof reply) == 0);
  CHECK (strncmp (reply, "HTTP/1.1 404", 12) == 0);
  CHECK (h_exchange (port, full, sizeof full - 1, reply, sizeof reply) == 0);
  CHECK (strncmp (reply, "HTTP/1.1 404", 12) == 0);
  CHECK (h_exchange (port, shaped, sizeof shaped - 1, reply, sizeof reply)
         == 0);
  CHECK_MSG (strncmp (reply, "HTTP/1.1 404", 12) == 0, reply);
  Xva_serve_stop (sv);

  /* The failures were logged, on one line each. */
  CHECK (t_log_has ("HANDLE_INVALID"));
  CHECK (!t_log_has ("\nforged line"));
  CHECK (!h_log_has_control ());
  t_rmtree (dir);
  HARNESS_DONE ();
}
