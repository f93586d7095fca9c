/* Pacer: rate 1.25 * cwnd / srtt, bursts of up to 10 packets (RFC 9002 7.7). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "quic/pacer.h"

#define MS P2PQ_MS
#define MDS 1200

static void test_rate(void **state) {
  (void)state;
  /* 1.25 * 12000 B / 100 ms = 150000 B/s */
  assert_true(p2pq_pacer_rate(12000, 100 * MS) == 150000);
  assert_true(p2pq_pacer_rate(1000000, 10 * MS) == 125000000);
  assert_true(p2pq_pacer_rate(12000, 0) == UINT64_MAX);
}

static void test_initial_burst_then_spacing(void **state) {
  p2pq_pacer p;
  p2pq_tstamp t = 1000 * MS;
  (void)state;
  p2pq_pacer_init(&p, MDS, 0);
  assert_int_equal(p.burst, 10);
  /* a full bucket: ten packets at once */
  assert_int_equal(p2pq_pacer_burst(&p, 12000, 100 * MS, t), 10);
  for (int i = 0; i < 10; i++) {
    assert_true(p2pq_pacer_next_time(&p, 12000, 100 * MS, MDS, t) == t);
    p2pq_pacer_on_sent(&p, 12000, 100 * MS, MDS, t);
  }
  assert_int_equal(p2pq_pacer_burst(&p, 12000, 100 * MS, t), 0);
  /* then one packet per 1200 / 150000 s = 8 ms */
  {
    p2pq_tstamp next = p2pq_pacer_next_time(&p, 12000, 100 * MS, MDS, t);
    assert_true(next >= t + 8 * MS && next <= t + 8 * MS + 2);
    assert_int_equal(p2pq_pacer_burst(&p, 12000, 100 * MS, next), 1);
    assert_int_equal(p2pq_pacer_burst(&p, 12000, 100 * MS, next - 1000), 0);
    /* a doubled window halves the wait */
    next = p2pq_pacer_next_time(&p, 24000, 100 * MS, MDS, t);
    assert_true(next >= t + 4 * MS && next <= t + 4 * MS + 2);
  }
}

static void test_bucket_capped(void **state) {
  p2pq_pacer p;
  (void)state;
  p2pq_pacer_init(&p, MDS, 4);
  p2pq_pacer_on_sent(&p, 12000, 100 * MS, MDS, 0);
  assert_int_equal(p2pq_pacer_burst(&p, 12000, 100 * MS, 0), 3);
  /* a long idle period refills to the burst size, not beyond */
  assert_int_equal(p2pq_pacer_burst(&p, 12000, 100 * MS, 10 * P2PQ_S), 4);
  /* time going backwards is harmless */
  assert_int_equal(p2pq_pacer_burst(&p, 12000, 100 * MS, 0), 3);
  /* a write larger than the bucket waits for a full bucket, not forever */
  p2pq_pacer_on_sent(&p, 12000, 100 * MS, 4 * MDS, 10 * P2PQ_S);
  assert_true(p2pq_pacer_next_time(&p, 12000, 100 * MS, 100000, 10 * P2PQ_S) <
              10 * P2PQ_S + 40 * MS);
  /* no RTT yet measured as 0: no pacing */
  assert_true(p2pq_pacer_next_time(&p, 12000, 0, MDS, 5) == 5);
  p2pq_pacer_clear(&p);
}

static void test_long_run_rate(void **state) {
  p2pq_pacer p;
  p2pq_tstamp t = 0;
  uint64_t sent = 0;
  const uint64_t cwnd = 100 * MDS;
  const p2pq_tstamp srtt = 20 * MS;
  (void)state;
  p2pq_pacer_init(&p, MDS, 0);
  /* a greedy sender that sends whenever allowed, in bursts */
  while (t < P2PQ_S) {
    size_t n = p2pq_pacer_burst(&p, cwnd, srtt, t);
    for (size_t i = 0; i < n; i++) {
      p2pq_pacer_on_sent(&p, cwnd, srtt, MDS, t);
      sent += MDS;
    }
    t = p2pq_pacer_next_time(&p, cwnd, srtt, MDS, t);
  }
  /* 1.25 * 120000 / 0.02 = 7.5 MB/s, plus the initial bucket */
  assert_true(sent >= 7500000 - MDS && sent <= 7500000 + 11 * MDS);
}

static void test_probe_debt(void **state) {
  p2pq_pacer p;
  (void)state;
  p2pq_pacer_init(&p, MDS, 2);
  /* probes sent regardless of the pacer build a debt of at most one bucket */
  for (int i = 0; i < 10; i++)
    p2pq_pacer_on_sent(&p, 12000, 100 * MS, MDS, 0);
  assert_true(p.tokens >= -2.0 * MDS);
  /* from -2400 B to +1200 B at 150 kB/s: 24 ms until one packet is allowed */
  assert_true(p2pq_pacer_next_time(&p, 12000, 100 * MS, MDS, 0) >= 24 * MS);
  assert_true(p2pq_pacer_next_time(&p, 12000, 100 * MS, MDS, 0) <= 24 * MS + 2);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rate),
      cmocka_unit_test(test_initial_burst_then_spacing),
      cmocka_unit_test(test_bucket_capped),
      cmocka_unit_test(test_long_run_rate),
      cmocka_unit_test(test_probe_debt),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
