/* Congestion control behind one interface (RFC 9002 section 7): a p2pq_cc
 * holds the shared window state and an ops table; algorithms ("newreno",
 * "cubic") keep their own state in the union. p2pq_recovery drives it; the
 * connection normally only reads cwnd through p2pq_recovery.
 *
 * The generic wrappers below implement what every algorithm shares: the
 * recovery period (one reduction per round trip: a loss of a packet sent
 * before the current recovery started does not reduce again), persistent
 * congestion (window to the minimum) and window bounds. p2pq_cc_ack.bytes
 * holds only bytes that may grow the window: in flight, sent after the
 * recovery start, and only while the window was the limit (app-limited
 * senders do not grow cwnd, RFC 9002 7.8); the ACK is reported even when
 * that is 0, so that HyStart++ still sees its RTT samples. */
#ifndef P2PQ_QUIC_CC_H
#define P2PQ_QUIC_CC_H

#include <stdint.h>

#include "p2pq/types.h"
#include "quic/rtt.h"

typedef struct p2pq_cc p2pq_cc;

/* What one ACK frame told the congestion controller. */
typedef struct p2pq_cc_ack {
  uint64_t bytes;      /* acked bytes that may grow cwnd (0: none may) */
  uint64_t largest_pn; /* largest newly acked packet number */
  uint8_t app;         /* the ACK was for application data (HyStart++ rounds) */
  uint8_t rtt_sample;  /* the ACK produced a new RTT sample (rtt->latest) */
} p2pq_cc_ack;

typedef struct p2pq_cc_ops {
  const char *name;
  /* Algorithm state back to start (cwnd/ssthresh already reset). */
  void (*reset)(p2pq_cc *cc);
  /* An in-flight packet goes out; bytes_in_flight is the value before it;
   * app: application-data space (pn is then meaningful for rounds). */
  void (*on_sent)(p2pq_cc *cc, uint64_t pn, int app, uint64_t bytes_in_flight, p2pq_tstamp now);
  /* Called for every ACK that newly acknowledged something. */
  void (*on_ack)(p2pq_cc *cc, const p2pq_cc_ack *ack, const p2pq_rtt *rtt, p2pq_tstamp now);
  /* A new congestion event (not within the current recovery period). */
  void (*on_congestion)(p2pq_cc *cc, p2pq_tstamp now);
  /* After the window was collapsed to the minimum. */
  void (*on_persistent_congestion)(p2pq_cc *cc, p2pq_tstamp now);
} p2pq_cc_ops;

typedef struct p2pq_cc_newreno {
  uint64_t bytes_acked; /* congestion-avoidance credit toward the next mds */
} p2pq_cc_newreno;

/* HyStart++ (RFC 9406) state: leaves slow start on a rise in round-trip
 * time, through a few rounds of slower "conservative slow start" (CSS). */
typedef struct p2pq_hystart {
  uint64_t window_end;        /* the round ends when a pn >= this is acked */
  p2pq_tstamp last_round_min; /* P2PQ_TSTAMP_MAX: none */
  p2pq_tstamp cur_round_min;
  p2pq_tstamp css_baseline;   /* P2PQ_TSTAMP_MAX: not in CSS */
  uint32_t samples;           /* RTT samples this round */
  uint32_t css_rounds;
  uint8_t round_open;
  uint8_t done;               /* only the first slow start uses it */
} p2pq_hystart;

typedef struct p2pq_cc_cubic {
  double w_max;       /* window before the last reduction, bytes */
  double k;           /* seconds until W_cubic returns to w_max */
  double w_est;       /* Reno-friendly estimate, bytes */
  double cwnd_prior;  /* cwnd before the last reduction, bytes */
  double credit;      /* fractional growth not yet added to cwnd, bytes */
  p2pq_tstamp epoch_start;
  p2pq_tstamp last_ack;
  int in_epoch;
  p2pq_hystart hs;
} p2pq_cc_cubic;

struct p2pq_cc {
  const p2pq_cc_ops *ops;
  uint64_t cwnd;      /* congestion_window, bytes */
  uint64_t ssthresh;  /* UINT64_MAX until the first congestion event */
  uint32_t mds;       /* max_datagram_size */
  int in_recovery;
  p2pq_tstamp recovery_start; /* congestion_recovery_start_time, valid if in_recovery */
  uint64_t congestion_events;
  uint64_t persistent_congestions;
  union {
    p2pq_cc_newreno reno;
    p2pq_cc_cubic cubic;
  } u;
};

extern const p2pq_cc_ops p2pq_cc_newreno_ops;
extern const p2pq_cc_ops p2pq_cc_cubic_ops;

/* min(10 * mds, max(14720, 2 * mds)) (RFC 9002 7.2). */
static inline uint64_t p2pq_cc_initial_window(uint32_t mds) {
  uint64_t a = 10ull * mds, b = 2ull * mds;
  if (b < 14720)
    b = 14720;
  return a < b ? a : b;
}
static inline uint64_t p2pq_cc_min_window(uint32_t mds) { return 2ull * mds; }
/* InCongestionRecovery(sent_time) */
static inline int p2pq_cc_in_recovery(const p2pq_cc *cc, p2pq_tstamp time_sent) {
  return cc->in_recovery && time_sent <= cc->recovery_start;
}
static inline int p2pq_cc_in_slow_start(const p2pq_cc *cc) { return cc->cwnd < cc->ssthresh; }

/* Selects the algorithm by name ("newreno", "cubic"; NULL or "" = "cubic").
 * Returns 0 or P2PQ_ERR_CONFIG for an unknown name / P2PQ_ERR_INVALID_ARG for
 * mds 0. */
int p2pq_cc_init(p2pq_cc *cc, const char *name, uint32_t mds);
void p2pq_cc_clear(p2pq_cc *cc);
/* Window back to the initial window, algorithm state reset (new path). */
void p2pq_cc_reset(p2pq_cc *cc);
/* PMTU changed: keeps the window in packets at least at the new minimum. */
void p2pq_cc_set_mds(p2pq_cc *cc, uint32_t mds);

void p2pq_cc_on_sent(p2pq_cc *cc, uint64_t pn, int app, uint64_t bytes_in_flight,
                     p2pq_tstamp now);
void p2pq_cc_on_ack_info(p2pq_cc *cc, const p2pq_cc_ack *ack, const p2pq_rtt *rtt,
                         p2pq_tstamp now);
/* Shorthand: `acked` growth-eligible bytes, no RTT sample. */
void p2pq_cc_on_ack(p2pq_cc *cc, uint64_t acked, const p2pq_rtt *rtt, p2pq_tstamp now);
/* OnCongestionEvent: time_sent of the newest lost (or CE-acked) packet.
 * Returns 1 if the window was reduced, 0 if within the recovery period. */
int p2pq_cc_on_congestion_event(p2pq_cc *cc, p2pq_tstamp time_sent, p2pq_tstamp now);
void p2pq_cc_on_persistent_congestion(p2pq_cc *cc, p2pq_tstamp now);

/* 1 while CUBIC's HyStart++ is in conservative slow start. */
int p2pq_cc_cubic_in_css(const p2pq_cc *cc);

/* CUBIC helpers, exposed for tests: W_cubic(t) = C*(t-K)^3 + W_max in bytes
 * (t in seconds since the epoch start), and K in seconds. */
double p2pq_cc_cubic_w(const p2pq_cc *cc, double t);
double p2pq_cc_cubic_k(const p2pq_cc *cc);

#endif
