/* Helpers for the simulator's cmocka tests: seeds that print on failure, and
 * SIM_SEED=<n> to rerun one seed. */
#ifndef SIM_TEST_H
#define SIM_TEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

#include "sim.h"

/* Fails the test and names the seed that reproduces it. */
#define SIM_ASSERT(seed, cond)                                                            \
  do {                                                                                    \
    if (!(cond)) {                                                                        \
      print_error("%s:%d: seed %llu: %s\n(rerun: SIM_SEED=%llu)\n", __FILE__, __LINE__,   \
                  (unsigned long long)(seed), #cond, (unsigned long long)(seed));         \
      fail();                                                                             \
    }                                                                                     \
  } while (0)

/* Seeds [first, first + n), or only $SIM_SEED when set. */
static inline uint64_t sim_test_seed(uint64_t first, uint64_t i) {
  const char *e = getenv("SIM_SEED");
  return e ? strtoull(e, NULL, 0) : first + i;
}
static inline uint64_t sim_test_count(uint64_t n) { return getenv("SIM_SEED") ? 1 : n; }

#define SIM_FOR_SEEDS(seed, first, n)                                                     \
  for (uint64_t seed##_i = 0, seed = sim_test_seed(first, 0);                            \
       seed##_i < sim_test_count(n); seed##_i++, seed = sim_test_seed(first, seed##_i))

static inline p2pq_addr sim_test_addr(const char *s) {
  p2pq_addr a;
  assert_int_equal(p2pq_addr_parse(&a, s, 0), 0);
  return a;
}

#endif
