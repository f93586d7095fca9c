/* HTTP/3 receive side: stream typing, frame sequencing per stream kind, and
 * the connection and stream errors RFC 9114 sections 6, 7 and 8 ask for. */
#include <stdlib.h>

#include "common/buf.h"
#include "h3/conn_int.h"

static int is_local(const p2pq_h3_conn *c, int64_t id) { return (id & 1) == !!c->cfg.is_server; }

/* Data on a stream we do not know yet: the peer opened it. */
static int open_peer_stream(p2pq_h3_conn *c, int64_t sid, h3_stream **out) {
  h3_stream *s;
  *out = NULL;
  if (is_local(c, sid))
    return 0; /* one of ours, already finished and freed */
  if (sid & 2) {
    *out = p2pq_h3_stream_add(c, sid, K_UNTYPED);
    return *out ? 0 : P2PQ_ERR_NOMEM;
  }
  if (!c->cfg.is_server) /* 6.1: no server-initiated bidirectional streams */
    return p2pq_h3_conn_fail(c, P2PQ_H3_STREAM_CREATION_ERROR);
  if (p2pq_h3_req_closed(c, sid))
    return 0; /* a finished request */
  if (sid > c->max_req_seen)
    c->max_req_seen = sid;
  if (!(s = p2pq_h3_stream_add(c, sid, K_REQUEST)))
    return P2PQ_ERR_NOMEM;
  *out = s;
  /* 5.2: requests at or past our GOAWAY id are not processed */
  if (c->goaway_sent != H3_NONE && (uint64_t)sid >= c->goaway_sent)
    return p2pq_h3_stream_fail(c, s, P2PQ_H3_REQUEST_REJECTED);
  return 0;
}

static int uni_type(p2pq_h3_conn *c, h3_stream *s) {
  p2pq_rd r;
  uint64_t t;
  int *have = NULL;
  enum h3_kind k = K_IGNORED;
  p2pq_rd_init(&r, p2pq_h3_bytes_head(&s->in), p2pq_h3_bytes_avail(&s->in));
  if (p2pq_rd_varint(&r, &t) < 0) {
    if (s->fin_recvd) /* ended before its type: nothing to do */
      s->recv_done = 1;
    return 0;
  }
  p2pq_h3_bytes_consume(&s->in, p2pq_h3_bytes_avail(&s->in) - p2pq_rd_left(&r));
  switch (t) {
  case P2PQ_H3_STREAM_CONTROL: have = &c->have_ctrl; k = K_CONTROL; break;
  case P2PQ_H3_STREAM_QPACK_ENCODER: have = &c->have_qenc; k = K_QENC; break;
  case P2PQ_H3_STREAM_QPACK_DECODER: have = &c->have_qdec; k = K_QDEC; break;
  case P2PQ_H3_STREAM_PUSH:
    /* a client never sent MAX_PUSH_ID, so every push ID is beyond it (4.6);
     * clients cannot push at all (6.2.2) */
    return p2pq_h3_conn_fail(c, c->cfg.is_server ? P2PQ_H3_STREAM_CREATION_ERROR
                                                 : P2PQ_H3_ID_ERROR);
  default: break;
  }
  if (have) {
    if (*have) /* 6.2.1: only one of each */
      return p2pq_h3_conn_fail(c, P2PQ_H3_STREAM_CREATION_ERROR);
    *have = 1;
    s->kind = k;
    return 0;
  }
  /* 6.2.3: unknown (and grease) stream types are ignored */
  s->kind = K_IGNORED;
  s->recv_done = 1;
  p2pq_h3_bytes_clear(&s->in);
  return p2pq_h3_ev_push(c, P2PQ_H3_EV_STOP_READING, s->id, P2PQ_H3_STREAM_CREATION_ERROR, NULL,
                         NULL, 0);
}

static int one_varint(const uint8_t *p, size_t len, uint64_t *v) {
  p2pq_rd r;
  p2pq_rd_init(&r, p, len);
  return p2pq_rd_varint(&r, v) < 0 || p2pq_rd_left(&r) ? -1 : 0;
}

static int on_settings(p2pq_h3_conn *c, const uint8_t *p, size_t len) {
  uint64_t err = 0;
  size_t unknown;
  if (p2pq_h3_settings_decode(p, len, &c->peer, &unknown, &err) < 0)
    return p2pq_h3_conn_fail(c, err);
  c->got_settings = 1;
  p2pq_h3_qenc_set_peer(c->qenc, c->peer.qpack_max_table_capacity, c->peer.qpack_blocked_streams);
  return p2pq_h3_ev_push(c, P2PQ_H3_EV_SETTINGS, -1, 0, NULL, NULL, 0);
}

static int on_goaway(p2pq_h3_conn *c, uint64_t id) {
  /* 5.2: a server's GOAWAY names a client request stream; ids never grow */
  if ((!c->cfg.is_server && (id & 3) != 0) || (c->goaway_recvd != H3_NONE && id > c->goaway_recvd))
    return p2pq_h3_conn_fail(c, P2PQ_H3_ID_ERROR);
  c->goaway_recvd = id;
  return p2pq_h3_ev_push(c, P2PQ_H3_EV_GOAWAY, -1, 0, NULL, NULL, 0);
}

static int control_frame(p2pq_h3_conn *c, uint64_t type, const uint8_t *p, size_t len) {
  uint64_t v;
  if (type == P2PQ_H3_FRAME_SETTINGS)
    return on_settings(c, p, len);
  if (one_varint(p, len, &v) < 0)
    return p2pq_h3_conn_fail(c, P2PQ_H3_FRAME_ERROR);
  switch (type) {
  case P2PQ_H3_FRAME_GOAWAY: return on_goaway(c, v);
  case P2PQ_H3_FRAME_MAX_PUSH_ID:
    if (!c->cfg.is_server) /* 7.2.7 */
      return p2pq_h3_conn_fail(c, P2PQ_H3_FRAME_UNEXPECTED);
    if (c->max_push_recvd != H3_NONE && v < c->max_push_recvd)
      return p2pq_h3_conn_fail(c, P2PQ_H3_ID_ERROR);
    c->max_push_recvd = v;
    return 0;
  default: /* CANCEL_PUSH: we never push, and a client never allows pushes */
    if (!c->cfg.is_server || c->max_push_recvd == H3_NONE || v > c->max_push_recvd)
      return p2pq_h3_conn_fail(c, P2PQ_H3_ID_ERROR);
    return 0;
  }
}

/* Content-Length does not describe the body of HEAD, 204 and 304 responses. */
static int body_counted(const p2pq_h3_conn *c, const h3_stream *s) {
  if (s->rinfo.content_length < 0)
    return 0;
  return c->cfg.is_server ||
         !(s->req_head || s->rinfo.status == 204 || s->rinfo.status == 304);
}

static int headers_done(p2pq_h3_conn *c, h3_stream *s) {
  p2pq_h3_event_type ev = P2PQ_H3_EV_HEADERS;
  int bad;
  if (s->rmsg == M_BODY) {
    bad = p2pq_h3_check_trailers(s->hdr.v, s->hdr.n);
    ev = P2PQ_H3_EV_TRAILERS;
  } else if (c->cfg.is_server) {
    bad = p2pq_h3_check_request(s->hdr.v, s->hdr.n, c->cfg.local.enable_connect_protocol,
                                &s->rinfo);
  } else {
    bad = p2pq_h3_check_response(s->hdr.v, s->hdr.n, &s->rinfo);
  }
  if (bad < 0)
    return p2pq_h3_stream_fail(c, s, P2PQ_H3_MESSAGE_ERROR);
  if (ev == P2PQ_H3_EV_TRAILERS)
    s->rmsg = M_TRAILERS;
  else if (c->cfg.is_server || s->rinfo.status >= 200) /* 1xx: a final response follows */
    s->rmsg = M_BODY;
  return p2pq_h3_ev_push(c, ev, s->id, 0, &s->hdr, NULL, 0);
}

/* Returns 1 when blocked on the encoder stream (the frame stays buffered). */
static int request_headers(p2pq_h3_conn *c, h3_stream *s, const uint8_t *p, size_t len) {
  uint64_t err = 0;
  int rc;
  if (s->rmsg == M_TRAILERS || s->rmsg == M_DONE) /* 4.1: nothing after trailers */
    return p2pq_h3_conn_fail(c, P2PQ_H3_FRAME_UNEXPECTED);
  rc = p2pq_h3_qdec_decode(c->qdec, s->id, &s->qsec, p, len, c->cfg.local.max_field_section_size,
                           &s->hdr, &err);
  if (rc == 1) {
    if (!s->blocked) {
      if (c->nblocked >= c->cfg.local.qpack_blocked_streams) /* RFC 9204 2.1.2 */
        return p2pq_h3_conn_fail(c, P2PQ_H3_QPACK_DECOMPRESSION_FAILED);
      s->blocked = 1;
      c->nblocked++;
    }
    return 1;
  }
  if (rc == P2PQ_ERR_H3) {
    p2pq_h3_fields_clear(&s->hdr);
    if (err == P2PQ_H3_EXCESSIVE_LOAD)
      return p2pq_h3_stream_fail(c, s, err);
    return p2pq_h3_conn_fail(c, err);
  }
  if (rc < 0)
    return rc;
  if ((rc = p2pq_h3_flush_qdec(c)) < 0) /* Section Acknowledgment */
    return rc;
  return headers_done(c, s);
}

static int on_body(p2pq_h3_conn *c, h3_stream *s, const uint8_t *p, size_t n) {
  s->body_recvd += n;
  if (body_counted(c, s) && s->body_recvd > (uint64_t)s->rinfo.content_length)
    return p2pq_h3_stream_fail(c, s, P2PQ_H3_MESSAGE_ERROR); /* 4.1.2 */
  return p2pq_h3_ev_push(c, P2PQ_H3_EV_DATA, s->id, 0, NULL, p, n);
}

static int is_h2_only_frame(uint64_t t) { return t == 0x02 || t == 0x06 || t == 0x08 || t == 0x09; }

/* Which frames may appear where (7.2): returns a connection error code or 0. */
static uint64_t frame_allowed(const p2pq_h3_conn *c, const h3_stream *s, uint64_t type) {
  if (is_h2_only_frame(type)) /* 7.2.8 */
    return P2PQ_H3_FRAME_UNEXPECTED;
  if (s->kind == K_CONTROL) {
    if (!c->got_settings && type != P2PQ_H3_FRAME_SETTINGS) /* 6.2.1 */
      return P2PQ_H3_MISSING_SETTINGS;
    if (type == P2PQ_H3_FRAME_DATA || type == P2PQ_H3_FRAME_HEADERS ||
        type == P2PQ_H3_FRAME_PUSH_PROMISE ||
        (type == P2PQ_H3_FRAME_SETTINGS && c->got_settings))
      return P2PQ_H3_FRAME_UNEXPECTED;
    return 0;
  }
  switch (type) {
  case P2PQ_H3_FRAME_SETTINGS:
  case P2PQ_H3_FRAME_GOAWAY:
  case P2PQ_H3_FRAME_MAX_PUSH_ID:
  case P2PQ_H3_FRAME_CANCEL_PUSH: return P2PQ_H3_FRAME_UNEXPECTED;
  case P2PQ_H3_FRAME_PUSH_PROMISE:
    return c->cfg.is_server ? P2PQ_H3_FRAME_UNEXPECTED : P2PQ_H3_ID_ERROR;
  case P2PQ_H3_FRAME_DATA: return s->rmsg == M_BODY ? 0 : P2PQ_H3_FRAME_UNEXPECTED;
  default: return 0;
  }
}

static int is_known_whole(uint64_t t) {
  return t == P2PQ_H3_FRAME_SETTINGS || t == P2PQ_H3_FRAME_GOAWAY ||
         t == P2PQ_H3_FRAME_MAX_PUSH_ID || t == P2PQ_H3_FRAME_CANCEL_PUSH ||
         t == P2PQ_H3_FRAME_HEADERS;
}

/* Returns 0 after progress, 1 when more input is needed, or an error. */
static int on_frame(p2pq_h3_conn *c, h3_stream *s, uint64_t type, uint64_t plen, size_t hl) {
  uint64_t err = frame_allowed(c, s, type), limit;
  const uint8_t *p;
  int rc;
  if (err)
    return p2pq_h3_conn_fail(c, err);
  if (type == P2PQ_H3_FRAME_DATA || !is_known_whole(type)) {
    p2pq_h3_bytes_consume(&s->in, hl);
    if (type == P2PQ_H3_FRAME_DATA)
      s->data_left = plen;
    else
      s->skip_left = plen; /* 9: unknown and grease frames are skipped */
    return 0;
  }
  limit = type == P2PQ_H3_FRAME_HEADERS ? c->cfg.local.max_field_section_size
                                        : c->cfg.max_frame_size;
  if (plen > limit) {
    if (s->kind == K_REQUEST)
      return p2pq_h3_stream_fail(c, s, P2PQ_H3_EXCESSIVE_LOAD);
    return p2pq_h3_conn_fail(c, P2PQ_H3_EXCESSIVE_LOAD);
  }
  if (p2pq_h3_bytes_avail(&s->in) - hl < plen)
    return 1;
  p = p2pq_h3_bytes_head(&s->in) + hl;
  rc = s->kind == K_CONTROL ? control_frame(c, type, p, (size_t)plen)
                            : request_headers(c, s, p, (size_t)plen);
  if (rc != 0)
    return rc;
  p2pq_h3_bytes_consume(&s->in, hl + (size_t)plen);
  return 0;
}

static int stream_end(p2pq_h3_conn *c, h3_stream *s) {
  if (s->kind == K_CONTROL) /* 6.2.1 */
    return p2pq_h3_conn_fail(c, P2PQ_H3_CLOSED_CRITICAL_STREAM);
  if (p2pq_h3_bytes_avail(&s->in) || s->data_left || s->skip_left) /* 7.1 */
    return p2pq_h3_conn_fail(c, P2PQ_H3_FRAME_ERROR);
  if (s->rmsg == M_HEADERS)
    return p2pq_h3_stream_fail(c, s, P2PQ_H3_REQUEST_INCOMPLETE);
  if (body_counted(c, s) && s->body_recvd != (uint64_t)s->rinfo.content_length)
    return p2pq_h3_stream_fail(c, s, P2PQ_H3_MESSAGE_ERROR);
  s->rmsg = M_DONE;
  s->recv_done = 1;
  return p2pq_h3_ev_push(c, P2PQ_H3_EV_FIN, s->id, 0, NULL, NULL, 0);
}

static int frames(p2pq_h3_conn *c, h3_stream *s) {
  int rc = 0;
  while (!s->recv_done && !c->conn_err && !s->blocked) {
    size_t avail = p2pq_h3_bytes_avail(&s->in), n, hl;
    uint64_t type, plen;
    if (s->skip_left || s->data_left) {
      uint64_t *left = s->skip_left ? &s->skip_left : &s->data_left;
      if (avail == 0)
        break;
      n = *left < avail ? (size_t)*left : avail;
      if (left == &s->data_left &&
          ((rc = on_body(c, s, p2pq_h3_bytes_head(&s->in), n)) < 0 || s->recv_done))
        break; /* a stream error dropped the stream's input */
      p2pq_h3_bytes_consume(&s->in, n);
      *left -= n;
      continue;
    }
    if (avail == 0 ||
        p2pq_h3_frame_header_decode(p2pq_h3_bytes_head(&s->in), avail, &type, &plen, &hl) < 0)
      break;
    if ((rc = on_frame(c, s, type, plen, hl)) != 0)
      break;
  }
  if (rc < 0 && rc != P2PQ_ERR_H3)
    return rc;
  if (!s->recv_done && !c->conn_err && !s->blocked && s->fin_recvd)
    return stream_end(c, s);
  return 0;
}

/* Encoder instructions may unblock field sections waiting for them. */
static int unblock(p2pq_h3_conn *c) {
  h3_stream *s;
  int rc;
  for (s = c->streams; s && !c->conn_err; s = s->next) {
    if (!s->blocked)
      continue;
    s->blocked = 0;
    c->nblocked--;
    if ((rc = frames(c, s)) < 0)
      return rc;
  }
  return 0;
}

static int qpack_stream(p2pq_h3_conn *c, h3_stream *s) {
  const uint8_t *p = p2pq_h3_bytes_head(&s->in);
  size_t n = p2pq_h3_bytes_avail(&s->in);
  uint64_t err = 0;
  int rc = 0;
  if (n) {
    rc = s->kind == K_QENC ? p2pq_h3_qdec_read_encoder(c->qdec, p, n, &err)
                           : p2pq_h3_qenc_read_decoder(c->qenc, p, n, &err);
    p2pq_h3_bytes_consume(&s->in, n);
    if (rc == P2PQ_ERR_H3)
      return p2pq_h3_conn_fail(c, err);
    if (rc < 0)
      return rc;
    if (s->kind == K_QENC && ((rc = unblock(c)) < 0 || (rc = p2pq_h3_flush_qdec(c)) < 0))
      return rc;
  }
  if (s->fin_recvd && !c->conn_err) /* RFC 9204 4.2 */
    return p2pq_h3_conn_fail(c, P2PQ_H3_CLOSED_CRITICAL_STREAM);
  return 0;
}

int p2pq_h3_stream_process(p2pq_h3_conn *c, h3_stream *s) {
  int rc;
  if (s->kind == K_UNTYPED) {
    if ((rc = uni_type(c, s)) < 0 || s->kind == K_UNTYPED || s->recv_done)
      return rc;
  }
  switch (s->kind) {
  case K_CONTROL:
  case K_REQUEST: return frames(c, s);
  case K_QENC:
  case K_QDEC: return qpack_stream(c, s);
  default: p2pq_h3_bytes_clear(&s->in); return 0;
  }
}

int p2pq_h3_conn_recv(p2pq_h3_conn *c, int64_t stream_id, const uint8_t *data, size_t len,
                      int fin) {
  h3_stream *s;
  int rc;
  if (!c || stream_id < 0 || (!data && len))
    return P2PQ_ERR_INVALID_ARG;
  if (c->conn_err)
    return P2PQ_ERR_H3;
  s = p2pq_h3_stream_find(c, stream_id);
  if (!s && (rc = open_peer_stream(c, stream_id, &s)) < 0)
    return rc;
  if (!s || s->recv_done)
    return 0;
  if (s->kind == K_LOCAL_UNI)
    return P2PQ_ERR_INVALID_ARG; /* the peer cannot send on our unidirectional streams */
  if ((rc = p2pq_h3_bytes_append(&s->in, data, len)) < 0)
    return rc;
  if (fin)
    s->fin_recvd = 1;
  rc = p2pq_h3_stream_process(c, s);
  p2pq_h3_gc(c);
  if (rc == 0 && c->conn_err)
    rc = P2PQ_ERR_H3;
  return rc;
}

int p2pq_h3_conn_recv_reset(p2pq_h3_conn *c, int64_t stream_id, uint64_t error_code) {
  h3_stream *s;
  int rc = 0;
  if (!c || stream_id < 0)
    return P2PQ_ERR_INVALID_ARG;
  if (c->conn_err)
    return P2PQ_ERR_H3;
  if (!(s = p2pq_h3_stream_find(c, stream_id)) || s->recv_done)
    return 0;
  switch (s->kind) {
  case K_CONTROL:
  case K_QENC:
  case K_QDEC: return p2pq_h3_conn_fail(c, P2PQ_H3_CLOSED_CRITICAL_STREAM);
  case K_REQUEST:
    p2pq_h3_stream_qcancel(c, s);
    rc = p2pq_h3_ev_push(c, P2PQ_H3_EV_STREAM_RESET, s->id, error_code, NULL, NULL, 0);
    break;
  default: break;
  }
  s->recv_done = 1;
  p2pq_h3_bytes_clear(&s->in);
  p2pq_h3_gc(c);
  return rc;
}
