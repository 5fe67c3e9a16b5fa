/* The HTTP side of `xva serve`: listeners (HTTP, HTTPS, Unix sockets)
 * over libmicrohttpd, the routes of http-api.md section 2, and the
 * `sr-create` path that works whether or not a server holds the data
 * directory.  Internal (not installed).
 *
 * Self-contained on purpose: bin/serve.c and bin/sr-create.c include it
 * with nothing but <xva/xva.h> on their include path, so it names no
 * type of the store, of the server state or of libmicrohttpd.
 *
 * The control socket.  Besides the listeners asked for, a server always
 * listens on <data dir>/xva.sock (mode 0600; requests there are trusted,
 * like the --unix socket).  It carries every route, plus one of its own
 * that only trusted sockets have:
 *
 *   POST /xva/sr-create?name=<name>  -> 200, {"ref": "...", "uuid": "..."}
 *
 * which Xva_serve_sr_create uses when the data directory is locked by a
 * running server. */
#ifndef XVA_SERVER_HTTP_H
#define XVA_SERVER_HTTP_H

#include <stddef.h>

#include <xva/xva.h>

#define XVA_SERVE_MAX_LISTEN 16       /* --listen options */
#define XVA_SERVE_URL_MAX 300         /* bytes of a listener's URL */
#define XVA_SERVE_CTL_NAME "xva.sock" /* control socket in the data dir */
#define XVA_SERVE_DEFAULT_TIMEOUT 300 /* idle seconds per connection */
#define XVA_SERVE_DEFAULT_MAX_CONN 64 /* connections per listener */

/* Log sink of the server: one line (no newline) per request, per task
 * and per notable event.  Called from any thread; never passed a
 * password or a session ref. */
typedef void (*Xva_serve_log_fn) (void *opaque, const char *line);

struct Xva_serve_opts {
  const char *data_dir; /* required */
  /* root's password for a fresh data directory (required then; ignored
   * when the directory is already initialised).  Not kept. */
  const char *root_password;
  const char *const *listen; /* "ADDR:PORT", "[V6]:PORT", ":PORT" */
  size_t nlisten;
  const char *tls_cert;  /* PEM files: every TCP listener is */
  const char *tls_key;   /* HTTPS when both are given */
  const char *unix_path; /* an extra trusted socket, or NULL */
  /* Seconds a connection may stay idle, and seconds the headers of a
   * request may take (from the connection, or from the end of the
   * previous request).  0: XVA_SERVE_DEFAULT_TIMEOUT */
  unsigned timeout_s;
  unsigned max_connections; /* 0: XVA_SERVE_DEFAULT_MAX_CONN */
  Xva_serve_log_fn log;     /* may be NULL */
  void *log_opaque;
};

struct Xva_serve;

/* Opens (and for a fresh directory initialises) the store, starts the
 * server state and every listener.  Returns once all of them accept
 * connections.  On failure nothing is left running, err gets a message
 * and the status is XVA_EINVAL (bad option, no password for a fresh
 * directory), XVA_ESTATE (directory in use), XVA_EIO (cannot listen or
 * read a file), XVA_ENOMEM or another store status. */
int Xva_serve_start (const struct Xva_serve_opts *o, struct Xva_serve **out,
                     char *err, size_t errlen);
/* The listeners to show: "http://ADDR:PORT", "https://ADDR:PORT" (the
 * port actually bound) or "unix:PATH" (the --unix socket; the control
 * socket is not listed).  Valid until Xva_serve_stop. */
size_t Xva_serve_nurls (const struct Xva_serve *sv);
const char *Xva_serve_url (const struct Xva_serve *sv, size_t i);
/* Stops: no new connections, running transfers cancelled (imports
 * removed), listeners closed, sockets unlinked, state and store
 * closed.  NULL is fine. */
void Xva_serve_stop (struct Xva_serve *sv);

/* Adds a directory SR named name to the data directory dir: directly
 * when no server holds it, else through the running server's control
 * socket.  uuid_out (37 bytes) gets the new SR's uuid.  XVA_OK, or a
 * status and a message in err: XVA_EINVAL (bad name, directory not
 * initialised), XVA_ENET (the server cannot be reached), XVA_ESERVER
 * (it refused), or a store status. */
int Xva_serve_sr_create (const char *dir, const char *name, char *uuid_out,
                         char *err, size_t errlen);

#endif
