/* The generic congestion-control wrappers (recovery period, persistent
 * congestion, algorithm selection) and NewReno (RFC 9002 section 7). */
#include <string.h>

#include "p2pq/error.h"
#include "quic/cc.h"

int p2pq_cc_init(p2pq_cc *cc, const char *name, uint32_t mds) {
  memset(cc, 0, sizeof(*cc));
  if (mds == 0)
    return P2PQ_ERR_INVALID_ARG;
  if (name == NULL || name[0] == '\0' || strcmp(name, "cubic") == 0)
    cc->ops = &p2pq_cc_cubic_ops;
  else if (strcmp(name, "newreno") == 0 || strcmp(name, "reno") == 0)
    cc->ops = &p2pq_cc_newreno_ops;
  else
    return P2PQ_ERR_CONFIG;
  cc->mds = mds;
  p2pq_cc_reset(cc);
  return 0;
}

void p2pq_cc_clear(p2pq_cc *cc) { memset(cc, 0, sizeof(*cc)); }

void p2pq_cc_reset(p2pq_cc *cc) {
  cc->cwnd = p2pq_cc_initial_window(cc->mds);
  cc->ssthresh = UINT64_MAX;
  cc->in_recovery = 0;
  cc->recovery_start = 0;
  memset(&cc->u, 0, sizeof(cc->u));
  cc->ops->reset(cc);
}

void p2pq_cc_set_mds(p2pq_cc *cc, uint32_t mds) {
  if (mds == 0)
    return;
  cc->mds = mds;
  if (cc->cwnd < p2pq_cc_min_window(mds))
    cc->cwnd = p2pq_cc_min_window(mds);
}

void p2pq_cc_on_sent(p2pq_cc *cc, uint64_t pn, int app, uint64_t bytes_in_flight,
                     p2pq_tstamp now) {
  if (cc->ops->on_sent)
    cc->ops->on_sent(cc, pn, app, bytes_in_flight, now);
}

void p2pq_cc_on_ack_info(p2pq_cc *cc, const p2pq_cc_ack *ack, const p2pq_rtt *rtt,
                         p2pq_tstamp now) {
  cc->ops->on_ack(cc, ack, rtt, now);
}

void p2pq_cc_on_ack(p2pq_cc *cc, uint64_t acked, const p2pq_rtt *rtt, p2pq_tstamp now) {
  p2pq_cc_ack a = {.bytes = acked};
  if (acked)
    cc->ops->on_ack(cc, &a, rtt, now);
}

int p2pq_cc_on_congestion_event(p2pq_cc *cc, p2pq_tstamp time_sent, p2pq_tstamp now) {
  if (p2pq_cc_in_recovery(cc, time_sent))
    return 0;
  cc->in_recovery = 1;
  cc->recovery_start = now;
  cc->congestion_events++;
  cc->ops->on_congestion(cc, now);
  if (cc->cwnd < p2pq_cc_min_window(cc->mds))
    cc->cwnd = p2pq_cc_min_window(cc->mds);
  return 1;
}

void p2pq_cc_on_persistent_congestion(p2pq_cc *cc, p2pq_tstamp now) {
  cc->cwnd = p2pq_cc_min_window(cc->mds);
  cc->in_recovery = 0; /* congestion_recovery_start_time = 0 */
  cc->persistent_congestions++;
  if (cc->ops->on_persistent_congestion)
    cc->ops->on_persistent_congestion(cc, now);
}

/* ---- NewReno ---- */

static void reno_reset(p2pq_cc *cc) { cc->u.reno.bytes_acked = 0; }

static void reno_on_ack(p2pq_cc *cc, const p2pq_cc_ack *a, const p2pq_rtt *rtt, p2pq_tstamp now) {
  uint64_t acked = a->bytes;
  if (p2pq_cc_in_slow_start(cc)) {
    cc->cwnd += acked;
    return;
  }
  /* cwnd += mds * acked / cwnd, accumulated so that small ACKs add up. */
  cc->u.reno.bytes_acked += acked;
  while (cc->u.reno.bytes_acked >= cc->cwnd) {
    cc->u.reno.bytes_acked -= cc->cwnd;
    cc->cwnd += cc->mds;
  }
}

static void reno_on_congestion(p2pq_cc *cc, p2pq_tstamp now) {
  cc->ssthresh = cc->cwnd / 2; /* kLossReductionFactor 0.5 */
  cc->cwnd = cc->ssthresh;      /* the wrapper keeps it >= kMinimumWindow */
  cc->u.reno.bytes_acked = 0;
}

static void reno_on_pc(p2pq_cc *cc, p2pq_tstamp now) { cc->u.reno.bytes_acked = 0; }

const p2pq_cc_ops p2pq_cc_newreno_ops = {
    .name = "newreno",
    .reset = reno_reset,
    .on_sent = NULL,
    .on_ack = reno_on_ack,
    .on_congestion = reno_on_congestion,
    .on_persistent_congestion = reno_on_pc,
};
