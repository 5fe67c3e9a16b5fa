/* S3 round trip against a real server: a multipart upload of random data
 * with several parts in flight, metadata through HEAD, ranged downloads
 * compared byte for byte, listing by prefix, delete.
 * XVA_S3_SIZE_MIB (default 40) sets the size and prints throughput. */
#include "s3-test.h"

static int
download_compare (const struct Xva_s3_config *cfg, const char *bucket,
                  const char *key, const unsigned char *want, size_t size,
                  size_t readsize, double *secs)
{
  struct Xva_s3_err err;
  struct Xva_s3_download *d;
  unsigned char *buf = malloc (readsize);
  size_t pos = 0, n = 0;
  double t0 = s3_test_now ();
  int status, ok = 1;

  d = Xva_s3_download_new (cfg, bucket, key, &status, &err);
  CHECK_MSG (d != NULL && status == XVA_OK, err.msg);
  if (d == NULL || buf == NULL) {
    free (buf);
    return 0;
  }
  CHECK (Xva_s3_download_info (d)->size == size);
  for (;;) {
    status = Xva_s3_download_read (d, buf, readsize, &n);
    if (status != XVA_OK)
      break;
    if (pos + n > size || memcmp (buf, want + pos, n) != 0) {
      fprintf (stderr, "mismatch in [%zu, %zu)\n", pos, pos + n);
      ok = 0;
      break;
    }
    pos += n;
  }
  CHECK_MSG (!ok || status == XVA_EOF, Xva_s3_download_errmsg (d));
  CHECK (!ok || n == 0);
  CHECK (pos == size);
  /* Reading past the end stays at EOF. */
  CHECK (Xva_s3_download_read (d, buf, readsize, &n) == XVA_EOF && n == 0);
  *secs = s3_test_now () - t0;
  Xva_s3_download_free (d);
  free (buf);
  return ok && pos == size;
}

int
main (void)
{
  struct s3_test t;
  struct Xva_s3_err err;
  struct Xva_s3_info info;
  struct Xva_s3_list *list = NULL;
  struct Xva_s3_upload *u;
  struct Xva_s3_config cfg;
  struct Xva_s3_pair meta[3] = {
    { "vm-name", "web server 01" },
    { "Checksum-Kind", "xxhash" },
    { "complete", "yes" },
  };
  char key[512], key2[512], prefix2[300];
  const char *env = getenv ("XVA_S3_SIZE_MIB");
  size_t mib = env ? (size_t) strtoul (env, NULL, 10) : 40, size, pos, i;

  unsigned char *data;
  double t0, up, down = 0;
  int status;

  s3_test_init (&t, "roundtrip");
  if (mib == 0 || mib > 4096)
    mib = 40;
  size = (mib << 20) + 12345; /* a short last part */
  data = malloc (size);
  if (data == NULL)
    return 1;
  s3_test_fill (data, size, 42);
  s3_test_key (&t, "vm/backup 1.xva", key, sizeof key);

  /* Upload in odd-sized writes. */
  t0 = s3_test_now ();
  u = Xva_s3_upload_new (&t.cfg, t.bucket, key, meta, 3, 0, &status, &err);
  CHECK_MSG (u != NULL && status == XVA_OK, err.msg);
  if (u == NULL)
    return 1;
  for (pos = 0; pos < size;) {
    size_t n = size - pos < 1000003 ? size - pos : 1000003;
    status = Xva_s3_upload_write (u, data + pos, n);
    CHECK_MSG (status == XVA_OK, Xva_s3_upload_errmsg (u));
    if (status != XVA_OK)
      break;
    pos += n;
  }
  status = Xva_s3_upload_complete (u);
  up = s3_test_now () - t0;
  CHECK_MSG (status == XVA_OK, Xva_s3_upload_errmsg (u));
  CHECK (Xva_s3_upload_bytes (u) == size);
  CHECK (Xva_s3_upload_parts (u) >= 3);
  CHECK (Xva_s3_upload_max_inflight (u) >= 2);
  fprintf (stderr,
           "upload: %zu bytes, %u parts, %u at most in flight, "
           "%u retries\n",
           size, Xva_s3_upload_parts (u), Xva_s3_upload_max_inflight (u),
           Xva_s3_upload_retries (u));
  /* Complete twice, abort after complete: wrong state. */
  CHECK (Xva_s3_upload_complete (u) == XVA_ESTATE);
  CHECK (Xva_s3_upload_abort (u) == XVA_ESTATE);
  CHECK (Xva_s3_upload_write (u, data, 1) == XVA_ESTATE);
  Xva_s3_upload_free (u);

  /* Metadata round trip. */
  memset (&info, 0, sizeof info);
  status = Xva_s3_head (&t.cfg, t.bucket, key, &info, &err);
  CHECK_MSG (status == XVA_OK, err.msg);
  CHECK (info.size == size);
  CHECK (info.etag[0] != '\0');
  CHECK (info.mtime > 1700000000);
  CHECK (info.nmeta == 3);
  CHECK (Xva_s3_info_meta (&info, "vm-name") != NULL
         && strcmp (Xva_s3_info_meta (&info, "vm-name"), "web server 01")
              == 0);
  CHECK (Xva_s3_info_meta (&info, "checksum-kind") != NULL
         && strcmp (Xva_s3_info_meta (&info, "checksum-kind"), "xxhash") == 0);
  CHECK (Xva_s3_info_meta (&info, "COMPLETE") != NULL
         && strcmp (Xva_s3_info_meta (&info, "complete"), "yes") == 0);
  CHECK (Xva_s3_info_meta (&info, "missing") == NULL);
  Xva_s3_info_clear (&info);

  /* Download: default ranges with large reads, then small ranges with
   * small odd reads, then a single range in flight. */
  CHECK (download_compare (&t.cfg, t.bucket, key, data, size, 4 << 20, &down));
  fprintf (stderr, "%zu MiB: upload %.1f MiB/s, download %.1f MiB/s\n", mib,
           (double) size / 1048576.0 / up, (double) size / 1048576.0 / down);
  cfg = t.cfg;
  cfg.range_size = (1u << 20) + 7;
  cfg.parallel = 3;
  if (mib <= 64)
    CHECK (download_compare (&cfg, t.bucket, key, data, size, 65521, &down));
  cfg.parallel = 1;
  cfg.range_size = 3u << 20;
  if (mib <= 64)
    CHECK (download_compare (&cfg, t.bucket, key, data, size, 1u << 20,
                             &down));

  /* A second object beside it, and one outside the prefix's subtree. */
  s3_test_key (&t, "vm/backup 2 +(copy)=\xc3\xbc&x;y,z!*'@$~.xva", key2,
               sizeof key2);
  u = Xva_s3_upload_new (&t.cfg, t.bucket, key2, NULL, 0, 0, &status, &err);
  CHECK_MSG (u != NULL, err.msg);
  if (u != NULL) {
    CHECK (Xva_s3_upload_write (u, data, 1000) == XVA_OK);
    status = Xva_s3_upload_complete (u);
    CHECK_MSG (status == XVA_OK, Xva_s3_upload_errmsg (u));
    CHECK (Xva_s3_upload_parts (u) == 0); /* one PUT */
    Xva_s3_upload_free (u);
  }

  /* List by prefix. */
  snprintf (prefix2, sizeof prefix2, "%svm/", t.prefix);
  status = Xva_s3_list (&t.cfg, t.bucket, prefix2, 0, &list, &err);
  CHECK_MSG (status == XVA_OK, err.msg);
  if (list != NULL) {
    CHECK (list->n == 2);
    if (list->n == 2) {
      CHECK (strcmp (list->v[0].key, key) == 0);
      CHECK (list->v[0].size == size);
      CHECK (strcmp (list->v[1].key, key2) == 0);
      CHECK (list->v[1].size == 1000);
      CHECK (list->v[1].mtime > 1700000000);
    }
    status = Xva_s3_list_fetch_info (&t.cfg, t.bucket, list, &err);
    CHECK_MSG (status == XVA_OK, err.msg);
    for (i = 0; i < list->n; i++)
      CHECK (list->v[i].have_info && list->v[i].info.size == list->v[i].size);
    if (list->n == 2)
      CHECK (Xva_s3_info_meta (&list->v[0].info, "vm-name") != NULL
             && list->v[1].info.nmeta == 0);
    Xva_s3_list_free (list);
    list = NULL;
  }

  /* Virtual-hosted style (http://bucket.host/key), when the server
   * has a DNS name: a two-part upload, HEAD, download, list. */
  if (t.vhost_endpoint[0] != '\0') {
    char key3[512];
    size_t size3 = XVA_S3_PART_DEFAULT + 1;
    cfg = t.cfg;
    cfg.endpoint = t.vhost_endpoint;
    cfg.path_style = 0;
    s3_test_key (&t, "vhost/obj", key3, sizeof key3);
    u = Xva_s3_upload_new (&cfg, t.bucket, key3, meta, 1, 0, &status, &err);
    CHECK_MSG (u != NULL, err.msg);
    if (u != NULL) {
      CHECK (Xva_s3_upload_write (u, data, size3) == XVA_OK);
      status = Xva_s3_upload_complete (u);
      CHECK_MSG (status == XVA_OK, Xva_s3_upload_errmsg (u));
      CHECK (Xva_s3_upload_parts (u) == 2);
      Xva_s3_upload_free (u);
    }
    memset (&info, 0, sizeof info);
    status = Xva_s3_head (&cfg, t.bucket, key3, &info, &err);
    CHECK_MSG (status == XVA_OK && info.size == size3, err.msg);
    CHECK (Xva_s3_info_meta (&info, "vm-name") != NULL);
    Xva_s3_info_clear (&info);
    CHECK (download_compare (&cfg, t.bucket, key3, data, size3, 1 << 20,
                             &down));
    snprintf (prefix2, sizeof prefix2, "%svhost/", t.prefix);
    status = Xva_s3_list (&cfg, t.bucket, prefix2, 0, &list, &err);
    CHECK_MSG (status == XVA_OK && list != NULL && list->n == 1, err.msg);
    Xva_s3_list_free (list);
    list = NULL;
    CHECK (Xva_s3_delete (&cfg, t.bucket, key3, &err) == XVA_OK);
  }
  else
    fprintf (stderr,
             "no XVA_S3_VHOST_ENDPOINT: virtual-hosted style not "
             "tried\n");

  /* Delete, then the object is gone. */
  CHECK_MSG (Xva_s3_delete (&t.cfg, t.bucket, key, &err) == XVA_OK, err.msg);
  CHECK_MSG (Xva_s3_delete (&t.cfg, t.bucket, key2, &err) == XVA_OK, err.msg);
  memset (&info, 0, sizeof info);
  status = Xva_s3_head (&t.cfg, t.bucket, key, &info, &err);
  CHECK_MSG (status == XVA_ENOTFOUND, err.msg);
  status = Xva_s3_list (&t.cfg, t.bucket, t.prefix, 0, &list, &err);
  CHECK_MSG (status == XVA_OK && list != NULL && list->n == 0, err.msg);
  Xva_s3_list_free (list);
  /* Deleting what is not there succeeds. */
  CHECK (Xva_s3_delete (&t.cfg, t.bucket, key, &err) == XVA_OK);

  free (data);
  HARNESS_DONE ();
}
