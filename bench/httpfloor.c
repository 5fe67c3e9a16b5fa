/* The machine's own limit for an HTTP download: libmicrohttpd serving
 * SIZE bytes from one buffer in memory (a copy into its block per
 * call, chunked as `xva serve` answers an export) to whatever client
 * connects.  `make bench` times curl against it to show how far the
 * export is from what the transport alone allows.
 *
 *   httpfloor MIB   prints "listening on http://127.0.0.1:PORT" */
#include <microhttpd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BLOCK ((size_t) 1 << 20)

static unsigned char src[BLOCK];
static uint64_t total;

static ssize_t
body (void *cls, uint64_t pos, char *buf, size_t max)
{
  size_t n = max < BLOCK ? max : BLOCK;

  (void) cls;
  if (pos >= total)
    return MHD_CONTENT_READER_END_OF_STREAM;
  if (n > total - pos)
    n = (size_t) (total - pos);
  memcpy (buf, src, n);
  return (ssize_t) n;
}

static enum MHD_Result
handle (void *cls, struct MHD_Connection *c, const char *url,
        const char *method, const char *version, const char *data,
        size_t *size, void **state)
{
  struct MHD_Response *r;
  enum MHD_Result q;

  (void) cls;
  (void) url;
  (void) method;
  (void) version;
  (void) data;
  (void) size;
  if (*state == NULL) {
    *state = src;
    return MHD_YES;
  }
  r = MHD_create_response_from_callback (MHD_SIZE_UNKNOWN, BLOCK, body, NULL,
                                         NULL);
  if (r == NULL)
    return MHD_NO;
  q = MHD_queue_response (c, MHD_HTTP_OK, r);
  MHD_destroy_response (r);
  return q;
}

int
main (int argc, char **argv)
{
  struct MHD_Daemon *d;
  const union MHD_DaemonInfo *info;
  size_t i;

  if (argc != 2) {
    fprintf (stderr, "usage: httpfloor MIB\n");
    return 2;
  }
  total = (uint64_t) strtoull (argv[1], NULL, 10) << 20;
  for (i = 0; i < BLOCK; i++)
    src[i] = (unsigned char) (i * 2654435761u >> 24);
  d = MHD_start_daemon (MHD_USE_THREAD_PER_CONNECTION
                          | MHD_USE_INTERNAL_POLLING_THREAD,
                        0, NULL, NULL, handle, NULL, MHD_OPTION_END);
  if (d == NULL)
    return 1;
  info = MHD_get_daemon_info (d, MHD_DAEMON_INFO_BIND_PORT);
  printf ("listening on http://127.0.0.1:%u\n",
          info != NULL ? (unsigned) info->port : 0u);
  fflush (stdout);
  pause ();
  MHD_stop_daemon (d);
  return 0;
}
