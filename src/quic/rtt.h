/* RTT estimation (RFC 9002 section 5): latest, minimum, smoothed RTT and its
 * variation, plus the derived durations loss detection needs. One p2pq_rtt per
 * path (it lives inside p2pq_recovery). All times are nanoseconds. */
#ifndef P2PQ_QUIC_RTT_H
#define P2PQ_QUIC_RTT_H

#include "p2pq/types.h"

#define P2PQ_INITIAL_RTT (333 * P2PQ_MS) /* RFC 9002 6.2.2 */
#define P2PQ_GRANULARITY (1 * P2PQ_MS)   /* kGranularity */
#define P2PQ_DEFAULT_MAX_ACK_DELAY (25 * P2PQ_MS)

typedef struct p2pq_rtt {
  p2pq_tstamp latest;   /* latest_rtt; 0 before the first sample */
  p2pq_tstamp min_rtt;  /* 0 before the first sample; never ack-delay adjusted */
  p2pq_tstamp smoothed; /* smoothed_rtt */
  p2pq_tstamp rttvar;
  p2pq_tstamp initial;  /* value smoothed starts from (and returns to on reset) */
  p2pq_tstamp first_sample_time; /* when the first sample was taken (persistent congestion) */
  int has_sample;
} p2pq_rtt;

/* initial_rtt 0 selects P2PQ_INITIAL_RTT (333 ms). */
void p2pq_rtt_init(p2pq_rtt *r, p2pq_tstamp initial_rtt);
/* Back to the initial state (path migration, RFC 9000 9.4). */
void p2pq_rtt_reset(p2pq_rtt *r);

/* Feeds one sample: latest_rtt = now - time the largest newly acked packet was
 * sent; ack_delay as decoded from the ACK frame (ns). ack_delay is clamped to
 * max_ack_delay only once the handshake is confirmed, and subtracted only when
 * that does not take the sample below min_rtt. The first sample ignores it. */
void p2pq_rtt_update(p2pq_rtt *r, p2pq_tstamp latest_rtt, p2pq_tstamp ack_delay,
                     p2pq_tstamp max_ack_delay, int handshake_confirmed, p2pq_tstamp now);

/* smoothed + max(4 * rttvar, kGranularity): the PTO before backoff and without
 * max_ack_delay. */
p2pq_tstamp p2pq_rtt_pto_base(const p2pq_rtt *r);
/* Time threshold: max(9/8 * max(smoothed, latest), kGranularity). */
p2pq_tstamp p2pq_rtt_loss_delay(const p2pq_rtt *r);
/* (smoothed + max(4 rttvar, kGranularity) + max_ack_delay) * 3 (RFC 9002 7.6.1). */
p2pq_tstamp p2pq_rtt_pc_duration(const p2pq_rtt *r, p2pq_tstamp max_ack_delay);

#endif
