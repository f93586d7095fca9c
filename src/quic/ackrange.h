/* The set of received packet numbers of one packet-number space, kept as
 * disjoint intervals (highest first) from which ACK frames are built. Bounded:
 * the oldest intervals are forgotten past P2PQ_ACKRANGE_MAX (the peer stops
 * retransmitting long before that matters). */
#ifndef P2PQ_QUIC_ACKRANGE_H
#define P2PQ_QUIC_ACKRANGE_H

#include <stddef.h>
#include <stdint.h>

#define P2PQ_ACKRANGE_MAX 64

typedef struct p2pq_ackrange {
  uint64_t smallest[P2PQ_ACKRANGE_MAX];
  uint64_t largest[P2PQ_ACKRANGE_MAX];
  size_t n;            /* intervals, index 0 holds the highest */
  uint64_t floor;      /* packet numbers below this are treated as duplicates */
} p2pq_ackrange;

void p2pq_ackrange_init(p2pq_ackrange *a);
/* Returns 1 if pn was already recorded (a duplicate), else records it, 0. */
int p2pq_ackrange_add(p2pq_ackrange *a, uint64_t pn);
int p2pq_ackrange_contains(const p2pq_ackrange *a, uint64_t pn);
/* Forgets everything below pn (after the peer acknowledged an ACK covering it). */
void p2pq_ackrange_drop_below(p2pq_ackrange *a, uint64_t pn);
static inline uint64_t p2pq_ackrange_largest(const p2pq_ackrange *a) {
  return a->n ? a->largest[0] : UINT64_MAX;
}

#endif
