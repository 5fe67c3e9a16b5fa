/* The machine's own limit for an HTTP download: libmicrohttpd serving
 * a file that is in the page cache, mapped and copied into its block
 * per call, chunked and with the per-connection memory `xva serve`
 * uses, to whatever client connects.  That is the export without the
 * archive: no headers, no hashing, no store.  `make bench` times curl
 * against it to show how far the export is from what the transport
 * alone allows.
 *
 *   httpfloor FILE   prints "listening on http://127.0.0.1:PORT" */
#include <fcntl.h>
#include <microhttpd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define BLOCK ((size_t) 1 << 20)
#define MEMORY ((size_t) 512 << 10) /* as XVA_HTTP_MEMORY_LIMIT */

static const unsigned char *src;
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
  memcpy (buf, src + pos, n);
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
    *state = &total;
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
  struct stat st;
  int fd;

  if (argc != 2) {
    fprintf (stderr, "usage: httpfloor FILE\n");
    return 2;
  }
  fd = open (argv[1], O_RDONLY);
  if (fd == -1 || fstat (fd, &st) == -1 || st.st_size == 0) {
    perror (argv[1]);
    return 1;
  }
  total = (uint64_t) st.st_size;
  src = mmap (NULL, (size_t) total, PROT_READ, MAP_SHARED, fd, 0);
  if (src == MAP_FAILED) {
    perror ("mmap");
    return 1;
  }
  d = MHD_start_daemon (MHD_USE_THREAD_PER_CONNECTION
                          | MHD_USE_INTERNAL_POLLING_THREAD,
                        0, NULL, NULL, handle, NULL,
                        MHD_OPTION_CONNECTION_MEMORY_LIMIT, MEMORY,
                        MHD_OPTION_END);
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
