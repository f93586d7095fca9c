/* Sent-packet records and the per-packet-number-space table that holds them
 * until they are acknowledged, declared lost or discarded (RFC 9002 A.1).
 *
 * The connection owns one p2pq_sentq per packet number space and hands them to
 * p2pq_recovery through p2pq_recovery_env; recovery appends to them
 * (p2pq_recovery_on_packet_sent) and removes from them (ACK, loss, discard).
 * The connection may look packets up or walk them (e.g. to pick frames for a
 * PTO probe) but must not add or remove entries itself.
 *
 * Storage is a power-of-two ring of fixed-size records: appending is O(1)
 * amortised with no allocation per packet (the ring doubles when full),
 * removed records become tombstones that the head skips, and lookup by packet
 * number is a binary search (packet numbers increase, gaps allowed).
 * The implementation lives in recovery.c. */
#ifndef P2PQ_QUIC_SENTPKT_H
#define P2PQ_QUIC_SENTPKT_H

#include <stddef.h>
#include <stdint.h>

#include "p2pq/types.h"

/* Packet number spaces, numbered as in RFC 9002 (Initial, Handshake, AppData). */
enum {
  P2PQ_PNS_INITIAL = 0,
  P2PQ_PNS_HANDSHAKE = 1,
  P2PQ_PNS_APP = 2,
  P2PQ_PNS_COUNT = 3,
};

/* p2pq_sentpkt.flags. The low bits are set by the connection; the high bits
 * belong to the table and are ignored on input. */
enum {
  P2PQ_SENT_ACK_ELICITING = 0x01, /* contains a frame other than ACK/PADDING/CONNECTION_CLOSE */
  P2PQ_SENT_IN_FLIGHT = 0x02,     /* counts toward bytes_in_flight (ack-eliciting or PADDING) */
  P2PQ_SENT_PMTU_PROBE = 0x04,    /* its loss is not a congestion signal */
  P2PQ_SENT_PROBE = 0x08,         /* sent because a PTO fired (informational) */
  P2PQ_SENT_ECT0 = 0x10,          /* sent with the ECT(0) codepoint */
  P2PQ_SENT_USER_MASK = 0x1f,
  P2PQ_SENT_ACKED = 0x40,         /* (table) tombstone: acknowledged */
  P2PQ_SENT_LOST = 0x80,          /* (table) tombstone: declared lost or discarded */
};
#define P2PQ_SENT_REMOVED (P2PQ_SENT_ACKED | P2PQ_SENT_LOST)

typedef struct p2pq_sentpkt {
  uint64_t pn;
  p2pq_tstamp time_sent;
  uint32_t size;     /* UDP payload bytes this packet occupies */
  uint8_t flags;     /* P2PQ_SENT_* */
  uint8_t space;     /* P2PQ_PNS_* */
  uint16_t path_id;
  void *frames;      /* opaque: the connection's retransmittable-frame record */
} p2pq_sentpkt;

typedef struct p2pq_sentq {
  p2pq_sentpkt *ring;
  size_t cap;        /* power of two, 0 before the first packet */
  size_t head;       /* ring index of the oldest slot */
  size_t len;        /* slots in use, tombstones included */
  size_t live;       /* packets neither acked, lost nor discarded */
  uint64_t largest_sent;  /* valid when any_sent */
  uint64_t largest_acked; /* valid when any_acked */
  uint8_t space;
  uint8_t any_sent;
  uint8_t any_acked;
  /* loss-detection state for this space (RFC 9002 A.2) */
  p2pq_tstamp loss_time;            /* 0: no packet waits on the time threshold */
  p2pq_tstamp last_ack_eliciting;   /* time_of_last_ack_eliciting_packet */
  size_t ack_eliciting_in_flight;   /* live ack-eliciting packets */
  /* Non-ack-eliciting packets sent since the last ack-eliciting one. A pure
   * receiver's ACK-only packets are never acknowledged unless it elicits an
   * ACK now and then (RFC 9000 13.2.4): bundle a PING when this grows (e.g.
   * past 20) so that the table and the ACK ranges can be pruned. */
  uint32_t non_eliciting_streak;
  uint64_t bytes_in_flight;         /* live in-flight bytes of this space */
  /* ECN counts the peer last reported, and what we sent marked */
  uint64_t ecn_ect0, ecn_ect1, ecn_ce;
  uint64_t ect0_sent;
} p2pq_sentq;

int p2pq_sentq_init(p2pq_sentq *q, uint8_t space);
/* Frees the ring. frames pointers are not touched: discard the space through
 * p2pq_recovery_discard_space first if they need releasing. */
void p2pq_sentq_clear(p2pq_sentq *q);

/* Appends a record (pn and time_sent must not decrease). Used by recovery;
 * returns 0, P2PQ_ERR_INVALID_ARG or P2PQ_ERR_NOMEM. */
int p2pq_sentq_push(p2pq_sentq *q, const p2pq_sentpkt *pkt);
/* The live record for pn, or NULL (never sent, acked, lost or discarded). */
p2pq_sentpkt *p2pq_sentq_find(p2pq_sentq *q, uint64_t pn);
/* Walks live records oldest first: start with *it = 0, NULL at the end. */
p2pq_sentpkt *p2pq_sentq_next(p2pq_sentq *q, size_t *it);
static inline size_t p2pq_sentq_count(const p2pq_sentq *q) { return q->live; }

#endif
