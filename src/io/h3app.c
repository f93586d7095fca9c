/* HTTP/3 over a p2pq QUIC connection: moves bytes between the two layers. */
#include "io/h3app.h"

#include <stdlib.h>
#include <string.h>

#define STAGE_SIZE (64u << 10) /* bytes moved per call between the layers */

/* Output QUIC did not take yet: a full send buffer, or a stream the peer's
 * stream limit does not let us open. Everything later for the stream queues
 * behind it, so the stream's bytes stay in order. */
typedef struct outbox {
  int64_t sid;
  uint8_t *buf;
  size_t len, off, cap;
  int fin;
  struct outbox *next;
} outbox;

struct p2pq_h3app {
  p2pq_conn *conn;
  p2pq_h3_conn *h3;
  int is_server;
  uint64_t next_open[2]; /* next QUIC stream id we open: [0] bidi, [1] uni */
  outbox *out;
  uint8_t *stage;
  int failed; /* the H3 connection hit a connection error */
};

static int is_local(const p2pq_h3app *a, int64_t sid) { return (int)(sid & 1) == a->is_server; }
static int is_uni(int64_t sid) { return (sid & 2) != 0; }

int p2pq_h3app_new(p2pq_h3app **out, p2pq_conn *conn, const p2pq_h3_config *cfg) {
  p2pq_h3app *a;
  int rv;
  if (out == NULL || conn == NULL || cfg == NULL)
    return P2PQ_ERR_INVALID_ARG;
  if ((a = calloc(1, sizeof(*a))) == NULL || (a->stage = malloc(STAGE_SIZE)) == NULL) {
    free(a);
    return P2PQ_ERR_NOMEM;
  }
  if ((rv = p2pq_h3_conn_new(&a->h3, cfg)) != 0) {
    free(a->stage);
    free(a);
    return rv;
  }
  a->conn = conn;
  a->is_server = cfg->is_server ? 1 : 0;
  a->next_open[0] = (uint64_t)a->is_server;
  a->next_open[1] = 2u + (uint64_t)a->is_server;
  *out = a;
  return 0;
}

static void outbox_free(outbox *o) {
  free(o->buf);
  free(o);
}

void p2pq_h3app_free(p2pq_h3app *a) {
  if (a == NULL)
    return;
  while (a->out != NULL) {
    outbox *o = a->out;
    a->out = o->next;
    outbox_free(o);
  }
  p2pq_h3_conn_free(a->h3);
  free(a->stage);
  free(a);
}

p2pq_h3_conn *p2pq_h3app_h3(p2pq_h3app *a) { return a->h3; }
p2pq_conn *p2pq_h3app_conn(p2pq_h3app *a) { return a->conn; }

static outbox **outbox_find(p2pq_h3app *a, int64_t sid) {
  outbox **pp = &a->out;
  while (*pp != NULL && (*pp)->sid != sid)
    pp = &(*pp)->next;
  return pp;
}

static void outbox_drop(p2pq_h3app *a, int64_t sid) {
  outbox **pp = outbox_find(a, sid), *o = *pp;
  if (o != NULL) {
    *pp = o->next;
    outbox_free(o);
  }
}

static int outbox_reserve(outbox *o, size_t more) {
  size_t cap;
  uint8_t *b;
  if (o->off > 0) { /* compact before growing */
    memmove(o->buf, o->buf + o->off, o->len - o->off);
    o->len -= o->off;
    o->off = 0;
  }
  if (o->cap - o->len >= more)
    return 0;
  cap = o->cap ? o->cap : 4096;
  while (cap - o->len < more)
    cap *= 2;
  if ((b = realloc(o->buf, cap)) == NULL)
    return P2PQ_ERR_NOMEM;
  o->buf = b;
  o->cap = cap;
  return 0;
}

static int outbox_add(p2pq_h3app *a, int64_t sid, const uint8_t *p, size_t n, int fin) {
  outbox **pp = outbox_find(a, sid), *o = *pp;
  int rv;
  if (o == NULL) {
    if ((o = calloc(1, sizeof(*o))) == NULL)
      return P2PQ_ERR_NOMEM;
    o->sid = sid;
    *pp = o; /* appended: older streams keep going first */
  }
  if ((rv = outbox_reserve(o, n)) != 0)
    return rv;
  if (n > 0)
    memcpy(o->buf + o->len, p, n);
  o->len += n;
  o->fin |= fin;
  return 0;
}

/* QUIC numbers streams in opening order, so opening sid opens every lower
 * local stream of its type first (the H3 layer uses them all, in order). */
static int ensure_open(p2pq_h3app *a, int64_t sid) {
  int uni = is_uni(sid);
  if (!is_local(a, sid))
    return 0;
  while (a->next_open[uni] <= (uint64_t)sid) {
    uint64_t id;
    int rv = p2pq_conn_open_stream(a->conn, !uni, &id);
    if (rv == P2PQ_ERR_STREAM_LIMIT)
      return P2PQ_ERR_AGAIN;
    if (rv != 0)
      return rv;
    a->next_open[uni] = id + 4;
  }
  return 0;
}

/* Bytes QUIC accepted (fin went too if all did), P2PQ_ERR_AGAIN if the stream
 * cannot be opened yet, or an error. */
static int64_t write_stream(p2pq_h3app *a, int64_t sid, const uint8_t *p, size_t n, int fin) {
  int rv = ensure_open(a, sid);
  if (rv != 0)
    return rv;
  return p2pq_stream_write(a->conn, (uint64_t)sid, p, n, fin);
}

/* Retries the waiting output; finished entries go. */
static int flush_outbox(p2pq_h3app *a) {
  outbox **pp = &a->out;
  while (*pp != NULL) {
    outbox *o = *pp;
    size_t left = o->len - o->off;
    int64_t w = write_stream(a, o->sid, o->buf + o->off, left, o->fin);
    if (w == P2PQ_ERR_CLOSED)
      return (int)w;
    if (w == P2PQ_ERR_AGAIN) { /* still over the peer's stream limit */
      pp = &o->next;
      continue;
    }
    if (w >= 0)
      o->off += (size_t)w;
    if (w < 0 || (size_t)w == left) { /* done, or the stream is gone (reset) */
      *pp = o->next;
      outbox_free(o);
      continue;
    }
    pp = &o->next;
  }
  return 0;
}

/* Everything the H3 layer has for a stream that already waits joins its queue. */
static int pull_into_outbox(p2pq_h3app *a, int64_t sid) {
  outbox *o = *outbox_find(a, sid);
  size_t need = p2pq_h3_conn_pending(a->h3, sid);
  int fin = 0, n, rv;
  if ((rv = outbox_reserve(o, need)) != 0)
    return rv;
  n = p2pq_h3_conn_send(a->h3, sid, o->buf + o->len, need, &fin);
  if (n < 0)
    return n == P2PQ_ERR_AGAIN ? 0 : n;
  o->len += (size_t)n;
  o->fin |= fin;
  return 0;
}

int p2pq_h3app_flush(p2pq_h3app *a, p2pq_tstamp now) {
  int64_t sid;
  int rv;
  (void)now;
  if ((rv = flush_outbox(a)) != 0)
    return rv;
  while ((sid = p2pq_h3_conn_next_stream(a->h3)) >= 0) {
    int fin = 0, n, again;
    int64_t w;
    if (*outbox_find(a, sid) != NULL) {
      if ((rv = pull_into_outbox(a, sid)) != 0)
        return rv;
      continue;
    }
    n = p2pq_h3_conn_send(a->h3, sid, a->stage, STAGE_SIZE, &fin);
    if (n < 0)
      return n;
    w = write_stream(a, sid, a->stage, (size_t)n, fin);
    if (w == P2PQ_ERR_CLOSED)
      return (int)w;
    again = w == P2PQ_ERR_AGAIN;
    if (again)
      w = 0;
    if (w < 0)
      continue; /* the stream was reset: its bytes go nowhere */
    if ((size_t)w < (size_t)n || again) {
      if ((rv = outbox_add(a, sid, a->stage + w, (size_t)n - (size_t)w, fin)) != 0)
        return rv;
    }
  }
  return 0;
}

size_t p2pq_h3app_buffered(const p2pq_h3app *a, int64_t stream_id) {
  size_t n = p2pq_h3_conn_pending(a->h3, stream_id);
  for (const outbox *o = a->out; o != NULL; o = o->next)
    if (o->sid == stream_id)
      n += o->len - o->off;
  return n;
}

static int note(p2pq_h3app *a, int rv) {
  if (rv == P2PQ_ERR_H3)
    a->failed = 1;
  return rv;
}

/* Drains a readable QUIC stream into the H3 layer. */
static int read_stream(p2pq_h3app *a, uint64_t sid) {
  for (;;) {
    int fin = 0, rv;
    int64_t n = p2pq_stream_read(a->conn, sid, a->stage, STAGE_SIZE, &fin);
    if (n < 0)
      return 0; /* gone (reset, or already read to the end) */
    if (n == 0 && !fin)
      return 0;
    if ((rv = p2pq_h3_conn_recv(a->h3, (int64_t)sid, a->stage, (size_t)n, fin)) != 0)
      return note(a, rv);
    if (fin)
      return 0;
  }
}

int p2pq_h3app_cancel(p2pq_h3app *a, int64_t sid, uint64_t h3_code) {
  int sends = !is_uni(sid) || is_local(a, sid);
  int reads = !is_uni(sid) || !is_local(a, sid);
  if (sends)
    (void)p2pq_stream_reset(a->conn, (uint64_t)sid, h3_code);
  if (reads)
    (void)p2pq_stream_stop_sending(a->conn, (uint64_t)sid, h3_code);
  outbox_drop(a, sid);
  return p2pq_h3_conn_stream_close(a->h3, sid);
}

int p2pq_h3app_close(p2pq_h3app *a, uint64_t h3_code, const char *reason, p2pq_tstamp now) {
  return p2pq_conn_close(a->conn, 1, h3_code, reason, now);
}

/* The peer asked us to stop sending on sid. */
static int on_stop(p2pq_h3app *a, uint64_t sid, uint64_t code, p2pq_tstamp now) {
  if (is_uni((int64_t)sid)) /* only our control and QPACK streams are uni */
    return p2pq_h3app_close(a, P2PQ_H3_CLOSED_CRITICAL_STREAM, "critical stream stopped", now);
  (void)p2pq_stream_reset(a->conn, sid, code);
  outbox_drop(a, (int64_t)sid);
  /* a client keeps reading the response (RFC 9114 4.1.1); a server forgets
   * the cancelled request */
  if (a->is_server)
    (void)p2pq_h3_conn_stream_close(a->h3, (int64_t)sid);
  return 0;
}

int p2pq_h3app_on_event(p2pq_h3app *a, const p2pq_event *ev, p2pq_tstamp now) {
  int rv = 0;
  if (ev->conn != a->conn)
    return 0;
  switch (ev->type) {
  case P2PQ_EV_STREAM_READABLE: rv = read_stream(a, ev->stream_id); break;
  case P2PQ_EV_STREAM_RESET:
    rv = note(a, p2pq_h3_conn_recv_reset(a->h3, (int64_t)ev->stream_id, ev->error_code));
    break;
  case P2PQ_EV_STREAM_STOP: rv = on_stop(a, ev->stream_id, ev->error_code, now); break;
  default: break;
  }
  if (rv == 0 || rv == P2PQ_ERR_H3) {
    int fr = p2pq_h3app_flush(a, now);
    if (rv == 0)
      rv = fr;
  }
  return rv;
}

int p2pq_h3app_poll(p2pq_h3app *a, p2pq_h3_event *ev, p2pq_tstamp now) {
  if (!p2pq_h3_conn_poll_event(a->h3, ev))
    return 0;
  switch (ev->type) {
  case P2PQ_H3_EV_STREAM_ERROR:
    (void)p2pq_h3app_cancel(a, ev->stream_id, ev->error_code);
    break;
  case P2PQ_H3_EV_STOP_READING:
    (void)p2pq_stream_stop_sending(a->conn, (uint64_t)ev->stream_id, ev->error_code);
    break;
  case P2PQ_H3_EV_CONN_ERROR:
    a->failed = 1;
    (void)p2pq_h3app_close(a, ev->error_code, p2pq_h3_errname(ev->error_code), now);
    break;
  default: break;
  }
  return 1;
}
