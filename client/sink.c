/* Output sinks (file, standard output, pipe) and input sources (file,
 * standard input, pipe) of the client. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sink.h"
#include "sink-s3.h"

#define PIPE_BUFS 4
#define PIPE_BUF_SIZE ((size_t) 1 << 20)
#define LIST_MAX 100000u

static int
errno_status (int e)
{
  return e == ENOSPC || e == EFBIG || e == EDQUOT ? XVA_ENOSPC : XVA_EIO;
}

int
Xva_sink_err (char *err, size_t errlen, int status, const char *fmt, ...)
{
  va_list ap;

  if (err == NULL || errlen == 0)
    return status;
  va_start (ap, fmt);
  vsnprintf (err, errlen, fmt, ap);
  va_end (ap);
  return status;
}

static int
write_all (int fd, const void *buf, size_t n)
{
  const char *p = buf;
  ssize_t w;

  while (n > 0) {
    w = write (fd, p, n);
    if (w < 0) {
      if (errno == EINTR)
        continue;
      return -1;
    }
    if (w == 0) {
      errno = EIO;
      return -1;
    }
    p += w;
    n -= (size_t) w;
  }
  return 0;
}

/* ------------------------------------------------------------------ */
/* Generic sink                                                         */

struct Xva_sink *
Xva_sink_new (const struct Xva_sink_ops *ops, const char *name, void *impl)
{
  struct Xva_sink *s = calloc (1, sizeof *s);

  if (s == NULL)
    return NULL;
  s->name = strdup (name);
  if (s->name == NULL) {
    free (s);
    return NULL;
  }
  s->ops = ops;
  s->impl = impl;
  return s;
}

int
Xva_sink_fail (struct Xva_sink *s, int status, const char *fmt, ...)
{
  va_list ap;

  va_start (ap, fmt);
  vsnprintf (s->errmsg, sizeof s->errmsg, fmt, ap);
  va_end (ap);
  return status;
}

int
Xva_sink_write (struct Xva_sink *s, const void *buf, size_t n)
{
  int r;

  if (s->done)
    return Xva_sink_fail (s, XVA_ESTATE, "write after the end");
  if (n == 0)
    return XVA_OK;
  r = s->ops->write (s, buf, n);
  if (r == XVA_OK)
    s->bytes += n;
  return r;
}

int
Xva_sink_commit (struct Xva_sink *s)
{
  int r;

  if (s->done)
    return s->committed ? XVA_OK
                        : Xva_sink_fail (s, XVA_ESTATE, "commit after abort");
  r = s->ops->commit (s);
  if (r != XVA_OK) {
    s->ops->abort (s);
    s->done = 1;
    return r;
  }
  s->done = 1;
  s->committed = 1;
  return XVA_OK;
}

void
Xva_sink_abort (struct Xva_sink *s)
{
  if (s == NULL || s->done)
    return;
  s->ops->abort (s);
  s->done = 1;
}

void
Xva_sink_free (struct Xva_sink *s)
{
  if (s == NULL)
    return;
  Xva_sink_abort (s);
  if (s->ops->destroy != NULL)
    s->ops->destroy (s);
  free (s->name);
  free (s);
}

const char *
Xva_sink_errmsg (const struct Xva_sink *s)
{
  return s->errmsg[0] != '\0' ? s->errmsg : "no error";
}

/* ------------------------------------------------------------------ */
/* File sink                                                            */

struct file_sink {
  int fd;
  char *tmp;
};

static int
file_write (struct Xva_sink *s, const void *buf, size_t n)
{
  struct file_sink *f = s->impl;

  if (write_all (f->fd, buf, n) != 0)
    return Xva_sink_fail (s, errno_status (errno), "cannot write %s: %s",
                          f->tmp, strerror (errno));
  return XVA_OK;
}

static void
sync_dir_of (const char *path)
{
  char *dir = strdup (path), *slash;
  int fd;

  if (dir == NULL)
    return;
  slash = strrchr (dir, '/');
  if (slash == NULL) {
    free (dir);
    dir = strdup (".");
    if (dir == NULL)
      return;
  }
  else if (slash == dir)
    slash[1] = '\0';
  else
    *slash = '\0';
  fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    fsync (fd);
    close (fd);
  }
  free (dir);
}

static int
file_commit (struct Xva_sink *s)
{
  struct file_sink *f = s->impl;
  int fd = f->fd;

  f->fd = -1;
  if (fsync (fd) != 0) {
    int e = errno;
    close (fd);
    return Xva_sink_fail (s, errno_status (e), "cannot sync %s: %s", f->tmp,
                          strerror (e));
  }
  if (close (fd) != 0)
    return Xva_sink_fail (s, errno_status (errno), "cannot close %s: %s",
                          f->tmp, strerror (errno));
  if (rename (f->tmp, s->name) != 0)
    return Xva_sink_fail (s, XVA_EIO, "cannot rename %s to %s: %s", f->tmp,
                          s->name, strerror (errno));
  free (f->tmp);
  f->tmp = NULL;
  sync_dir_of (s->name);
  return XVA_OK;
}

static void
file_abort (struct Xva_sink *s)
{
  struct file_sink *f = s->impl;

  if (f->fd >= 0)
    close (f->fd);
  f->fd = -1;
  if (f->tmp != NULL)
    unlink (f->tmp);
}

static void
file_destroy (struct Xva_sink *s)
{
  struct file_sink *f = s->impl;

  if (f == NULL)
    return;
  if (f->fd >= 0)
    close (f->fd);
  free (f->tmp);
  free (f);
}

static const struct Xva_sink_ops file_ops = {
  "file", file_write, file_commit, file_abort, file_destroy,
};

static int
open_file_sink (const char *path, struct Xva_sink **out, char *err,
                size_t errlen)
{
  static const char suffix[] = ".tmp-XXXXXX";
  struct file_sink *f;
  struct Xva_sink *s;
  struct stat st;
  size_t len = strlen (path);
  mode_t mask;

  if (len == 0 || path[len - 1] == '/')
    return Xva_sink_err (err, errlen, XVA_EINVAL, "%s: not a file name", path);
  if (stat (path, &st) == 0 && S_ISDIR (st.st_mode))
    return Xva_sink_err (err, errlen, XVA_EIO, "%s is a directory", path);
  f = calloc (1, sizeof *f);
  if (f == NULL)
    return Xva_sink_err (err, errlen, XVA_ENOMEM, "out of memory");
  f->fd = -1;
  f->tmp = malloc (len + sizeof suffix);
  if (f->tmp == NULL) {
    free (f);
    return Xva_sink_err (err, errlen, XVA_ENOMEM, "out of memory");
  }
  memcpy (f->tmp, path, len);
  memcpy (f->tmp + len, suffix, sizeof suffix);
  f->fd = mkostemp (f->tmp, O_CLOEXEC);
  if (f->fd < 0) {
    int e = errno;
    free (f->tmp);
    free (f);
    return Xva_sink_err (err, errlen, errno_status (e),
                         "cannot create a file beside %s: %s", path,
                         strerror (e));
  }
  mask = umask (0);
  umask (mask);
  if (fchmod (f->fd, 0666 & ~mask) != 0) {
    /* The file stays private: not worth failing for. */
  }
  s = Xva_sink_new (&file_ops, path, f);
  if (s == NULL) {
    close (f->fd);
    unlink (f->tmp);
    free (f->tmp);
    free (f);
    return Xva_sink_err (err, errlen, XVA_ENOMEM, "out of memory");
  }
  *out = s;
  return XVA_OK;
}

/* ------------------------------------------------------------------ */
/* Standard output                                                      */

static int
stdout_write (struct Xva_sink *s, const void *buf, size_t n)
{
  if (write_all (STDOUT_FILENO, buf, n) != 0)
    return Xva_sink_fail (s, errno_status (errno),
                          "cannot write to "
                          "standard output: %s",
                          strerror (errno));
  return XVA_OK;
}

static int
stdout_commit (struct Xva_sink *s)
{
  (void) s;
  return XVA_OK;
}

static void
stdout_abort (struct Xva_sink *s)
{
  (void) s;
}

static const struct Xva_sink_ops stdout_ops = {
  "stdout", stdout_write, stdout_commit, stdout_abort, NULL,
};

int
Xva_sink_open (const char *target, struct Xva_sink **out, char *err,
               size_t errlen)
{
  *out = NULL;
  if (xva_s3_is_url (target))
    return Xva_sink_open_s3 (target, out, err, errlen);
  if (strcmp (target, "-") == 0) {
    *out = Xva_sink_new (&stdout_ops, "-", NULL);
    if (*out == NULL)
      return Xva_sink_err (err, errlen, XVA_ENOMEM, "out of memory");
    return XVA_OK;
  }
  return open_file_sink (target, out, err, errlen);
}

/* ------------------------------------------------------------------ */
/* Input sources                                                        */

struct Xva_source *
Xva_source_new (const struct Xva_source_ops *ops, const char *name, void *impl,
                int64_t size)
{
  struct Xva_source *src = calloc (1, sizeof *src);

  if (src == NULL)
    return NULL;
  src->name = strdup (name);
  if (src->name == NULL) {
    free (src);
    return NULL;
  }
  src->ops = ops;
  src->impl = impl;
  src->size = size;
  return src;
}

ssize_t
Xva_source_read (struct Xva_source *src, void *buf, size_t n)
{
  return src->ops->read (src, buf, n);
}

int64_t
Xva_source_size (const struct Xva_source *src)
{
  return src->size;
}

const char *
Xva_source_errmsg (const struct Xva_source *src)
{
  return src->errmsg[0] != '\0' ? src->errmsg : "no error";
}

void
Xva_source_free (struct Xva_source *src)
{
  if (src == NULL)
    return;
  if (src->ops->destroy != NULL)
    src->ops->destroy (src);
  free (src->name);
  free (src);
}

struct fd_source {
  int fd;
  int own;
};

static ssize_t
fd_read (struct Xva_source *src, void *buf, size_t n)
{
  struct fd_source *f = src->impl;
  ssize_t r;

  for (;;) {
    r = read (f->fd, buf, n);
    if (r >= 0)
      return r;
    if (errno != EINTR)
      break;
  }
  src->status = XVA_EIO;
  snprintf (src->errmsg, sizeof src->errmsg, "cannot read %s: %s", src->name,
            strerror (errno));
  return -1;
}

static void
fd_destroy (struct Xva_source *src)
{
  struct fd_source *f = src->impl;

  if (f == NULL)
    return;
  if (f->own)
    close (f->fd);
  free (f);
}

static const struct Xva_source_ops fd_source_ops = {
  "file",
  fd_read,
  fd_destroy,
};

int
Xva_source_open (const char *spec, struct Xva_source **out, char *err,
                 size_t errlen)
{
  struct fd_source *f;
  struct stat st;
  int64_t size = -1;
  int fd, own;

  *out = NULL;
  if (xva_s3_is_url (spec))
    return Xva_source_open_s3 (spec, out, err, errlen);
  if (strcmp (spec, "-") == 0) {
    fd = STDIN_FILENO;
    own = 0;
  }
  else {
    fd = open (spec, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
      return Xva_sink_err (err, errlen, XVA_EIO, "cannot open %s: %s", spec,
                           strerror (errno));
    own = 1;
  }
  if (fstat (fd, &st) == 0 && S_ISREG (st.st_mode)) {
    off_t pos = lseek (fd, 0, SEEK_CUR);
    if (pos >= 0 && pos <= st.st_size)
      size = (int64_t) (st.st_size - pos);
  }
  else if (own && fstat (fd, &st) == 0 && S_ISDIR (st.st_mode)) {
    close (fd);
    return Xva_sink_err (err, errlen, XVA_EIO, "%s is a directory", spec);
  }
  f = calloc (1, sizeof *f);
  if (f != NULL) {
    f->fd = fd;
    f->own = own;
    *out = Xva_source_new (&fd_source_ops, own ? spec : "(standard input)", f,
                           size);
  }
  if (*out == NULL) {
    free (f);
    if (own)
      close (fd);
    return Xva_sink_err (err, errlen, XVA_ENOMEM, "out of memory");
  }
  return XVA_OK;
}

/* ------------------------------------------------------------------ */
/* Pipe                                                                 */

struct pipe_state {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  unsigned char *buf[PIPE_BUFS];
  size_t len[PIPE_BUFS];
  unsigned head;  /* next buffer to read */
  unsigned count; /* full buffers */
  size_t rpos;    /* read position in buf[head] */
  int ended;      /* committed */
  int aborted;
  int reader_gone;
  int refs;
  char why[XVA_SINK_MSG_MAX];
};

static void
pipe_unref (struct pipe_state *p)
{
  int last;
  unsigned i;

  pthread_mutex_lock (&p->mu);
  last = --p->refs == 0;
  pthread_mutex_unlock (&p->mu);
  if (!last)
    return;
  for (i = 0; i < PIPE_BUFS; i++)
    free (p->buf[i]);
  pthread_mutex_destroy (&p->mu);
  pthread_cond_destroy (&p->cv);
  free (p);
}

/* Sets one of p's flags (with the reason why, unless NULL) and wakes the
 * other side. */
static void
pipe_signal (struct pipe_state *p, int *flag, const char *why)
{
  pthread_mutex_lock (&p->mu);
  *flag = 1;
  if (why != NULL)
    snprintf (p->why, sizeof p->why, "%s", why);
  pthread_cond_broadcast (&p->cv);
  pthread_mutex_unlock (&p->mu);
}

static int
pipe_write (struct Xva_sink *s, const void *data, size_t n)
{
  struct pipe_state *p = s->impl;
  const unsigned char *d = data;
  unsigned tail;
  size_t k;

  pthread_mutex_lock (&p->mu);
  while (n > 0) {
    while (p->count == PIPE_BUFS && !p->reader_gone)
      pthread_cond_wait (&p->cv, &p->mu);
    if (p->reader_gone) {
      pthread_mutex_unlock (&p->mu);
      return Xva_sink_fail (s, XVA_ECANCELLED, "the upload side stopped");
    }
    tail = (p->head + p->count) % PIPE_BUFS;
    k = n < PIPE_BUF_SIZE ? n : PIPE_BUF_SIZE;
    memcpy (p->buf[tail], d, k);
    p->len[tail] = k;
    p->count++;
    d += k;
    n -= k;
    pthread_cond_broadcast (&p->cv);
  }
  pthread_mutex_unlock (&p->mu);
  return XVA_OK;
}

static int
pipe_commit (struct Xva_sink *s)
{
  struct pipe_state *p = s->impl;

  pipe_signal (p, &p->ended, NULL);
  return XVA_OK;
}

static void
pipe_abort (struct Xva_sink *s)
{
  struct pipe_state *p = s->impl;

  pipe_signal (p, &p->aborted,
               s->errmsg[0] != '\0' ? s->errmsg : "the download side failed");
}

static void
pipe_sink_destroy (struct Xva_sink *s)
{
  pipe_unref (s->impl);
}

static const struct Xva_sink_ops pipe_sink_ops = {
  "pipe", pipe_write, pipe_commit, pipe_abort, pipe_sink_destroy,
};

static ssize_t
pipe_read (struct Xva_source *src, void *out, size_t n)
{
  struct pipe_state *p = src->impl;
  size_t k;

  pthread_mutex_lock (&p->mu);
  while (p->count == 0 && !p->ended && !p->aborted)
    pthread_cond_wait (&p->cv, &p->mu);
  if (p->aborted) {
    src->status = XVA_ECANCELLED;
    snprintf (src->errmsg, sizeof src->errmsg, "%s", p->why);
    pthread_mutex_unlock (&p->mu);
    return -1;
  }
  if (p->count == 0) {
    pthread_mutex_unlock (&p->mu);
    return 0;
  }
  k = p->len[p->head] - p->rpos;
  if (k > n)
    k = n;
  memcpy (out, p->buf[p->head] + p->rpos, k);
  p->rpos += k;
  if (p->rpos == p->len[p->head]) {
    p->rpos = 0;
    p->head = (p->head + 1) % PIPE_BUFS;
    p->count--;
    pthread_cond_broadcast (&p->cv);
  }
  pthread_mutex_unlock (&p->mu);
  return (ssize_t) k;
}

static void
pipe_source_destroy (struct Xva_source *src)
{
  struct pipe_state *p = src->impl;

  pipe_signal (p, &p->reader_gone, NULL);
  pipe_unref (p);
}

static const struct Xva_source_ops pipe_source_ops = {
  "pipe",
  pipe_read,
  pipe_source_destroy,
};

int
Xva_pipe_new (struct Xva_sink **sink, struct Xva_source **source)
{
  struct pipe_state *p;
  unsigned i;

  *sink = NULL;
  *source = NULL;
  p = calloc (1, sizeof *p);
  if (p == NULL)
    return XVA_ENOMEM;
  for (i = 0; i < PIPE_BUFS; i++) {
    p->buf[i] = malloc (PIPE_BUF_SIZE);
    if (p->buf[i] == NULL)
      goto fail;
  }
  pthread_mutex_init (&p->mu, NULL);
  pthread_cond_init (&p->cv, NULL);
  p->refs = 2;
  *sink = Xva_sink_new (&pipe_sink_ops, "(pipe)", p);
  *source = Xva_source_new (&pipe_source_ops, "(pipe)", p, -1);
  if (*sink == NULL || *source == NULL) {
    if (*sink != NULL) {
      free ((*sink)->name);
      free (*sink);
    }
    if (*source != NULL) {
      free ((*source)->name);
      free (*source);
    }
    *sink = NULL;
    *source = NULL;
    pthread_mutex_destroy (&p->mu);
    pthread_cond_destroy (&p->cv);
    goto fail;
  }
  return XVA_OK;
fail:
  for (i = 0; i < PIPE_BUFS; i++)
    free (p->buf[i]);
  free (p);
  return XVA_ENOMEM;
}

/* ------------------------------------------------------------------ */
/* Listing and removing                                                 */

void
Xva_target_names_free (char **names, size_t n)
{
  size_t i;

  if (names == NULL)
    return;
  for (i = 0; i < n; i++)
    free (names[i]);
  free (names);
}

int
Xva_target_list (const char *dir, char ***names, size_t *n, char *err,
                 size_t errlen)
{
  struct dirent *de;
  char **v = NULL, **nv;
  size_t cnt = 0, cap = 0;
  DIR *d;

  *names = NULL;
  *n = 0;
  if (xva_s3_is_url (dir))
    return Xva_target_list_s3 (dir, names, n, err, errlen);
  d = opendir (dir[0] != '\0' ? dir : ".");
  if (d == NULL)
    return Xva_sink_err (err, errlen, XVA_EIO, "cannot list %s: %s",
                         dir[0] != '\0' ? dir : ".", strerror (errno));
  while ((de = readdir (d)) != NULL) {
    if (strcmp (de->d_name, ".") == 0 || strcmp (de->d_name, "..") == 0)
      continue;
    if (cnt >= LIST_MAX)
      break;
    if (cnt == cap) {
      cap = cap ? cap * 2 : 64;
      nv = realloc (v, cap * sizeof *v);
      if (nv == NULL)
        goto oom;
      v = nv;
    }
    v[cnt] = strdup (de->d_name);
    if (v[cnt] == NULL)
      goto oom;
    cnt++;
  }
  closedir (d);
  *names = v;
  *n = cnt;
  return XVA_OK;
oom:
  closedir (d);
  Xva_target_names_free (v, cnt);
  return Xva_sink_err (err, errlen, XVA_ENOMEM, "out of memory");
}

int
Xva_target_remove (const char *target, char *err, size_t errlen)
{
  struct stat st;

  if (xva_s3_is_url (target))
    return Xva_target_remove_s3 (target, err, errlen);
  if (lstat (target, &st) != 0 || !S_ISREG (st.st_mode))
    return Xva_sink_err (err, errlen, XVA_EIO, "%s is not a regular file",
                         target);
  if (unlink (target) != 0)
    return Xva_sink_err (err, errlen, XVA_EIO, "cannot remove %s: %s", target,
                         strerror (errno));
  return XVA_OK;
}
