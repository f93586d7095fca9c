/* CUBIC congestion control (RFC 9438) with HyStart++ (RFC 9406) for the
 * first slow start, on top of the generic wrappers in cc_newreno.c. Windows
 * are kept in bytes; the cubic function is evaluated in segments of mds as
 * the RFC defines it. HyStart++ uses L = infinity: we pace. */
#include <math.h>

#include "quic/cc.h"

#define CUBIC_C 0.4
#define CUBIC_BETA 0.7
/* alpha_cubic = 3 (1 - beta) / (1 + beta): Reno-friendly additive increase */
#define CUBIC_ALPHA (3.0 * (1.0 - CUBIC_BETA) / (1.0 + CUBIC_BETA))

/* RFC 9406 constants */
#define HS_MIN_RTT_THRESH (4 * P2PQ_MS)
#define HS_MAX_RTT_THRESH (16 * P2PQ_MS)
#define HS_MIN_RTT_DIVISOR 8
#define HS_N_RTT_SAMPLE 8
#define HS_CSS_GROWTH_DIVISOR 4
#define HS_CSS_ROUNDS 5

static p2pq_cc_cubic *st(p2pq_cc *cc) { return &cc->u.cubic; }

int p2pq_cc_cubic_in_css(const p2pq_cc *cc) {
  return cc->ops == &p2pq_cc_cubic_ops && cc->u.cubic.hs.css_baseline != P2PQ_TSTAMP_MAX;
}

/* ---- HyStart++ ---- */

static void hs_reset(p2pq_hystart *h) {
  h->window_end = 0;
  h->last_round_min = P2PQ_TSTAMP_MAX;
  h->cur_round_min = P2PQ_TSTAMP_MAX;
  h->css_baseline = P2PQ_TSTAMP_MAX;
  h->samples = 0;
  h->css_rounds = 0;
  h->round_open = 0;
  h->done = 0;
}

static void hs_on_sent(p2pq_hystart *h, uint64_t pn) {
  if (h->done || h->round_open)
    return;
  /* a new round: it ends when this packet (SND.NXT) is acknowledged */
  h->round_open = 1;
  h->window_end = pn;
  h->last_round_min = h->cur_round_min;
  h->cur_round_min = P2PQ_TSTAMP_MAX;
  h->samples = 0;
}

static void hs_exit(p2pq_cc *cc) {
  cc->ssthresh = cc->cwnd;
  st(cc)->hs.css_baseline = P2PQ_TSTAMP_MAX;
  st(cc)->hs.done = 1;
}

/* Per ACK in slow start; returns the divisor for this ACK's window increase,
 * which follows the phase the ACK arrived in (RFC 9406 4.2). */
static uint64_t hs_on_ack(p2pq_cc *cc, const p2pq_cc_ack *a, const p2pq_rtt *rtt) {
  p2pq_hystart *h = &st(cc)->hs;
  int in_css = h->css_baseline != P2PQ_TSTAMP_MAX;
  uint64_t div = in_css ? HS_CSS_GROWTH_DIVISOR : 1;
  if (h->done || !a->app)
    return 1;
  if (a->rtt_sample) {
    if (rtt->latest < h->cur_round_min)
      h->cur_round_min = rtt->latest;
    h->samples++;
  }
  if (h->samples >= HS_N_RTT_SAMPLE && h->cur_round_min != P2PQ_TSTAMP_MAX) {
    if (!in_css && h->last_round_min != P2PQ_TSTAMP_MAX) {
      p2pq_tstamp thresh = h->last_round_min / HS_MIN_RTT_DIVISOR;
      if (thresh < HS_MIN_RTT_THRESH)
        thresh = HS_MIN_RTT_THRESH;
      if (thresh > HS_MAX_RTT_THRESH)
        thresh = HS_MAX_RTT_THRESH;
      if (h->cur_round_min >= h->last_round_min + thresh) {
        h->css_baseline = h->cur_round_min;
        h->css_rounds = 0;
        in_css = 1;
      }
    } else if (in_css && h->cur_round_min < h->css_baseline) {
      /* the delay rise was a false alarm (jitter): back to slow start */
      h->css_baseline = P2PQ_TSTAMP_MAX;
      in_css = 0;
    }
  }
  if (h->round_open && a->largest_pn >= h->window_end) {
    h->round_open = 0;
    if (in_css && ++h->css_rounds >= HS_CSS_ROUNDS)
      hs_exit(cc);
  }
  return div;
}

double p2pq_cc_cubic_k(const p2pq_cc *cc) { return cc->u.cubic.k; }

double p2pq_cc_cubic_w(const p2pq_cc *cc, double t) {
  double d = t - cc->u.cubic.k;
  return CUBIC_C * d * d * d * cc->mds + cc->u.cubic.w_max;
}

static void compute_k(p2pq_cc *cc) {
  double diff = (st(cc)->w_max - (double)cc->cwnd) / cc->mds;
  st(cc)->k = diff > 0 ? cbrt(diff / CUBIC_C) : 0.0;
}

static void cubic_reset(p2pq_cc *cc) {
  p2pq_cc_cubic *s = st(cc);
  s->w_max = 0;
  s->k = 0;
  s->w_est = 0;
  s->cwnd_prior = 0;
  s->credit = 0;
  s->epoch_start = 0;
  s->last_ack = 0;
  s->in_epoch = 0;
  hs_reset(&s->hs);
}

/* Idle time must not count toward t (RFC 9438 5.8): slide the epoch when
 * sending resumes after everything was acknowledged. */
static void cubic_on_sent(p2pq_cc *cc, uint64_t pn, int app, uint64_t bytes_in_flight,
                          p2pq_tstamp now) {
  p2pq_cc_cubic *s = st(cc);
  if (app && p2pq_cc_in_slow_start(cc))
    hs_on_sent(&s->hs, pn);
  if (bytes_in_flight == 0 && s->in_epoch && now > s->last_ack)
    s->epoch_start += now - s->last_ack;
}

static void start_epoch(p2pq_cc *cc, p2pq_tstamp now) {
  p2pq_cc_cubic *s = st(cc);
  s->in_epoch = 1;
  s->epoch_start = now;
  /* Left slow start without a loss: the current window is the plateau. */
  if (s->w_max < (double)cc->cwnd)
    s->w_max = (double)cc->cwnd;
  compute_k(cc);
  s->w_est = (double)cc->cwnd;
  s->credit = 0;
}

static void cubic_on_ack(p2pq_cc *cc, const p2pq_cc_ack *a, const p2pq_rtt *rtt,
                         p2pq_tstamp now) {
  p2pq_cc_cubic *s = st(cc);
  uint64_t acked = a->bytes;
  double cwnd, t, alpha, target, wc;
  s->last_ack = now;
  if (p2pq_cc_in_slow_start(cc)) {
    cc->cwnd += acked / hs_on_ack(cc, a, rtt);
    return;
  }
  if (acked == 0)
    return;
  if (!s->in_epoch)
    start_epoch(cc, now);
  cwnd = (double)cc->cwnd;
  t = (double)(now - s->epoch_start) / 1e9;
  alpha = s->w_est >= s->cwnd_prior ? 1.0 : CUBIC_ALPHA;
  s->w_est += alpha * (double)acked * cc->mds / cwnd;
  wc = p2pq_cc_cubic_w(cc, t);
  if (wc < s->w_est) {
    /* Reno-friendly region: at least as fast as Reno would be. */
    if (s->w_est > cwnd)
      cc->cwnd = (uint64_t)s->w_est;
    return;
  }
  target = p2pq_cc_cubic_w(cc, t + (double)rtt->smoothed / 1e9);
  if (target < cwnd)
    target = cwnd;
  if (target > 1.5 * cwnd)
    target = 1.5 * cwnd;
  s->credit += (target - cwnd) * (double)acked / cwnd;
  if (s->credit >= 1.0) {
    uint64_t add = (uint64_t)s->credit;
    cc->cwnd += add;
    s->credit -= (double)add;
  }
}

static void cubic_on_congestion(p2pq_cc *cc, p2pq_tstamp now) {
  p2pq_cc_cubic *s = st(cc);
  double cwnd = (double)cc->cwnd;
  uint64_t minw = p2pq_cc_min_window(cc->mds);
  s->cwnd_prior = cwnd;
  /* Fast convergence: a flow that lost before reaching its previous plateau
   * releases bandwidth to newcomers. */
  if (cwnd < s->w_max)
    s->w_max = cwnd * (1.0 + CUBIC_BETA) / 2.0;
  else
    s->w_max = cwnd;
  cc->ssthresh = cc->cwnd * 7 / 10; /* beta_cubic, exact in integers */
  if (cc->ssthresh < minw)
    cc->ssthresh = minw;
  cc->cwnd = cc->ssthresh;
  s->in_epoch = 0;
  s->credit = 0;
  s->hs.done = 1; /* a congestion signal ends HyStart++ for good */
  s->hs.css_baseline = P2PQ_TSTAMP_MAX;
  compute_k(cc);
}

static void cubic_on_pc(p2pq_cc *cc, p2pq_tstamp now) {
  p2pq_cc_cubic *s = st(cc);
  s->in_epoch = 0;
  s->credit = 0;
  s->w_max = 0;
  s->k = 0;
}

const p2pq_cc_ops p2pq_cc_cubic_ops = {
    .name = "cubic",
    .reset = cubic_reset,
    .on_sent = cubic_on_sent,
    .on_ack = cubic_on_ack,
    .on_congestion = cubic_on_congestion,
    .on_persistent_congestion = cubic_on_pc,
};
