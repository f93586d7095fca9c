/* Flow control (RFC 9000 section 4) for one stream or for the connection.
 *
 * Send side: the peer's limit (initial transport parameter, then MAX_DATA /
 * MAX_STREAM_DATA) against what we sent. When we have data but no credit, one
 * DATA_BLOCKED / STREAM_DATA_BLOCKED is due per limit value.
 *
 * Receive side: the limit we advertised against the highest offset received
 * and what the application consumed. A new MAX_DATA / MAX_STREAM_DATA is due
 * once the application consumed half the window. Window auto-tuning: when a
 * window's worth is consumed within 2 RTT of the previous update, the window
 * doubles up to max_window, so a fast reader is never throttled by a small
 * initial window (the approach of ngtcp2 and quiche).
 *
 * For a stream "sent"/"highest" are stream offsets; for the connection they are
 * sums over streams (the caller adds deltas). */
#ifndef P2PQ_QUIC_FLOWCTL_H
#define P2PQ_QUIC_FLOWCTL_H

#include <stdint.h>

#include "p2pq/types.h"

typedef struct p2pq_fc_send {
  uint64_t limit;        /* the peer's limit */
  uint64_t sent;         /* bytes counted against it */
  uint64_t blocked_at;   /* limit for which a BLOCKED frame was sent (or UINT64_MAX) */
} p2pq_fc_send;

void p2pq_fc_send_init(p2pq_fc_send *fc, uint64_t limit);
/* Bytes that may still be sent. */
static inline uint64_t p2pq_fc_send_credit(const p2pq_fc_send *fc) {
  return fc->limit > fc->sent ? fc->limit - fc->sent : 0;
}
/* A MAX_DATA / MAX_STREAM_DATA arrived: returns 1 if the limit went up
 * (smaller values are ignored, RFC 9000 section 4.1). */
int p2pq_fc_send_update(p2pq_fc_send *fc, uint64_t limit);
/* Counts n more bytes sent; P2PQ_ERR_FLOW_CONTROL if that passes the limit. */
int p2pq_fc_send_add(p2pq_fc_send *fc, uint64_t n);
/* 1 when a BLOCKED frame (carrying fc->limit) should be sent: we have data
 * waiting (have_data), no credit, and none was sent for this limit yet. */
int p2pq_fc_send_blocked_due(const p2pq_fc_send *fc, int have_data);
/* The BLOCKED frame for the current limit went out / was lost. */
void p2pq_fc_send_blocked_sent(p2pq_fc_send *fc);
void p2pq_fc_send_blocked_lost(p2pq_fc_send *fc, uint64_t limit);

typedef struct p2pq_fc_recv {
  uint64_t limit;        /* the limit we advertised */
  uint64_t window;       /* current window: limit = consumed + window at updates */
  uint64_t max_window;   /* auto-tuning ceiling */
  uint64_t highest;      /* bytes counted against limit (highest offset received) */
  uint64_t consumed;     /* bytes the application read (or discarded) */
  p2pq_tstamp last_update; /* when the limit was last raised (0: never) */
  int update_pending;    /* a MAX_* frame should be (re)sent */
} p2pq_fc_recv;

/* window: initial limit and window; max_window: auto-tuning ceiling (>= window). */
void p2pq_fc_recv_init(p2pq_fc_recv *fc, uint64_t window, uint64_t max_window);
/* Data arrived raising the counted total by delta (stream: new highest offset
 * minus the old one). P2PQ_ERR_FLOW_CONTROL if that passes our limit. */
int p2pq_fc_recv_add(p2pq_fc_recv *fc, uint64_t delta);
/* The application consumed n bytes. */
void p2pq_fc_recv_consume(p2pq_fc_recv *fc, uint64_t n);
/* 1 when a new limit should be advertised: half the window consumed, or an
 * earlier MAX_* frame was lost. */
int p2pq_fc_recv_update_due(const p2pq_fc_recv *fc);
/* Computes and takes the new limit (auto-tuning with rtt and now), clears the
 * pending flag and returns the limit to put in MAX_DATA / MAX_STREAM_DATA. */
uint64_t p2pq_fc_recv_update(p2pq_fc_recv *fc, p2pq_tstamp rtt, p2pq_tstamp now);
/* A MAX_* frame carrying limit was lost: resend if it is still the current one. */
void p2pq_fc_recv_update_lost(p2pq_fc_recv *fc, uint64_t limit);
/* Raises the window to at least w (e.g. the connection window follows a stream
 * window that grew), bounded by max_window. */
void p2pq_fc_recv_grow(p2pq_fc_recv *fc, uint64_t w);

#endif
