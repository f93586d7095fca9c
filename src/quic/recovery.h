/* Loss detection and congestion control glue (RFC 9002), sans-I/O.
 *
 * Ownership: the connection owns one p2pq_recovery per path (RTT estimate,
 * congestion controller, pacer, bytes in flight, PTO backoff) and one
 * p2pq_sentq per packet number space (sentpkt.h). Every call gets a
 * p2pq_recovery_env that the connection keeps up to date: its sent tables,
 * the handshake facts the timer rules depend on, and the callbacks through
 * which acknowledged, lost and discarded packets are handed back.
 *
 * Typical use by the connection:
 *   send:    if (p2pq_recovery_can_send(rec, size) &&
 *                p2pq_recovery_pacing_time(rec, size, now) <= now) {
 *              build packet; p2pq_recovery_on_packet_sent(rec, &env, &pkt);
 *            }
 *   ACK:     decode the frame into ranges (highest first) and ack_delay in ns,
 *            then p2pq_recovery_on_ack_received(...). on_acked / on_lost run
 *            inside; on_lost's frames must be queued for retransmission.
 *   timer:   arm p2pq_recovery_next_timeout(rec, &env); when it fires call
 *            p2pq_recovery_on_timeout(...): either packets were declared
 *            lost (callbacks ran) or it asks for 1-2 ack-eliciting probe
 *            packets in a given space, which are sent even if can_send says
 *            no (RFC 9002 6.2.4). Call p2pq_recovery_rearm(rec, now) when
 *            env facts change (handshake confirmed, amplification unblocked).
 *   keys:    p2pq_recovery_discard_space() when Initial/Handshake keys go.
 *
 * Callbacks run in the middle of table updates: they may read the packet and
 * queue its frames, but must not send packets or call into recovery.
 *
 * Multiple paths (one packet number space shared by several paths): packets
 * carry path_id; with env->path_recovery set, a packet sent on another path
 * is settled in that path's recovery object (bytes in flight, a loss cuts
 * that path's window, the RTT sample of an ACK goes to the path its largest
 * acknowledged packet was sent on). Persistent congestion is judged per
 * call from the packets of the calling path only.
 *
 * ECN: mark packets sent with ECT(0) with P2PQ_SENT_ECT0 and pass the ACK
 * frame's counts (NULL for a plain ACK). Counts are validated (RFC 9000
 * 13.4.2.1) on ACKs that raise the largest acknowledged; a rise in CE is a
 * congestion signal. Once validation fails p2pq_recovery_ecn_ok() is 0 and
 * the connection should stop marking on this path.
 *
 * Not done here: undo of window cuts for spurious losses. */
#ifndef P2PQ_QUIC_RECOVERY_H
#define P2PQ_QUIC_RECOVERY_H

#include <stddef.h>
#include <stdint.h>

#include "p2pq/types.h"
#include "quic/cc.h"
#include "quic/pacer.h"
#include "quic/rtt.h"
#include "quic/sentpkt.h"

#define P2PQ_PACKET_THRESHOLD 3 /* kPacketThreshold */

typedef struct p2pq_recovery p2pq_recovery;

/* One ACK range, inclusive on both ends. */
typedef struct p2pq_recovery_range {
  uint64_t smallest;
  uint64_t largest;
} p2pq_recovery_range;

/* ECN counts from an ACK_ECN frame. */
typedef struct p2pq_recovery_ecn {
  uint64_t ect0, ect1, ce;
} p2pq_recovery_ecn;

typedef struct p2pq_recovery_env {
  p2pq_sentq *spaces[P2PQ_PNS_COUNT]; /* NULL: space not in use / discarded */
  p2pq_tstamp max_ack_delay;          /* peer's max_ack_delay, ns */
  uint8_t handshake_confirmed;
  /* PeerCompletedAddressValidation(): always 1 on a server; on a client once
   * the handshake is confirmed or a Handshake-space ACK arrived. */
  uint8_t peer_validated;
  uint8_t has_handshake_keys;      /* client: can send Handshake packets */
  uint8_t amplification_blocked;   /* server at its 3x anti-amplification limit */
  void *user;
  /* Called once per packet, with the table's record (valid only during the
   * call). Any may be NULL. */
  void (*on_acked)(void *user, const p2pq_sentpkt *pkt);
  void (*on_lost)(void *user, const p2pq_sentpkt *pkt);
  void (*on_discarded)(void *user, const p2pq_sentpkt *pkt);
  /* Optional: the recovery object of another path (NULL if gone). */
  p2pq_recovery *(*path_recovery)(void *user, uint16_t path_id);
} p2pq_recovery_env;

typedef struct p2pq_recovery_config {
  const char *cc;          /* "newreno" or "cubic" (NULL: cubic) */
  uint32_t mds;            /* max_datagram_size; 0: 1200 */
  p2pq_tstamp initial_rtt; /* 0: 333 ms */
  uint32_t pacing_burst;   /* packets; 0: 10 */
  uint16_t path_id;
} p2pq_recovery_config;

struct p2pq_recovery {
  p2pq_rtt rtt;
  p2pq_cc cc;
  p2pq_pacer pacer;
  uint64_t bytes_in_flight;
  uint64_t peak_in_flight; /* highest bytes_in_flight since the last ACK */
  uint32_t pto_count;
  uint16_t path_id;
  uint8_t ecn_failed;   /* ECN validation failed on this path */
  p2pq_tstamp arm_time; /* last SetLossDetectionTimer() */
  /* statistics */
  uint64_t pkts_sent, pkts_acked, pkts_lost, bytes_lost, ptos;
};

/* Returns 0, P2PQ_ERR_CONFIG (unknown cc) or P2PQ_ERR_INVALID_ARG. */
int p2pq_recovery_init(p2pq_recovery *rec, const p2pq_recovery_config *cfg);
void p2pq_recovery_clear(p2pq_recovery *rec);
/* New path after migration (RFC 9000 9.4): RTT and congestion state back to
 * initial values; bytes in flight are kept (those packets are still out). */
void p2pq_recovery_reset(p2pq_recovery *rec);
void p2pq_recovery_set_mds(p2pq_recovery *rec, uint32_t mds);

/* Records a sent packet in env->spaces[pkt->space] (flags above
 * P2PQ_SENT_USER_MASK are ignored; path_id is taken from rec). Returns 0,
 * P2PQ_ERR_INVALID_ARG (no such space, or pn / time going backwards) or
 * P2PQ_ERR_NOMEM; on error nothing was recorded and the caller still owns
 * pkt->frames. */
int p2pq_recovery_on_packet_sent(p2pq_recovery *rec, const p2pq_recovery_env *env,
                                 const p2pq_sentpkt *pkt);

/* Processes an ACK frame received in `space` (on_acked for each newly acked
 * packet, on_lost for packets it shows lost): ranges sorted highest first,
 * disjoint (smallest <= largest, each below the previous one), ack_delay in
 * ns (ignored for Initial), ecn NULL for a plain ACK. Returns 0,
 * P2PQ_ERR_INVALID_ARG for unsorted ranges, or P2PQ_ERR_PROTOCOL when a
 * packet number we never sent is acknowledged (connection error
 * PROTOCOL_VIOLATION); on error nothing has changed. */
int p2pq_recovery_on_ack_received(p2pq_recovery *rec, const p2pq_recovery_env *env,
                                  uint8_t space, const p2pq_recovery_range *ranges,
                                  size_t nranges, p2pq_tstamp ack_delay,
                                  const p2pq_recovery_ecn *ecn, p2pq_tstamp now);

/* Loss-detection deadline (loss time or PTO), P2PQ_TSTAMP_MAX for none. */
p2pq_tstamp p2pq_recovery_next_timeout(const p2pq_recovery *rec, const p2pq_recovery_env *env);

enum {
  P2PQ_RECOVERY_NONE = 0,  /* deadline not reached */
  P2PQ_RECOVERY_LOST = 1,  /* packets were declared lost (on_lost ran) */
  P2PQ_RECOVERY_PROBE = 2, /* send `probes` ack-eliciting packets in `space` */
};
typedef struct p2pq_recovery_action {
  int kind;       /* P2PQ_RECOVERY_* */
  uint8_t space;  /* PROBE: the space to send in */
  uint8_t probes; /* PROBE: 1 or 2 */
} p2pq_recovery_action;

/* OnLossDetectionTimeout. Call when now >= p2pq_recovery_next_timeout(). */
void p2pq_recovery_on_timeout(p2pq_recovery *rec, const p2pq_recovery_env *env, p2pq_tstamp now,
                              p2pq_recovery_action *out);

/* OnPacketNumberSpaceDiscarded: every packet of the space leaves the table
 * (on_discarded callback) and bytes in flight without a congestion signal;
 * the PTO backoff resets. The table stays usable (empty). */
void p2pq_recovery_discard_space(p2pq_recovery *rec, const p2pq_recovery_env *env, uint8_t space,
                                 p2pq_tstamp now);

/* One PTO without backoff, smoothed + max(4 rttvar, 1 ms) + max_ack_delay:
 * the unit for "3 * PTO" periods (closing, draining, old keys, idle floor). */
p2pq_tstamp p2pq_recovery_pto_duration(const p2pq_recovery *rec, const p2pq_recovery_env *env);

/* Restart the anti-deadlock PTO clock (SetLossDetectionTimer) after env facts
 * changed, e.g. a server's amplification limit lifted. */
void p2pq_recovery_rearm(p2pq_recovery *rec, p2pq_tstamp now);

static inline uint64_t p2pq_recovery_bytes_in_flight(const p2pq_recovery *rec) {
  return rec->bytes_in_flight;
}
static inline uint64_t p2pq_recovery_cwnd(const p2pq_recovery *rec) { return rec->cc.cwnd; }
/* 1 while ECT(0) marking may continue on this path. */
static inline int p2pq_recovery_ecn_ok(const p2pq_recovery *rec) { return !rec->ecn_failed; }
/* bytes_in_flight + bytes <= cwnd */
static inline int p2pq_recovery_can_send(const p2pq_recovery *rec, uint32_t bytes) {
  return rec->bytes_in_flight + bytes <= rec->cc.cwnd;
}
/* Earliest time `bytes` may leave according to the pacer. */
p2pq_tstamp p2pq_recovery_pacing_time(const p2pq_recovery *rec, uint32_t bytes, p2pq_tstamp now);
/* Packets of mds bytes that may leave now: min(pacer burst, cwnd room). */
size_t p2pq_recovery_send_quota(const p2pq_recovery *rec, p2pq_tstamp now);

#endif
