/* SR directories, disk image paths, staging of imports and the sweep. */
#include "store/store-priv.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define STAGING_PREFIX ".import-"
#define IMG_SUFFIX ".img"
#define RMTREE_DEPTH 4

/* ---- Small file helpers ------------------------------------------------ */

int
Xva_store_path (char *buf, size_t len, const char *fn, const char *fmt, ...)
{
  va_list ap;
  int n;

  if (buf == NULL || len == 0)
    return Xva_store_error (XVA_EINVAL, "%s: no buffer given", fn);
  va_start (ap, fmt);
  n = vsnprintf (buf, len, fmt, ap);
  va_end (ap);
  if (n < 0 || (size_t) n >= len) {
    buf[0] = '\0';
    return Xva_store_error (XVA_ELIMIT, "%s: path longer than %zu bytes", fn,
                            len);
  }
  return XVA_OK;
}

int
Xva_store_fsync_dir (const char *path)
{
  int fd, r, e;

  fd = open (path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd == -1)
    return -1;
  r = fsync (fd);
  e = errno;
  close (fd);
  errno = e;
  return r;
}

int
Xva_store_is_dir (const char *path, int follow)
{
  struct stat sb;

  if ((follow ? stat (path, &sb) : lstat (path, &sb)) == -1)
    return -1;
  if (!S_ISDIR (sb.st_mode)) {
    errno = ENOTDIR;
    return -1;
  }
  return 0;
}

int
Xva_store_mkdir (const char *path)
{
  char parent[PATH_MAX];
  size_t n;
  char *slash;

  if (mkdir (path, 0700) == -1)
    return errno == EEXIST ? Xva_store_is_dir (path, 0) : -1;
  n = strlen (path);
  if (n >= sizeof parent) {
    errno = ENAMETOOLONG;
    return -1;
  }
  memcpy (parent, path, n + 1);
  while (n > 1 && parent[n - 1] == '/')
    parent[--n] = '\0';
  slash = strrchr (parent, '/');
  if (slash == NULL)
    return Xva_store_fsync_dir (".");
  if (slash == parent)
    slash[1] = '\0';
  else
    *slash = '\0';
  return Xva_store_fsync_dir (parent);
}

int
Xva_store_rmtree_at (int dirfd, const char *name, unsigned depth)
{
  struct dirent *de;
  DIR *d;
  int fd, pass, e;

  if (unlinkat (dirfd, name, 0) == 0)
    return 0;
  if (errno != EISDIR && errno != EPERM)
    return -1;
  if (depth == 0) {
    errno = ELOOP;
    return -1;
  }
  /* Removing entries while reading a directory may hide some from the
   * listing: read it again until it is empty. */
  for (pass = 0; pass < 8; pass++) {
    fd = openat (dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd == -1)
      return -1;
    d = fdopendir (fd);
    if (d == NULL) {
      e = errno;
      close (fd);
      errno = e;
      return -1;
    }
    while ((de = readdir (d)) != NULL) {
      if (strcmp (de->d_name, ".") == 0 || strcmp (de->d_name, "..") == 0)
        continue;
      if (Xva_store_rmtree_at (fd, de->d_name, depth - 1) == -1
          && errno != ENOENT) {
        e = errno;
        closedir (d);
        errno = e;
        return -1;
      }
    }
    closedir (d);
    if (unlinkat (dirfd, name, AT_REMOVEDIR) == 0)
      return 0;
    if (errno != ENOTEMPTY && errno != EEXIST)
      return -1;
  }
  return -1;
}

/* Opens a directory for *at calls. */
static int
open_dir (const char *path)
{
  return open (path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

static int
check_uuid (const char *u, const char *what, const char *fn)
{
  if (!Xva_store_uuid_valid (u))
    return Xva_store_error (XVA_EINVAL, "%s: %s '%.64s' is not a uuid", fn,
                            what, u ? u : "(null)");
  return XVA_OK;
}

/* ---- Paths ------------------------------------------------------------- */

static int
sr_dir (const struct Xva_store *s, const char *sr_uuid, char *buf, size_t len,
        const char *fn)
{
  int r;

  if (s == NULL)
    return Xva_store_error (XVA_EINVAL, "%s: no store", fn);
  r = check_uuid (sr_uuid, "SR uuid", fn);
  if (r < 0)
    return r;
  return Xva_store_path (buf, len, fn, "%s/sr/%s", s->dir, sr_uuid);
}

int
Xva_store_sr_dir (const struct Xva_store *s, const char *sr_uuid, char *buf,
                  size_t len)
{
  return sr_dir (s, sr_uuid, buf, len, "Xva_store_sr_dir");
}

int
Xva_store_vdi_path (const struct Xva_store *s, const char *sr_uuid,
                    const char *vdi_uuid, char *buf, size_t len)
{
  static const char fn[] = "Xva_store_vdi_path";
  int r;

  if (s == NULL)
    return Xva_store_error (XVA_EINVAL, "%s: no store", fn);
  if ((r = check_uuid (sr_uuid, "SR uuid", fn)) < 0
      || (r = check_uuid (vdi_uuid, "VDI uuid", fn)) < 0)
    return r;
  return Xva_store_path (buf, len, fn, "%s/sr/%s/%s" IMG_SUFFIX, s->dir,
                         sr_uuid, vdi_uuid);
}

int
Xva_store_staging_path (const struct Xva_store *s, const char *sr_uuid,
                        const char *task_uuid, const char *vdi_uuid, char *buf,
                        size_t len)
{
  static const char fn[] = "Xva_store_staging_path";
  int r;

  if (s == NULL)
    return Xva_store_error (XVA_EINVAL, "%s: no store", fn);
  if ((r = check_uuid (sr_uuid, "SR uuid", fn)) < 0
      || (r = check_uuid (task_uuid, "task uuid", fn)) < 0
      || (r = check_uuid (vdi_uuid, "VDI uuid", fn)) < 0)
    return r;
  return Xva_store_path (buf, len, fn,
                         "%s/sr/%s/" STAGING_PREFIX "%s/%s" IMG_SUFFIX, s->dir,
                         sr_uuid, task_uuid, vdi_uuid);
}

int
Xva_store_staging_dir (struct Xva_store *s, const char *sr_uuid,
                       const char *task_uuid, char *buf, size_t len)
{
  static const char fn[] = "Xva_store_staging_dir";
  char srdir[PATH_MAX];
  struct stat sb;
  int r;

  if ((r = sr_dir (s, sr_uuid, srdir, sizeof srdir, fn)) < 0
      || (r = check_uuid (task_uuid, "task uuid", fn)) < 0)
    return r;
  if (stat (srdir, &sb) == -1 || !S_ISDIR (sb.st_mode))
    return Xva_store_error (XVA_ENOTFOUND, "%s: SR directory %s: %s", fn,
                            srdir,
                            errno == ENOENT ? "missing" : "not a directory");
  r = Xva_store_path (buf, len, fn, "%s/" STAGING_PREFIX "%s", srdir,
                      task_uuid);
  if (r < 0)
    return r;
  if (Xva_store_mkdir (buf) == -1)
    return Xva_store_error (errno == ENOSPC ? XVA_ENOSPC : XVA_EIO,
                            "%s: %s: %s", fn, buf, strerror (errno));
  return XVA_OK;
}

int
Xva_store_vdi_remove (struct Xva_store *s, const char *sr_uuid,
                      const char *vdi_uuid)
{
  static const char fn[] = "Xva_store_vdi_remove";
  char path[PATH_MAX], srdir[PATH_MAX];
  int r;

  r = Xva_store_vdi_path (s, sr_uuid, vdi_uuid, path, sizeof path);
  if (r < 0)
    return r;
  r = sr_dir (s, sr_uuid, srdir, sizeof srdir, fn);
  if (r < 0)
    return r;
  if (unlink (path) == -1) {
    if (errno == ENOENT)
      return XVA_OK;
    return Xva_store_error (XVA_EIO, "%s: %s: %s", fn, path, strerror (errno));
  }
  if (Xva_store_fsync_dir (srdir) == -1)
    return Xva_store_error (XVA_EIO, "%s: fsync %s: %s", fn, srdir,
                            strerror (errno));
  return XVA_OK;
}

/* ---- Staging ------------------------------------------------------------ */

/* Renames without replacing an existing target. */
static int
move_noreplace (int from_fd, const char *from, int to_fd, const char *to)
{
  if (renameat2 (from_fd, from, to_fd, to, RENAME_NOREPLACE) == 0)
    return 0;
  if (errno != EINVAL && errno != ENOSYS)
    return -1;
  /* The file system cannot; a hard link refuses an existing target. */
  if (linkat (from_fd, from, to_fd, to, 0) == -1)
    return -1;
  if (unlinkat (from_fd, from, 0) == -1) {
    int e = errno;
    unlinkat (to_fd, to, 0);
    errno = e;
    return -1;
  }
  return 0;
}

/* Opens the SR directory and the staging directory of a task. */
static int
open_staging (struct Xva_store *s, const char *sr_uuid, const char *task_uuid,
              int *srfd, int *stfd, const char *fn)
{
  char srdir[PATH_MAX], staging[PATH_MAX];
  int r;

  *srfd = -1;
  if (stfd)
    *stfd = -1;
  if ((r = sr_dir (s, sr_uuid, srdir, sizeof srdir, fn)) < 0
      || (r = check_uuid (task_uuid, "task uuid", fn)) < 0)
    return r;
  r = Xva_store_path (staging, sizeof staging, fn, "%s/" STAGING_PREFIX "%s",
                      srdir, task_uuid);
  if (r < 0)
    return r;
  *srfd = open_dir (srdir);
  if (*srfd == -1)
    return Xva_store_error (errno == ENOENT ? XVA_ENOTFOUND : XVA_EIO,
                            "%s: %s: %s", fn, srdir, strerror (errno));
  if (stfd == NULL)
    return XVA_OK;
  *stfd = open_dir (staging);
  if (*stfd == -1) {
    r = Xva_store_error (errno == ENOENT ? XVA_ENOTFOUND : XVA_EIO,
                         "%s: %s: %s", fn, staging, strerror (errno));
    close (*srfd);
    *srfd = -1;
    return r;
  }
  return XVA_OK;
}

int
Xva_store_staging_publish (struct Xva_store *s, const char *sr_uuid,
                           const char *task_uuid, const char *const *vdi_uuids,
                           size_t n)
{
  static const char fn[] = "Xva_store_staging_publish";
  char name[XVA_STORE_UUID_LEN + sizeof IMG_SUFFIX];
  int srfd = -1, stfd = -1, fd, r;
  size_t i, moved = 0;
  struct stat sb;

  if (n > 0 && vdi_uuids == NULL)
    return Xva_store_error (XVA_EINVAL, "%s: no VDI uuids given", fn);
  for (i = 0; i < n; i++)
    if ((r = check_uuid (vdi_uuids[i], "VDI uuid", fn)) < 0)
      return r;
  r = open_staging (s, sr_uuid, task_uuid, &srfd, &stfd, fn);
  if (r < 0)
    return r;
  /* Every image's data on disk before any becomes visible. */
  for (i = 0; i < n; i++) {
    snprintf (name, sizeof name, "%s" IMG_SUFFIX, vdi_uuids[i]);
    fd = openat (stfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd == -1) {
      r = Xva_store_error (errno == ENOENT ? XVA_ENOTFOUND : XVA_EIO,
                           "%s: staged image %s: %s", fn, name,
                           strerror (errno));
      goto out;
    }
    if (fstat (fd, &sb) == -1 || !S_ISREG (sb.st_mode)) {
      r = Xva_store_error (XVA_EIO,
                           "%s: staged image %s: not a regular "
                           "file",
                           fn, name);
      close (fd);
      goto out;
    }
    if (fsync (fd) == -1) {
      r = Xva_store_error (errno == ENOSPC ? XVA_ENOSPC : XVA_EIO,
                           "%s: fsync %s: %s", fn, name, strerror (errno));
      close (fd);
      goto out;
    }
    close (fd);
  }
  for (i = 0; i < n; i++) {
    snprintf (name, sizeof name, "%s" IMG_SUFFIX, vdi_uuids[i]);
    if (move_noreplace (stfd, name, srfd, name) == -1) {
      r = Xva_store_error (errno == EEXIST ? XVA_EEXIST : XVA_EIO,
                           "%s: moving %s into place: %s", fn, name,
                           strerror (errno));
      goto undo;
    }
    moved++;
  }
  if (fsync (srfd) == -1 || fsync (stfd) == -1) {
    r = Xva_store_error (XVA_EIO, "%s: fsync: %s", fn, strerror (errno));
    goto undo;
  }
  r = XVA_OK;
  goto out;

undo:
  while (moved > 0) {
    moved--;
    snprintf (name, sizeof name, "%s" IMG_SUFFIX, vdi_uuids[moved]);
    renameat (srfd, name, stfd, name);
  }
  fsync (srfd);
out:
  if (stfd != -1)
    close (stfd);
  if (srfd != -1)
    close (srfd);
  return r;
}

int
Xva_store_staging_remove (struct Xva_store *s, const char *sr_uuid,
                          const char *task_uuid)
{
  static const char fn[] = "Xva_store_staging_remove";
  char name[sizeof STAGING_PREFIX + XVA_STORE_UUID_LEN];
  int srfd = -1, r;

  r = open_staging (s, sr_uuid, task_uuid, &srfd, NULL, fn);
  if (r == XVA_ENOTFOUND)
    return XVA_OK; /* no SR directory: nothing staged */
  if (r < 0)
    return r;
  snprintf (name, sizeof name, STAGING_PREFIX "%s", task_uuid);
  if (Xva_store_rmtree_at (srfd, name, RMTREE_DEPTH) == -1 && errno != ENOENT)
    r = Xva_store_error (XVA_EIO, "%s: %s: %s", fn, name, strerror (errno));
  else if (fsync (srfd) == -1)
    r = Xva_store_error (XVA_EIO, "%s: fsync: %s", fn, strerror (errno));
  close (srfd);
  return r;
}

int
Xva_store_staging_abort (struct Xva_store *s, const char *sr_uuid,
                         const char *task_uuid, const char *const *vdi_uuids,
                         size_t n)
{
  static const char fn[] = "Xva_store_staging_abort";
  char name[XVA_STORE_UUID_LEN + sizeof IMG_SUFFIX];
  char ref[XVA_STORE_REF_MAX + 1];
  int srfd = -1, r, first = XVA_OK;
  size_t i;

  if (n > 0 && vdi_uuids == NULL)
    return Xva_store_error (XVA_EINVAL, "%s: no VDI uuids given", fn);
  r = open_staging (s, sr_uuid, task_uuid, &srfd, NULL, fn);
  if (r == XVA_ENOTFOUND)
    return XVA_OK;
  if (r < 0)
    return r;
  for (i = 0; i < n; i++) {
    if (!Xva_store_uuid_valid (vdi_uuids[i]))
      continue;
    /* An image a committed VDI names is not this import's to remove. */
    r = Xva_store_find_uuid (s, NULL, "VDI", vdi_uuids[i], ref, NULL);
    if (r == XVA_OK)
      continue;
    if (r != XVA_ENOTFOUND) {
      if (first == XVA_OK)
        first = r;
      continue;
    }
    snprintf (name, sizeof name, "%s" IMG_SUFFIX, vdi_uuids[i]);
    if (unlinkat (srfd, name, 0) == -1 && errno != ENOENT && first == XVA_OK)
      first = Xva_store_error (XVA_EIO, "%s: %s: %s", fn, name,
                               strerror (errno));
  }
  fsync (srfd);
  close (srfd);
  r = Xva_store_staging_remove (s, sr_uuid, task_uuid);
  return first < 0 ? first : r;
}

/* ---- Sweep ---------------------------------------------------------------- */

struct names {
  char **v;
  size_t n, cap;
};

static void
names_free (struct names *ns)
{
  size_t i;

  for (i = 0; i < ns->n; i++)
    free (ns->v[i]);
  free (ns->v);
  ns->v = NULL;
  ns->n = ns->cap = 0;
}

/* The entries of directory fd (other than . and ..).  0 or -1/errno. */
static int
list_dir (int fd, struct names *ns)
{
  struct dirent *de;
  DIR *d;
  int dfd, e;

  dfd = dup (fd);
  if (dfd == -1)
    return -1;
  d = fdopendir (dfd);
  if (d == NULL) {
    e = errno;
    close (dfd);
    errno = e;
    return -1;
  }
  rewinddir (d);
  while ((de = readdir (d)) != NULL) {
    size_t len;

    if (strcmp (de->d_name, ".") == 0 || strcmp (de->d_name, "..") == 0)
      continue;
    if (ns->n == ns->cap) {
      size_t ncap = ns->cap ? ns->cap * 2 : 32;
      char **nv = realloc (ns->v, ncap * sizeof *nv);
      if (nv == NULL)
        goto nomem;
      ns->v = nv;
      ns->cap = ncap;
    }
    len = strlen (de->d_name);
    ns->v[ns->n] = malloc (len + 1);
    if (ns->v[ns->n] == NULL)
      goto nomem;
    memcpy (ns->v[ns->n], de->d_name, len + 1);
    ns->n++;
  }
  closedir (d);
  return 0;

nomem:
  closedir (d);
  errno = ENOMEM;
  return -1;
}

struct sweep {
  struct Xva_store *s;
  const char *root; /* <dir>/sr */
  Xva_store_sweep_fn fn;
  void *opaque;
  struct Xva_store_sweep_report rep;
};

static void
tell (struct sweep *sw, const char *srdir, const char *name, int removed)
{
  char path[PATH_MAX + NAME_MAX + 2];

  if (sw->fn == NULL)
    return;
  if (snprintf (path, sizeof path, "%s/%s", srdir, name) < 0)
    return;
  sw->fn (sw->opaque, path, removed);
}

int
Xva_store_image_name (const char *name, char *uuid)
{
  size_t len = strlen (name);

  if (len != XVA_STORE_UUID_LEN + sizeof IMG_SUFFIX - 1
      || strcmp (name + XVA_STORE_UUID_LEN, IMG_SUFFIX) != 0)
    return 0;
  memcpy (uuid, name, XVA_STORE_UUID_LEN);
  uuid[XVA_STORE_UUID_LEN] = '\0';
  return Xva_store_uuid_valid (uuid);
}

static int
sweep_sr (struct sweep *sw, int rootfd, const char *sr_uuid)
{
  static const char fn[] = "Xva_store_sweep";
  char srdir[PATH_MAX], uuid[XVA_STORE_UUID_LEN + 1];
  char ref[XVA_STORE_REF_MAX + 1];
  struct names ns = { NULL, 0, 0 };
  struct stat sb;
  size_t i, left = 0;
  int fd, changed = 0, r = XVA_OK;

  r = Xva_store_path (srdir, sizeof srdir, fn, "%s/%s", sw->root, sr_uuid);
  if (r < 0)
    return r;
  fd = openat (rootfd, sr_uuid,
               O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd == -1) {
    if (errno == ENOTDIR || errno == ELOOP)
      return XVA_OK; /* not an SR directory: leave it */
    return Xva_store_error (XVA_EIO, "%s: %s: %s", fn, srdir,
                            strerror (errno));
  }
  if (list_dir (fd, &ns) == -1) {
    r = Xva_store_error (errno == ENOMEM ? XVA_ENOMEM : XVA_EIO, "%s: %s: %s",
                         fn, srdir, strerror (errno));
    goto out;
  }
  for (i = 0; i < ns.n; i++) {
    const char *name = ns.v[i];

    if (strncmp (name, STAGING_PREFIX, sizeof STAGING_PREFIX - 1) == 0) {
      if (fstatat (fd, name, &sb, AT_SYMLINK_NOFOLLOW) == 0
          && S_ISDIR (sb.st_mode)) {
        if (Xva_store_rmtree_at (fd, name, RMTREE_DEPTH) == 0) {
          sw->rep.staging_dirs++;
          changed = 1;
          tell (sw, srdir, name, 1);
          continue;
        }
        sw->rep.failures++;
        tell (sw, srdir, name, 0);
      }
      left++;
      continue;
    }
    if (Xva_store_image_name (name, uuid)) {
      r = Xva_store_find_uuid (sw->s, NULL, "VDI", uuid, ref, NULL);
      if (r == XVA_ENOTFOUND) {
        r = XVA_OK;
        if (unlinkat (fd, name, 0) == 0) {
          sw->rep.orphan_images++;
          changed = 1;
          tell (sw, srdir, name, 1);
          continue;
        }
        sw->rep.failures++;
        tell (sw, srdir, name, 0);
      }
      else if (r < 0)
        goto out; /* never remove on a failed lookup */
    }
    left++;
  }
  if (changed && fsync (fd) == -1) {
    r = Xva_store_error (XVA_EIO, "%s: fsync %s: %s", fn, srdir,
                         strerror (errno));
    goto out;
  }
  if (left == 0) {
    /* An empty directory of no SR: left by a crashed SR creation. */
    r = Xva_store_find_uuid (sw->s, NULL, "SR", sr_uuid, ref, NULL);
    if (r == XVA_ENOTFOUND) {
      r = XVA_OK;
      if (unlinkat (rootfd, sr_uuid, AT_REMOVEDIR) == 0) {
        sw->rep.empty_sr_dirs++;
        tell (sw, sw->root, sr_uuid, 1);
        fsync (rootfd);
      }
    }
  }

out:
  names_free (&ns);
  close (fd);
  return r;
}

int
Xva_store_sweep (struct Xva_store *s, Xva_store_sweep_fn fn, void *opaque,
                 struct Xva_store_sweep_report *report)
{
  static const char fnname[] = "Xva_store_sweep";
  struct sweep sw;
  struct names ns = { NULL, 0, 0 };
  char root[PATH_MAX];
  size_t i;
  int rootfd = -1, r;

  if (report)
    memset (report, 0, sizeof *report);
  if (s == NULL)
    return Xva_store_error (XVA_EINVAL, "%s: no store", fnname);
  memset (&sw, 0, sizeof sw);
  sw.s = s;
  sw.fn = fn;
  sw.opaque = opaque;
  r = Xva_store_path (root, sizeof root, fnname, "%s/sr", s->dir);
  if (r < 0)
    return r;
  sw.root = root;
  rootfd = open_dir (root);
  if (rootfd == -1)
    return Xva_store_error (XVA_EIO, "%s: %s: %s", fnname, root,
                            strerror (errno));
  if (list_dir (rootfd, &ns) == -1) {
    r = Xva_store_error (XVA_EIO, "%s: %s: %s", fnname, root,
                         strerror (errno));
    goto out;
  }
  for (i = 0; i < ns.n; i++) {
    if (!Xva_store_uuid_valid (ns.v[i]))
      continue;
    r = sweep_sr (&sw, rootfd, ns.v[i]);
    if (r < 0)
      goto out;
  }
  r = XVA_OK;

out:
  names_free (&ns);
  close (rootfd);
  if (report)
    *report = sw.rep;
  return r;
}
