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

/* Probing from a host whose app is a sim_recorder: send, run to idle, read what
 * arrived. */
static inline void sim_test_send(sim *s, sim_host *h, uint16_t lport, const p2pq_addr *to) {
  p2pq_addr from;
  assert_int_equal(sim_host_addr(h, to->family, lport, &from), 0);
  assert_int_equal(sim_send(h, &from, to, (const uint8_t *)"probe", 5), 0);
  sim_run_until(s, sim_now(s) + 2 * P2PQ_S);
}

/* Sends a probe to a reflector at `to`; returns 0 and the mapped address it saw, or
 * P2PQ_ERR_TIMEOUT if no answer arrived. */
static inline int sim_test_mapped(sim *s, sim_host *h, sim_recorder *rec, uint16_t lport,
                                  const p2pq_addr *to, p2pq_addr *mapped) {
  size_t before = rec->n;
  sim_test_send(s, h, lport, to);
  for (size_t i = before; i < rec->n; i++)
    if (rec->e[i].local.port == lport && p2pq_addr_equal(&rec->e[i].remote, to))
      return sim_reflect_decode(rec->e[i].data, rec->e[i].len, mapped);
  return P2PQ_ERR_TIMEOUT;
}

/* Sends from host h (from any of its addresses' family) to `to`; returns how many
 * datagrams the recorder rec gained. */
static inline size_t sim_test_arrivals(sim *s, sim_host *h, uint16_t lport, const p2pq_addr *to,
                                       sim_recorder *rec) {
  size_t before = rec->total;
  sim_test_send(s, h, lport, to);
  return rec->total - before;
}
