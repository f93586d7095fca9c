/* Stream frames in and out, and the public stream API (RFC 9000 2-4, 19.4-19.14). */
#include <string.h>

#include "quic/conn_stream.h"

static void report_opened(p2pq_conn *c) {
  uint64_t id;
  while (p2pq_streammap_take_opened(&c->streams, &id))
    p2pq_conn_push_event(c, P2PQ_EV_STREAM_OPENED, id, 0, NULL);
}

static int get_stream(p2pq_conn *c, uint64_t id, int dir, p2pq_stream **st) {
  int rv = p2pq_streammap_get(&c->streams, id, dir, st);
  if (rv == 0)
    report_opened(c);
  return rv;
}

int p2pq_conn_on_stream(p2pq_conn *c, const p2pq_frame *f, p2pq_tstamp now) {
  p2pq_stream *st;
  int rv, was_readable;
  (void)now;
  if ((rv = get_stream(c, f->u.stream.stream_id, P2PQ_DIR_RECV, &st)) != 0 || st == NULL)
    return rv;
  was_readable = p2pq_stream_readable(st);
  rv = p2pq_stream_on_stream(st, &c->streams.fc_recv, f->u.stream.offset, f->u.stream.data,
                             f->u.stream.len, f->u.stream.fin);
  if (rv != 0)
    return rv;
  if (!was_readable && p2pq_stream_readable(st))
    p2pq_conn_push_event(c, P2PQ_EV_STREAM_READABLE, st->id, 0, NULL);
  return 0;
}

int p2pq_conn_on_reset_stream(p2pq_conn *c, const p2pq_frame *f) {
  p2pq_stream *st;
  int rv;
  if ((rv = get_stream(c, f->u.reset_stream.stream_id, P2PQ_DIR_RECV, &st)) != 0 || st == NULL)
    return rv;
  rv = p2pq_stream_on_reset(st, &c->streams.fc_recv, f->u.reset_stream.error_code,
                            f->u.reset_stream.final_size);
  if (rv == 0)
    p2pq_conn_push_event(c, P2PQ_EV_STREAM_RESET, st->id, f->u.reset_stream.error_code, NULL);
  return rv;
}

int p2pq_conn_on_stop_sending(p2pq_conn *c, const p2pq_frame *f) {
  p2pq_stream *st;
  int rv;
  if ((rv = get_stream(c, f->u.stop_sending.stream_id, P2PQ_DIR_SEND, &st)) != 0 || st == NULL)
    return rv;
  rv = p2pq_stream_on_stop_sending(st, f->u.stop_sending.error_code);
  if (rv == 0)
    p2pq_conn_push_event(c, P2PQ_EV_STREAM_STOP, st->id, f->u.stop_sending.error_code, NULL);
  return rv;
}

int p2pq_conn_on_max_data(p2pq_conn *c, const p2pq_frame *f) {
  p2pq_streammap_on_max_data(&c->streams, f->u.max_data.max);
  return 0;
}

int p2pq_conn_on_max_stream_data(p2pq_conn *c, const p2pq_frame *f) {
  p2pq_stream *st;
  int rv;
  if ((rv = get_stream(c, f->u.max_stream_data.stream_id, P2PQ_DIR_SEND, &st)) != 0 ||
      st == NULL)
    return rv;
  if (p2pq_stream_on_max_stream_data(st, f->u.max_stream_data.max) == 1)
    p2pq_conn_push_event(c, P2PQ_EV_STREAM_WRITABLE, st->id, 0, NULL);
  return 0;
}

int p2pq_conn_on_max_streams(p2pq_conn *c, const p2pq_frame *f) {
  int uni = f->type == P2PQ_FT_MAX_STREAMS_UNI;
  int rv = p2pq_streammap_on_max_streams(&c->streams, uni, f->u.max_streams.max);
  if (rv == 1)
    p2pq_conn_push_event(c, P2PQ_EV_STREAMS_AVAILABLE, (uint64_t)uni, 0, NULL);
  return rv < 0 ? rv : 0;
}

int p2pq_conn_on_stream_data_blocked(p2pq_conn *c, const p2pq_frame *f) {
  p2pq_stream *st;
  int rv;
  if ((rv = get_stream(c, f->u.stream_data_blocked.stream_id, P2PQ_DIR_RECV, &st)) != 0 ||
      st == NULL)
    return rv;
  return p2pq_stream_on_data_blocked(st, f->u.stream_data_blocked.limit);
}

/* ---- sending ---- */

static int put(p2pq_wr *w, const p2pq_frame *f) {
  int rv = p2pq_frame_encode(w, f);
  return rv == P2PQ_ERR_NOBUF ? 1 : rv;
}

static int write_one_ctrl(p2pq_conn *c, p2pq_stream *st, p2pq_wr *w, p2pq_frec **frecs,
                          int *eliciting) {
  unsigned want = p2pq_stream_wants(st, &c->streams.fc_send);
  p2pq_frame f;
  int rv;
  memset(&f, 0, sizeof(f));
  if (want & P2PQ_STREAM_WANT_RESET) {
    f.type = P2PQ_FT_RESET_STREAM;
    f.u.reset_stream.stream_id = st->id;
    f.u.reset_stream.error_code = st->reset_code;
    f.u.reset_stream.final_size = st->reset_final;
    if ((rv = put(w, &f)) != 0)
      return rv;
    p2pq_stream_on_reset_sent(st);
    *eliciting = 1;
    if ((rv = p2pq_frec_add(c, frecs, FREC_RESET_STREAM, st->id, 0, 0, 0)) != 0)
      return rv;
  }
  if (want & P2PQ_STREAM_WANT_STOP) {
    f.type = P2PQ_FT_STOP_SENDING;
    f.u.stop_sending.stream_id = st->id;
    f.u.stop_sending.error_code = st->stop_code;
    if ((rv = put(w, &f)) != 0)
      return rv;
    p2pq_stream_on_stop_sent(st);
    *eliciting = 1;
    if ((rv = p2pq_frec_add(c, frecs, FREC_STOP_SENDING, st->id, 0, 0, 0)) != 0)
      return rv;
  }
  if (want & P2PQ_STREAM_WANT_MAX_DATA) {
    if (p2pq_wr_left(w) < 17)
      return 1;
    f.type = P2PQ_FT_MAX_STREAM_DATA;
    f.u.max_stream_data.stream_id = st->id;
    f.u.max_stream_data.max =
        p2pq_stream_max_data_update(st, c->paths[c->active_path].rec.rtt.smoothed, c->last_now);
    if ((rv = put(w, &f)) != 0)
      return rv;
    *eliciting = 1;
    if ((rv = p2pq_frec_add(c, frecs, FREC_MAX_STREAM_DATA, st->id, f.u.max_stream_data.max, 0, 0)) != 0)
      return rv;
  }
  if (want & P2PQ_STREAM_WANT_BLOCKED) {
    f.type = P2PQ_FT_STREAM_DATA_BLOCKED;
    f.u.stream_data_blocked.stream_id = st->id;
    f.u.stream_data_blocked.limit = st->sfc.limit;
    if ((rv = put(w, &f)) != 0)
      return rv;
    p2pq_stream_on_blocked_sent(st);
    *eliciting = 1;
    if ((rv = p2pq_frec_add(c, frecs, FREC_STREAM_DATA_BLOCKED, st->id, st->sfc.limit, 0, 0)) != 0)
      return rv;
  }
  return 0;
}

int p2pq_conn_write_stream_ctrl(p2pq_conn *c, p2pq_wr *w, p2pq_frec **frecs, int *eliciting) {
  p2pq_stream *st;
  p2pq_frame f;
  int uni, rv;
  uint64_t max;
  for (uni = 0; uni < 2; uni++) {
    if (!p2pq_streammap_max_streams_due(&c->streams, uni, &max))
      continue;
    memset(&f, 0, sizeof(f));
    f.type = uni ? P2PQ_FT_MAX_STREAMS_UNI : P2PQ_FT_MAX_STREAMS_BIDI;
    f.u.max_streams.max = max;
    if ((rv = put(w, &f)) != 0)
      return rv < 0 ? rv : 0;
    p2pq_streammap_max_streams_sent(&c->streams, uni, max);
    *eliciting = 1;
    if ((rv = p2pq_frec_add(c, frecs, uni ? FREC_MAX_STREAMS_UNI : FREC_MAX_STREAMS_BIDI, 0, max, 0, 0)) !=
        0)
      return rv;
  }
  while ((st = p2pq_streammap_next_ctrl(&c->streams)) != NULL) {
    rv = write_one_ctrl(c, st, w, frecs, eliciting);
    if (rv != 0) {
      p2pq_streammap_schedule(&c->streams, st);
      return rv < 0 ? rv : 0;
    }
  }
  return 0;
}

int p2pq_conn_write_streams(p2pq_conn *c, p2pq_wr *w, p2pq_frec **frecs, int *eliciting) {
  p2pq_stream *st;
  while ((st = p2pq_streammap_next_data(&c->streams)) != NULL) {
    size_t room = p2pq_wr_left(w), max, hdr;
    p2pq_sendbuf_range r;
    int rv, has_len;
    if (room < 16)
      return 0;
    if (p2pq_stream_next_data(st, &c->streams.fc_send, room, &r) != 0) {
      /* nothing sendable (blocked): the map requeues it when credit comes */
      p2pq_streammap_unqueue(&c->streams, st);
      continue;
    }
    /* omit the Length field when the frame fills the rest of the packet */
    max = p2pq_frame_stream_max_data(st->id, r.off, room, 0);
    has_len = r.len < max;
    if (has_len) {
      max = p2pq_frame_stream_max_data(st->id, r.off, room, 1);
      if (r.len > max)
        r.len = max, r.fin = 0;
    } else if (r.len > max) {
      r.len = max;
      r.fin = 0;
    }
    if (r.len == 0 && !r.fin)
      return 0;
    hdr = p2pq_frame_stream_overhead(st->id, r.off, r.len, has_len);
    if (hdr + r.len > room)
      return 0;
    {
      p2pq_frame f;
      memset(&f, 0, sizeof(f));
      f.type = P2PQ_FT_STREAM | (has_len ? P2PQ_STREAM_LEN : 0);
      f.u.stream.stream_id = st->id;
      f.u.stream.offset = r.off;
      f.u.stream.data = r.data;
      f.u.stream.len = r.len;
      f.u.stream.fin = r.fin;
      if ((rv = put(w, &f)) != 0)
        return rv < 0 ? rv : 0;
    }
    if ((rv = p2pq_stream_on_data_sent(st, &c->streams.fc_send, r.off, r.len, r.fin)) != 0)
      return rv;
    *eliciting = 1;
    if ((rv = p2pq_frec_add(c, frecs, FREC_STREAM, st->id, r.off, r.len, r.fin)) != 0)
      return rv;
    p2pq_streammap_rotate(&c->streams, st);
    if (!has_len)
      return 0; /* packet full */
  }
  return 0;
}

int p2pq_conn_streams_want_send(p2pq_conn *c) {
  uint64_t max;
  return c->streams.chead != NULL || p2pq_streammap_max_streams_due(&c->streams, 0, &max) ||
         p2pq_streammap_max_streams_due(&c->streams, 1, &max) ||
         (p2pq_fc_send_credit(&c->streams.fc_send) > 0 &&
          p2pq_conn_streams_have_data(c));
}

int p2pq_conn_streams_have_data(p2pq_conn *c) {
  int i;
  for (i = 0; i < P2PQ_STREAM_URGENCIES; i++)
    if (c->streams.qhead[i] != NULL)
      return 1;
  return c->streams.qhead[P2PQ_STREAM_URGENCIES] != NULL;
}

/* ---- verdicts ---- */

void p2pq_conn_stream_acked(p2pq_conn *c, const p2pq_frec *f) {
  p2pq_stream *st = p2pq_streammap_find(&c->streams, f->id);
  if (st != NULL)
    p2pq_stream_on_data_acked(st, f->off, (size_t)f->len, f->fin);
}

void p2pq_conn_stream_lost(p2pq_conn *c, const p2pq_frec *f) {
  p2pq_stream *st = p2pq_streammap_find(&c->streams, f->id);
  if (st != NULL)
    p2pq_stream_on_data_lost(st, f->off, (size_t)f->len, f->fin);
}

void p2pq_conn_stream_ctrl_acked(p2pq_conn *c, const p2pq_frec *f) {
  p2pq_stream *st = p2pq_streammap_find(&c->streams, f->id);
  if (st != NULL && f->kind == FREC_RESET_STREAM)
    p2pq_stream_on_reset_acked(st);
}

void p2pq_conn_stream_ctrl_lost(p2pq_conn *c, const p2pq_frec *f) {
  p2pq_stream *st;
  switch (f->kind) {
  case FREC_MAX_STREAMS_BIDI:
    p2pq_streammap_max_streams_lost(&c->streams, 0, f->off);
    return;
  case FREC_MAX_STREAMS_UNI:
    p2pq_streammap_max_streams_lost(&c->streams, 1, f->off);
    return;
  default:
    break;
  }
  st = p2pq_streammap_find(&c->streams, f->id);
  if (st == NULL)
    return;
  switch (f->kind) {
  case FREC_RESET_STREAM: p2pq_stream_on_reset_lost(st); break;
  case FREC_STOP_SENDING: p2pq_stream_on_stop_lost(st); break;
  case FREC_MAX_STREAM_DATA: p2pq_stream_on_max_data_lost(st, f->off); break;
  case FREC_STREAM_DATA_BLOCKED: p2pq_stream_on_blocked_lost(st, f->off); break;
  default: break;
  }
}

/* ---- public API ---- */

int p2pq_conn_open_stream(p2pq_conn *c, int bidi, uint64_t *stream_id) {
  p2pq_stream *st;
  int rv;
  if (c->state != CONN_ESTABLISHED && c->state != CONN_HANDSHAKE)
    return P2PQ_ERR_STATE;
  if (!c->have_peer_tp)
    return P2PQ_ERR_AGAIN; /* the peer's stream limits are not known yet */
  rv = p2pq_streammap_open(&c->streams, !bidi, &st);
  if (rv != 0)
    return rv;
  *stream_id = st->id;
  return 0;
}

int64_t p2pq_stream_write(p2pq_conn *c, uint64_t stream_id, const uint8_t *data, size_t len,
                          int fin) {
  p2pq_stream *st = p2pq_streammap_find(&c->streams, stream_id);
  P2PQ_CONN_TOUCH(c); /* new data can start the pacing timer */
  if (c->state >= CONN_CLOSING)
    return P2PQ_ERR_CLOSED;
  if (st == NULL)
    return P2PQ_ERR_NOT_FOUND;
  return p2pq_stream_app_write(st, data, len, fin);
}

int64_t p2pq_stream_read(p2pq_conn *c, uint64_t stream_id, uint8_t *buf, size_t cap, int *fin) {
  p2pq_stream *st = p2pq_streammap_find(&c->streams, stream_id);
  int64_t n;
  *fin = 0;
  if (st == NULL)
    return P2PQ_ERR_NOT_FOUND;
  n = p2pq_stream_app_read(st, &c->streams.fc_recv, buf, cap, fin);
  if (n > 0 && p2pq_stream_readable(st) == 0)
    p2pq_streammap_gc(&c->streams);
  return n;
}

int p2pq_stream_reset(p2pq_conn *c, uint64_t stream_id, uint64_t error_code) {
  p2pq_stream *st = p2pq_streammap_find(&c->streams, stream_id);
  if (st == NULL)
    return P2PQ_ERR_NOT_FOUND;
  return p2pq_stream_app_reset(st, error_code);
}

int p2pq_stream_stop_sending(p2pq_conn *c, uint64_t stream_id, uint64_t error_code) {
  p2pq_stream *st = p2pq_streammap_find(&c->streams, stream_id);
  if (st == NULL)
    return P2PQ_ERR_NOT_FOUND;
  return p2pq_stream_app_stop(st, &c->streams.fc_recv, error_code);
}
