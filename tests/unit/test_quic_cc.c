/* Congestion control: the shared window rules (RFC 9002 7), NewReno and
 * CUBIC (RFC 9438). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "p2pq/error.h"
#include "quic/cc.h"

#define MDS 1200

static void test_windows(void **state) {
  (void)state;
  assert_int_equal(p2pq_cc_initial_window(1200), 12000);
  assert_int_equal(p2pq_cc_initial_window(1472), 14720);
  assert_int_equal(p2pq_cc_initial_window(1500), 14720);
  assert_int_equal(p2pq_cc_initial_window(9000), 18000);
  assert_int_equal(p2pq_cc_min_window(1200), 2400);
}

static void test_select(void **state) {
  p2pq_cc cc;
  (void)state;
  assert_int_equal(p2pq_cc_init(&cc, "newreno", MDS), 0);
  assert_string_equal(cc.ops->name, "newreno");
  assert_int_equal(cc.cwnd, 12000);
  assert_true(cc.ssthresh == UINT64_MAX);
  assert_int_equal(p2pq_cc_init(&cc, "cubic", MDS), 0);
  assert_string_equal(cc.ops->name, "cubic");
  assert_int_equal(p2pq_cc_init(&cc, NULL, MDS), 0);
  assert_string_equal(cc.ops->name, "cubic");
  assert_int_equal(p2pq_cc_init(&cc, "bbr", MDS), P2PQ_ERR_CONFIG);
  assert_int_equal(p2pq_cc_init(&cc, "newreno", 0), P2PQ_ERR_INVALID_ARG);
  p2pq_cc_clear(&cc);
}

static void rtt100(p2pq_rtt *r) {
  p2pq_rtt_init(r, 0);
  p2pq_rtt_update(r, 100 * P2PQ_MS, 0, 0, 1, 1);
}

static void test_newreno_slow_start_and_ca(void **state) {
  p2pq_cc cc;
  p2pq_rtt rtt;
  (void)state;
  rtt100(&rtt);
  assert_int_equal(p2pq_cc_init(&cc, "newreno", MDS), 0);
  /* slow start: grows by the bytes acknowledged */
  p2pq_cc_on_ack(&cc, 1200, &rtt, 10);
  assert_int_equal(cc.cwnd, 13200);
  p2pq_cc_on_ack(&cc, 12000, &rtt, 20);
  assert_int_equal(cc.cwnd, 25200);
  /* a loss halves */
  assert_int_equal(p2pq_cc_on_congestion_event(&cc, 15, 100), 1);
  assert_int_equal(cc.cwnd, 12600);
  assert_int_equal(cc.ssthresh, 12600);
  assert_false(p2pq_cc_in_slow_start(&cc));
  /* congestion avoidance: one mds per window acknowledged, however split */
  p2pq_cc_on_ack(&cc, 6000, &rtt, 200);
  assert_int_equal(cc.cwnd, 12600);
  p2pq_cc_on_ack(&cc, 6600, &rtt, 210);
  assert_int_equal(cc.cwnd, 13800);
  for (int i = 0; i < 22; i++)
    p2pq_cc_on_ack(&cc, 600, &rtt, 220);
  assert_int_equal(cc.cwnd, 13800);
  p2pq_cc_on_ack(&cc, 600, &rtt, 230);
  assert_int_equal(cc.cwnd, 15000);
  p2pq_cc_clear(&cc);
}

static void test_recovery_period(void **state) {
  p2pq_cc cc;
  (void)state;
  assert_int_equal(p2pq_cc_init(&cc, "newreno", MDS), 0);
  cc.cwnd = 48000;
  assert_int_equal(p2pq_cc_on_congestion_event(&cc, 50, 100), 1);
  assert_int_equal(cc.cwnd, 24000);
  assert_true(p2pq_cc_in_recovery(&cc, 100));
  assert_false(p2pq_cc_in_recovery(&cc, 101));
  /* losses of packets sent before the recovery started: no second cut */
  assert_int_equal(p2pq_cc_on_congestion_event(&cc, 60, 150), 0);
  assert_int_equal(p2pq_cc_on_congestion_event(&cc, 100, 160), 0);
  assert_int_equal(cc.cwnd, 24000);
  assert_int_equal(cc.congestion_events, 1);
  /* a packet sent after it starts a new period */
  assert_int_equal(p2pq_cc_on_congestion_event(&cc, 101, 200), 1);
  assert_int_equal(cc.cwnd, 12000);
  assert_int_equal(cc.recovery_start, 200);
  /* never below the minimum window */
  cc.cwnd = 3000;
  assert_int_equal(p2pq_cc_on_congestion_event(&cc, 300, 400), 1);
  assert_int_equal(cc.cwnd, 2400);
  p2pq_cc_clear(&cc);
}

static void test_persistent_congestion(void **state) {
  const char *names[] = {"newreno", "cubic"};
  (void)state;
  for (int i = 0; i < 2; i++) {
    p2pq_cc cc;
    assert_int_equal(p2pq_cc_init(&cc, names[i], MDS), 0);
    cc.cwnd = 100000;
    p2pq_cc_on_congestion_event(&cc, 10, 20);
    p2pq_cc_on_persistent_congestion(&cc, 20);
    assert_int_equal(cc.cwnd, 2400);
    assert_false(cc.in_recovery);
    /* no recovery period any more: the next loss cuts again (to the floor) */
    assert_int_equal(p2pq_cc_on_congestion_event(&cc, 5, 30), 1);
    assert_int_equal(cc.cwnd, 2400);
    /* reset goes back to the initial window */
    p2pq_cc_reset(&cc);
    assert_int_equal(cc.cwnd, 12000);
    assert_true(cc.ssthresh == UINT64_MAX);
    p2pq_cc_set_mds(&cc, 1400);
    assert_int_equal(cc.mds, 1400);
    cc.cwnd = 100;
    p2pq_cc_set_mds(&cc, 1400);
    assert_int_equal(cc.cwnd, 2800);
    p2pq_cc_clear(&cc);
  }
}

static void test_cubic_reduction_and_curve(void **state) {
  p2pq_cc cc;
  double k;
  (void)state;
  assert_int_equal(p2pq_cc_init(&cc, "cubic", MDS), 0);
  cc.cwnd = 100 * MDS;
  assert_int_equal(p2pq_cc_on_congestion_event(&cc, 1, 10), 1);
  /* beta_cubic 0.7 */
  assert_int_equal(cc.cwnd, 70 * MDS);
  assert_int_equal(cc.ssthresh, 70 * MDS);
  /* K = cbrt(W_max * (1 - beta) / C) = cbrt(100 * 0.3 / 0.4) = cbrt(75) */
  k = p2pq_cc_cubic_k(&cc);
  assert_true(fabs(k - 4.217163) < 1e-5);
  /* W_cubic(t) = C (t - K)^3 + W_max, in segments */
  assert_true(fabs(p2pq_cc_cubic_w(&cc, 0) - 70.0 * MDS) < 1e-6 * MDS);
  assert_true(fabs(p2pq_cc_cubic_w(&cc, k) - 100.0 * MDS) < 1e-9);
  assert_true(fabs(p2pq_cc_cubic_w(&cc, k + 1) - 100.4 * MDS) < 1e-6);
  assert_true(fabs(p2pq_cc_cubic_w(&cc, k + 2) - 103.2 * MDS) < 1e-6);
  assert_true(fabs(p2pq_cc_cubic_w(&cc, k - 2) - 96.8 * MDS) < 1e-6);
  /* fast convergence: a loss below the old plateau lowers W_max further */
  assert_int_equal(p2pq_cc_on_congestion_event(&cc, 20, 30), 1);
  assert_true(fabs(cc.u.cubic.w_max - 70.0 * MDS * 1.7 / 2) < 1);
  assert_int_equal(cc.cwnd, 49 * MDS);
  /* a loss at or above the plateau sets W_max to the window itself */
  cc.cwnd = 200 * MDS;
  assert_int_equal(p2pq_cc_on_congestion_event(&cc, 40, 50), 1);
  assert_true(fabs(cc.u.cubic.w_max - 200.0 * MDS) < 1);
  assert_int_equal(cc.cwnd, 140 * MDS);
  p2pq_cc_clear(&cc);
}

/* Feeds one window of ACKs per RTT and returns cwnd after `secs`. */
static void run_rounds(p2pq_cc *cc, const p2pq_rtt *rtt, p2pq_tstamp *now, double secs) {
  p2pq_tstamp end = *now + (p2pq_tstamp)(secs * 1e9);
  while (*now < end) {
    uint64_t w = cc->cwnd;
    for (uint64_t b = 0; b < w; b += MDS)
      p2pq_cc_on_ack(cc, MDS, rtt, *now);
    *now += rtt->smoothed;
  }
}

static void test_cubic_growth_follows_curve(void **state) {
  p2pq_cc cc;
  p2pq_rtt rtt;
  p2pq_tstamp now = P2PQ_S, epoch;
  double k, t, w;
  (void)state;
  rtt100(&rtt);
  assert_int_equal(p2pq_cc_init(&cc, "cubic", MDS), 0);
  /* A large plateau (K = cbrt(750) = 9.09 s) keeps the Reno-friendly
   * estimate (alpha 0.53 segments per RTT) below the curve throughout. */
  cc.cwnd = 1000 * MDS;
  p2pq_cc_on_congestion_event(&cc, now - 1, now);
  k = p2pq_cc_cubic_k(&cc);
  assert_true(fabs(k - cbrt(750.0)) < 1e-9);
  now += rtt.smoothed; /* recovery over: the first ACK starts the epoch */
  epoch = now;
  run_rounds(&cc, &rtt, &now, 1.0);
  assert_int_equal(cc.u.cubic.epoch_start, epoch);
  /* concave region: the window tracks W_cubic(t) and stays below W_max */
  for (t = (double)(now - epoch) / 1e9; t < k - 0.5; t = (double)(now - epoch) / 1e9) {
    w = p2pq_cc_cubic_w(&cc, t);
    assert_true(fabs((double)cc.cwnd - w) < 0.01 * w);
    assert_true(cc.cwnd < 1000 * MDS);
    run_rounds(&cc, &rtt, &now, 1.0);
  }
  /* near K it plateaus at W_max */
  run_rounds(&cc, &rtt, &now, k - (double)(now - epoch) / 1e9);
  assert_true(fabs((double)cc.cwnd - 1000.0 * MDS) < 0.01 * 1000 * MDS);
  /* past K: convex region, above the old plateau and still on the curve */
  run_rounds(&cc, &rtt, &now, k + 3.0 - (double)(now - epoch) / 1e9);
  t = (double)(now - epoch) / 1e9;
  w = p2pq_cc_cubic_w(&cc, t);
  assert_true(t >= k + 3.0);
  assert_true(cc.cwnd > 1010 * MDS);
  assert_true(fabs((double)cc.cwnd - w) < 0.01 * w);
  assert_true(cc.u.cubic.w_est < w);
  p2pq_cc_clear(&cc);
}

static void test_cubic_reno_friendly(void **state) {
  p2pq_cc cc;
  p2pq_rtt rtt;
  p2pq_tstamp now = P2PQ_S;
  uint64_t before;
  (void)state;
  /* Tiny window, long RTT: the cubic curve is flat for a while, so the
   * Reno-friendly estimate must keep growing the window. */
  p2pq_rtt_init(&rtt, 0);
  p2pq_rtt_update(&rtt, 2 * P2PQ_MS, 0, 0, 1, 1);
  assert_int_equal(p2pq_cc_init(&cc, "cubic", MDS), 0);
  cc.cwnd = 20 * MDS;
  p2pq_cc_on_congestion_event(&cc, now - 1, now);
  now += P2PQ_MS;
  before = cc.cwnd;
  run_rounds(&cc, &rtt, &now, 0.2); /* 100 round trips */
  /* Reno with alpha 0.53 would add ~53 segments; cubic alone ~1 */
  assert_true(cc.cwnd > before + 30 * MDS);
  assert_true(cc.u.cubic.w_est >= (double)before + 30 * MDS);
  p2pq_cc_clear(&cc);
}

static void test_cubic_slow_start(void **state) {
  p2pq_cc cc;
  p2pq_rtt rtt;
  (void)state;
  rtt100(&rtt);
  assert_int_equal(p2pq_cc_init(&cc, "cubic", MDS), 0);
  p2pq_cc_on_ack(&cc, 12000, &rtt, 10);
  assert_int_equal(cc.cwnd, 24000);
  /* exiting slow start without loss: plateau at the current window, K = 0 */
  cc.ssthresh = 24000;
  p2pq_cc_on_ack(&cc, 1200, &rtt, 20);
  assert_true(cc.u.cubic.in_epoch);
  assert_true(fabs(p2pq_cc_cubic_k(&cc)) < 1e-9);
  assert_true(cc.cwnd >= 24000);
  p2pq_cc_clear(&cc);
}

/* One slow-start round for HyStart++: send `n` packets, then ACK them one by
 * one with RTT samples of `rtt_ms`. Returns the window growth. */
static uint64_t hs_round(p2pq_cc *cc, uint64_t *pn, int n, unsigned rtt_ms, p2pq_tstamp *now) {
  p2pq_rtt rtt;
  uint64_t first = *pn, before = cc->cwnd;
  p2pq_rtt_init(&rtt, 0);
  for (int i = 0; i < n; i++)
    p2pq_cc_on_sent(cc, (*pn)++, 1, 0, *now);
  *now += rtt_ms * P2PQ_MS;
  rtt.latest = rtt_ms * P2PQ_MS;
  for (int i = 0; i < n; i++) {
    p2pq_cc_ack a = {.bytes = MDS, .largest_pn = first + (uint64_t)i, .app = 1, .rtt_sample = 1};
    p2pq_cc_on_ack_info(cc, &a, &rtt, *now);
  }
  return cc->cwnd - before;
}

static void test_hystart_css_and_exit(void **state) {
  p2pq_cc cc;
  uint64_t pn = 0;
  p2pq_tstamp now = P2PQ_S;
  (void)state;
  assert_int_equal(p2pq_cc_init(&cc, "cubic", MDS), 0);
  /* rounds at 100 ms: plain slow start, +1 mds per acked packet */
  assert_int_equal(hs_round(&cc, &pn, 10, 100, &now), 10 * MDS);
  assert_int_equal(hs_round(&cc, &pn, 10, 100, &now), 10 * MDS);
  /* +12 ms is below the threshold max(4, min(100 / 8, 16)) = 12.5 ms */
  assert_int_equal(hs_round(&cc, &pn, 10, 112, &now), 10 * MDS);
  assert_false(p2pq_cc_cubic_in_css(&cc));
  /* +14 ms over the last round's 112: CSS starts with the 8th sample, so 8
   * ACKs grow by mds and the last 2 by mds / 4 */
  assert_int_equal(hs_round(&cc, &pn, 10, 126, &now), 8 * MDS + 2 * (MDS / 4));
  assert_true(p2pq_cc_cubic_in_css(&cc));
  assert_true(p2pq_cc_in_slow_start(&cc));
  /* CSS rounds grow a quarter as fast */
  for (int r = 0; r < 4; r++) {
    assert_int_equal(hs_round(&cc, &pn, 8, 126, &now), 8 * (MDS / 4));
    assert_true(p2pq_cc_in_slow_start(&cc));
  }
  /* the fifth CSS round ends slow start: ssthresh = cwnd */
  hs_round(&cc, &pn, 8, 126, &now);
  assert_false(p2pq_cc_cubic_in_css(&cc));
  assert_false(p2pq_cc_in_slow_start(&cc));
  assert_true(cc.ssthresh <= cc.cwnd);
  p2pq_cc_clear(&cc);
}

static void test_hystart_css_false_alarm(void **state) {
  p2pq_cc cc;
  uint64_t pn = 0;
  p2pq_tstamp now = P2PQ_S;
  (void)state;
  assert_int_equal(p2pq_cc_init(&cc, "cubic", MDS), 0);
  hs_round(&cc, &pn, 10, 50, &now);
  hs_round(&cc, &pn, 10, 60, &now); /* thresh 6.25 ms: 60 >= 56.25 */
  assert_true(p2pq_cc_cubic_in_css(&cc));
  /* the RTT falls back below the CSS baseline: slow start resumes */
  assert_int_equal(hs_round(&cc, &pn, 10, 50, &now), 8 * (MDS / 4) + 2 * MDS);
  assert_int_equal(hs_round(&cc, &pn, 10, 50, &now), 10 * MDS);
  assert_false(p2pq_cc_cubic_in_css(&cc));
  assert_true(p2pq_cc_in_slow_start(&cc));
  /* a loss ends HyStart++ for good: later delay rises change nothing */
  p2pq_cc_on_congestion_event(&cc, now - 1, now);
  cc.ssthresh = UINT64_MAX; /* pretend a slow start again */
  hs_round(&cc, &pn, 10, 50, &now);
  assert_int_equal(hs_round(&cc, &pn, 10, 90, &now), 10 * MDS);
  assert_false(p2pq_cc_cubic_in_css(&cc));
  /* newreno has no HyStart++ */
  assert_int_equal(p2pq_cc_init(&cc, "newreno", MDS), 0);
  hs_round(&cc, &pn, 10, 50, &now);
  assert_int_equal(hs_round(&cc, &pn, 10, 90, &now), 10 * MDS);
  assert_false(p2pq_cc_cubic_in_css(&cc));
  p2pq_cc_clear(&cc);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_windows),
      cmocka_unit_test(test_select),
      cmocka_unit_test(test_newreno_slow_start_and_ca),
      cmocka_unit_test(test_recovery_period),
      cmocka_unit_test(test_persistent_congestion),
      cmocka_unit_test(test_cubic_reduction_and_curve),
      cmocka_unit_test(test_cubic_growth_follows_curve),
      cmocka_unit_test(test_cubic_reno_friendly),
      cmocka_unit_test(test_cubic_slow_start),
      cmocka_unit_test(test_hystart_css_and_exit),
      cmocka_unit_test(test_hystart_css_false_alarm),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
