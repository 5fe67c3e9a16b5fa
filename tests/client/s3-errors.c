/* Failures map to the right status with the server's words: a wrong
 * secret key gives XVA_EAUTH, a missing bucket or key XVA_ENOTFOUND, a
 * closed port XVA_ENET, bad addresses XVA_EINVAL. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "s3-test.h"

/* A TCP port on 127.0.0.1 that nothing listens on (bound, then closed). */
static int
closed_port (void)
{
  struct sockaddr_in a;
  socklen_t len = sizeof a;
  int fd = socket (AF_INET, SOCK_STREAM, 0), port = 0;

  memset (&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  if (fd >= 0 && bind (fd, (struct sockaddr *) &a, sizeof a) == 0
      && getsockname (fd, (struct sockaddr *) &a, &len) == 0)
    port = ntohs (a.sin_port);
  if (fd >= 0)
    close (fd);
  return port;
}

static void
upload_small (const struct Xva_s3_config *cfg, const char *bucket,
              const char *key, size_t size, int want, const char *word)
{
  struct Xva_s3_upload *u;
  struct Xva_s3_err err;
  unsigned char *data = calloc (1, size);
  int status;

  u = Xva_s3_upload_new (cfg, bucket, key, NULL, 0, 0, &status, &err);
  CHECK_MSG (u != NULL, err.msg);
  if (u == NULL || data == NULL) {
    free (data);
    Xva_s3_upload_free (u);
    return;
  }
  status = Xva_s3_upload_write (u, data, size);
  if (status == XVA_OK)
    status = Xva_s3_upload_complete (u);
  fprintf (stderr, "upload of %zu bytes: %s: %s\n", size,
           xva_status_name (status), Xva_s3_upload_errmsg (u));
  CHECK (status == want);
  CHECK (word == NULL || strstr (Xva_s3_upload_errmsg (u), word) != NULL);
  CHECK (Xva_s3_upload_error (u)->status == want);
  Xva_s3_upload_free (u);
  free (data);
}

int
main (void)
{
  struct s3_test t;
  struct Xva_s3_config bad;
  struct Xva_s3_err err;
  struct Xva_s3_info info;
  struct Xva_s3_list *list = NULL;
  struct Xva_s3_download *d;
  struct Xva_s3_url url;
  char key[512], endpoint[64];
  int status;

  s3_test_init (&t, "errors");
  s3_test_key (&t, "x.xva", key, sizeof key);
  memset (&info, 0, sizeof info);

  /* Wrong secret key. */
  bad = t.cfg;
  bad.secret_key = "not-the-secret-key-at-all";
  status = Xva_s3_head (&bad, t.bucket, key, &info, &err);
  fprintf (stderr, "head, wrong secret: %s\n", err.msg);
  CHECK (status == XVA_EAUTH && err.status == XVA_EAUTH);
  CHECK (err.http_status == 403);
  status = Xva_s3_list (&bad, t.bucket, NULL, 0, &list, &err);
  fprintf (stderr, "list, wrong secret: %s\n", err.msg);
  CHECK (status == XVA_EAUTH && list == NULL);
  CHECK (strcmp (err.code, "SignatureDoesNotMatch") == 0);
  CHECK (strstr (err.msg, "SignatureDoesNotMatch") != NULL);
  CHECK (strstr (err.msg, "Xva_s3_list") == err.msg);
  upload_small (&bad, t.bucket, key, 1000, XVA_EAUTH, "SignatureDoesNotMatch");
  upload_small (&bad, t.bucket, key, XVA_S3_PART_DEFAULT + 1, XVA_EAUTH,
                "SignatureDoesNotMatch");
  d = Xva_s3_download_new (&bad, t.bucket, key, &status, &err);
  CHECK (d == NULL && status == XVA_EAUTH);

  /* Unknown access key. */
  bad = t.cfg;
  bad.access_key = "NOSUCHACCESSKEY00000";
  status = Xva_s3_list (&bad, t.bucket, NULL, 0, &list, &err);
  fprintf (stderr, "list, unknown key: %s\n", err.msg);
  CHECK (status == XVA_EAUTH);
  CHECK (strcmp (err.code, "InvalidAccessKeyId") == 0);

  /* Missing bucket. */
  status = Xva_s3_list (&t.cfg, "no-such-bucket-xva", NULL, 0, &list, &err);
  fprintf (stderr, "list, no bucket: %s\n", err.msg);
  CHECK (status == XVA_ENOTFOUND);
  CHECK (strcmp (err.code, "NoSuchBucket") == 0);
  status = Xva_s3_head (&t.cfg, "no-such-bucket-xva", "k", &info, &err);
  CHECK (status == XVA_ENOTFOUND && err.http_status == 404);
  upload_small (&t.cfg, "no-such-bucket-xva", "k", 1000, XVA_ENOTFOUND,
                "NoSuchBucket");
  upload_small (&t.cfg, "no-such-bucket-xva", "k", XVA_S3_PART_DEFAULT + 1,
                XVA_ENOTFOUND, "NoSuchBucket");
  {
    struct Xva_s3_pending_list *pl = NULL;
    status = Xva_s3_list_uploads (&t.cfg, "no-such-bucket-xva", NULL, &pl,
                                  &err);
    CHECK (status == XVA_ENOTFOUND && pl == NULL);
  }

  /* Missing key. */
  d = Xva_s3_download_new (&t.cfg, t.bucket, key, &status, &err);
  fprintf (stderr, "download, no key: %s\n", err.msg);
  CHECK (d == NULL && status == XVA_ENOTFOUND);
  CHECK (strstr (err.msg, key) != NULL);
  status = Xva_s3_head (&t.cfg, t.bucket, key, &info, &err);
  CHECK (status == XVA_ENOTFOUND);

  /* Nothing listening. */
  snprintf (endpoint, sizeof endpoint, "http://127.0.0.1:%d", closed_port ());
  bad = t.cfg;
  bad.endpoint = endpoint;
  bad.retries = 1;
  status = Xva_s3_head (&bad, t.bucket, key, &info, &err);
  fprintf (stderr, "head, closed port: %s\n", err.msg);
  CHECK (status == XVA_ENET && err.http_status == 0);
  upload_small (&bad, t.bucket, key, 1000, XVA_ENET, NULL);

  /* Bad configuration and addresses. */
  bad = t.cfg;
  bad.endpoint = "ftp://127.0.0.1/";
  CHECK (Xva_s3_head (&bad, t.bucket, key, &info, &err) == XVA_EINVAL);
  bad.endpoint = "http://127.0.0.1:1/path";
  CHECK (Xva_s3_head (&bad, t.bucket, key, &info, &err) == XVA_EINVAL);
  bad = t.cfg;
  bad.part_size = 1 << 20;
  CHECK (Xva_s3_upload_new (&bad, t.bucket, key, NULL, 0, 0, &status, &err)
           == NULL
         && status == XVA_EINVAL);
  CHECK (Xva_s3_head (&t.cfg, "Bad_Bucket", key, &info, &err) == XVA_EINVAL);
  CHECK (Xva_s3_head (&t.cfg, t.bucket, "a/../b", &info, &err) == XVA_EINVAL);
  CHECK (Xva_s3_url_parse ("http://x/y", &url, &err) == XVA_EINVAL);
  {
    struct Xva_s3_pair m = { "bad name", "v" };
    CHECK (Xva_s3_upload_new (&t.cfg, t.bucket, key, &m, 1, 0, &status, &err)
             == NULL
           && status == XVA_EINVAL);
  }

  HARNESS_DONE ();
}
