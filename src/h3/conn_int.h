/* Internals of the HTTP/3 connection shared by conn.c (object, output,
 * submissions) and recv.c (input, frame sequencing, errors). */
#ifndef P2PQ_H3_CONN_INT_H
#define P2PQ_H3_CONN_INT_H

#include "h3/bytes.h"
#include "h3/message.h"
#include "h3/qpack.h"
#include "p2pq/h3.h"

enum h3_kind {
  K_REQUEST,  /* bidirectional request stream */
  K_UNTYPED,  /* peer unidirectional stream whose type is not read yet */
  K_CONTROL,  /* peer control stream */
  K_QENC,     /* peer QPACK encoder stream */
  K_QDEC,     /* peer QPACK decoder stream */
  K_IGNORED,  /* unknown unidirectional stream type: discard */
  K_LOCAL_UNI /* one of ours */
};

/* Where a message (either direction) is: headers first, then body, then trailers. */
enum h3_msg { M_HEADERS, M_BODY, M_TRAILERS, M_DONE };

typedef struct h3_stream {
  int64_t id;
  enum h3_kind kind;
  /* receive side */
  p2pq_h3_bytes in;   /* unparsed bytes */
  uint64_t data_left; /* payload bytes of the current DATA frame still to deliver */
  uint64_t skip_left; /* payload bytes of an ignored frame still to skip */
  enum h3_msg rmsg;
  int fin_recvd, recv_done, blocked;
  p2pq_h3_qsec *qsec; /* QPACK progress of a blocked field section */
  p2pq_h3_fields hdr; /* fields decoded so far of that section */
  p2pq_h3_msginfo rinfo;
  uint64_t body_recvd;
  int req_head;       /* client: our request was HEAD (no response body) */
  int connect_protocol; /* client: our request was extended CONNECT */
  /* send side */
  p2pq_h3_bytes out;
  enum h3_msg smsg;
  int out_fin, fin_sent;
  struct h3_stream *next;
} h3_stream;

typedef struct h3_evnode {
  p2pq_h3_event ev;
  p2pq_h3_fields fields;
  uint8_t *data;
  struct h3_evnode *next;
} h3_evnode;

struct p2pq_h3_conn {
  p2pq_h3_config cfg;
  h3_stream *streams, *streams_tail;
  int64_t next_bidi, next_uni;
  h3_stream *ctrl, *qenc_s, *qdec_s; /* our unidirectional streams */
  int have_ctrl, have_qenc, have_qdec;
  int got_settings;
  p2pq_h3_settings peer;
  uint64_t conn_err;
  h3_evnode *ev_head, *ev_tail, *ev_cur;
  p2pq_h3_qenc *qenc;
  p2pq_h3_qdec *qdec;
  uint64_t goaway_recvd, goaway_sent; /* UINT64_MAX: none */
  int64_t max_req_seen;               /* server: highest request stream id, -1 */
  /* server: request streams already finished and freed (QUIC may deliver a
   * higher stream's data first, so "below the highest seen" is not enough):
   * every id below closed_below, plus the ids in closed[] */
  int64_t closed_below;
  int64_t *closed;
  size_t nclosed, capclosed;
  uint64_t max_push_recvd;            /* server: from MAX_PUSH_ID, UINT64_MAX: none */
  size_t nblocked;
};

#define H3_NONE UINT64_MAX

h3_stream *p2pq_h3_stream_find(p2pq_h3_conn *c, int64_t id);
h3_stream *p2pq_h3_stream_add(p2pq_h3_conn *c, int64_t id, enum h3_kind kind);
/* Queues an event; fields and data are copied. */
int p2pq_h3_ev_push(p2pq_h3_conn *c, p2pq_h3_event_type type, int64_t sid, uint64_t code,
                    p2pq_h3_fields *fields, const uint8_t *data, size_t len);
/* Connection error: records it, queues the event, returns P2PQ_ERR_H3. */
int p2pq_h3_conn_fail(p2pq_h3_conn *c, uint64_t code);
/* Stream error: queues the event, abandons both directions of s. */
int p2pq_h3_stream_fail(p2pq_h3_conn *c, h3_stream *s, uint64_t code);
/* Moves pending QPACK decoder-stream instructions to our decoder stream. */
int p2pq_h3_flush_qdec(p2pq_h3_conn *c);
/* Processes buffered input of s. */
int p2pq_h3_stream_process(p2pq_h3_conn *c, h3_stream *s);
/* True if the peer's request stream id was finished and freed. */
int p2pq_h3_req_closed(const p2pq_h3_conn *c, int64_t id);
/* Frees request streams finished both ways. */
void p2pq_h3_gc(p2pq_h3_conn *c);
/* Forgets a stream's QPACK decoding state, telling the peer's encoder. */
void p2pq_h3_stream_qcancel(p2pq_h3_conn *c, h3_stream *s);

#endif
