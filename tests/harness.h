/* Minimal test harness: CHECK prints where and what failed. */
#ifndef XVA_TESTS_HARNESS_H
#define XVA_TESTS_HARNESS_H

#include <stdio.h>
#include <stdlib.h>

static int harness_failures;

#define CHECK(expr)                                                           \
  do {                                                                        \
    if (!(expr)) {                                                            \
      fprintf (stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__,       \
               #expr);                                                        \
      harness_failures++;                                                     \
    }                                                                         \
  } while (0)

/* CHECK with the error message of a handle. */
#define CHECK_MSG(expr, msg)                                                  \
  do {                                                                        \
    if (!(expr)) {                                                            \
      fprintf (stderr, "%s:%d: CHECK failed: %s (%s)\n", __FILE__, __LINE__,  \
               #expr, (msg));                                                 \
      harness_failures++;                                                     \
    }                                                                         \
  } while (0)

#define HARNESS_DONE()                                                        \
  do {                                                                        \
    if (harness_failures) {                                                   \
      fprintf (stderr, "%d check(s) failed\n", harness_failures);             \
      return 1;                                                               \
    }                                                                         \
    return 0;                                                                 \
  } while (0)

#endif
