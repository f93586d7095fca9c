/* The connection's side of the TLS handshake (RFC 9001 section 4): CRYPTO
 * data in and out per level, traffic secrets to packet keys, and transport
 * parameters both ways. */
#include <string.h>

#include "quic/conn_internal.h"

static int level_space(p2pq_level level) {
  switch (level) {
  case P2PQ_LEVEL_INITIAL: return P2PQ_PNS_INITIAL;
  case P2PQ_LEVEL_HANDSHAKE: return P2PQ_PNS_HANDSHAKE;
  case P2PQ_LEVEL_APP: return P2PQ_PNS_APP;
  default: return -1;
  }
}

static int install_app_keys(p2pq_conn *c, p2pq_aead_alg alg, const uint8_t *rx,
                            const uint8_t *tx, size_t len) {
  int rv;
  c->app_alg = alg;
  if (rx != NULL) {
    rv = p2pq_pp_key_init(&c->app_rx[0], alg, rx, len);
    if (rv != 0)
      return rv;
    c->spaces[P2PQ_PNS_APP].have_rx = 1;
  }
  if (tx != NULL) {
    rv = p2pq_pp_key_init(&c->app_tx[0], alg, tx, len);
    if (rv != 0)
      return rv;
    c->spaces[P2PQ_PNS_APP].have_tx = 1;
  }
  if (c->spaces[P2PQ_PNS_APP].have_rx && c->spaces[P2PQ_PNS_APP].have_tx) {
    /* prepare the next receive generation so a peer's key update is seamless */
    rv = p2pq_pp_key_update(&c->app_rx[1], &c->app_rx[0]); /* generation 1, ready */
    if (rv != 0)
      return rv;
    c->app_keys = 1;
  }
  return 0;
}

static int on_secret(void *user, p2pq_level level, p2pq_aead_alg alg, const uint8_t *rx,
                     const uint8_t *tx, size_t len) {
  p2pq_conn *c = user;
  int s = level_space(level);
  p2pq_pnspace *sp;
  int rv;
  if (s < 0)
    return 0; /* 0-RTT is not offered */
  if (s == P2PQ_PNS_APP)
    return install_app_keys(c, alg, rx, tx, len);
  sp = &c->spaces[s];
  if (rx != NULL) {
    p2pq_pp_key_clear(&sp->rx);
    if ((rv = p2pq_pp_key_init(&sp->rx, alg, rx, len)) != 0)
      return rv;
    sp->have_rx = 1;
  }
  if (tx != NULL) {
    p2pq_pp_key_clear(&sp->tx);
    if ((rv = p2pq_pp_key_init(&sp->tx, alg, tx, len)) != 0)
      return rv;
    sp->have_tx = 1;
  }
  return 0;
}

static int on_crypto_out(void *user, p2pq_level level, const uint8_t *data, size_t len) {
  p2pq_conn *c = user;
  int s = level_space(level);
  if (s < 0)
    return P2PQ_ERR_TLS;
  return p2pq_sendbuf_append(&c->spaces[s].crypto_tx, data, len, 0);
}

static int check_cid_params(p2pq_conn *c, const p2pq_tparams *tp) {
  /* RFC 9000 7.3: authenticate the connection IDs of the handshake */
  const p2pq_cid *peer_scid = &c->peer_cids[0].cid;
  if (!tp->has_initial_scid || !p2pq_cid_equal(&tp->initial_scid, peer_scid))
    return P2PQ_ERR_TRANSPORT_PARAM;
  if (c->is_server)
    return 0;
  if (!tp->has_original_dcid || !p2pq_cid_equal(&tp->original_dcid, &c->odcid))
    return P2PQ_ERR_TRANSPORT_PARAM;
  if (c->got_retry) {
    if (!tp->has_retry_scid || !p2pq_cid_equal(&tp->retry_scid, &c->retry_scid))
      return P2PQ_ERR_TRANSPORT_PARAM;
  } else if (tp->has_retry_scid) {
    return P2PQ_ERR_TRANSPORT_PARAM;
  }
  return 0;
}

static int on_peer_params(void *user, const uint8_t *data, size_t len) {
  p2pq_conn *c = user;
  p2pq_tparams tp;
  int rv = p2pq_tparams_decode(&tp, !c->is_server, data, len);
  if (rv != 0)
    return P2PQ_ERR_TRANSPORT_PARAM;
  if ((rv = check_cid_params(c, &tp)) != 0)
    return rv;
  c->peer_tp = tp;
  c->have_peer_tp = 1;
  if (tp.has_stateless_reset_token) {
    memcpy(c->peer_cids[0].reset_token, tp.stateless_reset_token, 16);
    c->peer_cids[0].has_token = 1;
  }
  {
    p2pq_streammap_peer sp;
    sp.max_streams_bidi = tp.initial_max_streams_bidi;
    sp.max_streams_uni = tp.initial_max_streams_uni;
    sp.max_data = tp.initial_max_data;
    sp.max_stream_data_bidi_local = tp.initial_max_stream_data_bidi_local;
    sp.max_stream_data_bidi_remote = tp.initial_max_stream_data_bidi_remote;
    sp.max_stream_data_uni = tp.initial_max_stream_data_uni;
    p2pq_streammap_set_peer(&c->streams, &sp);
  }
  if (tp.max_udp_payload_size < c->paths[c->active_path].mtu)
    c->paths[c->active_path].mtu = (size_t)tp.max_udp_payload_size;
  return 0;
}

static void on_keylog(void *user, const char *line) {
  p2pq_conn *c = user;
  const p2pq_config *cfg = p2pq_ep_config(c->ep);
  if (cfg->keylog != NULL)
    cfg->keylog(cfg->hook_user, line);
}

void p2pq_conn_build_local_tp(p2pq_conn *c) {
  const p2pq_config *cfg = p2pq_ep_config(c->ep);
  const p2pq_settings *s = &cfg->settings;
  p2pq_tparams *tp = &c->local_tp;
  p2pq_tparams_default(tp);
  tp->max_idle_timeout = s->idle_timeout_ms;
  tp->max_udp_payload_size = s->max_udp_payload;
  tp->initial_max_data = s->initial_max_data;
  tp->initial_max_stream_data_bidi_local = s->initial_max_stream_data;
  tp->initial_max_stream_data_bidi_remote = s->initial_max_stream_data;
  tp->initial_max_stream_data_uni = s->initial_max_stream_data;
  tp->initial_max_streams_bidi = s->initial_max_streams_bidi;
  tp->initial_max_streams_uni = s->initial_max_streams_uni;
  tp->max_ack_delay = s->max_ack_delay_ms;
  tp->active_connection_id_limit = s->active_cid_limit;
  tp->disable_active_migration = s->disable_active_migration;
  tp->max_datagram_frame_size = s->max_datagram_frame_size;
  tp->address_discovery = s->address_discovery;
  tp->initial_scid = c->local_cids[0].cid;
  tp->has_initial_scid = 1;
  if (c->is_server) {
    tp->original_dcid = c->odcid;
    tp->has_original_dcid = 1;
    memcpy(tp->stateless_reset_token, c->local_cids[0].reset_token, 16);
    tp->has_stateless_reset_token = 1;
    if (c->got_retry) {
      tp->retry_scid = c->retry_scid;
      tp->has_retry_scid = 1;
    }
  }
}

int p2pq_conn_tls_init(p2pq_conn *c, const char *sni) {
  const p2pq_config *cfg = p2pq_ep_config(c->ep);
  uint8_t params[512];
  size_t plen = 0;
  p2pq_tls_config tc;
  p2pq_tls_callbacks cb;
  int rv;
  p2pq_conn_build_local_tp(c);
  rv = p2pq_tparams_encode(&c->local_tp, c->is_server, params, sizeof(params), &plen);
  if (rv != 0)
    return rv;
  memset(&tc, 0, sizeof(tc));
  tc.creds = cfg->creds;
  tc.alpn = cfg->alpn;
  tc.n_alpn = cfg->n_alpn;
  tc.sni = sni;
  tc.local_params = params;
  tc.local_params_len = plen;
  memset(&cb, 0, sizeof(cb));
  cb.user = c;
  cb.on_secret = on_secret;
  cb.on_crypto_out = on_crypto_out;
  cb.on_peer_params = on_peer_params;
  cb.on_keylog = on_keylog;
  rv = p2pq_tls_new(&c->tls, &tc, &cb);
  if (rv != 0)
    return rv;
  if (!c->is_server)
    rv = p2pq_tls_start(c->tls);
  return rv;
}

/* Hands contiguous CRYPTO data of a space to TLS. */
int p2pq_conn_tls_feed(p2pq_conn *c, int space, p2pq_tstamp now) {
  static const p2pq_level levels[P2PQ_PNS_COUNT] = {P2PQ_LEVEL_INITIAL, P2PQ_LEVEL_HANDSHAKE,
                                                    P2PQ_LEVEL_APP};
  p2pq_recvbuf *rb = &c->spaces[space].crypto_rx;
  const uint8_t *data;
  size_t len;
  int rv;
  for (;;) {
    p2pq_recvbuf_peek(rb, &data, &len);
    if (len == 0)
      break;
    rv = p2pq_tls_recv(c->tls, levels[space], data, len);
    p2pq_recvbuf_consume(rb, len);
    if (rv != 0)
      return rv;
  }
  if (!c->handshake_complete && p2pq_tls_is_done(c->tls)) {
    c->handshake_complete = 1;
    c->state = CONN_ESTABLISHED;
    if (c->is_server) {
      /* RFC 9001 4.1.2: the server's handshake is confirmed at completion */
      c->handshake_confirmed = 1;
      c->handshake_done_pending = 1;
      p2pq_conn_discard_space(c, P2PQ_PNS_HANDSHAKE, now);
    }
    /* spare connection IDs let the peer migrate (RFC 9000 5.1.1) */
    while (p2pq_cid_issue(c, now) > 0)
      ;
    p2pq_path_observe(c, c->active_path);
    p2pq_conn_touch_idle(c, now);
    p2pq_conn_push_event(c, P2PQ_EV_CONNECTED, 0, 0, NULL);
  }
  return 0;
}
