#include "quic/stream.h"

#include <string.h>

#include "common/buf.h"
#include "p2pq/error.h"
#include "quic/streammap.h"

/* Tells the map (if any) that what the stream wants may have changed. */
static void resched(p2pq_stream *st) {
  if (st->map)
    p2pq_streammap_schedule(st->map, st);
}

int p2pq_stream_init(p2pq_stream *st, uint64_t id, int is_server,
                     const p2pq_stream_limits *lim) {
  if (id > P2PQ_VARINT_MAX)
    return P2PQ_ERR_INVALID_ARG;
  memset(st, 0, sizeof(*st));
  st->id = id;
  st->urgency = P2PQ_STREAM_URGENCY_DEFAULT;
  st->queue = -1;
  st->send_buffer_max = lim->send_buffer_max;
  p2pq_sendbuf_init(&st->sb);
  p2pq_recvbuf_init(&st->rb, lim->recv_window);
  p2pq_fc_send_init(&st->sfc, lim->send_limit);
  p2pq_fc_recv_init(&st->rfc, lim->recv_window, lim->recv_max_window);
  st->send_state = p2pq_stream_id_can_send(id, is_server) ? P2PQ_SEND_READY : P2PQ_SEND_NONE;
  st->recv_state = p2pq_stream_id_can_recv(id, is_server) ? P2PQ_RECV_RECV : P2PQ_RECV_NONE;
  return 0;
}

void p2pq_stream_clear(p2pq_stream *st) {
  p2pq_sendbuf_clear(&st->sb);
  p2pq_recvbuf_clear(&st->rb);
}

void p2pq_stream_set_urgency(p2pq_stream *st, uint8_t urgency) {
  if (urgency >= P2PQ_STREAM_URGENCIES)
    urgency = P2PQ_STREAM_URGENCIES - 1;
  if (st->map && st->queue >= 0 && st->queue < P2PQ_STREAM_URGENCIES) {
    p2pq_streammap_unqueue(st->map, st); /* re-queue in its new class */
    st->urgency = urgency;
    resched(st);
    return;
  }
  st->urgency = urgency;
}

static int send_active(const p2pq_stream *st) {
  return st->send_state == P2PQ_SEND_READY || st->send_state == P2PQ_SEND_SEND ||
         st->send_state == P2PQ_SEND_DATA_SENT;
}

static int recv_open(const p2pq_stream *st) {
  return st->recv_state == P2PQ_RECV_RECV || st->recv_state == P2PQ_RECV_SIZE_KNOWN;
}

uint64_t p2pq_stream_send_credit(const p2pq_stream *st, const p2pq_fc_send *conn_send) {
  uint64_t c = p2pq_fc_send_credit(&st->sfc);
  if (conn_send && p2pq_fc_send_credit(conn_send) < c)
    c = p2pq_fc_send_credit(conn_send);
  return c;
}

/* ---- application side ------------------------------------------------------- */

int64_t p2pq_stream_app_write(p2pq_stream *st, const uint8_t *data, size_t len, int fin) {
  size_t take = len;
  int rc;
  if ((st->send_state != P2PQ_SEND_READY && st->send_state != P2PQ_SEND_SEND) || st->sb.fin)
    return P2PQ_ERR_STATE;
  if (st->send_buffer_max) {
    uint64_t used = p2pq_sendbuf_buffered(&st->sb);
    uint64_t room = st->send_buffer_max > used ? st->send_buffer_max - used : 0;
    if (take > room)
      take = (size_t)room;
  }
  if (take == 0 && !(fin && len == 0))
    return 0;
  if ((rc = p2pq_sendbuf_append(&st->sb, data, take, fin && take == len)))
    return rc;
  resched(st);
  return (int64_t)take;
}

/* app: the application (or a discard) just consumed data, so the FIN counts
 * as delivered once everything was read. */
static void update_recv_state(p2pq_stream *st, int app) {
  if (st->recv_state == P2PQ_RECV_RECV && st->rb.final_size != P2PQ_RECVBUF_NO_FINAL)
    st->recv_state = P2PQ_RECV_SIZE_KNOWN;
  if (st->recv_state == P2PQ_RECV_SIZE_KNOWN && p2pq_recvbuf_all_received(&st->rb)) {
    st->recv_state = P2PQ_RECV_DATA_RECVD;
    st->stop_pending = 0; /* nothing left for the peer to stop */
  }
  if (app && st->recv_state == P2PQ_RECV_DATA_RECVD && p2pq_recvbuf_fin_read(&st->rb))
    st->recv_state = P2PQ_RECV_DATA_READ;
}

static void consumed(p2pq_stream *st, p2pq_fc_recv *conn_recv, size_t n) {
  p2pq_fc_recv_consume(&st->rfc, n);
  if (conn_recv)
    p2pq_fc_recv_consume(conn_recv, n);
}

void p2pq_stream_app_peek(const p2pq_stream *st, const uint8_t **data, size_t *len, int *fin) {
  *data = NULL;
  *len = 0;
  if (st->recv_state == P2PQ_RECV_NONE || st->recv_state == P2PQ_RECV_RESET_RECVD ||
      st->recv_state == P2PQ_RECV_RESET_READ) {
    *fin = 0;
    return;
  }
  p2pq_recvbuf_peek(&st->rb, data, len);
  *fin = st->rb.final_size != P2PQ_RECVBUF_NO_FINAL && st->rb.read_off + *len == st->rb.final_size;
}

void p2pq_stream_app_consume(p2pq_stream *st, p2pq_fc_recv *conn_recv, size_t n) {
  uint64_t before;
  if (st->recv_state == P2PQ_RECV_NONE || st->recv_state == P2PQ_RECV_RESET_RECVD ||
      st->recv_state == P2PQ_RECV_RESET_READ)
    return;
  before = st->rb.read_off;
  p2pq_recvbuf_consume(&st->rb, n);
  consumed(st, conn_recv, (size_t)(st->rb.read_off - before));
  update_recv_state(st, 1);
  resched(st);
}

int64_t p2pq_stream_app_read(p2pq_stream *st, p2pq_fc_recv *conn_recv, uint8_t *out,
                             size_t cap, int *fin) {
  size_t n;
  *fin = 0;
  if (st->recv_state == P2PQ_RECV_NONE || st->recv_state == P2PQ_RECV_RESET_READ)
    return P2PQ_ERR_STATE;
  if (st->recv_state == P2PQ_RECV_RESET_RECVD) {
    st->recv_state = P2PQ_RECV_RESET_READ; /* the application saw the reset */
    resched(st);
    return P2PQ_ERR_STATE;
  }
  n = p2pq_recvbuf_read(&st->rb, out, cap);
  consumed(st, conn_recv, n);
  update_recv_state(st, 1);
  *fin = p2pq_recvbuf_fin_read(&st->rb);
  resched(st);
  return (int64_t)n;
}

int p2pq_stream_readable(const p2pq_stream *st) {
  switch (st->recv_state) {
  case P2PQ_RECV_RESET_RECVD:
  case P2PQ_RECV_DATA_RECVD: /* data or at least the FIN to report */
    return 1;
  case P2PQ_RECV_RECV:
  case P2PQ_RECV_SIZE_KNOWN:
    return p2pq_recvbuf_readable(&st->rb) > 0;
  default:
    return 0;
  }
}

int p2pq_stream_app_reset(p2pq_stream *st, uint64_t code) {
  if (st->send_state == P2PQ_SEND_NONE)
    return P2PQ_ERR_STATE;
  if (!send_active(st))
    return 0;
  st->reset_code = code;
  st->reset_final = p2pq_sendbuf_sent_offset(&st->sb);
  st->send_state = P2PQ_SEND_RESET_SENT;
  st->reset_pending = 1;
  p2pq_sendbuf_clear(&st->sb); /* nothing will be (re)sent any more */
  resched(st);
  return 0;
}

/* Drops whatever is readable (after STOP_SENDING) and credits it back. */
static void discard_readable(p2pq_stream *st, p2pq_fc_recv *conn_recv) {
  uint64_t n = p2pq_recvbuf_readable(&st->rb);
  if (n) {
    p2pq_recvbuf_consume(&st->rb, (size_t)n);
    consumed(st, conn_recv, (size_t)n);
  }
  update_recv_state(st, 1);
}

int p2pq_stream_app_stop(p2pq_stream *st, p2pq_fc_recv *conn_recv, uint64_t code) {
  if (st->recv_state == P2PQ_RECV_NONE)
    return P2PQ_ERR_STATE;
  if (!recv_open(st) || st->discard)
    return 0;
  st->stop_code = code;
  st->stop_pending = 1;
  st->discard = 1;
  discard_readable(st, conn_recv);
  resched(st);
  return 0;
}

/* ---- frames received --------------------------------------------------------- */

static int peer_reset(const p2pq_stream *st) {
  return st->recv_state == P2PQ_RECV_RESET_RECVD || st->recv_state == P2PQ_RECV_RESET_READ;
}

int p2pq_stream_on_stream(p2pq_stream *st, p2pq_fc_recv *conn_recv, uint64_t off,
                          const uint8_t *data, size_t len, int fin) {
  uint64_t end, delta;
  int rc;
  if (st->recv_state == P2PQ_RECV_NONE)
    return P2PQ_ERR_STREAM_STATE;
  if (off > P2PQ_VARINT_MAX || len > P2PQ_VARINT_MAX - off)
    return P2PQ_ERR_FLOW_CONTROL;
  end = off + len;
  if (peer_reset(st)) { /* data racing the reset: only check it */
    if (end > st->peer_final_size || (fin && end != st->peer_final_size))
      return P2PQ_ERR_FINAL_SIZE;
    return 0;
  }
  delta = end > st->rb.max_off ? end - st->rb.max_off : 0;
  if (conn_recv && delta > conn_recv->limit - conn_recv->highest) {
    /* a final-size violation is the more precise error */
    if (st->rb.final_size != P2PQ_RECVBUF_NO_FINAL && end > st->rb.final_size)
      return P2PQ_ERR_FINAL_SIZE;
    return P2PQ_ERR_FLOW_CONTROL;
  }
  if ((rc = p2pq_recvbuf_insert(&st->rb, off, data, len, fin)))
    return rc;
  if ((rc = p2pq_fc_recv_add(&st->rfc, delta)))
    return rc;
  if (conn_recv && (rc = p2pq_fc_recv_add(conn_recv, delta)))
    return rc;
  update_recv_state(st, 0);
  if (st->discard)
    discard_readable(st, conn_recv);
  resched(st);
  return 0;
}

int p2pq_stream_on_reset(p2pq_stream *st, p2pq_fc_recv *conn_recv, uint64_t code,
                         uint64_t final_size) {
  uint64_t delta;
  int rc;
  if (st->recv_state == P2PQ_RECV_NONE)
    return P2PQ_ERR_STREAM_STATE;
  if (peer_reset(st))
    return final_size == st->peer_final_size ? 0 : P2PQ_ERR_FINAL_SIZE;
  if (st->recv_state == P2PQ_RECV_DATA_RECVD || st->recv_state == P2PQ_RECV_DATA_READ)
    /* everything already arrived: keep delivering it (RFC 9000 3.2) */
    return final_size == st->rb.final_size ? 0 : P2PQ_ERR_FINAL_SIZE;
  if (final_size > P2PQ_VARINT_MAX)
    return P2PQ_ERR_FLOW_CONTROL;
  delta = final_size > st->rb.max_off ? final_size - st->rb.max_off : 0;
  if (conn_recv && delta > conn_recv->limit - conn_recv->highest)
    return P2PQ_ERR_FLOW_CONTROL;
  if ((rc = p2pq_recvbuf_final(&st->rb, final_size)))
    return rc;
  if ((rc = p2pq_fc_recv_add(&st->rfc, delta)))
    return rc;
  if (conn_recv) {
    if ((rc = p2pq_fc_recv_add(conn_recv, delta)))
      return rc;
    /* unread bytes will never be read: return their connection credit */
    p2pq_fc_recv_consume(conn_recv, final_size - st->rb.read_off);
  }
  st->peer_final_size = final_size;
  st->peer_reset_code = code;
  st->recv_state = P2PQ_RECV_RESET_RECVD;
  st->stop_pending = 0;
  st->rfc.update_pending = 0;
  p2pq_recvbuf_clear(&st->rb);
  resched(st);
  return 0;
}

int p2pq_stream_on_stop_sending(p2pq_stream *st, uint64_t code) {
  if (st->send_state == P2PQ_SEND_NONE)
    return P2PQ_ERR_STREAM_STATE;
  if (!st->peer_stopped) {
    st->peer_stopped = 1;
    st->peer_stop_code = code;
  }
  return p2pq_stream_app_reset(st, code);
}

int p2pq_stream_on_max_stream_data(p2pq_stream *st, uint64_t limit) {
  int up;
  if (st->send_state == P2PQ_SEND_NONE)
    return P2PQ_ERR_STREAM_STATE;
  up = p2pq_fc_send_update(&st->sfc, limit);
  if (up)
    resched(st);
  return up;
}

int p2pq_stream_on_data_blocked(p2pq_stream *st, uint64_t limit) {
  if (st->recv_state == P2PQ_RECV_NONE)
    return P2PQ_ERR_STREAM_STATE;
  /* the peer has not seen our latest limit: maybe that frame was lost */
  if (st->recv_state == P2PQ_RECV_RECV && !st->discard && st->rfc.limit > limit) {
    st->rfc.update_pending = 1;
    resched(st);
  }
  return 0;
}

/* ---- frames to send ----------------------------------------------------------- */

static int new_data_waiting(const p2pq_stream *st) {
  return st->sb.sent_hi < st->sb.len;
}

unsigned p2pq_stream_wants(const p2pq_stream *st, const p2pq_fc_send *conn_send) {
  unsigned w = 0;
  if (send_active(st)) {
    const p2pq_sendbuf *sb = &st->sb;
    if (p2pq_sendbuf_has_lost(sb))
      w |= P2PQ_STREAM_WANT_DATA;
    else if (new_data_waiting(st) && p2pq_stream_send_credit(st, conn_send) > 0)
      w |= P2PQ_STREAM_WANT_DATA;
    else if (sb->fin && sb->sent_hi == sb->len) /* only the FIN left: free */
      w |= P2PQ_STREAM_WANT_DATA;
    if (p2pq_fc_send_blocked_due(&st->sfc, new_data_waiting(st)))
      w |= P2PQ_STREAM_WANT_BLOCKED;
  }
  if (st->reset_pending)
    w |= P2PQ_STREAM_WANT_RESET;
  if (st->stop_pending && recv_open(st))
    w |= P2PQ_STREAM_WANT_STOP;
  if (st->recv_state == P2PQ_RECV_RECV && p2pq_fc_recv_update_due(&st->rfc))
    w |= P2PQ_STREAM_WANT_MAX_DATA;
  return w;
}

int p2pq_stream_next_data(const p2pq_stream *st, const p2pq_fc_send *conn_send, size_t max,
                          p2pq_sendbuf_range *r) {
  if (!send_active(st))
    return P2PQ_ERR_AGAIN;
  return p2pq_sendbuf_peek(&st->sb, max,
                           p2pq_sendbuf_sent_offset(&st->sb) +
                               p2pq_stream_send_credit(st, conn_send),
                           r);
}

int p2pq_stream_on_data_sent(p2pq_stream *st, p2pq_fc_send *conn_send, uint64_t off,
                             size_t len, int fin) {
  uint64_t before = p2pq_sendbuf_sent_offset(&st->sb), delta;
  int rc;
  if (!send_active(st))
    return P2PQ_ERR_STATE;
  if (off + len > before && off + len - before > p2pq_stream_send_credit(st, conn_send))
    return P2PQ_ERR_FLOW_CONTROL; /* the caller ignored the flow limit */
  if ((rc = p2pq_sendbuf_mark_sent(&st->sb, off, len, fin)))
    return rc;
  delta = p2pq_sendbuf_sent_offset(&st->sb) - before;
  (void)p2pq_fc_send_add(&st->sfc, delta);
  if (conn_send)
    (void)p2pq_fc_send_add(conn_send, delta);
  if (st->send_state == P2PQ_SEND_READY)
    st->send_state = P2PQ_SEND_SEND;
  if (p2pq_sendbuf_all_sent(&st->sb))
    st->send_state = P2PQ_SEND_DATA_SENT;
  resched(st);
  return 0;
}

int p2pq_stream_on_data_acked(p2pq_stream *st, uint64_t off, size_t len, int fin) {
  int rc;
  if (!send_active(st))
    return 0; /* reset meanwhile: data no longer tracked */
  if ((rc = p2pq_sendbuf_on_ack(&st->sb, off, len, fin)))
    return rc;
  if (st->send_state == P2PQ_SEND_DATA_SENT && p2pq_sendbuf_all_acked(&st->sb)) {
    st->send_state = P2PQ_SEND_DATA_RECVD;
    resched(st);
  }
  return 0;
}

int p2pq_stream_on_data_lost(p2pq_stream *st, uint64_t off, size_t len, int fin) {
  int rc;
  if (!send_active(st))
    return 0;
  if ((rc = p2pq_sendbuf_on_lost(&st->sb, off, len, fin)))
    return rc;
  resched(st);
  return 0;
}

void p2pq_stream_on_reset_sent(p2pq_stream *st) { st->reset_pending = 0; }

void p2pq_stream_on_reset_acked(p2pq_stream *st) {
  if (st->send_state == P2PQ_SEND_RESET_SENT) {
    st->send_state = P2PQ_SEND_RESET_RECVD;
    st->reset_pending = 0;
    resched(st);
  }
}

void p2pq_stream_on_reset_lost(p2pq_stream *st) {
  if (st->send_state == P2PQ_SEND_RESET_SENT) {
    st->reset_pending = 1;
    resched(st);
  }
}

void p2pq_stream_on_stop_sent(p2pq_stream *st) {
  st->stop_pending = 0;
  resched(st); /* may now be done */
}

void p2pq_stream_on_stop_lost(p2pq_stream *st) {
  if (recv_open(st)) {
    st->stop_pending = 1;
    resched(st);
  }
}

uint64_t p2pq_stream_max_data_update(p2pq_stream *st, p2pq_tstamp rtt, p2pq_tstamp now) {
  uint64_t limit = p2pq_fc_recv_update(&st->rfc, rtt, now);
  p2pq_recvbuf_set_limit(&st->rb, limit);
  if (st->map) /* a connection window below a stream window would throttle it */
    p2pq_fc_recv_grow(&st->map->fc_recv, st->rfc.window + st->rfc.window / 2);
  return limit;
}

void p2pq_stream_on_max_data_lost(p2pq_stream *st, uint64_t limit) {
  if (st->recv_state == P2PQ_RECV_RECV) {
    p2pq_fc_recv_update_lost(&st->rfc, limit);
    resched(st);
  }
}

void p2pq_stream_on_blocked_sent(p2pq_stream *st) { p2pq_fc_send_blocked_sent(&st->sfc); }

void p2pq_stream_on_blocked_lost(p2pq_stream *st, uint64_t limit) {
  p2pq_fc_send_blocked_lost(&st->sfc, limit);
  resched(st);
}

int p2pq_stream_is_done(const p2pq_stream *st) {
  int send_done = st->send_state == P2PQ_SEND_NONE || st->send_state == P2PQ_SEND_DATA_RECVD ||
                  st->send_state == P2PQ_SEND_RESET_RECVD;
  int recv_done = st->recv_state == P2PQ_RECV_NONE || st->recv_state == P2PQ_RECV_DATA_READ ||
                  st->recv_state == P2PQ_RECV_RESET_READ;
  return send_done && recv_done && !st->reset_pending && !st->stop_pending;
}
