/* Staging and the sweep: published images land in the SR directory,
 * aborted ones go away, and opening the store removes staging
 * directories and images that no VDI names while keeping known ones. */
#include <limits.h>

#include "store-test.h"

#define TASK1 "c0ffee00-0000-4000-8000-000000000001"
#define TASK2 "c0ffee00-0000-4000-8000-000000000002"
#define KNOWN "d15c0000-0000-4000-8000-00000000000a"
#define ORPHAN "d15c0000-0000-4000-8000-00000000000b"
#define STAGED "d15c0000-0000-4000-8000-00000000000c"
#define ABORTED "d15c0000-0000-4000-8000-00000000000d"
#define LOST_SR "5e5e5e5e-0000-4000-8000-000000000001"

static unsigned heard;
static char heard_path[PATH_MAX + 64];

static void
hear (void *opaque, const char *path, int removed)
{
  (void) opaque;
  if (removed)
    heard++;
  snprintf (heard_path, sizeof heard_path, "%s", path);
}

/* Puts a VDI record named by uuid. */
static int
put_vdi (struct Xva_store *s, struct Xva_store_txn *t, const char *uuid)
{
  char ref[XVA_STORE_REF_MAX + 1];
  struct xva_value *rec = test_record (uuid, "disk", NULL);
  int r;

  if (rec == NULL)
    return XVA_ENOMEM;
  xva_value_set_string (rec, "location", uuid);
  r = Xva_store_new_ref (ref);
  if (r == XVA_OK)
    r = Xva_store_put (s, t, ref, "VDI", rec);
  xva_value_free (rec);
  return r;
}

int
main (void)
{
  char dir[1024], err[512], sr_uuid[XVA_STORE_UUID_LEN + 1];
  char sr_ref[XVA_STORE_REF_MAX + 1], srdir[PATH_MAX];
  char staging[PATH_MAX], path[PATH_MAX], p2[PATH_MAX + 64];
  struct Xva_store *s = NULL;
  struct Xva_store_txn *t = NULL;
  struct Xva_store_sweep_report rep;
  const char *staged[1] = { STAGED };
  const char *aborted[1] = { ABORTED };

  test_tmpdir (dir, sizeof dir);
  CHECK_RC (Xva_store_open (dir, &s, err, sizeof err), XVA_OK);
  if (s == NULL) {
    fprintf (stderr, "open: %s\n", err);
    return 1;
  }
  Xva_store_last_sweep (s, &rep);
  CHECK (rep.staging_dirs == 0 && rep.orphan_images == 0);
  CHECK_RC (Xva_store_sr_create (s, "disks", sr_ref, sr_uuid), XVA_OK);
  CHECK_RC (Xva_store_sr_dir (s, sr_uuid, srdir, sizeof srdir), XVA_OK);

  /* An import: stage, publish, commit, remove the staging. */
  CHECK_RC (Xva_store_staging_dir (s, sr_uuid, TASK1, staging, sizeof staging),
            XVA_OK);
  CHECK (test_exists (staging));
  CHECK_RC (Xva_store_staging_path (s, sr_uuid, TASK1, STAGED, path,
                                    sizeof path),
            XVA_OK);
  CHECK (strncmp (path, staging, strlen (staging)) == 0);
  CHECK (test_write_file (path, 4096) == 0);
  CHECK_RC (Xva_store_staging_publish (s, sr_uuid, TASK1, staged, 1), XVA_OK);
  CHECK (!test_exists (path));
  CHECK_RC (Xva_store_vdi_path (s, sr_uuid, STAGED, path, sizeof path),
            XVA_OK);
  CHECK (test_exists (path));
  CHECK_RC (Xva_store_begin (s, &t), XVA_OK);
  CHECK_RC (put_vdi (s, t, STAGED), XVA_OK);
  CHECK_RC (Xva_store_commit (t), XVA_OK);
  CHECK_RC (Xva_store_staging_remove (s, sr_uuid, TASK1), XVA_OK);
  CHECK (!test_exists (staging));
  /* a failed import's abort does not touch a committed VDI's image */
  CHECK_RC (Xva_store_staging_abort (s, sr_uuid, TASK1, staged, 1), XVA_OK);
  CHECK (test_exists (path));

  /* Publishing never replaces an existing image. */
  CHECK_RC (Xva_store_staging_dir (s, sr_uuid, TASK2, staging, sizeof staging),
            XVA_OK);
  CHECK_RC (Xva_store_staging_path (s, sr_uuid, TASK2, STAGED, p2, sizeof p2),
            XVA_OK);
  CHECK (test_write_file (p2, 10) == 0);
  CHECK_RC (Xva_store_staging_publish (s, sr_uuid, TASK2, staged, 1),
            XVA_EEXIST);
  CHECK (test_exists (p2));
  unlink (p2);
  /* A published image whose commit did not happen is removed by the
   * abort. */
  CHECK_RC (Xva_store_staging_path (s, sr_uuid, TASK2, ABORTED, p2, sizeof p2),
            XVA_OK);
  CHECK (test_write_file (p2, 10) == 0);
  CHECK_RC (Xva_store_staging_publish (s, sr_uuid, TASK2, aborted, 1), XVA_OK);
  CHECK_RC (Xva_store_vdi_path (s, sr_uuid, ABORTED, p2, sizeof p2), XVA_OK);
  CHECK (test_exists (p2));
  CHECK_RC (Xva_store_staging_abort (s, sr_uuid, TASK2, aborted, 1), XVA_OK);
  CHECK (!test_exists (p2));
  CHECK (!test_exists (staging));
  /* A missing staged image is an error, not a silent success. */
  CHECK_RC (Xva_store_staging_dir (s, sr_uuid, TASK2, staging, sizeof staging),
            XVA_OK);
  CHECK_RC (Xva_store_staging_publish (s, sr_uuid, TASK2, aborted, 1),
            XVA_ENOTFOUND);
  CHECK_RC (Xva_store_staging_remove (s, sr_uuid, TASK2), XVA_OK);

  /* Leftovers of a crash: a staging directory with an image in it, an
   * image no VDI names, an image a VDI names, other files, an empty
   * directory of no SR. */
  CHECK_RC (put_vdi (s, NULL, KNOWN), XVA_OK);
  CHECK_RC (Xva_store_staging_dir (s, sr_uuid, TASK1, staging, sizeof staging),
            XVA_OK);
  CHECK_RC (Xva_store_staging_path (s, sr_uuid, TASK1, ORPHAN, path,
                                    sizeof path),
            XVA_OK);
  CHECK (test_write_file (path, 100) == 0);
  snprintf (p2, sizeof p2, "%s/" KNOWN ".img", srdir);
  CHECK (test_write_file (p2, 100) == 0);
  snprintf (p2, sizeof p2, "%s/" ORPHAN ".img", srdir);
  CHECK (test_write_file (p2, 100) == 0);
  snprintf (p2, sizeof p2, "%s/notes.txt", srdir);
  CHECK (test_write_file (p2, 3) == 0);
  snprintf (p2, sizeof p2, "%s/not-a-uuid.img", srdir);
  CHECK (test_write_file (p2, 3) == 0);
  snprintf (p2, sizeof p2, "%s/sr/" LOST_SR, dir);
  CHECK (mkdir (p2, 0700) == 0);
  Xva_store_close (s);
  s = NULL;

  CHECK_RC (Xva_store_open (dir, &s, err, sizeof err), XVA_OK);
  if (s == NULL) {
    fprintf (stderr, "reopen: %s\n", err);
    return 1;
  }
  Xva_store_last_sweep (s, &rep);
  CHECK (rep.staging_dirs == 1);
  CHECK (rep.orphan_images == 1);
  CHECK (rep.empty_sr_dirs == 1);
  CHECK (rep.failures == 0);
  CHECK (!test_exists (staging));
  snprintf (p2, sizeof p2, "%s/" ORPHAN ".img", srdir);
  CHECK (!test_exists (p2));
  snprintf (p2, sizeof p2, "%s/" KNOWN ".img", srdir);
  CHECK (test_exists (p2));
  snprintf (p2, sizeof p2, "%s/" STAGED ".img", srdir);
  CHECK (test_exists (p2));
  snprintf (p2, sizeof p2, "%s/notes.txt", srdir);
  CHECK (test_exists (p2));
  snprintf (p2, sizeof p2, "%s/not-a-uuid.img", srdir);
  CHECK (test_exists (p2));
  snprintf (p2, sizeof p2, "%s/sr/" LOST_SR, dir);
  CHECK (!test_exists (p2));
  CHECK (test_exists (srdir));

  /* An explicit sweep tells of each removal; a second finds nothing. */
  snprintf (p2, sizeof p2, "%s/" ORPHAN ".img", srdir);
  CHECK (test_write_file (p2, 1) == 0);
  CHECK_RC (Xva_store_sweep (s, hear, NULL, &rep), XVA_OK);
  CHECK (rep.orphan_images == 1 && heard == 1);
  CHECK_MSG (strcmp (heard_path, p2) == 0, heard_path);
  CHECK (!test_exists (p2));
  /* an empty directory of no SR is named by its full path */
  snprintf (p2, sizeof p2, "%s/sr/" LOST_SR, dir);
  CHECK (mkdir (p2, 0700) == 0);
  CHECK_RC (Xva_store_sweep (s, hear, NULL, &rep), XVA_OK);
  CHECK (rep.empty_sr_dirs == 1 && heard == 2);
  CHECK_MSG (strcmp (heard_path, p2) == 0, heard_path);
  CHECK (!test_exists (p2));
  CHECK_RC (Xva_store_sweep (s, hear, NULL, &rep), XVA_OK);
  CHECK (rep.orphan_images == 0 && rep.staging_dirs == 0 && heard == 2);

  /* Removing an image after its VDI is gone. */
  CHECK_RC (Xva_store_vdi_remove (s, sr_uuid, KNOWN), XVA_OK);
  snprintf (p2, sizeof p2, "%s/" KNOWN ".img", srdir);
  CHECK (!test_exists (p2));
  CHECK_RC (Xva_store_vdi_remove (s, sr_uuid, KNOWN), XVA_OK);

  Xva_store_close (s);
  test_rmtree (dir);
  HARNESS_DONE ();
}
