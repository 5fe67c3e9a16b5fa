/* Unix sockets of `xva serve` and the control route behind
 * `xva sr-create`: POST /xva/sr-create?name=NAME on a trusted socket
 * (the data directory's xva.sock) makes a directory SR in the running
 * server's store, since the store's lock keeps any other process out
 * while the server runs. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "format/value.h"
#include "server/http-priv.h"

#define CTL_TIMEOUT_S 60

/* The address of the socket at path.  A path too long for sun_path is
 * reached through its directory, opened into *dirfd (the caller closes
 * it once bind or connect is done). */
static int
unix_addr (const char *path, struct sockaddr_un *sun, int *dirfd)
{
  char *copy = NULL, *dir, *base;
  int n, r = -1;

  *dirfd = -1;
  memset (sun, 0, sizeof *sun);
  sun->sun_family = AF_UNIX;
  if (strlen (path) < sizeof sun->sun_path) {
    memcpy (sun->sun_path, path, strlen (path) + 1);
    return 0;
  }
  copy = strdup (path);
  if (copy == NULL)
    return -1;
  dir = dirname (copy);
  *dirfd = open (dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (*dirfd < 0)
    goto out;
  base = strrchr (path, '/');
  base = base != NULL ? base + 1 : (char *) (uintptr_t) path;
  n = snprintf (sun->sun_path, sizeof sun->sun_path, "/proc/self/fd/%d/%s",
                *dirfd, base);
  if (n < 0 || (size_t) n >= sizeof sun->sun_path) {
    close (*dirfd);
    *dirfd = -1;
    errno = ENAMETOOLONG;
    goto out;
  }
  r = 0;
out:
  free (copy);
  return r;
}

/* 0 and a connected socket in *out, or -1 with errno. */
static int
unix_connect (const char *path, int *out)
{
  struct sockaddr_un sun;
  int dirfd, fd, r, saved;

  *out = -1;
  if (unix_addr (path, &sun, &dirfd) < 0)
    return -1;
  fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    saved = errno;
    if (dirfd >= 0)
      close (dirfd);
    errno = saved;
    return -1;
  }
  do
    r = connect (fd, (const struct sockaddr *) &sun, sizeof sun);
  while (r < 0 && errno == EINTR);
  saved = errno;
  if (dirfd >= 0)
    close (dirfd);
  if (r < 0) {
    close (fd);
    errno = saved;
    return -1;
  }
  *out = fd;
  return 0;
}

int
Xva_http_unix_listen (const char *path, char *err, size_t errlen)
{
  struct sockaddr_un sun;
  struct stat st;
  mode_t old;
  int fd = -1, dirfd = -1, probe, r;

  if (lstat (path, &st) == 0) {
    if (!S_ISSOCK (st.st_mode)) {
      Xva_value_err (err, errlen, "%s exists and is not a socket", path);
      return -1;
    }
    if (unix_connect (path, &probe) == 0) {
      close (probe);
      Xva_value_err (err, errlen, "%s: another server listens there", path);
      return -1;
    }
    if (unlink (path) < 0 && errno != ENOENT) {
      Xva_value_err (err, errlen, "cannot remove the stale %s: %s", path,
                     strerror (errno));
      return -1;
    }
  }
  if (unix_addr (path, &sun, &dirfd) < 0) {
    Xva_value_err (err, errlen, "%s: %s", path, strerror (errno));
    return -1;
  }
  fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    Xva_value_err (err, errlen, "socket: %s", strerror (errno));
    goto fail;
  }
  /* Nobody but us may connect: the socket is trusted.  The umask covers
   * the moment between bind and chmod. */
  old = umask (0177);
  r = bind (fd, (const struct sockaddr *) &sun, sizeof sun);
  umask (old);
  if (r < 0) {
    Xva_value_err (err, errlen, "bind %s: %s", path, strerror (errno));
    goto fail;
  }
  if (chmod (path, 0600) < 0) {
    Xva_value_err (err, errlen, "chmod %s: %s", path, strerror (errno));
    unlink (path);
    goto fail;
  }
  if (listen (fd, 64) < 0) {
    Xva_value_err (err, errlen, "listen %s: %s", path, strerror (errno));
    unlink (path);
    goto fail;
  }
  if (dirfd >= 0)
    close (dirfd);
  return fd;
fail:
  if (fd >= 0)
    close (fd);
  if (dirfd >= 0)
    close (dirfd);
  return -1;
}

/* ------------------------------------------------------------------ */
/* Server side                                                         */

static int
name_ok (const char *name)
{
  size_t n;

  if (name == NULL)
    return 0;
  n = strlen (name);
  return n > 0 && n <= XVA_STORE_NAME_MAX && Xva_srv_text_ok (name);
}

enum MHD_Result
Xva_http_ctl_sr_create (struct Xva_http_req *r)
{
  char ref[XVA_STORE_REF_MAX + 1], uuid[XVA_STORE_UUID_LEN + 1];
  struct xva_value *v = NULL;
  char *json = NULL;
  size_t len = 0;
  const char *name = Xva_http_arg (r, "name");
  enum MHD_Result q;
  int s;

  if (!name_ok (name))
    return Xva_http_respond_text (r, MHD_HTTP_BAD_REQUEST,
                                  "need a name of 1 to %d bytes of UTF-8 "
                                  "text",
                                  XVA_STORE_NAME_MAX);
  s = Xva_store_sr_create (r->sv->store, name, ref, uuid);
  if (s != XVA_OK)
    return Xva_http_respond_text (r, MHD_HTTP_INTERNAL_SERVER_ERROR, "%s",
                                  Xva_store_errmsg (r->sv->store));
  Xva_event_add (r->sv->srv, "SR", ref, "add");
  Xva_http_logf (r->sv, "created SR %s", uuid);
  v = xva_value_new_struct ();
  if (v == NULL || xva_value_set_string (v, "ref", ref) < 0
      || xva_value_set_string (v, "uuid", uuid) < 0
      || xva_value_to_json (v, &json, &len) != XVA_OK) {
    xva_value_free (v);
    return Xva_http_respond_text (r, MHD_HTTP_INTERNAL_SERVER_ERROR,
                                  "out of memory");
  }
  q = Xva_http_respond (r, MHD_HTTP_OK, "application/json", json, len);
  free (json);
  xva_value_free (v);
  return q;
}

/* ------------------------------------------------------------------ */
/* sr-create                                                           */

static int
write_all (int fd, const char *buf, size_t n)
{
  while (n > 0) {
    ssize_t w = send (fd, buf, n, MSG_NOSIGNAL);

    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0)
      return -1;
    buf += w;
    n -= (size_t) w;
  }
  return 0;
}

/* Percent-encodes s (unreserved characters kept) into buf. */
static int
url_encode (const char *s, char *buf, size_t len)
{
  static const char hex[] = "0123456789ABCDEF";
  size_t pos = 0;
  const unsigned char *p;

  for (p = (const unsigned char *) s; *p != '\0'; p++) {
    if (pos + 4 > len)
      return -1;
    if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
        || (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' || *p == '_'
        || *p == '~')
      buf[pos++] = (char) *p;
    else {
      buf[pos++] = '%';
      buf[pos++] = hex[*p >> 4];
      buf[pos++] = hex[*p & 15];
    }
  }
  buf[pos] = '\0';
  return 0;
}

/* Asks the server listening on <dir>/xva.sock. */
static int
sr_create_remote (const char *dir, const char *name, char *uuid_out, char *err,
                  size_t errlen)
{
  char path[XVA_HTTP_PATH_MAX], *enc = NULL, *req = NULL, *resp = NULL;
  const char *body, *u;
  struct xva_value *v = NULL;
  struct timeval tv = { CTL_TIMEOUT_S, 0 };
  size_t enclen, reqlen, got = 0;
  unsigned status;
  int fd = -1, s = XVA_ENOMEM, n;

  if ((size_t) snprintf (path, sizeof path, "%s/%s", dir, XVA_SERVE_CTL_NAME)
      >= sizeof path) {
    Xva_value_err (err, errlen, "data directory path too long");
    return XVA_EINVAL;
  }
  enclen = strlen (name) * 3 + 1;
  enc = malloc (enclen);
  reqlen = enclen + 256;
  req = malloc (reqlen);
  resp = malloc (XVA_HTTP_CTL_MAX + 1);
  if (enc == NULL || req == NULL || resp == NULL
      || url_encode (name, enc, enclen) < 0) {
    Xva_value_err (err, errlen, "out of memory");
    goto out;
  }
  n = snprintf (req, reqlen,
                "POST /xva/sr-create?name=%s HTTP/1.1\r\n"
                "Host: localhost\r\nContent-Length: 0\r\n"
                "Connection: close\r\n\r\n",
                enc);
  if (n < 0 || (size_t) n >= reqlen) {
    Xva_value_err (err, errlen, "out of memory");
    goto out;
  }
  if (unix_connect (path, &fd) < 0) {
    Xva_value_err (err, errlen,
                   "%s is in use, but its server cannot be reached "
                   "at %s: %s",
                   dir, path, strerror (errno));
    s = XVA_ENET;
    goto out;
  }
  setsockopt (fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt (fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  if (write_all (fd, req, (size_t) n) < 0) {
    Xva_value_err (err, errlen, "%s: %s", path, strerror (errno));
    s = XVA_ENET;
    goto out;
  }
  for (;;) {
    ssize_t r = recv (fd, resp + got, XVA_HTTP_CTL_MAX - got, 0);

    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0) {
      Xva_value_err (err, errlen, "%s: %s", path, strerror (errno));
      s = XVA_ENET;
      goto out;
    }
    if (r == 0)
      break;
    got += (size_t) r;
    if (got == XVA_HTTP_CTL_MAX) {
      Xva_value_err (err, errlen, "%s: reply too long", path);
      s = XVA_ENET;
      goto out;
    }
  }
  resp[got] = '\0';
  if (sscanf (resp, "HTTP/1.%*1[01] %3u", &status) != 1) {
    Xva_value_err (err, errlen, "%s: not an HTTP reply", path);
    s = XVA_ENET;
    goto out;
  }
  body = strstr (resp, "\r\n\r\n");
  body = body != NULL ? body + 4 : "";
  if (status != 200) {
    size_t bl = strlen (body);

    while (bl > 0 && (body[bl - 1] == '\n' || body[bl - 1] == '\r'))
      bl--;
    Xva_value_err (err, errlen, "the server refused (%u): %.*s", status,
                   (int) bl, body);
    s = XVA_ESERVER;
    goto out;
  }
  if (xva_value_from_json (body, strlen (body), NULL, &v, NULL, 0) != XVA_OK
      || (u = xva_value_get_string (v, "uuid")) == NULL
      || strlen (u) != XVA_STORE_UUID_LEN) {
    Xva_value_err (err, errlen, "%s: unexpected reply", path);
    s = XVA_ESERVER;
    goto out;
  }
  memcpy (uuid_out, u, XVA_STORE_UUID_LEN + 1);
  s = XVA_OK;
out:
  if (fd >= 0)
    close (fd);
  xva_value_free (v);
  free (enc);
  free (req);
  free (resp);
  return s;
}

int
Xva_serve_sr_create (const char *dir, const char *name, char *uuid_out,
                     char *err, size_t errlen)
{
  char db[XVA_HTTP_PATH_MAX], msg[512], ref[XVA_STORE_REF_MAX + 1];
  struct Xva_store *st = NULL;
  struct stat sb;
  int s;

  if (dir == NULL || dir[0] == '\0' || !name_ok (name)) {
    Xva_value_err (err, errlen,
                   "need a data directory and a name of 1 to %d "
                   "bytes of UTF-8 text",
                   XVA_STORE_NAME_MAX);
    return XVA_EINVAL;
  }
  /* Never create a data directory here: only a server initialises. */
  if ((size_t) snprintf (db, sizeof db, "%s/xva.db", dir) >= sizeof db) {
    Xva_value_err (err, errlen, "data directory path too long");
    return XVA_EINVAL;
  }
  if (stat (db, &sb) < 0) {
    Xva_value_err (err, errlen,
                   "%s is not a data directory (no xva.db: start "
                   "'xva serve --data %s' once first)",
                   dir, dir);
    return XVA_EINVAL;
  }
  s = Xva_store_open (dir, &st, msg, sizeof msg);
  if (s == XVA_ESTATE)
    return sr_create_remote (dir, name, uuid_out, err, errlen);
  if (s != XVA_OK) {
    Xva_value_err (err, errlen, "cannot open %s: %s", dir, msg);
    return s;
  }
  s = Xva_store_initialised (st);
  if (s != 1) {
    Xva_value_err (err, errlen,
                   "%s is not initialised (start 'xva serve --data "
                   "%s' once first)",
                   dir, dir);
    s = XVA_EINVAL;
    goto out;
  }
  s = Xva_store_sr_create (st, name, ref, uuid_out);
  if (s != XVA_OK)
    Xva_value_err (err, errlen, "%s", Xva_store_errmsg (st));
out:
  Xva_store_close (st);
  return s;
}
