/* Helpers of the tests that talk HTTP to a server started in-process
 * (Xva_serve_start on 127.0.0.1, port 0). */
#ifndef XVA_TESTS_HTTP_TEST_H
#define XVA_TESTS_HTTP_TEST_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>

#include "server/http.h"
#include "server/srv-test.h"

/* The port of the server's first listener, or 0. */
static inline unsigned
h_port (const struct Xva_serve *sv)
{
  const char *url = Xva_serve_url (sv, 0);
  const char *colon = url != NULL ? strrchr (url, ':') : NULL;
  unsigned port = 0;

  if (colon == NULL || sscanf (colon + 1, "%u", &port) != 1)
    return 0;
  return port;
}

/* Connects a new stream socket of family to sa, sends req[0..n),
 * closes the sending side and reads until the server closes (10 s at
 * most).  The bytes read go to reply (NUL-terminated, cut at cap - 1).
 * 0, or -1 when the connection failed. */
static inline int
h_talk (int family, const struct sockaddr *sa, socklen_t salen,
        const char *req, size_t n, char *reply, size_t cap)
{
  struct timeval tv = { 10, 0 };
  size_t got = 0, off = 0;
  int fd;

  fd = socket (family, SOCK_STREAM, 0);
  if (fd < 0)
    return -1;
  setsockopt (fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (connect (fd, sa, salen) != 0) {
    close (fd);
    return -1;
  }
  while (off < n) {
    ssize_t k = send (fd, req + off, n - off, MSG_NOSIGNAL);
    if (k <= 0)
      break;
    off += (size_t) k;
  }
  shutdown (fd, SHUT_WR);
  for (;;) {
    ssize_t k = recv (fd, reply + got, cap - 1 - got, 0);
    if (k <= 0)
      break;
    got += (size_t) k;
    if (got == cap - 1)
      break;
  }
  reply[got] = '\0';
  close (fd);
  return 0;
}

/* h_talk to 127.0.0.1:port. */
static inline int
h_exchange (unsigned port, const char *req, size_t n, char *reply, size_t cap)
{
  struct sockaddr_in sa;

  memset (&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_port = htons ((uint16_t) port);
  sa.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  return h_talk (AF_INET, (const struct sockaddr *) &sa, sizeof sa, req, n,
                 reply, cap);
}

/* Starts a server over a fresh data directory dir (root's password
 * TEST_PASSWORD) logging to t_log; exits on failure. */
static inline struct Xva_serve *
h_start (char *dir, size_t len)
{
  static const char *const listen[] = { "127.0.0.1:0" };
  struct Xva_serve_opts o;
  struct Xva_serve *sv = NULL;
  char err[512];

  t_tmpdir (dir, len);
  memset (&o, 0, sizeof o);
  o.data_dir = dir;
  o.root_password = TEST_PASSWORD;
  o.listen = listen;
  o.nlisten = 1;
  o.log = t_log;
  if (Xva_serve_start (&o, &sv, err, sizeof err) != XVA_OK) {
    fprintf (stderr, "Xva_serve_start: %s\n", err);
    t_rmtree (dir);
    exit (1);
  }
  return sv;
}

/* 1 when a byte of the captured log other than a line end is a control
 * character (and prints the log). */
static inline int
h_log_has_control (void)
{
  size_t i;

  for (i = 0; i < t_log_len; i++)
    if (t_log_buf[i] != '\n'
        && ((unsigned char) t_log_buf[i] < 0x20 || t_log_buf[i] == 0x7f)) {
      fprintf (stderr, "control byte 0x%02x at %zu of the log:\n%s\n",
               (unsigned char) t_log_buf[i], i, t_log_buf);
      return 1;
    }
  return 0;
}

#endif
