/* Flow control: send credit and BLOCKED signalling, receive limit violations,
 * when MAX_* is due, and window auto-tuning under fast and slow readers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "p2pq/error.h"
#include "quic/flowctl.h"

static void test_send_side(void **state) {
  p2pq_fc_send fc;
  (void)state;
  p2pq_fc_send_init(&fc, 100);
  assert_int_equal(p2pq_fc_send_add(&fc, 60), 0);
  assert_true(p2pq_fc_send_credit(&fc) == 40);
  assert_false(p2pq_fc_send_blocked_due(&fc, 1));
  assert_int_equal(p2pq_fc_send_add(&fc, 41), P2PQ_ERR_FLOW_CONTROL);
  assert_int_equal(p2pq_fc_send_add(&fc, 40), 0);
  assert_true(p2pq_fc_send_credit(&fc) == 0);
  assert_false(p2pq_fc_send_blocked_due(&fc, 0)); /* nothing to send: not blocked */
  assert_true(p2pq_fc_send_blocked_due(&fc, 1));
  p2pq_fc_send_blocked_sent(&fc);
  assert_false(p2pq_fc_send_blocked_due(&fc, 1)); /* once per limit */
  p2pq_fc_send_blocked_lost(&fc, 100);
  assert_true(p2pq_fc_send_blocked_due(&fc, 1)); /* lost: say it again */
  p2pq_fc_send_blocked_sent(&fc);
  assert_int_equal(p2pq_fc_send_update(&fc, 90), 0); /* smaller limits are ignored */
  assert_true(fc.limit == 100);
  assert_int_equal(p2pq_fc_send_update(&fc, 250), 1);
  assert_true(p2pq_fc_send_credit(&fc) == 150);
  assert_false(p2pq_fc_send_blocked_due(&fc, 1));
  assert_int_equal(p2pq_fc_send_add(&fc, 150), 0);
  assert_true(p2pq_fc_send_blocked_due(&fc, 1)); /* a new limit: a new BLOCKED */
  p2pq_fc_send_blocked_sent(&fc);
  p2pq_fc_send_blocked_lost(&fc, 100); /* an old frame lost: irrelevant */
  assert_false(p2pq_fc_send_blocked_due(&fc, 1));
}

static void test_recv_limits(void **state) {
  p2pq_fc_recv fc;
  uint64_t lim;
  (void)state;
  p2pq_fc_recv_init(&fc, 1000, 8000);
  assert_int_equal(p2pq_fc_recv_add(&fc, 600), 0);
  assert_int_equal(p2pq_fc_recv_add(&fc, 401), P2PQ_ERR_FLOW_CONTROL);
  assert_int_equal(p2pq_fc_recv_add(&fc, 400), 0);
  assert_int_equal(p2pq_fc_recv_add(&fc, 1), P2PQ_ERR_FLOW_CONTROL);
  assert_false(p2pq_fc_recv_update_due(&fc));
  p2pq_fc_recv_consume(&fc, 400);
  assert_false(p2pq_fc_recv_update_due(&fc)); /* 600 credit left > half */
  p2pq_fc_recv_consume(&fc, 100);
  assert_true(p2pq_fc_recv_update_due(&fc));
  lim = p2pq_fc_recv_update(&fc, 10 * P2PQ_MS, 1 * P2PQ_S);
  assert_true(lim == 1500 && fc.window == 1000); /* first update: no history */
  assert_false(p2pq_fc_recv_update_due(&fc));
  p2pq_fc_recv_update_lost(&fc, 1400); /* stale frame: nothing */
  assert_false(p2pq_fc_recv_update_due(&fc));
  p2pq_fc_recv_update_lost(&fc, 1500);
  assert_true(p2pq_fc_recv_update_due(&fc));
  assert_true(p2pq_fc_recv_update(&fc, 10 * P2PQ_MS, 10 * P2PQ_S) == 1500);
  assert_int_equal(p2pq_fc_recv_add(&fc, 500), 0);
  assert_int_equal(p2pq_fc_recv_add(&fc, 1), P2PQ_ERR_FLOW_CONTROL);
  p2pq_fc_recv_grow(&fc, 1 << 20);
  assert_true(fc.window == 8000); /* bounded by max_window */
}

/* A reader that consumes `rate` bytes per ms; the sender always fills the
 * window. Returns the final window after `ms` milliseconds. */
static uint64_t simulate(uint64_t rate, uint64_t rtt_ms, uint64_t ms) {
  p2pq_fc_recv fc;
  p2pq_fc_recv_init(&fc, 64 * 1024, 16 * 1024 * 1024);
  for (uint64_t t = 1; t <= ms; t++) {
    uint64_t now = t * P2PQ_MS, can = fc.limit - fc.highest, n = rate;
    assert_int_equal(p2pq_fc_recv_add(&fc, can), 0);
    if (n > fc.highest - fc.consumed)
      n = fc.highest - fc.consumed;
    p2pq_fc_recv_consume(&fc, n);
    if (p2pq_fc_recv_update_due(&fc)) {
      uint64_t before = fc.limit;
      assert_true(p2pq_fc_recv_update(&fc, rtt_ms * P2PQ_MS, now) > before);
    }
  }
  return fc.window;
}

static void test_autotune(void **state) {
  (void)state;
  /* 1 GB/s reader, 20 ms RTT: the window grows to the ceiling */
  assert_true(simulate(1000000, 20, 2000) == 16 * 1024 * 1024);
  /* 1 MB/s reader: 32 KiB per half window takes 32 ms > 2 RTT (20 ms): stays */
  assert_true(simulate(1000, 10, 5000) == 64 * 1024);
  /* in between: 10 MB/s with 20 ms RTT grows, but stops once a half window
   * takes longer than 2 RTT (400 KB) */
  {
    uint64_t w = simulate(10000, 20, 5000);
    /* 512 KiB: a half window (256 KiB) in 26 ms < 40 ms doubles; 1 MiB: 52 ms does not */
    assert_true(w == 1024 * 1024);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_send_side),
      cmocka_unit_test(test_recv_limits),
      cmocka_unit_test(test_autotune),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
