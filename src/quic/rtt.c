/* RTT estimator, RFC 9002 section 5 (pseudocode in appendix A.7). */
#include "quic/rtt.h"

void p2pq_rtt_init(p2pq_rtt *r, p2pq_tstamp initial_rtt) {
  r->initial = initial_rtt ? initial_rtt : P2PQ_INITIAL_RTT;
  p2pq_rtt_reset(r);
}

void p2pq_rtt_reset(p2pq_rtt *r) {
  r->latest = 0;
  r->min_rtt = 0;
  r->smoothed = r->initial;
  r->rttvar = r->initial / 2;
  r->first_sample_time = 0;
  r->has_sample = 0;
}

static p2pq_tstamp absdiff(p2pq_tstamp a, p2pq_tstamp b) { return a > b ? a - b : b - a; }

void p2pq_rtt_update(p2pq_rtt *r, p2pq_tstamp latest_rtt, p2pq_tstamp ack_delay,
                     p2pq_tstamp max_ack_delay, int handshake_confirmed, p2pq_tstamp now) {
  p2pq_tstamp adjusted;
  r->latest = latest_rtt;
  if (!r->has_sample) {
    r->has_sample = 1;
    r->first_sample_time = now;
    r->min_rtt = latest_rtt;
    r->smoothed = latest_rtt;
    r->rttvar = latest_rtt / 2;
    return;
  }
  if (latest_rtt < r->min_rtt)
    r->min_rtt = latest_rtt;
  /* Before confirmation the peer's max_ack_delay may not be known yet. */
  if (handshake_confirmed && ack_delay > max_ack_delay)
    ack_delay = max_ack_delay;
  adjusted = latest_rtt;
  /* Never let the ack delay push the sample below what the path can do. */
  if (latest_rtt >= r->min_rtt + ack_delay)
    adjusted = latest_rtt - ack_delay;
  r->rttvar = (3 * r->rttvar + absdiff(r->smoothed, adjusted)) / 4;
  r->smoothed = (7 * r->smoothed + adjusted) / 8;
}

/* Saturating: absurd inputs give "never", not a wrapped-around soon. */
static p2pq_tstamp sadd(p2pq_tstamp a, p2pq_tstamp b) {
  return a > P2PQ_TSTAMP_MAX - b ? P2PQ_TSTAMP_MAX : a + b;
}
static p2pq_tstamp smul(p2pq_tstamp a, unsigned k) {
  return a > P2PQ_TSTAMP_MAX / k ? P2PQ_TSTAMP_MAX : a * k;
}

p2pq_tstamp p2pq_rtt_pto_base(const p2pq_rtt *r) {
  p2pq_tstamp v = smul(r->rttvar, 4);
  return sadd(r->smoothed, v > P2PQ_GRANULARITY ? v : P2PQ_GRANULARITY);
}

p2pq_tstamp p2pq_rtt_loss_delay(const p2pq_rtt *r) {
  p2pq_tstamp m = r->smoothed > r->latest ? r->smoothed : r->latest;
  m = m + m / 8;
  return m > P2PQ_GRANULARITY ? m : P2PQ_GRANULARITY;
}

p2pq_tstamp p2pq_rtt_pc_duration(const p2pq_rtt *r, p2pq_tstamp max_ack_delay) {
  return smul(sadd(p2pq_rtt_pto_base(r), max_ack_delay), 3);
}
