#include "quic/streammap.h"

#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "p2pq/error.h"

#define CONN_BLOCKED P2PQ_STREAM_URGENCIES /* queue index of conn-blocked streams */

/* ---- hash map ---------------------------------------------------------------- */

static size_t bucket_of(const p2pq_streammap *m, uint64_t id) {
  uint64_t h = id * 0x9e3779b97f4a7c15ull;
  return (size_t)(h ^ (h >> 32)) & (m->nbuckets - 1);
}

p2pq_stream *p2pq_streammap_find(const p2pq_streammap *m, uint64_t id) {
  p2pq_stream *st;
  if (!m->nbuckets)
    return NULL;
  for (st = m->buckets[bucket_of(m, id)]; st; st = st->hnext)
    if (st->id == id)
      return st;
  return NULL;
}

static int rehash(p2pq_streammap *m, size_t nb) {
  p2pq_stream **nbk = calloc(nb, sizeof(*nbk));
  size_t i, old = m->nbuckets;
  p2pq_stream **ob = m->buckets;
  if (!nbk)
    return P2PQ_ERR_NOMEM;
  m->buckets = nbk;
  m->nbuckets = nb;
  for (i = 0; i < old; i++) {
    p2pq_stream *st = ob[i], *next;
    for (; st; st = next) {
      size_t b = bucket_of(m, st->id);
      next = st->hnext;
      st->hnext = nbk[b];
      nbk[b] = st;
    }
  }
  free(ob);
  return 0;
}

static int hash_insert(p2pq_streammap *m, p2pq_stream *st) {
  size_t b;
  if (m->count + 1 > m->nbuckets) { /* load factor <= 1 */
    int rc = rehash(m, m->nbuckets ? m->nbuckets * 2 : 16);
    if (rc)
      return rc;
  }
  b = bucket_of(m, st->id);
  st->hnext = m->buckets[b];
  m->buckets[b] = st;
  m->count++;
  return 0;
}

static void hash_remove(p2pq_streammap *m, p2pq_stream *st) {
  p2pq_stream **pp = &m->buckets[bucket_of(m, st->id)];
  for (; *pp; pp = &(*pp)->hnext)
    if (*pp == st) {
      *pp = st->hnext;
      m->count--;
      return;
    }
}

/* ---- life ---------------------------------------------------------------------- */

int p2pq_streammap_init(p2pq_streammap *m, const p2pq_streammap_config *cfg) {
  memset(m, 0, sizeof(*m));
  if (cfg->max_streams_bidi > P2PQ_MAX_STREAMS_LIMIT ||
      cfg->max_streams_uni > P2PQ_MAX_STREAMS_LIMIT)
    return P2PQ_ERR_CONFIG;
  m->cfg = *cfg;
  m->our_limit[0] = cfg->max_streams_bidi;
  m->our_limit[1] = cfg->max_streams_uni;
  m->blocked_at[0] = m->blocked_at[1] = UINT64_MAX;
  p2pq_fc_send_init(&m->fc_send, 0);
  p2pq_fc_recv_init(&m->fc_recv, cfg->conn_window, cfg->conn_max_window);
  return 0;
}

static void free_stream(p2pq_stream *st) {
  p2pq_stream_clear(st);
  free(st);
}

void p2pq_streammap_clear(p2pq_streammap *m) {
  for (size_t i = 0; i < m->nbuckets; i++) {
    p2pq_stream *st = m->buckets[i], *next;
    for (; st; st = next) {
      next = st->hnext;
      free_stream(st);
    }
  }
  free(m->buckets);
  memset(m, 0, sizeof(*m));
}

/* The peer's initial_max_stream_data_* that governs our sending on id. */
static uint64_t peer_stream_limit(const p2pq_streammap *m, uint64_t id) {
  if (p2pq_stream_id_is_uni(id))
    return m->peer.max_stream_data_uni;
  return p2pq_stream_id_is_local(id, m->cfg.is_server) ? m->peer.max_stream_data_bidi_remote
                                                       : m->peer.max_stream_data_bidi_local;
}

static int create(p2pq_streammap *m, uint64_t id, p2pq_stream **out) {
  p2pq_stream_limits lim;
  p2pq_stream *st = malloc(sizeof(*st));
  int rc;
  if (!st)
    return P2PQ_ERR_NOMEM;
  lim.send_limit = peer_stream_limit(m, id);
  if (p2pq_stream_id_is_uni(id))
    lim.recv_window = m->cfg.stream_window_uni;
  else
    lim.recv_window = p2pq_stream_id_is_local(id, m->cfg.is_server)
                          ? m->cfg.stream_window_bidi_local
                          : m->cfg.stream_window_bidi_remote;
  lim.recv_max_window = m->cfg.stream_max_window;
  lim.send_buffer_max = m->cfg.send_buffer_max;
  if ((rc = p2pq_stream_init(st, id, m->cfg.is_server, &lim)) ||
      (rc = hash_insert(m, st))) {
    free(st);
    return rc;
  }
  st->map = m;
  *out = st;
  return 0;
}

void p2pq_streammap_set_peer(p2pq_streammap *m, const p2pq_streammap_peer *peer) {
  m->peer = *peer;
  if (peer->max_streams_bidi > m->peer_limit[0])
    m->peer_limit[0] = peer->max_streams_bidi;
  if (peer->max_streams_uni > m->peer_limit[1])
    m->peer_limit[1] = peer->max_streams_uni;
  p2pq_fc_send_update(&m->fc_send, peer->max_data);
  for (size_t i = 0; i < m->nbuckets; i++)
    for (p2pq_stream *st = m->buckets[i]; st; st = st->hnext)
      if (st->send_state != P2PQ_SEND_NONE &&
          p2pq_fc_send_update(&st->sfc, peer_stream_limit(m, st->id)))
        p2pq_streammap_schedule(m, st);
}

/* ---- opening ------------------------------------------------------------------- */

int p2pq_streammap_open(p2pq_streammap *m, int uni, p2pq_stream **out) {
  int u = uni ? 1 : 0, rc;
  if (m->local_opened[u] >= m->peer_limit[u]) {
    m->streams_blocked[u] = 1;
    return P2PQ_ERR_STREAM_LIMIT;
  }
  rc = create(m, p2pq_stream_id_make(m->local_opened[u], u, m->cfg.is_server), out);
  if (rc)
    return rc;
  m->local_opened[u]++;
  return 0;
}

int p2pq_streammap_get(p2pq_streammap *m, uint64_t id, int dir, p2pq_stream **out) {
  int u = p2pq_stream_id_is_uni(id), is_server = m->cfg.is_server;
  uint64_t idx = id >> 2;
  p2pq_stream *st;
  *out = NULL;
  if (id > P2PQ_VARINT_MAX)
    return P2PQ_ERR_FRAME_ENCODING;
  /* RFC 9000 19.8, 19.4, 19.5, 19.10, 19.13: wrong direction */
  if (dir == P2PQ_DIR_RECV ? !p2pq_stream_id_can_recv(id, is_server)
                           : !p2pq_stream_id_can_send(id, is_server))
    return P2PQ_ERR_STREAM_STATE;
  if ((st = p2pq_streammap_find(m, id))) {
    *out = st;
    return 0;
  }
  if (p2pq_stream_id_is_local(id, is_server)) /* closed, or never opened by us */
    return idx < m->local_opened[u] ? 0 : P2PQ_ERR_STREAM_STATE;
  if (idx < m->peer_opened[u])
    return 0; /* closed: the frame is a late retransmission */
  if (idx >= m->our_limit[u])
    return P2PQ_ERR_STREAM_LIMIT;
  /* opening a stream opens every lower-numbered one of its type (RFC 9000 3.2) */
  while (m->peer_opened[u] <= idx) {
    int rc = create(m, p2pq_stream_id_make(m->peer_opened[u], u, !is_server), &st);
    if (rc)
      return rc;
    m->peer_opened[u]++;
  }
  *out = st;
  return 0;
}

int p2pq_streammap_take_opened(p2pq_streammap *m, uint64_t *id) {
  for (int u = 0; u < 2; u++)
    if (m->peer_reported[u] < m->peer_opened[u]) {
      *id = p2pq_stream_id_make(m->peer_reported[u]++, u, !m->cfg.is_server);
      return 1;
    }
  return 0;
}

/* ---- limits ---------------------------------------------------------------------- */

int p2pq_streammap_on_max_streams(p2pq_streammap *m, int uni, uint64_t max) {
  int u = uni ? 1 : 0;
  if (max > P2PQ_MAX_STREAMS_LIMIT)
    return P2PQ_ERR_FRAME_ENCODING;
  if (max <= m->peer_limit[u])
    return 0;
  m->peer_limit[u] = max;
  m->streams_blocked[u] = 0;
  return 1;
}

int p2pq_streammap_on_max_data(p2pq_streammap *m, uint64_t max) {
  p2pq_stream *st;
  if (!p2pq_fc_send_update(&m->fc_send, max))
    return 0;
  while ((st = m->qhead[CONN_BLOCKED])) { /* credit again: back to their classes */
    p2pq_streammap_unqueue(m, st);
    p2pq_streammap_schedule(m, st);
  }
  return 1;
}

int p2pq_streammap_max_streams_due(const p2pq_streammap *m, int uni, uint64_t *max) {
  int u = uni ? 1 : 0;
  uint64_t window = u ? m->cfg.max_streams_uni : m->cfg.max_streams_bidi;
  uint64_t target = m->peer_closed[u] + window;
  if (target > P2PQ_MAX_STREAMS_LIMIT)
    target = P2PQ_MAX_STREAMS_LIMIT;
  if (m->max_streams_pending[u]) {
    *max = m->our_limit[u];
    return 1;
  }
  /* batch: give credit back once half the window's worth of streams closed */
  if (target > m->our_limit[u] && (target - m->our_limit[u]) * 2 >= window) {
    *max = target;
    return 1;
  }
  return 0;
}

void p2pq_streammap_max_streams_sent(p2pq_streammap *m, int uni, uint64_t max) {
  int u = uni ? 1 : 0;
  if (max > m->our_limit[u])
    m->our_limit[u] = max;
  m->max_streams_pending[u] = 0;
}

void p2pq_streammap_max_streams_lost(p2pq_streammap *m, int uni, uint64_t max) {
  int u = uni ? 1 : 0;
  if (max == m->our_limit[u])
    m->max_streams_pending[u] = 1;
}

int p2pq_streammap_streams_blocked_due(const p2pq_streammap *m, int uni, uint64_t *limit) {
  int u = uni ? 1 : 0;
  if (!m->streams_blocked[u] || m->blocked_at[u] == m->peer_limit[u])
    return 0;
  *limit = m->peer_limit[u];
  return 1;
}

void p2pq_streammap_streams_blocked_sent(p2pq_streammap *m, int uni) {
  int u = uni ? 1 : 0;
  m->blocked_at[u] = m->peer_limit[u];
}

/* ---- scheduling ------------------------------------------------------------------ */

static void q_append(p2pq_streammap *m, p2pq_stream *st, int q) {
  st->queue = (int8_t)q;
  st->qnext = NULL;
  st->qprev = m->qtail[q];
  if (m->qtail[q])
    m->qtail[q]->qnext = st;
  else
    m->qhead[q] = st;
  m->qtail[q] = st;
}

void p2pq_streammap_unqueue(p2pq_streammap *m, p2pq_stream *st) {
  int q = st->queue;
  if (q < 0)
    return;
  if (st->qprev)
    st->qprev->qnext = st->qnext;
  else
    m->qhead[q] = st->qnext;
  if (st->qnext)
    st->qnext->qprev = st->qprev;
  else
    m->qtail[q] = st->qprev;
  st->qprev = st->qnext = NULL;
  st->queue = -1;
}

static void ctrl_remove(p2pq_streammap *m, p2pq_stream *st) {
  if (!st->in_ctrl)
    return;
  if (st->cprev)
    st->cprev->cnext = st->cnext;
  else
    m->chead = st->cnext;
  if (st->cnext)
    st->cnext->cprev = st->cprev;
  else
    m->ctail = st->cprev;
  st->cprev = st->cnext = NULL;
  st->in_ctrl = 0;
}

void p2pq_streammap_schedule(p2pq_streammap *m, p2pq_stream *st) {
  unsigned w = p2pq_stream_wants(st, NULL);
  if ((w & P2PQ_STREAM_WANT_CTRL) && !st->in_ctrl) {
    st->in_ctrl = 1;
    st->cnext = NULL;
    st->cprev = m->ctail;
    if (m->ctail)
      m->ctail->cnext = st;
    else
      m->chead = st;
    m->ctail = st;
  }
  if (w & P2PQ_STREAM_WANT_DATA) {
    /* a parked stream with something sendable without connection credit
     * (lost data, a lone FIN) must not wait for MAX_DATA: the peer may need
     * exactly that data before it can give credit */
    if (st->queue == CONN_BLOCKED && (p2pq_stream_wants(st, &m->fc_send) & P2PQ_STREAM_WANT_DATA))
      p2pq_streammap_unqueue(m, st);
    if (st->queue < 0)
      q_append(m, st, st->urgency);
  }
  if (!st->in_done && p2pq_stream_is_done(st)) {
    st->in_done = 1;
    st->dnext = m->done;
    m->done = st;
  }
}

p2pq_stream *p2pq_streammap_next_ctrl(p2pq_streammap *m) {
  p2pq_stream *st;
  while ((st = m->chead)) {
    ctrl_remove(m, st);
    if (p2pq_stream_wants(st, NULL) & P2PQ_STREAM_WANT_CTRL)
      return st;
  }
  return NULL;
}

p2pq_stream *p2pq_streammap_next_data(p2pq_streammap *m) {
  for (int u = 0; u < P2PQ_STREAM_URGENCIES; u++) {
    p2pq_stream *st;
    while ((st = m->qhead[u])) {
      if (p2pq_stream_wants(st, &m->fc_send) & P2PQ_STREAM_WANT_DATA)
        return st;
      p2pq_streammap_unqueue(m, st);
      /* wants data but the connection has no credit: park it until MAX_DATA */
      if (p2pq_stream_wants(st, NULL) & P2PQ_STREAM_WANT_DATA)
        q_append(m, st, CONN_BLOCKED);
    }
  }
  return NULL;
}

void p2pq_streammap_rotate(p2pq_streammap *m, p2pq_stream *st) {
  if (st->queue >= 0 && st->queue < P2PQ_STREAM_URGENCIES)
    p2pq_streammap_unqueue(m, st);
  p2pq_streammap_schedule(m, st);
}

/* ---- removal --------------------------------------------------------------------- */

size_t p2pq_streammap_gc(p2pq_streammap *m) {
  size_t n = 0;
  p2pq_stream *st;
  while ((st = m->done)) {
    m->done = st->dnext;
    st->in_done = 0;
    if (!p2pq_stream_is_done(st))
      continue;
    hash_remove(m, st);
    p2pq_streammap_unqueue(m, st);
    ctrl_remove(m, st);
    if (!p2pq_stream_id_is_local(st->id, m->cfg.is_server))
      m->peer_closed[p2pq_stream_id_is_uni(st->id)]++;
    free_stream(st);
    n++;
  }
  return n;
}
