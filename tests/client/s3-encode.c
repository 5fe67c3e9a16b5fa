/* S3 addressing without a server: s3:// URL parsing, bucket and key
 * rules, RFC 3986 encoding, canonical query strings, configuration
 * checks.  Needs no cluster, so it always runs. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "client/s3.h"
#include "harness.h"

static int
enc (const char *s, int keep_slash, const char *want)
{
  char out[256];
  long n = Xva_s3_uri_encode (s, keep_slash, out, sizeof out);

  if (n < 0 || strcmp (out, want) != 0 || (size_t) n != strlen (want)) {
    fprintf (stderr, "encode '%s': got '%s', want '%s'\n", s,
             n < 0 ? "(overflow)" : out, want);
    return 0;
  }
  return 1;
}

int
main (void)
{
  struct Xva_s3_url u;
  struct Xva_s3_err err;
  struct Xva_s3_config c;
  struct Xva_s3_info info;
  struct Xva_s3_upload *up;
  char out[512], small[4], longkey[XVA_S3_KEY_MAX + 2];
  int status;

  /* URLs. */
  CHECK (Xva_s3_url_parse ("s3://backups/vm/web 01.xva", &u, &err) == XVA_OK);
  CHECK (strcmp (u.bucket, "backups") == 0);
  CHECK (strcmp (u.key, "vm/web 01.xva") == 0);
  CHECK (Xva_s3_url_parse ("s3://my.bucket-1", &u, &err) == XVA_OK);
  CHECK (strcmp (u.bucket, "my.bucket-1") == 0 && u.key[0] == '\0');
  CHECK (Xva_s3_url_parse ("s3://abc/", &u, &err) == XVA_OK && u.key[0] == 0);
  CHECK (Xva_s3_url_parse ("s3://abc/a%2Fb", &u, &err) == XVA_OK
         && strcmp (u.key, "a%2Fb") == 0);
  CHECK (Xva_s3_url_parse ("http://abc/key", &u, &err) == XVA_EINVAL);
  CHECK (strstr (err.msg, "Xva_s3_url_parse") == err.msg);
  CHECK (Xva_s3_url_parse ("s3://", &u, &err) == XVA_EINVAL);
  CHECK (Xva_s3_url_parse ("s3:///key", &u, &err) == XVA_EINVAL);
  CHECK (Xva_s3_url_parse ("s3://ab/key", &u, &err) == XVA_EINVAL);
  CHECK (Xva_s3_url_parse ("s3://Upper/key", &u, &err) == XVA_EINVAL);
  CHECK (Xva_s3_url_parse ("s3://a_b_c/key", &u, &err) == XVA_EINVAL);
  CHECK (Xva_s3_url_parse ("s3://-abc/key", &u, &err) == XVA_EINVAL);
  CHECK (Xva_s3_url_parse ("s3://abc-/key", &u, &err) == XVA_EINVAL);
  CHECK (Xva_s3_url_parse ("s3://a..b/key", &u, &err) == XVA_EINVAL);
  CHECK (Xva_s3_url_parse ("s3://abc/a/../b", &u, &err) == XVA_EINVAL);
  CHECK (Xva_s3_url_parse ("s3://abc/./b", &u, &err) == XVA_EINVAL);
  CHECK (Xva_s3_url_parse ("s3://abc/a\nb", &u, &err) == XVA_EINVAL);
  CHECK (Xva_s3_url_parse (NULL, &u, NULL) == XVA_EINVAL);
  memset (longkey, 'k', sizeof longkey - 1);
  longkey[sizeof longkey - 1] = '\0';
  CHECK (!Xva_s3_key_valid (longkey));
  longkey[XVA_S3_KEY_MAX] = '\0';
  CHECK (Xva_s3_key_valid (longkey));
  CHECK (Xva_s3_key_valid ("a/..b/c."));
  CHECK (!Xva_s3_key_valid (""));
  CHECK (Xva_s3_bucket_valid ("abc") && !Xva_s3_bucket_valid ("ab"));

  /* RFC 3986 encoding. */
  CHECK (enc ("AZaz09-._~", 0, "AZaz09-._~"));
  CHECK (enc ("a b/c", 1, "a%20b/c"));
  CHECK (enc ("a b/c", 0, "a%20b%2Fc"));
  CHECK (enc ("+=&?#%", 0, "%2B%3D%26%3F%23%25"));
  CHECK (enc ("\xc3\xa9", 1, "%C3%A9"));
  CHECK (enc ("", 0, ""));
  CHECK (Xva_s3_uri_encode ("abcd", 0, small, sizeof small) == -1);
  CHECK (Xva_s3_uri_encode ("a b", 0, small, sizeof small) == -1);
  CHECK (Xva_s3_uri_encode ("abc", 0, small, sizeof small) == 3);

  /* Canonical query strings: sorted, key= for empty, / as %2F. */
  {
    struct Xva_s3_pair p[] = {
      { "uploads", NULL },
    };
    CHECK (Xva_s3_query_build (p, 1, out, sizeof out) == 8);
    CHECK (strcmp (out, "uploads=") == 0);
  }
  {
    struct Xva_s3_pair p[] = {
      { "prefix", "vm/a b" },
      { "list-type", "2" },
      { "continuation-token", "x+y/z=" },
      { "max-keys", "1000" },
    };
    CHECK (Xva_s3_query_build (p, 4, out, sizeof out) > 0);
    CHECK (strcmp (out,
                   "continuation-token=x%2By%2Fz%3D&list-type=2&"
                   "max-keys=1000&prefix=vm%2Fa%20b")
           == 0);
    CHECK (Xva_s3_query_build (p, 4, small, sizeof small) == -1);
  }
  {
    struct Xva_s3_pair p[] = {
      { "uploadId", "2~abc" },
      { "partNumber", "10" },
    };
    CHECK (Xva_s3_query_build (p, 2, out, sizeof out) > 0);
    CHECK (strcmp (out, "partNumber=10&uploadId=2~abc") == 0);
    CHECK (Xva_s3_query_build (p, 0, out, sizeof out) == 0 && out[0] == 0);
  }

  /* Part sizes: 5 TiB fits in 10 000 parts, with or without a hint,
   * and no part is outside 5 MiB .. 5 GiB. */
  {
    const uint64_t hints[] = { 0, (uint64_t) 100 << 30, XVA_S3_OBJECT_MAX,
                               (uint64_t) 1 << 20 };
    size_t h;
    CHECK (Xva_s3_part_size (XVA_S3_PART_DEFAULT, 0, 1)
           == XVA_S3_PART_DEFAULT);
    CHECK (Xva_s3_part_size (XVA_S3_PART_DEFAULT, 0, 1000)
           == XVA_S3_PART_DEFAULT);
    CHECK (Xva_s3_part_size (XVA_S3_PART_DEFAULT, 0, 1001)
           == 2 * XVA_S3_PART_DEFAULT);
    for (h = 0; h < sizeof hints / sizeof hints[0]; h++) {
      uint64_t total = 0, at9000 = 0;
      unsigned n;
      size_t prev = 0;
      for (n = 1; n <= XVA_S3_PARTS_MAX; n++) {
        size_t ps = Xva_s3_part_size (XVA_S3_PART_DEFAULT, hints[h], n);
        CHECK (ps >= XVA_S3_PART_MIN && ps <= XVA_S3_PART_MAX);
        CHECK (ps >= prev);
        prev = ps;
        total += ps;
        if (n == 9000)
          at9000 = total;
      }
      CHECK (total >= XVA_S3_OBJECT_MAX);
      CHECK (at9000 >= hints[h]);
    }
    CHECK (Xva_s3_part_size (XVA_S3_PART_DEFAULT, (uint64_t) 100 << 30, 1)
           >= ((uint64_t) 100 << 30) / 9000);
  }

  /* Configuration checks (no network: they fail before any request). */
  memset (&info, 0, sizeof info);
  Xva_s3_config_init (&c);
  CHECK (c.path_style == 1 && c.part_size == XVA_S3_PART_DEFAULT);
  c.access_key = "AK";
  c.secret_key = "SK";
  c.endpoint = NULL;
  CHECK (Xva_s3_head (&c, "abc", "k", &info, &err) == XVA_EINVAL);
  CHECK (strstr (err.msg, "endpoint") != NULL);
  c.endpoint = "http://user@host:1";
  CHECK (Xva_s3_head (&c, "abc", "k", &info, &err) == XVA_EINVAL);
  c.endpoint = "https://host:1/";
  c.region = "us east";
  CHECK (Xva_s3_head (&c, "abc", "k", &info, &err) == XVA_EINVAL);
  CHECK (strstr (err.msg, "region") != NULL);
  c.region = NULL;
  c.access_key = "A:K";
  CHECK (Xva_s3_head (&c, "abc", "k", &info, &err) == XVA_EINVAL);
  c.access_key = "AK";
  c.parallel = XVA_S3_PARALLEL_MAX + 1;
  CHECK (Xva_s3_head (&c, "abc", "k", &info, &err) == XVA_EINVAL);
  c.parallel = 0;
  c.part_size = XVA_S3_PART_MIN - 1;
  up = Xva_s3_upload_new (&c, "abc", "k", NULL, 0, 0, &status, &err);
  CHECK (up == NULL && status == XVA_EINVAL && err.status == XVA_EINVAL);
  c.part_size = 0;
  up = Xva_s3_upload_new (&c, "abc", "k", NULL, 0, XVA_S3_OBJECT_MAX + 1,
                          &status, &err);
  CHECK (up == NULL && status == XVA_ELIMIT);
  {
    struct Xva_s3_pair m[2] = { { "ok", "fine" }, { "v", "tab\there" } };
    up = Xva_s3_upload_new (&c, "abc", "k", m, 2, 0, &status, &err);
    CHECK (up == NULL && status == XVA_EINVAL);
    CHECK (strstr (err.msg, "printable") != NULL);
  }
  /* Configuration from the environment. */
  unsetenv ("XVA_S3_ENDPOINT");
  unsetenv ("XVA_S3_ACCESS_KEY");
  unsetenv ("AWS_ACCESS_KEY_ID");
  unsetenv ("XVA_S3_SECRET_KEY");
  unsetenv ("AWS_SECRET_ACCESS_KEY");
  unsetenv ("XVA_S3_REGION");
  unsetenv ("AWS_REGION");
  unsetenv ("AWS_DEFAULT_REGION");
  {
    struct Xva_s3_config e;
    Xva_s3_config_init (&e);
    CHECK (Xva_s3_config_from_env (&e) == XVA_EINVAL);
    setenv ("XVA_S3_ENDPOINT", "https://s3.example:8443", 1);
    setenv ("AWS_ACCESS_KEY_ID", "AKENV", 1);
    setenv ("XVA_S3_SECRET_KEY", "SKENV", 1);
    setenv ("AWS_REGION", "eu-west-3", 1);
    setenv ("XVA_S3_PATH_STYLE", "0", 1);
    setenv ("XVA_S3_INSECURE", "1", 1);
    CHECK (Xva_s3_config_from_env (&e) == XVA_OK);
    CHECK (strcmp (e.endpoint, "https://s3.example:8443") == 0);
    CHECK (strcmp (e.access_key, "AKENV") == 0);
    CHECK (strcmp (e.secret_key, "SKENV") == 0);
    CHECK (strcmp (e.region, "eu-west-3") == 0);
    CHECK (e.path_style == 0 && e.insecure == 1);
  }

  /* A valid upload handle sends nothing until data fills a part; free
   * without writing is clean. */
  up = Xva_s3_upload_new (&c, "abc", "k", NULL, 0, 0, &status, &err);
  CHECK_MSG (up != NULL && status == XVA_OK, err.msg);
  CHECK (Xva_s3_upload_bytes (up) == 0 && Xva_s3_upload_id (up)[0] == 0);
  Xva_s3_upload_free (up);
  Xva_s3_upload_free (NULL);
  Xva_s3_download_free (NULL);
  Xva_s3_list_free (NULL);
  Xva_s3_pending_free (NULL);
  Xva_s3_info_clear (NULL);

  HARNESS_DONE ();
}
