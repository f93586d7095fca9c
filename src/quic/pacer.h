/* Pacer (RFC 9002 7.7): a token bucket refilled at 1.25 * cwnd / smoothed_rtt
 * that holds at most `burst` full-size packets (default 10), so the runtime
 * can hand the kernel bursts of up to that many packets (GSO) and then wait.
 * Sans-I/O: the caller passes cwnd, smoothed RTT and now on every call. */
#ifndef P2PQ_QUIC_PACER_H
#define P2PQ_QUIC_PACER_H

#include <stddef.h>
#include <stdint.h>

#include "p2pq/types.h"

#define P2PQ_PACER_DEFAULT_BURST 10

typedef struct p2pq_pacer {
  double tokens;     /* bytes; negative after sending ahead of the rate (probes) */
  p2pq_tstamp last;  /* time tokens was last brought up to date */
  uint32_t mds;
  uint32_t burst;    /* packets */
  int started;
} p2pq_pacer;

/* burst 0 selects P2PQ_PACER_DEFAULT_BURST. The bucket starts full. */
void p2pq_pacer_init(p2pq_pacer *p, uint32_t mds, uint32_t burst);
void p2pq_pacer_clear(p2pq_pacer *p);
void p2pq_pacer_set_mds(p2pq_pacer *p, uint32_t mds);

/* Pacing rate in bytes per second (1.25 * cwnd / srtt); UINT64_MAX if srtt is 0. */
uint64_t p2pq_pacer_rate(uint64_t cwnd, p2pq_tstamp srtt);
/* Earliest time >= now at which `bytes` may leave. */
p2pq_tstamp p2pq_pacer_next_time(const p2pq_pacer *p, uint64_t cwnd, p2pq_tstamp srtt,
                                 uint32_t bytes, p2pq_tstamp now);
/* How many packets of mds bytes may leave now (0..burst). */
size_t p2pq_pacer_burst(const p2pq_pacer *p, uint64_t cwnd, p2pq_tstamp srtt, p2pq_tstamp now);
/* Takes `bytes` from the bucket. */
void p2pq_pacer_on_sent(p2pq_pacer *p, uint64_t cwnd, p2pq_tstamp srtt, uint32_t bytes,
                        p2pq_tstamp now);

#endif
