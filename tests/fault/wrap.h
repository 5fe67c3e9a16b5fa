/* Fault injection for the tests in tests/fault.  The programs are
 * linked with -Wl,--wrap=malloc,... so that the library's calls of
 * malloc, calloc, realloc, aligned_alloc, strdup, read, write, pread
 * and pwrite go through wrap.c, which counts them and makes call
 * number N fail (NULL and ENOMEM for an allocation, -1 and EIO for a
 * read, -1 and ENOSPC for a write).  Calls made inside shared libraries
 * (libc, zlib, libxml2, ...) are not redirected.  The test program's
 * own calls are redirected too: it makes none while armed, or calls
 * the __real_ functions. */
#ifndef XVA_TESTS_FAULT_WRAP_H
#define XVA_TESTS_FAULT_WRAP_H

#include <stddef.h>
#include <sys/types.h>

enum fault_kind {
  FAULT_NONE = 0,
  FAULT_ALLOC = 1,
  FAULT_READ = 2,
  FAULT_WRITE = 3,
};

/* Starts counting; call number n (from 1) fails, none when n is 0. */
void fault_arm (unsigned long n);
/* Stops counting; returns the number of calls counted since arm. */
unsigned long fault_disarm (void);
/* Stops and restarts counting without resetting (for the test's own
 * work in the middle of an armed run). */
void fault_pause (void);
void fault_resume (void);
/* The kind of the call that was made to fail, or FAULT_NONE. */
enum fault_kind fault_fired (void);
/* Leaks found since the last call (0 without LeakSanitizer). */
int fault_leak_check (void);
/* 1 when FAULT_LEAK_EACH is set in the environment: check for leaks
 * after every injected fault (slow) rather than after each series. */
int fault_leak_each (void);

void *__real_malloc (size_t n);
void *__real_calloc (size_t n, size_t size);
void *__real_realloc (void *p, size_t n);
void *__real_aligned_alloc (size_t align, size_t n);
char *__real_strdup (const char *s);
ssize_t __real_read (int fd, void *buf, size_t n);
ssize_t __real_write (int fd, const void *buf, size_t n);
ssize_t __real_pread (int fd, void *buf, size_t n, off_t off);
ssize_t __real_pwrite (int fd, const void *buf, size_t n, off_t off);

void *__wrap_malloc (size_t n);
void *__wrap_calloc (size_t n, size_t size);
void *__wrap_realloc (void *p, size_t n);
void *__wrap_aligned_alloc (size_t align, size_t n);
char *__wrap_strdup (const char *s);
ssize_t __wrap_read (int fd, void *buf, size_t n);
ssize_t __wrap_write (int fd, const void *buf, size_t n);
ssize_t __wrap_pread (int fd, void *buf, size_t n, off_t off);
ssize_t __wrap_pwrite (int fd, const void *buf, size_t n, off_t off);

#endif
