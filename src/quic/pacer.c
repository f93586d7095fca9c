/* Token-bucket pacer; see pacer.h. Rates are doubles: a byte count times a
 * nanosecond interval overflows 64 bits long before it stops being useful. */
#include <string.h>

#include "quic/pacer.h"

void p2pq_pacer_init(p2pq_pacer *p, uint32_t mds, uint32_t burst) {
  memset(p, 0, sizeof(*p));
  p->mds = mds;
  p->burst = burst ? burst : P2PQ_PACER_DEFAULT_BURST;
}

void p2pq_pacer_clear(p2pq_pacer *p) { memset(p, 0, sizeof(*p)); }

void p2pq_pacer_set_mds(p2pq_pacer *p, uint32_t mds) { p->mds = mds; }

static double capacity(const p2pq_pacer *p) { return (double)p->burst * p->mds; }

/* bytes per nanosecond */
static double rate_ns(uint64_t cwnd, p2pq_tstamp srtt) {
  return 1.25 * (double)cwnd / (double)srtt;
}

uint64_t p2pq_pacer_rate(uint64_t cwnd, p2pq_tstamp srtt) {
  if (srtt == 0)
    return UINT64_MAX;
  return (uint64_t)(rate_ns(cwnd, srtt) * 1e9);
}

/* Tokens available at now. */
static double level(const p2pq_pacer *p, uint64_t cwnd, p2pq_tstamp srtt, p2pq_tstamp now) {
  double t;
  if (!p->started || srtt == 0)
    return capacity(p);
  t = p->tokens;
  if (now > p->last)
    t += rate_ns(cwnd, srtt) * (double)(now - p->last);
  return t < capacity(p) ? t : capacity(p);
}

p2pq_tstamp p2pq_pacer_next_time(const p2pq_pacer *p, uint64_t cwnd, p2pq_tstamp srtt,
                                 uint32_t bytes, p2pq_tstamp now) {
  double have = level(p, cwnd, srtt, now), need = (double)bytes, wait;
  if (need > capacity(p))
    need = capacity(p); /* a jumbo write waits for a full bucket, not forever */
  if (have >= need || cwnd == 0)
    return now;
  wait = (need - have) / rate_ns(cwnd, srtt);
  if (wait >= (double)(P2PQ_TSTAMP_MAX - now))
    return P2PQ_TSTAMP_MAX;
  return now + (p2pq_tstamp)wait + 1; /* +1: round up so the bucket is full enough */
}

size_t p2pq_pacer_burst(const p2pq_pacer *p, uint64_t cwnd, p2pq_tstamp srtt, p2pq_tstamp now) {
  double have = level(p, cwnd, srtt, now);
  if (p->mds == 0 || have < p->mds)
    return 0;
  return (size_t)(have / p->mds);
}

void p2pq_pacer_on_sent(p2pq_pacer *p, uint64_t cwnd, p2pq_tstamp srtt, uint32_t bytes,
                        p2pq_tstamp now) {
  double t = level(p, cwnd, srtt, now) - (double)bytes;
  /* Bound the debt a burst of probes can build to one bucket. */
  if (t < -capacity(p))
    t = -capacity(p);
  p->tokens = t;
  if (!p->started || now > p->last)
    p->last = now;
  p->started = 1;
}
