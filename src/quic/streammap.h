/* All streams of one connection (RFC 9000 sections 2.1, 4.6, 19.11):
 * id -> stream hash map, stream-count limits in both directions (MAX_STREAMS,
 * implicit opening of lower-numbered peer streams), the connection-level flow
 * control, send scheduling and removal of finished streams.
 *
 * Receiving a stream frame:
 *   p2pq_streammap_get(m, id, P2PQ_DIR_RECV or P2PQ_DIR_SEND, &st)
 *   -> STREAM_STATE / STREAM_LIMIT errors, or st == NULL for a stream that is
 *      already closed (ignore the frame), or the stream, opened on demand; new
 *      peer streams are in [first, m->peer_opened[uni]) (see
 *      p2pq_streammap_take_opened) for STREAM_OPENED events.
 *   then p2pq_stream_on_*(st, &m->fc_recv, ...).
 * Building a packet:
 *   while ((st = p2pq_streammap_next_ctrl(m))) write what p2pq_stream_wants()
 *     says (RESET_STREAM, STOP_SENDING, MAX_STREAM_DATA, STREAM_DATA_BLOCKED);
 *     call p2pq_streammap_schedule(m, st) if something did not fit;
 *   while ((st = p2pq_streammap_next_data(m))) { STREAM frame(s) from
 *     p2pq_stream_next_data(st, &m->fc_send, ...) + p2pq_stream_on_data_sent;
 *     p2pq_streammap_rotate(m, st); }   -> round robin within an urgency class
 * Connection-level MAX_DATA / DATA_BLOCKED come from m->fc_recv / m->fc_send;
 * MAX_STREAMS from p2pq_streammap_max_streams_due. Call p2pq_streammap_gc()
 * once per received packet or so to free finished streams. */
#ifndef P2PQ_QUIC_STREAMMAP_H
#define P2PQ_QUIC_STREAMMAP_H

#include <stddef.h>
#include <stdint.h>

#include "quic/flowctl.h"
#include "quic/stream.h"

#define P2PQ_MAX_STREAMS_LIMIT (1ull << 60) /* RFC 9000 4.6 */

/* Which side of a stream a received frame concerns. */
enum {
  P2PQ_DIR_RECV = 0, /* STREAM, RESET_STREAM, STREAM_DATA_BLOCKED */
  P2PQ_DIR_SEND = 1, /* MAX_STREAM_DATA, STOP_SENDING */
};

/* Our side of the transport parameters, plus local policy. */
typedef struct p2pq_streammap_config {
  int is_server;
  uint64_t max_streams_bidi;   /* initial_max_streams_bidi we advertise */
  uint64_t max_streams_uni;    /* initial_max_streams_uni we advertise */
  uint64_t stream_window_bidi_local;  /* initial_max_stream_data_bidi_local */
  uint64_t stream_window_bidi_remote; /* initial_max_stream_data_bidi_remote */
  uint64_t stream_window_uni;         /* initial_max_stream_data_uni */
  uint64_t stream_max_window;  /* stream window auto-tuning ceiling */
  uint64_t conn_window;        /* initial_max_data */
  uint64_t conn_max_window;    /* connection window auto-tuning ceiling */
  uint64_t send_buffer_max;    /* per stream, bytes queued and unacked (0: no cap) */
} p2pq_streammap_config;

/* The peer's transport parameters that concern streams. */
typedef struct p2pq_streammap_peer {
  uint64_t max_streams_bidi, max_streams_uni;
  uint64_t max_data;
  uint64_t max_stream_data_bidi_local, max_stream_data_bidi_remote, max_stream_data_uni;
} p2pq_streammap_peer;

typedef struct p2pq_streammap {
  p2pq_streammap_config cfg;
  p2pq_streammap_peer peer;
  p2pq_stream **buckets;
  size_t nbuckets, count;
  /* index [0] bidi, [1] uni */
  uint64_t local_opened[2]; /* streams we opened */
  uint64_t peer_limit[2];   /* how many we may open (the peer's MAX_STREAMS) */
  uint64_t peer_opened[2];  /* streams the peer opened (incl. implicitly) */
  uint64_t peer_reported[2]; /* peer streams already returned by take_opened */
  uint64_t peer_closed[2];  /* peer streams finished and freed */
  uint64_t our_limit[2];    /* MAX_STREAMS we advertised */
  int max_streams_pending[2]; /* resend MAX_STREAMS (lost) */
  uint64_t blocked_at[2];   /* STREAMS_BLOCKED sent for this limit (UINT64_MAX none) */
  int streams_blocked[2];   /* open failed at the limit: STREAMS_BLOCKED is due */
  p2pq_fc_send fc_send;     /* connection-level: MAX_DATA from the peer */
  p2pq_fc_recv fc_recv;     /* connection-level: our MAX_DATA */
  /* scheduling */
  p2pq_stream *qhead[P2PQ_STREAM_URGENCIES + 1], *qtail[P2PQ_STREAM_URGENCIES + 1];
  p2pq_stream *chead, *ctail; /* control frames due */
  p2pq_stream *done;          /* finished, freed by gc */
} p2pq_streammap;

int p2pq_streammap_init(p2pq_streammap *m, const p2pq_streammap_config *cfg);
void p2pq_streammap_clear(p2pq_streammap *m);
/* Applies the peer's transport parameters (also to streams opened before). */
void p2pq_streammap_set_peer(p2pq_streammap *m, const p2pq_streammap_peer *peer);

/* Opens our next stream. P2PQ_ERR_STREAM_LIMIT at the peer's MAX_STREAMS
 * (STREAMS_BLOCKED then becomes due). */
int p2pq_streammap_open(p2pq_streammap *m, int uni, p2pq_stream **out);
/* Stream for a received frame; see the header comment. */
int p2pq_streammap_get(p2pq_streammap *m, uint64_t id, int dir, p2pq_stream **out);
/* Existing stream or NULL (no opening, no checks). */
p2pq_stream *p2pq_streammap_find(const p2pq_streammap *m, uint64_t id);
/* Next peer-opened stream ID not yet reported (for STREAM_OPENED events);
 * returns 1 and sets *id, or 0. Closed ones are still reported, in order. */
int p2pq_streammap_take_opened(p2pq_streammap *m, uint64_t *id);

/* MAX_STREAMS frame received: P2PQ_ERR_FRAME_ENCODING above 2^60; returns 1
 * if the limit went up (streams may be opened again). */
int p2pq_streammap_on_max_streams(p2pq_streammap *m, int uni, uint64_t max);
/* MAX_DATA frame received: returns 1 if the limit went up (conn-blocked
 * streams are queued again). */
int p2pq_streammap_on_max_data(p2pq_streammap *m, uint64_t max);
/* 1 and *max when a MAX_STREAMS frame should go out (closed peer streams gave
 * credit back, or the last one was lost); _sent records it. */
int p2pq_streammap_max_streams_due(const p2pq_streammap *m, int uni, uint64_t *max);
void p2pq_streammap_max_streams_sent(p2pq_streammap *m, int uni, uint64_t max);
void p2pq_streammap_max_streams_lost(p2pq_streammap *m, int uni, uint64_t max);
/* 1 and *limit when STREAMS_BLOCKED should go out; _sent records it. */
int p2pq_streammap_streams_blocked_due(const p2pq_streammap *m, int uni, uint64_t *limit);
void p2pq_streammap_streams_blocked_sent(p2pq_streammap *m, int uni);

/* Scheduling (see the header comment). schedule is called by the stream
 * functions themselves; call it directly only to requeue a stream. */
void p2pq_streammap_schedule(p2pq_streammap *m, p2pq_stream *st);
p2pq_stream *p2pq_streammap_next_ctrl(p2pq_streammap *m);
p2pq_stream *p2pq_streammap_next_data(p2pq_streammap *m);
void p2pq_streammap_rotate(p2pq_streammap *m, p2pq_stream *st);
/* Takes st out of whatever data queue it is in. */
void p2pq_streammap_unqueue(p2pq_streammap *m, p2pq_stream *st);

/* Frees finished streams; returns how many. Peer streams give MAX_STREAMS
 * credit back. */
size_t p2pq_streammap_gc(p2pq_streammap *m);

#endif
