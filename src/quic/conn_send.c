/* Sending: datagrams built from coalesced packets (RFC 9000 12.2), frames
 * chosen by priority (ACK, close, path, crypto, control, datagrams, streams),
 * limited by congestion control, pacing and anti-amplification (RFC 9000 8),
 * and the bookkeeping that turns ACK/loss verdicts back into frames. */
#include <stdlib.h>
#include <string.h>

#include "quic/conn_internal.h"
#include "quic/conn_stream.h"
#include "quic/qlog.h"

/* A packet whose payload is written but not yet sealed: the last packet of a
 * datagram stays open so padding can still be added to it. */
typedef struct pkt_open {
  int active;
  int space;
  int long_hdr;
  uint8_t *start;
  size_t length_offset, pn_offset, pn_len;
  uint64_t pn;
  uint8_t *payload_end;
  const p2pq_pp_key *key;
  p2pq_sentpkt sent;
  p2pq_frec *frames;
  int path_idx;
  int path_frame; /* holds PATH_CHALLENGE or PATH_RESPONSE: pad to 1200 */
} pkt_open;

static const p2pq_pp_key *tx_key(p2pq_conn *c, int space) {
  if (space == P2PQ_PNS_APP)
    return c->app_keys ? &c->app_tx[c->key_phase] : NULL;
  return c->spaces[space].have_tx ? &c->spaces[space].tx : NULL;
}

/* ---- verdicts from recovery ---- */

void p2pq_conn_on_acked(void *user, const p2pq_sentpkt *pkt) {
  p2pq_conn *c = user;
  p2pq_frec *f;
  for (f = pkt->frames; f != NULL; f = f->next) {
    switch (f->kind) {
    case FREC_STREAM:
      p2pq_conn_stream_acked(c, f);
      break;
    case FREC_CRYPTO:
      p2pq_sendbuf_on_ack(&c->spaces[f->id].crypto_tx, f->off, (size_t)f->len, 0);
      break;
    case FREC_ACK:
      /* RFC 9000 13.2.4: what that ACK covered need not be acknowledged again */
      if (!c->spaces[pkt->space].discarded)
        p2pq_ackrange_drop_below(&c->spaces[pkt->space].recv, f->off);
      break;
    case FREC_RESET_STREAM:
    case FREC_STOP_SENDING:
    case FREC_MAX_STREAM_DATA:
      p2pq_conn_stream_ctrl_acked(c, f);
      break;
    default:
      break; /* the rest need nothing once acknowledged */
    }
  }
  if (pkt->flags & P2PQ_SENT_PMTU_PROBE)
    for (int i = 0; i < P2PQ_MAX_PATHS; i++)
      if (c->paths[i].in_use && c->paths[i].id == pkt->path_id)
        p2pq_pmtud_on_ack(c, i, pkt->pn);
  if (pkt->space == P2PQ_PNS_APP && pkt->pn >= c->key_phase_start_pn)
    c->phase_acked = 1;
  p2pq_frec_put_chain(c, pkt->frames);
}

void p2pq_conn_on_lost(void *user, const p2pq_sentpkt *pkt) {
  p2pq_conn *c = user;
  p2pq_frec *f;
  int i;
  c->stats.pkts_lost++;
  p2pq_qlog_packet_lost(c, pkt->space, pkt->pn, c->last_now);
  for (f = pkt->frames; f != NULL; f = f->next) {
    switch (f->kind) {
    case FREC_STREAM:
      p2pq_conn_stream_lost(c, f);
      break;
    case FREC_CRYPTO:
      if (!c->spaces[f->id].discarded)
        p2pq_sendbuf_on_lost(&c->spaces[f->id].crypto_tx, f->off, (size_t)f->len, 0);
      break;
    case FREC_HANDSHAKE_DONE:
      c->handshake_done_pending = 1;
      break;
    case FREC_MAX_DATA:
      p2pq_fc_recv_update_lost(&c->streams.fc_recv, f->off);
      break;
    case FREC_DATA_BLOCKED:
      p2pq_fc_send_blocked_lost(&c->streams.fc_send, f->off);
      break;
    case FREC_MAX_STREAMS_BIDI:
    case FREC_MAX_STREAMS_UNI:
    case FREC_MAX_STREAM_DATA:
    case FREC_RESET_STREAM:
    case FREC_STOP_SENDING:
    case FREC_STREAM_DATA_BLOCKED:
      p2pq_conn_stream_ctrl_lost(c, f);
      break;
    case FREC_NEW_CID:
      for (i = 0; i < P2PQ_MAX_LOCAL_CIDS; i++)
        if (c->local_cids[i].in_use && c->local_cids[i].seq == f->off)
          c->local_cids[i].advertise = 1;
      break;
    case FREC_RETIRE_CID:
      p2pq_cid_queue_retire(c, f->off);
      break;
    case FREC_OBSERVED_ADDR:
      for (i = 0; i < P2PQ_MAX_PATHS; i++)
        if (c->paths[i].in_use && c->paths[i].id == f->id &&
            c->paths[i].observed_seq_sent == f->off + 1)
          c->paths[i].observed_pending = 1;
      break;
    default:
      break;
    }
  }
  if (pkt->flags & P2PQ_SENT_PMTU_PROBE)
    for (i = 0; i < P2PQ_MAX_PATHS; i++)
      if (c->paths[i].in_use && c->paths[i].id == pkt->path_id)
        p2pq_pmtud_on_lost(c, i, pkt->pn);
  p2pq_frec_put_chain(c, pkt->frames);
}

/* ---- frame writers ---- */

static size_t ack_ranges(const p2pq_ackrange *a, p2pq_ack_range *out, size_t max) {
  size_t i, n = a->n < max ? a->n : max;
  for (i = 0; i < n; i++) {
    out[i].smallest = a->smallest[i];
    out[i].largest = a->largest[i];
  }
  return n;
}

static int write_ack(p2pq_conn *c, int space, p2pq_wr *w, p2pq_frec **frecs, p2pq_tstamp now) {
  p2pq_pnspace *sp = &c->spaces[space];
  p2pq_ack_range r[P2PQ_ACKRANGE_MAX];
  size_t n = ack_ranges(&sp->recv, r, P2PQ_ACKRANGE_MAX);
  uint64_t delay = 0;
  int rv;
  if (n == 0)
    return 0;
  if (space == P2PQ_PNS_APP && now > sp->largest_recv_time)
    delay = ((now - sp->largest_recv_time) / P2PQ_US) >> c->local_tp.ack_delay_exponent;
  rv = p2pq_frame_encode_ack(w, r, n, delay,
                             sp->ecn_rx[0] | sp->ecn_rx[1] | sp->ecn_rx[2] ? sp->ecn_rx : NULL);
  if (rv < 0)
    return rv == P2PQ_ERR_NOBUF ? 0 : rv;
  sp->ack_now = 0;
  sp->unacked_eliciting = 0;
  sp->ack_deadline = P2PQ_TSTAMP_MAX;
  /* remember the lowest packet this ACK still covered */
  return p2pq_frec_add(c, frecs, FREC_ACK, 0, r[(size_t)rv - 1].smallest, 0, 0);
}

static int write_frame(p2pq_wr *w, const p2pq_frame *f) {
  int rv = p2pq_frame_encode(w, f);
  return rv == P2PQ_ERR_NOBUF ? 1 : rv; /* 1: did not fit */
}

static int write_close(p2pq_conn *c, int space, p2pq_wr *w) {
  p2pq_frame f;
  memset(&f, 0, sizeof(f));
  /* RFC 9000 10.2.3: before 1-RTT, an application close is sent as a
   * transport close with APPLICATION_ERROR */
  if (c->close_app && space == P2PQ_PNS_APP) {
    f.type = P2PQ_FT_CONNECTION_CLOSE_APP;
    f.u.close.app = 1;
    f.u.close.error_code = c->close_code;
  } else {
    f.type = P2PQ_FT_CONNECTION_CLOSE;
    f.u.close.error_code = c->close_app ? 0x0c : c->close_code;
    f.u.close.frame_type = c->close_frame_type;
  }
  f.u.close.reason = (const uint8_t *)c->close_reason;
  f.u.close.reason_len = c->close_app && space != P2PQ_PNS_APP ? 0 : strlen(c->close_reason);
  return write_frame(w, &f);
}

static int write_crypto(p2pq_conn *c, int space, p2pq_wr *w, p2pq_frec **frecs, int *eliciting) {
  p2pq_sendbuf *sb = &c->spaces[space].crypto_tx;
  p2pq_sendbuf_range r;
  for (;;) {
    size_t room = p2pq_wr_left(w), max;
    p2pq_frame f;
    int rv;
    if (room < 8)
      return 0;
    if (p2pq_sendbuf_peek(sb, room, UINT64_MAX, &r) != 0)
      return 0;
    max = p2pq_frame_crypto_max_data(r.off, room);
    if (max == 0)
      return 0;
    if (r.len > max)
      r.len = max;
    memset(&f, 0, sizeof(f));
    f.type = P2PQ_FT_CRYPTO;
    f.u.crypto.offset = r.off;
    f.u.crypto.data = r.data;
    f.u.crypto.len = r.len;
    if ((rv = write_frame(w, &f)) != 0)
      return rv < 0 ? rv : 0;
    p2pq_sendbuf_mark_sent(sb, r.off, r.len, 0);
    if ((rv = p2pq_frec_add(c, frecs, FREC_CRYPTO, (uint64_t)space, r.off, r.len, 0)) != 0)
      return rv;
    *eliciting = 1;
  }
}

static int write_path_frames(p2pq_conn *c, int path_idx, p2pq_wr *w, int *eliciting,
                             int *path_frame) {
  p2pq_path *p = &c->paths[path_idx];
  p2pq_frame f;
  int rv;
  memset(&f, 0, sizeof(f));
  if (p->response_pending) {
    f.type = P2PQ_FT_PATH_RESPONSE;
    memcpy(f.u.path.data, p->response, 8);
    if ((rv = write_frame(w, &f)) != 0)
      return rv < 0 ? rv : 0;
    p->response_pending = 0;
    *eliciting = 1;
    *path_frame = 1;
  }
  if (p->challenge_pending) {
    f.type = P2PQ_FT_PATH_CHALLENGE;
    memcpy(f.u.path.data, p->challenge, 8);
    if ((rv = write_frame(w, &f)) != 0)
      return rv < 0 ? rv : 0;
    p->challenge_pending = 0;
    p->challenge_outstanding = 1;
    *eliciting = 1;
    *path_frame = 1;
  }
  return 0;
}

static int write_observed(p2pq_conn *c, int path_idx, p2pq_wr *w, p2pq_frec **frecs,
                          int *eliciting) {
  p2pq_path *p = &c->paths[path_idx];
  p2pq_frame f;
  int rv;
  if (!p->observed_pending)
    return 0;
  memset(&f, 0, sizeof(f));
  f.type = p->remote.family == 6 ? P2PQ_FT_OBSERVED_ADDRESS_V6 : P2PQ_FT_OBSERVED_ADDRESS_V4;
  f.u.observed_address.seq = p->observed_seq_sent ? p->observed_seq_sent - 1 : 0;
  f.u.observed_address.addr = p->remote;
  if ((rv = write_frame(w, &f)) != 0)
    return rv < 0 ? rv : 0;
  p->observed_pending = 0;
  *eliciting = 1;
  return p2pq_frec_add(c, frecs, FREC_OBSERVED_ADDR, p->id, f.u.observed_address.seq, 0, 0);
}

static int write_cid_frames(p2pq_conn *c, p2pq_wr *w, p2pq_frec **frecs, int *eliciting) {
  p2pq_frame f;
  int i, rv;
  for (i = 0; i < P2PQ_MAX_LOCAL_CIDS; i++) {
    p2pq_local_cid *lc = &c->local_cids[i];
    if (!lc->in_use || !lc->advertise)
      continue;
    memset(&f, 0, sizeof(f));
    f.type = P2PQ_FT_NEW_CONNECTION_ID;
    f.u.new_cid.seq = lc->seq;
    f.u.new_cid.cid = lc->cid;
    memcpy(f.u.new_cid.reset_token, lc->reset_token, 16);
    if ((rv = write_frame(w, &f)) != 0)
      return rv < 0 ? rv : 0;
    lc->advertise = 0;
    *eliciting = 1;
    if ((rv = p2pq_frec_add(c, frecs, FREC_NEW_CID, 0, lc->seq, 0, 0)) != 0)
      return rv;
  }
  while (c->retire_n > 0) {
    memset(&f, 0, sizeof(f));
    f.type = P2PQ_FT_RETIRE_CONNECTION_ID;
    f.u.retire_cid.seq = c->retire_q[c->retire_n - 1];
    if ((rv = write_frame(w, &f)) != 0)
      return rv < 0 ? rv : 0;
    c->retire_n--;
    *eliciting = 1;
    if ((rv = p2pq_frec_add(c, frecs, FREC_RETIRE_CID, 0, f.u.retire_cid.seq, 0, 0)) != 0)
      return rv;
  }
  return 0;
}

static int write_conn_flow(p2pq_conn *c, p2pq_wr *w, p2pq_frec **frecs, int *eliciting,
                           p2pq_tstamp now) {
  p2pq_frame f;
  int rv;
  memset(&f, 0, sizeof(f));
  if (p2pq_fc_recv_update_due(&c->streams.fc_recv) && p2pq_wr_left(w) >= 9) {
    f.type = P2PQ_FT_MAX_DATA;
    f.u.max_data.max =
        p2pq_fc_recv_update(&c->streams.fc_recv, c->paths[c->active_path].rec.rtt.smoothed, now);
    if ((rv = write_frame(w, &f)) != 0)
      return rv < 0 ? rv : 0;
    *eliciting = 1;
    if ((rv = p2pq_frec_add(c, frecs, FREC_MAX_DATA, 0, f.u.max_data.max, 0, 0)) != 0)
      return rv;
  }
  if (p2pq_fc_send_blocked_due(&c->streams.fc_send, p2pq_conn_streams_have_data(c))) {
    f.type = P2PQ_FT_DATA_BLOCKED;
    f.u.data_blocked.limit = c->streams.fc_send.limit;
    if ((rv = write_frame(w, &f)) != 0)
      return rv < 0 ? rv : 0;
    p2pq_fc_send_blocked_sent(&c->streams.fc_send);
    *eliciting = 1;
    if ((rv = p2pq_frec_add(c, frecs, FREC_DATA_BLOCKED, 0, c->streams.fc_send.limit, 0, 0)) != 0)
      return rv;
  }
  return 0;
}

static int write_datagrams(p2pq_conn *c, p2pq_wr *w, int *eliciting) {
  while (c->dgram_tx_n > 0) {
    p2pq_dgram *d = &c->dgram_tx[c->dgram_tx_head];
    p2pq_frame f;
    int rv;
    memset(&f, 0, sizeof(f));
    f.type = P2PQ_FT_DATAGRAM_LEN;
    f.u.datagram.data = d->data;
    f.u.datagram.len = d->len;
    if ((rv = write_frame(w, &f)) != 0)
      return rv < 0 ? rv : 0; /* next packet */
    free(d->data);
    d->data = NULL;
    c->dgram_tx_head = (c->dgram_tx_head + 1) % P2PQ_MAX_DGRAM_QUEUE;
    c->dgram_tx_n--;
    *eliciting = 1;
  }
  return 0;
}

/* ---- packets ---- */

static void seal(p2pq_conn *c, pkt_open *po, p2pq_tstamp now) {
  size_t pkt_len = (size_t)(po->payload_end - po->start);
  p2pq_recovery_env env;
  int len;
  if (po->long_hdr)
    p2pq_pkt_patch_length(po->start, po->length_offset,
                          pkt_len - po->pn_offset + P2PQ_AEAD_TAG_LEN);
  if (c->qlog)
    p2pq_qlog_packet(c, 1, po->space, po->pn, pkt_len + P2PQ_AEAD_TAG_LEN,
                     po->start + po->pn_offset + po->pn_len,
                     pkt_len - po->pn_offset - po->pn_len, now);
  len = p2pq_pp_protect(po->key, po->start, po->pn_offset, po->pn_len, po->pn, pkt_len);
  po->sent.size = (uint32_t)len;
  po->sent.time_sent = now;
  po->sent.frames = po->frames;
  p2pq_conn_recovery_env(c, &env);
  if (p2pq_recovery_on_packet_sent(&c->paths[po->path_idx].rec, &env, &po->sent) != 0)
    p2pq_frec_put_chain(c, po->frames);
  c->stats.pkts_sent++;
  if (po->space == P2PQ_PNS_APP) {
    /* RFC 9001 6.6: new keys long before the AEAD's confidentiality limit, and
     * a close if they could not be changed in time */
    uint64_t limit = p2pq_pp_confidentiality_limit(c->app_alg);
    if (++c->pkts_protected >= limit / 2 && p2pq_conn_key_update(c, now) != 0 &&
        c->pkts_protected >= limit - 16)
      p2pq_conn_set_error(c, P2PQ_ERR_AEAD_LIMIT, 0, "AEAD confidentiality limit", now);
  }
  po->active = 0;
}

static int space_wants_send(p2pq_conn *c, int space, int path_idx, int cc_ok) {
  p2pq_pnspace *sp = &c->spaces[space];
  if (sp->discarded || tx_key(c, space) == NULL)
    return 0;
  if (c->state == CONN_CLOSING)
    return c->close_pending;
  if (path_idx != c->active_path) /* probing only (RFC 9000 9.1) */
    return space == P2PQ_PNS_APP &&
           (c->paths[path_idx].response_pending || c->paths[path_idx].challenge_pending);
  if (sp->ack_now || sp->probe_pending)
    return 1;
  /* handshake data is small and must not wait behind 1-RTT data that the
   * peer cannot acknowledge before the handshake completes */
  if (p2pq_sendbuf_has_pending(&sp->crypto_tx) && (cc_ok || space != P2PQ_PNS_APP))
    return 1;
  if (!cc_ok)
    return 0;
  if (space != P2PQ_PNS_APP)
    return 0;
  if (!c->handshake_complete && c->is_server)
    return 0; /* server: 1-RTT data only once the client is verified */
  {
    p2pq_path *p = &c->paths[path_idx];
    return c->handshake_done_pending || p->response_pending || p->challenge_pending ||
           p->observed_pending || c->ping_pending || c->retire_n > 0 ||
           p2pq_fc_recv_update_due(&c->streams.fc_recv) || c->dgram_tx_n > 0 ||
           p2pq_conn_streams_want_send(c) || p2pq_cid_any_advertise(c) ||
           p2pq_fc_send_blocked_due(&c->streams.fc_send, p2pq_conn_streams_have_data(c));
  }
}

/* Writes one packet of `space` into [p, p+room); leaves it open in po. Returns
 * bytes used (0: nothing worth sending fitted) or an error. */
static int build_packet(p2pq_conn *c, int space, int path_idx, uint8_t *p, size_t room,
                        int cc_ok, pkt_open *po, p2pq_tstamp now) {
  p2pq_pnspace *sp = &c->spaces[space];
  const p2pq_pp_key *key = tx_key(c, space);
  const p2pq_cid *dcid = p2pq_conn_dcid(c, path_idx);
  uint64_t pn = sp->next_pn;
  size_t pn_len = p2pq_pkt_pn_len(pn, sp->sent.any_acked ? sp->sent.largest_acked : UINT64_MAX);
  size_t length_offset = 0, pn_offset = 0, hdr_end;
  p2pq_frec *frecs = NULL;
  p2pq_wr w;
  int rv, eliciting = 0, path_frame = 0;
  if (room < 64 || key == NULL)
    return 0;
  p2pq_wr_init(&w, p, room - P2PQ_AEAD_TAG_LEN);
  if (space == P2PQ_PNS_APP) {
    rv = p2pq_pkt_write_short(&w, dcid, 0, c->key_phase, (uint32_t)pn, pn_len, &pn_offset);
  } else {
    p2pq_pkt_type t = space == P2PQ_PNS_INITIAL ? P2PQ_PKT_INITIAL : P2PQ_PKT_HANDSHAKE;
    rv = p2pq_pkt_write_long(&w, t, c->version, dcid, p2pq_conn_scid(c),
                             t == P2PQ_PKT_INITIAL ? c->token : NULL,
                             t == P2PQ_PKT_INITIAL ? c->token_len : 0, (uint32_t)pn, pn_len,
                             &length_offset, &pn_offset);
  }
  if (rv != 0)
    return 0;
  hdr_end = (size_t)(w.p - p);
  if (c->state == CONN_CLOSING) {
    if ((rv = write_close(c, space, &w)) < 0)
      return rv;
    goto done;
  }
  if (path_idx != c->active_path) {
    /* a probe: PATH_CHALLENGE / PATH_RESPONSE and padding, nothing that would
     * make the peer move the connection here (RFC 9000 9.1, 9.3) */
    if ((rv = write_path_frames(c, path_idx, &w, &eliciting, &path_frame)) < 0)
      goto fail;
    goto done;
  }
  if (sp->ack_now || (sp->ack_deadline != P2PQ_TSTAMP_MAX && cc_ok) ||
      (sp->unacked_eliciting > 0 && cc_ok))
    if ((rv = write_ack(c, space, &w, &frecs, now)) < 0)
      goto fail;
  if (cc_ok || sp->probe_pending || space != P2PQ_PNS_APP) {
    if (space == P2PQ_PNS_APP) {
      if (c->handshake_done_pending && c->is_server) {
        p2pq_frame f = {.type = P2PQ_FT_HANDSHAKE_DONE};
        if (write_frame(&w, &f) == 0) {
          c->handshake_done_pending = 0;
          eliciting = 1;
          if ((rv = p2pq_frec_add(c, &frecs, FREC_HANDSHAKE_DONE, 0, 0, 0, 0)) != 0)
            goto fail;
        }
      }
      if ((rv = write_path_frames(c, path_idx, &w, &eliciting, &path_frame)) < 0)
        goto fail;
    }
    if ((rv = write_crypto(c, space, &w, &frecs, &eliciting)) < 0)
      goto fail;
    if (space == P2PQ_PNS_APP && (c->handshake_complete || !c->is_server)) {
      if ((rv = write_observed(c, path_idx, &w, &frecs, &eliciting)) < 0 ||
          (rv = write_cid_frames(c, &w, &frecs, &eliciting)) < 0 ||
          (rv = write_conn_flow(c, &w, &frecs, &eliciting, now)) < 0 ||
          (rv = p2pq_conn_write_stream_ctrl(c, &w, &frecs, &eliciting)) < 0 ||
          (rv = write_datagrams(c, &w, &eliciting)) < 0 ||
          (rv = p2pq_conn_write_streams(c, &w, &frecs, &eliciting)) < 0)
        goto fail;
    }
    /* a pure ACK sender must still get its packets acknowledged now and then,
     * or its sent-packet table only grows */
    if (space == P2PQ_PNS_APP && !eliciting && sp->sent.non_eliciting_streak >= 20)
      c->ping_pending = 1;
    if ((sp->probe_pending || (space == P2PQ_PNS_APP && c->ping_pending)) && !eliciting) {
      p2pq_frame f = {.type = P2PQ_FT_PING};
      if (write_frame(&w, &f) == 0) {
        eliciting = 1;
        c->ping_pending = 0;
      }
    }
    if (eliciting && sp->probe_pending > 0)
      sp->probe_pending--;
  }
done:
  if ((size_t)(w.p - p) == hdr_end) {
    /* nothing fitted: take the packet back */
    p2pq_frec_put_chain(c, frecs);
    return 0;
  }
  /* the header-protection sample needs 4 bytes after the pn start */
  while ((size_t)(w.p - p) < pn_offset + 4)
    p2pq_wr_u8(&w, 0);
  sp->next_pn++;
  memset(po, 0, sizeof(*po));
  po->active = 1;
  po->space = space;
  po->long_hdr = space != P2PQ_PNS_APP;
  po->start = p;
  po->length_offset = length_offset;
  po->pn_offset = pn_offset;
  po->pn_len = pn_len;
  po->pn = pn;
  po->payload_end = w.p;
  po->key = key;
  po->frames = frecs;
  po->path_idx = path_idx;
  po->path_frame = path_frame;
  po->sent.pn = pn;
  po->sent.space = (uint8_t)space;
  po->sent.path_id = c->paths[path_idx].id;
  if (p2pq_recovery_ecn_ok(&c->paths[path_idx].rec))
    po->sent.flags |= P2PQ_SENT_ECT0;
  if (space == P2PQ_PNS_HANDSHAKE && !c->is_server)
    c->client_sent_handshake = 1;
  if (eliciting)
    po->sent.flags |= P2PQ_SENT_ACK_ELICITING | P2PQ_SENT_IN_FLIGHT;
  return (int)(w.p - p) + P2PQ_AEAD_TAG_LEN;
fail:
  p2pq_frec_put_chain(c, frecs);
  return rv;
}

/* Adds PADDING to the open packet so the datagram reaches `target` bytes. */
static size_t pad_open(pkt_open *po, size_t dgram_len, size_t target, size_t cap) {
  size_t add;
  if (dgram_len >= target)
    return 0;
  add = target - dgram_len;
  if (dgram_len + add > cap)
    add = cap - dgram_len;
  memset(po->payload_end, 0, add);
  po->payload_end += add;
  po->sent.flags |= P2PQ_SENT_IN_FLIGHT;
  return add;
}

static size_t amplification_room(const p2pq_conn *c, const p2pq_path *p) {
  uint64_t allowed;
  if (!c->is_server || p->validated)
    return SIZE_MAX;
  allowed = 3 * p->bytes_recv;
  return allowed > p->bytes_sent ? (size_t)(allowed - p->bytes_sent) : 0;
}

/* DPLPMTUD probe (RFC 8899 4.1): PING padded to the probe size; its loss says
 * nothing about congestion. */
static int write_pmtu_probe(p2pq_conn *c, int path_idx, uint8_t *buf, p2pq_tx *tx,
                            p2pq_tstamp now) {
  p2pq_path *p = &c->paths[path_idx];
  p2pq_pnspace *sp = &c->spaces[P2PQ_PNS_APP];
  uint64_t pn = sp->next_pn;
  size_t pn_len = p2pq_pkt_pn_len(pn, sp->sent.any_acked ? sp->sent.largest_acked : UINT64_MAX);
  size_t pn_offset;
  pkt_open po;
  p2pq_wr w;
  p2pq_wr_init(&w, buf, p->probe_size - P2PQ_AEAD_TAG_LEN);
  if (p2pq_pkt_write_short(&w, p2pq_conn_dcid(c, path_idx), 0, c->key_phase, (uint32_t)pn,
                           pn_len, &pn_offset) != 0 ||
      p2pq_wr_u8(&w, P2PQ_FT_PING) != 0)
    return 0;
  memset(w.p, 0, p2pq_wr_left(&w)); /* PADDING */
  w.p = w.end;
  sp->next_pn++;
  memset(&po, 0, sizeof(po));
  po.active = 1;
  po.space = P2PQ_PNS_APP;
  po.start = buf;
  po.pn_offset = pn_offset;
  po.pn_len = pn_len;
  po.pn = pn;
  po.payload_end = w.p;
  po.key = tx_key(c, P2PQ_PNS_APP);
  po.path_idx = path_idx;
  po.sent.pn = pn;
  po.sent.space = P2PQ_PNS_APP;
  po.sent.path_id = p->id;
  po.sent.flags = P2PQ_SENT_ACK_ELICITING | P2PQ_SENT_IN_FLIGHT | P2PQ_SENT_PMTU_PROBE;
  if (p2pq_recovery_ecn_ok(&p->rec))
    po.sent.flags |= P2PQ_SENT_ECT0; /* same marking as its GSO neighbours */
  p->probe_pn = pn;
  p->probe_sent = 1;
  seal(c, &po, now);
  p->bytes_sent += p->probe_size;
  c->stats.bytes_sent += p->probe_size;
  tx->local = p->local;
  tx->remote = p->remote;
  tx->ecn = p2pq_recovery_ecn_ok(&p->rec) ? P2PQ_ECN_ECT0 : P2PQ_ECN_NOT;
  tx->segment = p->probe_size;
  return (int)p->probe_size;
}

/* Builds one datagram on path_idx; returns its length, 0 if nothing to send. */
static int write_on_path(p2pq_conn *c, int path_idx, uint8_t *buf, size_t cap, p2pq_tx *tx,
                         p2pq_tstamp now) {
  p2pq_path *p = &c->paths[path_idx];
  p2pq_recovery *rec = &c->paths[c->active_path].rec;
  size_t limit = p->mtu < cap ? p->mtu : cap, used = 0, amp;
  pkt_open po;
  int space, cc_ok, has_initial = 0, eliciting_initial = 0, probing, path_frames = 0;
  memset(&po, 0, sizeof(po));
  amp = amplification_room(c, p);
  if (amp < limit)
    limit = amp;
  if (limit < 64)
    return 0;
  probing = c->spaces[0].probe_pending || c->spaces[1].probe_pending ||
            c->spaces[2].probe_pending;
  cc_ok = (p2pq_recovery_can_send(rec, (uint32_t)limit) &&
           p2pq_recovery_pacing_time(rec, (uint32_t)limit, now) <= now) ||
          probing;
  if (path_idx != c->active_path)
    cc_ok = 1; /* path probes are small and not congestion controlled (RFC 9000 9.4) */
  else if (p->probe_size != 0 && !p->probe_sent && c->handshake_confirmed && cc_ok &&
           p->probe_size <= cap && p->probe_size <= amp && tx_key(c, P2PQ_PNS_APP) != NULL)
    return write_pmtu_probe(c, path_idx, buf, tx, now);
  for (space = 0; space < P2PQ_PNS_COUNT; space++) {
    int n;
    if (path_idx != c->active_path && space != P2PQ_PNS_APP)
      continue;
    if (!space_wants_send(c, space, path_idx, cc_ok))
      continue;
    if (po.active)
      seal(c, &po, now);
    n = build_packet(c, space, path_idx, buf + used, limit - used, cc_ok, &po, now);
    if (n < 0)
      return n;
    if (n == 0)
      continue;
    used += (size_t)n;
    path_frames |= po.path_frame;
    if (space == P2PQ_PNS_INITIAL) {
      has_initial = 1;
      eliciting_initial = (po.sent.flags & P2PQ_SENT_ACK_ELICITING) != 0;
    }
  }
  if (!po.active)
    return 0;
  /* RFC 9000 14.1 and 8.2.1/8.2.2: client Initials, ack-eliciting server
   * Initials and PATH_CHALLENGE/RESPONSE travel in datagrams of 1200 bytes */
  if ((has_initial && (!c->is_server || eliciting_initial)) || path_frames) {
    size_t target = P2PQ_MIN_INITIAL_SIZE;
    if (target > limit)
      target = limit;
    used += pad_open(&po, used, target, limit);
  }
  seal(c, &po, now);
  p->bytes_sent += used;
  c->stats.bytes_sent += used;
  tx->local = p->local;
  tx->remote = p->remote;
  /* every packet of the datagram was marked ECT(0) while the path's ECN works */
  tx->ecn = p2pq_recovery_ecn_ok(&p->rec) ? P2PQ_ECN_ECT0 : P2PQ_ECN_NOT;
  tx->segment = used;
  return (int)used;
}

static int write_close_datagram(p2pq_conn *c, uint8_t *buf, size_t cap, p2pq_tx *tx,
                                p2pq_tstamp now) {
  p2pq_path *p = &c->paths[c->active_path];
  size_t used = 0, limit = cap < 1200 ? cap : 1200, amp = amplification_room(c, p);
  pkt_open po;
  int space, has_initial = 0;
  memset(&po, 0, sizeof(po));
  c->close_pending = 0;
  if (amp < limit)
    limit = amp; /* RFC 9000 8: the 3x limit holds while closing too */
  if (limit < 64)
    return 0;
  /* RFC 9000 10.2.3: in every space the peer may be able to read */
  for (space = 0; space < P2PQ_PNS_COUNT; space++) {
    int n;
    if (c->spaces[space].discarded || tx_key(c, space) == NULL)
      continue;
    if (space == P2PQ_PNS_APP && !c->handshake_complete && c->is_server)
      continue;
    if (po.active)
      seal(c, &po, now);
    n = build_packet(c, space, c->active_path, buf + used, limit - used, 0, &po, now);
    if (n <= 0)
      continue;
    used += (size_t)n;
    has_initial |= space == P2PQ_PNS_INITIAL;
  }
  if (!po.active)
    return 0;
  /* RFC 9000 14.1: a client's datagram with an Initial is padded, close or not */
  if (has_initial && !c->is_server)
    used += pad_open(&po, used, P2PQ_MIN_INITIAL_SIZE, limit);
  seal(c, &po, now);
  p->bytes_sent += used;
  c->close_sent++;
  tx->local = p->local;
  tx->remote = p->remote;
  tx->ecn = P2PQ_ECN_NOT;
  tx->segment = used;
  return (int)used;
}

p2pq_tstamp p2pq_conn_pacing_deadline(p2pq_conn *c) {
  p2pq_path *p = &c->paths[c->active_path];
  p2pq_tstamp t;
  if (c->state != CONN_ESTABLISHED || !p2pq_recovery_can_send(&p->rec, (uint32_t)p->mtu))
    return P2PQ_TSTAMP_MAX;
  if (!p2pq_conn_streams_want_send(c) && c->dgram_tx_n == 0)
    return P2PQ_TSTAMP_MAX;
  t = p2pq_recovery_pacing_time(&p->rec, (uint32_t)p->mtu, c->last_now);
  return t > c->last_now ? t : P2PQ_TSTAMP_MAX;
}

int p2pq_conn_write_datagram(p2pq_conn *c, uint8_t *buf, size_t cap, p2pq_tx *tx,
                             p2pq_tstamp now) {
  int i, n;
  c->last_now = now;
  if (c->state == CONN_CLOSED || c->state == CONN_DRAINING)
    return 0;
  if (c->state == CONN_CLOSING)
    return c->close_pending ? write_close_datagram(c, buf, cap, tx, now) : 0;
  /* probes and responses on other paths first: they are small and time-critical */
  for (i = 0; i < P2PQ_MAX_PATHS; i++) {
    p2pq_path *p = &c->paths[i];
    if (!p->in_use || i == c->active_path)
      continue;
    if (p->challenge_pending || p->response_pending) {
      n = write_on_path(c, i, buf, cap, tx, now);
      if (n != 0)
        return n;
    }
  }
  n = write_on_path(c, c->active_path, buf, cap, tx, now);
  if (c->client_sent_handshake && !c->spaces[P2PQ_PNS_INITIAL].discarded)
    p2pq_conn_discard_space(c, P2PQ_PNS_INITIAL, now);
  return n;
}
