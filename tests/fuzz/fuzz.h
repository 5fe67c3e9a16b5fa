/* Helpers shared by the libFuzzer targets in this folder. */
#ifndef XVA_TESTS_FUZZ_H
#define XVA_TESTS_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sanitizer/asan_interface.h>
#include <xxhash.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

/* A broken invariant is a crash, so that libFuzzer keeps the input. */
#define FUZZ_CHECK(expr)                                                      \
  do {                                                                        \
    if (!(expr)) {                                                            \
      fprintf (stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__,   \
               #expr);                                                        \
      abort ();                                                               \
    }                                                                         \
  } while (0)

/* Deterministic pseudo-random numbers (splitmix64). */
static inline uint64_t
fuzz_rng (uint64_t *state)
{
  uint64_t z = (*state += 0x9E3779B97F4A7C15u);

  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
  return z ^ (z >> 31);
}

/* A hash of p[0..n) seeded with h.  The bytes must all be valid
 * memory (AddressSanitizer is asked, as the hash is not instrumented). */
static inline uint64_t
fuzz_hash (uint64_t h, const void *p, size_t n)
{
  if (n == 0)
    return h;
  if (__asan_region_is_poisoned ((void *) (uintptr_t) p, n) != NULL) {
    fprintf (stderr, "hashing %zu bytes at %p: not valid memory\n", n, p);
    abort ();
  }
  return XXH64 (p, n, h);
}

#define FUZZ_HASH_INIT 0xCBF29CE484222325u

/* A growing byte buffer (an archive or a request being built). */
struct fz_buf {
  unsigned char *p;
  size_t len, cap;
};

static inline void
fz_put (struct fz_buf *b, const void *p, size_t n)
{
  if (b->len + n > b->cap) {
    b->cap = (b->len + n) * 2 + 4096;
    b->p = realloc (b->p, b->cap);
    FUZZ_CHECK (b->p != NULL);
  }
  if (n > 0)
    memcpy (b->p + b->len, p, n);
  b->len += n;
}

#endif
