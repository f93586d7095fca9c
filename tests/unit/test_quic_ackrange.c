/* Received packet-number ranges (what ACK frames are built from). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "quic/ackrange.h"

static void test_in_order_and_gaps(void **state) {
  p2pq_ackrange a;
  (void)state;
  p2pq_ackrange_init(&a);
  assert_true(p2pq_ackrange_largest(&a) == UINT64_MAX);
  for (uint64_t pn = 0; pn < 10; pn++)
    assert_int_equal(p2pq_ackrange_add(&a, pn), 0);
  assert_int_equal(a.n, 1);
  assert_int_equal(p2pq_ackrange_add(&a, 5), 1); /* duplicate */
  assert_int_equal(p2pq_ackrange_add(&a, 12), 0);
  assert_int_equal(a.n, 2);
  assert_true(a.largest[0] == 12 && a.smallest[0] == 12);
  assert_int_equal(p2pq_ackrange_add(&a, 11), 0);
  assert_int_equal(p2pq_ackrange_add(&a, 10), 0); /* fills the gap: merge */
  assert_int_equal(a.n, 1);
  assert_true(a.smallest[0] == 0 && a.largest[0] == 12);
  assert_true(p2pq_ackrange_contains(&a, 7));
  assert_false(p2pq_ackrange_contains(&a, 13));
}

/* Against a bitmap model with random arrival orders. */
static void test_random_model(void **state) {
  (void)state;
  for (unsigned seed = 1; seed <= 50; seed++) {
    p2pq_ackrange a;
    uint8_t seen[400];
    srand(seed);
    memset(seen, 0, sizeof(seen));
    p2pq_ackrange_init(&a);
    for (int i = 0; i < 300; i++) {
      uint64_t pn = (uint64_t)(rand() % 400);
      int full_before = a.n == P2PQ_ACKRANGE_MAX;
      uint64_t lowest = a.n ? a.smallest[a.n - 1] : 0;
      int dup = p2pq_ackrange_add(&a, pn);
      if (dup && !seen[pn]) {
        /* only allowed for packets below a full table's window: not recorded */
        assert_true(pn < a.floor || (full_before && pn < lowest));
        continue;
      }
      assert_int_equal(dup, seen[pn] ? 1 : 0);
      seen[pn] = 1;
    }
    /* intervals are disjoint, sorted high to low, separated by gaps */
    for (size_t i = 0; i < a.n; i++) {
      assert_true(a.smallest[i] <= a.largest[i]);
      if (i > 0)
        assert_true(a.largest[i] + 1 < a.smallest[i - 1]);
      for (uint64_t pn = a.smallest[i]; pn <= a.largest[i]; pn++)
        assert_true(seen[pn]);
    }
    for (uint64_t pn = a.n ? a.smallest[a.n - 1] : 0; pn < 400; pn++)
      assert_int_equal(p2pq_ackrange_contains(&a, pn), seen[pn]);
  }
}

static void test_bounded_and_drop(void **state) {
  p2pq_ackrange a;
  (void)state;
  p2pq_ackrange_init(&a);
  /* every other packet: one interval each, more than fit */
  for (uint64_t pn = 0; pn < 4 * P2PQ_ACKRANGE_MAX; pn += 2)
    p2pq_ackrange_add(&a, pn);
  assert_int_equal(a.n, P2PQ_ACKRANGE_MAX);
  assert_true(a.largest[0] == 4 * P2PQ_ACKRANGE_MAX - 2);
  assert_true(a.floor > 0);
  assert_int_equal(p2pq_ackrange_add(&a, 0), 1); /* forgotten: treated as duplicate */
  p2pq_ackrange_drop_below(&a, 4 * P2PQ_ACKRANGE_MAX - 10);
  assert_true(a.n <= 5);
  assert_true(a.smallest[a.n - 1] >= 4 * P2PQ_ACKRANGE_MAX - 10);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_in_order_and_gaps),
      cmocka_unit_test(test_random_model),
      cmocka_unit_test(test_bounded_and_drop),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
