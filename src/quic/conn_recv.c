/* Receiving: a datagram into packets (coalesced), packets into frames, frames
 * into state changes (RFC 9000 sections 12, 13, 19; RFC 9001 section 5). */
#include <stdlib.h>
#include <string.h>

#include "crypto/retry.h"
#include "quic/conn_internal.h"
#include "quic/conn_stream.h"
#include "quic/qlog.h"

static int pkt_space(p2pq_pkt_type t) {
  switch (t) {
  case P2PQ_PKT_INITIAL: return P2PQ_PNS_INITIAL;
  case P2PQ_PKT_HANDSHAKE: return P2PQ_PNS_HANDSHAKE;
  case P2PQ_PKT_1RTT: return P2PQ_PNS_APP;
  default: return -1;
  }
}

static unsigned pkt_frame_flag(p2pq_pkt_type t) {
  switch (t) {
  case P2PQ_PKT_INITIAL: return P2PQ_FF_IN_INITIAL;
  case P2PQ_PKT_HANDSHAKE: return P2PQ_FF_IN_HANDSHAKE;
  case P2PQ_PKT_0RTT: return P2PQ_FF_IN_0RTT;
  default: return P2PQ_FF_IN_1RTT;
  }
}

/* ---- ACK ---- */

static int on_ack(p2pq_conn *c, int space, const p2pq_frame *f, int path_idx, p2pq_tstamp now) {
  p2pq_recovery_range ranges[64];
  p2pq_recovery_ecn ecn;
  p2pq_ack_iter it;
  p2pq_recovery_env env;
  uint64_t lo, hi;
  size_t n = 0;
  int rv;
  p2pq_tstamp delay = 0;
  p2pq_ack_iter_init(&it, f);
  while ((rv = p2pq_ack_iter_next(&it, &lo, &hi)) == 1 && n < 64) {
    ranges[n].smallest = lo;
    ranges[n].largest = hi;
    n++;
  }
  if (rv < 0)
    return P2PQ_ERR_FRAME_ENCODING;
  if (space == P2PQ_PNS_APP && c->have_peer_tp) {
    uint64_t exp = c->peer_tp.ack_delay_exponent;
    if (f->u.ack.ack_delay < (UINT64_MAX / 1000) >> exp)
      delay = (f->u.ack.ack_delay << exp) * 1000;
    else
      delay = UINT64_MAX / 2;
  }
  if (f->u.ack.has_ecn) {
    ecn.ect0 = f->u.ack.ect0;
    ecn.ect1 = f->u.ack.ect1;
    ecn.ce = f->u.ack.ce;
  }
  p2pq_conn_recovery_env(c, &env);
  if (!c->is_server && space == P2PQ_PNS_HANDSHAKE)
    c->peer_address_validated = 1;
  rv = p2pq_recovery_on_ack_received(&c->paths[path_idx].rec, &env, (uint8_t)space, ranges, n,
                                     delay, f->u.ack.has_ecn ? &ecn : NULL, now);
  p2pq_qlog_metrics(c, now);
  if (rv == P2PQ_ERR_INVALID_ARG)
    return P2PQ_ERR_FRAME_ENCODING;
  return rv;
}

/* ---- CRYPTO ---- */

static int on_crypto(p2pq_conn *c, int space, const p2pq_frame *f, p2pq_tstamp now) {
  p2pq_recvbuf *rb = &c->spaces[space].crypto_rx;
  int rv;
  if (f->u.crypto.offset + f->u.crypto.len > rb->read_off + P2PQ_CRYPTO_RECV_MAX)
    return P2PQ_ERR_CRYPTO_BUFFER;
  rv = p2pq_recvbuf_insert(rb, f->u.crypto.offset, f->u.crypto.data, f->u.crypto.len, 0);
  if (rv < 0)
    return rv == P2PQ_ERR_FLOW_CONTROL ? P2PQ_ERR_CRYPTO_BUFFER : rv;
  if (space == P2PQ_PNS_APP) {
    /* post-handshake messages (tickets): read and drop, tickets are off */
    const uint8_t *d;
    size_t n;
    p2pq_recvbuf_peek(rb, &d, &n);
    p2pq_recvbuf_consume(rb, n);
    return 0;
  }
  return p2pq_conn_tls_feed(c, space, now);
}

/* ---- connection IDs, tokens, paths ---- */

static int on_path_challenge(p2pq_conn *c, const p2pq_frame *f, int path_idx) {
  p2pq_path *p = &c->paths[path_idx];
  memcpy(p->response, f->u.path.data, 8);
  p->response_pending = 1;
  return 0;
}

static int on_close(p2pq_conn *c, const p2pq_frame *f, p2pq_tstamp now) {
  c->close_app = f->u.close.app;
  c->close_code = f->u.close.error_code;
  p2pq_conn_enter_draining(c, P2PQ_ERR_PEER_CLOSED, now);
  return 0;
}

static int on_new_token(p2pq_conn *c, const p2pq_frame *f) {
  if (c->is_server)
    return P2PQ_ERR_PROTOCOL;
  /* kept for the next connection attempt to this server (future use) */
  (void)f;
  return 0;
}

static int on_handshake_done(p2pq_conn *c, p2pq_tstamp now) {
  if (c->is_server)
    return P2PQ_ERR_PROTOCOL;
  if (!c->handshake_confirmed) {
    c->handshake_confirmed = 1;
    c->peer_address_validated = 1;
    p2pq_conn_discard_space(c, P2PQ_PNS_HANDSHAKE, now);
  }
  return 0;
}

static int on_datagram(p2pq_conn *c, const p2pq_frame *f) {
  const p2pq_settings *s = &p2pq_ep_config(c->ep)->settings;
  p2pq_dgram *d;
  if (s->max_datagram_frame_size == 0)
    return P2PQ_ERR_PROTOCOL;
  if (1 + f->u.datagram.len +
          (f->type == P2PQ_FT_DATAGRAM_LEN ? p2pq_varint_len(f->u.datagram.len) : 0) >
      s->max_datagram_frame_size)
    return P2PQ_ERR_PROTOCOL; /* RFC 9221 3: the whole frame counts */
  if (c->dgram_rx_n == P2PQ_MAX_DGRAM_QUEUE) {
    c->stats.pkts_dropped++; /* unreliable by design: drop when the app lags */
    return 0;
  }
  d = &c->dgram_rx[(c->dgram_rx_head + c->dgram_rx_n) % P2PQ_MAX_DGRAM_QUEUE];
  d->data = malloc(f->u.datagram.len ? f->u.datagram.len : 1);
  if (d->data == NULL)
    return P2PQ_ERR_NOMEM;
  memcpy(d->data, f->u.datagram.data, f->u.datagram.len);
  d->len = f->u.datagram.len;
  c->dgram_rx_n++;
  p2pq_conn_push_event(c, P2PQ_EV_DATAGRAM, 0, 0, NULL);
  return 0;
}

static int on_observed_address(p2pq_conn *c, const p2pq_frame *f) {
  /* we must have asked for observations (receive or both) */
  if (c->local_tp.address_discovery != P2PQ_AD_RECEIVE &&
      c->local_tp.address_discovery != P2PQ_AD_BOTH)
    return P2PQ_ERR_PROTOCOL;
  if (f->u.observed_address.seq + 1 <= c->observed_seq)
    return 0; /* stale: an older observation arrived late */
  c->observed_seq = f->u.observed_address.seq + 1;
  if (!p2pq_addr_equal(&c->observed, &f->u.observed_address.addr)) {
    c->observed = f->u.observed_address.addr;
    p2pq_conn_push_event(c, P2PQ_EV_OBSERVED_ADDRESS, 0, 0, &c->observed);
  }
  return 0;
}

static int dispatch(p2pq_conn *c, int space, const p2pq_frame *f, int path_idx,
                    const p2pq_cid *dcid, p2pq_tstamp now) {
  uint64_t type = f->type;
  if (type >= P2PQ_FT_STREAM && type <= (P2PQ_FT_STREAM | 0x07))
    type = P2PQ_FT_STREAM; /* OFF, LEN and FIN bits */
  switch (type) {
  case P2PQ_FT_PADDING:
  case P2PQ_FT_PING:
    return 0;
  case P2PQ_FT_ACK:
  case P2PQ_FT_ACK_ECN:
    return on_ack(c, space, f, path_idx, now);
  case P2PQ_FT_CRYPTO:
    return on_crypto(c, space, f, now);
  case P2PQ_FT_NEW_TOKEN:
    return on_new_token(c, f);
  case P2PQ_FT_STREAM:
    return p2pq_conn_on_stream(c, f, now);
  case P2PQ_FT_RESET_STREAM:
    return p2pq_conn_on_reset_stream(c, f);
  case P2PQ_FT_STOP_SENDING:
    return p2pq_conn_on_stop_sending(c, f);
  case P2PQ_FT_MAX_DATA:
    return p2pq_conn_on_max_data(c, f);
  case P2PQ_FT_MAX_STREAM_DATA:
    return p2pq_conn_on_max_stream_data(c, f);
  case P2PQ_FT_MAX_STREAMS_BIDI:
  case P2PQ_FT_MAX_STREAMS_UNI:
    return p2pq_conn_on_max_streams(c, f);
  case P2PQ_FT_DATA_BLOCKED:
  case P2PQ_FT_STREAMS_BLOCKED_BIDI:
  case P2PQ_FT_STREAMS_BLOCKED_UNI:
    return 0;
  case P2PQ_FT_STREAM_DATA_BLOCKED:
    return p2pq_conn_on_stream_data_blocked(c, f);
  case P2PQ_FT_NEW_CONNECTION_ID:
    return p2pq_cid_on_new(c, f);
  case P2PQ_FT_RETIRE_CONNECTION_ID:
    return p2pq_cid_on_retire(c, f->u.retire_cid.seq, dcid);
  case P2PQ_FT_PATH_CHALLENGE:
    return on_path_challenge(c, f, path_idx);
  case P2PQ_FT_PATH_RESPONSE:
    p2pq_path_on_response(c, path_idx, f->u.path.data, now);
    return 0;
  case P2PQ_FT_CONNECTION_CLOSE:
  case P2PQ_FT_CONNECTION_CLOSE_APP:
    return on_close(c, f, now);
  case P2PQ_FT_HANDSHAKE_DONE:
    return on_handshake_done(c, now);
  case P2PQ_FT_DATAGRAM:
  case P2PQ_FT_DATAGRAM_LEN:
    return on_datagram(c, f);
  case P2PQ_FT_OBSERVED_ADDRESS_V4:
  case P2PQ_FT_OBSERVED_ADDRESS_V6:
    return on_observed_address(c, f);
  default:
    /* NAT traversal frames arrive here once that extension is negotiated; until
     * then a peer sending them violates the protocol. */
    return P2PQ_ERR_PROTOCOL;
  }
}

/* Decodes and applies every frame of a decrypted payload. */
static int process_frames(p2pq_conn *c, p2pq_pkt_type type, const uint8_t *payload,
                          size_t len, int path_idx, const p2pq_cid *dcid, int *eliciting,
                          int *non_probing, p2pq_tstamp now) {
  int space = pkt_space(type);
  unsigned need = pkt_frame_flag(type);
  p2pq_rd r;
  p2pq_frame f;
  int rv;
  if (len == 0)
    return P2PQ_ERR_PROTOCOL; /* RFC 9000 12.4: a packet carries at least one frame */
  p2pq_rd_init(&r, payload, len);
  while (p2pq_rd_left(&r) > 0) {
    unsigned flags;
    if ((rv = p2pq_frame_decode(&r, &f)) != 0) {
      c->close_frame_type = f.type;
      return rv;
    }
    flags = p2pq_frame_flags(f.type);
    if (!(flags & need)) {
      c->close_frame_type = f.type;
      return P2PQ_ERR_PROTOCOL;
    }
    if (flags & P2PQ_FF_ACK_ELICITING)
      *eliciting = 1;
    if (!(flags & P2PQ_FF_PROBING))
      *non_probing = 1;
    if (c->state >= CONN_DRAINING)
      break;
    if ((rv = dispatch(c, space, &f, path_idx, dcid, now)) != 0) {
      c->close_frame_type = f.type;
      return rv;
    }
  }
  return 0;
}

/* ---- packets ---- */

static p2pq_tstamp ack_delay_max(const p2pq_conn *c) {
  return c->local_tp.max_ack_delay * P2PQ_MS;
}

static void note_received(p2pq_conn *c, int space, uint64_t pn, int eliciting, int ecn,
                          p2pq_tstamp now) {
  p2pq_pnspace *sp = &c->spaces[space];
  /* RFC 9000 13.4.1: counts per packet, reported in ACK_ECN */
  if (ecn == P2PQ_ECN_ECT0)
    sp->ecn_rx[0]++;
  else if (ecn == P2PQ_ECN_ECT1)
    sp->ecn_rx[1]++;
  else if (ecn == P2PQ_ECN_CE) {
    sp->ecn_rx[2]++;
    sp->ack_now = 1; /* congestion news travels at once */
  }
  int out_of_order = sp->largest_recv != UINT64_MAX && pn < sp->largest_recv;
  int gap = sp->largest_recv != UINT64_MAX && pn > sp->largest_recv + 1;
  p2pq_ackrange_add(&sp->recv, pn);
  if (sp->largest_recv == UINT64_MAX || pn > sp->largest_recv) {
    sp->largest_recv = pn;
    sp->largest_recv_time = now;
  }
  if (!eliciting)
    return;
  sp->unacked_eliciting++;
  /* RFC 9000 13.2.1: Initial/Handshake ACK at once; 1-RTT every second
   * ack-eliciting packet or after max_ack_delay; reordering at once */
  if (space != P2PQ_PNS_APP || out_of_order || gap || sp->unacked_eliciting >= 2) {
    sp->ack_now = 1;
  } else if (sp->ack_deadline == P2PQ_TSTAMP_MAX) {
    sp->ack_deadline = now + ack_delay_max(c);
  }
}

static int key_phase_bit(const uint8_t *pkt) { return (pkt[0] >> 2) & 1; }

/* Receive keys by generation g: slot g % 3. The current generation, the next
 * one (ready before the peer updates) and the previous one (kept 3 PTO for
 * late packets), as RFC 9001 6.5 describes. */
static p2pq_pp_key *rx_key(p2pq_conn *c, uint64_t gen) { return &c->app_rx[gen % 3]; }

/* Decrypts a 1-RTT packet, handling the peer's key updates (RFC 9001 6.2). */
static int open_1rtt(p2pq_conn *c, uint8_t *pkt, size_t plen, size_t pn_offset, uint64_t *pn,
                     size_t *pn_len, p2pq_tstamp now) {
  p2pq_pnspace *sp = &c->spaces[P2PQ_PNS_APP];
  uint64_t gen = c->rx_gen;
  uint32_t trunc;
  int rv;
  rv = p2pq_pp_unprotect_header(rx_key(c, gen), pkt, plen, pn_offset, &trunc);
  if (rv < 0)
    return rv;
  *pn_len = (size_t)rv;
  *pn = p2pq_pp_decode_pn(sp->largest_recv, trunc, *pn_len);
  if ((uint64_t)key_phase_bit(pkt) != (c->rx_gen & 1))
    gen = c->rx_has_prev && *pn < c->rx_gen_start_pn ? c->rx_gen - 1 : c->rx_gen + 1;
  rv = p2pq_pp_open(rx_key(c, gen), *pn, pkt, pn_offset + *pn_len, pkt + pn_offset + *pn_len,
                    plen - pn_offset - *pn_len);
  if (rv < 0)
    return rv;
  if (gen == c->rx_gen + 1) {
    /* the peer updated its keys: answer with ours once, then make the slot of
     * the generation before the current one the next generation */
    if ((uint64_t)c->key_phase == (c->rx_gen & 1)) {
      int nphase = !c->key_phase;
      p2pq_pp_key_clear(&c->app_tx[nphase]);
      if (p2pq_pp_key_update(&c->app_tx[nphase], &c->app_tx[c->key_phase]) != 0)
        return P2PQ_ERR_CRYPTO;
      c->key_phase = nphase;
      c->key_phase_start_pn = sp->next_pn;
      c->pkts_protected = 0;
      c->phase_acked = 0;
    }
    c->rx_gen = gen;
    c->rx_gen_start_pn = *pn;
    c->rx_has_prev = 1;
    p2pq_pp_key_clear(rx_key(c, gen + 1));
    if (p2pq_pp_key_update(rx_key(c, gen + 1), rx_key(c, gen)) != 0)
      return P2PQ_ERR_CRYPTO;
    c->prev_rx_discard_time = now + 3 * p2pq_conn_pto(c);
    c->stats.key_updates++;
  }
  return rv;
}

static void maybe_drop_old_rx_key(p2pq_conn *c, p2pq_tstamp now) {
  if (c->prev_rx_discard_time != 0 && now >= c->prev_rx_discard_time) {
    c->rx_has_prev = 0; /* its slot is overwritten at the next update */
    c->prev_rx_discard_time = 0;
  }
}

static int open_long(p2pq_conn *c, int space, uint8_t *pkt, size_t plen, size_t pn_offset,
                     uint64_t *pn, size_t *pn_len) {
  p2pq_pnspace *sp = &c->spaces[space];
  int rv;
  if (!sp->have_rx || sp->discarded)
    return P2PQ_ERR_STATE;
  rv = p2pq_pp_unprotect(&sp->rx, pkt, plen, pn_offset, sp->largest_recv, pn, pn_len);
  return rv;
}

static int handle_retry(p2pq_conn *c, const uint8_t *pkt, size_t len, const p2pq_pkt_hdr *h,
                        p2pq_tstamp now);

static int handle_vn(p2pq_conn *c, const p2pq_pkt_hdr *h, p2pq_tstamp now) {
  size_t i;
  if (c->is_server || c->spaces[P2PQ_PNS_INITIAL].largest_recv != UINT64_MAX || c->got_retry)
    return 0; /* RFC 9000 6.2: only before any other packet from the server */
  if (!p2pq_cid_equal(&h->dcid, &c->local_cids[0].cid))
    return 0;
  for (i = 0; i < h->vn_count; i++) {
    const uint8_t *v = h->vn_versions + 4 * i;
    uint32_t ver = ((uint32_t)v[0] << 24) | ((uint32_t)v[1] << 16) | ((uint32_t)v[2] << 8) | v[3];
    if (ver == c->version)
      return 0; /* a VN listing our version is ignored */
  }
  c->close_error = P2PQ_ERR_VERSION_NEGOTIATION;
  p2pq_conn_enter_draining(c, P2PQ_ERR_VERSION_NEGOTIATION, now);
  return 0;
}

/* A new 4-tuple; only once the handshake is confirmed (RFC 9000 9). */
static int new_path(p2pq_conn *c, const p2pq_addr *local, const p2pq_addr *remote, int space,
                    p2pq_tstamp now) {
  int idx;
  if (!c->handshake_confirmed) {
    /* nobody migrates during the handshake, but NATs rebind: follow the peer
     * on the same path, which the server must then validate again */
    p2pq_path *p = &c->paths[c->active_path];
    p->remote = *remote;
    if (local != NULL && local->family != 0)
      p->local = *local;
    if (c->is_server) {
      /* an unproven address: the 3x budget starts again from this datagram */
      p->validated = 0;
      p->bytes_recv = p->bytes_sent = 0;
    }
    return c->active_path;
  }
  if (space != P2PQ_PNS_APP)
    return -1;
  idx = p2pq_path_new(c, local, remote, now);
  if (idx >= 0)
    p2pq_path_start_validation(c, idx, now);
  return idx;
}

static int process_packet(p2pq_conn *c, uint8_t *pkt, const p2pq_pkt_hdr *h, int *path_idx,
                          const p2pq_addr *local, const p2pq_addr *remote, int ecn,
                          p2pq_tstamp now) {
  int space = pkt_space(h->type);
  uint64_t pn;
  size_t pn_len;
  int rv, eliciting = 0, non_probing = 0, was_largest;
  p2pq_pnspace *sp;
  if (space < 0)
    return P2PQ_ERR_UNSUPPORTED; /* 0-RTT is not accepted: dropped, not "processed" */
  sp = &c->spaces[space];
  if (space == P2PQ_PNS_APP) {
    if (!c->app_keys)
      return P2PQ_ERR_STATE;
    rv = open_1rtt(c, pkt, h->pkt_len, h->pn_offset, &pn, &pn_len, now);
  } else {
    rv = open_long(c, space, pkt, h->pkt_len, h->pn_offset, &pn, &pn_len);
  }
  if (rv < 0) {
    if (rv == P2PQ_ERR_DECRYPT) {
      c->decrypt_failures++;
      if (c->app_alg != P2PQ_AEAD_NONE &&
          c->decrypt_failures >= p2pq_pp_integrity_limit(c->app_alg))
        p2pq_conn_set_error(c, P2PQ_ERR_AEAD_LIMIT, 0, "AEAD integrity limit", now);
    }
    return rv;
  }
  /* reserved bits must be zero after header protection is removed (RFC 9000 17) */
  if ((h->type == P2PQ_PKT_1RTT ? (pkt[0] & 0x18) : (pkt[0] & 0x0c)) != 0) {
    p2pq_conn_set_error(c, P2PQ_ERR_PROTOCOL, 0, "reserved bits set", now);
    return P2PQ_ERR_PROTOCOL;
  }
  if (p2pq_ackrange_contains(&sp->recv, pn))
    return 0; /* duplicate */
  /* the server learns the client's chosen SCID from its first Initial */
  if (!c->is_server && c->peer_cid_from_initial && h->type != P2PQ_PKT_1RTT) {
    c->peer_cids[0].cid = h->scid;
    c->handshake_scid = h->scid;
    c->peer_cid_from_initial = 0;
  }
  was_largest = sp->largest_recv == UINT64_MAX || pn > sp->largest_recv;
  if (c->qlog)
    p2pq_qlog_packet(c, 0, space, pn, h->pkt_len, pkt + h->pn_offset + pn_len, (size_t)rv, now);
  if (*path_idx < 0) {
    /* an authentic packet from a new address: a path of its own, so answers
     * (PATH_RESPONSE) leave where the challenge came from (RFC 9000 8.2.2) */
    *path_idx = new_path(c, local, remote, space, now);
    if (*path_idx < 0)
      return P2PQ_ERR_STATE; /* not allowed yet (handshake) or no room */
  }
  rv = process_frames(c, h->type, pkt + h->pn_offset + pn_len, (size_t)rv, *path_idx, &h->dcid,
                      &eliciting, &non_probing, now);
  if (rv != 0)
    goto fail;
  note_received(c, space, pn, eliciting, ecn, now);
  c->stats.pkts_recv++;
  if (space == P2PQ_PNS_HANDSHAKE && c->is_server) {
    /* RFC 9001 4.9.1: a server stops using Initial keys on its first Handshake
     * packet, which also proves the client's address (RFC 9000 8.1) */
    p2pq_conn_discard_space(c, P2PQ_PNS_INITIAL, now);
    if (*path_idx >= 0)
      c->paths[*path_idx].validated = 1;
  }
  if (*path_idx != c->active_path && non_probing && was_largest && c->handshake_confirmed &&
      !(c->is_server && c->local_tp.disable_active_migration)) {
    /* the peer moved (migration or NAT rebinding): follow it, validate it */
    p2pq_path_set_active(c, *path_idx, now);
  }
  return 0;
fail:
  p2pq_conn_set_error(c, rv, c->close_frame_type, p2pq_strerror(rv), now);
  return rv;
}

static void hold_1rtt(p2pq_conn *c, const uint8_t *pkt, size_t len, const p2pq_addr *local,
                      const p2pq_addr *remote, int ecn) {
  p2pq_held_pkt *hp;
  if (c->n_held == P2PQ_MAX_EARLY_1RTT)
    return; /* bounded: the peer retransmits */
  hp = &c->held[c->n_held];
  hp->data = malloc(len);
  if (hp->data == NULL)
    return;
  memcpy(hp->data, pkt, len);
  hp->len = len;
  hp->ecn = ecn;
  hp->local = *local;
  hp->remote = *remote;
  c->n_held++;
}

static void replay_held(p2pq_conn *c, p2pq_tstamp now) {
  size_t i, n = c->n_held;
  c->n_held = 0;
  for (i = 0; i < n; i++) {
    p2pq_held_pkt *hp = &c->held[i];
    if (c->state < CONN_CLOSING)
      p2pq_conn_on_udp(c, hp->data, hp->len, &hp->local, &hp->remote, hp->ecn, now);
    free(hp->data);
    hp->data = NULL;
  }
}

int p2pq_conn_on_udp(p2pq_conn *c, uint8_t *data, size_t len, const p2pq_addr *local,
                     const p2pq_addr *remote, int ecn, p2pq_tstamp now) {
  size_t off = 0;
  int path_idx, any_ok = 0, first = 1;
  const p2pq_config *cfg = p2pq_ep_config(c->ep);
  c->last_now = now;
  if (c->state == CONN_CLOSED || c->state == CONN_DRAINING)
    return 0;
  if (c->state == CONN_CLOSING) {
    /* answer with the close frame again (RFC 9000 10.2.1), but ever more rarely
     * (1, 2, 4, ... datagrams per answer) so nobody can use us as a reflector */
    p2pq_path *p = &c->paths[c->active_path];
    if (p2pq_addr_equal(&p->remote, remote))
      p->bytes_recv += len;
    if (++c->close_rx >= (1u << (c->close_sent < 16 ? c->close_sent : 16))) {
      c->close_rx = 0;
      c->close_pending = 1;
    }
    return 0;
  }
  maybe_drop_old_rx_key(c, now);
  path_idx = p2pq_path_find(c, local, remote);
  while (off < len) {
    p2pq_pkt_hdr h;
    uint8_t *pkt = data + off;
    int rv = p2pq_pkt_parse(pkt, len - off, cfg->cid_len, &h);
    if (rv != 0)
      break; /* the rest of the datagram is unusable */
    off += h.pkt_len;
    if (h.type == P2PQ_PKT_VN) {
      if (first)
        handle_vn(c, &h, now);
      break;
    }
    if (h.type == P2PQ_PKT_RETRY) {
      handle_retry(c, pkt, h.pkt_len, &h, now);
      break;
    }
    if (h.type != P2PQ_PKT_1RTT && h.version != c->version)
      continue;
    if (h.type == P2PQ_PKT_INITIAL && c->is_server && len < P2PQ_MIN_INITIAL_SIZE)
      continue; /* RFC 9000 14.1: Initials only in datagrams of 1200 bytes or more */
    if (!c->is_server && !c->peer_cid_from_initial && h.type != P2PQ_PKT_1RTT &&
        !p2pq_cid_equal(&h.scid, &c->handshake_scid))
      continue; /* RFC 9000 7.2: the server's SCID does not change */
    if (h.type == P2PQ_PKT_1RTT && c->is_server && !c->handshake_complete) {
      hold_1rtt(c, pkt, h.pkt_len, local, remote, ecn);
      break;
    }
    if (!p2pq_cid_equal(&h.dcid, &c->local_cids[0].cid) && h.type != P2PQ_PKT_1RTT &&
        !(c->is_server && p2pq_cid_equal(&h.dcid, &c->initial_dcid)))
      continue; /* coalesced packets must share the DCID */
    first = 0;
    rv = process_packet(c, pkt, &h, &path_idx, local, remote, ecn, now);
    if (rv == 0)
      any_ok = 1;
    else
      c->stats.pkts_dropped++;
    if (c->state >= CONN_CLOSING)
      break;
  }
  if (c->n_held > 0 && c->handshake_complete)
    replay_held(c, now);
  if (any_ok) {
    c->stats.bytes_recv += len;
    if (path_idx >= 0)
      c->paths[path_idx].bytes_recv += len;
    p2pq_conn_touch_idle(c, now);
  } else if (path_idx >= 0 && !c->paths[path_idx].validated && c->is_server) {
    /* RFC 9000 8.1: bytes of datagrams from the client count even if undecryptable */
    c->paths[path_idx].bytes_recv += len;
  }
  return any_ok ? 0 : P2PQ_ERR_MALFORMED;
}

static int handle_retry(p2pq_conn *c, const uint8_t *pkt, size_t len, const p2pq_pkt_hdr *h,
                        p2pq_tstamp now) {
  p2pq_recovery_env env;
  uint8_t *tok;
  if (c->is_server || c->got_retry || c->spaces[P2PQ_PNS_INITIAL].largest_recv != UINT64_MAX)
    return 0;
  if (!p2pq_cid_equal(&h->dcid, &c->local_cids[0].cid) || h->token_len == 0)
    return 0;
  if (p2pq_retry_verify(c->version, c->odcid.data, c->odcid.len, pkt, len) != 0)
    return 0; /* RFC 9000 17.2.5.2: discard a Retry that fails the integrity check */
  tok = malloc(h->token_len);
  if (tok == NULL)
    return P2PQ_ERR_NOMEM;
  memcpy(tok, h->token, h->token_len);
  free(c->token);
  c->token = tok;
  c->token_len = h->token_len;
  c->got_retry = 1;
  c->retry_scid = h->scid;
  c->peer_cids[0].cid = h->scid;
  /* new Initial keys from the server's chosen CID; everything sent is resent */
  if (p2pq_conn_derive_initial(c, &h->scid) != 0)
    return P2PQ_ERR_CRYPTO;
  p2pq_conn_recovery_env(c, &env);
  p2pq_recovery_discard_space(&c->paths[c->active_path].rec, &env, P2PQ_PNS_INITIAL, now);
  p2pq_sendbuf_on_lost(&c->spaces[P2PQ_PNS_INITIAL].crypto_tx, 0,
                       (size_t)c->spaces[P2PQ_PNS_INITIAL].crypto_tx.len, 0);
  return 0;
}
