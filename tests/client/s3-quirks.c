/* Server answers that a real Ceph gives only now and then, played by a
 * small scripted HTTP server on 127.0.0.1: CompleteMultipartUpload
 * answering 200 with an <Error> body (after keep-alive spaces), or with
 * an empty <ETag>; a DTD in an answer; a 500 that a retry gets past; a
 * GET that ignores Range.  Needs no cluster, so it always runs. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <unistd.h>

#include "s3-test.h"

enum mode {
  M_COMPLETE_ERROR,      /* complete: 200 + <Error>InvalidPart */
  M_COMPLETE_EMPTY_ETAG, /* complete: 200 + empty <ETag> */
  M_DTD,                 /* listing with a DOCTYPE */
  M_FLAKY_HEAD,          /* first HEAD 500, then 200 */
  M_NO_RANGE,            /* GET answers 200 with everything */
};

static atomic_int mode;
static atomic_int seen_abort, seen_complete, head_count, part_count;
static uint64_t object_size;

static void
say (int fd, const char *s)
{
  size_t n = strlen (s), o = 0;
  while (o < n) {
    ssize_t w = send (fd, s + o, n - o, MSG_NOSIGNAL);
    if (w <= 0)
      return;
    o += (size_t) w;
  }
}

static void
reply (int fd, int code, const char *extra, const char *body)
{
  char head[512];
  snprintf (head, sizeof head,
            "HTTP/1.1 %d X\r\nContent-Length: %zu\r\n%s\r\n", code,
            strlen (body), extra);
  say (fd, head);
  say (fd, body);
}

/* Serves one connection: requests with Content-Length bodies. */
static void *
serve (void *opaque)
{
  int fd = (int) (intptr_t) opaque;
  static char buf[1 << 16];
  char *req = malloc (sizeof buf);
  size_t have = 0;

  if (req == NULL)
    goto out;
  for (;;) {
    char *end, method[16], target[1024], extra[256];
    unsigned long long clen = 0;
    const char *cl;
    size_t hlen;
    ssize_t r;

    while ((end = memmem (req, have, "\r\n\r\n", 4)) == NULL) {
      if (have >= sizeof buf - 1)
        goto out;
      r = read (fd, req + have, sizeof buf - 1 - have);
      if (r <= 0)
        goto out;
      have += (size_t) r;
    }
    hlen = (size_t) (end - req) + 4;
    req[hlen - 1] = '\0';
    if (sscanf (req, "%15s %1023s", method, target) != 2)
      goto out;
    cl = strcasestr (req, "\r\nContent-Length:");
    if (cl != NULL)
      clen = strtoull (cl + 17, NULL, 10);
    if (strcasestr (req, "\r\nExpect: 100-continue") != NULL)
      say (fd, "HTTP/1.1 100 Continue\r\n\r\n");
    /* Drop the body. */
    memmove (req, req + hlen, have - hlen);
    have -= hlen;
    while (clen > 0) {
      size_t take = have < clen ? have : (size_t) clen;
      memmove (req, req + take, have - take);
      have -= take;
      clen -= take;
      if (clen > 0) {
        r = read (fd, req, sizeof buf - 1);
        if (r <= 0)
          goto out;
        have = (size_t) r;
      }
    }

    if (strcmp (method, "POST") == 0 && strstr (target, "?uploads=")) {
      reply (fd, 200, "",
             "<?xml version=\"1.0\"?><InitiateMultipartUploadResult>"
             "<Bucket>bkt</Bucket><Key>k</Key><UploadId>2~up&amp;id"
             "</UploadId></InitiateMultipartUploadResult>");
    }
    else if (strcmp (method, "PUT") == 0 && strstr (target, "partNumber=")) {
      atomic_fetch_add (&part_count, 1);
      reply (fd, 200, "ETag: \"abc\"\r\n", "");
    }
    else if (strcmp (method, "POST") == 0 && strstr (target, "uploadId=")) {
      atomic_fetch_add (&seen_complete, 1);
      if (atomic_load (&mode) == M_COMPLETE_ERROR)
        reply (fd, 200, "",
               "   \n  <?xml version=\"1.0\"?><Error><Code>"
               "InvalidPart</Code><Message>One or more of the specified "
               "parts could not be found.</Message></Error>");
      else
        reply (fd, 200, "",
               "\n<?xml version=\"1.0\"?>"
               "<CompleteMultipartUploadResult><Bucket>bkt</Bucket><Key>k"
               "</Key><ETag></ETag></CompleteMultipartUploadResult>");
    }
    else if (strcmp (method, "DELETE") == 0 && strstr (target, "uploadId=")) {
      if (strstr (target, "uploadId=2~up%26id") != NULL)
        atomic_fetch_add (&seen_abort, 1);
      reply (fd, 204, "", "");
    }
    else if (strcmp (method, "HEAD") == 0) {
      int n = atomic_fetch_add (&head_count, 1);
      if (atomic_load (&mode) == M_FLAKY_HEAD && n == 0) {
        say (fd, "HTTP/1.1 500 X\r\nContent-Length: 0\r\n\r\n");
        continue;
      }
      snprintf (extra, sizeof extra,
                "HTTP/1.1 200 X\r\nContent-Length: %llu\r\nETag: \"e\"\r\n"
                "x-amz-meta-Kind: test\r\n\r\n",
                (unsigned long long) object_size);
      say (fd, extra);
    }
    else if (strcmp (method, "GET") == 0 && atomic_load (&mode) == M_DTD) {
      reply (fd, 200, "",
             "<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY a "
             "\"aaaa\">]><ListBucketResult><IsTruncated>false</IsTruncated>"
             "</ListBucketResult>");
    }
    else if (strcmp (method, "GET") == 0) {
      /* Ignores Range: the whole (zero-filled) object with 200. */
      char *zeros = calloc (1, (size_t) object_size + 1);
      if (zeros == NULL)
        goto out;
      memset (zeros, 'z', (size_t) object_size);
      reply (fd, 200, "", zeros);
      free (zeros);
    }
    else
      reply (fd, 400, "", "<Error><Code>BadRequest</Code></Error>");
  }
out:
  free (req);
  close (fd);
  return NULL;
}

static void *
acceptor (void *opaque)
{
  int lfd = (int) (intptr_t) opaque;

  for (;;) {
    pthread_t t;
    int fd = accept (lfd, NULL, NULL);
    if (fd < 0)
      return NULL;
    if (pthread_create (&t, NULL, serve, (void *) (intptr_t) fd) == 0)
      pthread_detach (t);
    else
      close (fd);
  }
}

static int
start_server (void)
{
  struct sockaddr_in a;
  socklen_t len = sizeof a;
  pthread_t t;
  int fd = socket (AF_INET, SOCK_STREAM, 0);

  memset (&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  if (fd < 0 || bind (fd, (struct sockaddr *) &a, sizeof a) != 0
      || listen (fd, 16) != 0
      || getsockname (fd, (struct sockaddr *) &a, &len) != 0
      || pthread_create (&t, NULL, acceptor, (void *) (intptr_t) fd) != 0)
    return -1;
  pthread_detach (t);
  return ntohs (a.sin_port);
}

/* Uploads two parts' worth and completes. */
static int
two_parts (const struct Xva_s3_config *c, char *msg, size_t msgsize)
{
  struct Xva_s3_upload *u;
  struct Xva_s3_err err;
  size_t size = XVA_S3_PART_MIN + 10;
  unsigned char *data = calloc (1, size);
  int status;

  object_size = size;
  u = Xva_s3_upload_new (c, "bkt", "k", NULL, 0, 0, &status, &err);
  if (u == NULL || data == NULL) {
    free (data);
    return XVA_ENOMEM;
  }
  status = Xva_s3_upload_write (u, data, size);
  if (status == XVA_OK)
    status = Xva_s3_upload_complete (u);
  snprintf (msg, msgsize, "%s", Xva_s3_upload_errmsg (u));
  if (status == XVA_OK)
    CHECK (Xva_s3_upload_parts (u) == 2);
  Xva_s3_upload_free (u);
  free (data);
  return status;
}

int
main (void)
{
  struct Xva_s3_config c;
  struct Xva_s3_err err;
  struct Xva_s3_info info;
  struct Xva_s3_list *list = NULL;
  struct Xva_s3_download *d;
  char endpoint[64], msg[1024];
  unsigned char buf[4096];
  size_t n;
  int port = start_server (), status;

  CHECK (port > 0);
  if (port <= 0)
    HARNESS_DONE ();
  snprintf (endpoint, sizeof endpoint, "http://127.0.0.1:%d", port);
  Xva_s3_config_init (&c);
  c.endpoint = endpoint;
  c.access_key = "AK";
  c.secret_key = "SK";
  c.part_size = XVA_S3_PART_MIN;
  c.retries = 2;
  memset (&info, 0, sizeof info);

  /* 200 with <Error>: a failure, and the upload is aborted. */
  atomic_store (&mode, M_COMPLETE_ERROR);
  status = two_parts (&c, msg, sizeof msg);
  fprintf (stderr, "complete with <Error>: %s: %s\n", xva_status_name (status),
           msg);
  CHECK (status == XVA_ESERVER);
  CHECK (strstr (msg, "InvalidPart") != NULL);
  CHECK (strstr (msg, "could not be found") != NULL);
  CHECK (atomic_load (&seen_complete) == 1);
  CHECK (atomic_load (&seen_abort) == 1);
  CHECK (atomic_load (&part_count) == 2);

  /* 200 with an empty ETag (Ceph 16.2): success, HEAD confirms size. */
  atomic_store (&mode, M_COMPLETE_EMPTY_ETAG);
  atomic_store (&seen_abort, 0);
  atomic_store (&head_count, 0);
  status = two_parts (&c, msg, sizeof msg);
  CHECK_MSG (status == XVA_OK, msg);
  CHECK (atomic_load (&seen_abort) == 0);
  CHECK (atomic_load (&head_count) == 1);

  /* A DTD in an answer is refused. */
  atomic_store (&mode, M_DTD);
  status = Xva_s3_list (&c, "bkt", NULL, 0, &list, &err);
  fprintf (stderr, "DTD: %s\n", err.msg);
  CHECK (status == XVA_ESERVER && list == NULL);

  /* A 500 is retried. */
  atomic_store (&mode, M_FLAKY_HEAD);
  atomic_store (&head_count, 0);
  object_size = 12345;
  status = Xva_s3_head (&c, "bkt", "k", &info, &err);
  CHECK_MSG (status == XVA_OK, err.msg);
  CHECK (atomic_load (&head_count) == 2);
  CHECK (info.size == 12345 && strcmp (info.etag, "\"e\"") == 0);
  CHECK (Xva_s3_info_meta (&info, "kind") != NULL);
  Xva_s3_info_clear (&info);

  /* A GET that ignores Range: an error, not mixed data.  One range
   * covering the whole object may be answered 200. */
  atomic_store (&mode, M_NO_RANGE);
  object_size = 200000;
  c.range_size = 65536;
  d = Xva_s3_download_new (&c, "bkt", "k", &status, &err);
  CHECK_MSG (d != NULL, err.msg);
  if (d != NULL) {
    do
      status = Xva_s3_download_read (d, buf, sizeof buf, &n);
    while (status == XVA_OK);
    fprintf (stderr, "no range: %s\n", Xva_s3_download_errmsg (d));
    CHECK (status == XVA_ESERVER);
    Xva_s3_download_free (d);
  }
  object_size = 1000;
  d = Xva_s3_download_new (&c, "bkt", "k", &status, &err);
  CHECK_MSG (d != NULL, err.msg);
  if (d != NULL) {
    size_t total = 0;
    while ((status = Xva_s3_download_read (d, buf, sizeof buf, &n))
           == XVA_OK) {
      CHECK (buf[0] == 'z');
      total += n;
    }
    CHECK_MSG (status == XVA_EOF && total == 1000, Xva_s3_download_errmsg (d));
    Xva_s3_download_free (d);
  }

  HARNESS_DONE ();
}
