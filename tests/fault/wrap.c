/* Counts the library's allocations, reads and writes and fails the
 * chosen one (see wrap.h).  Thread-safe: the writer's workers read. */
#include "wrap.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define FAULT_HAVE_LSAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FAULT_HAVE_LSAN 1
#endif
#endif
#ifdef FAULT_HAVE_LSAN
#include <sanitizer/lsan_interface.h>
#endif

static atomic_int armed;
static atomic_ulong calls;
static atomic_ulong fail_at;
static atomic_int fired;

void
fault_arm (unsigned long n)
{
  atomic_store (&calls, 0);
  atomic_store (&fired, FAULT_NONE);
  atomic_store (&fail_at, n);
  atomic_store (&armed, 1);
}

unsigned long
fault_disarm (void)
{
  atomic_store (&armed, 0);
  return atomic_load (&calls);
}

void
fault_pause (void)
{
  atomic_store (&armed, 0);
}

void
fault_resume (void)
{
  atomic_store (&armed, 1);
}

enum fault_kind
fault_fired (void)
{
  return (enum fault_kind) atomic_load (&fired);
}

int
fault_leak_check (void)
{
#ifdef FAULT_HAVE_LSAN
  return __lsan_do_recoverable_leak_check ();
#else
  return 0;
#endif
}

int
fault_leak_each (void)
{
  const char *e = getenv ("FAULT_LEAK_EACH");
  return e && *e && strcmp (e, "0") != 0;
}

/* 1 when this call is to fail (errno is then set). */
static int
must_fail (enum fault_kind kind)
{
  unsigned long n, at;

  if (!atomic_load (&armed))
    return 0;
  n = atomic_fetch_add (&calls, 1) + 1;
  at = atomic_load (&fail_at);
  if (at == 0 || n != at)
    return 0;
  atomic_store (&fired, kind);
  errno = kind == FAULT_ALLOC ? ENOMEM : kind == FAULT_READ ? EIO : ENOSPC;
  return 1;
}

void *
__wrap_malloc (size_t n)
{
  return must_fail (FAULT_ALLOC) ? NULL : __real_malloc (n);
}

void *
__wrap_calloc (size_t n, size_t size)
{
  return must_fail (FAULT_ALLOC) ? NULL : __real_calloc (n, size);
}

void *
__wrap_realloc (void *p, size_t n)
{
  return must_fail (FAULT_ALLOC) ? NULL : __real_realloc (p, n);
}

void *
__wrap_aligned_alloc (size_t align, size_t n)
{
  return must_fail (FAULT_ALLOC) ? NULL : __real_aligned_alloc (align, n);
}

char *
__wrap_strdup (const char *s)
{
  return must_fail (FAULT_ALLOC) ? NULL : __real_strdup (s);
}

ssize_t
__wrap_read (int fd, void *buf, size_t n)
{
  return must_fail (FAULT_READ) ? -1 : __real_read (fd, buf, n);
}

ssize_t
__wrap_write (int fd, const void *buf, size_t n)
{
  return must_fail (FAULT_WRITE) ? -1 : __real_write (fd, buf, n);
}

ssize_t
__wrap_pread (int fd, void *buf, size_t n, off_t off)
{
  return must_fail (FAULT_READ) ? -1 : __real_pread (fd, buf, n, off);
}

ssize_t
__wrap_pwrite (int fd, const void *buf, size_t n, off_t off)
{
  return must_fail (FAULT_WRITE) ? -1 : __real_pwrite (fd, buf, n, off);
}
