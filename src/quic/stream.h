/* One QUIC stream (RFC 9000 sections 2 and 3): the send and receive state
 * machines, their buffers and stream-level flow control, RESET_STREAM and
 * STOP_SENDING, and the stream-ID rules.
 *
 * A stream is usually created by p2pq_streammap (streammap.h), which also owns
 * the connection-level flow control (map->fc_send, map->fc_recv) that the
 * functions below take as conn_send / conn_recv (NULL: no connection limit).
 * When the stream belongs to a map, every call that may give it something to
 * send (data, RESET_STREAM, STOP_SENDING, MAX_STREAM_DATA, STREAM_DATA_BLOCKED)
 * queues it in the map by itself, and a finished stream is queued for
 * p2pq_streammap_gc().
 *
 * Frames in (after p2pq_streammap_get() found the stream):
 *   STREAM              p2pq_stream_on_stream()
 *   RESET_STREAM        p2pq_stream_on_reset()
 *   STOP_SENDING        p2pq_stream_on_stop_sending()
 *   MAX_STREAM_DATA     p2pq_stream_on_max_stream_data()
 *   STREAM_DATA_BLOCKED p2pq_stream_on_data_blocked()
 * Frames out (p2pq_stream_wants() says which are due):
 *   STREAM              p2pq_stream_next_data() + p2pq_stream_on_data_sent()
 *   RESET_STREAM        st->reset_code, st->reset_final; p2pq_stream_on_reset_sent()
 *   STOP_SENDING        st->stop_code; p2pq_stream_on_stop_sent()
 *   MAX_STREAM_DATA     p2pq_stream_max_data_update()
 *   STREAM_DATA_BLOCKED st->sfc.limit; p2pq_stream_on_blocked_sent()
 * and for each frame of an acknowledged or lost packet the matching
 * p2pq_stream_on_*_acked / _lost call. */
#ifndef P2PQ_QUIC_STREAM_H
#define P2PQ_QUIC_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include "p2pq/types.h"
#include "quic/flowctl.h"
#include "quic/recvbuf.h"
#include "quic/sendbuf.h"

/* ---- stream IDs (RFC 9000 section 2.1) ------------------------------------- */

static inline int p2pq_stream_id_is_uni(uint64_t id) { return (int)((id >> 1) & 1); }
static inline int p2pq_stream_id_is_server(uint64_t id) { return (int)(id & 1); }
/* 1 when an endpoint of this role (is_server) opened the stream. */
static inline int p2pq_stream_id_is_local(uint64_t id, int is_server) {
  return (int)(id & 1) == (is_server ? 1 : 0);
}
static inline int p2pq_stream_id_can_send(uint64_t id, int is_server) {
  return !p2pq_stream_id_is_uni(id) || p2pq_stream_id_is_local(id, is_server);
}
static inline int p2pq_stream_id_can_recv(uint64_t id, int is_server) {
  return !p2pq_stream_id_is_uni(id) || !p2pq_stream_id_is_local(id, is_server);
}
/* n-th stream (from 0) of a type. */
static inline uint64_t p2pq_stream_id_make(uint64_t n, int uni, int server) {
  return (n << 2) | ((uint64_t)(uni ? 1 : 0) << 1) | (uint64_t)(server ? 1 : 0);
}

/* ---- states (RFC 9000 section 3) -------------------------------------------- */

typedef enum p2pq_send_state {
  P2PQ_SEND_NONE = 0, /* receive-only stream */
  P2PQ_SEND_READY,
  P2PQ_SEND_SEND,
  P2PQ_SEND_DATA_SENT,
  P2PQ_SEND_RESET_SENT,
  P2PQ_SEND_DATA_RECVD,
  P2PQ_SEND_RESET_RECVD,
} p2pq_send_state;

typedef enum p2pq_recv_state {
  P2PQ_RECV_NONE = 0, /* send-only stream */
  P2PQ_RECV_RECV,
  P2PQ_RECV_SIZE_KNOWN,
  P2PQ_RECV_DATA_RECVD,
  P2PQ_RECV_RESET_RECVD,
  P2PQ_RECV_DATA_READ,
  P2PQ_RECV_RESET_READ,
} p2pq_recv_state;

/* Bits returned by p2pq_stream_wants(). */
enum {
  P2PQ_STREAM_WANT_DATA = 1,     /* STREAM frame (lost data, new data or FIN) */
  P2PQ_STREAM_WANT_RESET = 2,    /* RESET_STREAM */
  P2PQ_STREAM_WANT_STOP = 4,     /* STOP_SENDING */
  P2PQ_STREAM_WANT_MAX_DATA = 8, /* MAX_STREAM_DATA */
  P2PQ_STREAM_WANT_BLOCKED = 16, /* STREAM_DATA_BLOCKED */
};
#define P2PQ_STREAM_WANT_CTRL                                                              \
  (P2PQ_STREAM_WANT_RESET | P2PQ_STREAM_WANT_STOP | P2PQ_STREAM_WANT_MAX_DATA |           \
   P2PQ_STREAM_WANT_BLOCKED)

#define P2PQ_STREAM_URGENCY_DEFAULT 3 /* 0 = most urgent .. 7 (as in RFC 9218) */
#define P2PQ_STREAM_URGENCIES 8

/* Initial limits of one stream. */
typedef struct p2pq_stream_limits {
  uint64_t send_limit;      /* the peer's initial_max_stream_data_* for this stream */
  uint64_t recv_window;     /* our initial_max_stream_data_* for this stream */
  uint64_t recv_max_window; /* auto-tuning ceiling (>= recv_window) */
  uint64_t send_buffer_max; /* cap on bytes queued and not yet acked (0: none) */
} p2pq_stream_limits;

struct p2pq_streammap;

typedef struct p2pq_stream {
  uint64_t id;
  uint8_t send_state;  /* p2pq_send_state */
  uint8_t recv_state;  /* p2pq_recv_state */
  uint8_t urgency;     /* scheduling class, 0 first; change with p2pq_stream_set_urgency */
  uint8_t reset_pending, stop_pending, discard, peer_stopped;
  p2pq_sendbuf sb;
  p2pq_recvbuf rb;
  p2pq_fc_send sfc;
  p2pq_fc_recv rfc;
  uint64_t send_buffer_max;
  uint64_t reset_code, reset_final; /* our RESET_STREAM */
  uint64_t stop_code;               /* our STOP_SENDING */
  uint64_t peer_reset_code;         /* the peer's RESET_STREAM (recv state Reset*) */
  uint64_t peer_final_size;         /* ... and its final size */
  uint64_t peer_stop_code;          /* the peer's STOP_SENDING (peer_stopped) */
  void *user;                       /* for the connection / application */
  /* owned by p2pq_streammap */
  struct p2pq_streammap *map;
  struct p2pq_stream *hnext;        /* hash chain */
  struct p2pq_stream *qprev, *qnext; /* data queue or conn-blocked list */
  struct p2pq_stream *cprev, *cnext; /* control queue */
  struct p2pq_stream *dnext;        /* done list */
  int8_t queue;                     /* -1 none, 0..7 data queue, 8 conn-blocked */
  uint8_t in_ctrl, in_done;
} p2pq_stream;

/* is_server: our role. The directions the ID allows get their state machines. */
int p2pq_stream_init(p2pq_stream *st, uint64_t id, int is_server,
                     const p2pq_stream_limits *lim);
void p2pq_stream_clear(p2pq_stream *st);
void p2pq_stream_set_urgency(p2pq_stream *st, uint8_t urgency);

/* ---- application side ------------------------------------------------------- */

/* Queues up to len bytes; returns how many were taken (fewer when
 * send_buffer_max is reached) and ends the stream if fin and all were taken.
 * P2PQ_ERR_STATE on a receive-only, finished or reset stream. */
int64_t p2pq_stream_app_write(p2pq_stream *st, const uint8_t *data, size_t len, int fin);
/* Copies up to cap bytes out; *fin is set once the whole stream was read.
 * Returns the count, or P2PQ_ERR_STATE (send-only stream, or the peer reset
 * it: the reset is then reported once and the state becomes Reset Read). */
int64_t p2pq_stream_app_read(p2pq_stream *st, p2pq_fc_recv *conn_recv, uint8_t *out,
                             size_t cap, int *fin);
/* Zero-copy read: next contiguous bytes; then consume n of them. */
void p2pq_stream_app_peek(const p2pq_stream *st, const uint8_t **data, size_t *len, int *fin);
void p2pq_stream_app_consume(p2pq_stream *st, p2pq_fc_recv *conn_recv, size_t n);
/* Abandons sending (RESET_STREAM with code). No-op once all data was acked or
 * the stream was already reset; P2PQ_ERR_STATE on a receive-only stream. */
int p2pq_stream_app_reset(p2pq_stream *st, uint64_t code);
/* Asks the peer to stop sending (STOP_SENDING with code); incoming data is
 * then discarded (and credited back). P2PQ_ERR_STATE on a send-only stream. */
int p2pq_stream_app_stop(p2pq_stream *st, p2pq_fc_recv *conn_recv, uint64_t code);
/* 1 when a read would report something: data, the FIN, or a peer reset. */
int p2pq_stream_readable(const p2pq_stream *st);
/* Credit for new data: min(stream credit, connection credit). */
uint64_t p2pq_stream_send_credit(const p2pq_stream *st, const p2pq_fc_send *conn_send);

/* ---- frames received --------------------------------------------------------- */

/* Errors are connection errors: P2PQ_ERR_STREAM_STATE, FINAL_SIZE, FLOW_CONTROL. */
int p2pq_stream_on_stream(p2pq_stream *st, p2pq_fc_recv *conn_recv, uint64_t off,
                          const uint8_t *data, size_t len, int fin);
int p2pq_stream_on_reset(p2pq_stream *st, p2pq_fc_recv *conn_recv, uint64_t code,
                         uint64_t final_size);
/* Answers with RESET_STREAM carrying the same code, as RFC 9000 3.5 advises. */
int p2pq_stream_on_stop_sending(p2pq_stream *st, uint64_t code);
/* Returns 1 if the send limit went up (the stream may be writable again). */
int p2pq_stream_on_max_stream_data(p2pq_stream *st, uint64_t limit);
int p2pq_stream_on_data_blocked(p2pq_stream *st, uint64_t limit);

/* ---- frames to send ----------------------------------------------------------- */

/* P2PQ_STREAM_WANT_* bits due now (conn_send may be NULL). */
unsigned p2pq_stream_wants(const p2pq_stream *st, const p2pq_fc_send *conn_send);
/* The next STREAM frame payload (at most max bytes), as p2pq_sendbuf_peek. */
int p2pq_stream_next_data(const p2pq_stream *st, const p2pq_fc_send *conn_send, size_t max,
                          p2pq_sendbuf_range *r);
/* The frame went into a packet: counts new bytes against both limits. */
int p2pq_stream_on_data_sent(p2pq_stream *st, p2pq_fc_send *conn_send, uint64_t off,
                             size_t len, int fin);
int p2pq_stream_on_data_acked(p2pq_stream *st, uint64_t off, size_t len, int fin);
int p2pq_stream_on_data_lost(p2pq_stream *st, uint64_t off, size_t len, int fin);

void p2pq_stream_on_reset_sent(p2pq_stream *st);
void p2pq_stream_on_reset_acked(p2pq_stream *st);
void p2pq_stream_on_reset_lost(p2pq_stream *st);
void p2pq_stream_on_stop_sent(p2pq_stream *st);
void p2pq_stream_on_stop_lost(p2pq_stream *st);
/* Takes a new receive limit (auto-tuned with rtt, now) and returns it for a
 * MAX_STREAM_DATA frame; a lost frame: p2pq_stream_on_max_data_lost(limit). */
uint64_t p2pq_stream_max_data_update(p2pq_stream *st, p2pq_tstamp rtt, p2pq_tstamp now);
void p2pq_stream_on_max_data_lost(p2pq_stream *st, uint64_t limit);
void p2pq_stream_on_blocked_sent(p2pq_stream *st);
void p2pq_stream_on_blocked_lost(p2pq_stream *st, uint64_t limit);

/* 1 when both directions reached a terminal state and nothing is left to send:
 * the stream can be freed (p2pq_streammap_gc does it). */
int p2pq_stream_is_done(const p2pq_stream *st);

#endif
