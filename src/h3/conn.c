/* HTTP/3 connection: object life, streams, events, and the send side
 * (control and QPACK streams, requests, responses, bodies, trailers, GOAWAY).
 * The receive side is in recv.c. */
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "h3/conn_int.h"

void p2pq_h3_config_default(p2pq_h3_config *cfg, int is_server) {
  memset(cfg, 0, sizeof *cfg);
  cfg->is_server = is_server;
  p2pq_h3_settings_default(&cfg->local);
  cfg->local.qpack_max_table_capacity = 4096;
  cfg->local.qpack_blocked_streams = 16;
  cfg->local.max_field_section_size = 64 * 1024;
  cfg->local.enable_connect_protocol = is_server ? 1 : 0;
  cfg->local.h3_datagram = 1;
  cfg->encoder_table_capacity = 4096;
  cfg->max_frame_size = 16 * 1024;
  cfg->grease = 1;
}

h3_stream *p2pq_h3_stream_find(p2pq_h3_conn *c, int64_t id) {
  h3_stream *s;
  for (s = c->streams; s; s = s->next)
    if (s->id == id)
      return s;
  return NULL;
}

h3_stream *p2pq_h3_stream_add(p2pq_h3_conn *c, int64_t id, enum h3_kind kind) {
  h3_stream *s = calloc(1, sizeof *s);
  if (!s)
    return NULL;
  s->id = id;
  s->kind = kind;
  /* kept in creation order so our control and QPACK streams are sent first */
  if (c->streams_tail)
    c->streams_tail->next = s;
  else
    c->streams = s;
  c->streams_tail = s;
  return s;
}

static void stream_free(h3_stream *s) {
  p2pq_h3_bytes_clear(&s->in);
  p2pq_h3_bytes_clear(&s->out);
  p2pq_h3_fields_clear(&s->hdr);
  p2pq_h3_qsec_free(s->qsec);
  free(s);
}

static void unlink_stream(p2pq_h3_conn *c, h3_stream *s) {
  h3_stream **pp, *prev = NULL;
  for (pp = &c->streams; *pp; prev = *pp, pp = &(*pp)->next) {
    if (*pp == s) {
      *pp = s->next;
      if (c->streams_tail == s)
        c->streams_tail = prev;
      return;
    }
  }
}

void p2pq_h3_stream_qcancel(p2pq_h3_conn *c, h3_stream *s) {
  if (s->kind != K_REQUEST)
    return;
  if (s->blocked) {
    s->blocked = 0;
    c->nblocked--;
  }
  p2pq_h3_qsec_free(s->qsec);
  s->qsec = NULL;
  p2pq_h3_fields_clear(&s->hdr);
  /* only sections that referenced the dynamic table need a cancellation, but
   * the encoder ignores one for a stream it has nothing outstanding on */
  if (c->peer.qpack_max_table_capacity || c->cfg.local.qpack_max_table_capacity) {
    p2pq_h3_qdec_cancel(c->qdec, s->id);
    p2pq_h3_flush_qdec(c);
  }
}

int p2pq_h3_req_closed(const p2pq_h3_conn *c, int64_t id) {
  size_t i;
  if (id < c->closed_below)
    return 1;
  for (i = 0; i < c->nclosed; i++)
    if (c->closed[i] == id)
      return 1;
  return 0;
}

/* Remembers a freed peer request stream; the set stays small because
 * closed_below advances over every contiguous run. */
static int req_close(p2pq_h3_conn *c, int64_t id) {
  size_t i;
  if ((id & 1) == !!c->cfg.is_server)
    return 0; /* our own streams are never reopened by the peer */
  if (id != c->closed_below) {
    if (c->nclosed == c->capclosed) {
      size_t ncap = c->capclosed ? c->capclosed * 2 : 16;
      int64_t *nv = realloc(c->closed, ncap * sizeof *nv);
      if (!nv)
        return P2PQ_ERR_NOMEM;
      c->closed = nv;
      c->capclosed = ncap;
    }
    c->closed[c->nclosed++] = id;
    return 0;
  }
  c->closed_below += 4;
  for (i = 0; i < c->nclosed;) {
    if (c->closed[i] == c->closed_below) {
      c->closed[i] = c->closed[--c->nclosed];
      c->closed_below += 4;
      i = 0;
    } else {
      i++;
    }
  }
  return 0;
}

static void drop_stream(p2pq_h3_conn *c, h3_stream *s) {
  unlink_stream(c, s);
  stream_free(s);
}

void p2pq_h3_gc(p2pq_h3_conn *c) {
  h3_stream *s = c->streams, *n;
  for (; s; s = n) {
    n = s->next;
    if (s->kind == K_REQUEST && s->recv_done && s->fin_sent && !s->blocked &&
        req_close(c, s->id) == 0)
      drop_stream(c, s);
  }
}

int p2pq_h3_ev_push(p2pq_h3_conn *c, p2pq_h3_event_type type, int64_t sid, uint64_t code,
                    p2pq_h3_fields *fields, const uint8_t *data, size_t len) {
  h3_evnode *e = calloc(1, sizeof *e);
  if (!e)
    return P2PQ_ERR_NOMEM;
  if (len) {
    if (!(e->data = malloc(len))) {
      free(e);
      return P2PQ_ERR_NOMEM;
    }
    memcpy(e->data, data, len);
  }
  if (fields) { /* ownership moves into the event */
    e->fields = *fields;
    memset(fields, 0, sizeof *fields);
  }
  e->ev.type = type;
  e->ev.stream_id = sid;
  e->ev.error_code = code;
  e->ev.fields = e->fields.v;
  e->ev.nfields = e->fields.n;
  e->ev.data = e->data;
  e->ev.len = len;
  e->ev.id = type == P2PQ_H3_EV_GOAWAY ? c->goaway_recvd : 0;
  e->ev.settings = type == P2PQ_H3_EV_SETTINGS ? &c->peer : NULL;
  if (c->ev_tail)
    c->ev_tail->next = e;
  else
    c->ev_head = e;
  c->ev_tail = e;
  return 0;
}

static void ev_free(h3_evnode *e) {
  if (!e)
    return;
  p2pq_h3_fields_clear(&e->fields);
  free(e->data);
  free(e);
}

int p2pq_h3_conn_poll_event(p2pq_h3_conn *c, p2pq_h3_event *ev) {
  ev_free(c->ev_cur);
  c->ev_cur = c->ev_head;
  if (!c->ev_cur)
    return 0;
  c->ev_head = c->ev_cur->next;
  if (!c->ev_head)
    c->ev_tail = NULL;
  *ev = c->ev_cur->ev;
  return 1;
}

int p2pq_h3_conn_fail(p2pq_h3_conn *c, uint64_t code) {
  if (!c->conn_err) {
    c->conn_err = code;
    p2pq_h3_ev_push(c, P2PQ_H3_EV_CONN_ERROR, -1, code, NULL, NULL, 0);
  }
  return P2PQ_ERR_H3;
}

int p2pq_h3_stream_fail(p2pq_h3_conn *c, h3_stream *s, uint64_t code) {
  p2pq_h3_stream_qcancel(c, s);
  s->recv_done = 1;
  p2pq_h3_bytes_clear(&s->in);
  s->data_left = s->skip_left = 0;
  /* the application resets the stream: nothing more goes out on it */
  p2pq_h3_bytes_clear(&s->out);
  s->out_fin = s->fin_sent = 1;
  s->smsg = M_DONE;
  return p2pq_h3_ev_push(c, P2PQ_H3_EV_STREAM_ERROR, s->id, code, NULL, NULL, 0);
}

int p2pq_h3_flush_qdec(p2pq_h3_conn *c) { return p2pq_h3_qdec_flush(c->qdec, &c->qdec_s->out); }

/* A reserved code point 0x1f * N + 0x21 (RFC 9114 7.2.8, 7.2.4.1). */
static uint64_t grease_value(p2pq_h3_conn *c, uint64_t fallback_n) {
  uint64_t n = fallback_n;
  if (c->cfg.rand) {
    uint8_t b[2];
    c->cfg.rand(c->cfg.rand_user, b, sizeof b);
    n = ((uint64_t)b[0] << 8) | b[1];
  }
  return 0x1f * n + 0x21;
}

static int put_varint(p2pq_h3_bytes *b, uint64_t v) {
  uint8_t tmp[8];
  p2pq_wr w;
  int rc;
  p2pq_wr_init(&w, tmp, sizeof tmp);
  if ((rc = p2pq_wr_varint(&w, v)) < 0)
    return rc;
  return p2pq_h3_bytes_append(b, tmp, sizeof tmp - p2pq_wr_left(&w));
}

static int put_frame(p2pq_h3_bytes *b, uint64_t type, const uint8_t *payload, size_t len) {
  int rc;
  if ((rc = put_varint(b, type)) < 0 || (rc = put_varint(b, len)) < 0)
    return rc;
  return p2pq_h3_bytes_append(b, payload, len);
}

static int open_uni(p2pq_h3_conn *c, h3_stream **out, uint64_t type) {
  h3_stream *s = p2pq_h3_stream_add(c, c->next_uni, K_LOCAL_UNI);
  if (!s)
    return P2PQ_ERR_NOMEM;
  c->next_uni += 4;
  *out = s;
  return put_varint(&s->out, type);
}

/* 6.2.1: the control stream starts with SETTINGS; a reserved setting and a
 * reserved frame exercise the peer's handling of unknown ones. */
static int open_control(p2pq_h3_conn *c) {
  uint8_t buf[160];
  int rc, n;
  if ((rc = open_uni(c, &c->ctrl, P2PQ_H3_STREAM_CONTROL)) < 0)
    return rc;
  n = p2pq_h3_settings_encode(buf, sizeof buf, &c->cfg.local,
                              c->cfg.grease ? grease_value(c, 0) : 0, 0x5a);
  if (n < 0)
    return n;
  if ((rc = p2pq_h3_bytes_append(&c->ctrl->out, buf, (size_t)n)) < 0)
    return rc;
  if (c->cfg.grease) {
    static const uint8_t junk[4] = {'p', '2', 'p', 'q'};
    if ((rc = put_frame(&c->ctrl->out, grease_value(c, 1), junk, sizeof junk)) < 0)
      return rc;
  }
  return 0;
}

int p2pq_h3_conn_new(p2pq_h3_conn **out, const p2pq_h3_config *cfg) {
  p2pq_h3_conn *c;
  int rc;
  if (!out || !cfg || cfg->local.enable_connect_protocol > 1 || cfg->local.h3_datagram > 1)
    return P2PQ_ERR_INVALID_ARG;
  if (!(c = calloc(1, sizeof *c)))
    return P2PQ_ERR_NOMEM;
  c->cfg = *cfg;
  if (!c->cfg.max_frame_size)
    c->cfg.max_frame_size = 16 * 1024;
  c->next_bidi = cfg->is_server ? 1 : 0;
  c->next_uni = cfg->is_server ? 3 : 2;
  c->goaway_recvd = c->goaway_sent = c->max_push_recvd = H3_NONE;
  c->max_req_seen = -1;
  p2pq_h3_settings_default(&c->peer);
  if ((rc = p2pq_h3_qenc_new(&c->qenc, cfg->encoder_table_capacity)) < 0 ||
      (rc = p2pq_h3_qdec_new(&c->qdec, cfg->local.qpack_max_table_capacity,
                             cfg->local.qpack_blocked_streams)) < 0 ||
      (rc = open_control(c)) < 0 ||
      (rc = open_uni(c, &c->qenc_s, P2PQ_H3_STREAM_QPACK_ENCODER)) < 0 ||
      (rc = open_uni(c, &c->qdec_s, P2PQ_H3_STREAM_QPACK_DECODER)) < 0) {
    p2pq_h3_conn_free(c);
    return rc;
  }
  *out = c;
  return 0;
}

void p2pq_h3_conn_free(p2pq_h3_conn *c) {
  h3_stream *s, *n;
  h3_evnode *e, *en;
  if (!c)
    return;
  for (s = c->streams; s; s = n) {
    n = s->next;
    stream_free(s);
  }
  ev_free(c->ev_cur);
  for (e = c->ev_head; e; e = en) {
    en = e->next;
    ev_free(e);
  }
  p2pq_h3_qenc_free(c->qenc);
  p2pq_h3_qdec_free(c->qdec);
  free(c->closed);
  free(c);
}

int64_t p2pq_h3_conn_next_stream(p2pq_h3_conn *c) {
  h3_stream *s;
  for (s = c->streams; s; s = s->next)
    if (p2pq_h3_bytes_avail(&s->out) || (s->out_fin && !s->fin_sent))
      return s->id;
  return -1;
}

size_t p2pq_h3_conn_pending(const p2pq_h3_conn *c, int64_t stream_id) {
  h3_stream *s = p2pq_h3_stream_find((p2pq_h3_conn *)c, stream_id);
  return s ? p2pq_h3_bytes_avail(&s->out) : 0;
}

int p2pq_h3_conn_send(p2pq_h3_conn *c, int64_t stream_id, uint8_t *buf, size_t cap, int *fin) {
  h3_stream *s = p2pq_h3_stream_find(c, stream_id);
  size_t avail, n;
  *fin = 0;
  if (!s)
    return P2PQ_ERR_AGAIN;
  avail = p2pq_h3_bytes_avail(&s->out);
  n = avail < cap ? avail : cap;
  if (n == 0 && !(s->out_fin && !s->fin_sent))
    return P2PQ_ERR_AGAIN;
  memcpy(buf, p2pq_h3_bytes_head(&s->out), n);
  p2pq_h3_bytes_consume(&s->out, n);
  if (n == avail && s->out_fin && !s->fin_sent) {
    *fin = 1;
    s->fin_sent = 1;
    p2pq_h3_gc(c);
  }
  return (int)n;
}

/* HEADERS frame on s, encoder instructions on our encoder stream. */
static int write_headers(p2pq_h3_conn *c, h3_stream *s, const p2pq_h3_field *f, size_t n) {
  p2pq_h3_bytes sec = {0};
  int rc = p2pq_h3_qenc_encode(c->qenc, s->id, f, n, &sec, &c->qenc_s->out);
  if (rc == 0)
    rc = put_frame(&s->out, P2PQ_H3_FRAME_HEADERS, sec.p ? p2pq_h3_bytes_head(&sec) : NULL,
                   p2pq_h3_bytes_avail(&sec));
  p2pq_h3_bytes_clear(&sec);
  return rc;
}

static int fields_fit(const p2pq_h3_conn *c, const p2pq_h3_field *f, size_t n) {
  return p2pq_h3_fields_size(f, n) <= c->peer.max_field_section_size;
}

int p2pq_h3_conn_submit_request(p2pq_h3_conn *c, const p2pq_h3_field *fields, size_t n,
                                int end_stream, int64_t *stream_id) {
  p2pq_h3_msginfo mi;
  h3_stream *s;
  int rc;
  if (!c || (!fields && n) || !stream_id)
    return P2PQ_ERR_INVALID_ARG;
  if (c->cfg.is_server)
    return P2PQ_ERR_STATE;
  if (c->conn_err)
    return P2PQ_ERR_H3;
  if (c->goaway_recvd != H3_NONE)
    return P2PQ_ERR_CLOSED;
  if (p2pq_h3_check_request(fields, n, 1, &mi) < 0)
    return P2PQ_ERR_INVALID_ARG;
  /* RFC 9220 3: only once the server's SETTINGS enabled it */
  if (mi.has_protocol && !c->peer.enable_connect_protocol)
    return P2PQ_ERR_STATE;
  if (!fields_fit(c, fields, n))
    return P2PQ_ERR_LIMIT;
  if (!(s = p2pq_h3_stream_add(c, c->next_bidi, K_REQUEST)))
    return P2PQ_ERR_NOMEM;
  c->next_bidi += 4;
  s->req_head = mi.is_head;
  s->connect_protocol = mi.has_protocol;
  if ((rc = write_headers(c, s, fields, n)) < 0)
    return rc;
  s->smsg = end_stream ? M_DONE : M_BODY;
  s->out_fin = !!end_stream;
  *stream_id = s->id;
  return 0;
}

static h3_stream *msg_stream(p2pq_h3_conn *c, int64_t sid) {
  h3_stream *s = p2pq_h3_stream_find(c, sid);
  return s && s->kind == K_REQUEST ? s : NULL;
}

int p2pq_h3_conn_submit_response(p2pq_h3_conn *c, int64_t stream_id,
                                 const p2pq_h3_field *fields, size_t n, int end_stream) {
  p2pq_h3_msginfo mi;
  h3_stream *s;
  int rc;
  if (!c || (!fields && n))
    return P2PQ_ERR_INVALID_ARG;
  if (!c->cfg.is_server)
    return P2PQ_ERR_STATE;
  if (c->conn_err)
    return P2PQ_ERR_H3;
  if (!(s = msg_stream(c, stream_id)))
    return P2PQ_ERR_NOT_FOUND;
  if (s->rmsg == M_HEADERS || s->smsg != M_HEADERS)
    return P2PQ_ERR_STATE;
  if (p2pq_h3_check_response(fields, n, &mi) < 0 || (end_stream && mi.status < 200))
    return P2PQ_ERR_INVALID_ARG;
  if (!fields_fit(c, fields, n))
    return P2PQ_ERR_LIMIT;
  if ((rc = write_headers(c, s, fields, n)) < 0)
    return rc;
  if (mi.status >= 200)
    s->smsg = end_stream ? M_DONE : M_BODY;
  s->out_fin = !!end_stream;
  return 0;
}

static h3_stream *body_stream(p2pq_h3_conn *c, int64_t sid, int *rc) {
  h3_stream *s;
  *rc = 0;
  if (c->conn_err)
    *rc = P2PQ_ERR_H3;
  else if (!(s = msg_stream(c, sid)))
    *rc = P2PQ_ERR_NOT_FOUND;
  else if (s->smsg != M_BODY)
    *rc = P2PQ_ERR_STATE;
  else
    return s;
  return NULL;
}

int p2pq_h3_conn_send_data(p2pq_h3_conn *c, int64_t stream_id, const uint8_t *data, size_t len,
                           int end_stream) {
  int rc;
  h3_stream *s;
  if (!c || (!data && len))
    return P2PQ_ERR_INVALID_ARG;
  if (!(s = body_stream(c, stream_id, &rc)))
    return rc;
  if (len && (rc = put_frame(&s->out, P2PQ_H3_FRAME_DATA, data, len)) < 0)
    return rc;
  if (end_stream) {
    s->smsg = M_DONE;
    s->out_fin = 1;
  }
  return 0;
}

int p2pq_h3_conn_submit_trailers(p2pq_h3_conn *c, int64_t stream_id,
                                 const p2pq_h3_field *fields, size_t n) {
  int rc;
  h3_stream *s;
  if (!c || (!fields && n))
    return P2PQ_ERR_INVALID_ARG;
  if (!(s = body_stream(c, stream_id, &rc)))
    return rc;
  if (p2pq_h3_check_trailers(fields, n) < 0)
    return P2PQ_ERR_INVALID_ARG;
  if (!fields_fit(c, fields, n))
    return P2PQ_ERR_LIMIT;
  if ((rc = write_headers(c, s, fields, n)) < 0)
    return rc;
  s->smsg = M_DONE;
  s->out_fin = 1;
  return 0;
}

int p2pq_h3_conn_end_stream(p2pq_h3_conn *c, int64_t stream_id) {
  return p2pq_h3_conn_send_data(c, stream_id, NULL, 0, 1);
}

int p2pq_h3_conn_stream_close(p2pq_h3_conn *c, int64_t stream_id) {
  h3_stream *s;
  if (!c || !(s = msg_stream(c, stream_id)))
    return P2PQ_ERR_NOT_FOUND;
  if (!s->recv_done)
    p2pq_h3_stream_qcancel(c, s);
  if (req_close(c, stream_id) < 0)
    return P2PQ_ERR_NOMEM;
  drop_stream(c, s);
  return 0;
}

int p2pq_h3_conn_goaway(p2pq_h3_conn *c, uint64_t id) {
  uint8_t buf[32];
  int n, rc;
  if (!c)
    return P2PQ_ERR_INVALID_ARG;
  if (c->conn_err)
    return P2PQ_ERR_H3;
  if (id == P2PQ_H3_GOAWAY_AUTO)
    id = c->cfg.is_server && c->max_req_seen >= 0 ? (uint64_t)c->max_req_seen + 4 : 0;
  /* 5.2: a server names a client request stream; the id never grows */
  if ((c->cfg.is_server && (id & 3) != 0) || id > P2PQ_VARINT_MAX ||
      (c->goaway_sent != H3_NONE && id > c->goaway_sent))
    return P2PQ_ERR_INVALID_ARG;
  if ((n = p2pq_h3_frame_encode_varint(buf, sizeof buf, P2PQ_H3_FRAME_GOAWAY, id)) < 0)
    return n;
  if ((rc = p2pq_h3_bytes_append(&c->ctrl->out, buf, (size_t)n)) < 0)
    return rc;
  c->goaway_sent = id;
  return 0;
}

const p2pq_h3_settings *p2pq_h3_conn_peer_settings(const p2pq_h3_conn *c) {
  return c->got_settings ? &c->peer : NULL;
}

uint64_t p2pq_h3_conn_error(const p2pq_h3_conn *c) { return c->conn_err; }
