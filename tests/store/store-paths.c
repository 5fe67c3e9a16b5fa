/* Only canonical uuids reach a path: no '/', no '..', no odd forms. */
#include <limits.h>

#include "store-test.h"

#define GOOD "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f0"
#define GOOD_UPPER "0F1E2D3C-4B5A-4978-8695-A4B3C2D1E0F0"

static const char *const bad[] = {
  "",
  "../../../../../../etc/passwd",
  "..",
  "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f",   /* short */
  "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f00", /* long */
  "0f1e2d3c/4b5a-4978-8695-a4b3c2d1e0f0",  /* slash */
  "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e/..",  /* slash and dots */
  "../1e2d3c-4b5a-4978-8695-a4b3c2d1e0f0", /* dots */
  "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0fg",  /* not hex */
  "0f1e2d3c4b5a-4978-8695-a4b3c2d1e0f0-",  /* hyphen moved */
  "0F1e2d3c-4b5a-4978-8695-a4b3c2d1e0f0",  /* mixed case */
  " f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f0",
};

int
main (void)
{
  char dir[1024], err[512], buf[PATH_MAX], want[PATH_MAX + 128];
  char u[XVA_STORE_UUID_LEN + 1], ref[XVA_STORE_REF_MAX + 1];
  struct Xva_store *s = NULL;
  size_t i;

  CHECK (Xva_store_uuid_valid (GOOD));
  CHECK (Xva_store_uuid_valid (GOOD_UPPER));
  CHECK (!Xva_store_uuid_valid (NULL));
  for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
    CHECK_MSG (!Xva_store_uuid_valid (bad[i]), bad[i]);

  /* New uuids are canonical, version 4; refs are OpaqueRef:<uuid>. */
  for (i = 0; i < 100; i++) {
    CHECK_RC (Xva_store_new_uuid (u), XVA_OK);
    CHECK (Xva_store_uuid_valid (u));
    CHECK (u[14] == '4');
    CHECK (strchr ("89ab", u[19]) != NULL);
  }
  CHECK_RC (Xva_store_new_ref (ref), XVA_OK);
  CHECK (strncmp (ref, "OpaqueRef:", 10) == 0);
  CHECK (Xva_store_uuid_valid (ref + 10));

  test_tmpdir (dir, sizeof dir);
  CHECK_RC (Xva_store_open (dir, &s, err, sizeof err), XVA_OK);
  if (s == NULL) {
    fprintf (stderr, "open: %s\n", err);
    return 1;
  }

  CHECK_RC (Xva_store_sr_dir (s, GOOD, buf, sizeof buf), XVA_OK);
  snprintf (want, sizeof want, "%s/sr/" GOOD, dir);
  CHECK (strcmp (buf, want) == 0);
  CHECK_RC (Xva_store_vdi_path (s, GOOD, GOOD_UPPER, buf, sizeof buf), XVA_OK);
  snprintf (want, sizeof want, "%s/sr/" GOOD "/" GOOD_UPPER ".img", dir);
  CHECK (strcmp (buf, want) == 0);
  CHECK_RC (Xva_store_staging_path (s, GOOD, GOOD, GOOD, buf, sizeof buf),
            XVA_OK);
  snprintf (want, sizeof want, "%s/sr/" GOOD "/.import-" GOOD "/" GOOD ".img",
            dir);
  CHECK (strcmp (buf, want) == 0);
  /* too small a buffer */
  CHECK_RC (Xva_store_sr_dir (s, GOOD, buf, 10), XVA_ELIMIT);

  for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    const char *b = bad[i];
    CHECK_RC (Xva_store_sr_dir (s, b, buf, sizeof buf), XVA_EINVAL);
    CHECK_RC (Xva_store_vdi_path (s, GOOD, b, buf, sizeof buf), XVA_EINVAL);
    CHECK_RC (Xva_store_vdi_path (s, b, GOOD, buf, sizeof buf), XVA_EINVAL);
    CHECK_RC (Xva_store_staging_path (s, GOOD, b, GOOD, buf, sizeof buf),
              XVA_EINVAL);
    CHECK_RC (Xva_store_staging_dir (s, GOOD, b, buf, sizeof buf), XVA_EINVAL);
    CHECK_RC (Xva_store_staging_dir (s, b, GOOD, buf, sizeof buf), XVA_EINVAL);
    CHECK_RC (Xva_store_staging_remove (s, GOOD, b), XVA_EINVAL);
    CHECK_RC (Xva_store_vdi_remove (s, GOOD, b), XVA_EINVAL);
    CHECK_RC (Xva_store_staging_publish (s, GOOD, GOOD, &b, 1), XVA_EINVAL);
  }
  /* nothing was created by the refused calls */
  snprintf (want, sizeof want, "%s/etc", dir);
  CHECK (!test_exists (want));
  /* a staging directory needs its SR directory */
  CHECK_RC (Xva_store_staging_dir (s, GOOD, GOOD, buf, sizeof buf),
            XVA_ENOTFOUND);

  Xva_store_close (s);
  test_rmtree (dir);
  HARNESS_DONE ();
}
