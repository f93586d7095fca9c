/* Connection life: creation, events, errors and closing (RFC 9000 10), timers,
 * key discarding, and the pool of retransmittable-frame records. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/initial.h"
#include "quic/conn_internal.h"
#include "quic/conn_stream.h"
#include "quic/qlog.h"

#define FREC_BLOCK 256

typedef struct frec_block {
  struct frec_block *next;
  p2pq_frec recs[FREC_BLOCK];
} frec_block;

p2pq_frec *p2pq_frec_get(p2pq_conn *c) {
  p2pq_frec *f = c->frec_free;
  if (f == NULL) {
    frec_block *b = calloc(1, sizeof(*b));
    size_t i;
    if (b == NULL)
      return NULL;
    b->next = c->frec_blocks;
    c->frec_blocks = b;
    for (i = 0; i < FREC_BLOCK; i++) {
      b->recs[i].next = c->frec_free;
      c->frec_free = &b->recs[i];
    }
    f = c->frec_free;
  }
  c->frec_free = f->next;
  memset(f, 0, sizeof(*f));
  return f;
}

int p2pq_frec_add(p2pq_conn *c, p2pq_frec **head, uint8_t kind, uint64_t id, uint64_t off,
                  uint64_t len, int fin) {
  p2pq_frec *f = p2pq_frec_get(c);
  if (f == NULL)
    return P2PQ_ERR_NOMEM;
  f->kind = kind;
  f->id = id;
  f->off = off;
  f->len = len;
  f->fin = (uint8_t)fin;
  f->next = *head;
  *head = f;
  return 0;
}

void p2pq_frec_put_chain(p2pq_conn *c, p2pq_frec *f) {
  while (f != NULL) {
    p2pq_frec *next = f->next;
    f->next = c->frec_free;
    c->frec_free = f;
    f = next;
  }
}

static void frec_free_all(p2pq_conn *c) {
  frec_block *b = c->frec_blocks;
  while (b != NULL) {
    frec_block *next = b->next;
    free(b);
    b = next;
  }
  c->frec_blocks = NULL;
  c->frec_free = NULL;
}

void p2pq_conn_push_event(p2pq_conn *c, p2pq_event_type t, uint64_t stream_id, uint64_t code,
                          const p2pq_addr *addr) {
  p2pq_event ev;
  memset(&ev, 0, sizeof(ev));
  ev.type = t;
  ev.conn = c;
  ev.stream_id = stream_id;
  ev.error_code = code;
  if (addr != NULL)
    ev.addr = *addr;
  if (t == P2PQ_EV_CLOSED) {
    ev.error = c->close_error;
    ev.error_code = c->close_code;
  }
  p2pq_ep_push_event(c->ep, &ev);
}

p2pq_conn *p2pq_conn_alloc(p2pq_endpoint *ep, int is_server, p2pq_tstamp now) {
  const p2pq_config *cfg = p2pq_ep_config(ep);
  const p2pq_settings *s = &cfg->settings;
  p2pq_conn *c = calloc(1, sizeof(*c));
  int i;
  if (c == NULL)
    return NULL;
  c->ep = ep;
  c->is_server = is_server;
  c->version = P2PQ_QUIC_V1;
  c->state = CONN_HANDSHAKE;
  c->active_path = 0;
  for (i = 0; i < P2PQ_PNS_COUNT; i++) {
    p2pq_pnspace *sp = &c->spaces[i];
    p2pq_sentq_init(&sp->sent, (uint8_t)i);
    p2pq_ackrange_init(&sp->recv);
    sp->largest_recv = UINT64_MAX;
    sp->ack_deadline = P2PQ_TSTAMP_MAX;
    p2pq_sendbuf_init(&sp->crypto_tx);
    p2pq_recvbuf_init(&sp->crypto_rx, UINT64_MAX);
  }
  for (i = 0; i < P2PQ_MAX_PEER_CIDS; i++)
    c->peer_cids[i].path_id = -1;
  {
    p2pq_streammap_config mc;
    memset(&mc, 0, sizeof(mc));
    mc.is_server = is_server;
    mc.max_streams_bidi = s->initial_max_streams_bidi;
    mc.max_streams_uni = s->initial_max_streams_uni;
    mc.stream_window_bidi_local = s->initial_max_stream_data;
    mc.stream_window_bidi_remote = s->initial_max_stream_data;
    mc.stream_window_uni = s->initial_max_stream_data;
    mc.stream_max_window = s->max_stream_window;
    mc.conn_window = s->initial_max_data;
    mc.conn_max_window = s->max_data_window;
    mc.send_buffer_max = s->max_stream_window;
    if (p2pq_streammap_init(&c->streams, &mc) != 0) {
      free(c);
      return NULL;
    }
  }
  c->idle_deadline = now + s->handshake_timeout_ms * P2PQ_MS;
  c->handshake_deadline = now + s->handshake_timeout_ms * P2PQ_MS;
  c->last_activity = now;
  c->qlog = cfg->qlog_enabled && cfg->qlog != NULL;
  c->timer_dirty = 1;
  return c;
}

void p2pq_conn_free(p2pq_conn *c) {
  int i;
  p2pq_recovery_env env;
  if (c == NULL)
    return;
  p2pq_conn_recovery_env(c, &env);
  for (i = 0; i < P2PQ_MAX_PATHS; i++)
    if (c->paths[i].in_use)
      p2pq_recovery_clear(&c->paths[i].rec);
  for (i = 0; i < P2PQ_PNS_COUNT; i++) {
    p2pq_pnspace *sp = &c->spaces[i];
    p2pq_sentq_clear(&sp->sent);
    p2pq_pp_key_clear(&sp->rx);
    p2pq_pp_key_clear(&sp->tx);
    p2pq_sendbuf_clear(&sp->crypto_tx);
    p2pq_recvbuf_clear(&sp->crypto_rx);
  }
  for (i = 0; i < 3; i++)
    p2pq_pp_key_clear(&c->app_rx[i]);
  for (i = 0; i < 2; i++)
    p2pq_pp_key_clear(&c->app_tx[i]);
  for (i = 0; i < P2PQ_MAX_LOCAL_CIDS; i++)
    if (c->local_cids[i].in_use)
      p2pq_ep_unregister_cid(c->ep, &c->local_cids[i].cid);
  if (c->is_server)
    p2pq_ep_unregister_cid(c->ep, &c->initial_dcid);
  for (i = 0; i < (int)c->n_held; i++)
    free(c->held[i].data);
  for (i = 0; i < P2PQ_MAX_DGRAM_QUEUE; i++) {
    free(c->dgram_rx[i].data);
    free(c->dgram_tx[i].data);
  }
  p2pq_streammap_clear(&c->streams);
  p2pq_tls_free(c->tls);
  free(c->token);
  frec_free_all(c);
  p2pq_ep_detach(c->ep, c);
  free(c);
}

/* Frees the frames of a packet that left the sent table without verdict. */
static void on_discarded(void *user, const p2pq_sentpkt *pkt) {
  p2pq_conn *c = user;
  p2pq_frec_put_chain(c, pkt->frames);
}

static p2pq_recovery *path_recovery(void *user, uint16_t path_id) {
  p2pq_conn *c = user;
  int i;
  for (i = 0; i < P2PQ_MAX_PATHS; i++)
    if (c->paths[i].in_use && c->paths[i].id == path_id)
      return &c->paths[i].rec;
  return NULL;
}

void p2pq_conn_recovery_env(p2pq_conn *c, p2pq_recovery_env *env) {
  int i;
  const p2pq_path *p = &c->paths[c->active_path];
  memset(env, 0, sizeof(*env));
  for (i = 0; i < P2PQ_PNS_COUNT; i++)
    env->spaces[i] = c->spaces[i].discarded ? NULL : &c->spaces[i].sent;
  env->max_ack_delay = (c->have_peer_tp ? c->peer_tp.max_ack_delay : 25) * P2PQ_MS;
  env->handshake_confirmed = (uint8_t)c->handshake_confirmed;
  env->peer_validated = (uint8_t)(c->is_server || c->peer_address_validated ||
                                  c->handshake_confirmed);
  env->has_handshake_keys = (uint8_t)c->spaces[P2PQ_PNS_HANDSHAKE].have_tx;
  env->amplification_blocked =
      (uint8_t)(c->is_server && !p->validated && p->bytes_sent >= 3 * p->bytes_recv);
  env->user = c;
  env->on_acked = p2pq_conn_on_acked;
  env->on_lost = p2pq_conn_on_lost;
  env->on_discarded = on_discarded;
  env->path_recovery = path_recovery;
}

int p2pq_conn_derive_initial(p2pq_conn *c, const p2pq_cid *dcid) {
  p2pq_pnspace *sp = &c->spaces[P2PQ_PNS_INITIAL];
  int rv;
  p2pq_pp_key_clear(&sp->rx);
  p2pq_pp_key_clear(&sp->tx);
  rv = p2pq_initial_keys(c->version, dcid->data, dcid->len, c->is_server, &sp->rx, &sp->tx);
  if (rv != 0)
    return rv;
  sp->have_rx = sp->have_tx = 1;
  c->initial_dcid = *dcid;
  return 0;
}

void p2pq_conn_discard_space(p2pq_conn *c, int space, p2pq_tstamp now) {
  p2pq_pnspace *sp = &c->spaces[space];
  p2pq_recovery_env env;
  int i;
  if (sp->discarded)
    return;
  p2pq_conn_recovery_env(c, &env);
  for (i = 0; i < P2PQ_MAX_PATHS; i++)
    if (c->paths[i].in_use) {
      p2pq_recovery_discard_space(&c->paths[i].rec, &env, (uint8_t)space, now);
      break; /* recovery settles bytes of other paths itself */
    }
  sp->discarded = 1;
  sp->have_rx = sp->have_tx = 0;
  sp->ack_now = 0;
  sp->ack_deadline = P2PQ_TSTAMP_MAX;
  sp->unacked_eliciting = 0;
  p2pq_pp_key_clear(&sp->rx);
  p2pq_pp_key_clear(&sp->tx);
}

/* RFC 9000 20.1 transport error codes. */
uint64_t p2pq_conn_wire_error(int err) {
  switch (err) {
  case 0: return 0x0;
  case P2PQ_ERR_NOMEM: return 0x1;
  case P2PQ_ERR_FLOW_CONTROL: return 0x3;
  case P2PQ_ERR_STREAM_LIMIT: return 0x4;
  case P2PQ_ERR_STREAM_STATE: return 0x5;
  case P2PQ_ERR_FINAL_SIZE: return 0x6;
  case P2PQ_ERR_FRAME_ENCODING: return 0x7;
  case P2PQ_ERR_TRANSPORT_PARAM: return 0x8;
  case P2PQ_ERR_CONNECTION_ID_LIMIT: return 0x9;
  case P2PQ_ERR_PROTOCOL: return 0xa;
  case P2PQ_ERR_INVALID_TOKEN: return 0xb;
  case P2PQ_ERR_CRYPTO_BUFFER: return 0xd;
  case P2PQ_ERR_KEY_UPDATE: return 0xe;
  case P2PQ_ERR_AEAD_LIMIT: return 0xf;
  case P2PQ_ERR_NO_VIABLE_PATH: return 0x10;
  default: return 0x1; /* INTERNAL_ERROR */
  }
}

static void start_closing(p2pq_conn *c, int err, p2pq_tstamp now) {
  if (c->state >= CONN_CLOSING)
    return;
  c->state = CONN_CLOSING;
  c->close_error = err;
  c->close_pending = 1;
  c->close_deadline = now + 3 * p2pq_conn_pto(c);
}

/* A local error: close with the matching transport error (TLS alerts become
 * CRYPTO_ERROR 0x100 + alert). */
void p2pq_conn_set_error(p2pq_conn *c, int err, uint64_t frame_type, const char *reason,
                         p2pq_tstamp now) {
  uint8_t alert;
  if (c->state >= CONN_CLOSING)
    return;
  c->close_app = 0;
  c->close_frame_type = frame_type;
  alert = c->tls != NULL ? p2pq_tls_alert(c->tls) : 0;
  if ((err == P2PQ_ERR_TLS || err == P2PQ_ERR_TLS_ALERT || err == P2PQ_ERR_PEER_AUTH) &&
      alert != 0)
    c->close_code = 0x100u + alert;
  else if (err == P2PQ_ERR_TLS || err == P2PQ_ERR_PEER_AUTH)
    c->close_code = 0x100u + 40; /* handshake_failure */
  else
    c->close_code = p2pq_conn_wire_error(err);
  snprintf(c->close_reason, sizeof(c->close_reason), "%s", reason ? reason : "");
  start_closing(c, err, now);
}

void p2pq_conn_enter_draining(p2pq_conn *c, int err, p2pq_tstamp now) {
  if (c->state >= CONN_DRAINING)
    return;
  c->state = CONN_DRAINING;
  c->close_error = err;
  c->close_pending = 0;
  c->close_deadline = now + 3 * p2pq_conn_pto(c);
}

int p2pq_conn_close(p2pq_conn *c, int app, uint64_t error_code, const char *reason,
                    p2pq_tstamp now) {
  P2PQ_CONN_TOUCH(c);
  if (c->state >= CONN_CLOSING)
    return 0;
  c->close_app = app && c->handshake_complete;
  c->close_code = app && !c->handshake_complete ? 0x0c /* APPLICATION_ERROR */ : error_code;
  c->close_frame_type = 0;
  /* RFC 9000 10.2.3: an application close sent before 1-RTT loses its reason */
  snprintf(c->close_reason, sizeof(c->close_reason), "%s",
           reason && !(app && !c->handshake_complete) ? reason : "");
  start_closing(c, P2PQ_ERR_CLOSED, now);
  return 0;
}

p2pq_tstamp p2pq_conn_pto(const p2pq_conn *c) {
  const p2pq_rtt *r = &c->paths[c->active_path].rec.rtt;
  p2pq_tstamp v = 4 * r->rttvar;
  if (v < P2PQ_MS)
    v = P2PQ_MS;
  return r->smoothed + v + (c->have_peer_tp ? c->peer_tp.max_ack_delay * P2PQ_MS : 0);
}

void p2pq_conn_touch_idle(p2pq_conn *c, p2pq_tstamp now) {
  uint64_t ms = c->local_tp.max_idle_timeout;
  p2pq_tstamp t, min3;
  if (c->have_peer_tp && c->peer_tp.max_idle_timeout != 0 &&
      (ms == 0 || c->peer_tp.max_idle_timeout < ms))
    ms = c->peer_tp.max_idle_timeout;
  if (!c->handshake_complete)
    return; /* the handshake timeout governs until then */
  if (ms == 0) {
    c->idle_deadline = P2PQ_TSTAMP_MAX;
    return;
  }
  t = ms * P2PQ_MS;
  min3 = 3 * p2pq_conn_pto(c);
  c->idle_deadline = now + (t > min3 ? t : min3);
  c->last_activity = now;
}

static p2pq_tstamp tmin(p2pq_tstamp a, p2pq_tstamp b) { return a < b ? a : b; }

p2pq_tstamp p2pq_conn_next_timeout(p2pq_conn *c) {
  p2pq_tstamp t = P2PQ_TSTAMP_MAX;
  p2pq_recovery_env env;
  int i;
  if (c->state == CONN_CLOSED)
    return P2PQ_TSTAMP_MAX;
  if (c->state >= CONN_CLOSING)
    return c->close_deadline;
  t = tmin(t, c->idle_deadline);
  if (!c->handshake_complete)
    t = tmin(t, c->handshake_deadline);
  for (i = 0; i < P2PQ_PNS_COUNT; i++)
    if (!c->spaces[i].discarded)
      t = tmin(t, c->spaces[i].ack_deadline);
  p2pq_conn_recovery_env(c, &env);
  t = tmin(t, p2pq_recovery_next_timeout(&c->paths[c->active_path].rec, &env));
  t = tmin(t, p2pq_path_next_timeout(c));
  if (c->prev_rx_discard_time != 0)
    t = tmin(t, c->prev_rx_discard_time);
  t = tmin(t, p2pq_conn_pacing_deadline(c));
  return t;
}

static void close_now(p2pq_conn *c, int err) {
  if (c->state == CONN_CLOSED)
    return;
  if (c->close_error == 0)
    c->close_error = err;
  c->state = CONN_CLOSED;
  {
    char f[160];
    snprintf(f, sizeof(f), "\"owner\":\"%s\",\"reason\":\"%s\"",
             c->close_error == P2PQ_ERR_PEER_CLOSED ? "remote" : "local",
             p2pq_strerror(c->close_error));
    p2pq_qlog_note(c, "connectivity:connection_closed", f, c->last_now);
  }
  if (!c->closed_event_sent) {
    c->closed_event_sent = 1;
    p2pq_conn_push_event(c, P2PQ_EV_CLOSED, 0, 0, NULL);
  }
}

void p2pq_conn_on_timeout(p2pq_conn *c, p2pq_tstamp now) {
  p2pq_recovery_env env;
  p2pq_recovery_action act;
  p2pq_recovery *rec;
  int i;
  if (c->state == CONN_CLOSED)
    return;
  c->last_now = now;
  if (c->state >= CONN_CLOSING) {
    if (now >= c->close_deadline)
      close_now(c, c->close_error);
    return;
  }
  if (now >= c->idle_deadline) {
    close_now(c, c->handshake_complete ? P2PQ_ERR_IDLE_TIMEOUT : P2PQ_ERR_HANDSHAKE_TIMEOUT);
    return;
  }
  if (!c->handshake_complete && now >= c->handshake_deadline) {
    close_now(c, P2PQ_ERR_HANDSHAKE_TIMEOUT);
    return;
  }
  for (i = 0; i < P2PQ_PNS_COUNT; i++)
    if (now >= c->spaces[i].ack_deadline)
      c->spaces[i].ack_now = 1;
  if (c->prev_rx_discard_time != 0 && now >= c->prev_rx_discard_time) {
    c->rx_has_prev = 0; /* RFC 9001 6.5: old keys go after 3 PTO */
    c->prev_rx_discard_time = 0;
  }
  p2pq_path_on_timeout(c, now);
  p2pq_conn_recovery_env(c, &env);
  rec = &c->paths[c->active_path].rec;
  if (now >= p2pq_recovery_next_timeout(rec, &env)) {
    p2pq_recovery_on_timeout(rec, &env, now, &act);
    if (act.kind == P2PQ_RECOVERY_PROBE) {
      c->spaces[act.space].probe_pending = act.probes;
      if (act.space != P2PQ_PNS_APP && !c->spaces[act.space].have_tx &&
          c->spaces[P2PQ_PNS_HANDSHAKE].have_tx)
        c->spaces[P2PQ_PNS_HANDSHAKE].probe_pending = act.probes;
    }
  }
}

/* ---- public accessors ---- */

void p2pq_conn_set_user(p2pq_conn *c, void *user) { c->user = user; }
void *p2pq_conn_user(const p2pq_conn *c) { return c->user; }
int p2pq_conn_is_established(const p2pq_conn *c) {
  return c->handshake_complete && c->state == CONN_ESTABLISHED;
}
const char *p2pq_conn_alpn(const p2pq_conn *c) {
  return c->tls != NULL ? p2pq_tls_alpn(c->tls) : NULL;
}
int p2pq_conn_peer_fingerprint(const p2pq_conn *c, uint8_t out[32]) {
  if (c->tls == NULL || !c->handshake_complete)
    return P2PQ_ERR_STATE;
  return p2pq_tls_peer_fingerprint(c->tls, out);
}

void p2pq_conn_get_stats(const p2pq_conn *c, p2pq_conn_stats *st) {
  const p2pq_path *p = &c->paths[c->active_path];
  *st = c->stats;
  st->srtt_ns = p->rec.rtt.smoothed;
  st->min_rtt_ns = p->rec.rtt.min_rtt;
  st->cwnd = p2pq_recovery_cwnd(&p->rec);
  st->pkts_lost = 0;
  for (int i = 0; i < P2PQ_MAX_PATHS; i++)
    if (c->paths[i].in_use)
      st->pkts_lost += c->paths[i].rec.pkts_lost;
  st->pmtu = p->mtu;
}

int p2pq_conn_key_update(p2pq_conn *c, p2pq_tstamp now) {
  int nphase;
  P2PQ_CONN_TOUCH(c);
  if (!c->handshake_confirmed || !c->app_keys)
    return P2PQ_ERR_STATE;
  /* RFC 9001 6.1: not before the peer answered the previous update and
   * acknowledged a packet sent with the current keys */
  if ((uint64_t)c->key_phase != (c->rx_gen & 1) || !c->phase_acked)
    return P2PQ_ERR_AGAIN;
  nphase = !c->key_phase;
  p2pq_pp_key_clear(&c->app_tx[nphase]);
  if (p2pq_pp_key_update(&c->app_tx[nphase], &c->app_tx[c->key_phase]) != 0)
    return P2PQ_ERR_CRYPTO;
  c->key_phase = nphase;
  c->key_phase_start_pn = c->spaces[P2PQ_PNS_APP].next_pn;
  c->pkts_protected = 0;
  c->phase_acked = 0;
  c->stats.key_updates++;
  p2pq_qlog_note(c, "security:key_updated", "\"key_type\":\"1RTT\",\"trigger\":\"local\"", now);
  return 0;
}

int p2pq_conn_observed_address(const p2pq_conn *c, p2pq_addr *out) {
  if (c->observed_seq == 0)
    return P2PQ_ERR_NOT_FOUND;
  *out = c->observed;
  return 0;
}

int p2pq_conn_send_datagram(p2pq_conn *c, const uint8_t *data, size_t len) {
  p2pq_dgram *d;
  P2PQ_CONN_TOUCH(c);
  if (!c->have_peer_tp || c->peer_tp.max_datagram_frame_size == 0)
    return P2PQ_ERR_STATE;
  if (len + 1 + p2pq_varint_len(len) > c->peer_tp.max_datagram_frame_size ||
      len > P2PQ_MAX_PKT - 64)
    return P2PQ_ERR_LIMIT;
  if (c->dgram_tx_n == P2PQ_MAX_DGRAM_QUEUE)
    return P2PQ_ERR_AGAIN;
  d = &c->dgram_tx[(c->dgram_tx_head + c->dgram_tx_n) % P2PQ_MAX_DGRAM_QUEUE];
  free(d->data);
  d->data = malloc(len ? len : 1);
  if (d->data == NULL)
    return P2PQ_ERR_NOMEM;
  memcpy(d->data, data, len);
  d->len = len;
  c->dgram_tx_n++;
  return 0;
}

int64_t p2pq_conn_recv_datagram(p2pq_conn *c, uint8_t *buf, size_t cap) {
  p2pq_dgram *d;
  size_t n;
  if (c->dgram_rx_n == 0)
    return 0;
  d = &c->dgram_rx[c->dgram_rx_head];
  n = d->len < cap ? d->len : cap;
  memcpy(buf, d->data, n);
  free(d->data);
  d->data = NULL;
  c->dgram_rx_head = (c->dgram_rx_head + 1) % P2PQ_MAX_DGRAM_QUEUE;
  c->dgram_rx_n--;
  return (int64_t)n;
}
