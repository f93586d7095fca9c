/* Loss detection, RTT estimation and the sent-packet table (RFC 9002). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "p2pq/error.h"
#include "quic/recovery.h"

#define MS P2PQ_MS
#define AE (P2PQ_SENT_ACK_ELICITING | P2PQ_SENT_IN_FLIGHT)
#define MAXPN 4096

typedef struct fx {
  p2pq_recovery rec;
  p2pq_sentq q[P2PQ_PNS_COUNT];
  p2pq_recovery_env env;
  uint8_t state[MAXPN]; /* per APP pn: 0 out, 1 acked, 2 lost, 3 discarded */
  size_t acked, lost, discarded;
  uint64_t last_lost_pn;
} fx;

static void cb_acked(void *u, const p2pq_sentpkt *p) {
  fx *f = u;
  if (p->space == P2PQ_PNS_APP && p->pn < MAXPN) {
    assert_int_equal(f->state[p->pn], 0);
    f->state[p->pn] = 1;
  }
  f->acked++;
}
static void cb_lost(void *u, const p2pq_sentpkt *p) {
  fx *f = u;
  if (p->space == P2PQ_PNS_APP && p->pn < MAXPN) {
    assert_int_equal(f->state[p->pn], 0);
    f->state[p->pn] = 2;
  }
  f->lost++;
  f->last_lost_pn = p->pn;
}
static void cb_discarded(void *u, const p2pq_sentpkt *p) {
  fx *f = u;
  (void)p;
  f->discarded++;
}

static fx *fx_new(const char *cc) {
  fx *f = calloc(1, sizeof(*f));
  p2pq_recovery_config cfg = {.cc = cc, .mds = 1200};
  assert_non_null(f);
  assert_int_equal(p2pq_recovery_init(&f->rec, &cfg), 0);
  for (int i = 0; i < P2PQ_PNS_COUNT; i++) {
    assert_int_equal(p2pq_sentq_init(&f->q[i], (uint8_t)i), 0);
    f->env.spaces[i] = &f->q[i];
  }
  f->env.max_ack_delay = 25 * MS;
  f->env.handshake_confirmed = 1;
  f->env.peer_validated = 1;
  f->env.has_handshake_keys = 1;
  f->env.user = f;
  f->env.on_acked = cb_acked;
  f->env.on_lost = cb_lost;
  f->env.on_discarded = cb_discarded;
  return f;
}

static void fx_free(fx *f) {
  for (int i = 0; i < P2PQ_PNS_COUNT; i++)
    p2pq_sentq_clear(&f->q[i]);
  p2pq_recovery_clear(&f->rec);
  free(f);
}

static void sendp(fx *f, uint8_t space, uint64_t pn, p2pq_tstamp t, uint32_t size, uint8_t flags) {
  p2pq_sentpkt p = {.pn = pn, .time_sent = t, .size = size, .flags = flags, .space = space};
  assert_int_equal(p2pq_recovery_on_packet_sent(&f->rec, &f->env, &p), 0);
}

static int ack1(fx *f, uint8_t space, uint64_t lo, uint64_t hi, p2pq_tstamp delay,
                p2pq_tstamp now) {
  p2pq_recovery_range r = {lo, hi};
  return p2pq_recovery_on_ack_received(&f->rec, &f->env, space, &r, 1, delay, NULL, now);
}

/* ---- RTT ---- */

static void test_rtt_first_sample(void **state) {
  p2pq_rtt r;
  (void)state;
  p2pq_rtt_init(&r, 0);
  assert_true(r.smoothed == 333 * MS);
  assert_true(r.rttvar == 333 * MS / 2);
  assert_false(r.has_sample);
  /* PTO before any sample: 333 + 4 * 166.5 = 999 ms */
  assert_true(p2pq_rtt_pto_base(&r) == 999 * MS);
  p2pq_rtt_update(&r, 100 * MS, 10 * MS, 25 * MS, 1, 5000);
  /* the first sample ignores ack_delay */
  assert_true(r.latest == 100 * MS);
  assert_true(r.min_rtt == 100 * MS);
  assert_true(r.smoothed == 100 * MS);
  assert_true(r.rttvar == 50 * MS);
  assert_true(r.first_sample_time == 5000);
  p2pq_rtt_init(&r, 50 * MS);
  assert_true(r.smoothed == 50 * MS);
  assert_true(r.rttvar == 25 * MS);
}

static void test_rtt_ack_delay(void **state) {
  p2pq_rtt r;
  (void)state;
  /* confirmed: ack_delay 30 clamped to max_ack_delay 25 -> adjusted 125 */
  p2pq_rtt_init(&r, 0);
  p2pq_rtt_update(&r, 100 * MS, 0, 25 * MS, 1, 1);
  p2pq_rtt_update(&r, 150 * MS, 30 * MS, 25 * MS, 1, 2);
  assert_true(r.rttvar == (3 * 50 * MS + 25 * MS) / 4);
  assert_true(r.smoothed == (7 * 100 * MS + 125 * MS) / 8);
  assert_true(r.latest == 150 * MS);
  assert_true(r.min_rtt == 100 * MS);
  /* not confirmed: the full ack_delay counts -> adjusted 120 */
  p2pq_rtt_init(&r, 0);
  p2pq_rtt_update(&r, 100 * MS, 0, 25 * MS, 0, 1);
  p2pq_rtt_update(&r, 150 * MS, 30 * MS, 25 * MS, 0, 2);
  assert_true(r.rttvar == (3 * 50 * MS + 20 * MS) / 4);
  assert_true(r.smoothed == (7 * 100 * MS + 120 * MS) / 8);
  /* the delay would take the sample below min_rtt: not subtracted */
  p2pq_rtt_init(&r, 0);
  p2pq_rtt_update(&r, 100 * MS, 0, 25 * MS, 1, 1);
  p2pq_rtt_update(&r, 105 * MS, 20 * MS, 25 * MS, 1, 2);
  assert_true(r.smoothed == (7 * 100 * MS + 105 * MS) / 8);
}

static void test_rtt_min_unadjusted(void **state) {
  p2pq_rtt r;
  (void)state;
  p2pq_rtt_init(&r, 0);
  p2pq_rtt_update(&r, 100 * MS, 0, 25 * MS, 1, 1);
  p2pq_rtt_update(&r, 80 * MS, 10 * MS, 25 * MS, 1, 2);
  assert_true(r.min_rtt == 80 * MS); /* not 70: min_rtt ignores ack delay */
  p2pq_rtt_update(&r, 90 * MS, 0, 25 * MS, 1, 3);
  assert_true(r.min_rtt == 80 * MS);
  /* derived durations */
  p2pq_rtt_init(&r, 0);
  p2pq_rtt_update(&r, 100 * MS, 0, 25 * MS, 1, 1);
  assert_true(p2pq_rtt_pto_base(&r) == 300 * MS);
  assert_true(p2pq_rtt_loss_delay(&r) == 112500 * P2PQ_US);
  assert_true(p2pq_rtt_pc_duration(&r, 25 * MS) == 975 * MS);
  /* granularity floors */
  p2pq_rtt_init(&r, 0);
  p2pq_rtt_update(&r, 100 * P2PQ_US, 0, 0, 1, 1);
  assert_true(p2pq_rtt_loss_delay(&r) == P2PQ_GRANULARITY);
  for (int i = 0; i < 50; i++)
    p2pq_rtt_update(&r, 100 * P2PQ_US, 0, 0, 1, 1);
  assert_true(p2pq_rtt_pto_base(&r) == r.smoothed + P2PQ_GRANULARITY);
  p2pq_rtt_reset(&r);
  assert_true(r.smoothed == 333 * MS && !r.has_sample);
}

static void test_rtt_sample_from_ack(void **state) {
  fx *f = fx_new("newreno");
  (void)state;
  sendp(f, P2PQ_PNS_APP, 0, 1000 * MS, 1200, AE);
  sendp(f, P2PQ_PNS_APP, 1, 1010 * MS, 1200, AE);
  /* largest acked (1) newly acked and ack-eliciting: sample = 90 ms */
  assert_int_equal(ack1(f, P2PQ_PNS_APP, 0, 1, 5 * MS, 1100 * MS), 0);
  assert_true(f->rec.rtt.latest == 90 * MS);
  /* duplicate ACK: no new sample */
  assert_int_equal(ack1(f, P2PQ_PNS_APP, 0, 1, 5 * MS, 1500 * MS), 0);
  assert_true(f->rec.rtt.latest == 90 * MS);
  assert_true(p2pq_recovery_pto_duration(&f->rec, &f->env) == 90 * MS + 180 * MS + 25 * MS);
  /* largest acked not ack-eliciting: no sample */
  sendp(f, P2PQ_PNS_APP, 2, 1600 * MS, 50, 0);
  assert_int_equal(f->q[P2PQ_PNS_APP].non_eliciting_streak, 1);
  assert_int_equal(ack1(f, P2PQ_PNS_APP, 2, 2, 0, 1700 * MS), 0);
  assert_true(f->rec.rtt.latest == 90 * MS);
  sendp(f, P2PQ_PNS_APP, 3, 1800 * MS, 50, 0);
  assert_int_equal(f->q[P2PQ_PNS_APP].non_eliciting_streak, 2);
  sendp(f, P2PQ_PNS_APP, 4, 1800 * MS, 50, AE);
  assert_int_equal(f->q[P2PQ_PNS_APP].non_eliciting_streak, 0);
  /* Initial space ignores ack_delay: 2nd sample of 120 with delay 50 */
  sendp(f, P2PQ_PNS_INITIAL, 0, 2000 * MS, 1200, AE);
  assert_int_equal(ack1(f, P2PQ_PNS_INITIAL, 0, 0, 50 * MS, 2120 * MS), 0);
  assert_true(f->rec.rtt.smoothed == (7 * 90 * MS + 120 * MS) / 8);
  fx_free(f);
}

/* ---- sent table ---- */

static void test_sentq_basics(void **state) {
  p2pq_sentq q;
  p2pq_sentpkt p = {.size = 100, .flags = AE | P2PQ_SENT_ACKED};
  size_t it = 0, n = 0;
  (void)state;
  assert_int_equal(p2pq_sentq_init(&q, 3), P2PQ_ERR_INVALID_ARG);
  assert_int_equal(p2pq_sentq_init(&q, P2PQ_PNS_APP), 0);
  assert_null(p2pq_sentq_find(&q, 0));
  /* gaps allowed; growth beyond the first ring */
  for (uint64_t i = 0; i < 1000; i++) {
    p.pn = i * 3;
    p.time_sent = i;
    assert_int_equal(p2pq_sentq_push(&q, &p), 0);
  }
  assert_int_equal(p2pq_sentq_count(&q), 1000);
  assert_true(q.bytes_in_flight == 100000);
  assert_non_null(p2pq_sentq_find(&q, 2997));
  assert_null(p2pq_sentq_find(&q, 2998));
  /* table-owned flags are stripped on input */
  assert_int_equal(p2pq_sentq_find(&q, 3)->flags, AE);
  /* pn and time must not go backwards */
  p.pn = 2997;
  assert_int_equal(p2pq_sentq_push(&q, &p), P2PQ_ERR_INVALID_ARG);
  p.pn = 5000;
  p.time_sent = 5;
  assert_int_equal(p2pq_sentq_push(&q, &p), P2PQ_ERR_INVALID_ARG);
  while (p2pq_sentq_next(&q, &it))
    n++;
  assert_int_equal(n, 1000);
  p2pq_sentq_clear(&q);
  assert_int_equal(q.space, P2PQ_PNS_APP);
}

static void test_ack_validation(void **state) {
  fx *f = fx_new("newreno");
  p2pq_recovery_range bad[2] = {{5, 8}, {6, 6}};
  p2pq_recovery_range inv[1] = {{5, 4}};
  (void)state;
  assert_int_equal(ack1(f, P2PQ_PNS_APP, 0, 0, 0, 10), P2PQ_ERR_PROTOCOL); /* nothing sent */
  for (uint64_t i = 0; i < 10; i++)
    sendp(f, P2PQ_PNS_APP, i, i * MS, 1000, AE);
  assert_int_equal(ack1(f, P2PQ_PNS_APP, 5, 10, 0, 20 * MS), P2PQ_ERR_PROTOCOL);
  assert_int_equal(p2pq_recovery_on_ack_received(&f->rec, &f->env, P2PQ_PNS_APP, bad, 2, 0, NULL,
                                                 20 * MS),
                   P2PQ_ERR_INVALID_ARG);
  assert_int_equal(p2pq_recovery_on_ack_received(&f->rec, &f->env, P2PQ_PNS_APP, inv, 1, 0, NULL,
                                                 20 * MS),
                   P2PQ_ERR_INVALID_ARG);
  assert_int_equal(p2pq_recovery_on_ack_received(&f->rec, &f->env, P2PQ_PNS_APP, inv, 0, 0, NULL,
                                                 20 * MS),
                   P2PQ_ERR_INVALID_ARG);
  assert_int_equal(ack1(f, 7, 0, 0, 0, 20 * MS), P2PQ_ERR_INVALID_ARG);
  /* nothing changed */
  assert_true(f->rec.bytes_in_flight == 10000);
  assert_int_equal(f->acked, 0);
  assert_false(f->q[P2PQ_PNS_APP].any_acked);
  fx_free(f);
}

/* ---- loss detection ---- */

static void test_packet_and_time_threshold(void **state) {
  fx *f = fx_new("newreno");
  p2pq_recovery_action act;
  (void)state;
  for (uint64_t i = 0; i < 5; i++)
    sendp(f, P2PQ_PNS_APP, i, (1 + i) * MS, 1200, AE);
  assert_true(f->rec.bytes_in_flight == 6000);
  /* ack 4 at 101 ms: rtt 96 ms, loss delay 108 ms; 0 and 1 are 3+ below */
  assert_int_equal(ack1(f, P2PQ_PNS_APP, 4, 4, 0, 101 * MS), 0);
  assert_int_equal(f->acked, 1);
  assert_int_equal(f->lost, 2);
  assert_int_equal(f->state[0], 2);
  assert_int_equal(f->state[1], 2);
  assert_int_equal(f->state[2], 0);
  assert_true(f->rec.bytes_in_flight == 2400);
  /* newreno halved once */
  assert_int_equal(f->rec.cc.cwnd, 6000);
  /* 2 and 3 wait for the time threshold: sent 3 ms + 108 ms */
  assert_true(p2pq_recovery_next_timeout(&f->rec, &f->env) == 111 * MS);
  p2pq_recovery_on_timeout(&f->rec, &f->env, 110 * MS, &act);
  assert_int_equal(act.kind, P2PQ_RECOVERY_NONE);
  p2pq_recovery_on_timeout(&f->rec, &f->env, 111 * MS, &act);
  assert_int_equal(act.kind, P2PQ_RECOVERY_LOST);
  assert_int_equal(f->state[2], 2);
  assert_int_equal(f->state[3], 0);
  assert_true(p2pq_recovery_next_timeout(&f->rec, &f->env) == 112 * MS);
  p2pq_recovery_on_timeout(&f->rec, &f->env, 112 * MS, &act);
  assert_int_equal(act.kind, P2PQ_RECOVERY_LOST);
  assert_int_equal(f->state[3], 2);
  assert_true(f->rec.bytes_in_flight == 0);
  /* all those were sent before the recovery started: no second cut */
  assert_int_equal(f->rec.cc.cwnd, 6000);
  assert_int_equal(f->rec.cc.congestion_events, 1);
  assert_int_equal(f->rec.pkts_lost, 4);
  /* nothing in flight, peer validated: no timer */
  assert_true(p2pq_recovery_next_timeout(&f->rec, &f->env) == P2PQ_TSTAMP_MAX);
  assert_int_equal(p2pq_sentq_count(&f->q[P2PQ_PNS_APP]), 0);
  fx_free(f);
}

static void test_spurious_loss_not_double_counted(void **state) {
  fx *f = fx_new("newreno");
  p2pq_recovery_range r[2] = {{6, 7}, {0, 4}};
  (void)state;
  for (uint64_t i = 0; i < 8; i++)
    sendp(f, P2PQ_PNS_APP, i, (1 + i) * MS, 1000, AE);
  assert_int_equal(ack1(f, P2PQ_PNS_APP, 5, 5, 0, 50 * MS), 0);
  assert_int_equal(f->lost, 3); /* 0, 1, 2 */
  assert_true(f->rec.bytes_in_flight == 4000);
  /* the "lost" packets turn out to have arrived: ignored, nothing re-counted */
  assert_int_equal(p2pq_recovery_on_ack_received(&f->rec, &f->env, P2PQ_PNS_APP, r, 2, 0, NULL,
                                                 60 * MS),
                   0);
  assert_int_equal(f->lost, 3);
  assert_int_equal(f->acked, 1 + 4); /* 5, then 3, 4, 6, 7 */
  assert_true(f->rec.bytes_in_flight == 0);
  assert_true(f->q[P2PQ_PNS_APP].bytes_in_flight == 0);
  assert_int_equal(f->rec.pkts_acked, 5);
  /* a repeated ACK changes nothing either */
  assert_int_equal(ack1(f, P2PQ_PNS_APP, 0, 7, 0, 70 * MS), 0);
  assert_int_equal(f->acked, 5);
  assert_true(f->rec.bytes_in_flight == 0);
  fx_free(f);
}

static void test_pmtu_probe_loss_no_congestion(void **state) {
  fx *f = fx_new("newreno");
  (void)state;
  sendp(f, P2PQ_PNS_APP, 0, 1 * MS, 1500, AE | P2PQ_SENT_PMTU_PROBE);
  for (uint64_t i = 1; i < 5; i++)
    sendp(f, P2PQ_PNS_APP, i, (1 + i) * MS, 1200, AE);
  assert_int_equal(ack1(f, P2PQ_PNS_APP, 1, 4, 0, 50 * MS), 0);
  assert_int_equal(f->state[0], 2);
  assert_int_equal(f->rec.cc.congestion_events, 0);
  assert_true(f->rec.bytes_in_flight == 0);
  fx_free(f);
}

#define ECT (AE | P2PQ_SENT_ECT0)

static int ack_ecn(fx *f, uint64_t lo, uint64_t hi, uint64_t ect0, uint64_t ect1, uint64_t ce,
                   p2pq_tstamp now) {
  p2pq_recovery_range r = {lo, hi};
  p2pq_recovery_ecn e = {ect0, ect1, ce};
  return p2pq_recovery_on_ack_received(&f->rec, &f->env, P2PQ_PNS_APP, &r, 1, 0, &e, now);
}

static void test_ecn_ce(void **state) {
  fx *f = fx_new("newreno");
  (void)state;
  f->rec.cc.cwnd = 48000;
  sendp(f, P2PQ_PNS_APP, 0, 1 * MS, 1200, ECT);
  sendp(f, P2PQ_PNS_APP, 1, 2 * MS, 1200, ECT);
  assert_int_equal(ack_ecn(f, 0, 1, 2, 0, 0, 30 * MS), 0);
  assert_int_equal(f->rec.cc.congestion_events, 0);
  sendp(f, P2PQ_PNS_APP, 2, 40 * MS, 1200, ECT);
  sendp(f, P2PQ_PNS_APP, 3, 41 * MS, 1200, ECT);
  /* a CE mark is a congestion signal */
  assert_int_equal(ack_ecn(f, 2, 2, 2, 0, 1, 70 * MS), 0);
  assert_int_equal(f->rec.cc.congestion_events, 1);
  assert_int_equal(f->rec.cc.cwnd, 24000);
  /* another for a packet sent before the recovery start: no new cut */
  assert_int_equal(ack_ecn(f, 3, 3, 2, 0, 2, 71 * MS), 0);
  assert_int_equal(f->rec.cc.congestion_events, 1);
  /* the same count again is no signal */
  sendp(f, P2PQ_PNS_APP, 4, 80 * MS, 1200, ECT);
  assert_int_equal(ack_ecn(f, 4, 4, 3, 0, 2, 110 * MS), 0);
  assert_int_equal(f->rec.cc.congestion_events, 1);
  assert_true(p2pq_recovery_ecn_ok(&f->rec));
  /* a CE rise after the recovery period cuts again */
  sendp(f, P2PQ_PNS_APP, 5, 120 * MS, 1200, ECT);
  assert_int_equal(ack_ecn(f, 5, 5, 3, 0, 3, 150 * MS), 0);
  assert_int_equal(f->rec.cc.congestion_events, 2);
  fx_free(f);
}

static void test_ecn_validation(void **state) {
  fx *f = fx_new("newreno");
  (void)state;
  /* marked packets acknowledged without counts: ECN is bleached */
  sendp(f, P2PQ_PNS_APP, 0, 1 * MS, 1200, ECT);
  assert_int_equal(ack1(f, P2PQ_PNS_APP, 0, 0, 0, 30 * MS), 0);
  assert_false(p2pq_recovery_ecn_ok(&f->rec));
  /* from then on CE is ignored */
  sendp(f, P2PQ_PNS_APP, 1, 40 * MS, 1200, ECT);
  assert_int_equal(ack_ecn(f, 1, 1, 0, 0, 1, 70 * MS), 0);
  assert_int_equal(f->rec.cc.congestion_events, 0);
  /* a new path starts over */
  p2pq_recovery_reset(&f->rec);
  assert_true(p2pq_recovery_ecn_ok(&f->rec));
  fx_free(f);

  /* counts that grow less than the marked packets acknowledged */
  f = fx_new("newreno");
  sendp(f, P2PQ_PNS_APP, 0, 1 * MS, 1200, ECT);
  sendp(f, P2PQ_PNS_APP, 1, 2 * MS, 1200, ECT);
  assert_int_equal(ack_ecn(f, 0, 1, 1, 0, 0, 30 * MS), 0);
  assert_false(p2pq_recovery_ecn_ok(&f->rec));
  fx_free(f);

  /* ECT(1) we never sent */
  f = fx_new("newreno");
  sendp(f, P2PQ_PNS_APP, 0, 1 * MS, 1200, ECT);
  assert_int_equal(ack_ecn(f, 0, 0, 0, 1, 0, 30 * MS), 0);
  assert_false(p2pq_recovery_ecn_ok(&f->rec));
  fx_free(f);

  /* more marks reported than packets sent marked */
  f = fx_new("newreno");
  sendp(f, P2PQ_PNS_APP, 0, 1 * MS, 1200, ECT);
  assert_int_equal(ack_ecn(f, 0, 0, 5, 0, 0, 30 * MS), 0);
  assert_false(p2pq_recovery_ecn_ok(&f->rec));
  fx_free(f);

  /* a reordered ACK (largest not raised) with older, lower counts is
   * ignored, neither a failure nor a signal */
  f = fx_new("newreno");
  for (uint64_t i = 0; i < 2; i++)
    sendp(f, P2PQ_PNS_APP, i, (1 + i) * MS, 1200, ECT);
  assert_int_equal(ack_ecn(f, 1, 1, 1, 0, 0, 30 * MS), 0);
  assert_int_equal(ack_ecn(f, 0, 0, 0, 0, 1, 31 * MS), 0);
  assert_true(p2pq_recovery_ecn_ok(&f->rec));
  assert_int_equal(f->rec.cc.congestion_events, 0);
  /* unmarked packets with plain ACKs are fine */
  sendp(f, P2PQ_PNS_APP, 4, 40 * MS, 1200, AE);
  assert_int_equal(ack1(f, P2PQ_PNS_APP, 4, 4, 0, 70 * MS), 0);
  assert_true(p2pq_recovery_ecn_ok(&f->rec));
  fx_free(f);
}

/* ---- PTO ---- */

static void test_pto_backoff_and_reset(void **state) {
  fx *f = fx_new("newreno");
  p2pq_recovery_action act;
  (void)state;
  sendp(f, P2PQ_PNS_APP, 0, 0, 1200, AE);
  /* (333 + 4 * 166.5) ms + max_ack_delay 25 ms */
  assert_true(p2pq_recovery_next_timeout(&f->rec, &f->env) == 1024 * MS);
  p2pq_recovery_on_timeout(&f->rec, &f->env, 1023 * MS, &act);
  assert_int_equal(act.kind, P2PQ_RECOVERY_NONE);
  p2pq_recovery_on_timeout(&f->rec, &f->env, 1024 * MS, &act);
  assert_int_equal(act.kind, P2PQ_RECOVERY_PROBE);
  assert_int_equal(act.space, P2PQ_PNS_APP);
  assert_int_equal(act.probes, 2);
  assert_int_equal(f->rec.pto_count, 1);
  /* exponential backoff, max_ack_delay included in it */
  assert_true(p2pq_recovery_next_timeout(&f->rec, &f->env) == 2048 * MS);
  p2pq_recovery_on_timeout(&f->rec, &f->env, 2048 * MS, &act);
  assert_int_equal(f->rec.pto_count, 2);
  assert_true(p2pq_recovery_next_timeout(&f->rec, &f->env) == 4096 * MS);
  /* the probe went out */
  sendp(f, P2PQ_PNS_APP, 1, 2050 * MS, 1200, AE | P2PQ_SENT_PROBE);
  assert_true(p2pq_recovery_next_timeout(&f->rec, &f->env) == 2050 * MS + 4096 * MS);
  /* an ACK resets the backoff */
  assert_int_equal(ack1(f, P2PQ_PNS_APP, 1, 1, 0, 2150 * MS), 0);
  assert_int_equal(f->rec.pto_count, 0);
  /* pn 0, sent 2 s earlier, falls to the time threshold: nothing left */
  assert_int_equal(f->lost, 1);
  assert_true(p2pq_recovery_next_timeout(&f->rec, &f->env) == P2PQ_TSTAMP_MAX);
  fx_free(f);
}

static void test_pto_spaces_and_handshake_rules(void **state) {
  fx *f = fx_new("newreno");
  p2pq_recovery_action act;
  (void)state;
  f->env.handshake_confirmed = 0;
  /* no application-data PTO before the handshake is confirmed */
  sendp(f, P2PQ_PNS_APP, 0, 0, 1200, AE);
  assert_true(p2pq_recovery_next_timeout(&f->rec, &f->env) == P2PQ_TSTAMP_MAX);
  /* Initial and Handshake each arm their own: the earliest wins */
  sendp(f, P2PQ_PNS_HANDSHAKE, 0, 5 * MS, 1200, AE);
  sendp(f, P2PQ_PNS_INITIAL, 0, 10 * MS, 1200, AE);
  assert_true(p2pq_recovery_next_timeout(&f->rec, &f->env) == 1004 * MS);
  p2pq_recovery_on_timeout(&f->rec, &f->env, 1004 * MS, &act);
  assert_int_equal(act.kind, P2PQ_RECOVERY_PROBE);
  assert_int_equal(act.space, P2PQ_PNS_HANDSHAKE);
  /* no max_ack_delay for handshake spaces: Initial at 10 + 1998 */
  assert_true(p2pq_recovery_next_timeout(&f->rec, &f->env) == 2003 * MS);
  /* server at its amplification limit: no timer at all */
  f->env.amplification_blocked = 1;
  assert_true(p2pq_recovery_next_timeout(&f->rec, &f->env) == P2PQ_TSTAMP_MAX);
  p2pq_recovery_on_timeout(&f->rec, &f->env, 10000 * MS, &act);
  assert_int_equal(act.kind, P2PQ_RECOVERY_NONE);
  f->env.amplification_blocked = 0;
  /* discarding Initial removes its bytes and resets the backoff */
  assert_true(f->rec.bytes_in_flight == 3600);
  p2pq_recovery_discard_space(&f->rec, &f->env, P2PQ_PNS_INITIAL, 1500 * MS);
  assert_int_equal(f->discarded, 1);
  assert_int_equal(f->lost, 0);
  assert_true(f->rec.bytes_in_flight == 2400);
  assert_int_equal(f->rec.pto_count, 0);
  assert_int_equal(p2pq_sentq_count(&f->q[P2PQ_PNS_INITIAL]), 0);
  assert_true(p2pq_recovery_next_timeout(&f->rec, &f->env) == 1004 * MS);
  /* once confirmed, application data arms with max_ack_delay */
  p2pq_recovery_discard_space(&f->rec, &f->env, P2PQ_PNS_HANDSHAKE, 1500 * MS);
  f->env.handshake_confirmed = 1;
  assert_true(p2pq_recovery_next_timeout(&f->rec, &f->env) == 1024 * MS);
  fx_free(f);
}

static void test_client_anti_deadlock_pto(void **state) {
  fx *f = fx_new("newreno");
  p2pq_recovery_action act;
  (void)state;
  /* client: Initial acked, nothing in flight, server not yet validated us */
  f->env.handshake_confirmed = 0;
  f->env.peer_validated = 0;
  f->env.has_handshake_keys = 0;
  sendp(f, P2PQ_PNS_INITIAL, 0, 0, 1200, AE);
  assert_int_equal(ack1(f, P2PQ_PNS_INITIAL, 0, 0, 0, 100 * MS), 0);
  /* no backoff reset before the peer validated the address: still armed */
  assert_true(p2pq_recovery_next_timeout(&f->rec, &f->env) == 100 * MS + 300 * MS);
  p2pq_recovery_on_timeout(&f->rec, &f->env, 400 * MS, &act);
  assert_int_equal(act.kind, P2PQ_RECOVERY_PROBE);
  assert_int_equal(act.space, P2PQ_PNS_INITIAL);
  assert_int_equal(act.probes, 1);
  f->env.has_handshake_keys = 1;
  assert_true(p2pq_recovery_next_timeout(&f->rec, &f->env) == 400 * MS + 600 * MS);
  p2pq_recovery_on_timeout(&f->rec, &f->env, 1000 * MS, &act);
  assert_int_equal(act.space, P2PQ_PNS_HANDSHAKE);
  /* validated: nothing in flight means no timer */
  f->env.peer_validated = 1;
  assert_true(p2pq_recovery_next_timeout(&f->rec, &f->env) == P2PQ_TSTAMP_MAX);
  fx_free(f);
}

/* ---- persistent congestion ---- */

static fx *pc_setup(void) {
  fx *f = fx_new("newreno");
  /* first RTT sample: 100 ms (pc duration (100 + 200 + 25) * 3 = 975 ms) */
  sendp(f, P2PQ_PNS_APP, 0, 0, 1200, AE);
  assert_int_equal(ack1(f, P2PQ_PNS_APP, 0, 0, 0, 100 * MS), 0);
  f->rec.cc.cwnd = 60000;
  return f;
}

static void test_persistent_congestion(void **state) {
  fx *f = pc_setup();
  (void)state;
  for (uint64_t i = 1; i <= 10; i++)
    sendp(f, P2PQ_PNS_APP, i, i * 200 * MS, 1200, AE);
  sendp(f, P2PQ_PNS_APP, 11, 2050 * MS, 1200, AE);
  assert_int_equal(ack1(f, P2PQ_PNS_APP, 11, 11, 0, 2200 * MS), 0);
  assert_int_equal(f->lost, 10); /* 200 .. 2000 ms: 1.8 s > 975 ms */
  assert_int_equal(f->rec.cc.persistent_congestions, 1);
  assert_int_equal(f->rec.cc.cwnd, 2400);
  /* min_rtt restarts from the newest sample (150 ms) */
  assert_true(f->rec.rtt.min_rtt == 150 * MS);
  assert_true(f->rec.bytes_in_flight == 0);
  fx_free(f);
}

static void test_no_persistent_congestion_short_or_broken(void **state) {
  fx *f = pc_setup();
  p2pq_recovery_range r[2] = {{11, 11}, {5, 5}};
  (void)state;
  /* spread of 720 ms only (the duration is about 825 ms by then) */
  for (uint64_t i = 1; i <= 10; i++)
    sendp(f, P2PQ_PNS_APP, i, 1000 * MS + i * 80 * MS, 1200, AE);
  sendp(f, P2PQ_PNS_APP, 11, 2100 * MS, 1200, AE);
  assert_int_equal(ack1(f, P2PQ_PNS_APP, 11, 11, 0, 2200 * MS), 0);
  assert_int_equal(f->lost, 10);
  assert_int_equal(f->rec.cc.persistent_congestions, 0);
  assert_int_equal(f->rec.cc.cwnd, 30000);
  fx_free(f);
  /* 1.8 s of losses, but packet 5 in between was acknowledged */
  f = pc_setup();
  for (uint64_t i = 1; i <= 10; i++)
    sendp(f, P2PQ_PNS_APP, i, i * 200 * MS, 1200, AE);
  sendp(f, P2PQ_PNS_APP, 11, 2100 * MS, 1200, AE);
  assert_int_equal(p2pq_recovery_on_ack_received(&f->rec, &f->env, P2PQ_PNS_APP, r, 2, 0, NULL,
                                                 2200 * MS),
                   0);
  assert_int_equal(f->lost, 9);
  assert_int_equal(f->rec.cc.persistent_congestions, 0);
  assert_int_equal(f->rec.cc.cwnd, 30000);
  fx_free(f);
  /* losses all before the first RTT sample do not count */
  f = fx_new("newreno");
  for (uint64_t i = 0; i < 10; i++)
    sendp(f, P2PQ_PNS_APP, i, i * 300 * MS, 1200, AE);
  assert_int_equal(ack1(f, P2PQ_PNS_APP, 9, 9, 0, 2800 * MS), 0);
  assert_int_equal(f->lost, 9);
  assert_int_equal(f->rec.cc.persistent_congestions, 0);
  fx_free(f);
}

/* ---- window growth ---- */

static void test_app_limited_no_growth(void **state) {
  fx *f = fx_new("newreno");
  (void)state;
  /* one small request at a time: the window is never the limit */
  for (uint64_t i = 0; i < 20; i++) {
    sendp(f, P2PQ_PNS_APP, i, i * 200 * MS, 1200, AE);
    assert_int_equal(ack1(f, P2PQ_PNS_APP, i, i, 0, i * 200 * MS + 50 * MS), 0);
  }
  assert_int_equal(f->rec.cc.cwnd, 12000);
  /* filling the window: slow start doubles it */
  for (uint64_t i = 20; i < 30; i++) {
    assert_true(p2pq_recovery_can_send(&f->rec, 1200));
    sendp(f, P2PQ_PNS_APP, i, 5000 * MS, 1200, AE);
  }
  assert_false(p2pq_recovery_can_send(&f->rec, 1200));
  assert_int_equal(ack1(f, P2PQ_PNS_APP, 20, 29, 0, 5050 * MS), 0);
  assert_int_equal(f->rec.cc.cwnd, 24000);
  fx_free(f);
}

/* ---- several paths share one space ---- */

typedef struct fx2 {
  fx *f;
  p2pq_recovery other;
} fx2;
static fx2 *g_fx2;
static p2pq_recovery *lookup(void *user, uint16_t id) {
  (void)user;
  return id == 1 ? &g_fx2->other : NULL;
}

static void test_multipath_attribution(void **state) {
  fx2 x;
  p2pq_recovery_config cfg = {.cc = "cubic", .path_id = 1};
  p2pq_sentpkt p = {.pn = 1, .time_sent = 2 * MS, .size = 500, .flags = AE,
                    .space = P2PQ_PNS_APP};
  (void)state;
  x.f = fx_new("newreno");
  g_fx2 = &x;
  assert_int_equal(p2pq_recovery_init(&x.other, &cfg), 0);
  x.f->env.path_recovery = lookup;
  sendp(x.f, P2PQ_PNS_APP, 0, 1 * MS, 1200, AE);
  assert_int_equal(p2pq_recovery_on_packet_sent(&x.other, &x.f->env, &p), 0);
  assert_true(x.f->rec.bytes_in_flight == 1200);
  assert_true(x.other.bytes_in_flight == 500);
  /* an ACK processed on path 0 settles path 1's bytes in path 1 */
  assert_int_equal(ack1(x.f, P2PQ_PNS_APP, 0, 1, 0, 30 * MS), 0);
  assert_true(x.f->rec.bytes_in_flight == 0);
  assert_true(x.other.bytes_in_flight == 0);
  /* the largest acked went out on path 1: path 1 takes the RTT sample */
  assert_true(x.other.rtt.has_sample);
  assert_true(x.other.rtt.latest == 28 * MS);
  assert_false(x.f->rec.rtt.has_sample);
  /* a loss on path 1 cuts path 1's window, not path 0's */
  p.pn = 2;
  p.time_sent = 40 * MS;
  assert_int_equal(p2pq_recovery_on_packet_sent(&x.other, &x.f->env, &p), 0);
  for (uint64_t i = 3; i < 7; i++)
    sendp(x.f, P2PQ_PNS_APP, i, 41 * MS, 1200, AE);
  assert_int_equal(ack1(x.f, P2PQ_PNS_APP, 3, 6, 0, 80 * MS), 0);
  assert_int_equal(x.f->state[2], 2);
  assert_int_equal(x.other.cc.congestion_events, 1);
  assert_int_equal(x.f->rec.cc.congestion_events, 0);
  assert_true(x.other.bytes_in_flight == 0);
  p2pq_recovery_clear(&x.other);
  fx_free(x.f);
}

/* ---- stress ---- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return rng_state;
}

typedef struct stress {
  fx2 x;
  uint8_t *st;     /* 0 out, 1 acked, 2 lost */
  uint32_t *size;
  uint8_t *inflight;
  uint64_t out_bytes[2];
} stress;
static stress *g_st;

static void s_settle(const p2pq_sentpkt *p, uint8_t to) {
  assert_int_equal(g_st->st[p->pn], 0);
  assert_int_equal(g_st->size[p->pn], p->size);
  g_st->st[p->pn] = to;
  if (g_st->inflight[p->pn] & 1)
    g_st->out_bytes[g_st->inflight[p->pn] >> 1] -= p->size;
}
static void s_acked(void *u, const p2pq_sentpkt *p) { (void)u; s_settle(p, 1); }
static void s_lost(void *u, const p2pq_sentpkt *p) { (void)u; s_settle(p, 2); }

#define NPKT 100000

static void test_stress_bookkeeping(void **state) {
  stress s;
  p2pq_recovery_config cfg = {.cc = "cubic", .path_id = 1};
  p2pq_recovery_range ranges[16];
  p2pq_tstamp now = 0;
  uint64_t pn = 0, total = 0, acked_pkts = 0;
  fx *f;
  (void)state;
  memset(&s, 0, sizeof(s));
  g_st = &s;
  g_fx2 = &s.x;
  s.st = calloc(NPKT, 1);
  s.size = calloc(NPKT, sizeof(uint32_t));
  s.inflight = calloc(NPKT, 1);
  assert_non_null(s.st);
  f = s.x.f = fx_new("cubic");
  assert_int_equal(p2pq_recovery_init(&s.x.other, &cfg), 0);
  f->env.path_recovery = lookup;
  f->env.on_acked = s_acked;
  f->env.on_lost = s_lost;
  while (pn < NPKT) {
    /* send a burst */
    size_t burst = 1 + rnd() % 40;
    for (size_t i = 0; i < burst && pn < NPKT; i++) {
      int path = rnd() % 8 == 0;
      uint8_t flags = rnd() % 10 == 0 ? 0 : AE;
      p2pq_sentpkt p = {.pn = pn, .time_sent = now, .size = 40 + (uint32_t)(rnd() % 1400),
                        .flags = flags, .space = P2PQ_PNS_APP};
      s.size[pn] = p.size;
      s.inflight[pn] = (uint8_t)((flags ? 1 : 0) | (path << 1));
      if (flags)
        s.out_bytes[path] += p.size;
      assert_int_equal(
          p2pq_recovery_on_packet_sent(path ? &s.x.other : &f->rec, &f->env, &p), 0);
      total += flags ? p.size : 0;
      pn += 1 + (rnd() % 16 == 0); /* occasional skipped packet numbers */
      now += 10 * P2PQ_US;
    }
    now += rnd() % (5 * MS);
    /* a random ACK frame: ranges descending from somewhere near the top */
    {
      size_t n = 1 + rnd() % 16, k = 0;
      uint64_t hi = pn - 1 - (rnd() % 4 == 0 ? rnd() % 20 : 0);
      if (hi >= pn)
        hi = pn - 1;
      for (; k < n; k++) {
        uint64_t len = rnd() % 30, gap = 1 + rnd() % 10;
        uint64_t lo = hi > len ? hi - len : 0;
        ranges[k].largest = hi;
        ranges[k].smallest = lo;
        if (lo < gap + 1)
          break;
        hi = lo - gap - 1;
      }
      if (k == n)
        k--;
      if (ranges[0].largest > f->q[P2PQ_PNS_APP].largest_sent)
        ranges[0].largest = f->q[P2PQ_PNS_APP].largest_sent;
      if (ranges[0].smallest > ranges[0].largest)
        ranges[0].smallest = ranges[0].largest;
      assert_int_equal(p2pq_recovery_on_ack_received(&f->rec, &f->env, P2PQ_PNS_APP, ranges,
                                                     k + 1, rnd() % (30 * MS), NULL, now),
                       0);
    }
    if (rnd() % 50 == 0) {
      p2pq_recovery_action act;
      now = p2pq_recovery_next_timeout(&f->rec, &f->env);
      if (now == P2PQ_TSTAMP_MAX)
        now = 0;
      p2pq_recovery_on_timeout(&f->rec, &f->env, now, &act);
    }
    /* bookkeeping: both paths and the space agree with our own sums */
    assert_true(f->rec.bytes_in_flight == s.out_bytes[0]);
    assert_true(s.x.other.bytes_in_flight == s.out_bytes[1]);
    assert_true(f->q[P2PQ_PNS_APP].bytes_in_flight == s.out_bytes[0] + s.out_bytes[1]);
    assert_true(f->q[P2PQ_PNS_APP].len <= f->q[P2PQ_PNS_APP].live + 64);
  }
  /* finally everything is acknowledged */
  ranges[0].smallest = 0;
  ranges[0].largest = f->q[P2PQ_PNS_APP].largest_sent;
  now += 100 * MS;
  assert_int_equal(
      p2pq_recovery_on_ack_received(&f->rec, &f->env, P2PQ_PNS_APP, ranges, 1, 0, NULL, now), 0);
  assert_true(f->rec.bytes_in_flight == 0);
  assert_true(s.x.other.bytes_in_flight == 0);
  assert_true(f->q[P2PQ_PNS_APP].bytes_in_flight == 0);
  assert_int_equal(p2pq_sentq_count(&f->q[P2PQ_PNS_APP]), 0);
  assert_int_equal(f->q[P2PQ_PNS_APP].ack_eliciting_in_flight, 0);
  assert_true(p2pq_recovery_next_timeout(&f->rec, &f->env) == P2PQ_TSTAMP_MAX);
  for (uint64_t i = 0; i < pn; i++)
    if (s.size[i]) {
      assert_true(s.st[i] == 1 || s.st[i] == 2);
      acked_pkts += s.st[i] == 1;
    }
  assert_true(acked_pkts > NPKT / 2);
  assert_true(f->rec.bytes_lost + s.x.other.bytes_lost <= total);
  free(s.st);
  free(s.size);
  free(s.inflight);
  p2pq_recovery_clear(&s.x.other);
  fx_free(f);
}

/* ---- a bulk transfer over a modelled bottleneck ---- */

#define SIM_MAXPKT 20000
#define SIM_QCAP 4096

typedef struct sim {
  fx *f;
  uint64_t rate_bps;      /* bottleneck, bits per second */
  p2pq_tstamp owd;        /* one-way propagation delay */
  size_t qlimit;          /* bottleneck queue, packets (drop tail) */
  unsigned loss_ppm;      /* random loss on top */
  p2pq_tstamp link_free;  /* when the bottleneck finishes its queue */
  struct { uint64_t pn; p2pq_tstamp at; } arr[SIM_QCAP], acks[SIM_QCAP];
  size_t ah, at, kh, kt;
  uint8_t rx[SIM_MAXPKT];
  uint64_t rx_largest;
  uint64_t to_send;       /* data bytes not yet (re)sent */
  uint64_t delivered;     /* data bytes acknowledged */
  uint64_t drops;
} sim;
static sim *g_sim;

static void sim_acked(void *u, const p2pq_sentpkt *p) { (void)u; g_sim->delivered += p->size; }
static void sim_lost(void *u, const p2pq_sentpkt *p) { (void)u; g_sim->to_send += p->size; }

static void sim_send(sim *s, uint64_t *pn, p2pq_tstamp now) {
  uint32_t size = s->to_send >= 1200 ? 1200 : (uint32_t)(s->to_send ? s->to_send : 40);
  p2pq_tstamp ser = (p2pq_tstamp)size * 8 * P2PQ_S / s->rate_bps;
  size_t queued = s->at - s->ah;
  sendp(s->f, P2PQ_PNS_APP, *pn, now, size, AE);
  s->to_send -= s->to_send >= size ? size : s->to_send;
  if (queued >= s->qlimit || rnd() % 1000000 < s->loss_ppm) {
    s->drops++;
  } else {
    s->link_free = (s->link_free > now ? s->link_free : now) + ser;
    s->arr[s->at % SIM_QCAP].pn = *pn;
    s->arr[s->at % SIM_QCAP].at = s->link_free + s->owd;
    s->at++;
  }
  (*pn)++;
}

/* The receiver's ACK frame: up to 32 ranges below its largest packet. */
static size_t sim_ranges(const sim *s, uint64_t hi, p2pq_recovery_range *r) {
  size_t n = 0;
  uint64_t lo_limit = hi > 3000 ? hi - 3000 : 0, i = hi;
  while (n < 32) {
    r[n].largest = i;
    while (i > lo_limit && s->rx[i - 1])
      i--;
    r[n++].smallest = i;
    while (i > lo_limit && !s->rx[i - 1])
      i--;
    if (i <= lo_limit || i == 0)
      break;
    i--;
  }
  return n;
}

/* Moves `total` bytes; returns the time it took. */
static p2pq_tstamp sim_run(sim *s, uint64_t total) {
  p2pq_tstamp now = P2PQ_S, start = now;
  uint64_t pn = 0;
  g_sim = s;
  s->f->env.on_acked = sim_acked;
  s->f->env.on_lost = sim_lost;
  s->to_send = total;
  while (s->delivered < total) {
    p2pq_tstamp ta = s->ah != s->at ? s->arr[s->ah % SIM_QCAP].at : P2PQ_TSTAMP_MAX;
    p2pq_tstamp tk = s->kh != s->kt ? s->acks[s->kh % SIM_QCAP].at : P2PQ_TSTAMP_MAX;
    p2pq_tstamp tt = p2pq_recovery_next_timeout(&s->f->rec, &s->f->env);
    p2pq_tstamp ts = P2PQ_TSTAMP_MAX;
    assert_true(pn < SIM_MAXPKT - 40);
    if (s->to_send && p2pq_recovery_can_send(&s->f->rec, 1200))
      ts = p2pq_recovery_pacing_time(&s->f->rec, 1200, now);
    if (ts <= ta && ts <= tk && ts <= tt) {
      now = ts > now ? ts : now;
      sim_send(s, &pn, now);
    } else if (ta <= tk && ta <= tt) {
      uint64_t r = s->arr[s->ah++ % SIM_QCAP].pn;
      now = ta;
      s->rx[r] = 1;
      if (r > s->rx_largest)
        s->rx_largest = r;
      s->acks[s->kt % SIM_QCAP].pn = s->rx_largest;
      s->acks[s->kt % SIM_QCAP].at = now + s->owd;
      s->kt++;
    } else if (tk <= tt) {
      p2pq_recovery_range r[32];
      size_t n = sim_ranges(s, s->acks[s->kh++ % SIM_QCAP].pn, r);
      now = tk;
      assert_int_equal(p2pq_recovery_on_ack_received(&s->f->rec, &s->f->env, P2PQ_PNS_APP, r,
                                                     n, 0, NULL, now),
                       0);
    } else {
      p2pq_recovery_action act;
      assert_true(tt != P2PQ_TSTAMP_MAX); /* never stuck */
      now = tt > now ? tt : now;
      p2pq_recovery_on_timeout(&s->f->rec, &s->f->env, now, &act);
      for (int i = 0; act.kind == P2PQ_RECOVERY_PROBE && i < act.probes; i++)
        sim_send(s, &pn, now); /* probes ignore the window */
    }
    assert_true(now - start < 60 * P2PQ_S);
  }
  return now - start;
}

static void test_bulk_transfer(void **state) {
  const char *ccs[] = {"newreno", "cubic"};
  (void)state;
  for (int i = 0; i < 2; i++) {
    sim *s = calloc(1, sizeof(*s));
    p2pq_tstamp took;
    double mbps;
    assert_non_null(s);
    /* 20 Mbit/s, 20 ms RTT, a queue of about one BDP: losses come from the
     * queue overflowing, and the link must stay busy through them */
    s->f = fx_new(ccs[i]);
    s->rate_bps = 20000000;
    s->owd = 10 * MS;
    s->qlimit = 40;
    took = sim_run(s, 10000000);
    mbps = 10000000.0 * 8 / ((double)took / 1e9) / 1e6;
    print_message("%s: %.1f Mbit/s, %llu drops, %llu lost, %llu PTOs, cwnd %llu\n", ccs[i],
                  mbps, (unsigned long long)s->drops, (unsigned long long)s->f->rec.pkts_lost,
                  (unsigned long long)s->f->rec.ptos, (unsigned long long)s->f->rec.cc.cwnd);
    assert_true(mbps > 15.0);
    assert_true(s->drops > 0);
    assert_true(s->f->rec.cc.congestion_events > 0);
    assert_true(s->f->rec.pkts_lost >= s->drops / 2);
    assert_true(s->f->rec.ptos < 5);
    fx_free(s->f);
    free(s);
  }
}

static void test_hystart_avoids_overshoot(void **state) {
  sim *s = calloc(1, sizeof(*s));
  p2pq_tstamp took;
  (void)state;
  assert_non_null(s);
  /* a deep buffer (~25 BDP): plain slow start would fill it; HyStart++ sees
   * the queueing delay grow and leaves slow start first */
  s->f = fx_new("cubic");
  s->rate_bps = 20000000;
  s->owd = 10 * MS;
  s->qlimit = 1000;
  took = sim_run(s, 5000000);
  print_message("cubic deep buffer: %.2f s, drops %llu, cwnd %llu, ssthresh %llu\n",
                (double)took / 1e9, (unsigned long long)s->drops,
                (unsigned long long)s->f->rec.cc.cwnd, (unsigned long long)s->f->rec.cc.ssthresh);
  assert_int_equal(s->drops, 0);
  assert_int_equal(s->f->rec.cc.congestion_events, 0);
  assert_true(s->f->rec.cc.ssthresh != UINT64_MAX);
  fx_free(s->f);
  free(s);
}

static void test_lossy_transfer_completes(void **state) {
  const char *ccs[] = {"newreno", "cubic"};
  (void)state;
  for (int i = 0; i < 2; i++) {
    sim *s = calloc(1, sizeof(*s));
    p2pq_tstamp took;
    assert_non_null(s);
    /* 5% random loss, including tails: PTOs and the time threshold recover */
    s->f = fx_new(ccs[i]);
    s->rate_bps = 50000000;
    s->owd = 25 * MS;
    s->qlimit = 200;
    s->loss_ppm = 50000;
    took = sim_run(s, 2000000);
    print_message("%s: %.2f s, %llu drops, %llu lost, %llu PTOs\n", ccs[i], (double)took / 1e9,
                  (unsigned long long)s->drops, (unsigned long long)s->f->rec.pkts_lost,
                  (unsigned long long)s->f->rec.ptos);
    assert_true(s->drops > 50);
    /* every dropped packet was eventually declared lost */
    assert_true(s->f->rec.pkts_lost >= s->drops);
    fx_free(s->f);
    free(s);
  }
}

/* ---- random operations on all three spaces, invariants after each ---- */

#define MC_PN 3000
typedef struct mc {
  uint8_t st[P2PQ_PNS_COUNT][MC_PN]; /* 0 unsent, 1 out, 2 acked, 3 lost, 4 discarded */
  uint32_t size[P2PQ_PNS_COUNT][MC_PN];
  uint8_t inflight[P2PQ_PNS_COUNT][MC_PN];
  uint64_t next[P2PQ_PNS_COUNT];
  uint64_t out_bytes;
} mc;
static mc *g_mc;

static void mc_settle(const p2pq_sentpkt *p, uint8_t to) {
  assert_int_equal(g_mc->st[p->space][p->pn], 1);
  g_mc->st[p->space][p->pn] = to;
  if (g_mc->inflight[p->space][p->pn])
    g_mc->out_bytes -= p->size;
}
static void mc_acked(void *u, const p2pq_sentpkt *p) { (void)u; mc_settle(p, 2); }
static void mc_lost(void *u, const p2pq_sentpkt *p) { (void)u; mc_settle(p, 3); }
static void mc_disc(void *u, const p2pq_sentpkt *p) { (void)u; mc_settle(p, 4); }

static void test_random_ops_all_spaces(void **state) {
  mc *m = calloc(1, sizeof(*m));
  fx *f = fx_new("cubic");
  p2pq_tstamp now = 0;
  (void)state;
  assert_non_null(m);
  g_mc = m;
  f->env.on_acked = mc_acked;
  f->env.on_lost = mc_lost;
  f->env.on_discarded = mc_disc;
  f->env.handshake_confirmed = 0;
  f->env.peer_validated = 0;
  for (int step = 0; step < 20000; step++) {
    uint64_t op = rnd() % 100;
    uint8_t sp = (uint8_t)(rnd() % 3);
    now += rnd() % (3 * MS);
    if (!f->env.spaces[sp])
      sp = P2PQ_PNS_APP;
    if (op < 50 && m->next[sp] < MC_PN) { /* send */
      uint64_t pn = m->next[sp]++;
      uint8_t flags = rnd() % 5 ? AE : (rnd() % 2 ? P2PQ_SENT_IN_FLIGHT : 0);
      uint32_t size = 20 + (uint32_t)(rnd() % 1300);
      m->st[sp][pn] = 1;
      m->size[sp][pn] = size;
      m->inflight[sp][pn] = (flags & P2PQ_SENT_IN_FLIGHT) != 0;
      if (m->inflight[sp][pn])
        m->out_bytes += size;
      sendp(f, sp, pn, now, size, flags);
      if (rnd() % 4 == 0)
        m->next[sp] += rnd() % 3; /* skipped numbers */
    } else if (op < 85 && m->next[sp] > 0) { /* an ACK with up to 4 ranges */
      p2pq_recovery_range r[4];
      p2pq_recovery_ecn e = {0, 0, rnd() % 50};
      size_t n = 0;
      uint64_t hi = rnd() % m->next[sp];
      while (n < 4) {
        uint64_t lo = hi - (hi ? rnd() % (hi + 1) % 8 : 0);
        r[n].largest = hi;
        r[n++].smallest = lo;
        if (lo < 2)
          break;
        hi = lo - 2 - (lo > 2 ? rnd() % (lo - 2) % 5 : 0);
      }
      if (r[0].largest > f->q[sp].largest_sent || !f->q[sp].any_sent)
        continue;
      assert_int_equal(p2pq_recovery_on_ack_received(&f->rec, &f->env, sp, r, n, rnd() % MS,
                                                     rnd() % 3 ? NULL : &e, now),
                       0);
    } else if (op < 97) { /* timer */
      p2pq_recovery_action act;
      p2pq_tstamp t = p2pq_recovery_next_timeout(&f->rec, &f->env);
      if (t != P2PQ_TSTAMP_MAX && t > now && t - now < 5 * P2PQ_S)
        now = t; /* (a backoff beyond that is the idle timeout's business) */
      p2pq_recovery_on_timeout(&f->rec, &f->env, now, &act);
      if (act.kind == P2PQ_RECOVERY_PROBE)
        assert_true(act.probes >= 1 && act.probes <= 2 && act.space < P2PQ_PNS_COUNT);
    } else if (op == 97 && f->env.spaces[P2PQ_PNS_INITIAL]) {
      p2pq_recovery_discard_space(&f->rec, &f->env, P2PQ_PNS_INITIAL, now);
      f->env.spaces[P2PQ_PNS_INITIAL] = NULL;
      f->env.peer_validated = 1;
    } else if (op == 98 && !f->env.spaces[P2PQ_PNS_INITIAL] && f->env.spaces[P2PQ_PNS_HANDSHAKE]) {
      p2pq_recovery_discard_space(&f->rec, &f->env, P2PQ_PNS_HANDSHAKE, now);
      f->env.spaces[P2PQ_PNS_HANDSHAKE] = NULL;
      f->env.handshake_confirmed = 1;
    }
    /* invariants */
    {
      uint64_t sum = 0;
      for (int i = 0; i < P2PQ_PNS_COUNT; i++)
        sum += f->q[i].bytes_in_flight;
      assert_true(f->rec.bytes_in_flight == m->out_bytes);
      assert_true(sum == m->out_bytes);
      assert_true(f->rec.cc.cwnd >= 2400);
      /* an unvalidated client always has a timer, unless only application
       * data is out before confirmation (RFC 9002 A.8 arms none for it) */
      int hs_out = 0, any_out = 0;
      for (int i = 0; i < P2PQ_PNS_COUNT; i++)
        if (f->env.spaces[i] && f->q[i].ack_eliciting_in_flight) {
          any_out = 1;
          hs_out |= i != P2PQ_PNS_APP;
        }
      if (!f->env.peer_validated && (hs_out || !any_out))
        assert_true(p2pq_recovery_next_timeout(&f->rec, &f->env) != P2PQ_TSTAMP_MAX);
    }
  }
  /* the run went through every kind of exit */
  assert_true(f->rec.pkts_acked > 500 && f->rec.pkts_lost > 500 && f->rec.ptos > 0);
  assert_true(f->rec.cc.congestion_events > 0);
  assert_null(f->env.spaces[P2PQ_PNS_INITIAL]);
  assert_null(f->env.spaces[P2PQ_PNS_HANDSHAKE]);
  for (int i = 0; i < P2PQ_PNS_COUNT; i++)
    p2pq_recovery_discard_space(&f->rec, &f->env, (uint8_t)i, now);
  for (int i = 0; i < P2PQ_PNS_COUNT; i++)
    for (uint64_t pn = 0; pn < MC_PN; pn++)
      assert_true(m->st[i][pn] != 1);
  assert_true(f->rec.bytes_in_flight == 0);
  fx_free(f);
  free(m);
}

static void test_config(void **state) {
  p2pq_recovery rec;
  p2pq_recovery_config bad = {.cc = "vegas"};
  (void)state;
  assert_int_equal(p2pq_recovery_init(&rec, &bad), P2PQ_ERR_CONFIG);
  assert_int_equal(p2pq_recovery_init(&rec, NULL), 0);
  assert_int_equal(rec.cc.mds, 1200);
  assert_string_equal(rec.cc.ops->name, "cubic");
  assert_true(rec.rtt.smoothed == 333 * MS);
  p2pq_recovery_set_mds(&rec, 1400);
  assert_int_equal(rec.cc.mds, 1400);
  assert_int_equal(rec.pacer.mds, 1400);
  rec.cc.cwnd = 99999;
  rec.pto_count = 4;
  p2pq_recovery_reset(&rec);
  assert_int_equal(rec.cc.cwnd, 14000);
  assert_int_equal(rec.pto_count, 0);
  /* the pacer lets a burst of 10 out at once, cwnd allowing */
  assert_int_equal(p2pq_recovery_send_quota(&rec, 0), 10);
  assert_true(p2pq_recovery_pacing_time(&rec, 1400, 0) == 0);
  p2pq_recovery_clear(&rec);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rtt_first_sample),
      cmocka_unit_test(test_rtt_ack_delay),
      cmocka_unit_test(test_rtt_min_unadjusted),
      cmocka_unit_test(test_rtt_sample_from_ack),
      cmocka_unit_test(test_sentq_basics),
      cmocka_unit_test(test_ack_validation),
      cmocka_unit_test(test_packet_and_time_threshold),
      cmocka_unit_test(test_spurious_loss_not_double_counted),
      cmocka_unit_test(test_pmtu_probe_loss_no_congestion),
      cmocka_unit_test(test_ecn_ce),
      cmocka_unit_test(test_ecn_validation),
      cmocka_unit_test(test_pto_backoff_and_reset),
      cmocka_unit_test(test_pto_spaces_and_handshake_rules),
      cmocka_unit_test(test_client_anti_deadlock_pto),
      cmocka_unit_test(test_persistent_congestion),
      cmocka_unit_test(test_no_persistent_congestion_short_or_broken),
      cmocka_unit_test(test_app_limited_no_growth),
      cmocka_unit_test(test_multipath_attribution),
      cmocka_unit_test(test_stress_bookkeeping),
      cmocka_unit_test(test_bulk_transfer),
      cmocka_unit_test(test_hystart_avoids_overshoot),
      cmocka_unit_test(test_lossy_transfer_completes),
      cmocka_unit_test(test_random_ops_all_spaces),
      cmocka_unit_test(test_config),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
